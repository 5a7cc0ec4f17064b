// Package csrf makes and checks synchroniser tokens bound to a login flow or
// session (security.md §C.8), and checks the Fetch Metadata / Origin headers
// of state-changing requests.
//
// A token is a random 16-byte mask followed by HMAC-SHA256(secret, label ||
// mask || sessionID). Every page gets a different token (so a compression
// side channel such as BREACH cannot recover it from responses), and every
// token made for a session is valid for that session only. There is no
// server-side state: rotating the session ID (after each login step)
// invalidates the old tokens.
package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// FieldName is the form field that carries the token.
const FieldName = "csrf_token"

// MinSecretLen is the shortest secret accepted (256 bits).
const MinSecretLen = 32

const (
	maskLen  = 16
	macLen   = sha256.Size
	tokenLen = maskLen + macLen
	// label separates these MACs from any other use of the same secret.
	label = "spid-idp/csrf/v1\x00"
)

var enc = base64.RawURLEncoding

// Token returns a fresh token for sessionID. It returns "" when the secret
// is shorter than MinSecretLen or sessionID is empty, and such a token never
// validates, so a misconfiguration fails closed.
func Token(secret []byte, sessionID string) string {
	if len(secret) < MinSecretLen || sessionID == "" {
		return ""
	}
	buf := make([]byte, maskLen, tokenLen)
	if _, err := rand.Read(buf); err != nil {
		return ""
	}
	return enc.EncodeToString(append(buf, mac(secret, buf, sessionID)...))
}

// Valid reports whether token was made by Token with the same secret and
// sessionID. The MAC comparison runs in constant time.
func Valid(secret []byte, sessionID, token string) bool {
	if len(secret) < MinSecretLen || sessionID == "" || len(token) != enc.EncodedLen(tokenLen) {
		return false
	}
	raw, err := enc.Strict().DecodeString(token)
	if err != nil || len(raw) != tokenLen {
		return false
	}
	return hmac.Equal(raw[maskLen:], mac(secret, raw[:maskLen], sessionID))
}

func mac(secret, mask []byte, sessionID string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	h.Write(mask)
	h.Write([]byte(sessionID))
	return h.Sum(nil)
}

// ErrCrossSite is returned by CheckOrigin for a request another site made
// the browser send.
var ErrCrossSite = errors.New("csrf: cross-site request refused")

// CheckOrigin refuses a state-changing request that a browser marks as coming
// from another site: Sec-Fetch-Site "cross-site" (or "same-site", since a
// sibling subdomain is another application), or an Origin header that is not
// selfOrigin (scheme://host[:port]). Requests with neither header (old
// browsers, non-browser clients) pass: the token is the primary defence and
// this check is the second layer. SAML endpoints must not use it, since
// SPs post to them cross-site by design.
//
// A browser that sends Sec-Fetch-Site "same-origin" is believed (scripts
// cannot forge that header), whatever Origin says: under our
// Referrer-Policy "no-referrer" browsers send "Origin: null" even for a
// same-origin form post. Without Sec-Fetch-Site, "null" is left to the token.
func CheckOrigin(r *http.Request, selfOrigin string) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return fmt.Errorf("%w: Sec-Fetch-Site %q", ErrCrossSite, site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return nil
	}
	if !sameOrigin(origin, selfOrigin) {
		return fmt.Errorf("%w: Origin %q", ErrCrossSite, origin)
	}
	return nil
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(hostPort(ua), hostPort(ub))
}

// hostPort spells the default port explicitly so https://a and https://a:443
// compare equal.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u.Host + ":443"
	case "http":
		return u.Host + ":80"
	}
	return u.Host
}
