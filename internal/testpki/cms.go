package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// oidSignatureTimeStampToken is id-aa-signatureTimeStampToken (RFC 3161).
var oidSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

// TSA issues a time-stamping authority certificate (timeStamping usage).
func (ca *CA) TSA(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	return ca.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().AddDate(-1, 0, 0), NotAfter: time.Now().AddDate(3, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
}

// Stamp is an RFC 3161 time-stamp token by the TSA (cert, key) at time at
// over imprintOf, carrying the TSA's certificate.
func Stamp(t testing.TB, cert *x509.Certificate, key crypto.Signer, imprintOf []byte, at time.Time) []byte {
	t.Helper()
	h := sha256.Sum256(imprintOf)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: h[:], Time: at,
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, AddTSACertificate: true}
	resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.RawToken
}

// CAdES options.
type CAdES struct {
	Chain    []*x509.Certificate // the signer's issuers, embedded
	Detached bool
	// Token, when set, makes the signature time-stamp from the signature
	// value (see Stamp); nil: no time-stamp.
	Token func(sigValue []byte) []byte
}

// SignCAdES signs content with (cert, key) as a .p7m (DER), with pkcs7's
// signed attributes (signingTime is the real now).
func SignCAdES(t testing.TB, content []byte, cert *x509.Certificate, key crypto.Signer, o CAdES) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, o.Chain, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	if o.Token != nil {
		si := &sd.GetSignedData().SignerInfos[0]
		tok := o.Token(si.EncryptedDigest)
		if err := si.SetUnauthenticatedAttributes([]pkcs7.Attribute{{Type: oidSignatureTimeStampToken, Value: asn1.RawValue{FullBytes: tok}}}); err != nil {
			t.Fatal(err)
		}
	}
	if o.Detached {
		sd.Detach()
	}
	b, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
