package csrf

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

var secret = bytes.Repeat([]byte{7}, 32)

func TestTokenValidForItsSessionOnly(t *testing.T) {
	tok := Token(secret, "flow-A")
	if tok == "" {
		t.Fatal("empty token")
	}
	if !Valid(secret, "flow-A", tok) {
		t.Fatal("own token refused")
	}
	if Valid(secret, "flow-B", tok) {
		t.Fatal("token of flow A accepted for flow B")
	}
	other := bytes.Repeat([]byte{8}, 32)
	if Valid(other, "flow-A", tok) {
		t.Fatal("token accepted under another secret")
	}
}

func TestTokensDifferPerRender(t *testing.T) {
	a, b := Token(secret, "s"), Token(secret, "s")
	if a == b {
		t.Fatal("two tokens identical: mask not random")
	}
	if !Valid(secret, "s", a) || !Valid(secret, "s", b) {
		t.Fatal("masked tokens refused")
	}
}

func TestInvalidInputsFailClosed(t *testing.T) {
	if Token(secret[:31], "s") != "" {
		t.Error("short secret produced a token")
	}
	if Token(secret, "") != "" {
		t.Error("empty session produced a token")
	}
	tok := Token(secret, "s")
	raw := []byte(tok)
	raw[len(raw)-3] ^= 1
	flipped := string(raw)
	for name, c := range map[string]struct{ sess, tok string }{
		"empty token":   {"s", ""},
		"empty session": {"", tok},
		"tampered":      {"s", flipped},
		"truncated":     {"s", tok[:len(tok)-1]},
		"extended":      {"s", tok + "A"},
		"padding":       {"s", tok + "="},
		"not base64":    {"s", strings.Repeat("*", len(tok))},
	} {
		if Valid(secret, c.sess, c.tok) {
			t.Errorf("%s: accepted", name)
		}
	}
	if Valid(secret[:31], "s", tok) {
		t.Error("short secret validated")
	}
}

func TestCheckOrigin(t *testing.T) {
	const self = "https://login.example.it"
	cases := []struct {
		name, site, origin string
		ok                 bool
	}{
		{"no headers", "", "", true},
		{"same-origin", "same-origin", self, true},
		{"user typed", "none", "", true},
		{"explicit port", "", "https://login.example.it:443", true},
		{"cross-site", "cross-site", "", false},
		{"same-site sibling", "same-site", "https://account.example.it", false},
		{"foreign origin", "", "https://evil.example", false},
		// Referrer-Policy no-referrer makes browsers send "Origin: null"
		// on same-origin posts: Sec-Fetch-Site decides, else the token.
		{"same-origin with null origin", "same-origin", "null", true},
		{"null origin without fetch metadata", "", "null", true},
		{"cross-site with null origin", "cross-site", "null", false},
		{"http downgrade", "", "http://login.example.it", false},
		{"other port", "", "https://login.example.it:8443", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", self+"/login/x", nil)
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		err := CheckOrigin(r, self)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrCrossSite) {
			t.Errorf("%s: error %v is not ErrCrossSite", c.name, err)
		}
	}
}

func FuzzValid(f *testing.F) {
	f.Add("s", Token(secret, "s"))
	f.Add("", "")
	f.Fuzz(func(t *testing.T, sess, tok string) {
		// Only a token made by Token may pass; random input never does.
		if Valid(secret, sess, tok) && sess != "s" {
			t.Fatalf("forged token accepted for %q", sess)
		}
	})
}
