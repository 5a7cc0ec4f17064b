package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// E089 on one SQLite file opened twice (two processes, as far as SQLite
// can tell) and on one PostgreSQL schema opened twice.
func TestE089_TwoSchedulersSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	open := func() *sqlstore.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a := open()
	twoSchedulers(t, a, open())
}

func TestE089_TwoSchedulersPostgres(t *testing.T) {
	dsn := postgresSchema(t)
	open := func() *sqlstore.Store {
		s, err := postgres.Open(t.Context(), dsn, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a := open()
	twoSchedulers(t, a, open())
}

// grantAll is a lease that never refuses: with it both schedulers work
// at once, and only the per-record transaction keeps them apart.
type grantAll struct{}

func (grantAll) TryAcquire(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}
func (grantAll) Release(context.Context, string, string) error { return nil }

func twoSchedulers(t *testing.T, a, b *sqlstore.Store) {
	for _, mode := range []string{"lease", "no lease"} {
		t.Run(mode, func(t *testing.T) {
			e := envOn(t, a, "node-a")
			prefix := map[string]int{"lease": 100, "no lease": 200}[mode]
			var ids []string
			for i := range 6 {
				n := prefix + i
				ids = append(ids, e.identity(n, "2030-01-01"))
			}
			// Two holders' suspensions, one with a police report; one
			// identity whose document expires; the rest run to the end of
			// their contract.
			e.suspendByHolder(ids[0])
			e.suspendByHolder(ids[1])
			if _, err := e.svc.AttachPoliceReport(t.Context(), ids[1], holderOf(ids[1]), "ev-1"); err != nil {
				t.Fatal(err)
			}
			_ = a.UpdateIdentity(t.Context(), ids[2], func(i storage.Identity) (storage.Identity, error) {
				i.Attributes["idCard"] = "cartaIdentita CA0 Roma 2020-01-01 2027-06-30"
				return i, nil
			})

			lg := &audit.Logger{Store: a, Now: e.clock.Now}
			lgB := &audit.Logger{Store: b, Now: e.clock.Now}
			newSched := func(st *sqlstore.Store, lg *audit.Logger, holder string) *lifecycle.Scheduler {
				sc := &lifecycle.Scheduler{Store: st, Leases: st, Audit: lg, Notifier: e.sent, Now: e.clock.Now, Holder: holder}
				if mode == "no lease" {
					sc.Leases = grantAll{}
				}
				return sc
			}
			scheds := []*lifecycle.Scheduler{newSched(a, lg, "node-a"), newSched(b, lgB, "node-b")}
			end := t0.AddDate(2, 0, 0)
			instants := []time.Time{t0.Add(30 * day), t0.Add(31 * day), time.Date(2027, 5, 31, 8, 0, 0, 0, time.UTC),
				time.Date(2027, 6, 23, 8, 0, 0, 0, time.UTC), time.Date(2027, 7, 1, 8, 0, 0, 0, time.UTC)}
			for _, d := range []int{90, 30, 10, 1, 0} {
				instants = append(instants, end.Add(-time.Duration(d)*day))
			}
			skipped := 0
			for _, at := range instants {
				e.clock.Set(at)
				for range 3 { // several rounds at each instant: later ones must find nothing
					var wg sync.WaitGroup
					var mu sync.Mutex
					for _, sc := range scheds {
						wg.Go(func() {
							rep, err := sc.RunOnce(t.Context())
							if err != nil {
								t.Errorf("%s at %s: %v", sc.Holder, at, err)
							}
							mu.Lock()
							if rep.Skipped {
								skipped++
							}
							mu.Unlock()
						})
					}
					wg.Wait()
				}
			}
			t.Logf("%s: %d runs skipped for the lease", mode, skipped)

			// Every notice exactly once per identity.
			count := map[string]int{}
			for _, n := range e.sent.list() {
				if slices.Contains(ids, n.IdentityID) {
					count[fmt.Sprintf("%s %s-%d", n.IdentityID, n.Kind, n.DaysLeft)]++
				}
			}
			for k, c := range count {
				if c != 1 {
					t.Errorf("notice %s sent %d times", k, c)
				}
			}
			// Every timed transition exactly once in the audit log.
			trans := map[string]int{}
			evs, err := a.ListAudit(t.Context(), 0, 100000)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Actor == "system:scheduler" && slices.Contains(ids, ev.Target) && ev.Action != "lifecycle.notice" {
					trans[ev.Target+" "+ev.Action]++
				}
			}
			want := map[string]int{
				ids[0] + " lifecycle.reactivate":           1,
				ids[1] + " lifecycle.reactivation_blocked": 1,
				ids[2] + " lifecycle.suspend":              1,
			}
			for _, id := range ids {
				want[id+" lifecycle.revoke"] = 1 // every contract ends
			}
			if fmt.Sprint(trans) != fmt.Sprint(want) {
				t.Errorf("timed transitions in the audit log:\n got %v\nwant %v", trans, want)
			}
			for _, id := range ids {
				if id != ids[1] && count[id+" expiry-90"] != 1 {
					t.Errorf("%s: no 90-day notice (%v)", id, count)
				}
			}
			for _, id := range ids {
				e.state(id, storage.IdentityRevoked)
			}
		})
	}
}

// E090: a scheduler back after downtime applies what is overdue at once
// and sends the notices still due — the current one, not the stale ones —
// and never a notice twice.
func TestE090_CatchUpAfterDowntime(t *testing.T) {
	e := newEnv(t)
	early := e.identity(1, "")
	late := e.identity(2, "")
	if err := e.svc.RecordAuth(t.Context(), late, t0.Add(day)); err != nil {
		t.Fatal(err)
	}
	susp := e.identity(3, "2030-01-01")
	e.suspendByHolder(susp)
	end := t0.AddDate(2, 0, 0)
	// Down from t0 until 5 days before the end.
	rep := e.runAt(end.Add(-5 * day))
	if rep.Reactivated != 1 {
		t.Errorf("overdue reactivation not applied: %+v", rep)
	}
	e.state(susp, storage.IdentityActive)
	got := map[string][]string{}
	for _, n := range e.sent.list() {
		got[n.IdentityID] = append(got[n.IdentityID], fmt.Sprintf("%s-%d", n.Kind, n.DaysLeft))
	}
	if !slices.Equal(got[early], []string{"expiry-10"}) || !slices.Equal(got[late], []string{"expiry-10"}) {
		t.Errorf("catch-up notices %v", got)
	}
	before := len(e.sent.list())
	e.runAt(end.Add(-5 * day))
	e.runAt(end.Add(-3 * day))
	if n := len(e.sent.list()); n != before {
		t.Errorf("%d more notices on re-runs", n-before)
	}
	// Down again past the end: revoked at once, with no stale 1-day notice.
	rep = e.runAt(end.Add(3 * day))
	if rep.Revoked != 3 {
		t.Errorf("report %+v", rep)
	}
	for _, id := range []string{early, late, susp} {
		l := e.state(id, storage.IdentityRevoked)
		if !l.Revocation.RequestedAt.Equal(end) || !l.Revocation.EffectiveAt.Equal(end.Add(3*day)) {
			t.Errorf("%s: revocation %+v", id, l.Revocation)
		}
	}
	for _, n := range e.sent.list()[before:] {
		if n.Kind != lifecycle.NoticeRevoked {
			t.Errorf("stale notice after the end: %+v", n)
		}
	}
}

// Two nodes: while one holds the lease the other's run is skipped; after
// the run the lease is released.
func TestSchedulerLease(t *testing.T) {
	e := newEnv(t)
	e.identity(1, "")
	if ok, err := e.st.TryAcquire(t.Context(), lifecycle.LeaseName, "node-b", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	rep, err := e.sched.RunOnce(t.Context())
	if err != nil || !rep.Skipped {
		t.Fatalf("run while node-b holds the lease: %+v, %v", rep, err)
	}
	if rep.String() == "" {
		t.Error("empty report text")
	}
	if err := e.st.Release(t.Context(), lifecycle.LeaseName, "node-b"); err != nil {
		t.Fatal(err)
	}
	e.runAt(t0)
	if ok, err := e.st.TryAcquire(t.Context(), lifecycle.LeaseName, "node-b", time.Hour); err != nil || !ok {
		t.Errorf("lease not released after the run: %v %v", ok, err)
	}
	if _, err := (&lifecycle.Scheduler{Store: e.st, Leases: e.st}).RunOnce(t.Context()); err == nil {
		t.Error("a scheduler without a holder name ran")
	}
}

func postgresSchema(t *testing.T) string {
	t.Helper()
	return testSchema(t)
}

// Jobs run under the lease after the lifecycle pass, and their errors are
// reported without stopping the others; Loop runs at once and stops with
// its context.
func TestSchedulerJobsAndLoop(t *testing.T) {
	e := newEnv(t)
	var ran []string
	e.sched.Jobs = []lifecycle.Job{
		{Name: "broken", Run: func(context.Context, time.Time) (string, error) {
			ran = append(ran, "broken")
			return "", errors.New("disk full")
		}},
		{Name: "retention", Run: func(_ context.Context, now time.Time) (string, error) {
			ran = append(ran, "retention")
			return "deleted 0 items at " + now.Format(time.DateOnly), nil
		}},
	}
	e.clock.Set(t0)
	rep, err := e.sched.RunOnce(t.Context())
	if err == nil || len(rep.Errors) != 1 || !slices.Equal(ran, []string{"broken", "retention"}) {
		t.Fatalf("report %+v, err %v, ran %v", rep, err, ran)
	}
	if s := rep.String(); !strings.Contains(s, "retention: deleted 0 items at 2026-11-25") || !strings.Contains(s, "disk full") {
		t.Errorf("report text:\n%s", s)
	}

	e.sched.Jobs = nil
	ctx, cancel := context.WithCancel(t.Context())
	reports := make(chan lifecycle.Report, 4)
	done := make(chan struct{})
	go func() {
		e.sched.Loop(ctx, time.Hour, func(r lifecycle.Report, err error) {
			if err != nil {
				t.Errorf("loop run: %v", err)
			}
			reports <- r
		})
		close(done)
	}()
	<-reports // the first pass runs at once
	cancel()
	<-done
}

// Identities issued without a lifecycle (user add, older versions,
// enrolment) are adopted by the scheduler: valid until the day after their
// expirationDate, inactivity counted from adoption, pending ones left to
// enrolment.
func TestSchedulerAdoptsIdentities(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	old := storage.Identity{ID: "old", Username: "old", Type: storage.IdentityCitizen, Status: storage.IdentityActive,
		CreatedAt: t0.AddDate(-3, 0, 0), Attributes: map[string]string{"expirationDate": "2027-01-31"}}
	pending := storage.Identity{ID: "pending", Username: "pending", Type: storage.IdentityCitizen, Status: storage.IdentityPending,
		CreatedAt: t0}
	for _, id := range []storage.Identity{old, pending} {
		if err := e.st.CreateIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	rep := e.runAt(t0)
	if rep.Adopted != 1 || rep.Revoked != 0 {
		t.Fatalf("report %+v", rep)
	}
	l := e.state("old", storage.IdentityActive)
	rome, _ := time.LoadLocation("Europe/Rome")
	if want := time.Date(2027, 2, 1, 0, 0, 0, 0, rome); !l.ValidUntil.Equal(want) || !l.LastAuthAt.Equal(t0) {
		t.Errorf("adopted: valid until %v (want %v), last auth %v", l.ValidUntil, want, l.LastAuthAt)
	}
	if _, err := e.st.GetLifecycle(ctx, "pending"); err == nil {
		t.Error("a pending identity was adopted")
	}
	if rep := e.runAt(t0.Add(time.Hour)); rep.Adopted != 0 {
		t.Errorf("adopted again: %+v", rep)
	}
	// The contract end it had is kept: revoked on 1 February 2027.
	e.runAt(time.Date(2027, 2, 1, 0, 0, 0, 0, rome))
	e.state("old", storage.IdentityRevoked)
}
