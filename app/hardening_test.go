package app

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/server/csp"
)

// S033 through the assembled IdP: a 10 MiB POST to the SSO endpoint is
// 413 with the Italian page (was 403 nr04), and a small malformed one is
// still nr04.
func TestS033_OversizedSSOPostIs413WithAPage(t *testing.T) {
	_, ts, _ := testApp(t)
	post := func(body []byte) (*http.Response, string) {
		req, _ := http.NewRequest("POST", ts.URL+"/sso/post", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := post(append([]byte("SAMLRequest="), bytes.Repeat([]byte("A"), 10<<20)...))
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "Richiesta troppo grande") ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("10 MiB POST: %d %s\n%.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if res, _ := post([]byte("SAMLRequest=%%%")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("small malformed POST: %d, want 403 nr04", res.StatusCode)
	}
}

// S082 through the assembled IdP: every page (IdP, personal area,
// enrolment, back office, care desk, demo SP, static files, 404) carries
// the strict CSP with forms to the IdP only; the page that posts the
// Response carries exactly the ACS origin in addition.
func TestS082_EveryPageHasTheStrictCSP(t *testing.T) {
	_, ts, info := testApp(t)
	for _, path := range []string{"/", "/session", "/account/", "/enrol/", "/console/login", "/care/tickets/new",
		"/demo-sp/", "/static/idp.css", "/static/login.js", "/no-such-page", "/healthz"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get(csp.Header)
		if got != csp.Policy() {
			t.Errorf("%s (%d): CSP %q, want %q", path, res.StatusCode, got, csp.Policy())
		}
	}

	// The whole demo login: only the last page may post elsewhere, and
	// only to the demo SP's ACS origin.
	br := newBrowser(t)
	home := br.get(ts.URL + "/demo-sp/")
	login := br.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	m := formRE.FindStringSubmatch(consent.body)
	if m == nil {
		t.Fatalf("no consent form:\n%s", consent.body)
	}
	target, _ := consent.url.Parse(html.UnescapeString(formRE.FindAllStringSubmatch(consent.body, -1)[0][1]))
	v := url.Values{"op": {"accept"}}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	req, _ := http.NewRequest("POST", target.String(), strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := br.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "SAMLResponse") {
		t.Fatalf("no Response page: %d\n%s", res.StatusCode, body)
	}
	if got, want := res.Header.Get(csp.Header), csp.Policy(ts.URL); got != want {
		t.Errorf("Response page CSP %q, want %q", got, want)
	}
}

// S082 over https: HSTS two years with subdomains on every response.
func TestS082_HSTSTwoYears(t *testing.T) {
	_, ts, _ := startApp(t, appOpts{TLS: true})
	for _, path := range []string{"/session", "/static/idp.css", "/no-such-page"} {
		res, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
			t.Errorf("%s: HSTS %q", path, got)
		}
	}
}

// Issue 11 item 6: with a metrics listener configured (the production
// default), /metrics and the profiler are 404 on the public listener and
// served by the metrics listener's handler, behind the token when set.
func TestMetricsOffThePublicListener(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	a, ts, _ := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		cfg.Server.MetricsListen = "127.0.0.1:0"
		cfg.Server.MetricsToken = token
	}})
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", path, res.StatusCode)
		}
	}
	ops := a.Server.MetricsHandler()
	if ops == nil {
		t.Fatal("no metrics listener handler")
	}
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		req, _ := http.NewRequest("GET", path, nil)
		rec := httptest.NewRecorder()
		ops.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d", path, rec.Code)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		rec = httptest.NewRecorder()
		ops.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("%s with the token: %d", path, rec.Code)
		}
		if path == "/metrics" && !strings.Contains(rec.Body.String(), "spid_idp_http_requests_total") {
			t.Error("metrics listener lacks the IdP's metrics")
		}
	}
}
