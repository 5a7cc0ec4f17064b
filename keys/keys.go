// Package keys loads, generates and describes the IdP's signing key pair.
package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
)

// Pair is the IdP's signing key and its certificate (spec saml-profile.md §1.6).
type Pair struct {
	Key  crypto.Signer // *rsa.PrivateKey, or a key held in an HSM (keys/pkcs11)
	Cert *x509.Certificate
}

// SignSHA256 signs a SHA-256 digest with RSA PKCS#1 v1.5 (the profile's
// rsa-sha256), with the key wherever it is held.
func (p Pair) SignSHA256(digest []byte) ([]byte, error) {
	if p.Key == nil {
		return nil, errors.New("keys: no signing key")
	}
	return p.Key.Sign(rand.Reader, digest, crypto.SHA256)
}

// SignatureSize is the length in bytes of the pair's signatures.
func (p Pair) SignatureSize() int {
	if p.Key != nil {
		if pub, ok := p.Key.Public().(*rsa.PublicKey); ok {
			return pub.Size()
		}
	}
	return 512
}

// Match checks that signer holds the private key of cert and that cert is
// strong enough (CheckStrength).
func Match(signer crypto.Signer, cert *x509.Certificate) error {
	if err := CheckStrength(cert); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	pub, ok := signer.Public().(*rsa.PublicKey)
	if !ok || !publicKeyEqual(pub, cert.PublicKey.(*rsa.PublicKey)) {
		return errors.New("private key does not match the certificate")
	}
	return nil
}
