package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
)

// holdTransfers blocks the transfer page's auto-submit script in the tab, so
// the page (P06) stays on screen as a visitor without JavaScript sees it:
// axe can check it and the test presses "Continua" itself. Nothing else on
// the pages depends on a script, so the rest of the journey is unchanged.
func holdTransfers(t *testing.T, tab context.Context) {
	t.Helper()
	err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/autosubmit.js", Block: true}},
		})
		return err
	}))
	if err != nil {
		t.Fatalf("blocking the auto-submit script: %v", err)
	}
}

// onTransferPage waits for the transfer page's form and checks it is the
// IdP's page, not the service's: the auto-submit did not run.
func onTransferPage(t *testing.T, tab context.Context, what string) {
	t.Helper()
	lbSteps(t, tab, what, chromedp.WaitVisible(`form[data-autosubmit] button[type="submit"]`))
	if loc := lbLocation(t, tab); strings.Contains(loc, "/demo-sp/") {
		t.Fatalf("%s: at %s, the transfer page went on by itself", what, loc)
	}
}

// nextPage clicks sel and waits for the page it leads to: the old page's
// window carries a mark the new one lacks (a page that answers with the
// same form again would otherwise be taken for the new one).
func nextPage(t *testing.T, tab context.Context, what, sel string) {
	t.Helper()
	lbSteps(t, tab, what, chromedp.Evaluate[chromedp.Void](`window.__old = true`), chromedp.Click(sel))
	for {
		done, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.__old !== true && document.readyState === "complete"`))
		if err == nil && done {
			return
		}
		if err := chromedp.Do(tab, chromedp.Sleep(100*time.Millisecond)); err != nil {
			t.Fatalf("%s: no new page after clicking %s: %v (at %s)", what, sel, err, lbLocation(t, tab))
		}
	}
}

// TestBrowserTransferPages checks the pages that carry a SAML Response to
// the service (P06), which a browser with JavaScript passes in a blink: the
// successful login's and the cancelled login's (nr25, with its notice). Each
// passes axe at 1280 and 390 px, names the service and, pressed by hand,
// reaches the service with the right outcome.
func TestBrowserTransferPages(t *testing.T) {
	chrome := testenv.Browser(t)
	_, ts, info := testApp(t)
	tab := browserTab(t, chrome, 2*time.Minute)
	holdTransfers(t, tab)

	// A cancelled login: the transfer page tells why before going back.
	demoSPLevel1(t, tab, ts.URL)
	nextPage(t, tab, "in Italian", `.lang-switch a[hreflang="it"]`)
	lbSteps(t, tab, "cancel", chromedp.Click(`button[name="op"][value="cancel"]`))
	onTransferPage(t, tab, "cancel")
	text := lbPageText(tab)
	if !strings.Contains(text, "annullato") || !strings.Contains(text, "Servizio dimostrativo") {
		t.Errorf("the cancel transfer page does not say the login was cancelled, or for which service:\n%s", text)
	}
	browsertest.Page(t, tab, "transfer-cancel")
	pressContinue(t, tab, "back to the service")
	if text := lbPageText(tab); !strings.Contains(text, "nr25") {
		t.Errorf("the service did not get nr25 after the cancel:\n%s", text)
	}

	// A successful login, in English this time.
	demoSPLevel1(t, tab, ts.URL)
	nextPage(t, tab, "in English", `.lang-switch a[hreflang="en"]`)
	lbSteps(t, tab, "login",
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
		chromedp.Click(`button[name="op"][value="accept"]`),
	)
	onTransferPage(t, tab, "consent given")
	if text := lbPageText(tab); !strings.Contains(text, "Continue") || strings.Contains(text, "Continua") || strings.Contains(text, "Destinazione") {
		t.Errorf("the English transfer page is not in English:\n%s", text)
	}
	browsertest.Page(t, tab, "transfer-sp-en")
	pressContinue(t, tab, "to the service")
	if text := lbPageText(tab); !strings.Contains(text, "TINIT-RSSMRA80A01H501U") {
		t.Errorf("the service did not get the attributes:\n%s", text)
	}
}

// demoSPLevel1 starts a level-1 login at the demo SP: the login page.
func demoSPLevel1(t *testing.T, tab context.Context, base string) {
	t.Helper()
	lbSteps(t, tab, "demo SP login",
		chromedp.Navigate(base+"/demo-sp/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
	)
}

// pressContinue presses a held transfer page's button, as a visitor
// without JavaScript does, and waits for the demo SP's result page.
func pressContinue(t *testing.T, tab context.Context, what string) {
	t.Helper()
	lbSteps(t, tab, what,
		chromedp.Click(`form[data-autosubmit] button[type="submit"]`),
		chromedp.WaitVisible(`body.demo .meta-list`),
	)
}

// TestBrowserPasswordExpired is a citizen whose password is past its
// maximum age logging in at the demo SP: the change page (with the service
// named), a mismatched repetition and a password the policy refuses, each
// told in words and passing axe; a good new password goes on to the consent.
func TestBrowserPasswordExpired(t *testing.T) {
	chrome := testenv.Browser(t)
	a, base, info := portalApp(t)
	id := demoIdentityID(t, a)
	maxAge := a.Config.Security.Password.MaxAge
	if err := a.Backends.Store.UpdateCredential(context.Background(), id, func(c storage.Credential) (storage.Credential, error) {
		c.PasswordSetAt = time.Now().Add(-maxAge - time.Hour)
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	tab := browserTab(t, chrome, 2*time.Minute)
	lbSteps(t, tab, "login",
		chromedp.Navigate(base+"/demo-sp/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
	)
	nextPage(t, tab, "in Italian", `.lang-switch a[hreflang="it"]`)
	lbSteps(t, tab, "credentials",
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`#new_password`),
	)
	browsertest.Page(t, tab, "password-expired")

	const fresh = "Girasole#Blu2026"
	lbSteps(t, tab, "mismatch",
		chromedp.SendKeys(`#new_password`, fresh),
		chromedp.SendKeys(`#confirm`, fresh+"x"),
	)
	nextPage(t, tab, "mismatch", `button[name="op"][value="submit"]`)
	if text := lbText(t, tab, `#pw-problems`); !strings.Contains(text, "non coincid") {
		t.Errorf("the mismatch is not told in words: %q", text)
	}
	browsertest.Page(t, tab, "password-expired-mismatch")

	lbSteps(t, tab, "weak password",
		chromedp.SendKeys(`#new_password`, "abc"),
		chromedp.SendKeys(`#confirm`, "abc"),
	)
	nextPage(t, tab, "weak password", `button[name="op"][value="submit"]`)
	if text := lbText(t, tab, `#pw-problems`); !strings.Contains(text, "caratteri") {
		t.Errorf("the policy's refusal is not told in Italian words: %q", text)
	}
	browsertest.Page(t, tab, "password-expired-policy")

	lbSteps(t, tab, "new password",
		chromedp.SendKeys(`#new_password`, fresh),
		chromedp.SendKeys(`#confirm`, fresh),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
	)
}
