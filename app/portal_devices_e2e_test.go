package app

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/storage"
)

// portalLoginFrom follows the personal area's login form on p (the home
// page or the add-device page) through the IdP at level 2 with the demo
// citizen's app code, back to the portal.
func portalLoginFrom(t *testing.T, a *App, br *browser, p page, info DemoInfo) page {
	t.Helper()
	resetTOTP(t, a)
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	idpLogin := br.submit(p, portal.PathLogin, nil)
	otpPage := br.submit(idpLogin, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	transfer := br.submit(otpPage, "/login/otp", url.Values{"otp": {otp.Code(seed, time.Now())}, "op": {"submit"}})
	return br.submit(transfer, portal.PathACS, nil)
}

// smsCodeTo is the newest SMS code sent to number.
func smsCodeTo(t *testing.T, a *App, number string) string {
	t.Helper()
	msg, code := lastSMS(t, a, number)
	if !strings.Contains(msg.Text, "per attivare l'app") {
		t.Fatalf("no activation code in the SMS %q", msg.Text)
	}
	return code
}

// TestPortalAddDevice: a citizen with an app adds a second one from the
// personal area. The page asks for a level-2 login and comes back to
// itself; an SMS code goes to the registered mobile (a wrong one is
// refused, with the tries left); the seed and the reference app's
// activation code follow; a wrong first code is refused; the reference app
// claims the device and its first code activates it (push kind). The owner
// gets the "new app" e-mail, each step is audited, the device list shows
// two apps, and removing the new one sends the "removed" e-mail. A login
// older than 5 minutes is asked to log in again before any SMS is sent.
func TestPortalAddDevice(t *testing.T) {
	a, base, info := portalApp(t)
	ctx := context.Background()
	id := demoIdentityID(t, a)
	br := newBrowser(t)

	// Without a session: the login, which returns here.
	start := br.get(base + portal.PathDeviceAdd)
	if start.status != http.StatusOK || !strings.Contains(start.body, `name="next" value="/account/devices/add"`) {
		t.Fatalf("add-device page without a session: %d\n%s", start.status, start.body)
	}
	start = portalLoginFrom(t, a, br, start, info)
	if start.url.Path != portal.PathDeviceAdd || !strings.Contains(start.body, `value="send"`) || !strings.Contains(start.body, "567") {
		t.Fatalf("after the login: %d %s\n%s", start.status, start.url, start.body)
	}

	codePage := br.submit(start, portal.PathDeviceAdd, url.Values{"op": {"send"}})
	if codePage.url.Path != portal.PathDeviceAdd || !strings.Contains(codePage.body, `value="check"`) {
		t.Fatalf("after sending the code: %d %s\n%s", codePage.status, codePage.url, codePage.body)
	}
	code := smsCodeTo(t, a, "+393331234567")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	bad := br.submit(codePage, portal.PathDeviceAdd, url.Values{"op": {"check"}, "otp": {wrong}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, `aria-invalid="true"`) || !strings.Contains(bad.body, "Tentativi rimasti") && !strings.Contains(bad.body, "attempts left") {
		t.Fatalf("wrong SMS code: %d\n%s", bad.status, bad.body)
	}
	act := br.submit(bad, portal.PathDeviceAdd, url.Values{"op": {"check"}, "otp": {code}})
	ac := activationCodeRE.FindStringSubmatch(act.body)
	sec := secretRE.FindStringSubmatch(act.body)
	if ac == nil || sec == nil || !strings.Contains(act.body, "data:image/png;base64,") {
		t.Fatalf("no activation step: %d\n%s", act.status, act.body)
	}
	devs, _ := a.Backends.Store.ListDevices(ctx, id)
	var pending string
	for _, d := range devs {
		if d.Status == storage.DevicePending {
			pending = d.ID
		}
	}
	if pending == "" {
		t.Fatalf("no pending device after the SMS code: %+v", devs)
	}

	// The reference app claims it with the activation code.
	app := &authapp.Client{}
	st, err := app.Activate(ctx, base, html.UnescapeString(ac[1]), "Secondo telefono")
	if err != nil {
		t.Fatalf("app activation: %v", err)
	}
	again := br.get(base + portal.PathDeviceAdd)
	if !strings.Contains(again.body, "collegata") && !strings.Contains(again.body, "connected") {
		t.Errorf("the page does not say the app is connected:\n%s", again.body)
	}
	first, _, err := st.OTP(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrongFirst := "123456"
	if first == wrongFirst {
		wrongFirst = "654321"
	}
	badApp := br.submit(again, portal.PathDeviceAdd, url.Values{"op": {"activate"}, "otp": {wrongFirst}, "device_name": {"Secondo telefono"}})
	if badApp.status != http.StatusUnauthorized || !strings.Contains(badApp.body, `id="otp-error"`) || !strings.Contains(badApp.body, `value="Secondo telefono"`) {
		t.Fatalf("wrong first code: %d\n%s", badApp.status, badApp.body)
	}
	done := br.submit(badApp, portal.PathDeviceAdd, url.Values{"op": {"activate"}, "otp": {first}, "device_name": {"Secondo telefono"}})
	if done.status != http.StatusOK || done.url.Query().Get("added") != pending || !strings.Contains(done.body, "Secondo telefono") {
		t.Fatalf("activation: %d %s\n%s", done.status, done.url, done.body)
	}
	d, err := a.Backends.Store.GetDevice(ctx, pending)
	if err != nil || d.Status != storage.DeviceActive || d.Kind != storage.DevicePush || d.Name != "Secondo telefono" {
		t.Fatalf("added device: %+v %v", d, err)
	}
	added := waitMail(t, a, demo.CitizenUsername, "nuova app")
	if !strings.Contains(added.Text, "«Secondo telefono» è stata attivata") || !strings.Contains(added.Text, `"Secondo telefono" was activated`) {
		t.Errorf("device-added e-mail:\n%s", added.Text)
	}
	for _, c := range []struct{ action, target, outcome, key, value string }{
		{"device.activation.sms", portal.PathDeviceAdd, "success", "channel", "personal_area"},
		{"device.activation.sms", portal.PathDeviceAdd, "failure", "reason", "wrong code"},
		{"device.create", pending, "success", "proof", "sms"},
		{"device.activate", pending, "failure", "reason", "wrong code"},
		{"device.activate", pending, "success", "channel", "personal_area"},
		{"alert.email", id, "success", "kind", "device_added"},
	} {
		if !waitAudit(t, a, c.action, c.target, c.outcome, c.key, c.value) {
			t.Errorf("no audit record %+v", c)
		}
	}

	// The list shows both apps; removing the new one tells the owner.
	list := br.get(base + portal.PathDevices)
	if n := strings.Count(list.body, `value="revoke"`); n != 2 {
		t.Fatalf("device list with %d revoke buttons, want 2:\n%s", n, list.body)
	}
	gone := br.submit(list, portal.PathDevices, url.Values{"op": {"revoke"}, "device": {pending}})
	if gone.status != http.StatusOK {
		t.Fatalf("removal: %d\n%s", gone.status, gone.body)
	}
	if removed := waitMail(t, a, demo.CitizenUsername, "rimossa"); !strings.Contains(removed.Text, "«Secondo telefono» è stata rimossa") {
		t.Errorf("device-removed e-mail:\n%s", removed.Text)
	}

	// A login older than 5 minutes: no SMS, the login again.
	ageSession(t, a, br, base, 6*time.Minute)
	before, _ := sms.Outbox{Dir: SMSOutboxDir(a.Config)}.Last("+393331234567")
	old := br.get(base + portal.PathDeviceAdd)
	if !strings.Contains(old.body, `name="next"`) || strings.Contains(old.body, `value="send"`) {
		t.Fatalf("stale login, page:\n%s", old.body)
	}
	// A form kept open from before is refused too.
	stale := br.submit(start, portal.PathDeviceAdd, url.Values{"op": {"send"}})
	if !strings.Contains(stale.body, `name="next"`) {
		t.Fatalf("stale login, send:\n%s", stale.body)
	}
	if after, _ := (sms.Outbox{Dir: SMSOutboxDir(a.Config)}).Last("+393331234567"); after.Text != before.Text {
		t.Error("an SMS went out on a login older than 5 minutes")
	}
	if !waitAudit(t, a, "device.activation.sms", portal.PathDeviceAdd, "denied", "reason", "authentication older than 5 minutes") {
		t.Error("the refusal is not audited")
	}
}

// ageSession moves the personal area session of br back by d.
func ageSession(t *testing.T, a *App, br *browser, base string, d time.Duration) {
	t.Helper()
	u, _ := url.Parse(base + "/")
	var sid string
	for _, c := range br.c.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "portal_session") {
			sid = c.Value
		}
	}
	if sid == "" {
		t.Fatal("no portal session cookie")
	}
	err := a.Backends.Eph.UpdateValue(context.Background(), "portal:session:"+sid, func(b []byte) ([]byte, error) {
		var s map[string]any
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		s["created"] = time.Now().Add(-d).Format(time.RFC3339Nano)
		return json.Marshal(s)
	})
	if err != nil {
		t.Fatal(err)
	}
}
