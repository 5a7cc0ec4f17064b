package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/notify/mail"
)

// TestBrowserConsoleApproval approves a recognised request in headless
// Chromium, with the real CSP and cookies: login, queue, case page, every
// checklist box ticked, "Approva", and the activation e-mail in the outbox.
func TestBrowserConsoleApproval(t *testing.T) {
	chrome := testenv.Browser(t)
	a, ts, _ := testApp(t)
	e := consoleRecognised(t, a, ts.URL)

	ctx := browserTab(t, chrome, 60*time.Second)

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/console/login"), chromedp.WaitVisible(`#username`)); err != nil {
		t.Fatal(err)
	}
	browsertest.Page(t, ctx, "console-login")
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(`#username`, "vera"),
		chromedp.SendKeys(`#password`, "Console-vera-2026"),
		chromedp.Click(`button[name="op"][value="submit"]`),
	}
	actions = append(actions, browserFactor(operatorCode(t, a, "op-vera", testOperatorSeed))...)
	actions = append(actions, chromedp.WaitVisible(`table.console-table`))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	browsertest.Page(t, ctx, "console-queue")
	actions = []chromedp.Action[chromedp.Void]{
		chromedp.Click(`a[href="/console/requests/` + e.ID + `"]`),
		chromedp.WaitVisible(`form[action$="/approve"]`),
	}
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	browsertest.Page(t, ctx, "console-request")
	actions = nil
	for _, item := range enrolment.VerifierChecklist(e.Path, e.IdentityType) {
		actions = append(actions, chromedp.Click(`#chk-`+item))
	}
	actions = append(actions,
		chromedp.Click(`form[action$="/approve"] button[type="submit"]`),
		chromedp.WaitVisible(`.alert-success`),
	)
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(`.alert-success`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "approvata") && !strings.Contains(notice, "approved") {
		t.Errorf("notice %q", notice)
	}
	m, err := mail.Outbox{Dir: a.Config.Mail.OutboxDir}.Last("maria.bianchi@example.it")
	cmust(t, err)
	if !strings.Contains(m.Text, "/activate?token=") {
		t.Errorf("activation e-mail: %s", m.Text)
	}
}
