package authflow

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

var (
	submitOTP = func(code string) url.Values {
		return url.Values{templates.FieldOTP: {code}, templates.FieldOp: {templates.OpSubmit}}
	}
	op = func(o string) url.Values { return url.Values{templates.FieldOp: {o}} }
)

func wantAnomaly(t *testing.T, o outcome, code spid.Anomaly) {
	t.Helper()
	if o.OK || o.StatusMessage != "ErrorCode "+code.String() {
		t.Fatalf("SP got ok=%v %q, want %s", o.OK, o.StatusMessage, code)
	}
	if o.Identity != "" {
		t.Fatal("a refusal names the citizen")
	}
}

func TestL2TOTPLogin(t *testing.T) {
	h := newL2Harness(t)
	devID, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	b := h.browser()
	p := b.startL2(h.A, 2)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `autocomplete="one-time-code"`) || !strings.Contains(p.Body, `inputmode="numeric"`) {
		t.Fatalf("no OTP page after the password (status %d):\n%s", p.Status, p.Body)
	}
	if !strings.Contains(p.Body, "spid-level2.svg") || strings.Contains(p.Body, PathLoginMethod) {
		t.Error("P03 without the level-2 logo, or offering push without a push device")
	}
	if strings.Contains(p.Body, `value="accept"`) {
		t.Fatal("consent offered before the second factor")
	}
	consent := b.Submit(p, PathLoginOTP, submitOTP(h.code(seed)))
	if !strings.Contains(consent.Body, `value="accept"`) || !strings.Contains(consent.Body, "SPID 2") {
		t.Fatalf("no level-2 consent after the right code (status %d):\n%s", consent.Status, consent.Body)
	}
	o := b.accept(consent, h.A)
	if !o.OK || o.ClassRef != spid.L2.ClassRef() {
		t.Fatalf("SP got ok=%v %q, want SpidL2", o.OK, o.ClassRef)
	}
	if o.SessionIndex != "" || b.Cookie("/", ssoCookie) != "" {
		t.Error("a level-2 login opened an SSO session (spec §7.1)")
	}
	d := h.device(devID)
	if d.LastStep != otp.Step(h.Clock.Now()) || d.LastUsedAt.IsZero() {
		t.Errorf("device not updated: last step %d, used %v", d.LastStep, d.LastUsedAt)
	}
	acts := h.auditActions()
	if !slices.Contains(acts, "login.otp:success") {
		t.Errorf("no login.otp audit record: %v", acts)
	}
	for _, e := range mustAudit(t, h) {
		for k, v := range e.Details {
			if v == h.code(seed) && k != "" {
				t.Errorf("audit record %s carries the code in %s", e.Action, k)
			}
		}
	}
}

func mustAudit(t *testing.T, h *l2harness) []storage.AuditEvent {
	t.Helper()
	evs, err := h.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestL2CodeSingleUse(t *testing.T) {
	h := newL2Harness(t)
	_, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	code := h.code(seed)
	b := h.browser()
	if p := b.Submit(b.startL2(h.A, 2), PathLoginOTP, submitOTP(code)); !strings.Contains(p.Body, `value="accept"`) {
		t.Fatalf("first use refused:\n%s", p.Body)
	}
	// The same code in a new login, even within its 30 s step (S067).
	p := b.Submit(b.startL2(h.A, 2), PathLoginOTP, submitOTP(code))
	if p.Status != http.StatusUnauthorized || strings.Contains(p.Body, `value="accept"`) || !strings.Contains(p.Body, `id="otp-error"`) {
		t.Fatalf("reused code: status %d\n%s", p.Status, p.Body)
	}
	// The next step's code works (the skew window allows +1).
	h.Clock.Advance(otp.Period)
	if p = b.Submit(p, PathLoginOTP, submitOTP(h.code(seed))); !strings.Contains(p.Body, `value="accept"`) {
		t.Fatalf("next code refused:\n%s", p.Body)
	}
}

func TestL2ConcurrentCodeOnce(t *testing.T) {
	h := newL2Harness(t)
	_, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	const n = 8
	pages := make([]page, n)
	browsers := make([]*browser, n)
	for i := range n {
		browsers[i] = h.browser()
		pages[i] = browsers[i].startL2(h.A, 2)
	}
	code := h.code(seed)
	var wg sync.WaitGroup
	results := make([]page, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target, v := browsers[i].Form(pages[i], PathLoginOTP)
			for k, vs := range submitOTP(code) {
				v[k] = vs
			}
			results[i] = browsers[i].Post(target, v)
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		if strings.Contains(r.Body, `value="accept"`) {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent submissions of one code succeeded, want exactly 1 (S069)", won, n)
	}
}

func TestL2WrongCodesEndWithNr19(t *testing.T) {
	h := newL2Harness(t)
	devID, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	b := h.browser()
	p := b.startL2(h.A, 2)
	wrong := []string{"000000", "12ab56", "1234567"}
	if c := h.code(seed); slices.Contains(wrong, c) {
		wrong[0] = "999999"
	}
	for i, c := range wrong[:2] {
		p = b.Submit(p, PathLoginOTP, submitOTP(c))
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, `id="otp-error"`) {
			t.Fatalf("wrong code %d: status %d", i, p.Status)
		}
	}
	if !strings.Contains(p.Body, "1") {
		t.Error("attempts left not shown")
	}
	p = b.Submit(p, PathLoginOTP, submitOTP(wrong[2]))
	wantAnomaly(t, b.rpOutcome(p, h.A), spid.NrCredentialsExhausted)
	if d := h.device(devID); d.FailedAttempts != 3 {
		t.Errorf("device FailedAttempts = %d, want 3", d.FailedAttempts)
	}
	cred, err := h.Store.GetCredential(context.Background(), citizenID)
	if err != nil || cred.FailedAttempts != 3 {
		t.Errorf("account failures = %d (%v), want 3: OTP failures count toward the lock (S070)", cred.FailedAttempts, err)
	}
}

func TestL2OtherDevicesRefused(t *testing.T) {
	h := newL2Harness(t)
	h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	other := &storage.Identity{ID: "other", Username: "other@example.org", Status: storage.IdentityActive,
		Attributes: map[string]string{"name": "Anna"}}
	if err := h.Store.CreateIdentity(context.Background(), *other); err != nil {
		t.Fatal(err)
	}
	_, otherSeed := h.addDevice("other", storage.DeviceTOTP, storage.DeviceActive)
	_, revokedSeed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceRevoked)
	_, pendingSeed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DevicePending)
	for name, seed := range map[string][]byte{"another identity's device": otherSeed, "a revoked device": revokedSeed, "a pending device": pendingSeed} {
		b := h.browser()
		p := b.Submit(b.startL2(h.A, 2), PathLoginOTP, submitOTP(h.code(seed)))
		if p.Status != http.StatusUnauthorized || strings.Contains(p.Body, `value="accept"`) {
			t.Errorf("code of %s accepted (status %d)", name, p.Status)
		}
	}
}

func TestL2SessionRules(t *testing.T) {
	h := newL2Harness(t)
	_, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	b := h.browser()
	// C160: an L2 login without a session creates none.
	b.accept(b.Submit(b.startL2(h.A, 2), PathLoginOTP, submitOTP(h.code(seed))), h.A)
	if p := b.start(h.B, 1); !strings.Contains(p.Body, `name="password"`) {
		t.Fatal("an L1 request after an L2 login reused a session")
	}
	// C159: with an L1 session, L2 asks for password and second factor and
	// leaves the session alone.
	b2 := h.browser()
	a := b2.login(h.A, 1)
	sid := b2.Cookie("/", ssoCookie)
	h.Clock.Advance(otp.Period)
	p := b2.startL2(h.B, 2) // fails the test if no password page
	o := b2.accept(b2.Submit(p, PathLoginOTP, submitOTP(h.code(seed))), h.B)
	if !o.OK || o.ClassRef != spid.L2.ClassRef() || o.SessionIndex != "" {
		t.Fatalf("L2 during an L1 session: %+v", o)
	}
	if b2.Cookie("/", ssoCookie) != sid {
		t.Error("the L2 login changed the SSO cookie")
	}
	s, err := h.Eph.GetSession(context.Background(), mustOpenIndex(t, h, a.SessionIndex))
	if err != nil || len(s.Participants) != 1 {
		t.Errorf("L1 session after the L2 login: %v participants, %v", len(s.Participants), err)
	}
}

func mustOpenIndex(t *testing.T, h *l2harness, index string) string {
	t.Helper()
	sid, err := h.Flow.index.open(index)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func TestL2SecondStepCannotConsent(t *testing.T) {
	h := newL2Harness(t)
	h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	b := h.browser()
	p := b.startL2(h.A, 2)
	target, v := b.Form(p, PathLoginOTP)
	u, _ := url.Parse(target)
	u.Path = PathConsent
	v.Set(templates.FieldOp, templates.OpAccept)
	res := b.Post(u.String(), v)
	if res.Status != http.StatusBadRequest || strings.Contains(res.Body, `name="outcome"`) {
		t.Fatalf("consent at the second step: status %d\n%s", res.Status, res.Body)
	}
	// The password form cannot be posted again either.
	u.Path = PathLogin
	v.Set(templates.FieldOp, templates.OpSubmit)
	v.Set(templates.FieldUsername, h.Username)
	v.Set(templates.FieldPassword, h.Password)
	if res := b.Post(u.String(), v); res.Status != http.StatusBadRequest {
		t.Fatalf("password form at the second step: %d", res.Status)
	}
}

func TestL2FormChecks(t *testing.T) {
	h := newL2Harness(t)
	_, seed := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	b := h.browser()
	p := b.startL2(h.A, 2)
	target, v := b.Form(p, PathLoginOTP)
	v.Set(templates.FieldOTP, h.code(seed))
	v.Set(templates.FieldOp, templates.OpSubmit)
	bad := url.Values{}
	for k, vs := range v {
		bad[k] = vs
	}
	bad.Set(templates.FieldCSRF, "forged")
	if res := b.Post(target, bad); res.Status != http.StatusForbidden {
		t.Errorf("forged CSRF token: %d", res.Status)
	}
	other := h.browser() // the flow is bound to the browser cookie
	if res := other.Post(target, v); res.Status != http.StatusForbidden {
		t.Errorf("flow from another browser: %d", res.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if res := b.Do(req); res.Status != http.StatusForbidden {
		t.Errorf("cross-origin post: %d", res.Status)
	}
	// Nothing was consumed: the right code still works.
	if res := b.Post(target, v); !strings.Contains(res.Body, `value="accept"`) {
		t.Fatalf("code refused after refused forgeries: %d", res.Status)
	}
	// Annulla → nr25.
	p = b.startL2(h.A, 2)
	wantAnomaly(t, b.rpOutcome(b.Submit(p, PathLoginOTP, op(templates.OpCancel)), h.A), spid.NrCancelled)
	// Timeout → nr21.
	p = b.startL2(h.A, 2)
	h.Clock.Advance(11 * time.Minute)
	wantAnomaly(t, b.rpOutcome(b.Submit(p, PathLoginOTP, submitOTP(h.code(seed))), h.A), spid.NrTimeout)
}

func TestL2LanguageSwitchKeepsStep(t *testing.T) {
	h := newL2Harness(t)
	h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	b := h.browser()
	p := b.startL2(h.A, 2)
	m := langLinkRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no language link on P03:\n%s", p.Body)
	}
	en := b.Get(h.Base + strings.ReplaceAll(m[1], "&amp;", "&"))
	if en.Status != http.StatusOK || !strings.Contains(en.Body, `<html lang="en">`) || !strings.Contains(en.Body, `autocomplete="one-time-code"`) {
		t.Fatalf("language switch on P03: %d\n%s", en.Status, en.Body)
	}
}

var langLinkRE = regexpMust(`href="(/login\?flow=[^"]*lang=en)"`)

// ---- push ----

func TestL2PushApproved(t *testing.T) {
	h := newL2Harness(t)
	devID, _, key := h.addPushDevice(citizenID)
	b := h.browser()
	p := b.startL2(h.A, 2)
	if !strings.Contains(p.Body, `value="push"`) || !strings.Contains(p.Body, `value="totp"`) {
		t.Fatalf("no method choice (P02) for a citizen with a push device:\n%s", p.Body)
	}
	p = b.Submit(p, PathLoginMethod, op(templates.OpPush))
	number := pushNumber(t, p)
	if !strings.Contains(p.Body, "/static/push.js") || !strings.Contains(p.Body, `value="totp"`) {
		t.Error("P04 without its script or the code fallback")
	}
	ch := h.pendingChallenge(devID)
	if ch.Number != 0 || !slices.Contains(ch.Options[:], number) || ch.SPName != "Servizio A" || ch.Level != 2 {
		t.Fatalf("challenge seen by the app: %+v (page number %d)", ch, number)
	}
	poll := pollURL(t, h.harness, p)
	if st := pollStatus(t, b, poll); st != push.StatusPending {
		t.Fatalf("poll before the answer: %q", st)
	}
	if other := pollStatus(t, h.browser(), poll); other != "refused" {
		t.Errorf("another browser polled the flow: %q", other)
	}
	// "Ho confermato" before the app answered: still waiting, no failure.
	p = b.Submit(p, PathLoginPushDone, op(templates.OpSubmit))
	if pushNumber(t, p) != number {
		t.Fatal("P04 lost the number")
	}
	if err := h.decide(devID, key, ch.ID, true, number); err != nil {
		t.Fatal(err)
	}
	if st := pollStatus(t, b, poll); st != push.StatusApproved {
		t.Fatalf("poll after approval: %q", st)
	}
	consent := b.Submit(p, PathLoginPushDone, op(templates.OpSubmit))
	if !strings.Contains(consent.Body, `value="accept"`) {
		t.Fatalf("no consent after approval:\n%s", consent.Body)
	}
	// The same approval does not complete a second login from an old page.
	if again := b.Submit(p, PathLoginPushDone, op(templates.OpSubmit)); strings.Contains(again.Body, `value="accept"`) {
		t.Fatal("one approval completed the step twice")
	}
	o := b.accept(consent, h.A)
	if !o.OK || o.ClassRef != spid.L2.ClassRef() {
		t.Fatalf("push login: %+v", o)
	}
	if !slices.Contains(h.auditActions(), "login.push:success") {
		t.Error("no login.push audit record")
	}
}

func pollStatus(t *testing.T, b *browser, u string) string {
	t.Helper()
	res := b.Get(u)
	var v struct{ Status string }
	if err := json.Unmarshal([]byte(res.Body), &v); err != nil {
		t.Fatalf("poll answer %d %q: %v", res.Status, res.Body, err)
	}
	if strings.Contains(res.Body, "number") {
		t.Error("the poll answer reveals the number")
	}
	return v.Status
}

func TestL2PushRefused(t *testing.T) {
	for _, c := range []struct {
		name    string
		approve bool
		number  func(n int, opts [3]int) int
	}{
		{"wrong number", true, func(n int, opts [3]int) int {
			for _, o := range opts {
				if o != n {
					return o
				}
			}
			return 0
		}},
		{"denied", false, func(n int, _ [3]int) int { return 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newL2Harness(t)
			devID, seed, key := h.addPushDevice(citizenID)
			b := h.browser()
			p := b.Submit(b.startL2(h.A, 2), PathLoginMethod, op(templates.OpPush))
			n := pushNumber(t, p)
			ch := h.pendingChallenge(devID)
			err := h.decide(devID, key, ch.ID, c.approve, c.number(n, ch.Options))
			if c.approve && err == nil {
				t.Fatal("approval with a wrong number accepted")
			}
			back := b.Submit(p, PathLoginPushDone, op(templates.OpSubmit))
			if !strings.Contains(back.Body, `name="password"`) || !strings.Contains(back.Body, `role="alert"`) {
				t.Fatalf("refusal did not lead back to P01 with the error (status %d):\n%s", back.Status, back.Body)
			}
			// The second-step page is dead: its code fallback does not skip
			// the password (a denial ends the attempt).
			if res := b.Submit(p, PathLoginPushDone, op(templates.OpTOTP)); res.Status != http.StatusBadRequest {
				t.Fatalf("old P04 after a denial: %d", res.Status)
			}
			// The flow goes on from P01 with one failure counted.
			p2 := b.Submit(back, PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {h.Password},
				templates.FieldOp: {templates.OpSubmit}})
			p2 = b.Submit(p2, PathLoginMethod, op(templates.OpTOTP))
			p2 = b.Submit(p2, PathLoginOTP, submitOTP("000000"))
			if p2.Status != http.StatusUnauthorized {
				t.Fatalf("wrong code after the denial: %d", p2.Status)
			}
			// Denial + wrong code + this = 3 failures → nr19.
			wantAnomaly(t, b.rpOutcome(b.Submit(p2, PathLoginOTP, submitOTP("000001")), h.A), spid.NrCredentialsExhausted)
			_ = seed
		})
	}
}

func TestL2PushExpired(t *testing.T) {
	h := newL2Harness(t)
	devID, seed, key := h.addPushDevice(citizenID)
	b := h.browser()
	p := b.Submit(b.startL2(h.A, 2), PathLoginMethod, op(templates.OpPush))
	n := pushNumber(t, p)
	ch := h.pendingChallenge(devID)
	h.Clock.Advance(push.DefaultTTL + time.Second)
	if err := h.decide(devID, key, ch.ID, true, n); err == nil {
		t.Fatal("approval after expiry accepted")
	}
	if st := pollStatus(t, b, pollURL(t, h.harness, p)); st != push.StatusExpired {
		t.Fatalf("poll after expiry: %q", st)
	}
	p = b.Submit(p, PathLoginPushDone, op(templates.OpSubmit))
	if !strings.Contains(p.Body, `value="retry"`) || strings.Contains(p.Body, `value="accept"`) {
		t.Fatalf("expired push: no retry offered:\n%s", p.Body)
	}
	// No failure was counted: three wrong codes are still needed for nr19,
	// and the fallback code works.
	p = b.Submit(p, PathLoginPushDone, op(templates.OpTOTP))
	p = b.Submit(p, PathLoginOTP, submitOTP("000000"))
	p = b.Submit(p, PathLoginOTP, submitOTP("000001"))
	if p.Status != http.StatusUnauthorized {
		t.Fatalf("second wrong code: %d", p.Status)
	}
	if c := b.Submit(p, PathLoginOTP, submitOTP(h.code(seed))); !strings.Contains(c.Body, `value="accept"`) {
		t.Fatal("the code fallback after an expired push was refused")
	}
}

func TestL2PushRetryAndLimit(t *testing.T) {
	h := newL2Harness(t)
	devID, _, _ := h.addPushDevice(citizenID)
	b := h.browser()
	p := b.Submit(b.startL2(h.A, 2), PathLoginMethod, op(templates.OpPush))
	first := h.pendingChallenge(devID)
	// A new request replaces the pending one for the app.
	p = b.Submit(p, PathLoginPushDone, op(templates.OpRetry))
	second := h.pendingChallenge(devID)
	if first.ID == second.ID {
		t.Fatal("retry did not create a new challenge")
	}
	p = b.Submit(p, PathLoginPushDone, op(templates.OpRetry))
	// The 4th in 10 minutes is refused (S084) and only codes are offered.
	p = b.Submit(p, PathLoginPushDone, op(templates.OpRetry))
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, `value="totp"`) || pushNumberRE.MatchString(p.Body) {
		t.Fatalf("4th push: status %d\n%s", p.Status, p.Body)
	}
	// Switching to codes cancels the pending request in the app.
	b2 := h.browser()
	p = b2.Submit(b2.startL2(h.B, 2), PathLoginMethod, op(templates.OpTOTP))
	if !strings.Contains(p.Body, `autocomplete="one-time-code"`) || !strings.Contains(p.Body, PathLoginMethod) {
		t.Fatalf("P03 after choosing codes should link back to P02:\n%s", p.Body)
	}
}

// ---- activation ----

func TestL2ActivationInLogin(t *testing.T) {
	h := newL2Harness(t)
	b := h.browser()
	offer := b.startL2(h.A, 2)
	if !strings.Contains(offer.Body, "567") || h.SMS.count() != 0 {
		t.Fatalf("activation offer: %d SMS sent before the citizen asked; page:\n%s", h.SMS.count(), offer.Body)
	}
	p := b.Submit(offer, PathLoginActivateStart, op(templates.OpSubmit))
	to, smsCode, _ := h.SMS.last(t)
	if to != "+393331234567" || !strings.Contains(p.Body, "567") {
		t.Fatalf("activation SMS to %q; page:\n%s", to, p.Body)
	}
	// Resend gives a new code; the replaced one counts as a wrong code.
	p = b.Submit(p, PathLoginOTP, op(templates.OpResend))
	_, newCode, sent := h.SMS.last(t)
	if sent != 2 {
		t.Fatalf("%d SMS sent, want 2", sent)
	}
	wrongCode := smsCode
	if wrongCode == newCode {
		wrongCode = "000000"
	}
	if res := b.Submit(p, PathLoginOTP, submitOTP(wrongCode)); res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, `id="otp-error"`) {
		t.Fatalf("the replaced SMS code: %d", res.Status)
	}
	act := b.Submit(p, PathLoginOTP, submitOTP(newCode))
	if !strings.Contains(act.Body, `src="data:image/png;base64,`) || !strings.Contains(act.Body, "otpauth://totp/") {
		t.Fatalf("no activation page after the SMS code (status %d):\n%s", act.Status, act.Body)
	}
	m := secretRE.FindStringSubmatch(act.Body)
	if m == nil {
		t.Fatal("no key on the activation page")
	}
	seed, err := otp.DecodeSeed(m[1])
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := h.Store.ListDevices(context.Background(), citizenID)
	if len(devs) != 1 || devs[0].Status != storage.DevicePending || strings.Contains(string(devs[0].Secret), string(seed)) {
		t.Fatalf("devices after the SMS step: %+v", devs)
	}
	// A wrong first code: the device stays pending.
	act = b.Submit(act, PathLoginActivate, url.Values{templates.FieldOTP: {"000000"}, templates.FieldDeviceName: {"Mio telefono"}, templates.FieldOp: {templates.OpSubmit}})
	if act.Status != http.StatusUnauthorized || h.device(devs[0].ID).Status != storage.DevicePending {
		t.Fatalf("wrong first code: %d", act.Status)
	}
	// Two failures so far (old SMS code, wrong first code): one try left.
	consent := b.Submit(act, PathLoginActivate, url.Values{templates.FieldOTP: {otp.Code(seed, h.Clock.Now())},
		templates.FieldDeviceName: {"Mio telefono"}, templates.FieldOp: {templates.OpSubmit}})
	if !strings.Contains(consent.Body, `value="accept"`) {
		t.Fatalf("no consent after activation (status %d):\n%s", consent.Status, consent.Body)
	}
	d := h.device(devs[0].ID)
	if d.Status != storage.DeviceActive || d.Name != "Mio telefono" {
		t.Fatalf("device after activation: %+v", d)
	}
	o := b.accept(consent, h.A)
	if !o.OK || o.ClassRef != spid.L2.ClassRef() {
		t.Fatalf("activation login: %+v", o)
	}
	acts := h.auditActions()
	for _, want := range []string{"device.activation.sms:success", "device.create:success", "device.activate:success", "device.activate:failure"} {
		if !slices.Contains(acts, want) {
			t.Errorf("no %s audit record: %v", want, acts)
		}
	}
	// The next level-2 login uses the new app.
	h.Clock.Advance(otp.Period)
	if p := b.Submit(b.startL2(h.A, 2), PathLoginOTP, submitOTP(otp.Code(seed, h.Clock.Now()))); !strings.Contains(p.Body, `value="accept"`) {
		t.Fatal("the activated app's code is refused")
	}
}

func TestL2ActivationCancelled(t *testing.T) {
	h := newL2Harness(t)
	b := h.browser()
	p := b.Submit(b.startL2(h.A, 2), PathLoginActivateStart, op(templates.OpSubmit))
	_, code, _ := h.SMS.last(t)
	act := b.Submit(p, PathLoginOTP, submitOTP(code))
	wantAnomaly(t, b.rpOutcome(b.Submit(act, PathLoginActivate, op(templates.OpCancel)), h.A), spid.NrCancelled)
	if devs, _ := h.Store.ListDevices(context.Background(), citizenID); len(devs) != 0 {
		t.Fatalf("pending device kept after cancel: %+v", devs)
	}
}

func TestL2ActivationDeclined(t *testing.T) {
	h := newL2Harness(t)
	b := h.browser()
	offer := b.startL2(h.A, 2)
	// Going back to the service: the SP reads nr20, nothing was sent.
	wantAnomaly(t, b.rpOutcome(offer, h.A), spid.NrLevelUnavailable)
	if h.SMS.count() != 0 {
		t.Fatal("an SMS was sent without the citizen asking")
	}
	// The offer survives a language switch without sending anything.
	m := langLinkRE.FindStringSubmatch(offer.Body)
	if m == nil {
		t.Fatal("no language link on the offer")
	}
	if en := b.Get(h.Base + strings.ReplaceAll(m[1], "&amp;", "&")); !strings.Contains(en.Body, PathLoginActivateStart) || h.SMS.count() != 0 {
		t.Fatalf("offer in English: %d\n%s", en.Status, en.Body)
	}
	// SMS limits: three sends per transaction (S071).
	p := b.Submit(offer, PathLoginActivateStart, op(templates.OpSubmit))
	p = b.Submit(p, PathLoginOTP, op(templates.OpResend))
	p = b.Submit(p, PathLoginOTP, op(templates.OpResend))
	if !strings.Contains(p.Body, `value="resend"`) {
		t.Fatal("resend not offered within the limit")
	}
	p = b.Submit(p, PathLoginOTP, op(templates.OpResend))
	if p.Status != http.StatusTooManyRequests || strings.Contains(p.Body, `value="resend"`) {
		t.Fatalf("4th SMS: status %d", p.Status)
	}
	if _, _, n := h.SMS.last(t); n != otp.MaxSendsPerTx {
		t.Fatalf("%d SMS sent, want %d", n, otp.MaxSendsPerTx)
	}
}

func TestL2NoMobileNr20(t *testing.T) {
	h := newL2Harness(t)
	err := h.Store.UpdateIdentity(context.Background(), citizenID, func(id storage.Identity) (storage.Identity, error) {
		delete(id.Attributes, "mobilePhone")
		return id, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	p := b.startL2(h.A, 2)
	wantAnomaly(t, b.rpOutcome(p, h.A), spid.NrLevelUnavailable)
}

func TestL2NotConfiguredNr20(t *testing.T) {
	h := newHarness(t) // no Level2 options
	b := h.browser()
	p := b.startL2(h.A, 2)
	wantAnomaly(t, b.rpOutcome(p, h.A), spid.NrLevelUnavailable)
}

// ---- device list ----

func TestDevicesPage(t *testing.T) {
	h := newL2Harness(t)
	devID, _ := h.addDevice(citizenID, storage.DeviceTOTP, storage.DeviceActive)
	otherDev, _ := func() (string, []byte) {
		if err := h.Store.CreateIdentity(context.Background(), storage.Identity{ID: "other", Username: "o@example.org",
			Status: storage.IdentityActive, Attributes: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		return h.addDevice("other", storage.DeviceTOTP, storage.DeviceActive)
	}()
	b := h.browser()
	if p := b.Get(h.Base + PathDevices); strings.Contains(p.Body, devID) {
		t.Fatal("devices listed without a session")
	}
	b.login(h.A, 1)
	p := b.Get(h.Base + PathDevices)
	if !strings.Contains(p.Body, `value="`+devID+`"`) || strings.Contains(p.Body, otherDev) {
		t.Fatalf("device list:\n%s", p.Body)
	}
	// Another identity's device cannot be revoked from this session.
	if res := b.Submit(p, PathDevices, url.Values{templates.FieldDevice: {otherDev}, templates.FieldOp: {templates.OpRevoke}}); res.Status != http.StatusNotFound {
		t.Errorf("revoking another identity's device: %d", res.Status)
	}
	if h.device(otherDev).Status != storage.DeviceActive {
		t.Fatal("another identity's device was revoked")
	}
	res := b.Submit(p, PathDevices, url.Values{templates.FieldDevice: {devID}, templates.FieldOp: {templates.OpRevoke}})
	if res.Status != http.StatusOK || !strings.Contains(res.Body, `role="status"`) {
		t.Fatalf("after revoke: %d\n%s", res.Status, res.Body)
	}
	if h.device(devID).Status != storage.DeviceRevoked {
		t.Fatal("device not revoked")
	}
	if !slices.Contains(h.auditActions(), "device.revoke:success") {
		t.Error("no device.revoke audit record")
	}
	// Without CSRF token: refused.
	_, v := b.Form(p, PathDevices)
	v.Del(templates.FieldCSRF)
	v.Set(templates.FieldDevice, devID)
	v.Set(templates.FieldOp, templates.OpRevoke)
	if res := b.Post(h.Base+PathDevices, v); res.Status != http.StatusForbidden {
		t.Errorf("revoke without CSRF: %d", res.Status)
	}
	// With the only device revoked, a level-2 login offers activation again.
	b2 := h.browser()
	if p := b2.startL2(h.A, 2); !strings.Contains(p.Body, "567") {
		t.Fatal("no activation offered once the only device is revoked")
	}
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func TestL2MethodRemembered(t *testing.T) {
	h := newL2Harness(t)
	_, seed, _ := h.addPushDevice(citizenID)
	primary := regexpMust(`btn-primary" type="submit" name="op" value="([a-z]+)"`)
	b := h.browser()
	p := b.startL2(h.A, 2)
	if m := primary.FindStringSubmatch(p.Body); m == nil || m[1] != templates.OpPush {
		t.Fatalf("P02 pre-selects %v, want push", m)
	}
	p = b.Submit(p, PathLoginMethod, op(templates.OpTOTP))
	b.accept(b.Submit(p, PathLoginOTP, submitOTP(h.code(seed))), h.A)
	if m := primary.FindStringSubmatch(b.startL2(h.A, 2).Body); m == nil || m[1] != templates.OpTOTP {
		t.Fatalf("after a code login P02 pre-selects %v, want totp", m)
	}
}
