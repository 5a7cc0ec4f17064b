package care_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
)

func (e *env) identity(t *testing.T) storage.Identity {
	t.Helper()
	id := storage.Identity{ID: "id-1", Username: "mario.rossi@example.it", Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: map[string]string{"name": "Mario", "familyName": "Rossi",
			"fiscalNumber": "TINIT-RSSMRA80A01H501X", "email": "mario.rossi@example.it", "mobilePhone": "+393331234567"},
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateIdentity(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

// E074 and four eyes: the agent suspends only after the caller's check;
// a reactivation proposed by one person is approved by another.
func TestSuspendAndReactivate(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	id := e.identity(t)
	l, err := e.desk.Find(ctx, agent, "rssmra80a01h501x")
	if err != nil || l.ID != id.ID || l.FiscalNumber != "RSSMRA******501X" || l.Email != "m***@example.it" {
		t.Fatalf("find by CF: %+v, %v", l, err)
	}
	if _, err := e.desk.Find(ctx, shop, id.Username); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("shop agent lookup: %v", err)
	}
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", ""); !errors.Is(err, care.ErrCallerNotVerified) {
		t.Errorf("unverified caller: %v", err)
	}
	if _, err := e.desk.Suspend(ctx, shop, id.ID, "phone", "123456"); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("shop agent suspending: %v", err)
	}
	if got, _ := e.store.GetIdentity(ctx, id.ID); got.Status != storage.IdentityActive {
		t.Fatalf("status after refusals: %s", got.Status)
	}
	if _, err := e.desk.SendCallerCode(ctx, agent, id.ID); err != nil {
		t.Fatal(err)
	}
	if lc, err := e.desk.Suspend(ctx, agent, id.ID, "phone", e.callerCode(t)); err != nil || lc.State != storage.IdentitySuspended {
		t.Fatalf("suspend: %v %v", lc.State, err)
	}
	if _, err := e.desk.ProposeReactivation(ctx, agent, id.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.Approve(ctx, agent, id.ID); !errors.Is(err, lifecycle.ErrForbidden) {
		t.Errorf("agent approving: %v", err)
	}
	if _, err := e.desk.ProposeReactivation(ctx, sup1, id.ID); err == nil {
		t.Error("second proposal while one waits")
	}
	lc, err := e.desk.Approve(ctx, sup1, id.ID)
	if err != nil || lc.State != storage.IdentityActive {
		t.Fatalf("approve: %v %v", lc.State, err)
	}
	// Four eyes the other way round: the supervisor proposing cannot approve.
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "pec", ""); err != nil {
		t.Fatalf("PEC suspension: %v", err)
	}
	if _, err := e.desk.ProposeReactivation(ctx, sup1, id.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.Approve(ctx, sup1, id.ID); !errors.Is(err, lifecycle.ErrFourEyes) {
		t.Errorf("self-approval: %v", err)
	}
	if lc, err := e.desk.Approve(ctx, sup2, id.ID); err != nil || lc.State != storage.IdentityActive {
		t.Fatalf("second supervisor: %v %v", lc.State, err)
	}
	for _, a := range []string{"care.identity.lookup", "care.identity.suspend", "lifecycle.suspend", "lifecycle.approve"} {
		if len(e.audits(t, a)) == 0 {
			t.Errorf("no audit %s", a)
		}
	}
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// callerCode is the code the holder's phone received last.
func (e *env) callerCode(t *testing.T) string {
	t.Helper()
	m, err := e.phones.Last("+393331234567")
	if err != nil {
		t.Fatal(err)
	}
	return sixDigits.FindString(m.Text)
}

// E074, S092: a phone suspension needs the code sent to the registered
// mobile, typed as the caller reads it: never without one, a wrong code
// refused (3 wrong entries void it), a code works once and for 5 minutes,
// only for the agent who sent it and the identity it was sent for. Every
// step is audited.
func TestSuspendByPhoneNeedsCallerCodeS092(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	id := e.identity(t)
	other := storage.Identity{ID: "id-2", Username: "anna", Type: storage.IdentityCitizen, Status: storage.IdentityActive,
		Attributes: map[string]string{"mobilePhone": "+393339999999"}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	noPhone := storage.Identity{ID: "id-3", Username: "luca", Type: storage.IdentityCitizen, Status: storage.IdentityActive,
		Attributes: map[string]string{}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	for _, x := range []storage.Identity{other, noPhone} {
		if err := e.store.CreateIdentity(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	active := func() bool {
		got, _ := e.store.GetIdentity(ctx, id.ID)
		return got.Status == storage.IdentityActive
	}
	// Without a code sent: refused whatever is typed.
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", "000000"); !errors.Is(err, care.ErrCallerNotVerified) {
		t.Fatalf("no code sent: %v", err)
	}
	masked, err := e.desk.SendCallerCode(ctx, agent, id.ID)
	if err != nil || masked != "*******567" {
		t.Fatalf("send: %q %v", masked, err)
	}
	m, _ := e.phones.Last("+393331234567")
	if !strings.Contains(m.Text, "assistenza") {
		t.Errorf("SMS text %q", m.Text)
	}
	code := e.callerCode(t)
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	// Another agent, or another identity, cannot use this code.
	agent2 := care.Actor{ID: "op-agent2", Roles: []string{"care_agent"}}
	if _, err := e.desk.Suspend(ctx, agent2, id.ID, "phone", code); !errors.Is(err, care.ErrCallerNotVerified) {
		t.Errorf("another agent's code: %v", err)
	}
	if _, err := e.desk.Suspend(ctx, agent, other.ID, "phone", code); !errors.Is(err, care.ErrCallerNotVerified) {
		t.Errorf("the code of another identity: %v", err)
	}
	// Wrong twice, then right: suspended.
	for range 2 {
		if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", string(wrong)); !errors.Is(err, care.ErrCodeWrong) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if !active() {
		t.Fatal("suspended by wrong codes")
	}
	if lc, err := e.desk.Suspend(ctx, agent, id.ID, "phone", code); err != nil || lc.State != storage.IdentitySuspended {
		t.Fatalf("right code: %v %v", lc.State, err)
	}
	// Reactivated by two people; the used code is worth nothing now.
	if _, err := e.desk.ProposeReactivation(ctx, agent, id.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.Approve(ctx, sup1, id.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", code); !errors.Is(err, care.ErrCodeVoid) {
		t.Errorf("code used twice: %v", err)
	}
	// Three wrong entries void a code; the right one then fails.
	if _, err := e.desk.SendCallerCode(ctx, agent, id.ID); err != nil {
		t.Fatal(err)
	}
	code = e.callerCode(t)
	wrong = []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	for range 3 {
		_, _ = e.desk.Suspend(ctx, agent, id.ID, "phone", string(wrong))
	}
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", code); !errors.Is(err, care.ErrCodeVoid) || !active() {
		t.Errorf("right code after 3 wrong ones: %v", err)
	}
	// Expiry: 5 minutes.
	if _, err := e.desk.SendCallerCode(ctx, agent, id.ID); err != nil {
		t.Fatal(err)
	}
	code = e.callerCode(t)
	e.clock.Advance(5*time.Minute + time.Second)
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", code); !errors.Is(err, care.ErrCodeVoid) || !active() {
		t.Errorf("expired code: %v", err)
	}
	// No registered mobile: no code, phone suspension impossible.
	if _, err := e.desk.SendCallerCode(ctx, agent, noPhone.ID); !errors.Is(err, care.ErrNoMobile) {
		t.Errorf("identity without mobile: %v", err)
	}
	if _, err := e.desk.SendCallerCode(ctx, shop, id.ID); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("shop agent sending a code: %v", err)
	}
	seen := map[string]bool{}
	for _, a := range []string{"care.caller.code_sent", "care.caller.verify", "care.identity.suspend"} {
		for _, ev := range e.audits(t, a) {
			seen[a+"/"+ev.Outcome] = true
			if strings.Contains(strings.Join([]string{ev.Details["error"], ev.Details["to"]}, " "), code) {
				t.Errorf("a code in the audit log: %+v", ev)
			}
		}
	}
	for _, want := range []string{"care.caller.code_sent/success", "care.caller.code_sent/failure", "care.caller.code_sent/denied",
		"care.caller.verify/success", "care.caller.verify/failure", "care.identity.suspend/denied"} {
		if !seen[want] {
			t.Errorf("no audit record %s", want)
		}
	}
}
