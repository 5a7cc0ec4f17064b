package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/storage"
)

// portalApp is a demo IdP with the personal area mounted.
func portalApp(t *testing.T) (*App, string, DemoInfo) {
	t.Helper()
	a, ts, info := testApp(t)
	// Build may already mount it; mounting twice would panic.
	if _, pattern := a.Mux.Handler(httptest.NewRequest("GET", portal.PathMetadata, nil)); pattern == "" {
		if _, err := a.SetupPortal(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return a, ts.URL, info
}

// resetTOTP lets the demo citizen's device accept a code of the current
// step again (each step is single use), so a test may log in twice.
func resetTOTP(t *testing.T, a *App) {
	t.Helper()
	err := a.Backends.Store.UpdateDevice(context.Background(), demoDeviceID, func(d storage.Device) (storage.Device, error) {
		d.LastStep = 0
		return d, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// portalLogin logs the demo citizen into the personal area at level 2 with
// password and authenticator code, and returns the portal's home page.
func portalLogin(t *testing.T, a *App, br *browser, base string, info DemoInfo, pw string) page {
	t.Helper()
	resetTOTP(t, a)
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	idpLogin := br.submit(br.get(base+portal.PathHome), portal.PathLogin, nil)
	if !strings.Contains(idpLogin.url.Path, "/sso/redirect") {
		t.Fatalf("portal did not send an AuthnRequest: %s\n%s", idpLogin.url, idpLogin.body)
	}
	otpPage := br.submit(idpLogin, "/login", url.Values{"username": {info.Username}, "password": {pw}, "op": {"submit"}})
	// No consent page for the IdP's own personal area: straight to the
	// transfer page.
	transfer := br.submit(otpPage, "/login/otp", url.Values{"otp": {otp.Code(seed, time.Now())}, "op": {"submit"}})
	if strings.Contains(transfer.body, `value="accept"`) {
		t.Fatalf("the personal area asks consent to send data to itself:\n%s", transfer.body)
	}
	return br.submit(transfer, portal.PathACS, nil)
}

func demoL1Login(t *testing.T, br *browser, base string, info DemoInfo) page {
	t.Helper()
	login := br.submit(br.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"1"}})
	if !strings.Contains(login.body, `name="password"`) {
		// SSO session reused: straight to consent.
		return br.submit(br.submit(login, "/consent", url.Values{"op": {"accept"}}), demo.Prefix+"/acs", nil)
	}
	next := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if !strings.Contains(next.body, `value="accept"`) {
		if strings.Contains(next.body, demo.Prefix+"/acs") {
			// An anomaly page (nr19–nr23): the citizen goes back to the SP.
			return br.submit(next, demo.Prefix+"/acs", nil)
		}
		return next
	}
	return br.submit(br.submit(next, "/consent", url.Values{"op": {"accept"}}), demo.Prefix+"/acs", nil)
}

// TestPortalHistoryNamesRelyingParties: a login at an OpenID relying party
// shows in the access history under the party's name from its trust chain
// (ui.md §8.2: no bare entity identifiers), not as its client_id.
func TestPortalHistoryNamesRelyingParties(t *testing.T) {
	a, base, info := portalApp(t)
	rp := a.demoFed.RP1
	br := newBrowser(t)
	login := br.submit(br.get(rp.ID+"/"), "/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if done := br.submit(consent, "/consent", url.Values{"op": {"accept"}}); !strings.Contains(done.body, "DEMO0000000001") {
		t.Fatalf("OIDC login at %s failed: %d %s\n%s", rp.ID, done.status, done.url, done.body)
	}
	home := portalLogin(t, a, newBrowser(t), base, info, info.Password)
	if !strings.Contains(home.body, `">`+rp.Name+"</td>") {
		t.Errorf("access history does not name %q:\n%s", rp.Name, home.body)
	}
	if !strings.Contains(home.body, `">SPID 1</td>`) {
		t.Errorf("the relying party's line lacks its level:\n%s", home.body)
	}
	if strings.Contains(home.body, `">`+rp.ID+"</td>") {
		t.Errorf("access history shows the bare client_id %s", rp.ID)
	}
}

// TestPortalEndToEnd: level-2 login at the portal, the access history
// shows the demo SP login, password change, suspension (the demo SP then
// gets nr23), reactivation by two supervisors, and the login works again.
func TestPortalEndToEnd(t *testing.T) {
	a, base, info := portalApp(t)
	ctx := context.Background()

	// A login at the demo SP, in another browser, to appear in the history.
	if res := demoL1Login(t, newBrowser(t), base, info); !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("demo SP login failed:\n%s", res.body)
	}

	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	if home.status != http.StatusOK || !strings.Contains(home.body, "Mario Rossi") {
		t.Fatalf("portal home after login: %d %s\n%s", home.status, home.url, home.body)
	}
	if !strings.Contains(home.body, `">`+demo.SPName+"</td>") || !strings.Contains(home.body, `">`+portal.Name+"</td>") {
		t.Errorf("access history lacks the demo SP or portal login:\n%s", home.body)
	}
	if !strings.Contains(home.body, `">127.0.0.1</td>`) || !strings.Contains(home.body, `">SPID 2</td>`) {
		t.Errorf("access history lacks the client IP or the level:\n%s", home.body)
	}

	// Download my data: attributes, the device without secrets, the history.
	res, err := br.c.Get(base + portal.PathData)
	if err != nil {
		t.Fatal(err)
	}
	var exp portal.Export
	if err := json.NewDecoder(res.Body).Decode(&exp); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if exp.Identity.Attributes["spidCode"] != "DEMO0000000001" || len(exp.Devices) == 0 || len(exp.History) < 2 {
		t.Errorf("export: %+v", exp)
	}

	// Change the password; the old one no longer works at the IdP.
	const newPW = "Nuova-Parola-2027!"
	done := br.submit(home, portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {newPW}})
	if done.status != http.StatusOK || done.url.Query().Get("done") != "password" {
		t.Fatalf("password change: %d %s\n%s", done.status, done.url, done.body)
	}
	info.Password = newPW
	if m, err := (mail.Outbox{Dir: a.Config.Mail.OutboxDir}).Last(demo.CitizenUsername); err != nil || !strings.Contains(m.Subject, "password") {
		t.Errorf("no password-change notice: %+v %v", m, err)
	}

	// Suspend: the portal session ends and the demo SP login gets nr23.
	out := br.submit(done, portal.PathSuspend, url.Values{"confirm": {"yes"}})
	if out.url.Query().Get("done") != "suspended" || strings.Contains(out.body, "Mario Rossi") {
		t.Fatalf("suspension: %s\n%s", out.url, out.body)
	}
	l, err := a.Lifecycle.Get(ctx, demoIdentityID(t, a))
	if err != nil || l.State != storage.IdentitySuspended {
		t.Fatalf("state after suspension: %v %v", l.State, err)
	}
	// In the same browser too: its SSO session is not reused.
	if res := demoL1Login(t, br, base, info); !strings.Contains(res.body, "ErrorCode nr23") {
		t.Fatalf("the SSO session of a suspended identity was reused:\n%s", res.body)
	}
	if res := demoL1Login(t, newBrowser(t), base, info); !strings.Contains(res.body, "ErrorCode nr23") {
		t.Fatalf("demo SP login of a suspended identity did not fail with nr23:\n%s", res.body)
	}

	// Reactivation is customer care's: two supervisors (four eyes).
	id := demoIdentityID(t, a)
	if _, err := a.Lifecycle.Propose(ctx, id, lifecycle.ProposalRequest{Actor: lifecycle.Actor{ID: "operator:anna", Role: lifecycle.RoleSupervisor},
		Event: lifecycle.EventReactivate, Channel: lifecycle.ChannelDesk}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lifecycle.Approve(ctx, id, lifecycle.Actor{ID: "operator:bruno", Role: lifecycle.RoleSupervisor}); err != nil {
		t.Fatal(err)
	}
	if res := demoL1Login(t, newBrowser(t), base, info); !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("demo SP login after reactivation:\n%s", res.body)
	}
}

func demoIdentityID(t *testing.T, a *App) string {
	t.Helper()
	id, err := a.Backends.Store.GetIdentityByUsername(context.Background(), demo.CitizenUsername)
	if err != nil {
		t.Fatal(err)
	}
	return id.ID
}

// TestPortalBadInput: each refusal leaves the identity as it was.
func TestPortalBadInput(t *testing.T) {
	a, base, info := portalApp(t)
	ctx := context.Background()
	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	if !strings.Contains(home.body, "Mario Rossi") {
		t.Fatalf("login failed:\n%s", home.body)
	}
	other := addCitizen(t, a, "lucia.verdi@example.org", "Lucia-Verdi-2026!", map[string]string{
		"spidCode": "DEMO0000000002", "name": "Lucia", "familyName": "Verdi"})
	cred0, _ := a.Backends.Store.GetCredential(ctx, demoIdentityID(t, a))

	cases := []struct {
		name   string
		action string
		form   url.Values
		status int
	}{
		{"wrong current password", portal.PathPassword, url.Values{"current_password": {"nope"}, "new_password": {"Nuova-Parola-2027!"}}, http.StatusBadRequest},
		{"too short", portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {"Ab1!"}}, http.StatusBadRequest},
		{"contains the name", portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {"Mario-Rossi-2027!"}}, http.StatusBadRequest},
		{"same as current", portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {info.Password}}, http.StatusBadRequest},
		{"forged CSRF", portal.PathSuspend, url.Values{"csrf_token": {"forged"}, "confirm": {"yes"}}, http.StatusForbidden},
		{"another identity", portal.PathSuspend, url.Values{"identity": {other.ID}, "confirm": {"yes"}}, http.StatusForbidden},
		{"not confirmed", portal.PathSuspend, url.Values{}, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := br.submit(home, c.action, c.form)
			if got.status != c.status {
				t.Fatalf("status %d, want %d\n%s", got.status, c.status, got.body)
			}
		})
	}
	cred1, _ := a.Backends.Store.GetCredential(ctx, demoIdentityID(t, a))
	if cred1.PasswordHash != cred0.PasswordHash {
		t.Error("a refused form changed the password")
	}
	for _, id := range []string{demoIdentityID(t, a), other.ID} {
		if l, err := a.Lifecycle.Get(ctx, id); err != nil || l.State != storage.IdentityActive {
			t.Errorf("%s: state %v %v after refused forms", id, l.State, err)
		}
	}

	// Without a session (another browser), forms go back to the login.
	anon := newBrowser(t)
	req, _ := http.NewRequest("POST", base+portal.PathSuspend, strings.NewReader("confirm=yes"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got := anon.do(req); strings.Contains(got.body, "Mario") || got.url.Query().Get("done") != "expired" {
		t.Fatalf("form without session: %s\n%s", got.url, got.body)
	}
}

// TestPortalContacts: a new e-mail address through the link sent to it
// (one use), a new mobile number through the SMS code sent to it, each with
// a notice to the old contact.
func TestPortalContacts(t *testing.T) {
	a, base, info := portalApp(t)
	ctx := context.Background()
	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	mails := mail.Outbox{Dir: a.Config.Mail.OutboxDir}

	if got := br.submit(home, portal.PathEmail, url.Values{"email": {"not an address"}}); got.status != http.StatusBadRequest {
		t.Fatalf("bad address: %d", got.status)
	}
	sent := br.submit(home, portal.PathEmail, url.Values{"email": {"mario.nuovo@example.org"}})
	if sent.url.Query().Get("done") != "emailsent" {
		t.Fatalf("e-mail change: %s\n%s", sent.url, sent.body)
	}
	m, err := mails.Last("mario.nuovo@example.org")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`http\S+/account/email/confirm\?t=\w+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no link in %q", m.Text)
	}
	if got := br.get(link); got.url.Query().Get("done") != "email" {
		t.Fatalf("link: %s", got.url)
	}
	if got := br.get(link); got.url.Query().Get("done") != "linkexpired" {
		t.Fatalf("link used twice: %s", got.url)
	}
	id, _ := a.Backends.Store.GetIdentityByUsername(ctx, demo.CitizenUsername)
	if id.Attributes["email"] != "mario.nuovo@example.org" {
		t.Fatalf("email attribute %q", id.Attributes["email"])
	}
	if old, err := mails.Last(demo.CitizenUsername); err != nil || !strings.Contains(old.Subject, "e-mail") {
		t.Errorf("no notice to the old address: %+v %v", old, err)
	}

	home = br.get(base + portal.PathHome)
	if got := br.submit(home, portal.PathMobile, url.Values{"mobile": {"333 12"}}); got.status != http.StatusBadRequest {
		t.Fatalf("bad number: %d", got.status)
	}
	codePage := br.submit(home, portal.PathMobile, url.Values{"mobile": {"+393479876543"}})
	if codePage.url.Query().Get("done") != "mobilesent" || !strings.Contains(codePage.body, portal.PathMobileConfirm) {
		t.Fatalf("mobile change: %s\n%s", codePage.url, codePage.body)
	}
	if got := br.submit(codePage, portal.PathMobileConfirm, url.Values{"otp": {"000000"}}); got.status != http.StatusBadRequest {
		t.Fatalf("wrong code: %d", got.status)
	}
	_, code := lastSMS(t, a, "+393479876543")
	if got := br.submit(codePage, portal.PathMobileConfirm, url.Values{"otp": {code}}); got.url.Query().Get("done") != "mobile" {
		t.Fatalf("code refused: %s\n%s", got.url, got.body)
	}
	id, _ = a.Backends.Store.GetIdentityByUsername(ctx, demo.CitizenUsername)
	if id.Attributes["mobilePhone"] != "+393479876543" {
		t.Fatalf("mobilePhone %q", id.Attributes["mobilePhone"])
	}
	if old, err := (sms.Outbox{Dir: SMSOutboxDir(a.Config)}).Last("+393331234567"); err != nil || !strings.Contains(old.Text, "cambiato") {
		t.Errorf("no notice to the old number: %+v %v", old, err)
	}
	if _, _, err := a.Backends.Eph.GetValue(ctx, portal.MobileCooldownKey(id.ID)); err != nil {
		t.Errorf("no 24-hour cool-down recorded: %v", err)
	}
}

// TestPortalResponseReplay: the Response that opened a session cannot open
// another one (the pending request is used up), nor can it be posted from
// another browser.
func TestPortalResponseReplay(t *testing.T) {
	a, base, info := portalApp(t)
	resetTOTP(t, a)
	seed, _ := otp.DecodeSeed(DemoTOTPSecret())
	br := newBrowser(t)
	idpLogin := br.submit(br.get(base+portal.PathHome), portal.PathLogin, nil)
	otpPage := br.submit(idpLogin, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	transfer := br.submit(otpPage, "/login/otp", url.Values{"otp": {otp.Code(seed, time.Now())}, "op": {"submit"}})

	// Another browser posting the Response first: refused, and the request is spent.
	thief := newBrowser(t)
	if got := thief.submit(transfer, portal.PathACS, nil); strings.Contains(got.body, "Mario Rossi") || got.url.Query().Get("done") != "loginfailed" {
		t.Fatalf("Response accepted from another browser: %s", got.url)
	}
	if got := br.submit(transfer, portal.PathACS, nil); strings.Contains(got.body, "Mario Rossi") {
		t.Fatal("a replayed Response opened a session")
	}
}
