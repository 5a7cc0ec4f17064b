package authflow

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/internal/capture"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// captureMail keeps the e-mails sent to owners.
type captureMail struct{ capture.Box[mail.Message] }

// sent waits for the notices under way and returns every e-mail so far.
func (c *captureMail) sent(h *harness) []mail.Message {
	h.Flow.WaitAlerts()
	return c.All()
}

// withAlerts makes the harness's IdP e-mail owners through a capture.
func withAlerts(h *harness) *captureMail {
	c := &captureMail{}
	h.Flow.o.Alerts = alert.Mailer{Mail: c, BaseURL: h.Base, PersonalArea: "/account/", Report: "/care/tickets/new"}
	return c
}

// wrongCodes returns n six-digit codes that no step near now accepts.
func wrongCodes(h *l2harness, seed []byte, n int) []string {
	now := h.Clock.Now()
	near := []string{otp.Code(seed, now.Add(-otp.Period)), otp.Code(seed, now), otp.Code(seed, now.Add(otp.Period))}
	var out []string
	for i := 0; len(out) < n; i++ {
		c := fmt.Sprintf("%06d", 100000+i*7919)
		if !slices.Contains(near, c) {
			out = append(out, c)
		}
	}
	return out
}

func isConsent(p page) bool { return strings.Contains(p.Body, `value="accept"`) }

func credential(t *testing.T, h *harness) storage.Credential {
	t.Helper()
	c, err := h.Store.GetCredential(context.Background(), citizenID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func auditWith(t *testing.T, h *l2harness, action, outcome string) []storage.AuditEvent {
	t.Helper()
	var out []storage.AuditEvent
	for _, e := range mustAudit(t, h) {
		if e.Action == action && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return l
}()

// The probe's finding: four logins of (right password, two wrong app codes)
// then a fifth with the right code reached consent, because each right
// password cleared the failure count. Now the codes count across logins:
// the fifth failure (in the third login) locks the credentials, that login
// ends with nr23, the next ones get nr23 after the password, consent is
// never reached, and the owner gets one e-mail about the lock.
func TestS070_TOTPFailuresLockAcrossTransactions(t *testing.T) {
	h := newL2Harness(t)
	mails := withAlerts(h.harness)
	_, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	wrong := wrongCodes(h, seed, 8)
	failures := 0
	for tx := 1; tx <= 5; tx++ {
		b := h.browser()
		p := b.startL2(h.A, 2)
		if isConsent(p) {
			t.Fatalf("login %d: consent right after the password", tx)
		}
		if failures >= regulationMax {
			// Locked: the right password is answered with nr23.
			wantAnomaly(t, b.rpOutcome(p, h.A), spid.NrSuspendedRevoked)
			continue
		}
		if tx == 5 {
			t.Fatal("not locked before the fifth login")
		}
		for range 2 {
			p = b.Submit(p, PathLoginOTP, submitOTP(wrong[failures]))
			failures++
			if isConsent(p) {
				t.Fatalf("login %d: a wrong code reached consent", tx)
			}
			if failures == regulationMax {
				// This wrong code locked the credentials: the flow ends.
				wantAnomaly(t, b.rpOutcome(p, h.A), spid.NrSuspendedRevoked)
				break
			}
			if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, `id="otp-error"`) {
				t.Fatalf("login %d, wrong code %d: status %d\n%s", tx, failures, p.Status, p.Body)
			}
		}
	}
	// Even with the lock running, the right code never gets through: a
	// flow that was already at the code page when the lock happened is
	// refused too.
	b := h.browser()
	c := credential(t, h.harness)
	if !h.Clock.Now().Before(c.LockedUntil) || c.FactorFailures != regulationMax {
		t.Fatalf("credential after the guesses: %+v", c)
	}
	if p := b.startL2(h.A, 2); isConsent(p) {
		t.Fatal("consent during the lock")
	}

	locks := auditWith(t, h, auditLockout, "success")
	if len(locks) != 1 || locks[0].Actor != citizenID || locks[0].Details["cause"] != "second factor" {
		t.Fatalf("lock audit records: %+v", locks)
	}
	msgs := mails.sent(h.harness)
	if len(msgs) != 1 {
		t.Fatalf("%d e-mails to the owner, want 1 (the lock): %+v", len(msgs), msgs)
	}
	m := msgs[0]
	until := c.LockedUntil.In(rome)
	for _, want := range []string{
		"bloccato", "locked", // what happened, both languages
		"il " + until.Format("02/01/2006") + " alle " + until.Format("15:04"), // when it ends, Italian time
		"on " + until.Format("02/01/2006") + " at " + until.Format("15:04"),
		"codice", "app", // the second factor, not the password
		h.Base + "/account/", h.Base + "/care/tickets/new", // how to unlock / change the password, how to report
	} {
		if !strings.Contains(m.Subject+"\n"+m.Text, want) {
			t.Errorf("lock e-mail lacks %q:\n%s\n%s", want, m.Subject, m.Text)
		}
	}
	if m.To != h.Username {
		t.Errorf("lock e-mail to %q, want the citizen's address %q", m.To, h.Username)
	}
	if n := len(auditWith(t, h, auditAlert, "success")); n != 1 {
		t.Errorf("%d alert.email audit records, want 1", n)
	}

	// After the lock the right code works again, and resets the count.
	h.Clock.Advance(31 * time.Minute)
	b = h.browser()
	p := b.startL2(h.A, 2)
	if p = b.Submit(p, PathLoginOTP, submitOTP(h.code(seed))); !isConsent(p) {
		t.Fatalf("no consent after the lock ended:\n%s", p.Body)
	}
	if c := credential(t, h.harness); c.FailedAttempts != 0 || c.FactorFailures != 0 {
		t.Errorf("a completed level-2 login left failures: %+v", c)
	}
}

// regulationMax is the harness's lock threshold (the default).
const regulationMax = 5

// A level-1 login (the password was all the SP asked) forgets wrong
// passwords but not wrong codes: otherwise it would reopen the guessing.
func TestS070_LevelOneLoginKeepsCodeFailures(t *testing.T) {
	h := newL2Harness(t)
	_, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	wrong := wrongCodes(h, seed, 2)
	b := h.browser()
	p := b.startL2(h.A, 2)
	for _, c := range wrong {
		p = b.Submit(p, PathLoginOTP, submitOTP(c))
	}
	// A wrong password, then a level-1 login elsewhere.
	b2 := h.browser()
	q := b2.start(h.A, 1)
	q = b2.Submit(q, PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {"sbagliata"},
		templates.FieldOp: {templates.OpSubmit}})
	if c := credential(t, h.harness); c.FailedAttempts != 3 || c.FactorFailures != 2 {
		t.Fatalf("before the level-1 login: %+v", c)
	}
	q = b2.Submit(q, PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {h.Password},
		templates.FieldOp: {templates.OpSubmit}})
	if !isConsent(q) {
		t.Fatalf("level-1 login failed:\n%s", q.Body)
	}
	if c := credential(t, h.harness); c.FailedAttempts != 2 || c.FactorFailures != 2 {
		t.Fatalf("after the level-1 login: %+v, want the 2 code failures kept", c)
	}
}

func wantAnomalyPage(t *testing.T, b *browser, p page, sp *testRP, code spid.Anomaly) {
	t.Helper()
	wantAnomaly(t, b.rpOutcome(p, sp), code)
}

// S062 with the notice: five wrong passwords lock the credentials for 30
// minutes, the right password then gets nr23, and the owner is told once,
// with the lock's end in Italian time.
func TestS062_PasswordLockEmailsOwner(t *testing.T) {
	h := newHarness(t)
	mails := withAlerts(h)
	for i := 1; i <= regulationMax; i++ {
		b := h.browser()
		q := b.start(h.A, 1)
		p := b.Submit(q, PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {fmt.Sprintf("sbagliata-%d", i)},
			templates.FieldOp: {templates.OpSubmit}})
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Nome utente o password non corretti") {
			t.Fatalf("wrong password %d: status %d", i, p.Status)
		}
		if n := len(mails.sent(h)); (i < regulationMax && n != 0) || (i == regulationMax && n != 1) {
			t.Fatalf("after wrong password %d: %d e-mails", i, n)
		}
	}
	b := h.browser()
	q := b.start(h.A, 1)
	p := b.Submit(q, PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {h.Password},
		templates.FieldOp: {templates.OpSubmit}})
	wantAnomalyPage(t, b, p, h.A, spid.NrSuspendedRevoked)

	c, _ := h.Store.GetCredential(context.Background(), citizenID)
	m := mails.sent(h)[0]
	until := c.LockedUntil.In(rome)
	for _, want := range []string{"password", "il " + until.Format("02/01/2006") + " alle " + until.Format("15:04"),
		h.Base + "/account/", h.Base + "/care/tickets/new", "Italian time"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("lock e-mail lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "codice dell'app") || strings.Contains(m.Text, h.Password) {
		t.Errorf("password-lock e-mail speaks of codes or carries the password:\n%s", m.Text)
	}
}

// pushRefusal runs a push login refused in the app (approve=false: "Non
// sono stato io"; true: approved with another number) and returns the
// page the browser gets after the app answered.
func pushRefusal(t *testing.T, h *l2harness, approve bool) page {
	t.Helper()
	devID, _, key := h.addPushDevice(citizenID)
	b := h.browser()
	p := b.Submit(b.startL2(h.A, 2), PathLoginMethod, op(templates.OpPush))
	n := pushNumber(t, p)
	ch := h.pendingChallenge(devID)
	answer := 0
	if approve {
		for _, o := range ch.Options {
			if o != n {
				answer = o
				break
			}
		}
	}
	err := h.decide(devID, key, ch.ID, approve, answer)
	if approve && err == nil {
		t.Fatal("approval with a wrong number accepted")
	}
	if !approve && err != nil {
		t.Fatalf("denial: %v", err)
	}
	// Counted when the app answered, before the page asks.
	if c := credential(t, h.harness); c.FailedAttempts != 1 || c.FactorFailures != 1 {
		t.Fatalf("credential after the refusal in the app: %+v, want one second-factor failure", c)
	}
	back := b.Submit(p, PathLoginPushDone, op(templates.OpSubmit))
	if !strings.Contains(back.Body, `name="password"`) || !strings.Contains(back.Body, `role="alert"`) {
		t.Fatalf("refusal did not lead back to P01 with a message (status %d):\n%s", back.Status, back.Body)
	}
	if strings.Contains(back.Body, "Nome utente o password non corretti") {
		t.Fatalf("a refusal in the app told as a wrong password:\n%s", back.Body)
	}
	// The page asking again does not count it twice.
	if c := credential(t, h.harness); c.FailedAttempts != 1 {
		t.Fatalf("refusal counted %d times", c.FailedAttempts)
	}
	return back
}

// S083: a wrong matching number is a second-factor failure (not a password
// one), told as such on the page, audited, and it does not e-mail the owner
// (only a lock or a "Non sono stato io" does).
func TestS083_PushWrongNumberCountedAndTold(t *testing.T) {
	h := newL2Harness(t)
	mails := withAlerts(h.harness)
	back := pushRefusal(t, h, true)
	if !strings.Contains(back.Body, "Nell&#39;app è stato scelto un numero diverso") {
		t.Errorf("no wrong-number message on P01:\n%s", back.Body)
	}
	ev := auditWith(t, h, "login.push", "failure")
	if len(ev) != 1 || ev[0].Details["reason"] != push.ReasonWrongNumber || ev[0].Target != h.A.EntityID {
		t.Fatalf("login.push failure records: %+v", ev)
	}
	if slices.ContainsFunc(mustAudit(t, h), func(e storage.AuditEvent) bool {
		return e.Action == "login.password" && e.Outcome == "failure"
	}) {
		t.Error("a wrong number recorded as a password failure")
	}
	if m := mails.sent(h.harness); len(m) != 0 {
		t.Errorf("a wrong number e-mailed the owner: %+v", m)
	}
	hist, _, err := portal.History(context.Background(), h.Store, citizenID, 0, 10)
	if err != nil || slices.ContainsFunc(hist, func(a templates.PortalAccess) bool { return a.Denied }) {
		t.Errorf("a wrong number shown as a denial in the access history: %+v %v", hist, err)
	}
}

// C.10 / S083: "Non sono stato io" in the app is a second-factor failure,
// told as a refusal on the page, e-mailed to the owner at once, audited and
// listed in the personal area's access history.
func TestS083_PushDenialToldEmailedAndInHistory(t *testing.T) {
	h := newL2Harness(t)
	mails := withAlerts(h.harness)
	back := pushRefusal(t, h, false)
	if !strings.Contains(back.Body, "rifiutata nell&#39;app con «Non sono stato io»") {
		t.Errorf("no denial message on P01:\n%s", back.Body)
	}
	ev := auditWith(t, h, "login.push", "failure")
	if len(ev) != 1 || ev[0].Details["reason"] != push.ReasonUserDenied || ev[0].Actor != citizenID || ev[0].Target != h.A.EntityID {
		t.Fatalf("login.push failure records: %+v", ev)
	}
	msgs := mails.sent(h.harness)
	if len(msgs) != 1 || msgs[0].To != h.Username {
		t.Fatalf("denial e-mails: %+v, want one to the owner", msgs)
	}
	now := h.Clock.Now().In(rome)
	for _, want := range []string{"Non sono stato io", "Servizio A", "Il " + now.Format("02/01/2006") + " alle ",
		"It wasn't me", h.Base + "/account/", h.Base + "/care/tickets/new"} {
		if !strings.Contains(msgs[0].Text, want) {
			t.Errorf("denial e-mail lacks %q:\n%s", want, msgs[0].Text)
		}
	}
	hist, _, err := portal.History(context.Background(), h.Store, citizenID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(hist, func(a templates.PortalAccess) bool { return a.Denied })
	if i < 0 || hist[i].SP != h.A.EntityID || hist[i].Success || hist[i].Level != "2" {
		t.Fatalf("the denial is not in the access history: %+v", hist)
	}
}
