package authflow

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/internal/hostcookie"
)

// Cookie names. The browser cookie binds forms (CSRF) and flows to one
// browser; the SSO cookie holds the SpidL1 session ID. Over https each
// name takes the __Host- prefix (package hostcookie).
const (
	browserCookie = "spid_browser"
	ssoCookie     = "spid_sso"
)

// cookieJar signs and encrypts the IdP's cookies, with key rotation: the
// first key encodes, every key decodes.
type cookieJar struct {
	codecs []securecookie.Codec
	secure bool // https: Secure, and SameSite=None for the SSO cookie
	maxAge time.Duration
}

func newCookieJar(secure bool, maxAge time.Duration, masters ...[]byte) *cookieJar {
	j := &cookieJar{secure: secure, maxAge: maxAge}
	for _, k := range masters {
		sc := securecookie.New(derive(k, "cookie-mac"), derive(k, "cookie-enc"))
		sc.MaxAge(int(maxAge / time.Second))
		j.codecs = append(j.codecs, sc)
	}
	return j
}

// name is the name the cookie has on this listener.
func (j *cookieJar) name(name string) string { return hostcookie.Name(name, j.secure) }

func (j *cookieJar) set(w http.ResponseWriter, name, value string, sameSite http.SameSite) error {
	enc, err := securecookie.EncodeMulti(name, value, j.codecs[0])
	if err != nil {
		return fmt.Errorf("idp: encoding cookie %s: %w", name, err)
	}
	http.SetCookie(w, &http.Cookie{Name: j.name(name), Value: enc, Path: "/", HttpOnly: true, Secure: j.secure,
		SameSite: sameSite, MaxAge: int(j.maxAge / time.Second)})
	return nil
}

// get returns the cookie's value; a missing, tampered or expired cookie
// gives "" (the caller treats it as absent).
func (j *cookieJar) get(r *http.Request, name string) string {
	c, err := r.Cookie(j.name(name))
	if err != nil {
		return ""
	}
	var v string
	if err := securecookie.DecodeMulti(name, c.Value, &v, j.codecs...); err != nil {
		return ""
	}
	return v
}

func (j *cookieJar) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: j.name(name), Value: "", Path: "/", HttpOnly: true, Secure: j.secure, MaxAge: -1})
}

// ssoSameSite: SPs POST AuthnRequests cross-site, and only SameSite=None
// cookies travel with such a POST; browsers accept None only with Secure,
// so over plain HTTP (demo) the session is reusable on the Redirect binding only.
func (j *cookieJar) ssoSameSite() http.SameSite {
	if j.secure {
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}

// browserID returns the browser's ID, issuing one when absent or invalid.
func (j *cookieJar) browserID(w http.ResponseWriter, r *http.Request) (string, error) {
	if id := j.get(r, browserCookie); id != "" {
		return id, nil
	}
	return j.newBrowserID(w)
}

// newBrowserID gives the browser a new ID, whatever it had. Each
// authentication step calls it (password, second factor, SSO session
// creation: security.md C.6, S075), so an ID known to someone else before
// the login (a planted cookie, S076) binds nothing after it.
func (j *cookieJar) newBrowserID(w http.ResponseWriter) (string, error) {
	id := randomHex(16)
	return id, j.set(w, browserCookie, id, j.ssoSameSite())
}

// sessionIndexer turns a session ID into the SessionIndex given to SPs and
// back. SPs see only ciphertext: the session ID is the citizen's bearer
// credential at the IdP and must never reach a third party.
type sessionIndexer struct {
	aeads []cipher.AEAD
}

func newSessionIndexer(masters ...[]byte) (*sessionIndexer, error) {
	s := &sessionIndexer{}
	for _, k := range masters {
		block, err := aes.NewCipher(derive(k, "session-index"))
		if err != nil {
			return nil, fmt.Errorf("idp: session index key: %w", err)
		}
		a, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("idp: session index key: %w", err)
		}
		s.aeads = append(s.aeads, a)
	}
	return s, nil
}

var sessionIndexAD = []byte("spid-idp session index")

func (s *sessionIndexer) seal(sessionID string) string {
	a := s.aeads[0]
	nonce := make([]byte, a.NonceSize())
	_, _ = rand.Read(nonce)
	return "_" + base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, []byte(sessionID), sessionIndexAD))
}

func (s *sessionIndexer) open(index string) (string, error) {
	if len(index) < 2 || index[0] != '_' || len(index) > 512 {
		return "", errors.New("idp: malformed SessionIndex")
	}
	raw, err := base64.RawURLEncoding.DecodeString(index[1:])
	if err != nil {
		return "", errors.New("idp: malformed SessionIndex")
	}
	for _, a := range s.aeads {
		if len(raw) < a.NonceSize() {
			continue
		}
		if pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], sessionIndexAD); err == nil {
			return string(pt), nil
		}
	}
	return "", errors.New("idp: unknown SessionIndex")
}
