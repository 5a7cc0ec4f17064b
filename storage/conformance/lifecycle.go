package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// LifecycleStore is a durable store that also keeps identity lifecycles and
// leases (the SQL backends).
type LifecycleStore interface {
	storage.Store
	storage.Lifecycles
	storage.Leases
}

// RunLifecycles runs the storage.Lifecycles and storage.Leases suite.
// newStore must return an empty store for the subtest and close it in
// t.Cleanup.
func RunLifecycles(t *testing.T, newStore func(t *testing.T) LifecycleStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s LifecycleStore)
	}{
		{"LifecycleCRUD", lifeTestCRUD},
		{"LifecycleErrors", lifeTestErrors},
		{"LifecycleMirrorsStatus", lifeTestMirrorsStatus},
		{"LifecycleUpdateFnErrorAborts", lifeTestUpdateAborts},
		{"LifecycleConcurrentUpdate", lifeTestConcurrentUpdate},
		{"LifecycleListDue", lifeTestListDue},
		{"LifecycleCascade", lifeTestCascade},
		{"LifecycleMissing", lifeTestMissing},
		{"LeaseExclusive", lifeTestLeaseExclusive},
		{"LeaseExpiry", lifeTestLeaseExpiry},
		{"LeaseConcurrent", lifeTestLeaseConcurrent},
		{"LeaseErrors", lifeTestLeaseErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

func lifeRecord(id string) storage.IdentityLifecycle {
	return storage.IdentityLifecycle{
		IdentityID: id,
		State:      storage.IdentitySuspended,
		ValidFrom:  storeT0,
		ValidUntil: storeT0.AddDate(2, 0, 0),
		Suspension: &storage.Suspension{Cause: "holder_request", Channel: "portal", RequestedBy: "holder:" + id,
			StartedAt: storeT0.Add(time.Hour), Until: storeT0.Add(time.Hour + 30*24*time.Hour),
			PoliceReportID: "ev-1", ContactsDigest: "abc", Blocked: ""},
		Pending:     &storage.Proposal{Action: "revoke", Cause: "illicit_use", Channel: "care", ProposedBy: "op:anna", ProposedAt: storeT0.Add(2 * time.Hour)},
		LastAuthAt:  storeT0.Add(-time.Hour),
		NoticesSent: []string{"expiry-90:2028-03-29", "città-ü"},
		NextDueAt:   storeT0.Add(24 * time.Hour),
		CreatedAt:   storeT0,
		UpdatedAt:   storeT0.Add(time.Minute),
	}
}

// lifeNorm is what a backend is expected to return for l: UTC times at
// microsecond precision, also inside the nested records.
func lifeNorm(l storage.IdentityLifecycle) storage.IdentityLifecycle {
	n := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	l.ValidFrom, l.ValidUntil, l.LastAuthAt, l.NextDueAt = n(l.ValidFrom), n(l.ValidUntil), n(l.LastAuthAt), n(l.NextDueAt)
	l.CreatedAt, l.UpdatedAt = n(l.CreatedAt), n(l.UpdatedAt)
	if s := l.Suspension; s != nil {
		c := *s
		c.StartedAt, c.Until = n(c.StartedAt), n(c.Until)
		l.Suspension = &c
	}
	if r := l.Revocation; r != nil {
		c := *r
		c.RequestedAt, c.EffectiveAt = n(c.RequestedAt), n(c.EffectiveAt)
		c.ApprovedBy = slices.Clone(c.ApprovedBy)
		l.Revocation = &c
	}
	if p := l.Pending; p != nil {
		c := *p
		c.ProposedAt = n(c.ProposedAt)
		l.Pending = &c
	}
	if len(l.NoticesSent) == 0 {
		l.NoticesSent = nil
	}
	return l
}

func lifeCheck(t *testing.T, got, want storage.IdentityLifecycle) {
	t.Helper()
	want = lifeNorm(want)
	for _, tm := range []time.Time{got.ValidFrom, got.ValidUntil, got.LastAuthAt, got.NextDueAt, got.CreatedAt, got.UpdatedAt} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("lifecycle time %v not in UTC", tm)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lifecycle =\n%s\nwant\n%s", lifeString(got), lifeString(want))
	}
}

func lifeString(l storage.IdentityLifecycle) string {
	s := fmt.Sprintf("%+v", l)
	if l.Suspension != nil {
		s += fmt.Sprintf(" susp=%+v", *l.Suspension)
	}
	if l.Revocation != nil {
		s += fmt.Sprintf(" rev=%+v", *l.Revocation)
	}
	if l.Pending != nil {
		s += fmt.Sprintf(" pending=%+v", *l.Pending)
	}
	return s
}

func lifeIdentity(t *testing.T, s LifecycleStore, n int) storage.Identity {
	t.Helper()
	id := storeIdentity(n)
	storeMust(t, "CreateIdentity", s.CreateIdentity(t.Context(), id))
	return id
}

func lifeTestCRUD(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	id := lifeIdentity(t, s, 1)
	l := lifeRecord(id.ID)
	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, l))
	got, err := s.GetLifecycle(ctx, id.ID)
	storeMust(t, "GetLifecycle", err)
	lifeCheck(t, got, l)

	// Every optional part absent reads back absent, not as empty values.
	bare := storage.IdentityLifecycle{IdentityID: lifeIdentity(t, s, 2).ID, State: storage.IdentityActive}
	storeMust(t, "CreateLifecycle bare", s.CreateLifecycle(ctx, bare))
	got, err = s.GetLifecycle(ctx, bare.IdentityID)
	storeMust(t, "GetLifecycle bare", err)
	lifeCheck(t, got, bare)

	later := storeT0.Add(48 * time.Hour)
	storeMust(t, "UpdateLifecycle", s.UpdateLifecycle(ctx, id.ID, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		l.State = storage.IdentityRevoked
		l.Suspension, l.Pending = nil, nil
		l.Revocation = &storage.Revocation{Cause: "illicit_use", RequestedAt: storeT0.Add(2 * time.Hour), EffectiveAt: later,
			ApprovedBy: []string{"op:anna", "op:bruno"}}
		l.NoticesSent = append(l.NoticesSent, "revoked")
		l.NextDueAt, l.UpdatedAt = time.Time{}, later
		return l, i, nil
	}))
	want := l
	want.State, want.Suspension, want.Pending = storage.IdentityRevoked, nil, nil
	want.Revocation = &storage.Revocation{Cause: "illicit_use", RequestedAt: storeT0.Add(2 * time.Hour), EffectiveAt: later,
		ApprovedBy: []string{"op:anna", "op:bruno"}}
	want.NoticesSent = append(slices.Clone(l.NoticesSent), "revoked")
	want.NextDueAt, want.UpdatedAt = time.Time{}, later
	got, err = s.GetLifecycle(ctx, id.ID)
	storeMust(t, "GetLifecycle after update", err)
	lifeCheck(t, got, want)
}

func lifeTestErrors(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	id := lifeIdentity(t, s, 1)
	storeWantErr(t, "CreateLifecycle for an unknown identity",
		s.CreateLifecycle(ctx, lifeRecord("nobody")), storage.ErrNotFound)
	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, lifeRecord(id.ID)))
	storeWantErr(t, "CreateLifecycle twice", s.CreateLifecycle(ctx, lifeRecord(id.ID)), storage.ErrAlreadyExists)
	_, err := s.GetLifecycle(ctx, "nobody")
	storeWantErr(t, "GetLifecycle unknown", err, storage.ErrNotFound)
	_, err = s.GetLifecycle(ctx, "bad\x00id")
	storeWantErr(t, "GetLifecycle NUL", err, storage.ErrNotFound)
	err = s.UpdateLifecycle(ctx, "nobody", func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		t.Error("fn called for an unknown lifecycle")
		return l, i, nil
	})
	storeWantErr(t, "UpdateLifecycle unknown", err, storage.ErrNotFound)

	for name, bad := range map[string]func(*storage.IdentityLifecycle){
		"unknown state": func(l *storage.IdentityLifecycle) { l.State = "sleeping" },
		"NUL notice":    func(l *storage.IdentityLifecycle) { l.NoticesSent = []string{"a\x00b"} },
		"bad UTF-8":     func(l *storage.IdentityLifecycle) { l.Suspension.Cause = "\xff" },
	} {
		other := lifeIdentity(t, s, 10+len(name))
		l := lifeRecord(other.ID)
		bad(&l)
		if err := s.CreateLifecycle(ctx, l); err == nil {
			t.Errorf("CreateLifecycle with %s succeeded", name)
		}
		if _, err := s.GetLifecycle(ctx, other.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CreateLifecycle with %s left a record: %v", name, err)
		}
		err := s.UpdateLifecycle(ctx, id.ID, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
			bad(&l)
			return l, i, nil
		})
		if err == nil {
			t.Errorf("UpdateLifecycle to %s succeeded", name)
		}
	}
	got, err := s.GetLifecycle(ctx, id.ID)
	storeMust(t, "GetLifecycle", err)
	lifeCheck(t, got, lifeRecord(id.ID))
}

// The identity's status follows the lifecycle's state on create and on
// every update, whatever fn did to the identity.
func lifeTestMirrorsStatus(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	id := lifeIdentity(t, s, 1) // stored active
	l := lifeRecord(id.ID)      // suspended
	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, l))
	got, err := s.GetIdentity(ctx, id.ID)
	storeMust(t, "GetIdentity", err)
	if got.Status != storage.IdentitySuspended {
		t.Errorf("identity status after CreateLifecycle = %q, want suspended", got.Status)
	}
	storeMust(t, "UpdateLifecycle", s.UpdateLifecycle(ctx, id.ID, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		if i.ID != id.ID || i.Username != id.Username {
			t.Errorf("fn got identity %q %q", i.ID, i.Username)
		}
		l.State = storage.IdentityActive
		i.Status = storage.IdentityRevoked // ignored: the state wins
		i.Attributes["expirationDate"] = "2030-01-01"
		i.ID = "moved" // ignored: the row is kept
		return l, i, nil
	}))
	got, err = s.GetIdentity(ctx, id.ID)
	storeMust(t, "GetIdentity after update", err)
	if got.Status != storage.IdentityActive || got.Attributes["expirationDate"] != "2030-01-01" {
		t.Errorf("identity after UpdateLifecycle: status %q, expirationDate %q", got.Status, got.Attributes["expirationDate"])
	}
	if _, err := s.GetIdentity(ctx, "moved"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("fn moved the identity: %v", err)
	}
	if lc, err := s.GetLifecycle(ctx, id.ID); err != nil || lc.State != storage.IdentityActive {
		t.Errorf("lifecycle after update: %q, %v", lc.State, err)
	}
}

func lifeTestUpdateAborts(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	id := lifeIdentity(t, s, 1)
	l := lifeRecord(id.ID)
	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, l))
	sentinel := errors.New("refused")
	err := s.UpdateLifecycle(ctx, id.ID, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		l.State = storage.IdentityRevoked
		i.Username = "changed@example.it"
		return l, i, sentinel
	})
	if err != sentinel { //nolint:errorlint // the contract is: returned as is
		t.Errorf("UpdateLifecycle fn error = %v, want the sentinel itself", err)
	}
	got, err := s.GetLifecycle(ctx, id.ID)
	storeMust(t, "GetLifecycle", err)
	lifeCheck(t, got, l)
	idn, err := s.GetIdentity(ctx, id.ID)
	storeMust(t, "GetIdentity", err)
	if idn.Username != id.Username || idn.Status != storage.IdentitySuspended {
		t.Errorf("aborted update changed the identity: %q %q", idn.Username, idn.Status)
	}
}

// Concurrent read-modify-writes lose nothing: the scheduler's exactly-once
// rests on it.
func lifeTestConcurrentUpdate(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	id := lifeIdentity(t, s, 1)
	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, storage.IdentityLifecycle{IdentityID: id.ID, State: storage.IdentityActive}))
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	claimed := 0
	for i := range n {
		wg.Go(func() {
			err := s.UpdateLifecycle(ctx, id.ID, func(l storage.IdentityLifecycle, idn storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
				l.NoticesSent = append(l.NoticesSent, fmt.Sprintf("n%d", i))
				return l, idn, nil
			})
			if err != nil {
				t.Errorf("UpdateLifecycle %d: %v", i, err)
			}
			// Claiming one notice: exactly one writer may find it unsent.
			claim := false
			err = s.UpdateLifecycle(ctx, id.ID, func(l storage.IdentityLifecycle, idn storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
				claim = !slices.Contains(l.NoticesSent, "once")
				if claim {
					l.NoticesSent = append(l.NoticesSent, "once")
				}
				return l, idn, nil
			})
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
			}
			if claim {
				mu.Lock()
				claimed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := s.GetLifecycle(ctx, id.ID)
	storeMust(t, "GetLifecycle", err)
	if len(got.NoticesSent) != n+1 {
		t.Errorf("%d notices after %d concurrent appends and one claim: %v", len(got.NoticesSent), n, got.NoticesSent)
	}
	if claimed != 1 {
		t.Errorf("%d writers claimed the same notice, want 1", claimed)
	}
}

func lifeTestListDue(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	now := storeT0.Add(10 * 24 * time.Hour)
	due := map[int]time.Time{
		1: {},                            // never evaluated: due
		2: now.Add(-time.Hour),           // past
		3: now,                           // exactly now
		4: now.Add(time.Microsecond),     // just after: not due
		5: now.Add(365 * 24 * time.Hour), // far
		6: now.Add(-365 * 24 * time.Hour),
	}
	for n := 1; n <= len(due); n++ {
		id := lifeIdentity(t, s, n)
		storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, storage.IdentityLifecycle{
			IdentityID: id.ID, State: storage.IdentityActive, NextDueAt: due[n]}))
	}
	ids := func(ls []storage.IdentityLifecycle) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.IdentityID)
		}
		return out
	}
	got, err := s.ListDueLifecycles(ctx, now, "", 100)
	storeMust(t, "ListDueLifecycles", err)
	if want := []string{"id-001", "id-002", "id-003", "id-006"}; !slices.Equal(ids(got), want) {
		t.Errorf("due = %v, want %v", ids(got), want)
	}
	page1, err := s.ListDueLifecycles(ctx, now, "", 2)
	storeMust(t, "ListDueLifecycles page 1", err)
	page2, err := s.ListDueLifecycles(ctx, now, "id-002", 2)
	storeMust(t, "ListDueLifecycles page 2", err)
	if !slices.Equal(ids(page1), []string{"id-001", "id-002"}) || !slices.Equal(ids(page2), []string{"id-003", "id-006"}) {
		t.Errorf("pages = %v, %v", ids(page1), ids(page2))
	}
	if _, err := s.ListDueLifecycles(ctx, now, "", 0); err == nil {
		t.Error("ListDueLifecycles with limit 0 succeeded")
	}
}

func lifeTestCascade(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	id := lifeIdentity(t, s, 1)
	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, lifeRecord(id.ID)))
	storeMust(t, "DeleteIdentity", s.DeleteIdentity(ctx, id.ID))
	_, err := s.GetLifecycle(ctx, id.ID)
	storeWantErr(t, "GetLifecycle after the identity was deleted", err, storage.ErrNotFound)
}

func lifeAcquire(t *testing.T, s LifecycleStore, name, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.TryAcquire(t.Context(), name, holder, ttl)
	storeMust(t, "TryAcquire "+holder, err)
	return ok
}

func lifeTestLeaseExclusive(t *testing.T, s LifecycleStore) {
	const lease = "scheduler"
	if !lifeAcquire(t, s, lease, "node-a", time.Hour) {
		t.Fatal("node-a could not take a free lease")
	}
	if lifeAcquire(t, s, lease, "node-b", time.Hour) {
		t.Fatal("node-b took a lease node-a holds")
	}
	if !lifeAcquire(t, s, lease, "node-a", time.Hour) {
		t.Error("node-a could not extend its own lease")
	}
	if !lifeAcquire(t, s, "other", "node-b", time.Hour) {
		t.Error("leases with different names block each other")
	}
	storeMust(t, "Release by a non-holder", s.Release(t.Context(), lease, "node-b"))
	if lifeAcquire(t, s, lease, "node-b", time.Hour) {
		t.Error("a non-holder's Release freed the lease")
	}
	storeMust(t, "Release", s.Release(t.Context(), lease, "node-a"))
	if !lifeAcquire(t, s, lease, "node-b", time.Hour) {
		t.Error("node-b could not take a released lease")
	}
	storeMust(t, "Release of a free lease", s.Release(t.Context(), "never-taken", "node-a"))
}

func lifeTestLeaseExpiry(t *testing.T, s LifecycleStore) {
	const ttl = 200 * time.Millisecond
	if !lifeAcquire(t, s, "scheduler", "node-a", ttl) {
		t.Fatal("node-a could not take a free lease")
	}
	if lifeAcquire(t, s, "scheduler", "node-b", time.Hour) {
		t.Fatal("node-b took an unexpired lease")
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if !lifeAcquire(t, s, "scheduler", "node-b", time.Hour) {
		t.Error("node-b could not take an expired lease")
	}
	if lifeAcquire(t, s, "scheduler", "node-a", time.Hour) {
		t.Error("node-a took back a lease node-b holds")
	}
}

func lifeTestLeaseConcurrent(t *testing.T, s LifecycleStore) {
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range n {
		wg.Go(func() {
			holder := fmt.Sprintf("node-%d", i)
			ok, err := s.TryAcquire(t.Context(), "race", holder, time.Hour)
			if err != nil {
				t.Errorf("TryAcquire %s: %v", holder, err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Errorf("%d holders got the lease (%v), want exactly 1", len(winners), winners)
	}
}

func lifeTestLeaseErrors(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	for _, tc := range []struct {
		name, holder string
		ttl          time.Duration
	}{
		{"", "a", time.Minute},
		{"x", "", time.Minute},
		{"x", "a", 0},
		{"x", "a", -time.Second},
		{"x\x00", "a", time.Minute},
		{"x", "\xff", time.Minute},
	} {
		if ok, err := s.TryAcquire(ctx, tc.name, tc.holder, tc.ttl); err == nil || ok {
			t.Errorf("TryAcquire(%q, %q, %v) = %v, %v; want an error", tc.name, tc.holder, tc.ttl, ok, err)
		}
	}
	if !lifeAcquire(t, s, "x", "a", time.Minute) {
		t.Error("refused calls left the lease taken")
	}
}

func lifeTestMissing(t *testing.T, s LifecycleStore) {
	ctx := t.Context()
	for n := 1; n <= 5; n++ {
		id := lifeIdentity(t, s, n)
		switch n {
		case 2:
			storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, storage.IdentityLifecycle{IdentityID: id.ID, State: storage.IdentityActive}))
		case 4:
			storeMust(t, "UpdateIdentity", s.UpdateIdentity(ctx, id.ID, func(i storage.Identity) (storage.Identity, error) {
				i.Status = storage.IdentityPending
				return i, nil
			}))
		}
	}
	ids := func(after string, limit int) []string {
		got, err := s.ListIdentitiesWithoutLifecycle(ctx, after, limit)
		storeMust(t, "ListIdentitiesWithoutLifecycle", err)
		var out []string
		for _, i := range got {
			out = append(out, i.ID)
		}
		return out
	}
	if got := ids("", 10); !slices.Equal(got, []string{"id-001", "id-003", "id-005"}) {
		t.Errorf("without lifecycle = %v", got)
	}
	if got := ids("id-001", 1); !slices.Equal(got, []string{"id-003"}) {
		t.Errorf("page after id-001 = %v", got)
	}
	got, err := s.ListIdentitiesWithoutLifecycle(ctx, "", 1)
	storeMust(t, "ListIdentitiesWithoutLifecycle", err)
	if len(got) == 1 {
		storeCheckIdentity(t, got[0], storeIdentity(1))
	}
	if _, err := s.ListIdentitiesWithoutLifecycle(ctx, "", 0); err == nil {
		t.Error("limit 0 accepted")
	}
}
