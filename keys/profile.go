package keys

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
)

// Bounds on RSA keys: below MinRSABits is too weak for SPID; above
// MaxRSABits verification becomes a CPU cost an attacker could impose.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// CheckStrength reports whether cert is usable for SPID signatures at all:
// an RSA key of MinRSABits..MaxRSABits with a public exponent that fits in
// 32 bits, and a certificate signature that is not SHA-1 or MD5 based.
func CheckStrength(cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("public key is %v, want RSA", cert.PublicKeyAlgorithm)
	}
	if n := pub.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return fmt.Errorf("RSA key of %d bits, want %d to %d", n, MinRSABits, MaxRSABits)
	}
	if pub.E < 3 || int64(pub.E) > 1<<32 {
		return fmt.Errorf("RSA public exponent %d out of range", pub.E)
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		return nil
	}
	return fmt.Errorf("certificate signed with %v, want SHA-256 or stronger", cert.SignatureAlgorithm)
}

// CheckValidity reports whether now lies inside cert's validity period.
func CheckValidity(cert *x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("certificate not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// Policy is one entry of a certificatePolicies extension with the
// explicit texts of its user-notice qualifiers.
type Policy struct {
	OID     asn1.ObjectIdentifier
	Notices []string
}

// Policies decodes cert's certificatePolicies extension, including the
// user-notice texts Go's x509 package does not expose. It returns nil, nil
// when the extension is absent.
func Policies(cert *x509.Certificate) ([]Policy, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDExtCertificatePolicies) {
			return parsePolicies(ext.Value)
		}
	}
	return nil, nil
}

func parsePolicies(der []byte) ([]Policy, error) {
	var infos []struct {
		Policy     asn1.ObjectIdentifier
		Qualifiers []struct {
			ID        asn1.ObjectIdentifier
			Qualifier asn1.RawValue
		} `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(der, &infos)
	if err != nil {
		return nil, fmt.Errorf("certificatePolicies: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("certificatePolicies: trailing data")
	}
	out := make([]Policy, 0, len(infos))
	for _, in := range infos {
		p := Policy{OID: in.Policy}
		for _, q := range in.Qualifiers {
			if !q.ID.Equal(OIDQualifierUserNotice) {
				continue
			}
			text, err := explicitText(q.Qualifier)
			if err != nil {
				return nil, fmt.Errorf("certificatePolicies %v: %w", in.Policy, err)
			}
			if text != "" {
				p.Notices = append(p.Notices, text)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// explicitText extracts UserNotice.explicitText, whichever DisplayText
// string type the issuer chose.
func explicitText(notice asn1.RawValue) (string, error) {
	if notice.Class != asn1.ClassUniversal || notice.Tag != asn1.TagSequence {
		return "", errors.New("user notice is not a SEQUENCE")
	}
	rest := notice.Bytes
	for len(rest) > 0 {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return "", fmt.Errorf("user notice: %w", err)
		}
		if v.Class != asn1.ClassUniversal {
			continue
		}
		switch v.Tag {
		case asn1.TagSequence: // noticeRef, not used by SPID
		case asn1.TagUTF8String, asn1.TagIA5String, 26 /* VisibleString */ :
			return string(v.Bytes), nil
		case 30: // BMPString, UTF-16BE
			if len(v.Bytes)%2 != 0 {
				return "", errors.New("user notice: odd BMPString length")
			}
			u := make([]uint16, len(v.Bytes)/2)
			for i := range u {
				u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
			}
			return string(utf16.Decode(u)), nil
		default:
			return "", fmt.Errorf("user notice: unexpected tag %d", v.Tag)
		}
	}
	return "", nil
}

// CheckIdPProfile checks cert against the SPID IdP certificate profile
// (spec §1.6, checklist C008–C010) for the IdP entityID, at time now. It
// returns every failed item, joined, or nil.
func CheckIdPProfile(cert *x509.Certificate, entityID string, now time.Time) error {
	return CheckProfile(cert, ProfileIdP, entityID, now)
}

// CheckProfile checks cert against the AgID certificate profile p for
// entityID at time now (CheckStrength, CheckValidity and
// ProfileViolations), returning every failed item joined, or nil.
func CheckProfile(cert *x509.Certificate, p Profile, entityID string, now time.Time) error {
	var errs []error
	if err := CheckStrength(cert); err != nil {
		errs = append(errs, err)
	}
	if err := CheckValidity(cert, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, ProfileViolations(cert, p, entityID)...)...)
}

// ProfileViolations lists how cert's subject and extensions depart from
// profile p for entityID; key strength and dates are not looked at.
func ProfileViolations(cert *x509.Certificate, p Profile, entityID string) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	// Subject.
	var (
		values   = map[string][]string{}
		personal = map[string]string{"2.5.4.41": "name", "2.5.4.4": "surname", "2.5.4.42": "givenName", "2.5.4.43": "initials", "2.5.4.65": "pseudonym"}
	)
	for _, atv := range cert.Subject.Names {
		if s, ok := atv.Value.(string); ok {
			values[atv.Type.String()] = append(values[atv.Type.String()], s)
		}
	}
	one := func(oid asn1.ObjectIdentifier, label string) string {
		v := values[oid.String()]
		if len(v) != 1 || v[0] == "" {
			add("subject %s: want exactly one non-empty value, have %d", label, len(v))
			return ""
		}
		return v[0]
	}
	one(OIDCommonName, "commonName")
	if c := one(OIDCountryName, "countryName"); c != "" && c != "IT" {
		add("subject countryName %q, want IT", c)
	}
	one(OIDLocalityName, "localityName")
	one(OIDOrganizationName, "organizationName")
	if oi := one(OIDOrganizationIdentifier, "organizationIdentifier"); oi != "" && !p.orgIdentifierOK(oi) {
		add("subject organizationIdentifier %q: want %s", oi, p.orgIdentifierForms())
	}
	if u := one(OIDURI, "uri"); u != "" && u != entityID {
		add("subject uri %q differs from entityID %q", u, entityID)
	}
	for oid, label := range personal {
		if len(values[oid]) > 0 {
			add("subject carries personal attribute %s", label)
		}
	}

	// Extensions.
	var bcSeen, kuSeen bool
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(OIDExtBasicConstraints):
			bcSeen = true
			if ext.Critical {
				add("basicConstraints is critical, want non-critical")
			}
		case ext.Id.Equal(OIDExtKeyUsage):
			kuSeen = true
			if !ext.Critical {
				add("keyUsage is not critical")
			}
		case ext.Id.Equal(OIDExtCertificatePolicies):
			if ext.Critical {
				add("certificatePolicies is critical, want non-critical")
			}
		}
	}
	if !bcSeen || cert.IsCA {
		add("basicConstraints CA:FALSE missing")
	}
	if !kuSeen {
		add("keyUsage missing")
	} else if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		add("keyUsage %#x, want digitalSignature and nonRepudiation only", int(cert.KeyUsage))
	}
	pols, err := Policies(cert)
	if err != nil {
		errs = append(errs, err)
	}
	roleOID, roleNotice := p.rolePolicy()
	for _, want := range []struct {
		oid    asn1.ObjectIdentifier
		notice string
	}{{OIDPolicyAgIDCert, NoticeAgIDCert}, {roleOID, roleNotice}} {
		found := false
		for _, p := range pols {
			if p.OID.Equal(want.oid) {
				found = true
			}
		}
		if !found {
			add("certificatePolicies lacks %v (%s)", want.oid, want.notice)
		}
	}
	return errs
}

// publicKeyEqual compares two RSA public keys.
func publicKeyEqual(a, b *rsa.PublicKey) bool {
	return a.E == b.E && bytes.Equal(a.N.Bytes(), b.N.Bytes())
}
