package authflow

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzCookies: whatever a browser sends as the IdP's signed cookies, get
// answers a value only for a cookie the jar made, and never panics (S102:
// every parser of client input has a fuzz target).
func FuzzCookies(f *testing.F) {
	jar := newCookieJar(true, time.Hour, []byte("0123456789abcdef0123456789abcdef"))
	rec := httptest.NewRecorder()
	if err := jar.set(rec, browserCookie, "b0b0b0b0", http.SameSiteLaxMode); err != nil {
		f.Fatal(err)
	}
	good := rec.Result().Cookies()[0].Value
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add("")
	f.Add("MTcwMDAwMDAwMHxhYmN8ZGVm")
	f.Add("||||")
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", browserCookie+"="+v)
		got := jar.get(r, browserCookie)
		if got != "" && got != "b0b0b0b0" {
			t.Fatalf("a cookie the jar never made decoded to %q", got)
		}
		// The same value under another name must not decode: the name is
		// part of the MAC.
		r = httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", ssoCookie+"="+v)
		if got := jar.get(r, ssoCookie); got != "" {
			t.Fatalf("a %s cookie was accepted as %s", browserCookie, ssoCookie)
		}
	})
}

// FuzzSessionIndex: an SP's LogoutRequest carries a SessionIndex the IdP
// opens; any string opens to nothing or to what the IdP sealed.
func FuzzSessionIndex(f *testing.F) {
	ix, err := newSessionIndexer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	good := ix.seal("session-1")
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add("_")
	f.Add("_AAAA")
	f.Add("x" + good[1:])
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ix.open(s)
		if err == nil && id != "session-1" {
			t.Fatalf("%q opened to %q", s, id)
		}
	})
}
