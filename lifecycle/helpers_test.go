package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// t0 is an ordinary Wednesday morning in Rome.
var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type clock = testclock.Clock

// notices records what the holder was told.
type notices struct {
	mu   sync.Mutex
	got  []lifecycle.Notice
	fail error
}

func (n *notices) Notify(_ context.Context, x lifecycle.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail != nil {
		return n.fail
	}
	n.got = append(n.got, x)
	return nil
}

func (n *notices) list() []lifecycle.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]lifecycle.Notice(nil), n.got...)
}

func (n *notices) kinds() []string {
	var out []string
	for _, x := range n.list() {
		s := string(x.Kind)
		if x.DaysLeft > 0 {
			s += fmt.Sprintf("-%d", x.DaysLeft)
		}
		out = append(out, s)
	}
	return out
}

type env struct {
	t     *testing.T
	st    *sqlstore.Store
	clock *clock
	sent  *notices
	svc   *lifecycle.Service
	sched *lifecycle.Scheduler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return envOn(t, st, "node-a")
}

func envOn(t *testing.T, st *sqlstore.Store, holder string) *env {
	c := testclock.New(t0)
	sent := &notices{}
	lg := &audit.Logger{Store: st, Now: c.Now}
	return &env{t: t, st: st, clock: c, sent: sent,
		svc:   &lifecycle.Service{Store: st, Audit: lg, Notifier: sent, Now: c.Now},
		sched: &lifecycle.Scheduler{Store: st, Leases: st, Audit: lg, Notifier: sent, Now: c.Now, Holder: holder}}
}

// identity creates an active citizen identity with contacts, a document
// valid until docExpiry ("" for none) and its lifecycle valid for two
// years from t0.
func (e *env) identity(n int, docExpiry string) string {
	e.t.Helper()
	id := storage.Identity{ID: fmt.Sprintf("id-%03d", n), Username: fmt.Sprintf("user%03d", n), Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, CreatedAt: t0, UpdatedAt: t0,
		Attributes: map[string]string{"spidCode": fmt.Sprintf("TEST%010d", n), "email": fmt.Sprintf("u%d@example.it", n),
			"mobilePhone": "+393331234567", "name": "Mario", "familyName": "Rossi"}}
	if docExpiry != "" {
		id.Attributes["idCard"] = "cartaIdentita CA00000AA ComuneDiRoma 2020-01-01 " + docExpiry
	}
	if err := e.st.CreateIdentity(e.t.Context(), id); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Start(e.t.Context(), id.ID, t0, t0.AddDate(2, 0, 0)); err != nil {
		e.t.Fatal(err)
	}
	return id.ID
}

func (e *env) life(id string) storage.IdentityLifecycle {
	e.t.Helper()
	l, err := e.st.GetLifecycle(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// state checks the lifecycle and the identity's mirrored status.
func (e *env) state(id string, want storage.IdentityStatus) storage.IdentityLifecycle {
	e.t.Helper()
	l := e.life(id)
	idn, err := e.st.GetIdentity(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if l.State != want || idn.Status != want {
		e.t.Fatalf("%s: lifecycle %s, identity %s; want %s", id, l.State, idn.Status, want)
	}
	return l
}

// runAt runs the scheduler at t and fails the test on an error.
func (e *env) runAt(t time.Time) lifecycle.Report {
	e.t.Helper()
	e.clock.Set(t)
	rep, err := e.sched.RunOnce(e.t.Context())
	if err != nil {
		e.t.Fatalf("RunOnce at %s: %v", t, err)
	}
	if rep.Skipped {
		e.t.Fatalf("RunOnce at %s skipped", t)
	}
	return rep
}

func (e *env) audit() []storage.AuditEvent {
	e.t.Helper()
	evs, err := e.st.ListAudit(e.t.Context(), 0, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// lastAudit returns the last record with action for target.
func (e *env) lastAudit(action, target string) storage.AuditEvent {
	e.t.Helper()
	evs := e.audit()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == action && evs[i].Target == target {
			return evs[i]
		}
	}
	e.t.Fatalf("no audit record %s for %s", action, target)
	return storage.AuditEvent{}
}

// unchanged runs fn, which must fail with want, and checks that the
// lifecycle is exactly as before and that the refusal was audited.
func (e *env) unchanged(id string, want error, action string, fn func() error) {
	e.t.Helper()
	before := e.life(id)
	n := len(e.audit())
	err := fn()
	if !errors.Is(err, want) {
		e.t.Fatalf("%s: err = %v, want %v", action, err, want)
	}
	if after := e.life(id); !reflect.DeepEqual(before, after) {
		e.t.Errorf("%s: refused but the lifecycle changed:\n%+v\n%+v", action, before, after)
	}
	evs := e.audit()
	if len(evs) != n+1 || evs[n].Action != action || evs[n].Outcome != audit.Denied || evs[n].Details["error"] == "" {
		e.t.Errorf("%s: refusal not audited as denied: %d new records, last %+v", action, len(evs)-n, evs[len(evs)-1])
	}
}

var (
	holderOf    = func(id string) lifecycle.Actor { return lifecycle.Actor{ID: id, Role: lifecycle.RoleHolder} }
	care        = lifecycle.Actor{ID: "operator:carla", Role: lifecycle.RoleCareAgent}
	verifier    = lifecycle.Actor{ID: "operator:vera", Role: lifecycle.RoleVerifier}
	supervisor  = lifecycle.Actor{ID: "operator:sara", Role: lifecycle.RoleSupervisor}
	supervisor2 = lifecycle.Actor{ID: "operator:sergio", Role: lifecycle.RoleSupervisor}
)

func (e *env) suspendByHolder(id string) storage.IdentityLifecycle {
	e.t.Helper()
	l, err := e.svc.Suspend(e.t.Context(), id, lifecycle.SuspendRequest{Actor: holderOf(id),
		Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}
