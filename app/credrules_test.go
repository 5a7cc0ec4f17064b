package app

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/notify/sms"

	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/storage"
)

// auditOutcome reports whether an audit record of action for target with
// outcome exists (target: the record's target or actor) whose detail key
// holds value.
func auditOutcome(t *testing.T, a *App, action, target, outcome, key, value string) bool {
	t.Helper()
	evs, err := a.Backends.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action && (ev.Target == target || ev.Actor == target) && ev.Outcome == outcome && (key == "" || ev.Details[key] == value) {
			return true
		}
	}
	return false
}

// TestPortalPasswordHistory (E062): in the personal area, a password
// changed away from is refused when chosen again, with a message for the
// citizen; the refusal is audited and the stored history holds argon2id
// hashes only. The old code compared the current password alone.
func TestPortalPasswordHistory(t *testing.T) {
	a, base, info := portalApp(t)
	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	if home.status != http.StatusOK {
		t.Fatalf("portal login: %d %s", home.status, home.url)
	}
	const second = "Nuova-Parola-2027!"
	done := br.submit(home, portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {second}})
	if done.url.Query().Get("done") != "password" {
		t.Fatalf("first change: %d %s\n%s", done.status, done.url, done.body)
	}
	back := br.submit(done, portal.PathPassword, url.Values{"current_password": {second}, "new_password": {info.Password}})
	if back.status != http.StatusBadRequest {
		t.Fatalf("changing back to the first password: status %d, want 400", back.status)
	}
	if !strings.Contains(back.body, pwrules.ReusedMessage("it")) && !strings.Contains(back.body, htmlEsc(pwrules.ReusedMessage("it"))) &&
		!strings.Contains(back.body, pwrules.ReusedMessage("en")) {
		t.Errorf("the refusal does not say the password was used before:\n%s", back.body)
	}
	id := demoIdentityID(t, a)
	if !auditOutcome(t, a, "portal.password", id, "failure", "reason", "reused") {
		t.Error("the refused reuse is not audited")
	}
	c, err := a.Backends.Store.GetCredential(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := password.Verify(c.PasswordHash, second); !ok {
		t.Error("the refused change replaced the password")
	}
	if len(c.PasswordHistory) != 1 || !strings.HasPrefix(c.PasswordHistory[0].Hash, "$argon2id$") || c.PasswordSetAt.IsZero() {
		t.Errorf("credential after one change: history %+v, set at %v", c.PasswordHistory, c.PasswordSetAt)
	}
	if ok, _ := password.Verify(c.PasswordHistory[0].Hash, info.Password); !ok {
		t.Error("the history does not hold the first password's hash")
	}
}

func htmlEsc(s string) string { return strings.ReplaceAll(s, "'", "&#39;") }

// changeMobile changes the demo citizen's mobile in the personal area
// (fresh level-2 login, code to the new number), as a fraudster holding
// the password and the old phone, or a SIM-swapper, would.
func changeMobile(t *testing.T, a *App, base string, info DemoInfo, number string) {
	t.Helper()
	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	codePage := br.submit(home, portal.PathMobile, url.Values{"mobile": {number}})
	if codePage.url.Query().Get("done") != "mobilesent" {
		t.Fatalf("mobile change: %s\n%s", codePage.url, codePage.body)
	}
	_, code := lastSMS(t, a, number)
	if got := br.submit(codePage, portal.PathMobileConfirm, url.Values{"otp": {code}}); got.url.Query().Get("done") != "mobile" {
		t.Fatalf("code refused: %s\n%s", got.url, got.body)
	}
}

// TestS086MobileCooldownAtLogin (security.md C.12, S086): after a mobile
// change the new number receives no activation code at login for 24
// hours. The citizen without an app who needs level 2 sees, instead of
// "activate the app now", until when (dd/mm/yyyy HH:MM, Italian time) and
// the way back to the service (nr20); asking anyway sends nothing; every
// refusal is audited. Once the 24 hours have passed the code goes out.
// The old code recorded the cool-down and sent the code at once.
func TestS086MobileCooldownAtLogin(t *testing.T) {
	a, base, info := portalApp(t)
	ctx := context.Background()
	const newNumber = "+393479876543"
	changeMobile(t, a, base, info, newNumber)
	id := demoIdentityID(t, a)
	withoutDevices(t, a, id)
	outbox := sms.Outbox{Dir: SMSOutboxDir(a.Config)}
	before, err := outbox.Last(newNumber)
	if err != nil {
		t.Fatal(err)
	}

	br := newBrowser(t)
	login := br.submit(br.get(base+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"2"}})
	offer := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if strings.Contains(offer.body, "/login/activate/start") {
		t.Errorf("the offer still proposes to send a code to the new number:\n%s", offer.body)
	}
	if !regexp.MustCompile(`\d{2}/\d{2}/\d{4}\D+\d{2}:\d{2}`).MatchString(offer.body) || !strings.Contains(offer.body, "24") || !strings.Contains(offer.body, "/demo-sp/acs") {
		t.Errorf("the offer does not say until when codes are held back, or lacks the way back:\n%s", offer.body)
	}
	if last, _ := outbox.Last(newNumber); last.Path != before.Path {
		t.Errorf("an SMS went to the new number during the cool-down: %q", last.Text)
	}
	if !auditOutcome(t, a, "device.activation.sms", id, "denied", "reason", "mobile cool-down") {
		t.Error("the held-back code is not audited")
	}
	back := br.submit(offer, "/demo-sp/acs", nil)
	if !strings.Contains(back.body, "nr20") && !strings.Contains(back.body, "ErrorCode nr20") {
		t.Errorf("going back does not give the SP nr20:\n%s", back.body)
	}

	// 24 hours later (the change dated 25 hours ago): the code goes out.
	key := portal.MobileCooldownKey(id)
	if err := a.Backends.Eph.DeleteValue(ctx, key); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339)
	if err := a.Backends.Eph.CreateValue(ctx, key, []byte(past), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	br2 := newBrowser(t)
	login = br2.submit(br2.get(base+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"2"}})
	offer = br2.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	smsPage := br2.submit(offer, "/login/activate/start", url.Values{"op": {"submit"}})
	if !strings.Contains(smsPage.body, `autocomplete="one-time-code"`) {
		t.Fatalf("after the cool-down no SMS code page: %d\n%s", smsPage.status, smsPage.body)
	}
	if last, _ := outbox.Last(newNumber); last.Path == before.Path {
		t.Error("after the cool-down no code went to the new number")
	}
}

// TestDeviceAddedRemovedEmails (enrolment-lifecycle.md §7.4): activating
// an authenticator app during a level-2 login, and removing it from the
// device page, each e-mail the owner, in Italian and English, naming the
// app and the time as dd/mm/yyyy HH:MM (Italian time); each notice is
// audited. The old code sent neither.
func TestDeviceAddedRemovedEmails(t *testing.T) {
	a, ts, info := testApp(t)
	ctx := context.Background()
	id := demoIdentityID(t, a)
	withoutDevices(t, a, id)
	br := newBrowser(t)
	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"2"}})
	offer := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	smsPage := br.submit(offer, "/login/activate/start", url.Values{"op": {"submit"}})
	_, code := lastSMS(t, a, "+393331234567")
	act := br.submit(smsPage, "/login/otp", url.Values{"otp": {code}, "op": {"submit"}})
	consent := activateApp(t, br, act, "Telefono di Mario")
	br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)

	stamp := regexp.MustCompile(`Il \d{2}/\d{2}/\d{4} alle \d{2}:\d{2} \(ora italiana\)`)
	stampEN := regexp.MustCompile(`On \d{2}/\d{2}/\d{4} at \d{2}:\d{2} \(Italian time\)`)
	added := waitMail(t, a, demo.CitizenUsername, "nuova app")
	for _, want := range []string{"«Telefono di Mario» è stata attivata", `"Telefono di Mario" was activated`, "sospendi subito"} {
		if !strings.Contains(added.Text, want) {
			t.Errorf("device-added e-mail lacks %q:\n%s", want, added.Text)
		}
	}
	if !stamp.MatchString(added.Text) || !stampEN.MatchString(added.Text) {
		t.Errorf("device-added e-mail lacks the dd/mm/yyyy HH:MM time in both languages:\n%s", added.Text)
	}

	devs, err := a.Backends.Store.ListDevices(ctx, id)
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices: %+v %v", devs, err)
	}
	// The device page needs an SSO session: a level-1 login makes one.
	if res := demoL1Login(t, br, ts.URL, info); !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("level-1 login:\n%s", res.body)
	}
	list := br.get(ts.URL + "/account/devices")
	done := br.submit(list, "/account/devices", url.Values{"op": {"revoke"}, "device": {devs[0].ID}})
	if done.status != http.StatusOK {
		t.Fatalf("revoking: %d\n%s", done.status, done.body)
	}
	removed := waitMail(t, a, demo.CitizenUsername, "rimossa")
	if !strings.Contains(removed.Text, "«Telefono di Mario» è stata rimossa") || !strings.Contains(removed.Text, `"Telefono di Mario" was removed`) ||
		!stamp.MatchString(removed.Text) || !stampEN.MatchString(removed.Text) {
		t.Errorf("device-removed e-mail:\n%s", removed.Text)
	}
	for _, kind := range []string{"device_added", "device_removed"} {
		if !waitAudit(t, a, "alert.email", id, "success", "kind", kind) {
			t.Errorf("the %s e-mail is not audited", kind)
		}
	}
}

// waitAudit waits for auditOutcome to hold: notices are audited once sent.
func waitAudit(t *testing.T, a *App, action, target, outcome, key, value string) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if auditOutcome(t, a, action, target, outcome, key, value) {
			return true
		}
	}
	return false
}

// TestE063PasswordMaxAgeEndToEnd: through the IdP as served, a password 5
// days from its maximum age gets the 7-day reminder by e-mail (once, from
// the scheduler's job, through the mail queue); once expired, the right
// password stops the login at the change page, and a new password lets it
// reach the service provider.
func TestE063PasswordMaxAgeEndToEnd(t *testing.T) {
	a, base, info := portalApp(t)
	ctx := context.Background()
	id := demoIdentityID(t, a)
	idn, err := a.Backends.Store.GetIdentity(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	email := idn.Attributes["email"]
	maxAge := a.Config.Security.Password.MaxAge
	setAt := func(at time.Time) {
		t.Helper()
		if err := a.Backends.Store.UpdateCredential(ctx, id, func(c storage.Credential) (storage.Credential, error) {
			c.PasswordSetAt = at
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setAt(time.Now().Add(-maxAge + 5*24*time.Hour))
	for i, want := range []string{"1 password", "0 password"} {
		if msg, err := a.remindPasswords(ctx, time.Now()); err != nil || !strings.HasPrefix(msg, want) {
			t.Fatalf("reminder run %d: %q, %v; want %q", i+1, msg, err, want)
		}
	}
	if body := lastMail(t, a, email); !strings.Contains(body, "scade il") || !strings.Contains(body, base+portal.Prefix+"/") {
		t.Errorf("the reminder does not give the date and the personal area:\n%s", body)
	}

	setAt(time.Now().Add(-maxAge - time.Hour))
	br := newBrowser(t)
	login := br.submit(br.get(base+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	stop := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if !strings.Contains(stop.body, `name="new_password"`) {
		t.Fatalf("expired password: %d %s, want the change page:\n%s", stop.status, stop.url, stop.body)
	}
	// A password the policy refuses is told in the page's language.
	weak := br.submit(stop, "/login/password", url.Values{"new_password": {"abc"}, "confirm": {"abc"}, "op": {"submit"}})
	if !strings.Contains(weak.body, "La password deve avere da 8 a 64 caratteri.") || strings.Contains(weak.body, "must") {
		t.Errorf("the policy's refusal on the expired-password page is not in Italian words:\n%s", weak.body)
	}
	const fresh = "Girasole#Blu2026"
	consent := br.submit(weak, "/login/password", url.Values{"new_password": {fresh}, "confirm": {fresh}, "op": {"submit"}})
	res := br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	if !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("the login did not reach the SP after the change:\n%s", res.body)
	}
	if !auditOutcome(t, a, "password.change", id, "success", "reason", "expired") {
		t.Error("the forced change is not audited")
	}
}
