// Package spid holds the names, URIs and codes of the SPID SAML profile that
// every other package shares (spec saml-profile.md §0 and §5).
package spid

// XML namespaces.
const (
	NSMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSXS        = "http://www.w3.org/2001/XMLSchema"
	NSXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	NSSPID      = "https://spid.gov.it/saml-extensions"
)

// Bindings and formats.
const (
	ProtocolSupport    = "urn:oasis:names:tc:SAML:2.0:protocol"
	BindingRedirect    = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST        = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	RedirectEncoding   = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE"
	NameIDTransient    = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEntity       = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	AttrNameBasic      = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	ConfirmationBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Signature, digest and canonicalisation algorithms.
const (
	AlgRSASHA1         = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	AlgRSASHA256       = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384       = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512       = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	DigestSHA1         = "http://www.w3.org/2000/09/xmldsig#sha1"
	DigestSHA256       = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA384       = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	DigestSHA512       = "http://www.w3.org/2001/04/xmlenc#sha512"
	C14NExcl           = "http://www.w3.org/2001/10/xml-exc-c14n#"
	TransformEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// Level is a SPID authentication level.
type Level int

// The three SPID levels; the IdP performs 1 and 2.
const (
	L1 Level = 1
	L2 Level = 2
	L3 Level = 3
)

// Comparison values of a request's level (SAML core §3.3.2.2.1, the
// RequestedAuthnContext attribute; an OIDC acr_values request is
// "minimum").
const (
	ComparisonExact   = "exact"
	ComparisonMinimum = "minimum"
	ComparisonBetter  = "better"
	ComparisonMaximum = "maximum"
)

// AuthnContextClassRef values.
const (
	ClassSpidL1 = "https://www.spid.gov.it/SpidL1"
	ClassSpidL2 = "https://www.spid.gov.it/SpidL2"
	ClassSpidL3 = "https://www.spid.gov.it/SpidL3"
)

// ClassRef returns the AuthnContextClassRef URI of l.
func (l Level) ClassRef() string {
	switch l {
	case L1:
		return ClassSpidL1
	case L2:
		return ClassSpidL2
	case L3:
		return ClassSpidL3
	}
	return ""
}

// LevelFromClassRef parses a SPID AuthnContextClassRef; ok is false for
// anything else (including the obsolete urn:oasis:...:ac:classes:SpidLn).
func LevelFromClassRef(uri string) (Level, bool) {
	switch uri {
	case ClassSpidL1:
		return L1, true
	case ClassSpidL2:
		return L2, true
	case ClassSpidL3:
		return L3, true
	}
	return 0, false
}

// Top-level and second-level status codes.
const (
	StatusSuccess            = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester          = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder          = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	StatusVersionMismatch    = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch"
	StatusAuthnFailed        = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
	StatusNoAuthnContext     = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
	StatusNoPassive          = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	StatusRequestDenied      = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
	StatusRequestUnsupported = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported"
	StatusPartialLogout      = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
)
