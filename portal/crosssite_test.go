package portal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/storage"
)

// S080 (C.8) for the personal area: a form post the browser marks as coming
// from another site is refused with 403 and a page, token or not, and
// changes nothing; the same form from the portal's own pages goes through.
func TestS080_PortalRefusesCrossSitePosts(t *testing.T) {
	e := newEnv(t)
	e.citizen(t, "a1", "Anna")
	c := e.login(t, "a1")
	post := func(path string, form url.Values, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		return w
	}
	foreign := map[string]map[string]string{
		"foreign Origin":            {"Origin": "https://evil.example"},
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
		"Sec-Fetch-Site same-site":  {"Sec-Fetch-Site": "same-site", "Origin": "http://other.127.0.0.1:9"},
		"other port":                {"Origin": "http://127.0.0.1:10"},
	}
	suspend := url.Values{"csrf_token": {e.token(c)}, "confirm": {"yes"}}
	for name, hdr := range foreign {
		for path, form := range map[string]url.Values{
			PathSuspend: suspend,
			PathLogout:  {"csrf_token": {e.token(c)}},
			PathLogin:   {"csrf_token": {csrf.Token(e.p.o.CSRFKey, "login:"+strings.Repeat("b", 32))}},
		} {
			w := post(path, form, hdr, c, &http.Cookie{Name: browserCookie, Value: strings.Repeat("b", 32)})
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "<h1>") {
				t.Errorf("%s to %s: %d, want 403 with a page", name, path, w.Code)
			}
		}
	}
	if l, err := e.p.o.Lifecycle.Get(context.Background(), "a1"); err != nil || l.State != storage.IdentityActive {
		t.Fatalf("a cross-site post changed the identity: %v %v", l.State, err)
	}
	if w := e.do("GET", PathHome, c, nil); !strings.Contains(w.Body.String(), "Anna Test") {
		t.Fatal("a cross-site logout ended the session")
	}
	evs, _ := e.st.ListAudit(context.Background(), 0, 100)
	denied := 0
	for _, ev := range evs {
		if ev.Action == "portal.form" && ev.Outcome == audit.Denied && ev.Details["reason"] == "cross-site post" {
			denied++
		}
	}
	if denied != len(foreign)*3 {
		t.Errorf("%d cross-site posts audited, want %d", denied, len(foreign)*3)
	}

	// The portal's own page posting: same-origin headers, or none at all
	// (the token decides), or Origin null (Referrer-Policy no-referrer).
	for name, hdr := range map[string]map[string]string{
		"same-origin": {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
		"own Origin":  {"Origin": base},
	} {
		if w := post(PathLogin, url.Values{"csrf_token": {csrf.Token(e.p.o.CSRFKey, "login:"+strings.Repeat("b", 32))}}, hdr,
			&http.Cookie{Name: browserCookie, Value: strings.Repeat("b", 32)}); w.Code != http.StatusFound {
			t.Errorf("%s login post: %d, want the redirect to the IdP", name, w.Code)
		}
	}
	if w := post(PathSuspend, suspend, map[string]string{"Sec-Fetch-Site": "same-origin"}, c); w.Code != http.StatusSeeOther ||
		!strings.Contains(w.Header().Get("Location"), "done=suspended") {
		t.Fatalf("same-origin suspension: %d %s", w.Code, w.Header().Get("Location"))
	}
}
