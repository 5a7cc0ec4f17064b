// Package binding decodes the SAML protocol messages service providers send
// to the IdP on the HTTP-Redirect and HTTP-POST bindings, parses their XML
// with the safety rules of spec security.md A.3–A.11 and A.19, and verifies
// their signature (query signature on Redirect, enveloped XML signature on
// POST) against the certificates the caller trusts.
//
// It knows nothing about which message it carries: AuthnRequest,
// LogoutRequest and LogoutResponse checkers build on it.
package binding

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// Error classes. Every error returned by Decode wraps exactly one of
// ErrMethod, ErrMissing or ErrMalformed (ErrTooLarge also wraps ErrMalformed);
// every error from Message.Verify wraps ErrSignature.
var (
	// ErrMethod: the HTTP method does not belong to the binding (nr06).
	ErrMethod = errors.New("binding: HTTP method does not match the binding")
	// ErrMissing: a mandatory parameter is absent or empty (nr04).
	ErrMissing = errors.New("binding: mandatory parameter missing")
	// ErrMalformed: encoding, size or XML rules broken (nr04).
	ErrMalformed = errors.New("binding: malformed message")
	// ErrTooLarge: the POST body is over Limits.MaxBody; an HTTP layer may
	// prefer answering 413 (security.md A.9).
	ErrTooLarge = fmt.Errorf("%w: request body too large", ErrMalformed)
	// ErrSignature: the signature is missing, of a refused algorithm or not
	// valid with any trusted certificate (nr05 / nr07).
	ErrSignature = errors.New("binding: signature check failed")
)

// Parameter names.
const (
	ParamRequest    = "SAMLRequest"
	ParamResponse   = "SAMLResponse"
	ParamRelayState = "RelayState"
	ParamSigAlg     = "SigAlg"
	ParamSignature  = "Signature"
	ParamEncoding   = "SAMLEncoding"
)

// Limits bound what a message may cost to decode. Zero fields take the
// defaults of spec security.md (A.4, A.9, A.14).
type Limits struct {
	MaxMessage    int   // decoded (inflated) XML bytes; default 64 KiB
	MaxBody       int64 // POST body bytes; default 128 KiB
	MaxRelayState int   // RelayState bytes after URL decoding; default 1024
	MaxDepth      int   // XML element nesting; default 32
}

// Default limits.
const (
	DefaultMaxMessage    = 64 << 10
	DefaultMaxBody       = 128 << 10
	DefaultMaxRelayState = 1024
	DefaultMaxDepth      = 32
)

func (l Limits) withDefaults() Limits {
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultMaxMessage
	}
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxRelayState <= 0 {
		l.MaxRelayState = DefaultMaxRelayState
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Message is a decoded, parsed, not yet verified SAML protocol message.
type Message struct {
	Binding string // spid.BindingRedirect or spid.BindingPOST
	Param   string // ParamRequest or ParamResponse: which parameter carried it
	// XML is the decoded (inflated on Redirect) document, byte for byte.
	XML  []byte
	Doc  *etree.Document
	Root *etree.Element

	RelayState    string
	HasRelayState bool

	// Redirect only.
	SigAlg    string
	Signature []byte
	// SignedOctets is the query signature input built from the raw,
	// still URL-encoded values as received (spec §3.1).
	SignedOctets []byte
	// canonicalOctets is the same input with the decoded values re-encoded
	// as form-urlencoding, the single fallback spec §3.1 allows.
	canonicalOctets []byte
}

// Decode reads the message carried by r on the given binding
// (spid.BindingRedirect or spid.BindingPOST). Callers must not have parsed
// r's form: Decode reads the raw query or body itself. RelayState longer
// than Limits.MaxRelayState is an ErrMalformed.
func Decode(r *http.Request, binding string, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	switch binding {
	case spid.BindingRedirect:
		if r.Method != http.MethodGet {
			return nil, fmt.Errorf("%w: %s on the HTTP-Redirect endpoint", ErrMethod, r.Method)
		}
		return decodeRedirect(r, lim)
	case spid.BindingPOST:
		if r.Method != http.MethodPost {
			return nil, fmt.Errorf("%w: %s on the HTTP-POST endpoint", ErrMethod, r.Method)
		}
		return decodePOST(r, lim)
	}
	return nil, fmt.Errorf("binding: unsupported binding %q", binding)
}

// Verify checks the message's signature with certs only, at time now:
// the query signature on Redirect (any ds:Signature inside the XML is
// ignored there, spec §3.1), the enveloped signature of the root on POST.
// Certificates that are expired, not yet valid, not RSA or under 2048 bits
// are not used.
func (m *Message) Verify(certs []*x509.Certificate, now time.Time) error {
	switch m.Binding {
	case spid.BindingRedirect:
		return m.verifyQuery(certs, now)
	case spid.BindingPOST:
		if err := xmlsig.VerifyAt(m.Root, certs, now); err != nil {
			return fmt.Errorf("%w: %w", ErrSignature, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown binding %q", ErrSignature, m.Binding)
}
