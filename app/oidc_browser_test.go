package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserOIDCLevel2 is a person logging in at level 2 by OpenID
// Connect from the demo relying party in headless Chromium under the real
// CSP: the RP's "Entra con SPID" (level 2) → the OP's password page → the
// authenticator-app code → consent → back at the RP, which shows the
// claims from the decrypted userinfo and the level. Every page is checked
// with axe at 1280 and 390 px.
func TestBrowserOIDCLevel2(t *testing.T) {
	chrome := testenv.Browser(t)
	a, ts, info := testApp(t)
	tab := browserTab(t, chrome, 3*time.Minute)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, actions...); err != nil {
			loc, _ := chromedp.Run(tab, chromedp.Location())
			body, _ := chromedp.Run(tab, chromedp.Text(`body`))
			t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
		}
	}
	seed, err := otp.DecodeSeed(info.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}

	step("the demo RP", chromedp.Navigate(ts.URL+"/demo-rp/"), chromedp.WaitVisible(`button[name="level"][value="2"]`))
	browsertest.Page(t, tab, "oidc-rp-home")
	step("password step",
		chromedp.Click(`button[name="level"][value="2"]`),
		chromedp.WaitVisible(`#username`),
	)
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/oidc/op/authorization") {
		t.Fatalf("the login page is at %q (%v), want the OP's authorization endpoint", loc, err)
	}
	browsertest.Page(t, tab, "oidc-login")
	step("password",
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitNotPresent(`#password`),
		chromedp.WaitVisible(`#otp`),
	)
	browsertest.Page(t, tab, "oidc-login-otp")
	step("TOTP code",
		chromedp.SendKeys(`#otp`, otp.Code(seed, time.Now())),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
	)
	text, err := chromedp.Run(tab, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	// The RP is named in the page's language (headless Chromium asks for
	// English): organization_name#en, else the untagged name.
	lang, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		t.Fatal(err)
	}
	name := a.demoFed.RP1.Name
	if lang == "en" {
		name = a.demoFed.RP1.NameEN
	}
	if !strings.Contains(text, "Service: "+name) && !strings.Contains(text, "Servizio: "+name) {
		t.Fatalf("the consent page (lang %q) does not name the relying party %q:\n%s", lang, name, text)
	}
	browsertest.Page(t, tab, "oidc-consent")
	// The consent page has a <dl> of its own (and its URL is the code
	// step's): wait for it to go before looking for the RP's claims.
	step("consent",
		chromedp.Click(`button[name="op"][value="accept"]`),
		chromedp.WaitNotPresent(`button[name="op"][value="accept"]`),
		chromedp.WaitVisible(`body.demo main dl.claims`),
	)
	loc, err = chromedp.Run(tab, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/demo-rp/") {
		t.Fatalf("result page at %q (%v), want the demo RP", loc, err)
	}
	text, err = chromedp.Run(tab, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SpidL2", "TINIT-RSSMRA80A01H501U", "Mario", "Rossi"} {
		if !strings.Contains(text, want) {
			t.Errorf("the RP page lacks %q:\n%s", want, text)
		}
	}
	browsertest.Page(t, tab, "oidc-rp-claims")
}
