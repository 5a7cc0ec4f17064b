package app

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/outbox"
	"github.com/spid-idp/spid-idp/storage"
)

var resetLinkRE = regexp.MustCompile(`https?://[^\s]*/recover/reset\?token=[A-Za-z0-9_\-]+`)

const demoCF = "RSSMRA80A01H501U"

// mailCount is how many e-mails the outbox holds for to.
func mailCount(t *testing.T, a *App, to string) int {
	t.Helper()
	paths, err := outbox.Newest(a.Config.Mail.OutboxDir, ".eml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range paths {
		r, err := mail.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(r.To), strings.ToLower(to)) {
			n++
		}
	}
	return n
}

// TestRecoverUsernameEndToEnd: the username goes to the registered
// e-mail; wrong data get the very same page and nothing is sent (U019);
// bad input is explained in the page's language.
func TestRecoverUsernameEndToEnd(t *testing.T) {
	a, base := enrolApp(t, nil)
	br := newBrowser(t)
	start := br.get(base + "/recover")
	if start.status != 200 || !strings.Contains(start.body, "Ho dimenticato il nome utente") || !strings.Contains(start.body, `href="/recover/app"`) {
		t.Fatalf("/recover: %d\n%s", start.status, start.body)
	}
	form := br.get(base + "/recover/username")
	bad := br.submit(form, "/recover/username", url.Values{"fiscal_code": {"RSS"}, "email": {"nope"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "16 caratteri") || !strings.Contains(bad.body, "indirizzo e-mail valido") {
		t.Fatalf("bad input: %d\n%s", bad.status, bad.body)
	}
	before := mailCount(t, a, demo.CitizenUsername)
	wrong := br.submit(form, "/recover/username", url.Values{"fiscal_code": {"BNCGLI90E10F205X"}, "email": {demo.CitizenUsername}})
	right := br.submit(form, "/recover/username", url.Values{"fiscal_code": {strings.ToLower(demoCF)}, "email": {strings.ToUpper(demo.CitizenUsername)}})
	if wrong.status != 200 || right.status != 200 || stripCSRF(wrong.body) != stripCSRF(right.body) {
		t.Fatalf("answers differ:\n%s\n----\n%s", wrong.body, right.body)
	}
	if got := mailCount(t, a, demo.CitizenUsername); got != before+1 {
		t.Fatalf("e-mails to the citizen: %d, want %d", got, before+1)
	}
	if m := lastMail(t, a, demo.CitizenUsername); !strings.Contains(m, "Il tuo nome utente è:\n\n    "+demo.CitizenUsername) {
		t.Fatalf("username e-mail:\n%s", m)
	}
	// English, through the language switch.
	en := newBrowser(t).get(base + "/recover/username?lang=en")
	if !strings.Contains(en.body, "Recover your username") || !strings.Contains(en.body, `lang="en"`) {
		t.Fatalf("English page:\n%s", en.body)
	}
}

var csrfValueRE = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

func stripCSRF(s string) string { return csrfValueRE.ReplaceAllString(s, "") }

// TestRecoverPasswordEndToEnd: fiscal code + username → e-mailed link →
// SMS code → a weak password is refused in Italian without spending the
// code, a mismatch likewise → a good password works, ends the citizen's
// SSO session, is notified, and the link is single use. The wrong-data
// answer is the same page.
func TestRecoverPasswordEndToEnd(t *testing.T) {
	a, base := enrolApp(t, nil)
	ctx := context.Background()
	info := DemoInfo{Username: demo.CitizenUsername, Password: demo.CitizenPassword}
	sso := newBrowser(t)
	if res := demoL1Login(t, sso, base, info); !strings.Contains(res.body, "TINIT-"+demoCF) {
		t.Fatalf("demo login:\n%s", res.body)
	}

	// Reached from the login page, with the way back.
	login := newBrowser(t)
	lp := login.submit(login.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"1"}})
	m := regexp.MustCompile(`href="(/recover\?back=[^"]+)"`).FindStringSubmatch(lp.body)
	if m == nil {
		t.Fatalf("login page has no recovery link with the way back:\n%s", lp.body)
	}
	choose := login.get(base + strings.ReplaceAll(m[1], "&amp;", "&"))
	if !strings.Contains(choose.body, "Torna all&#39;accesso") {
		t.Fatalf("no way back:\n%s", choose.body)
	}

	br := newBrowser(t)
	form := br.get(base + "/recover/password")
	wrong := br.submit(form, "/recover/password", url.Values{"fiscal_code": {"BNCGLI90E10F205X"}, "username": {demo.CitizenUsername}})
	sent := br.submit(form, "/recover/password", url.Values{"fiscal_code": {demoCF}, "username": {demo.CitizenUsername}})
	if stripCSRF(wrong.body) != stripCSRF(sent.body) || !strings.Contains(sent.body, "30 minuti") {
		t.Fatalf("answers differ or no validity:\n%s\n----\n%s", wrong.body, sent.body)
	}
	link := resetLinkRE.FindString(lastMail(t, a, demo.CitizenUsername))
	if link == "" {
		t.Fatal("no reset link in the e-mail")
	}
	reset := br.get(link)
	if reset.status != 200 || !strings.Contains(reset.body, "567") {
		t.Fatalf("reset page: %d\n%s", reset.status, reset.body)
	}
	codePage := br.submit(reset, "/recover/reset", url.Values{"op": {"send"}})
	code := lastSMSCode(t, a, "+393331234567")
	weak := br.submit(codePage, "/recover/reset", url.Values{"op": {"confirm"}, "otp": {code}, "password": {"mario1980"}, "repeat": {"mario1980"}})
	if weak.status != http.StatusUnprocessableEntity || !strings.Contains(weak.body, "almeno una lettera maiuscola") ||
		!strings.Contains(weak.body, "non può contenere il nome utente") || strings.Contains(weak.body, "password: ") {
		t.Fatalf("weak password: %d\n%s", weak.status, weak.body)
	}
	const pw = "Nuova#Chiave-2027"
	mismatch := br.submit(weak, "/recover/reset", url.Values{"op": {"confirm"}, "otp": {code}, "password": {pw}, "repeat": {pw + "x"}})
	if mismatch.status != http.StatusUnprocessableEntity || !strings.Contains(mismatch.body, "non coincidono") || !strings.Contains(mismatch.body, `value="`+code+`"`) {
		t.Fatalf("mismatch: %d\n%s", mismatch.status, mismatch.body)
	}
	done := br.submit(mismatch, "/recover/reset", url.Values{"op": {"confirm"}, "otp": {code}, "password": {pw}, "repeat": {pw}})
	if done.status != 200 || !strings.Contains(done.body, "Password cambiata") || !strings.Contains(done.body, `href="/account/"`) {
		t.Fatalf("reset (the code must have survived the policy errors): %d\n%s", done.status, done.body)
	}
	if again := br.get(link); again.status != http.StatusGone || !strings.Contains(again.body, "Link non valido") {
		t.Fatalf("used link: %d\n%s", again.status, again.body)
	}
	if n := lastMail(t, a, demo.CitizenUsername); !strings.Contains(n, "è stata reimpostata") {
		t.Fatalf("no notice e-mail:\n%s", n)
	}
	// The old SSO session is over: the demo SP asks for the password again.
	again := sso.submit(sso.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"1"}})
	if !strings.Contains(again.body, `name="password"`) {
		t.Fatalf("SSO session survived the reset:\n%s", again.body)
	}
	if res := demoL1Login(t, newBrowser(t), base, DemoInfo{Username: demo.CitizenUsername, Password: pw}); !strings.Contains(res.body, "TINIT-"+demoCF) {
		t.Fatalf("login with the new password:\n%s", res.body)
	}
	evs, err := a.Backends.Store.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "recover.") {
			seen[ev.Action+"/"+ev.Outcome] = true
		}
	}
	for _, want := range []string{"recover.password.request/failure", "recover.password.request/success", "recover.password.reset/success"} {
		if !seen[want] {
			t.Errorf("audit lacks %s (has %v)", want, seen)
		}
	}
}

// TestRecoverRateLimit: past recovery.max_requests per fiscal code the
// answer is unchanged and nothing is sent.
func TestRecoverRateLimit(t *testing.T) {
	a, base := enrolApp(t, func(cfg *config.Config) { cfg.Recovery.MaxRequests = 2 })
	br := newBrowser(t)
	form := br.get(base + "/recover/username")
	for range 4 {
		p := br.submit(form, "/recover/username", url.Values{"fiscal_code": {demoCF}, "email": {demo.CitizenUsername}})
		if p.status != 200 || !strings.Contains(p.body, "Richiesta ricevuta") {
			t.Fatalf("%d\n%s", p.status, p.body)
		}
	}
	if got := mailCount(t, a, demo.CitizenUsername); got != 2 {
		t.Fatalf("e-mails sent: %d, want 2", got)
	}
}

// TestRecoverLostAppEndToEnd: a wrong password is refused; the right one
// disconnects every device, ends the sessions and is notified; the next
// level-2 login offers the activation by SMS.
func TestRecoverLostAppEndToEnd(t *testing.T) {
	a, base := enrolApp(t, nil)
	ctx := context.Background()
	id, err := a.Backends.Store.GetIdentityByUsername(ctx, demo.CitizenUsername)
	if err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t)
	form := br.get(base + "/recover/app")
	bad := br.submit(form, "/recover/app", url.Values{"username": {demo.CitizenUsername}, "password": {"wrong"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "Nome utente o password non corretti") {
		t.Fatalf("wrong password: %d\n%s", bad.status, bad.body)
	}
	done := br.submit(form, "/recover/app", url.Values{"username": {demo.CitizenUsername}, "password": {demo.CitizenPassword}})
	if done.status != 200 || !strings.Contains(done.body, "Dispositivi scollegati") {
		t.Fatalf("lost app: %d\n%s", done.status, done.body)
	}
	devs, err := a.Backends.Store.ListDevices(ctx, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("the demo citizen had no device to revoke")
	}
	for _, d := range devs {
		if d.Status != storage.DeviceRevoked {
			t.Errorf("device %s still %s", d.ID, d.Status)
		}
	}
	if after, _ := a.Backends.Store.GetIdentity(ctx, id.ID); after.SessionEpoch == id.SessionEpoch {
		t.Error("sessions not ended")
	}
	if m := lastMail(t, a, demo.CitizenUsername); !strings.Contains(m, "abbiamo scollegato") {
		t.Fatalf("no notice:\n%s", m)
	}
	// Level 2 now offers the activation of a new app by SMS.
	sp := newBrowser(t)
	login := sp.submit(sp.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"2"}})
	offer := sp.submit(login, "/login", url.Values{"username": {demo.CitizenUsername}, "password": {demo.CitizenPassword}, "op": {"submit"}})
	if !strings.Contains(offer.body, "567") {
		t.Fatalf("no activation offer after the lost app:\n%s", offer.body)
	}
	mobile := br.get(base + "/recover/mobile")
	if mobile.status != 200 || !strings.Contains(mobile.body, `href="/care/tickets/new"`) {
		t.Fatalf("lost mobile page: %d\n%s", mobile.status, mobile.body)
	}
}
