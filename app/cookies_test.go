package app

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/portal"
)

// cookieRecorder keeps every Set-Cookie a client receives.
type cookieRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	set  []*http.Cookie
	from map[*http.Cookie]string // which URL set it
}

func (c *cookieRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		for _, ck := range res.Cookies() {
			c.set = append(c.set, ck)
			c.from[ck] = r.Method + " " + r.URL.Path
		}
		c.mu.Unlock()
	}
	return res, err
}

// tlsBrowser is a browser for an https test server that records cookies.
func tlsBrowser(t *testing.T, ts *httptest.Server) (*browser, *cookieRecorder, *cookiejar.Jar) {
	jar, _ := cookiejar.New(nil)
	rec := &cookieRecorder{next: ts.Client().Transport, from: map[*http.Cookie]string{}}
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: rec}}, rec, jar
}

// jarValue is the value of the cookie name the browser holds for base.
func jarValue(jar http.CookieJar, base, name string) string {
	u, _ := url.Parse(base + "/")
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestCookiesOverHTTPSHostPrefixed (issue 11 item 5; ui.md §11,
// security.md C.7): over https every cookie the server sets — IdP login,
// second factor, SSO, session and device pages, personal area, enrolment,
// customer care, console, demo SP, language switch — carries the __Host-
// prefix with Secure, Path=/ and no Domain.
func TestCookiesOverHTTPSHostPrefixed(t *testing.T) {
	a, ts, info := tlsApp(t, nil)
	if _, pattern := a.Mux.Handler(httptest.NewRequest("GET", portal.PathMetadata, nil)); pattern == "" {
		if _, err := a.SetupPortal(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	br, rec, _ := tlsBrowser(t, ts)

	// Level 1 through the demo SP, the language switch on the login page,
	// then SSO, the session and devices pages.
	l1Login(t, br, ts.URL, info)
	ssoAsksPassword(t, br, ts.URL)
	br.get(ts.URL + "/session")
	br.get(ts.URL + authflow.PathDevices + "?lang=en")
	// Level 2 into the personal area.
	if home := portalLogin(t, a, br, ts.URL, info, info.Password); !strings.Contains(home.body, "Mario Rossi") {
		t.Fatalf("portal login over https:\n%s", home.body)
	}
	// Enrolment, customer care, console.
	br.get(ts.URL + "/enrol/")
	br.get(ts.URL + "/enrol/?lang=en")
	br.get(ts.URL + "/care/tickets/new")
	br.get(ts.URL + "/console/login")

	seen := map[string]bool{}
	for _, c := range rec.set {
		seen[c.Name] = true
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s set cookie %s (Secure %t, Path %q, Domain %q): want __Host-, Secure, Path=/, no Domain",
				rec.from[c], c.Name, c.Secure, c.Path, c.Domain)
		}
	}
	for _, want := range []string{"__Host-spid_browser", "__Host-spid_sso", "__Host-lang", "__Host-portal_session",
		"__Host-spid_enrol", "__Host-demo_sp_session"} {
		if !seen[want] {
			t.Errorf("no %s cookie was set on the way (set: %v)", want, seen)
		}
	}
}

// TestS075S076BrowserCookieRotated (issue 11 item 5; security.md C.6): the
// browser cookie changes after the password step, after the second factor
// and when an SSO session is created (S075), so a value planted before the
// login — a genuine one, taken from the attacker's own visit — is not the
// one the browser holds after it (S076).
func TestS075S076BrowserCookieRotated(t *testing.T) {
	a, ts, info := tlsApp(t, nil)
	const name = "__Host-spid_browser"

	// The attacker's own, genuine, browser cookie.
	attacker, _, attackerJar := tlsBrowser(t, ts)
	attacker.submit(attacker.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	planted := jarValue(attackerJar, ts.URL, name)
	if planted == "" {
		t.Fatal("the IdP set no browser cookie on its login page")
	}

	// Planted in the victim's browser.
	br, _, jar := tlsBrowser(t, ts)
	u, _ := url.Parse(ts.URL + "/")
	jar.SetCookies(u, []*http.Cookie{{Name: name, Value: planted, Path: "/", Secure: true}})

	// Level 2: password, then the authenticator code.
	resetTOTP(t, a)
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"2"}})
	if got := jarValue(jar, ts.URL, name); got != planted {
		t.Fatalf("before the login the browser cookie changed already (%q): the test plants nothing", got)
	}
	second := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	afterPassword := jarValue(jar, ts.URL, name)
	if afterPassword == "" || afterPassword == planted {
		t.Errorf("S075: the browser cookie did not change at the password step")
	}
	consent := br.submit(second, "/login/otp", url.Values{"otp": {otp.Code(seed, time.Now())}, "op": {"submit"}})
	afterSecond := jarValue(jar, ts.URL, name)
	if afterSecond == "" || afterSecond == afterPassword {
		t.Errorf("S075: the browser cookie did not change at the second factor")
	}
	res := br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	if !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("level-2 login with rotated cookies did not reach the SP:\n%s", res.body)
	}

	// Level 1: the SSO session's creation rotates it again.
	l1 := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	consent = br.submit(l1, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	beforeSSO := jarValue(jar, ts.URL, name)
	res = br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	if !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("level-1 login did not reach the SP:\n%s", res.body)
	}
	if jarValue(jar, ts.URL, "__Host-spid_sso") == "" {
		t.Fatal("no SSO session cookie after a level-1 login")
	}
	if after := jarValue(jar, ts.URL, name); after == "" || after == beforeSSO || after == planted {
		t.Errorf("S075: the browser cookie did not change when the SSO session was created")
	}
	// S076: the planted value is not the victim's any more, and binds no
	// form of theirs: the session page's logout form (CSRF bound to the
	// browser cookie) is not the attacker's.
	if jarValue(jar, ts.URL, name) == planted {
		t.Error("S076: the planted browser cookie was kept after login")
	}
}
