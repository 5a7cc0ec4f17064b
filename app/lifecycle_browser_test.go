package app

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// TestJourneySuspensionAndReactivation walks suspension and reactivation
// as the people do it, in headless Chromium with the real CSP, cookies and
// console login: the citizen logs in to the personal area (level 2, no
// consent page), opens the devices page and comes back, suspends; is told
// how to reactivate and reaches customer care's request form; the demo SP
// then gets nr23; the care agent lands on the desk, finds the identity and
// proposes the reactivation, the proposer cannot approve it, a supervisor
// ("supervisore") does; the demo SP login works again. Every page passes
// axe at 1280 and 390 px.
func TestJourneySuspensionAndReactivation(t *testing.T) {
	chrome := testenv.Browser(t)
	a, base, info := portalApp(t)
	if err := a.MountBackOffice(); err != nil {
		t.Fatal(err)
	}
	id := demoIdentityID(t, a)
	newTab := lbBrowserPeople(t, chrome)

	// 1. The citizen logs in to the personal area at level 2 and suspends.
	citizen := newTab(90 * time.Second)
	resetTOTP(t, a)
	seed, err := otp.DecodeSeed(info.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	lbSteps(t, citizen, "personal area", chromedp.Navigate(base+"/account/"), chromedp.WaitVisible(`form[action$="/account/login"]`))
	browsertest.Page(t, citizen, "portal-login")
	lbSteps(t, citizen, "personal area login",
		chromedp.Click(`form[action$="/account/login"] button[type="submit"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
	)
	if lbWaitAny(t, citizen, `#otp`, `button[name="op"][value="totp"]`) == 1 {
		lbSteps(t, citizen, "choose the authenticator", chromedp.Click(`button[name="op"][value="totp"]`))
		lbWaitAny(t, citizen, `#otp`)
	}
	lbSteps(t, citizen, "authenticator code",
		chromedp.SendKeys(`#otp`, otp.Code(seed, time.Now())),
		chromedp.Click(`button[name="op"][value="submit"]`),
		// No consent for the IdP's own personal area: the transfer page
		// posts itself back to the portal.
		chromedp.WaitVisible(`form[action="/account/suspend"]`),
	)
	browsertest.Page(t, citizen, "portal-home")
	if text := lbPageText(citizen); !strings.Contains(text, "attiva") && !strings.Contains(text, "active") {
		t.Errorf("the personal area does not give the state:\n%s", text)
	}
	// The devices page, reached from the personal area with its login,
	// with a way back.
	lbSteps(t, citizen, "devices",
		chromedp.Click(`a[href="/account/devices"]`),
		chromedp.WaitVisible(`a.back-link`),
	)
	browsertest.Page(t, citizen, "portal-devices")
	if text := lbPageText(citizen); !strings.Contains(text, "Aggiungi un dispositivo") && !strings.Contains(text, "Add a device") ||
		strings.Contains(text, "accedi all'area personale") || strings.Contains(text, "log in to the personal area") {
		t.Errorf("devices page without the personal area's session or without \"add a device\":\n%s", text)
	}
	lbSteps(t, citizen, "suspend",
		chromedp.Click(`a.back-link`),
		chromedp.WaitVisible(`form[action="/account/suspend"]`),
		chromedp.Click(`form[action="/account/suspend"] input[name="confirm"]`),
		chromedp.Click(`form[action="/account/suspend"] button[type="submit"]`),
		// Suspended, the session ends: the portal offers the login again.
		chromedp.WaitVisible(`form[action$="/account/login"]`),
	)
	if loc := lbLocation(t, citizen); !strings.Contains(loc, "done=suspended") {
		t.Errorf("after the suspension the portal is at %s", loc)
	}
	lbWantState(t, a, id, storage.IdentitySuspended)
	browsertest.Page(t, citizen, "portal-suspended")
	// Told how to reactivate, and led there: customer care's landing page,
	// then the request form.
	if text := lbPageText(citizen); !strings.Contains(text, "30 giorni") && !strings.Contains(text, "30 days") {
		t.Errorf("the suspended citizen is not told how the reactivation works:\n%s", text)
	}
	lbSteps(t, citizen, "to customer care",
		chromedp.Click(`.alert a[href="/care/"]`),
		chromedp.WaitVisible(`a[href="/care/complaints/new"]`),
	)
	browsertest.Page(t, citizen, "care-home")
	lbSteps(t, citizen, "reactivation request form",
		chromedp.Click(`p a[href="/care/tickets/new?topic=reactivation"]`),
		chromedp.WaitVisible(`#subject`),
	)
	browsertest.Page(t, citizen, "care-ticket-form")
	// The subject is written for them, in the page's language.
	if subj, err := chromedp.Run(citizen, chromedp.Evaluate[string](`document.querySelector("#subject").value`)); err != nil ||
		subj != "Riattivazione" && subj != "Reactivation" {
		t.Errorf("the reactivation form's subject is %q (%v), want it filled in", subj, err)
	}

	// 2. The demo SP login (level 1) fails with nr23.
	if res := lbDemoSPLogin(t, newTab(60*time.Second), base, info); !strings.Contains(res, "nr23") {
		t.Fatalf("suspended identity at the demo SP, want nr23:\n%s", res)
	}

	// 3. Customer care finds the identity, checks its state and proposes
	// the reactivation; the proposer's own approval is refused.
	agent := newTab(150 * time.Second)
	lbConsoleLogin(t, a, agent, base, "assistenza")
	// A care agent lands on the care desk, with the logout at hand.
	lbSteps(t, agent, "landing", chromedp.WaitVisible(`form[action="/console/logout"]`))
	if loc := lbLocation(t, agent); !strings.HasSuffix(loc, "/console/care/") {
		t.Errorf("the care agent landed on %s, want the care desk", loc)
	}
	browsertest.Page(t, agent, "care-desk")
	lookup := base + "/console/care/identity?q=" + url.QueryEscape(info.Username)
	lbSteps(t, agent, "care lookup",
		chromedp.Navigate(lookup),
		chromedp.WaitVisible(`button[name="op"][value="propose"]`),
	)
	browsertest.Page(t, agent, "care-identity")
	if st := lbText(t, agent, `.identity-state`); !strings.Contains(strings.ToLower(st), "sospes") && !strings.Contains(strings.ToLower(st), "suspend") {
		t.Errorf("the desk shows the state %q, want suspended", st)
	}
	lbSteps(t, agent, "propose the reactivation",
		chromedp.Click(`button[name="op"][value="propose"]`),
		chromedp.WaitVisible(`button[name="op"][value="approve"]`),
	)
	if loc := lbLocation(t, agent); !strings.Contains(loc, "notice=done") {
		t.Fatalf("proposal: at %s", loc)
	}
	// Refused with a page in words (403), not a redirect.
	lbSteps(t, agent, "self-approval",
		chromedp.Click(`button[name="op"][value="approve"]`),
		chromedp.WaitNotPresent(`button[name="op"][value="approve"]`),
	)
	if text := lbPageText(agent); !strings.Contains(text, "Azione non consentita") && !strings.Contains(text, "Action not allowed") {
		t.Fatalf("the proposer approved their own proposal: at %s\n%s", lbLocation(t, agent), text)
	}
	browsertest.Page(t, agent, "care-message")
	lbWantState(t, a, id, storage.IdentitySuspended)

	// 4. The supervisor approves: the identity is active again.
	supervisor := newTab(60 * time.Second)
	lbConsoleLogin(t, a, supervisor, base, "supervisore")
	lbSteps(t, supervisor, "approval",
		chromedp.Navigate(lookup),
		chromedp.WaitVisible(`button[name="op"][value="approve"]`),
		chromedp.Click(`button[name="op"][value="approve"]`),
		// Active again, the page offers a suspension.
		chromedp.WaitVisible(`button[name="op"][value="suspend"]`),
	)
	if loc := lbLocation(t, supervisor); !strings.Contains(loc, "notice=done") {
		t.Fatalf("approval: at %s", loc)
	}
	lbWantState(t, a, id, storage.IdentityActive)

	// 5. The demo SP login works again.
	if res := lbDemoSPLogin(t, newTab(60*time.Second), base, info); !strings.Contains(res, "DEMO0000000001") {
		t.Fatalf("demo SP login after the reactivation:\n%s", res)
	}

}

// TestJourneyComplaint is a citizen's formal complaint as a person files
// it: customer care's landing page, the complaint form, the reference, the
// confirmation link in the e-mail; then the agent's desk shows it with its
// 14-day deadline (end of day, Rome time) and the complaint's page. Every
// page passes axe.
func TestJourneyComplaint(t *testing.T) {
	chrome := testenv.Browser(t)
	a, base, _ := portalApp(t)
	if err := a.MountBackOffice(); err != nil {
		t.Fatal(err)
	}
	newTab := lbBrowserPeople(t, chrome)
	const email = "giulia.verdi@example.org"
	complainant := newTab(90 * time.Second)
	lbSteps(t, complainant, "customer care", chromedp.Navigate(base+"/care/"), chromedp.WaitVisible(`a[href="/care/complaints/new"]`))
	lbSteps(t, complainant, "complaint form",
		chromedp.Click(`.nav-list a[href="/care/complaints/new"]`),
		chromedp.WaitVisible(`#email`),
	)
	browsertest.Page(t, complainant, "care-complaint-form")
	lbSteps(t, complainant, "complaint form",
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#name`, "Giulia Verdi"),
		chromedp.SendKeys(`#subject`, "Accesso non riuscito"),
		chromedp.SendKeys(`#message`, "Il servizio non mi ha fatto entrare per due giorni."),
		chromedp.Click(`form[action$="/care/complaints/new"] button[type="submit"]`),
		chromedp.WaitVisible(`.reference`),
	)
	browsertest.Page(t, complainant, "care-filed")
	ref := strings.TrimSpace(lbText(t, complainant, `.reference`))
	if !regexp.MustCompile(`^RC-\d{4}-[0-9A-Z]{8}$`).MatchString(ref) {
		t.Fatalf("complaint reference %q", ref)
	}
	filedAt := time.Now()
	m, err := mail.Outbox{Dir: a.Config.Mail.OutboxDir}.Last(email)
	if err != nil || !strings.Contains(m.Text, ref) {
		t.Fatalf("confirmation e-mail: %v %q", err, m.Text)
	}
	link := regexp.MustCompile(`http://\S+/care/confirm\?\S+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no confirmation link in %q", m.Text)
	}
	lbSteps(t, complainant, "confirm the complaint",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`.reference`),
	)
	browsertest.Page(t, complainant, "care-confirmed")

	agent := newTab(120 * time.Second)
	lbConsoleLogin(t, a, agent, base, "assistenza")
	due := filedAt.In(romeLoc(t)).AddDate(0, 0, 14).Format("02/01/2006") + " 23:59"
	lbSteps(t, agent, "desk", chromedp.Navigate(base+"/console/care/"), chromedp.WaitVisible(`h1`))
	// The complaint's row on the desk: its cells and its deadline class.
	js := fmt.Sprintf(`(() => { const a = [...document.querySelectorAll("tbody tr td a")].find(a => a.textContent.trim() === %q);
		const tr = a && a.closest("tr"); return tr ? {Class: tr.className, Text: tr.innerText} : {Class: "", Text: ""}; })()`, ref)
	row, err := chromedp.Run(agent, chromedp.Evaluate[struct{ Class, Text string }](js))
	if err != nil {
		t.Fatal(err)
	}
	if row.Text == "" {
		t.Fatalf("complaint %s not on the desk:\n%s", ref, lbPageText(agent))
	}
	if !strings.Contains(row.Text, due) {
		t.Errorf("complaint row %q lacks the deadline %s", row.Text, due)
	}
	if row.Class != "deadline-on_time" {
		t.Errorf("complaint row class %q, want deadline-on_time", row.Class)
	}
	browsertest.Page(t, agent, "care-desk-complaint")
	href, err := chromedp.Run(agent, chromedp.Evaluate[string](fmt.Sprintf(
		`[...document.querySelectorAll("tbody tr td a")].find(a => a.textContent.trim() === %q).href`, ref)))
	if err != nil {
		t.Fatal(err)
	}
	lbSteps(t, agent, "the complaint's page", chromedp.Navigate(href), chromedp.WaitVisible(`textarea#analysis`))
	browsertest.Page(t, agent, "care-complaint")
}

// lbBrowserPeople starts one headless Chromium and returns a function that
// opens a tab in a browser context of its own (its own cookies: one
// person), ending after timeout.
func lbBrowserPeople(t *testing.T, chrome string) func(timeout time.Duration) context.Context {
	t.Helper()
	root := browserTab(t, chrome, 5*time.Minute)
	// The first run starts the browser; the people's contexts hang off it.
	if err := chromedp.Do(root, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return func(timeout time.Duration) context.Context {
		ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		ctx, cancel = context.WithTimeout(ctx, browsertest.Timeout(timeout))
		t.Cleanup(cancel)
		return ctx
	}
}

func lbSteps(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v (at %s)\n%s", what, err, lbLocation(t, ctx), lbPageText(ctx))
	}
}

// lbWaitAny waits until one of the CSS selectors matches and returns its
// index; the tab's deadline bounds it.
func lbWaitAny(t *testing.T, ctx context.Context, sels ...string) int {
	t.Helper()
	for {
		for i, s := range sels {
			found, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", s)))
			if err == nil && found {
				return i
			}
		}
		if err := chromedp.Do(ctx, chromedp.Sleep(100*time.Millisecond)); err != nil {
			t.Fatalf("none of %q appeared: %v (at %s)\n%s", sels, err, lbLocation(t, ctx), lbPageText(ctx))
		}
	}
}

func lbLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

func lbText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// lbPageText is the visible text of the page, for failure messages.
func lbPageText(ctx context.Context) string {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if err != nil {
		return ""
	}
	return s
}

// lbConsoleLogin signs an operator in to the console with the demo password
// and the demo operators' authenticator code.
func lbConsoleLogin(t *testing.T, a *App, ctx context.Context, base, username string) {
	t.Helper()
	lbSteps(t, ctx, "console login as "+username,
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, username),
		chromedp.SendKeys(`#password`, demo.OperatorPassword),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitNotPresent(`#password`),
	)
	lbSteps(t, ctx, "second factor of "+username, browserFactor(demoOperatorCode(t, a, username))...)
}

// lbDemoSPLogin logs the demo citizen in at the demo SP at level 1 in a
// fresh tab and returns the text of the SP's result page.
func lbDemoSPLogin(t *testing.T, ctx context.Context, base string, info DemoInfo) string {
	t.Helper()
	lbSteps(t, ctx, "demo SP login",
		chromedp.Navigate(base+demo.Prefix+"/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
	)
	// Consent, or the anomaly page whose button goes back to the SP.
	if lbWaitAny(t, ctx, `button[name="op"][value="accept"]`, `form[action$="`+demo.Prefix+`/acs"] button[type="submit"]`) == 0 {
		lbSteps(t, ctx, "consent", chromedp.Click(`button[name="op"][value="accept"]`))
	} else {
		lbSteps(t, ctx, "back to the SP", chromedp.Click(`form[action$="`+demo.Prefix+`/acs"] button[type="submit"]`))
	}
	lbSteps(t, ctx, "SP result", chromedp.WaitVisible(`body.demo .meta-list`))
	return lbPageText(ctx)
}

func lbWantState(t *testing.T, a *App, id string, want storage.IdentityStatus) {
	t.Helper()
	l, err := a.Lifecycle.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if l.State != want {
		t.Fatalf("identity state %s, want %s", l.State, want)
	}
}
