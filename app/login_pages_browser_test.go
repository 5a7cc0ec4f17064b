package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserLoginPages checks with axe, at 1280 and 390 px, the IdP pages
// outside the happy path that no journey stops on: the courtesy error page
// of a broken request (P08), the interim page after too many wrong
// passwords (P07, nr19), the session page without and with a session, and
// the logout result (P10). Each is pictured under make screenshots.
func TestBrowserLoginPages(t *testing.T) {
	chrome := testenv.Browser(t)
	_, ts, info := testApp(t)
	base := ts.URL
	newTab := lbBrowserPeople(t, chrome)
	tab := newTab(2 * time.Minute)

	// P08: a request that is not a SAML message.
	lbSteps(t, tab, "broken request",
		chromedp.Navigate(base+"/sso/redirect?SAMLRequest=not-a-request"),
		chromedp.WaitVisible(`h1`),
	)
	if text := lbPageText(tab); strings.Contains(text, "not-a-request") {
		t.Errorf("the error page reflects the request:\n%s", text)
	}
	browsertest.Page(t, tab, "error-request")

	// The session page before any login.
	lbSteps(t, tab, "no session", chromedp.Navigate(base+"/session"), chromedp.WaitVisible(`h1`))
	browsertest.Page(t, tab, "session-none")

	// P07 nr19: three wrong passwords in one login.
	lbSteps(t, tab, "demo SP",
		chromedp.Navigate(base+"/demo-sp/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
	)
	for i := 0; i < 3; i++ {
		lbSteps(t, tab, "wrong password",
			chromedp.WaitVisible(`button[name="op"][value="submit"]`),
			chromedp.SetValue(`#username`, info.Username),
			chromedp.SendKeys(`#password`, "sbagliata"),
			// Marks this document, to see the next one arrive.
			chromedp.Evaluate[chromedp.Void](`window.spidOld = true`),
			chromedp.Click(`button[name="op"][value="submit"]`),
		)
		for {
			old, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.spidOld === true`))
			if err == nil && !old {
				break
			}
			lbSteps(t, tab, "next page", chromedp.Sleep(100*time.Millisecond))
		}
		if i == 0 {
			lbSteps(t, tab, "inline error", chromedp.WaitVisible(`#error-summary`))
			browsertest.Page(t, tab, "login-wrong-password")
		}
	}
	lbSteps(t, tab, "anomaly page", chromedp.WaitVisible(`form[action$="/demo-sp/acs"] button[type="submit"]`))
	browsertest.Page(t, tab, "anomaly-nr19")
	if text := lbPageText(tab); !strings.Contains(text, "tentativi") && !strings.Contains(text, "attempts") {
		t.Errorf("the nr19 page does not say why:\n%s", text)
	}

	// A good login, then the session page and the logout from every
	// service.
	person := newTab(time.Minute)
	lbDemoSPLogin(t, person, base, info)
	lbSteps(t, person, "session page",
		chromedp.Navigate(base+"/session"),
		chromedp.WaitVisible(`form[action="/session/logout"]`),
	)
	browsertest.Page(t, person, "session")
	lbSteps(t, person, "log out everywhere",
		chromedp.Click(`form[action="/session/logout"] button[type="submit"]`),
		chromedp.WaitNotPresent(`form[action="/session/logout"]`),
		chromedp.WaitVisible(`h1`),
	)
	browsertest.Page(t, person, "logout")
}
