package care_test

import (
	"errors"
	"testing"

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
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "phone", false); !errors.Is(err, lifecycle.ErrOriginNotVerified) {
		t.Errorf("unverified caller: %v", err)
	}
	if _, err := e.desk.Suspend(ctx, shop, id.ID, "phone", true); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("shop agent suspending: %v", err)
	}
	if got, _ := e.store.GetIdentity(ctx, id.ID); got.Status != storage.IdentityActive {
		t.Fatalf("status after refusals: %s", got.Status)
	}
	if lc, err := e.desk.Suspend(ctx, agent, id.ID, "phone", true); err != nil || lc.State != storage.IdentitySuspended {
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
	if _, err := e.desk.Suspend(ctx, agent, id.ID, "pec", false); err != nil {
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
