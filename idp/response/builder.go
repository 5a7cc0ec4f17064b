// Package response builds the signed SAML messages the IdP sends to service
// providers: the authentication Response (success and SPID anomaly errors),
// and the Single Logout LogoutRequest / LogoutResponse, plus the data for
// their HTTP-POST and HTTP-Redirect delivery (spec saml-profile.md §4–§6).
//
// The XML is written directly in exclusive-c14n canonical form, so the bytes
// we emit are (but for one unused namespace declaration, see canon.go) the
// bytes we digest: no DOM, no re-serialisation after signing, and signatures
// that any XML-DSig verifier reproduces.
package response

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/keys"
)

// DefaultAssertionLifetime is the validity window of an Assertion and of a
// LogoutRequest we send: the value the AgID validator and spid-sp-test use
// (spec §4.5).
const DefaultAssertionLifetime = 5 * time.Minute

// maxRequestAhead bounds how far in our future a request IssueInstant may be
// and still be honoured by the max(now, request) rule of §4.5. The request
// validator refuses such requests well before this; the bound keeps a bug
// there from producing assertions dated in the future.
const maxRequestAhead = time.Minute

// Builder builds and signs the messages the IdP sends. The zero values of
// Now, AssertionLifetime and NewID mean time.Now, DefaultAssertionLifetime
// and 128-bit random IDs. A Builder is safe for concurrent use as long as its
// fields are not changed.
type Builder struct {
	// EntityID is the IdP entityID: Issuer text and NameQualifier.
	EntityID string
	// Signing is the key pair published in the IdP metadata.
	Signing keys.Pair
	// Keys, when set, overrides Signing: it returns the pair to sign each
	// message with, so a planned key rollover switches keys while the IdP
	// runs (keys/rollover).
	Keys func() keys.Pair
	// Now returns the current time.
	Now func() time.Time
	// AssertionLifetime is added to IssueInstant to get
	// SubjectConfirmationData/@NotOnOrAfter and Conditions/@NotOnOrAfter
	// (and LogoutRequest/@NotOnOrAfter).
	AssertionLifetime time.Duration
	// NewID returns a fresh message ID; it must be an NCName (e.g. "_" + hex).
	NewID func() string
}

// errNoKey is returned when the Builder cannot sign.
var errNoKey = errors.New("response: builder has no signing key or certificate")

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) lifetime() time.Duration {
	if b.AssertionLifetime > 0 {
		return b.AssertionLifetime
	}
	return DefaultAssertionLifetime
}

// newID returns a message ID and checks that a custom NewID produced a valid
// NCName, since an invalid ID breaks the signature reference.
func (b *Builder) newID() (string, error) {
	if b.NewID == nil {
		return RandomID(), nil
	}
	id := b.NewID()
	if !isNCName(id) {
		return "", fmt.Errorf("response: NewID returned %q, which is not an NCName", id)
	}
	return id, nil
}

// check reports configuration errors common to every message.
func (b *Builder) check() error {
	if p := b.pair(); p.Key == nil || p.Cert == nil {
		return errNoKey
	}
	if err := checkValue("builder EntityID", b.EntityID); err != nil {
		return err
	}
	return nil
}

// pair is the key pair to sign one message with; a message reads it once,
// so its signature and its KeyInfo always name the same key.
func (b *Builder) pair() keys.Pair {
	if b.Keys != nil {
		return b.Keys()
	}
	return b.Signing
}

// RandomID returns "_" followed by 128 random bits in hex: an NCName usable
// as a message ID, or as an opaque transient NameID / SessionIndex.
func RandomID() string {
	var r [16]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	var out [33]byte
	out[0] = '_'
	hex.Encode(out[1:], r[:])
	return string(out[:])
}

// timeLayout is the profile's timestamp form: UTC, exactly three fraction
// digits (time.RFC3339Nano would trim zeros, which the AgID regex refuses).
const timeLayout = "2006-01-02T15:04:05.000Z"

func appendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, timeLayout)
}

// ceilMillis rounds t up to the next millisecond, so that a rounded
// IssueInstant is never earlier than the instant it must not precede.
func ceilMillis(t time.Time) time.Time {
	r := t.Truncate(time.Millisecond)
	if r.Before(t) {
		r = r.Add(time.Millisecond)
	}
	return r
}

// isNCName reports whether s is a non-empty ASCII XML NCName (the IDs we
// emit never need more).
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'):
		case i > 0 && (c == '-' || c == '.' || (c >= '0' && c <= '9')):
		default:
			return false
		}
	}
	return true
}
