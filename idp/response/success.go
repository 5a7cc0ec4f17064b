package response

import (
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
)

// Success describes a successful authentication to answer (spec §4.2–§4.7).
type Success struct {
	// InResponseTo is the AuthnRequest ID.
	InResponseTo string
	// RequestIssueInstant is the AuthnRequest IssueInstant (already validated).
	// IssueInstant is max(now, it) and Conditions/@NotBefore min(IssueInstant,
	// it), so that SPs never see our message dated before their request or
	// valid only from their future (§4.5). Zero means "unknown": now is used.
	RequestIssueInstant time.Time
	// Destination is the ACS Location the Response is posted to; it is also
	// SubjectConfirmationData/@Recipient.
	Destination string
	// Audience is the SP entityID.
	Audience string
	// NameID is the transient NameID: opaque, fresh for this assertion
	// (RandomID), kept by the caller in the session for Single Logout.
	NameID string
	// SessionIndex is set only when the request asked for SpidL1 (it then
	// names the L1 session); empty omits it, as the rules want for SpidL2/L3
	// requests (§4.3).
	SessionIndex string
	// Level is the level actually performed (§3.5).
	Level spid.Level
	// AuthnInstant is when the user authenticated (the original time when an
	// L1 session is reused).
	AuthnInstant time.Time
	// IncludeAttributeStatement says the request named an
	// AttributeConsumingService. When false, Attributes must be empty: we never
	// release attributes nobody asked for (SSC#103).
	IncludeAttributeStatement bool
	// Attributes are released in this order (AttributesFor). An empty list
	// means no AttributeStatement at all, never an empty one (§4.3).
	Attributes []Attribute
	// Grants, when set, is called with the Response ID once it is chosen
	// and returns the Attribute Authority grant tokens to carry (their sid
	// names that ID). None: no samlp:Extensions at all (oidc-federation.md
	// §9.5, A022).
	Grants func(responseID string) ([]GrantToken, error)
}

// GrantToken is one GrantToken of spid:GrantedAttributeAuthority: the
// compact JWE for the AA whose entity id is Destination.
type GrantToken struct {
	Destination string
	Token       string
}

func (s *Success) check() error {
	if !isNCName(s.InResponseTo) {
		return fmt.Errorf("response: InResponseTo %q is not an NCName", s.InResponseTo)
	}
	for _, f := range [...]struct{ name, v string }{
		{"Destination", s.Destination}, {"Audience", s.Audience}, {"NameID", s.NameID},
	} {
		if err := checkValue(f.name, f.v); err != nil {
			return err
		}
	}
	if s.SessionIndex != "" {
		if err := checkValue("SessionIndex", s.SessionIndex); err != nil {
			return err
		}
	}
	if s.Level.ClassRef() == "" {
		return fmt.Errorf("response: Level %d is not a SPID level", s.Level)
	}
	if s.AuthnInstant.IsZero() {
		return errors.New("response: AuthnInstant is zero")
	}
	if !s.IncludeAttributeStatement && len(s.Attributes) > 0 {
		return errors.New("response: attributes given but the request asked for none")
	}
	seen := make(map[string]bool, len(s.Attributes))
	for _, a := range s.Attributes {
		if _, ok := metadata.LookupAttribute(a.Name); !ok {
			return fmt.Errorf("response: %q is not a SPID attribute", a.Name)
		}
		if seen[a.Name] {
			return fmt.Errorf("response: attribute %s given twice", a.Name)
		}
		seen[a.Name] = true
		if err := checkValue("attribute "+a.Name, a.Value); err != nil {
			return err
		}
	}
	return nil
}

// Success returns the signed samlp:Response carrying one signed
// saml:Assertion (spec §4.7 outline): the Assertion is signed first, then the
// Response, each signature right after its element's Issuer.
func (b *Builder) Success(s Success) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	now := b.now()
	issue := now
	notBefore := now
	if req := s.RequestIssueInstant; !req.IsZero() {
		if req.After(now.Add(maxRequestAhead)) {
			return nil, fmt.Errorf("response: request IssueInstant %s is ahead of our clock (%s)", req.UTC().Format(timeLayout), now.UTC().Format(timeLayout))
		}
		if req.After(issue) {
			issue = req
		}
		if req.Before(notBefore) {
			notBefore = req
		}
	}
	issue = ceilMillis(issue)
	notBefore = notBefore.Truncate(time.Millisecond)
	notOnOrAfter := issue.Add(b.lifetime())
	if s.AuthnInstant.After(issue) {
		return nil, fmt.Errorf("response: AuthnInstant %s is after IssueInstant %s", s.AuthnInstant.UTC().Format(timeLayout), issue.UTC().Format(timeLayout))
	}
	respID, err := b.newID()
	if err != nil {
		return nil, err
	}
	asrtID, err := b.newID()
	if err != nil {
		return nil, err
	}
	if respID == asrtID {
		return nil, errors.New("response: NewID returned the same ID twice")
	}

	// The Assertion, canonical, without its signature.
	a := make([]byte, 0, 2048+len(s.Attributes)*200)
	a = append(a, `<saml:Assertion`+declSAML...)
	declAt := len(a) // xmlns:xs goes here in the emitted form only
	a = appendAttr(a, "ID", asrtID)
	a = append(a, ` IssueInstant="`...)
	a = appendTime(a, issue)
	a = append(a, `" Version="2.0"><saml:Issuer`...)
	a = appendAttr(a, "Format", spid.NameIDEntity)
	a = append(a, '>')
	a = appendText(a, b.EntityID)
	a = append(a, `</saml:Issuer>`...)
	asrtSigAt := len(a)

	a = append(a, `<saml:Subject><saml:NameID`...)
	a = appendAttr(a, "Format", spid.NameIDTransient)
	a = appendAttr(a, "NameQualifier", b.EntityID)
	a = append(a, '>')
	a = appendText(a, s.NameID)
	a = append(a, `</saml:NameID><saml:SubjectConfirmation`...)
	a = appendAttr(a, "Method", spid.ConfirmationBearer)
	a = append(a, `><saml:SubjectConfirmationData`...)
	a = appendAttr(a, "InResponseTo", s.InResponseTo)
	a = append(a, ` NotOnOrAfter="`...)
	a = appendTime(a, notOnOrAfter)
	a = append(a, '"')
	a = appendAttr(a, "Recipient", s.Destination)
	a = append(a, `></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>`...)

	a = append(a, `<saml:Conditions NotBefore="`...)
	a = appendTime(a, notBefore)
	a = append(a, `" NotOnOrAfter="`...)
	a = appendTime(a, notOnOrAfter)
	a = append(a, `"><saml:AudienceRestriction><saml:Audience>`...)
	a = appendText(a, s.Audience)
	a = append(a, `</saml:Audience></saml:AudienceRestriction></saml:Conditions>`...)

	a = append(a, `<saml:AuthnStatement AuthnInstant="`...)
	a = appendTime(a, s.AuthnInstant)
	a = append(a, '"')
	if s.SessionIndex != "" {
		a = appendAttr(a, "SessionIndex", s.SessionIndex)
	}
	a = append(a, `><saml:AuthnContext><saml:AuthnContextClassRef>`...)
	a = append(a, s.Level.ClassRef()...)
	a = append(a, `</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`...)

	if len(s.Attributes) > 0 {
		a = append(a, `<saml:AttributeStatement>`...)
		for _, at := range s.Attributes {
			spec, _ := metadata.LookupAttribute(at.Name) // checked in s.check
			a = append(a, `<saml:Attribute`...)
			a = appendAttr(a, "Name", at.Name)
			a = appendAttr(a, "NameFormat", spid.AttrNameBasic)
			a = append(a, `><saml:AttributeValue`+declXSI...)
			a = appendAttr(a, "xsi:type", spec.Type)
			a = append(a, '>')
			a = appendText(a, at.Value)
			a = append(a, `</saml:AttributeValue></saml:Attribute>`...)
		}
		a = append(a, `</saml:AttributeStatement>`...)
	} else {
		declAt = -1 // no xsi:type, no need for xs
	}
	a = append(a, `</saml:Assertion>`...)

	asrtSig, err := b.appendSignature(make([]byte, 0, b.signatureLen()), asrtID, a)
	if err != nil {
		return nil, err
	}

	// The Response, canonical, without its signature: head, then tail
	// (Status and the signed Assertion).
	head := make([]byte, 0, 512)
	head = append(head, `<samlp:Response`+declSAMLP...)
	head = appendAttr(head, "Destination", s.Destination)
	head = appendAttr(head, "ID", respID)
	head = appendAttr(head, "InResponseTo", s.InResponseTo)
	head = append(head, ` IssueInstant="`...)
	head = appendTime(head, issue)
	head = append(head, `" Version="2.0">`...)
	head = b.appendIssuer(head, false)
	// Extensions go between the signature and Status (A018): one
	// spid:GrantedAttributeAuthority with an unqualified GrantToken per AA,
	// no default namespace in scope (AgID's tool reads GrantToken without
	// a prefix, A019, A020).
	var ext []byte
	if s.Grants != nil {
		grants, err := s.Grants(respID)
		if err != nil {
			return nil, fmt.Errorf("response: grant tokens: %w", err)
		}
		if len(grants) > 0 {
			ext = append(ext, `<samlp:Extensions><spid:GrantedAttributeAuthority xmlns:spid="`+spid.NSSPID+`">`...)
			for _, g := range grants {
				if err := checkValue("GrantToken Destination", g.Destination); err != nil {
					return nil, err
				}
				if err := checkValue("GrantToken", g.Token); err != nil {
					return nil, err
				}
				ext = append(ext, `<GrantToken`...)
				ext = appendAttr(ext, "Destination", g.Destination)
				ext = append(ext, '>')
				ext = appendText(ext, g.Token)
				ext = append(ext, `</GrantToken>`...)
			}
			ext = append(ext, `</spid:GrantedAttributeAuthority></samlp:Extensions>`...)
		}
	}
	status := `<samlp:Status><samlp:StatusCode Value="` + spid.StatusSuccess + `"></samlp:StatusCode></samlp:Status>`
	const closeResp = `</samlp:Response>`

	// Digest input: head, status, a with asrtSig spliced in, close.
	respSig, err := b.appendSignature(make([]byte, 0, b.signatureLen()), respID,
		head, ext, []byte(status), a[:asrtSigAt], asrtSig, a[asrtSigAt:], []byte(closeResp))
	if err != nil {
		return nil, err
	}

	out := make([]byte, 0, len(xmlDecl)+len(head)+len(respSig)+len(ext)+len(status)+len(a)+len(declXS)+len(asrtSig)+len(closeResp))
	out = append(out, xmlDecl...)
	out = append(out, head...)
	out = append(out, respSig...)
	out = append(out, ext...)
	out = append(out, status...)
	if declAt >= 0 {
		out = append(out, a[:declAt]...)
		out = append(out, declXS...)
		out = append(out, a[declAt:asrtSigAt]...)
	} else {
		out = append(out, a[:asrtSigAt]...)
	}
	out = append(out, asrtSig...)
	out = append(out, a[asrtSigAt:]...)
	out = append(out, closeResp...)
	return out, nil
}
