package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserPortalAddDevice is "add a device" as a citizen does it, in
// headless Chromium with the real CSP: the devices page's "Aggiungi
// un'app" asks for the personal area's level-2 login and comes back; the
// SMS code from the outbox; the QR and the activation code typed into the
// reference app; the app's first code; the confirmation, then the list
// with both apps. Every page passes axe at 1280 and 390 px (and is
// pictured under make screenshots).
func TestBrowserPortalAddDevice(t *testing.T) {
	chrome := testenv.Browser(t)
	a, base, info := portalApp(t)
	newTab := lbBrowserPeople(t, chrome)
	tab := newTab(3 * time.Minute)
	resetTOTP(t, a)
	seed, err := otp.DecodeSeed(info.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}

	lbSteps(t, tab, "add-device page without a session",
		chromedp.Navigate(base+"/account/devices/add"),
		chromedp.WaitVisible(`form[action$="/account/login"]`),
	)
	browsertest.Page(t, tab, "portal-device-add-login")
	lbSteps(t, tab, "level-2 login",
		chromedp.Click(`form[action$="/account/login"] button[type="submit"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
	)
	if lbWaitAny(t, tab, `#otp`, `button[name="op"][value="totp"]`) == 1 {
		lbSteps(t, tab, "choose the app code", chromedp.Click(`button[name="op"][value="totp"]`))
		lbWaitAny(t, tab, `#otp`)
	}
	lbSteps(t, tab, "app code",
		chromedp.SendKeys(`#otp`, otp.Code(seed, time.Now())),
		chromedp.Click(`button[name="op"][value="submit"]`),
		// Back on the add-device page, at its first step.
		chromedp.WaitVisible(`button[name="op"][value="send"]`),
	)
	browsertest.Page(t, tab, "portal-device-add-start")
	lbSteps(t, tab, "send the SMS code",
		chromedp.Click(`button[name="op"][value="send"]`),
		chromedp.WaitVisible(`#otp`),
	)
	browsertest.Page(t, tab, "portal-device-add-code")
	lbSteps(t, tab, "type the SMS code",
		chromedp.SendKeys(`#otp`, smsCodeTo(t, a, "+393331234567")),
		chromedp.Click(`button[name="op"][value="check"]`),
		chromedp.WaitVisible(`code.activation-code`),
	)
	browsertest.Page(t, tab, "portal-device-add-activate")
	code := lbText(t, tab, `code.activation-code`)
	st, err := (&authapp.Client{}).Activate(context.Background(), base, strings.TrimSpace(code), "Tablet")
	if err != nil {
		t.Fatalf("app activation with %q: %v", code, err)
	}
	first, _, err := st.OTP(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lbSteps(t, tab, "the app's first code",
		chromedp.SendKeys(`#otp`, first),
		chromedp.Click(`button[name="op"][value="activate"]`),
		chromedp.WaitVisible(`.alert-success`),
	)
	browsertest.Page(t, tab, "portal-device-add-done")
	if text := lbText(t, tab, `.alert-success`); !strings.Contains(text, "Tablet") {
		t.Errorf("the confirmation does not name the app: %q", text)
	}
	waitMail(t, a, demo.CitizenUsername, "nuova app")
	lbSteps(t, tab, "the list",
		chromedp.Click(`.actions a[href="/account/devices"]`),
		chromedp.WaitVisible(`ul.devices`),
	)
	browsertest.Page(t, tab, "portal-devices-two")
	if n := strings.Count(lbPageText(tab), "Tablet"); n == 0 {
		t.Errorf("the device list does not show the new app:\n%s", lbPageText(tab))
	}
}
