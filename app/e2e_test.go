package app

import (
	"context"
	"crypto/tls"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/internal/webform"
	"github.com/spid-idp/spid-idp/storage"
)

// appOpts shape a test IdP.
type appOpts struct {
	// TLS serves https://127.0.0.1:port (the conformance suite wants it).
	TLS bool
	// ProductionArgon keeps the default password-hash cost (benchmarks);
	// otherwise the smallest the configuration accepts, so the race
	// detector does not multiply the cost of every login.
	ProductionArgon bool
	// Wrap, if set, sits between the network and the IdP's handler.
	Wrap func(a *App, next http.Handler) http.Handler
	// Configure, if set, changes the loaded configuration before Build.
	Configure func(cfg *config.Config)
	// LogTo, if set, receives the IdP's log (text, info and above).
	LogTo io.Writer
}

// startApp starts a demo-mode IdP (demo SP and citizen included) on a
// loopback test server.
func startApp(tb testing.TB, o appOpts) (*App, *httptest.Server, DemoInfo) {
	tb.Helper()
	dir := tb.TempDir()
	ts := httptest.NewUnstartedServer(nil)
	scheme := "http://"
	if o.TLS {
		scheme = "https://"
	}
	env := []string{"SPID_IDP_DATA_DIR=" + dir, "SPID_IDP_SERVER_BASE_URL=" + scheme + ts.Listener.Addr().String(),
		// Tests and benchmarks log in far more often than the per-minute
		// throttle allows one address (the throttle has its own tests).
		"SPID_IDP_SECURITY_THROTTLE_MAX_ATTEMPTS=1000000",
		// The conformance suite's wrong-password cases would otherwise lock
		// the demo citizen (5 failures) for the cases that follow.
		"SPID_IDP_SECURITY_LOCKOUT_MAX_FAILURES=1000"}
	if raceDetector {
		// The race detector makes argon2 ~10x slower: a password change
		// (current, history, new) would outlive the 2.5 s request deadline
		// and answer 503. Tests of the deadline set it themselves.
		env = append(env, "SPID_IDP_SERVER_REQUEST_TIMEOUT=30s")
	}
	if !o.ProductionArgon {
		env = append(env, "SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=19456", "SPID_IDP_SECURITY_ARGON2_TIME=2", "SPID_IDP_SECURITY_ARGON2_THREADS=1")
	}
	cfg, err := config.Load("", env)
	if err != nil {
		tb.Fatal(err)
	}
	if err := cfg.EnsureDemoKeys(); err != nil {
		tb.Fatal(err)
	}
	if o.Configure != nil {
		o.Configure(cfg)
	}
	ctx := context.Background()
	b, err := OpenBackends(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	logTo := o.LogTo
	if logTo == nil {
		logTo = io.Discard
	}
	a, err := Build(ctx, cfg, b, slog.New(slog.NewTextHandler(logTo, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.RegisterQueue.Close) // before the backends close
	info, err := a.SetupDemo(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var h http.Handler = a.Server.Handler()
	if o.Wrap != nil {
		h = o.Wrap(a, h)
	}
	ts.Config.Handler = h
	if o.TLS {
		// The same floor server.Serve sets for the production listener.
		ts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		// The suite's TLS 1.1 probe (C016) makes the server log a handshake error.
		ts.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
		ts.StartTLS()
	} else {
		ts.Start()
	}
	tb.Cleanup(ts.Close)
	return a, ts, info
}

func testApp(t *testing.T) (*App, *httptest.Server, DemoInfo) { return startApp(t, appOpts{}) }

type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}}
}

type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, url: res.Request.URL, body: string(body), header: res.Header}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
)

// submit posts the first form of p whose action contains action, with its
// hidden fields plus extra.
func (b *browser) submit(p page, action string, extra url.Values) page {
	b.t.Helper()
	f, err := webform.Find(p.url, p.body, action, extra)
	if err != nil {
		b.t.Fatalf("%v (status %d):\n%s", err, p.status, p.body)
	}
	req, _ := http.NewRequest("POST", f.Action.String(), strings.NewReader(f.Values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func TestDemoLoginEndToEnd(t *testing.T) {
	_, ts, info := testApp(t)
	br := newBrowser(t)

	home := br.get(ts.URL + "/demo-sp/")
	login := br.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
	if login.status != 200 || !strings.Contains(login.url.Path, "/sso/redirect") {
		t.Fatalf("login page: %d %s\n%s", login.status, login.url, login.body)
	}
	// A wrong password first: the page says so and counts down.
	again := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {"wrong"}, "op": {"submit"}})
	if again.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", again.status)
	}
	consent := br.submit(again, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if consent.status != 200 || !strings.Contains(consent.body, "Mario") {
		t.Fatalf("consent page: %d\n%s", consent.status, consent.body)
	}
	transfer := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	if !strings.Contains(transfer.body, "SAMLResponse") {
		t.Fatalf("transfer page: %d\n%s", transfer.status, transfer.body)
	}
	result := br.submit(transfer, "/demo-sp/acs", nil)
	for _, want := range []string{"TINIT-RSSMRA80A01H501U", "Mario", "Rossi", "DEMO0000000001"} {
		if !strings.Contains(result.body, want) {
			t.Errorf("result page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("result page:\n%s", result.body)
	}

	// Posting the consent form again must not produce a second Response.
	twice := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	if strings.Contains(twice.body, "SAMLResponse") {
		t.Fatal("consent form posted twice produced a second Response")
	}

	// SSO: a second L1 request reuses the session and goes straight to consent.
	home = br.get(ts.URL + "/demo-sp/")
	sso := br.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
	if !strings.Contains(sso.body, `name="op" value="accept"`) && !strings.Contains(sso.body, "accept") {
		t.Fatalf("SSO did not go to consent:\n%s", sso.body)
	}
}

// TestDemoAnomaliesEndToEnd drives the outcomes that end a login with an
// error Response to the SP, and checks the code the SP reads.
func TestDemoAnomaliesEndToEnd(t *testing.T) {
	a, ts, info := testApp(t)
	addCitizen(t, a, "solo.password@example.org", "Solo-Password-2026", map[string]string{
		"spidCode": "DEMO0000000002", "name": "Lucia", "familyName": "Verdi"})
	good := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	bad := url.Values{"username": {info.Username}, "password": {"nope"}, "op": {"submit"}}
	tests := []struct {
		name  string
		level string
		steps func(br *browser, login page) page // returns the page that posts to the SP
		want  string
	}{
		{"cancel on login", "1", func(br *browser, login page) page {
			return br.submit(login, "/login", url.Values{"op": {"cancel"}})
		}, "ErrorCode nr25"},
		{"consent refused", "1", func(br *browser, login page) page {
			return br.submit(br.submit(login, "/login", good), "/consent", url.Values{"op": {"deny"}})
		}, "ErrorCode nr22"},
		{"attempts exhausted", "1", func(br *browser, login page) page {
			p := login
			for i := 0; i < 3; i++ {
				p = br.submit(p, "/login", bad)
			}
			return p
		}, "ErrorCode nr19"},
		{"no level-2 credential", "2", func(br *browser, login page) page {
			// An identity with no app and no mobile to activate one.
			return br.submit(login, "/login", url.Values{"username": {"solo.password@example.org"}, "password": {"Solo-Password-2026"}, "op": {"submit"}})
		}, "ErrorCode nr20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := newBrowser(t)
			home := br.get(ts.URL + "/demo-sp/")
			login := br.submit(home, "/demo-sp/login", url.Values{"level": {tt.level}})
			out := tt.steps(br, login)
			result := br.submit(out, "/demo-sp/acs", nil)
			if !strings.Contains(result.body, tt.want) {
				t.Fatalf("SP result lacks %q:\n%s", tt.want, result.body)
			}
		})
	}
}

func TestUserBoundAnomalies(t *testing.T) {
	_, ts, _ := testApp(t)
	br := newBrowser(t)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"no SAMLRequest", "GET", "/sso/redirect", 403},
		{"garbage SAMLRequest", "GET", "/sso/redirect?SAMLRequest=%%%&SigAlg=x&Signature=y", 403},
		{"wrong method", "POST", "/sso/redirect", 403},
		{"GET on POST endpoint", "GET", "/sso/post", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			p := br.do(req)
			if p.status != tt.status {
				t.Fatalf("status %d, want %d", p.status, tt.status)
			}
			if strings.Contains(p.body, "SAMLResponse") {
				t.Fatal("a user-bound anomaly sent something to an SP")
			}
		})
	}
}

// TestDemoSingleLogout logs in at the demo SP, then logs out from it: the
// IdP closes the session and answers the SP, and a new SpidL1 request asks
// for credentials again.
func TestDemoSingleLogout(t *testing.T) {
	_, ts, info := testApp(t)
	br := newBrowser(t)
	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	result := br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	out := br.submit(result, "/demo-sp/logout", nil)
	if out.url.Path != "/demo-sp/slo" || !strings.Contains(out.body, "alert-success") {
		t.Fatalf("logout did not complete at the SP: %s\n%s", out.url, out.body)
	}
	again := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	if !strings.Contains(again.body, `name="password"`) {
		t.Fatal("after Single Logout the SSO session was still reused")
	}
	page := br.get(ts.URL + "/session")
	if strings.Contains(page.body, "Mario") {
		t.Fatal("the session page still shows the citizen after logout")
	}
}

// addCitizen creates an active identity with a password and the given
// attributes, and nothing else (no device, no mobile unless given).
func addCitizen(t *testing.T, a *App, username, pw string, attrs map[string]string) storage.Identity {
	t.Helper()
	ctx := context.Background()
	h, err := password.Hash(pw, a.Argon2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	id := storage.Identity{ID: "id-" + strings.ReplaceAll(username, "@", "-"), Username: username, Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: attrs, CreatedAt: now, UpdatedAt: now}
	if err := a.Backends.Store.CreateIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := a.Backends.Store.CreateCredential(ctx, storage.Credential{IdentityID: id.ID, PasswordHash: h, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return id
}
