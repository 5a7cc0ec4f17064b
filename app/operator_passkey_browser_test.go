package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
)

// TestBrowserOperatorPasskey is the operators' phishing-resistant second
// factor in headless Chromium with a virtual authenticator (CTAP2,
// platform, resident keys, user verification): a new operator signs in
// with the password, redeems the supervisor's one-time code, registers a
// passkey, signs out, and signs in again with password and passkey. The
// console runs on http://localhost (a secure context; a WebAuthn RP ID is a
// domain, never an IP address).
func TestBrowserOperatorPasskey(t *testing.T) {
	chrome := testenv.Browser(t)
	a, ts, _ := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		cfg.Server.BaseURL = strings.Replace(cfg.Server.BaseURL, "127.0.0.1", "localhost", 1)
	}})
	base := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	if err := a.MountBackOffice(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const user, pw = "pia", "Console-pia-2026-passkey"
	h, err := password.Hash(pw, a.Argon2)
	cmust(t, err)
	now := time.Now().UTC()
	cmust(t, a.Backends.Store.CreateOperator(ctx, storage.Operator{ID: "op-pia", Username: user, Name: "Pia Verdi",
		Roles: []string{"verifier"}, PasswordHash: h, Status: storage.OperatorActive, CreatedAt: now, UpdatedAt: now}))
	factors, err := a.OperatorFactors()
	cmust(t, err)
	if factors.RP == nil {
		t.Fatal("no WebAuthn relying party on " + base)
	}
	code, err := factors.IssueEnrolCode(ctx, "op-pia", "op-supervisor", false)
	cmust(t, err)

	tab := browserTab(t, chrome, 90*time.Second)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, actions...); err != nil {
			loc, _ := chromedp.Run(tab, chromedp.Location())
			text, _ := chromedp.Run(tab, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
			t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, text)
		}
	}
	step("virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
				Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
	password := func() {
		t.Helper()
		step("password",
			chromedp.Navigate(base+"/console/login"),
			chromedp.WaitVisible(`#username`),
			chromedp.SendKeys(`#username`, user),
			chromedp.SendKeys(`#password`, pw),
			chromedp.Click(`button[name="op"][value="submit"]`),
			chromedp.WaitNotPresent(`#password`),
		)
	}

	// 1. Password, then the supervisor's code, then the passkey's registration.
	password()
	step("enrolment code",
		chromedp.WaitVisible(`#enrol_code`),
		chromedp.SendKeys(`#enrol_code`, code),
		chromedp.Click(`button[name="op"][value="code"]`),
		chromedp.WaitVisible(`form[data-passkey="create"] button[type="submit"]`),
	)
	step("register the passkey",
		chromedp.Click(`form[data-passkey="create"] button[type="submit"]`),
		chromedp.WaitVisible(`table.console-table, .console-bar`),
		chromedp.WaitNotPresent(`form[data-passkey]`),
	)
	if loc, _ := chromedp.Run(tab, chromedp.Location()); !strings.HasSuffix(loc, "/console/queue") {
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string]("document.body.innerText"))
		t.Fatalf("after the registration: %s\n%s", loc, text)
	}
	op, err := a.Backends.Store.GetOperator(ctx, "op-pia")
	cmust(t, err)
	if len(op.SecondFactor.Factors) != 1 || op.SecondFactor.Factors[0].Kind != storage.FactorWebAuthn || op.SecondFactor.EnrolCodeHash != "" {
		t.Fatalf("stored factors %+v", op.SecondFactor)
	}
	if strings.Contains(string(op.SecondFactor.Factors[0].Secret), "publicKey") {
		t.Error("the passkey's credential is stored in clear")
	}

	// 2. Sign out; password again: the page offers the passkey, no code.
	step("logout", chromedp.Click(`form[action="/console/logout"] button[type="submit"]`), chromedp.WaitVisible(`#username`))
	password()
	step("passkey login",
		chromedp.WaitVisible(`form[data-passkey="get"] button[type="submit"]`),
		chromedp.Click(`form[data-passkey="get"] button[type="submit"]`),
		chromedp.WaitNotPresent(`form[data-passkey]`),
		chromedp.WaitVisible(`table.console-table, .console-bar`),
	)
	if loc, _ := chromedp.Run(tab, chromedp.Location()); !strings.HasSuffix(loc, "/console/queue") {
		t.Fatalf("after the passkey login: %s", loc)
	}
	evs, err := a.Backends.Store.ListAudit(ctx, 0, 100000)
	cmust(t, err)
	var registered, passed bool
	for _, ev := range evs {
		registered = registered || ev.Action == "console.factor.register" && ev.Outcome == "success" && ev.Details["kind"] == "webauthn"
		passed = passed || ev.Action == "console.factor" && ev.Outcome == "success" && ev.Details["kind"] == "webauthn"
	}
	if !registered || !passed {
		t.Errorf("audit: registered %v, passkey login %v", registered, passed)
	}
}
