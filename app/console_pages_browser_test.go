package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserConsolePages checks with axe, at 1280 and 390 px, the console
// pages the journeys do not stop on: the second-factor page, the
// supervisor's operators page before and after a factor reset, the reset
// operator's enrolment-code and new-factor pages, the shop agent's find
// page with and without an error, and the refusal of a page the role may
// not open. Each is pictured under make screenshots.
func TestBrowserConsolePages(t *testing.T) {
	chrome := testenv.Browser(t)
	a, ts, _ := testApp(t)
	if err := a.MountBackOffice(); err != nil {
		t.Fatal(err)
	}
	base := ts.URL
	newTab := lbBrowserPeople(t, chrome)

	// The supervisor: the second-factor page, then the operators page.
	sup := newTab(2 * time.Minute)
	lbSteps(t, sup, "supervisor password",
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "supervisore"),
		chromedp.SendKeys(`#password`, demo.OperatorPassword),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`#otp`),
	)
	browsertest.Page(t, sup, "console-factor")
	lbSteps(t, sup, "supervisor code", browserFactor(demoOperatorCode(t, a, "supervisore"))...)
	lbSteps(t, sup, "operators page",
		chromedp.Navigate(base+"/console/operators"),
		chromedp.WaitVisible(`table.console-table`),
	)
	browsertest.Page(t, sup, "console-operators")
	lbSteps(t, sup, "reset the video operator's factor",
		chromedp.SendKeys(`#reason-video`, "telefono smarrito"),
		chromedp.Click(`form[action$="/demo-op-video/reset-factor"] button[type="submit"]`),
		chromedp.WaitVisible(`code.totp-secret`),
	)
	browsertest.Page(t, sup, "console-operators-code")
	enrolCode := strings.TrimSpace(lbText(t, sup, `code.totp-secret`))

	// The video operator after the reset: the enrolment code, then the
	// choice of a new factor.
	vid := newTab(time.Minute)
	lbSteps(t, vid, "video operator password",
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "video"),
		chromedp.SendKeys(`#password`, demo.OperatorPassword),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`#enrol_code`),
	)
	browsertest.Page(t, vid, "console-factor-code")
	lbSteps(t, vid, "enrolment code",
		chromedp.SendKeys(`#enrol_code`, enrolCode),
		chromedp.Click(`button[name="op"][value="code"]`),
		chromedp.WaitNotPresent(`#enrol_code`),
	)
	browsertest.Page(t, vid, "console-factor-enrol")

	// The shop agent: the find page, a request that is not there, and a
	// page of another role.
	shop := newTab(time.Minute)
	lbConsoleLogin(t, a, shop, base, "tabaccheria")
	lbSteps(t, shop, "find page", chromedp.WaitVisible(`#cf_suffix`))
	browsertest.Page(t, shop, "console-find")
	lbSteps(t, shop, "unknown request",
		chromedp.SendKeys(`#code`, "ABCD-EFGH"),
		chromedp.SendKeys(`#cf_suffix`, "501U"),
		chromedp.Click(`form[action="/console/find"] button[type="submit"]`),
		chromedp.WaitVisible(`#error-summary`),
	)
	browsertest.Page(t, shop, "console-find-error")
	lbSteps(t, shop, "operators page as shop agent",
		chromedp.Navigate(base+"/console/operators"),
		chromedp.WaitVisible(`h1`),
	)
	if text := lbPageText(shop); strings.Contains(text, "supervisore") {
		t.Errorf("the shop agent sees the operators:\n%s", text)
	}
	browsertest.Page(t, shop, "console-message")
}
