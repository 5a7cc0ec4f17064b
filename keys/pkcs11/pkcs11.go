// Package pkcs11 keeps the IdP's keys in an HSM through PKCS#11: the SAML
// signing key signs inside the token, and the data key is stored wrapped
// (AES-GCM) under a secret key that never leaves it. It needs cgo (the
// module is a C library loaded at run time); a binary built without cgo
// reports ErrUnavailable instead.
package pkcs11

import (
	"errors"
)

// Config names the token and how to log in. The PIN is a secret: it is
// never logged, and errors never carry it.
type Config struct {
	Module     string // path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	PIN        string
}

// ErrUnavailable: this binary was built without cgo.
var ErrUnavailable = errors.New("PKCS#11 is not available in this build (it needs cgo: build with CGO_ENABLED=1 and a C compiler)")

// WrapOverhead is how many bytes Wrap adds: the AES-GCM nonce and tag.
const WrapOverhead = 12 + 16

// ErrNotFound: no key with that label in the token.
var ErrNotFound = errors.New("no such key in the token")
