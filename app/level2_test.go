package app

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/conformance"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/storage"
)

// The conformance suite's level-2 cases against the demo IdP, with the demo
// citizen's TOTP device.
func TestLevel2Conformance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite")
	}
	a, ts, info := tlsApp(t, nil)
	ctx := context.Background()
	if err := a.EnsureDemoDevice(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureDemoDevice(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	opt := suiteOptions(t, a, ts, info, "login-l2-redirect", "login-l2-post", "sso-l2-no-session", "slo-l2")
	opt.Credentials.TOTPSecret = DemoTOTPSecret()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, opt)
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	ran := 0
	for _, r := range rep.Rows {
		ran++
		if r.Status != conformance.Pass {
			t.Errorf("%s %s: %s %s", r.ID, r.Case, r.Status, r.Reason)
		}
	}
	if ran == 0 {
		t.Fatal("no level-2 case ran")
	}
	if t.Failed() {
		t.Log(reportTable(rep))
	}
}

var secretRE = regexp.MustCompile(`<code>([A-Z2-7]+)</code>`)

// activateApp finishes the activation page act of a level-2 login: it
// reads the seed shown for typing, and enters the app's current code under
// deviceName. It returns the next page (consent).
func activateApp(t *testing.T, br *browser, act page, deviceName string) page {
	t.Helper()
	m := secretRE.FindStringSubmatch(act.body)
	if m == nil {
		t.Fatalf("no activation page: %d\n%s", act.status, act.body)
	}
	seed, err := otp.DecodeSeed(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return br.submit(act, "/login/activate", url.Values{"otp": {otp.Code(seed, time.Now())}, "device_name": {deviceName}, "op": {"submit"}})
}

// A citizen without an app activates one during a level-2 login from the
// demo SP, with the SMS code read from the demo outbox, and the SP gets
// SpidL2; the next level-2 login uses the new app.
func TestLevel2ActivationFromOutbox(t *testing.T) {
	a, ts, info := testApp(t)
	withoutDevices(t, a, "demo-citizen")
	br := newBrowser(t)
	home := br.get(ts.URL + "/demo-sp/")
	login := br.submit(home, "/demo-sp/login", url.Values{"level": {"2"}})
	offer := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	smsPage := br.submit(offer, "/login/activate/start", url.Values{"op": {"submit"}})
	if !strings.Contains(smsPage.body, `autocomplete="one-time-code"`) {
		t.Fatalf("no SMS code page: %d\n%s", smsPage.status, smsPage.body)
	}
	msg, code := lastSMS(t, a, "+393331234567")
	if fi, err := os.Stat(msg.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("outbox file mode: %v %v", fi, err)
	}
	act := br.submit(smsPage, "/login/otp", url.Values{"otp": {code}, "op": {"submit"}})
	consent := activateApp(t, br, act, "Telefono")
	transfer := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	result := br.submit(transfer, "/demo-sp/acs", nil)
	if !strings.Contains(result.body, "SPID livello 2") {
		t.Fatalf("demo SP result:\n%s", result.body)
	}
	id, err := a.Backends.Store.GetIdentityByUsername(context.Background(), demo.CitizenUsername)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := a.Backends.Store.ListDevices(context.Background(), id.ID)
	if err != nil || len(devs) != 1 || devs[0].Status != storage.DeviceActive || devs[0].Name != "Telefono" {
		t.Fatalf("devices: %+v %v", devs, err)
	}
	// The demo device is not added next to an active one.
	if err := a.EnsureDemoDevice(context.Background()); err != nil {
		t.Fatal(err)
	}
	if devs, _ := a.Backends.Store.ListDevices(context.Background(), id.ID); len(devs) != 1 {
		t.Fatalf("EnsureDemoDevice added a device to a citizen who has one: %d", len(devs))
	}
}

var (
	activationCodeRE = regexp.MustCompile(`class="activation-code">([0-9A-Z-]+)<`)
	pushNumberRE     = regexp.MustCompile(`<span aria-hidden="true">(\d+)</span>`)
	pollURLRE        = regexp.MustCompile(`data-push-poll="([^"]+)"`)
)

// The reference app end to end: activated from the activation page of a
// level-2 login (SMS code from the outbox, activation code typed into the
// app, first code from the app), then a second level-2 login approved by
// push with number matching.
func TestLevel2ReferenceAppPush(t *testing.T) {
	a, ts, info := testApp(t)
	withoutDevices(t, a, "demo-citizen")
	ctx := context.Background()
	br := newBrowser(t)
	creds := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	start := func() page {
		home := br.get(ts.URL + "/demo-sp/")
		return br.submit(br.submit(home, "/demo-sp/login", url.Values{"level": {"2"}}), "/login", creds)
	}
	finish := func(consent page) {
		t.Helper()
		transfer := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
		if result := br.submit(transfer, "/demo-sp/acs", nil); !strings.Contains(result.body, "SPID livello 2") {
			t.Fatalf("demo SP result:\n%s", result.body)
		}
	}

	smsPage := br.submit(start(), "/login/activate/start", url.Values{"op": {"submit"}})
	_, smsCode := lastSMS(t, a, "+393331234567")
	act := br.submit(smsPage, "/login/otp", url.Values{"otp": {smsCode}, "op": {"submit"}})
	m := activationCodeRE.FindStringSubmatch(act.body)
	if m == nil {
		t.Fatalf("no activation code on the page:\n%s", act.body)
	}
	app := &authapp.Client{}
	st, err := app.Activate(ctx, ts.URL, m[1], "Telefono di prova")
	if err != nil {
		t.Fatal(err)
	}
	code, _, err := st.OTP(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	finish(br.submit(act, "/login/activate", url.Values{"otp": {code}, "op": {"submit"}}))

	// Second login: the app is a push device, so P02 offers push first.
	choice := start()
	p04 := br.submit(choice, "/login/method", url.Values{"op": {"push"}})
	nm := pushNumberRE.FindStringSubmatch(p04.body)
	if nm == nil {
		t.Fatalf("no push page:\n%s", p04.body)
	}
	var number int
	fmt.Sscan(nm[1], &number)
	chs, err := app.Challenges(ctx, st, 0)
	if err != nil || len(chs) != 1 {
		t.Fatalf("app challenges: %v %v", chs, err)
	}
	if !slices.Contains(chs[0].Options[:], number) || chs[0].Level != 2 {
		t.Fatalf("challenge in the app: %+v, page number %d", chs[0], number)
	}
	if err := app.Approve(ctx, st, chs[0].ID, number); err != nil {
		t.Fatal(err)
	}
	poll := br.get(ts.URL + html.UnescapeString(pollURLRE.FindStringSubmatch(p04.body)[1]))
	if !strings.Contains(poll.body, `"approved"`) {
		t.Fatalf("poll: %d %s", poll.status, poll.body)
	}
	finish(br.submit(p04, "/login/push/done", url.Values{"op": {"submit"}}))
}

// withoutDevices deletes an identity's second-factor devices (demo mode
// gives the demo citizen one), for tests of a citizen without an app.
func withoutDevices(t *testing.T, a *App, identityID string) {
	t.Helper()
	ctx := context.Background()
	ds, err := a.Backends.Store.ListDevices(ctx, identityID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := a.Backends.Store.DeleteDevice(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
}
