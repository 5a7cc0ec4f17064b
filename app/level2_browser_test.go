package app

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserLevel2 drives level 2 in headless Chromium under the real CSP:
// (a) the demo citizen with its TOTP device; (b) a citizen without an app
// activates the reference app during a level-2 login (SMS code from the
// outbox, activation code typed into the app, the app's first code typed in
// the page); (c) the next level-2 login is approved by push with number
// matching, and push.js moves the page on without a click.
func TestBrowserLevel2(t *testing.T) {
	chrome := testenv.Browser(t)
	a, ts, info := testApp(t)
	ctx := context.Background()
	tab := browserTab(t, chrome, 3*time.Minute)

	// step runs actions in tab and, on failure, shows where the page was.
	step := func(tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, actions...); err != nil {
			loc, _ := chromedp.Run(tab, chromedp.Location())
			body, _ := chromedp.Run(tab, chromedp.Text(`body`))
			t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
		}
	}
	// level2Login goes from the demo SP to the IdP's second step.
	level2Login := func(tab context.Context) {
		t.Helper()
		step(tab, "password step",
			chromedp.Navigate(ts.URL+"/demo-sp/"),
			chromedp.Click(`button[name="level"][value="2"]`),
			chromedp.WaitVisible(`#username`),
			chromedp.SendKeys(`#username`, info.Username),
			chromedp.SendKeys(`#password`, info.Password),
			chromedp.Click(`button[name="op"][value="submit"]`),
			// The next pages have submit buttons too: wait for the login
			// page to go before anything looks for one.
			chromedp.WaitNotPresent(`#password`),
		)
	}
	// atSPWithLevel2 accepts the consent and checks the SP's result page.
	atSPWithLevel2 := func(tab context.Context) {
		t.Helper()
		step(tab, "consent",
			chromedp.WaitVisible(`button[name="op"][value="accept"]`),
			chromedp.Click(`button[name="op"][value="accept"]`),
			// The transfer page submits itself through /static/autosubmit.js.
			chromedp.WaitVisible(`body.demo .meta-list`),
		)
		loc, err := chromedp.Run(tab, chromedp.Location())
		if err != nil || !strings.HasSuffix(loc, "/demo-sp/acs") {
			t.Fatalf("result page at %q (%v), want the SP's ACS", loc, err)
		}
		text, err := chromedp.Run(tab, chromedp.Text(`main`))
		if err != nil {
			t.Fatal(err)
		}
		// The page's language follows the browser's (headless Chromium: en).
		if !strings.Contains(text, "SPID level 2") && !strings.Contains(text, "SPID livello 2") {
			t.Fatalf("the SP did not get level 2:\n%s", text)
		}
	}

	// (a) The demo citizen's TOTP device: straight to the code page.
	seed, err := otp.DecodeSeed(info.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	level2Login(tab)
	step(tab, "code page", chromedp.WaitVisible(`#otp`))
	browsertest.Page(t, tab, "login-otp-app")
	step(tab, "TOTP code",
		chromedp.SendKeys(`#otp`, otp.Code(seed, time.Now())),
		chromedp.Click(`button[name="op"][value="submit"]`),
	)
	atSPWithLevel2(tab)

	// (b) The same citizen without any device, in a fresh browser context
	// (no cookies of the first login): the IdP offers the activation.
	withoutDevices(t, a, "demo-citizen")
	tab2, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
	defer cancel()
	level2Login(tab2)
	step(tab2, "activation offer", chromedp.WaitVisible(`button[name="op"][value="submit"]`))
	browsertest.Page(t, tab2, "login-activate-offer")
	step(tab2, "ask for the SMS code",
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`#otp`),
	)
	browsertest.Page(t, tab2, "login-otp-sms")
	_, smsCode := lastSMS(t, a, "+393331234567")
	step(tab2, "SMS code",
		chromedp.SendKeys(`#otp`, smsCode),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`code.activation-code`),
	)
	browsertest.Page(t, tab2, "login-activate")
	actCode, err := chromedp.Run(tab2, chromedp.Text(`code.activation-code`))
	if err != nil {
		t.Fatal(err)
	}
	app := &authapp.Client{}
	st, err := app.Activate(ctx, ts.URL, strings.TrimSpace(actCode), "Telefono di prova")
	if err != nil {
		t.Fatalf("app activation with %q: %v", actCode, err)
	}
	first, _, err := st.OTP(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	step(tab2, "first code from the app",
		chromedp.WaitVisible(`#device_name`),
		chromedp.SendKeys(`#otp`, first),
		chromedp.Click(`button[name="op"][value="submit"]`),
	)
	atSPWithLevel2(tab2)

	// (c) A second level-2 login, approved in the app: the page shows one
	// number, the app offers three, the citizen picks the page's.
	level2Login(tab2)
	step(tab2, "method page", chromedp.WaitVisible(`button[name="op"][value="push"]`))
	browsertest.Page(t, tab2, "login-method")
	step(tab2, "choose push",
		chromedp.Click(`button[name="op"][value="push"]`),
		chromedp.WaitVisible(`.push-number span`),
	)
	browsertest.Page(t, tab2, "login-push")
	shown, err := chromedp.Run(tab2, chromedp.Text(`.push-number span`))
	if err != nil {
		t.Fatal(err)
	}
	number, err := strconv.Atoi(strings.TrimSpace(shown))
	if err != nil {
		t.Fatalf("push number %q: %v", shown, err)
	}
	chs, err := app.Challenges(ctx, st, 0)
	if err != nil || len(chs) != 1 {
		t.Fatalf("app challenges: %+v %v", chs, err)
	}
	if !slices.Contains(chs[0].Options[:], number) || chs[0].Level != 2 {
		t.Fatalf("challenge in the app: %+v, number on the page %d", chs[0], number)
	}
	if err := app.Approve(ctx, st, chs[0].ID, number); err != nil {
		t.Fatal(err)
	}
	// No click from here: push.js polls, sees the approval and submits.
	atSPWithLevel2(tab2)
}
