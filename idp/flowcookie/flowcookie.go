// Package flowcookie keeps the ID of the pending login flow in a signed and
// encrypted cookie, so a flow URL opened in another browser (without the
// cookie) resumes nothing (ui.md §2, U016).
//
// Keys rotate as security.md §C.7 asks: the first key pair encodes, every
// pair decodes; a cookie read with an older pair is reported so the caller
// re-issues it under the newest one. The cookie carries its own expiry,
// checked against an injectable clock.
package flowcookie

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// DefaultName uses the __Host- prefix: Secure, Path=/, no Domain, so a
// sibling subdomain cannot set or overwrite it.
const DefaultName = "__Host-spid_flow"

// MaxFlowIDLen bounds the flow ID stored in the cookie.
const MaxFlowIDLen = 128

// Errors callers can test with errors.Is.
var (
	ErrNoCookie = errors.New("flowcookie: no flow cookie")
	ErrInvalid  = errors.New("flowcookie: flow cookie invalid (tampered, unknown key or expired)")
	ErrConfig   = errors.New("flowcookie: bad configuration")
)

// KeyPair is one generation of keys: Hash authenticates (HMAC-SHA256, 32 or
// 64 bytes), Block encrypts (AES, 16, 24 or 32 bytes).
type KeyPair struct {
	Hash  []byte
	Block []byte
}

// Codec writes and reads the flow cookie.
type Codec struct {
	name   string
	maxAge time.Duration
	codecs []*securecookie.SecureCookie
	// Now is the clock used for expiry; time.Now when nil.
	Now func() time.Time
}

// New returns a codec for the cookie name (DefaultName when empty) valid for
// maxAge, with keys newest first.
func New(name string, maxAge time.Duration, keys ...KeyPair) (*Codec, error) {
	if name == "" {
		name = DefaultName
	}
	if maxAge <= 0 {
		return nil, fmt.Errorf("%w: maxAge %v must be positive", ErrConfig, maxAge)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key pair", ErrConfig)
	}
	c := &Codec{name: name, maxAge: maxAge}
	for i, k := range keys {
		if n := len(k.Hash); n != 32 && n != 64 {
			return nil, fmt.Errorf("%w: key pair %d: hash key is %d bytes, want 32 or 64", ErrConfig, i, n)
		}
		if n := len(k.Block); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("%w: key pair %d: block key is %d bytes, want 16, 24 or 32", ErrConfig, i, n)
		}
		if string(k.Hash[:len(k.Block)]) == string(k.Block) {
			return nil, fmt.Errorf("%w: key pair %d: block key must differ from the hash key", ErrConfig, i)
		}
		sc := securecookie.New(k.Hash, k.Block).SetSerializer(securecookie.NopEncoder{})
		// securecookie's own age check is a backstop; ours uses c.Now.
		sc.MaxAge(int(maxAge/time.Second) + 60)
		c.codecs = append(c.codecs, sc)
	}
	return c, nil
}

func (c *Codec) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Encode returns the cookie value for flowID.
func (c *Codec) Encode(flowID string) (string, error) {
	if flowID == "" || len(flowID) > MaxFlowIDLen || strings.Contains(flowID, "|") {
		return "", fmt.Errorf("%w: flow ID must be 1..%d bytes without '|'", ErrConfig, MaxFlowIDLen)
	}
	exp := c.now().Add(c.maxAge).Unix()
	payload := "v1|" + strconv.FormatInt(exp, 10) + "|" + flowID
	v, err := c.codecs[0].Encode(c.name, []byte(payload))
	if err != nil {
		return "", fmt.Errorf("flowcookie: encoding: %w", err)
	}
	return v, nil
}

// Decode returns the flow ID in value. stale is true when an older key pair
// decoded it: the caller should Set the cookie again.
func (c *Codec) Decode(value string) (flowID string, stale bool, err error) {
	var raw []byte
	idx := -1
	for i, sc := range c.codecs {
		if e := sc.Decode(c.name, value, &raw); e == nil {
			idx = i
			break
		}
	}
	if idx < 0 {
		return "", false, ErrInvalid
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", false, fmt.Errorf("%w: unknown payload format", ErrInvalid)
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", false, fmt.Errorf("%w: bad expiry", ErrInvalid)
	}
	if !c.now().Before(time.Unix(exp, 0)) {
		return "", false, fmt.Errorf("%w: expired", ErrInvalid)
	}
	if parts[2] == "" {
		return "", false, fmt.Errorf("%w: empty flow ID", ErrInvalid)
	}
	return parts[2], idx > 0, nil
}

// Set writes the cookie for flowID: HttpOnly, Secure, SameSite=Lax, Path=/.
func (c *Codec) Set(w http.ResponseWriter, flowID string) error {
	v, err := c.Encode(flowID)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.name, Value: v, Path: "/",
		MaxAge: int(c.maxAge / time.Second), Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// Read returns the flow ID from the request's cookie: ErrNoCookie when
// absent, ErrInvalid when it does not decode.
func (c *Codec) Read(r *http.Request) (flowID string, stale bool, err error) {
	ck, err := r.Cookie(c.name)
	if err != nil {
		return "", false, ErrNoCookie
	}
	return c.Decode(ck.Value)
}

// Clear deletes the cookie in the browser.
func (c *Codec) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: c.name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
