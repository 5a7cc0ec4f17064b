// Package keys loads, generates and describes the IdP's signing key pair.
package keys

import (
	"crypto/rsa"
	"crypto/x509"
)

// Pair is the IdP's signing key and its certificate (spec saml-profile.md §1.6).
type Pair struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}
