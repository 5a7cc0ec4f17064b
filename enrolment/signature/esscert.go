package signature

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/digitorus/pkcs7"
)

// CheckSigningCert names the check of the ESS signing-certificate
// attribute, which binds the signature to one certificate (CAdES-BES).
const CheckSigningCert = "signing_certificate_attribute"

var (
	oidSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}

	hashByOID = map[string]crypto.Hash{
		"1.3.14.3.2.26":          crypto.SHA1,
		"2.16.840.1.101.3.4.2.1": crypto.SHA256,
		"2.16.840.1.101.3.4.2.2": crypto.SHA384,
		"2.16.840.1.101.3.4.2.3": crypto.SHA512,
	}
)

// essCertIDv2 is ESSCertIDv2 of RFC 5035; the hash algorithm defaults to
// SHA-256 when absent.
type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}

// essCertID is ESSCertID of RFC 2634: a SHA-1 hash.
type essCertID struct {
	CertHash     []byte
	IssuerSerial asn1.RawValue `asn1:"optional"`
}

type signingCertificate struct {
	Certs    []essCertID
	Policies asn1.RawValue `asn1:"optional"`
}

// signingCertMatches checks the signing-certificate attribute (v2, or v1)
// when the signature carries one: its first certificate hash must be the
// signer's. present is false when there is no such attribute; tools of the
// plain PKCS#7 era omit it, so its absence is recorded, not refused.
func signingCertMatches(p7 *pkcs7.PKCS7, leaf *x509.Certificate) (present bool, err error) {
	var v2 signingCertificateV2
	if e := p7.UnmarshalSignedAttribute(oidSigningCertificateV2, &v2); e == nil {
		if len(v2.Certs) == 0 {
			return true, errors.New("signing-certificate-v2 attribute lists no certificate")
		}
		id := v2.Certs[0]
		h := crypto.SHA256
		if len(id.HashAlgorithm.Algorithm) > 0 {
			var ok bool
			if h, ok = hashByOID[id.HashAlgorithm.Algorithm.String()]; !ok {
				return true, fmt.Errorf("signing-certificate-v2 uses unsupported hash %s", id.HashAlgorithm.Algorithm)
			}
		}
		return true, compareCertHash(h, leaf, id.CertHash)
	}
	var v1 signingCertificate
	if e := p7.UnmarshalSignedAttribute(oidSigningCertificate, &v1); e == nil {
		if len(v1.Certs) == 0 {
			return true, errors.New("signing-certificate attribute lists no certificate")
		}
		return true, compareCertHash(crypto.SHA1, leaf, v1.Certs[0].CertHash)
	}
	return false, nil
}

func compareCertHash(h crypto.Hash, leaf *x509.Certificate, want []byte) error {
	d := h.New()
	d.Write(leaf.Raw)
	if !bytes.Equal(d.Sum(nil), want) {
		return errors.New("the signing-certificate attribute names another certificate than the signer's")
	}
	return nil
}
