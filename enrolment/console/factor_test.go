package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/storage"
)

// The password alone opens nothing: every console page sends a half-open
// session to the second factor, the care desk's check says "not signed
// in", wrong codes are refused and counted, a used code is not accepted
// twice (security.md E.1, the probe's "password only" finding).
func TestConsoleLoginWithoutSecondFactorRefused(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "vera", enrolment.RoleVerifier)
	b := f.browser(t)
	p := b.password("vera")
	if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/console/factor") || !strings.Contains(p.body, `autocomplete="one-time-code"`) {
		t.Fatalf("after the password: %d %s\n%s", p.status, p.url, p.body)
	}
	for _, path := range []string{"/console/", "/console/queue", "/console/find"} {
		if p := b.get(path); !strings.HasSuffix(p.url.Path, "/console/factor") || strings.Contains(p.body, "Coda di verifica") {
			t.Errorf("%s with the password only: %s", path, p.url)
		}
	}
	// The care desk trusts only full sessions.
	req := httptest.NewRequest("GET", "/console/care/", nil)
	u, _ := url.Parse(f.srv.URL)
	for _, ck := range b.c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	if _, ok := f.console.Operator(req); ok {
		t.Error("the care desk accepts a session without the second factor")
	}
	// A wrong code: 401, the factor page again, audited.
	wrong := []byte(otp.Code(totpSeed, f.clk.Now()))
	wrong[5] = '0' + (wrong[5]-'0'+1)%10
	if p := b.submit(b.get("/console/factor"), "/console/factor/totp", url.Values{"otp": {string(wrong)}}); p.status != http.StatusUnauthorized ||
		!strings.Contains(p.body, "Codice errato o già usato") {
		t.Fatalf("wrong code: %d", p.status)
	}
	// The right code: in, with a new session ID.
	before := b.c.Jar.Cookies(u)
	p = b.submit(b.get("/console/factor"), "/console/factor/totp", url.Values{"otp": {otp.Code(totpSeed, f.clk.Now())}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Coda di verifica") {
		t.Fatalf("right code: %d %s", p.status, p.url)
	}
	if after := b.c.Jar.Cookies(u); len(after) == 0 || len(before) == 0 || after[0].Value == before[0].Value {
		t.Error("the second factor kept the half-open session's ID")
	}
	if _, ok := f.console.Operator(cookieRequest(b, u)); !ok {
		t.Error("the care desk does not see the signed-in operator")
	}
	// The same code again, from another browser: refused (no replay).
	other := f.browser(t)
	other.password("vera")
	if p := other.submit(other.get("/console/factor"), "/console/factor/totp", url.Values{"otp": {otp.Code(totpSeed, f.clk.Now())}}); p.status != http.StatusUnauthorized {
		t.Errorf("replayed code: %d", p.status)
	}
	// Five refusals end the half-open session: the password again.
	var last page
	for range maxFactorTries - 1 {
		last = other.submit(other.get("/console/factor"), "/console/factor/totp", url.Values{"otp": {string(wrong)}})
	}
	if !strings.HasSuffix(last.url.Path, "/console/factor/totp") || !strings.Contains(last.body, `autocomplete="current-password"`) {
		t.Errorf("after %d wrong codes: %d %s", maxFactorTries, last.status, last.url)
	}
	if p := other.get("/console/queue"); !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Errorf("half-open session alive after the tries: %s", p.url)
	}
	for action, want := range map[string]string{"console.factor": "failure", "console.login.password": "success", "console.login": "success"} {
		found := false
		for _, ev := range f.audits(t, action) {
			found = found || ev.Outcome == want
		}
		if !found {
			t.Errorf("no audit record %s/%s", action, want)
		}
	}
}

func cookieRequest(b *browser, u *url.URL) *http.Request {
	req := httptest.NewRequest("GET", "/console/care/", nil)
	for _, ck := range b.c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	return req
}

var secretRE = regexp.MustCompile(`<code class="totp-secret">([A-Z2-7]+)</code>`)

// An operator without a factor enrols one with the supervisor's one-time
// code: the code works once (a second browser cannot use it), the TOTP
// fallback is set up with a code from the app, and the next login asks
// for the factor, not the code.
func TestConsoleFactorEnrolmentCodeSingleUseAndTOTPFallback(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "nina", enrolment.RoleVerifier)
	must(t, "no factor yet", f.st.UpdateOperator(t.Context(), "op-nina", func(o storage.Operator) (storage.Operator, error) {
		o.SecondFactor.Factors = nil
		return o, nil
	}))
	b := f.browser(t)
	if p := b.password("nina"); !strings.Contains(p.body, "chiedi a un supervisore") || strings.Contains(p.body, `name="enrol_code"`) {
		t.Fatalf("no code issued yet:\n%s", p.body)
	}
	code, err := f.factors.IssueEnrolCode(t.Context(), "op-nina", "op-sup", false)
	must(t, "issue", err)
	p := b.get("/console/factor")
	if !strings.Contains(p.body, `name="enrol_code"`) {
		t.Fatalf("code page:\n%s", p.body)
	}
	if p := b.submit(p, "/console/factor/code", url.Values{"enrol_code": {"AAAA-BBBB-CCCC"}}); p.status != http.StatusUnauthorized ||
		!strings.Contains(p.body, "Codice di registrazione errato") {
		t.Fatalf("wrong enrolment code: %d", p.status)
	}
	// A second browser signs in with the password at the same time.
	rival := f.browser(t)
	rp := rival.password("nina")
	p = b.submit(b.get("/console/factor"), "/console/factor/code", url.Values{"enrol_code": {code}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Codice accettato") {
		t.Fatalf("right enrolment code: %d\n%s", p.status, p.body)
	}
	// Spent: the rival's form, filled with the same code, is refused.
	if p := rival.submit(rp, "/console/factor/code", url.Values{"enrol_code": {code}}); p.status != http.StatusUnauthorized {
		t.Errorf("enrolment code used twice: %d", p.status)
	}
	// Only an enrolled session may register: the rival cannot.
	if p := rival.get("/console/factor"); strings.Contains(p.body, "totp-secret") {
		t.Error("the rival got the enrolment page")
	}
	// The enrolment page: the QR code and the key by hand (no passkeys on
	// an IP address), then the app's code.
	p = b.get("/console/factor")
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page:\n%s", p.body)
	}
	seed, err := otp.DecodeSeed(m[1])
	must(t, "seed", err)
	p = b.submit(p, "/console/factor/enrol-totp", url.Values{"otp": {otp.Code(seed, f.clk.Now())}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Coda di verifica") {
		t.Fatalf("TOTP enrolment: %d\n%s", p.status, p.body)
	}
	op, err := f.st.GetOperator(t.Context(), "op-nina")
	must(t, "operator", err)
	if len(op.SecondFactor.Factors) != 1 || op.SecondFactor.Factors[0].Kind != storage.FactorTOTP || op.SecondFactor.EnrolCodeHash != "" {
		t.Fatalf("stored: %+v", op.SecondFactor)
	}
	// Next login: the app's code, no enrolment code asked.
	f.clk.Advance(time.Minute)
	nb := f.browser(t)
	p = nb.password("nina")
	if strings.Contains(p.body, `name="enrol_code"`) || !strings.Contains(p.body, `action="/console/factor/totp"`) {
		t.Fatalf("second login asks for:\n%s", p.body)
	}
	if p := nb.submit(p, "/console/factor/totp", url.Values{"otp": {otp.Code(seed, f.clk.Now())}}); !strings.Contains(p.body, "Coda di verifica") {
		t.Fatalf("login with the enrolled app: %d", p.status)
	}
	seen := map[string]bool{}
	for _, a := range []string{"console.factor.enrol_code", "console.factor.register", "console.factor"} {
		for _, ev := range f.audits(t, a) {
			seen[a+"/"+ev.Outcome] = true
		}
	}
	for _, want := range []string{"console.factor.enrol_code/failure", "console.factor.enrol_code/success", "console.factor.register/success", "console.factor/success"} {
		if !seen[want] {
			t.Errorf("no audit record %s", want)
		}
	}
}

// Operator sessions: 15 minutes idle, 8 hours absolute however active, 10
// minutes between password and factor; the state is in the shared store
// (here the fixture's), checked with the settable clock.
func TestConsoleSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "vera", enrolment.RoleVerifier)
	b := f.browser(t)
	b.login("vera")
	f.clk.Advance(SessionIdle - time.Minute)
	if p := b.get("/console/queue"); !strings.Contains(p.body, "Coda di verifica") {
		t.Fatalf("14 idle minutes: %s", p.url)
	}
	f.clk.Advance(SessionIdle + time.Second)
	if p := b.get("/console/queue"); !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Fatalf("15 idle minutes: still in at %s", p.url)
	}
	// Absolute: active every 10 minutes, out after 8 hours.
	b.login("vera")
	start := f.clk.Now()
	for f.clk.Now().Sub(start) < SessionLifetime-10*time.Minute {
		f.clk.Advance(10 * time.Minute)
		if p := b.get("/console/queue"); !strings.Contains(p.body, "Coda di verifica") {
			t.Fatalf("active session out after %s", f.clk.Now().Sub(start))
		}
	}
	f.clk.Set(start.Add(SessionLifetime + time.Second))
	if p := b.get("/console/queue"); !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Fatalf("session alive after 8 hours: %s", p.url)
	}
	// Between password and factor: 10 minutes.
	b.password("vera")
	f.clk.Advance(PreFactorLifetime + time.Second)
	if p := b.get("/console/factor"); !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Fatalf("half-open session alive after 10 minutes: %s", p.url)
	}
	reasons := map[string]bool{}
	for _, ev := range f.audits(t, "console.session_expired") {
		reasons[ev.Details["reason"]] = true
	}
	for _, want := range []string{"idle", "absolute limit", "second factor not given in time"} {
		if !reasons[want] {
			t.Errorf("no audit record of the %q expiry (%v)", want, reasons)
		}
	}
}

// A care agent signed in goes to the care desk, not to a 403.
func TestConsoleHomeSendsCareAgentsToTheDesk(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "carla", enrolment.RoleCareAgent)
	b := f.browser(t)
	b.login("carla")
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Get(f.srv.URL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/care/" {
		t.Errorf("care agent's home: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// A supervisor issues a new enrolment code from the console (a lost key):
// the factors go, the code is shown once and works; nobody else may, and
// a supervisor never resets their own factor (S089: 403 with a page).
func TestConsoleSupervisorResetsAFactor(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "sara", enrolment.RoleSupervisor)
	f.operator(t, "vera", enrolment.RoleVerifier)
	v := f.browser(t)
	p := v.login("vera")
	if strings.Contains(p.body, `href="/console/operators"`) {
		t.Error("a verifier is offered the operators' page")
	}
	if p := v.get("/console/operators"); p.status != http.StatusForbidden || !strings.Contains(p.body, "Azione non consentita") {
		t.Errorf("verifier on the operators' page: %d", p.status)
	}
	_, hv := v.form(v.get("/console/queue"), "/console/logout")
	hv.Set("reason", "x")
	if p := v.postNoFollow(f.srv.URL+"/console/operators/op-sara/reset-factor", hv); p.status != http.StatusForbidden {
		t.Errorf("verifier resetting: %d", p.status)
	}
	s := f.browser(t)
	s.login("sara")
	p = s.get("/console/operators")
	if p.status != http.StatusOK || !strings.Contains(p.body, "app ×1") || strings.Contains(p.body, "/console/operators/op-sara/reset-factor") {
		t.Fatalf("operators' page:\n%s", p.body)
	}
	if p := s.submit(p, "/console/operators/op-vera/reset-factor", url.Values{"reason": {""}}); p.status != http.StatusBadRequest {
		t.Errorf("reset without a reason: %d", p.status)
	}
	p = s.submit(s.get("/console/operators"), "/console/operators/op-vera/reset-factor", url.Values{"reason": {"telefono perso, ticket 7"}})
	m := regexp.MustCompile(`<code class="totp-secret">([A-Z2-9-]{14})</code>`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("reset: %d\n%s", p.status, p.body)
	}
	op, _ := f.st.GetOperator(t.Context(), "op-vera")
	if len(op.SecondFactor.Factors) != 0 || op.SecondFactor.EnrolCodeBy != "op-sara" {
		t.Fatalf("after reset: %+v", op.SecondFactor)
	}
	// The code shown works for vera's enrolment.
	nb := f.browser(t)
	nb.password("vera")
	if p := nb.submit(nb.get("/console/factor"), "/console/factor/code", url.Values{"enrol_code": {m[1]}}); !strings.Contains(p.body, "Codice accettato") {
		t.Errorf("the issued code: %d", p.status)
	}
	// Own factor: refused.
	_, sv := s.form(s.get("/console/operators"), "/console/logout")
	sv.Set("reason", "x")
	if p := s.postNoFollow(f.srv.URL+"/console/operators/op-sara/reset-factor", sv); p.status != http.StatusForbidden {
		t.Errorf("own reset: %d", p.status)
	}
	var ok, denied int
	for _, ev := range f.audits(t, "operator.factor_code") {
		switch ev.Outcome {
		case "success":
			ok++
			if ev.Actor != "op-sara" || ev.Details["reason"] != "telefono perso, ticket 7" {
				t.Errorf("audit %+v", ev)
			}
		case "denied":
			denied++
		}
	}
	if ok != 1 || denied != 2 {
		t.Errorf("audit: %d issued, %d denied", ok, denied)
	}
}
