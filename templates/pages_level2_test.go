package templates

import (
	"html/template"
	"strings"
	"testing"
	"time"
)

func level2Samples() []struct {
	name, page string
	data       any
	want       []string
} {
	qr := template.URL("data:image/png;base64,iVBORw0KGgo=")
	when := time.Date(2026, 11, 25, 9, 14, 0, 0, time.UTC)
	return []struct {
		name, page string
		data       any
		want       []string
	}{
		{"method-push", PageMethod, MethodPage{Service: svc, CSRF: "tok", Action: "/login/method?flow=x", Preferred: OpPush},
			[]string{`value="push">`, `value="totp">`, `value="cancel"`}},
		{"method-totp", PageMethod, MethodPage{Service: svc, CSRF: "tok", Action: "/login/method?flow=x", Preferred: OpTOTP},
			[]string{`btn-primary" type="submit" name="op" value="totp"`}},
		{"push", PagePush, PushPage{Service: svc, CSRF: "tok", Action: "/login/push/done?flow=x", PollURL: "/login/push?flow=x", Number: 47, DeviceName: "Telefono <b>"},
			[]string{`data-push-poll="/login/push?flow=x"`, `aria-label="`, `: 47"`, `>47<`, `/static/push.js`, `Telefono &lt;b&gt;`, `value="totp"`, `value="submit"`}},
		{"push-pending", PagePush, PushPage{Service: svc, CSRF: "tok", Action: "/a", PollURL: "/p", Number: 12, StillPending: true}, []string{`aria-live="polite"`}},
		{"push-expired", PagePush, PushPage{Service: svc, CSRF: "tok", Action: "/a", Expired: true}, []string{`value="retry"`, `value="totp"`, `role="alert"`}},
		{"push-toomany", PagePush, PushPage{Service: svc, CSRF: "tok", Action: "/a", TooMany: true}, []string{`value="totp"`, `role="alert"`}},
		{"activate", PageActivate, ActivatePage{Service: svc, CSRF: "tok", Action: "/login/activate?flow=x", QR: qr,
			URI: "otpauth://totp/Esempio:mario?secret=ABC&issuer=Esempio", Secret: "ABCDEFGH", ActivationCode: "ABCD-EFGH-JKMN"},
			[]string{`src="data:image/png;base64,iVBORw0KGgo="`, `ABCD-EFGH-JKMN`, `name="device_name"`, `autocomplete="one-time-code"`, `inputmode="numeric"`}},
		{"activate-failed", PageActivate, ActivatePage{Service: svc, CSRF: "tok", Action: "/a", QR: qr, Secret: "X", AppClaimed: true, Failed: true, AttemptsLeft: 2},
			[]string{`aria-invalid="true"`, `id="otp-error"`}},
		{"activate-offer", PageActivateOffer, ActivateOfferPage{Service: svc, CSRF: "tok", Action: "/login/activate/start?flow=x", PhoneLast3: "567",
			SPAction: "https://sp.example.it/acs", SPFields: []Field{{"SAMLResponse", "PHg+"}, {"RelayState", "r"}}},
			[]string{`567`, `action="https://sp.example.it/acs"`, `name="SAMLResponse" value="PHg+"`}},
		{"devices", PageDevices, DevicesPage{CSRF: "tok", Action: "/account/devices", Name: "Mario Rossi", Revoked: "Vecchio",
			Devices: []Device{{ID: "d1", Name: "Telefono", Kind: "totp", Status: "active", Created: when, LastUsed: when},
				{ID: "d2", Kind: "push", Status: "revoked", Created: when}}},
			[]string{`name="device" value="d1"`, `value="revoke"`, `role="status"`}},
		{"devices-none", PageDevices, DevicesPage{CSRF: "tok", Action: "/account/devices", Name: "Mario Rossi"}, nil},
		{"devices-nosession", PageDevices, DevicesPage{}, nil},
		{"device-add-login", PageDeviceAdd, DeviceAddPage{Step: DeviceAddLogin, CSRF: "tok", LoginAction: "/account/login", Next: "/account/devices/add"},
			[]string{`action="/account/login"`, `name="next" value="/account/devices/add"`}},
		{"device-add-reauth", PageDeviceAdd, DeviceAddPage{Step: DeviceAddReauth, CSRF: "tok", LoginAction: "/account/login", Next: "/account/devices/add"},
			[]string{`name="next"`}},
		{"device-add-start", PageDeviceAdd, DeviceAddPage{Step: DeviceAddStart, CSRF: "tok", Action: "/account/devices/add", PhoneLast3: "567", Problem: "toomany"},
			[]string{`value="send"`, `567`, `role="alert"`}},
		{"device-add-nomobile", PageDeviceAdd, DeviceAddPage{Step: DeviceAddNoMobile}, []string{`href="/care/"`}},
		{"device-add-cooldown", PageDeviceAdd, DeviceAddPage{Step: DeviceAddCooldown, PhoneLast3: "567", CooldownDate: "08/12/2026", CooldownTime: "09:30"},
			[]string{`08/12/2026`, `09:30`}},
		{"device-add-code", PageDeviceAdd, DeviceAddPage{Step: DeviceAddCode, CSRF: "tok", Action: "/account/devices/add", PhoneLast3: "567", Problem: "wrong", TriesLeft: 2},
			[]string{`value="check"`, `value="resend"`, `value="cancel"`, `aria-invalid="true"`, `autocomplete="one-time-code"`}},
		{"device-add-activate", PageDeviceAdd, DeviceAddPage{Step: DeviceAddActivate, CSRF: "tok", Action: "/account/devices/add", QR: qr,
			URI: "otpauth://totp/Esempio:mario?secret=ABC&issuer=Esempio", Secret: "ABCDEFGH", ActivationCode: "ABCD-EFGH-JKMN", DeviceName: "Telefono <b>"},
			[]string{`ABCD-EFGH-JKMN`, `value="activate"`, `Telefono &lt;b&gt;`, `src="data:image/png;base64,iVBORw0KGgo="`}},
		{"device-add-done", PageDeviceAdd, DeviceAddPage{Step: DeviceAddDone, Added: "Telefono", Push: true, DevicesURL: "/account/devices", HomeURL: "/account/"},
			[]string{`role="status"`, `href="/account/devices"`, `Telefono`}},
	}
}

func TestLevel2Pages(t *testing.T) {
	r := newRenderer(t)
	titles := map[string]string{}
	for _, lang := range Languages {
		for _, s := range level2Samples() {
			t.Run(lang+"/"+s.name, func(t *testing.T) {
				res, body := render(t, r, s.page, lang, 200, s.data)
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Error("no Cache-Control: no-store")
				}
				if n := len(reH1.FindAllString(body, -1)); n != 1 {
					t.Errorf("%d h1 elements", n)
				}
				if m := reUnresolved.FindString(body); m != "" {
					t.Errorf("unresolved placeholder %s", m)
				}
				if strings.Contains(body, "ZgotmplZ") {
					t.Error("a value was refused by the escaper (ZgotmplZ)")
				}
				if strings.Contains(body, `autocomplete="off"`) {
					t.Error(`autocomplete="off"`)
				}
				checkCSPClean(t, s.name, body)
				for _, f := range reForm.FindAllStringSubmatch(body, -1) {
					toSP := strings.HasPrefix(f[1], "https://sp.example.it/")
					if hasCSRF := strings.Contains(f[2], `name="csrf_token"`); toSP == hasCSRF {
						t.Errorf("form to %s: CSRF field %v", f[1], hasCSRF)
					}
				}
				for _, w := range s.want {
					if !strings.Contains(body, w) {
						t.Errorf("page lacks %q", w)
					}
				}
				m := reTitle.FindStringSubmatch(body)
				if m == nil {
					t.Fatal("no title")
				}
				if other, ok := titles[lang+m[1]]; ok && other != s.page {
					t.Errorf("title %q shared with page %s (U015)", m[1], other)
				}
				titles[lang+m[1]] = s.page
			})
		}
	}
	// The level-2 titles differ from every other page's.
	for _, lang := range Languages {
		for _, s := range samples() {
			_, body := render(t, r, s.page, lang, s.status, s.data)
			if m := reTitle.FindStringSubmatch(body); m != nil {
				if p, ok := titles[lang+m[1]]; ok {
					t.Errorf("%s: title %q of %s also used by %s", lang, m[1], p, s.page)
				}
			}
		}
	}
}

func TestLevel2StaticFiles(t *testing.T) {
	for _, f := range []string{"static/push.js", "static/level2.css"} {
		b, err := staticFS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another origin", f)
		}
	}
}
