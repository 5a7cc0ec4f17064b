package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserEnrolShop fills in a request for the shop path in headless
// Chromium, under the real CSP: the live fiscal-code check (static
// enrol.js) reports a wrong check character, then the request goes through
// e-mail link, SMS codes and consents to the page with the code and the
// instructions for the shop.
func TestBrowserEnrolShop(t *testing.T) {
	chrome := testenv.Browser(t)
	a, base := enrolApp(t, nil)
	p := newApplicant(t, 6)

	ctx := browserTab(t, chrome, 90*time.Second)

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(`main`))
			t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
		}
	}
	step("start",
		chromedp.Navigate(base+"/enrol/"),
		chromedp.Click(`#path-shop`),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#fiscal_number`),
	)
	wrong := p.cf[:15] + map[bool]string{true: "B", false: "A"}[p.cf[15] == 'A']
	step("fill in", append(fillApplicant(p),
		chromedp.SendKeys(`#fiscal_number`, wrong),
		chromedp.Click(`#address`), // leaving the field runs the check
	)...)
	var live string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		live, _ = chromedp.Run(ctx, chromedp.Text(`#cf-live`))
		if live != "" {
			break
		}
	}
	// The page's language follows the browser's (headless Chromium: en).
	if !strings.Contains(live, "Codice fiscale") && !strings.Contains(live, "Fiscal code") {
		t.Fatalf("live check said %q", live)
	}
	step("correct the code and send",
		chromedp.SetValue(`#fiscal_number`, p.cf),
		chromedp.Click(`form button[type="submit"]`),
		chromedp.WaitVisible(`button[value="continue"]`),
	)
	link := verifyLinkRE.FindString(lastMail(t, a, p.email))
	step("confirm the e-mail",
		chromedp.Navigate(link),
		chromedp.Click(`form button[type="submit"]`),
		chromedp.WaitVisible(`#otp`),
	)
	step("mobile code",
		chromedp.SendKeys(`#otp`, lastSMSCode(t, a, p.mobile)),
		chromedp.Click(`button[value="confirm"]`),
		chromedp.WaitVisible(`#declaration`),
	)
	step("consents",
		chromedp.Click(`#privacy`), chromedp.Click(`#terms`), chromedp.Click(`#declaration`),
		chromedp.Click(`form button[type="submit"]`),
		chromedp.WaitVisible(`#otp`),
	)
	step("confirm the request",
		chromedp.SendKeys(`#otp`, lastSMSCode(t, a, p.mobile)),
		chromedp.Click(`button[value="confirm"]`),
		// #request-code is on every step once the code exists: wait for
		// the code field to go (the done page has loaded) first.
		chromedp.WaitNotPresent(`#otp`),
		chromedp.WaitVisible(`#request-code`),
	)
	text, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "punto vendita") && !strings.Contains(text, "partner shop") {
		t.Errorf("done page:\n%s", text)
	}
}

// fillApplicant types p's personal and document data on the request page
// (everything but the fiscal code and the scans).
func fillApplicant(p applicant) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(`#name`, p.name),
		chromedp.SendKeys(`#family_name`, p.surname),
		chromedp.SetValue(`#date_of_birth`, p.birth),
		// The place by name: the page's suggestions fill the cadastral
		// code and the province.
		chromedp.SendKeys(`#place_name`, p.placeName),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`new Promise((ok, no) => { let n = 0; const t = setInterval(() => {
			if (document.getElementById("place_of_birth").value === %q && document.getElementById("county_of_birth").value === %q) { clearInterval(t); ok(); }
			else if (++n > 200) { clearInterval(t); no(new Error("place of birth not filled from the suggestions")); } }, 50); })`, p.place, p.county),
			chromedp.EvalAwaitPromise),
		chromedp.SetValue(`#gender`, p.gender),
		chromedp.SendKeys(`#email`, p.email),
		chromedp.SendKeys(`#mobile_phone`, p.mobile),
		chromedp.SendKeys(`#doc_number`, "CA12345AB"),
		chromedp.SendKeys(`#doc_issuer`, "Comune di Milano"),
		chromedp.SetValue(`#doc_issue_date`, time.Now().AddDate(-2, 0, 0).Format(time.DateOnly)),
		chromedp.SetValue(`#doc_expiry_date`, time.Now().AddDate(5, 0, 0).Format(time.DateOnly)),
	}
}
