package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"time"
)

// Object identifiers of the SPID IdP certificate profile (spec §1.6).
var (
	OIDCommonName             = asn1.ObjectIdentifier{2, 5, 4, 3}
	OIDCountryName            = asn1.ObjectIdentifier{2, 5, 4, 6}
	OIDLocalityName           = asn1.ObjectIdentifier{2, 5, 4, 7}
	OIDOrganizationName       = asn1.ObjectIdentifier{2, 5, 4, 10}
	OIDOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	OIDURI                    = asn1.ObjectIdentifier{2, 5, 4, 83}

	OIDExtBasicConstraints    = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDExtKeyUsage            = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDExtCertificatePolicies = asn1.ObjectIdentifier{2, 5, 29, 32}
	OIDQualifierUserNotice    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 2, 2}

	// OIDPolicyAgIDCert is the AgID certificate policy ("agIDcert").
	OIDPolicyAgIDCert = asn1.ObjectIdentifier{1, 3, 76, 16, 6}
	// OIDPolicySPIDIdP is the SPID identity-provider policy ("cert_IdP").
	OIDPolicySPIDIdP = asn1.ObjectIdentifier{1, 3, 76, 16, 4, 1}
	// OIDPolicySPPublic is the public-sector SP policy ("cert_SP_Pub").
	OIDPolicySPPublic = asn1.ObjectIdentifier{1, 3, 76, 16, 4, 2, 1}
	// OIDPolicySPPrivate is the private-sector SP policy ("cert_SP_Priv").
	OIDPolicySPPrivate = asn1.ObjectIdentifier{1, 3, 76, 16, 4, 3, 1}
)

// The user-notice texts attached to the policies.
const (
	NoticeAgIDCert  = "agIDcert"
	NoticeSPIDIdP   = "cert_IdP"
	NoticeSPPublic  = "cert_SP_Pub"
	NoticeSPPrivate = "cert_SP_Priv"
)

// Profile selects which AgID certificate profile a certificate follows.
// The layout is shared; the role policy and the organizationIdentifier
// forms differ.
type Profile int

const (
	ProfileIdP       Profile = iota // identity provider (spec §1.6)
	ProfileSPPublic                 // public-sector service provider (Avviso 29 v3)
	ProfileSPPrivate                // private-sector service provider
)

func (p Profile) String() string {
	switch p {
	case ProfileIdP:
		return "IdP"
	case ProfileSPPublic:
		return "public SP"
	case ProfileSPPrivate:
		return "private SP"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// rolePolicy is the role policy OID and notice of p.
func (p Profile) rolePolicy() (asn1.ObjectIdentifier, string) {
	switch p {
	case ProfileSPPublic:
		return OIDPolicySPPublic, NoticeSPPublic
	case ProfileSPPrivate:
		return OIDPolicySPPrivate, NoticeSPPrivate
	}
	return OIDPolicySPIDIdP, NoticeSPIDIdP
}

// orgIdentifierOK checks organizationIdentifier against the forms p allows.
func (p Profile) orgIdentifierOK(s string) bool {
	if p == ProfileSPPublic {
		return paIdentifierRE.MatchString(s)
	}
	return orgIdentifierRE.MatchString(s)
}

func (p Profile) orgIdentifierForms() string {
	if p == ProfileSPPublic {
		return "PA:IT-<IPA code>"
	}
	return "VATIT-<11 digits> or CF:IT-<16 chars>"
}

// DefaultBits is the RSA modulus size used when GenerateOptions.Bits is 0.
const DefaultBits = 3072

// DefaultValidity is the certificate lifetime used when
// GenerateOptions.ValidFor is 0 (the AgID scripts default to 730 days).
const DefaultValidity = 730 * 24 * time.Hour

// orgIdentifierRE is the organizationIdentifier form the IdP profile allows.
var (
	orgIdentifierRE = regexp.MustCompile(`^(VATIT-\d{11}|CF:IT-[A-Za-z0-9]{16})$`)
	paIdentifierRE  = regexp.MustCompile(`^PA:IT-\S{1,16}$`)
)

// GenerateOptions describes the self-signed certificate Generate makes.
// Every subject field is required: a certificate without them fails the
// AgID profile checks.
type GenerateOptions struct {
	// Profile is ProfileIdP unless set; the SP profiles exist so tests and
	// the demo SP can make realistic SP certificates.
	Profile                Profile
	Bits                   int    // 2048, 3072 or 4096; 0 means DefaultBits
	CommonName             string // e.g. the IdP's public name
	Locality               string // localityName, e.g. "Roma"
	OrganizationIdentifier string // "VATIT-<11 digits>" or "CF:IT-<16 chars>"
	OrganizationName       string // full legal name
	EntityID               string // the IdP entityID, written as subject uri
	ValidFor               time.Duration
	// Now is the clock; nil means time.Now. NotBefore is Now minus one
	// minute so peers with a slightly late clock accept the certificate.
	Now func() time.Time
	// Key, when set, is certified instead of a new key (one made inside an
	// HSM, which never leaves it); it must be RSA and Bits is ignored.
	Key crypto.Signer
}

// Check reports every problem with the options, so a caller can refuse
// them before making a key an HSM would keep.
func (o GenerateOptions) Check() error { return o.check() }

func (o GenerateOptions) check() error {
	var errs []error
	switch o.Bits {
	case 0, 2048, 3072, 4096:
	default:
		errs = append(errs, fmt.Errorf("key size %d: must be 2048, 3072 or 4096", o.Bits))
	}
	for _, f := range []struct{ name, v string }{
		{"commonName", o.CommonName},
		{"localityName", o.Locality},
		{"organizationName", o.OrganizationName},
		{"entityID", o.EntityID},
	} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if o.Profile < ProfileIdP || o.Profile > ProfileSPPrivate {
		errs = append(errs, fmt.Errorf("unknown profile %d", int(o.Profile)))
	} else if !o.Profile.orgIdentifierOK(o.OrganizationIdentifier) {
		errs = append(errs, fmt.Errorf("organizationIdentifier %q: want %s", o.OrganizationIdentifier, o.Profile.orgIdentifierForms()))
	}
	if o.EntityID != "" {
		if u, err := url.Parse(o.EntityID); err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Errorf("entityID %q is not an absolute URI", o.EntityID))
		}
	}
	if o.ValidFor < 0 {
		errs = append(errs, errors.New("validity must be positive"))
	}
	return errors.Join(errs...)
}

// Generate makes a new RSA key and a self-signed SHA-256 certificate laid
// out as the SPID IdP certificate profile (spec §1.6): subject CN, C=IT, L,
// organizationIdentifier, O, uri=entityID; basicConstraints CA:FALSE
// (non-critical); keyUsage digitalSignature+nonRepudiation (critical);
// certificatePolicies 1.3.76.16.6 "agIDcert" and 1.3.76.16.4.1 "cert_IdP"
// (or the SP role policy when opts.Profile is an SP profile).
func Generate(opts GenerateOptions) (Pair, error) {
	if err := opts.check(); err != nil {
		return Pair{}, fmt.Errorf("keys: generate: %w", err)
	}
	bits := opts.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	validFor := opts.ValidFor
	if validFor == 0 {
		validFor = DefaultValidity
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	var key crypto.Signer = opts.Key
	if key == nil {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return Pair{}, fmt.Errorf("keys: generate RSA key: %w", err)
		}
		key = k
	} else if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return Pair{}, fmt.Errorf("keys: generate: the key to certify is %T, want RSA", key.Public())
	}
	subject, err := idpSubject(opts)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: subject: %w", err)
	}
	exts, err := profileExtensions(opts.Profile)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: extensions: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Pair{}, fmt.Errorf("keys: serial: %w", err)
	}
	start := now().UTC().Add(-time.Minute).Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:       new(big.Int).Add(serial, big.NewInt(1)), // never zero
		RawSubject:         subject,
		NotBefore:          start,
		NotAfter:           start.Add(validFor),
		SignatureAlgorithm: x509.SHA256WithRSA,
		ExtraExtensions:    exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: parse generated certificate: %w", err)
	}
	return Pair{Key: key, Cert: cert}, nil
}

// idpSubject encodes the subject DN by hand so the attribute order is fixed
// and every string but countryName is a UTF8String (RFC 5280 §4.1.2.6).
func idpSubject(o GenerateOptions) ([]byte, error) {
	utf8 := func(s string) asn1.RawValue {
		return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)}
	}
	attrs := []pkix.AttributeTypeAndValue{
		{Type: OIDCommonName, Value: utf8(o.CommonName)},
		{Type: OIDCountryName, Value: asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("IT")}},
		{Type: OIDLocalityName, Value: utf8(o.Locality)},
		{Type: OIDOrganizationIdentifier, Value: utf8(o.OrganizationIdentifier)},
		{Type: OIDOrganizationName, Value: utf8(o.OrganizationName)},
		{Type: OIDURI, Value: utf8(o.EntityID)},
	}
	var rdns pkix.RDNSequence
	for _, a := range attrs {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{a})
	}
	return asn1.Marshal(rdns)
}

type policyInformation struct {
	Policy     asn1.ObjectIdentifier
	Qualifiers []policyQualifier `asn1:"optional"`
}

type policyQualifier struct {
	ID     asn1.ObjectIdentifier
	Notice userNotice
}

// userNotice carries only explicitText, as a UTF8String.
type userNotice struct {
	ExplicitText string `asn1:"utf8"`
}

// profileExtensions builds the three profile extensions. Go's x509 would
// mark basicConstraints critical and cannot write policy qualifiers, so all
// three are encoded here.
func profileExtensions(p Profile) ([]pkix.Extension, error) {
	// CA:FALSE is the DER default, so the value is an empty SEQUENCE.
	bc, err := asn1.Marshal(struct{}{})
	if err != nil {
		return nil, err
	}
	// keyUsage bits: 0 digitalSignature, 1 nonRepudiation (contentCommitment).
	ku, err := asn1.Marshal(asn1.BitString{Bytes: []byte{0xC0}, BitLength: 2})
	if err != nil {
		return nil, err
	}
	roleOID, roleNotice := p.rolePolicy()
	cp, err := asn1.Marshal([]policyInformation{
		{Policy: OIDPolicyAgIDCert, Qualifiers: []policyQualifier{{ID: OIDQualifierUserNotice, Notice: userNotice{NoticeAgIDCert}}}},
		{Policy: roleOID, Qualifiers: []policyQualifier{{ID: OIDQualifierUserNotice, Notice: userNotice{roleNotice}}}},
	})
	if err != nil {
		return nil, err
	}
	return []pkix.Extension{
		{Id: OIDExtBasicConstraints, Critical: false, Value: bc},
		{Id: OIDExtKeyUsage, Critical: true, Value: ku},
		{Id: OIDExtCertificatePolicies, Critical: false, Value: cp},
	}, nil
}
