package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Rome must load even on hosts without a zoneinfo database

	"github.com/spid-idp/spid-idp/storage"
)

// ephTTL is the lifetime given to entries whose expiry the suite waits for.
// It is real time, so the suite runs the same against any backend (Redis
// expires keys on its own clock); long enough that a loaded CI machine still
// reads the entry before it expires, short enough to keep the suite quick.
// The expiry subtests run in parallel, so the wait is paid about once.
const ephTTL = 1500 * time.Millisecond

// ephMargin is how long past an expiry the suite waits before expecting the
// entry gone.
const ephMargin = 300 * time.Millisecond

// ephTimeTolerance is the precision every backend must keep on times.
const ephTimeTolerance = time.Microsecond

// ephExpiryTolerance is how far the expiry GetValue reports may be from the
// one given: a backend may keep only the time left (Redis' PTTL, in
// milliseconds) and add it to its own clock after a round trip.
const ephExpiryTolerance = 250 * time.Millisecond

// RunEphemeral runs the storage.Ephemeral conformance suite. newEph must
// return an empty store, usable for the whole subtest, and register on t
// whatever cleanup it needs (Close, deleting keys). Subtests that wait for
// real expiries run concurrently with each other, so newEph must be safe to
// call from several goroutines.
func RunEphemeral(t *testing.T, newEph func(t *testing.T) storage.Ephemeral) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, e storage.Ephemeral)
	}{
		{"Session/CRUD", ephTestSessionCRUD},
		{"Session/CopiesValues", ephTestSessionCopies},
		{"Session/DuplicateID", ephTestSessionDuplicate},
		{"Session/NotFound", ephTestSessionNotFound},
		{"Session/InvalidInput", ephTestSessionInvalid},
		{"Session/UpdateErrorAborts", ephTestSessionUpdateAborts},
		{"Session/UpdateKeepsID", ephTestSessionUpdateKeepsID},
		{"Session/ConcurrentUpdate", ephTestSessionConcurrentUpdate},
		{"Session/TimesUTC", ephTestSessionTimesUTC},
		{"Session/Epoch", ephTestSessionEpoch},
		{"Session/OneEntryPerSP", ephTestSessionOneEntryPerSP},
		{"Session/ParticipantsOrdered", ephTestSessionParticipantsOrdered},
		{"Session/Cap", ephTestSessionCap},
		{"Session/AddParticipantInvalid", ephTestSessionAddParticipantInvalid},
		{"Session/ConcurrentAdd", ephTestSessionConcurrentAdd},
		{"RequestID/FirstOneWins", ephTestRequestIDFirstWins},
		{"RequestID/IndependentKeys", ephTestRequestIDIndependent},
		{"RequestID/InvalidInput", ephTestRequestIDInvalid},
		{"Counter/Counts", ephTestCounterCounts},
		{"Counter/Concurrent", ephTestCounterConcurrent},
		{"Counter/InvalidInput", ephTestCounterInvalid},
		{"Value/CRUD", ephTestValueCRUD},
		{"Value/CopiesBytes", ephTestValueCopies},
		{"Value/BinaryExact", ephTestValueBinary},
		{"Value/FirstOneWins", ephTestValueFirstWins},
		{"Value/NotFound", ephTestValueNotFound},
		{"Value/InvalidInput", ephTestValueInvalid},
		{"Value/SizeLimit", ephTestValueSizeLimit},
		{"Value/UpdateErrorAborts", ephTestValueUpdateAborts},
		{"Value/ConcurrentUpdate", ephTestValueConcurrentUpdate},
		{"Value/IndependentKeys", ephTestValueIndependent},
		{"Ping", ephTestPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newEph(t))
		})
	}

	expiry := []struct {
		name string
		run  func(t *testing.T, e storage.Ephemeral)
	}{
		{"Session", ephTestExpirySession},
		{"SessionUpdateShortens", ephTestExpiryUpdateShortens},
		{"SessionUpdateExtends", ephTestExpiryUpdateExtends},
		{"SessionAddParticipant", ephTestExpiryAddParticipant},
		{"RequestID", ephTestExpiryRequestID},
		{"CounterWindow", ephTestExpiryCounter},
		{"Value", ephTestExpiryValue},
		{"ValueUpdateKeepsExpiry", ephTestExpiryValueUpdate},
	}
	// These wait in real time, so they run at once. t.Run from several
	// goroutines (allowed by package testing) keeps them concurrent whatever
	// -parallel is; t.Parallel would be capped at GOMAXPROCS.
	t.Run("Expiry", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, tc := range expiry {
			wg.Go(func() {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newEph(t))
				})
			})
		}
		wg.Wait()
	})
}

// ephSession builds a valid session expiring in an hour, with times that
// carry nanoseconds and a non-UTC zone so sloppy backends show.
func ephSession(id string) storage.Session {
	now := time.Now().Round(0)
	return storage.Session{
		ID:           id,
		IdentityID:   "identity-" + id,
		Level:        1,
		Epoch:        3,
		AuthnInstant: now.Add(-time.Minute),
		CreatedAt:    now.Add(-time.Minute),
		ExpiresAt:    now.Add(time.Hour),
		Participants: []storage.SessionParticipant{{
			SPEntityID:   "https://sp1.example.it/metadata",
			NameID:       "_transient-1",
			SessionIndex: "_idx-1",
			IssuedAt:     now.Add(-30 * time.Second),
		}},
	}
}

// ephWait sleeps until deadline or fails the test if ctx ends first.
func ephWait(t *testing.T, deadline time.Time) {
	t.Helper()
	select {
	case <-time.After(time.Until(deadline)):
	case <-t.Context().Done():
		t.Fatal("test context ended while waiting for expiry")
	}
}

func ephTimeEqual(a, b time.Time) bool {
	d := a.Sub(b)
	return d < ephTimeTolerance && d > -ephTimeTolerance
}

// ephCheckSession compares two sessions field by field, times to
// ephTimeTolerance, nil and empty Participants alike.
func ephCheckSession(t *testing.T, got, want storage.Session) {
	t.Helper()
	if got.ID != want.ID || got.IdentityID != want.IdentityID || got.Level != want.Level || got.Epoch != want.Epoch {
		t.Errorf("session = {ID:%q IdentityID:%q Level:%d Epoch:%d}, want {ID:%q IdentityID:%q Level:%d Epoch:%d}",
			got.ID, got.IdentityID, got.Level, got.Epoch, want.ID, want.IdentityID, want.Level, want.Epoch)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"AuthnInstant", got.AuthnInstant, want.AuthnInstant},
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
	} {
		if !ephTimeEqual(f.got, f.want) {
			t.Errorf("session %s = %s, want %s", f.name, f.got, f.want)
		}
	}
	if len(got.Participants) != len(want.Participants) {
		t.Errorf("session has %d participants, want %d", len(got.Participants), len(want.Participants))
		return
	}
	for i := range got.Participants {
		g, w := got.Participants[i], want.Participants[i]
		if g.SPEntityID != w.SPEntityID || g.NameID != w.NameID || g.SessionIndex != w.SessionIndex || !ephTimeEqual(g.IssuedAt, w.IssuedAt) {
			t.Errorf("participant %d = %+v, want %+v", i, g, w)
		}
	}
}

func ephTestSessionCRUD(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	want := ephSession("sess-crud")
	if err := e.CreateSession(ctx, want); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := e.GetSession(ctx, want.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	ephCheckSession(t, got, want)

	second := storage.SessionParticipant{
		SPEntityID: "https://sp2.example.it", NameID: "_transient-2", SessionIndex: "_idx-2",
		IssuedAt: time.Now().Round(0),
	}
	err = e.UpdateSession(ctx, want.ID, func(s storage.Session) (storage.Session, error) {
		ephCheckSession(t, s, want)
		s.Participants = append(s.Participants, second)
		s.Level = 2
		return s, nil
	})
	if err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want.Participants = append(want.Participants, second)
	want.Level = 2
	got, err = e.GetSession(ctx, want.ID)
	if err != nil {
		t.Fatalf("GetSession after update: %v", err)
	}
	ephCheckSession(t, got, want)

	// A session without participants (just logged in, nothing sent yet).
	bare := ephSession("sess-bare")
	bare.Participants = nil
	if err := e.CreateSession(ctx, bare); err != nil {
		t.Fatalf("CreateSession without participants: %v", err)
	}
	got, err = e.GetSession(ctx, bare.ID)
	if err != nil {
		t.Fatalf("GetSession without participants: %v", err)
	}
	ephCheckSession(t, got, bare)

	if err := e.DeleteSession(ctx, want.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := e.GetSession(ctx, want.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := e.GetSession(ctx, bare.ID); err != nil {
		t.Errorf("deleting one session touched another: %v", err)
	}
	// The ID is free again once deleted.
	if err := e.CreateSession(ctx, want); err != nil {
		t.Errorf("CreateSession after delete: %v", err)
	}
}

func ephTestSessionCopies(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	in := ephSession("sess-copy")
	want := in
	want.Participants = slices.Clone(in.Participants)
	if err := e.CreateSession(ctx, in); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	in.Participants[0].NameID = "changed by caller after create"

	out, err := e.GetSession(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	out.Participants[0].SPEntityID = "changed by caller after get"
	out.Participants = append(out.Participants[:1], storage.SessionParticipant{SPEntityID: "appended"})

	// Mutating what fn received, then failing, must not leak into the store.
	_ = e.UpdateSession(ctx, in.ID, func(s storage.Session) (storage.Session, error) {
		s.Participants[0].SessionIndex = "changed inside a failed update"
		return s, errors.New("abort")
	})

	got, err := e.GetSession(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	ephCheckSession(t, got, want)
}

func ephTestSessionDuplicate(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	first := ephSession("sess-dup")
	if err := e.CreateSession(ctx, first); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	second := ephSession("sess-dup")
	second.IdentityID = "someone-else"
	if err := e.CreateSession(ctx, second); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second CreateSession with the same ID: err = %v, want ErrAlreadyExists", err)
	}
	got, err := e.GetSession(ctx, first.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.IdentityID != first.IdentityID {
		t.Errorf("duplicate create overwrote the session: IdentityID = %q, want %q", got.IdentityID, first.IdentityID)
	}
}

func ephTestSessionNotFound(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	if _, err := e.GetSession(ctx, "no-such-session"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession unknown: err = %v, want ErrNotFound", err)
	}
	called := false
	err := e.UpdateSession(ctx, "no-such-session", func(s storage.Session) (storage.Session, error) {
		called = true
		return s, nil
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateSession unknown: err = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("UpdateSession called fn for an unknown session")
	}
	if err := e.DeleteSession(ctx, "no-such-session"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteSession unknown: err = %v, want ErrNotFound", err)
	}
	// An update must not bring a missing session into existence.
	if _, err := e.GetSession(ctx, "no-such-session"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession after failed update: err = %v, want ErrNotFound", err)
	}
}

func ephTestSessionInvalid(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	cases := []struct {
		name   string
		mutate func(*storage.Session)
	}{
		{"empty ID", func(s *storage.Session) { s.ID = "" }},
		{"zero expiry", func(s *storage.Session) { s.ExpiresAt = time.Time{} }},
		{"past expiry", func(s *storage.Session) { s.ExpiresAt = time.Now().Add(-time.Second) }},
	}
	for _, c := range cases {
		s := ephSession("sess-invalid")
		c.mutate(&s)
		err := e.CreateSession(ctx, s)
		if err == nil || errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("CreateSession with %s: err = %v, want a validation error", c.name, err)
		}
	}
	if _, err := e.GetSession(ctx, "sess-invalid"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an invalid session was stored: GetSession err = %v", err)
	}
}

func ephTestSessionUpdateAborts(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	want := ephSession("sess-abort")
	if err := e.CreateSession(ctx, want); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	errVeto := errors.New("veto from fn")
	err := e.UpdateSession(ctx, want.ID, func(s storage.Session) (storage.Session, error) {
		s.Level = 2
		s.Participants = nil
		return s, errVeto
	})
	if !errors.Is(err, errVeto) {
		t.Fatalf("UpdateSession: err = %v, want the error fn returned", err)
	}
	got, err := e.GetSession(ctx, want.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	ephCheckSession(t, got, want)
}

func ephTestSessionUpdateKeepsID(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	want := ephSession("sess-keepid")
	if err := e.CreateSession(ctx, want); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	err := e.UpdateSession(ctx, want.ID, func(s storage.Session) (storage.Session, error) {
		s.ID = "sess-other"
		return s, nil
	})
	if err == nil {
		t.Fatal("UpdateSession accepted an fn that changed the session ID")
	}
	if _, err := e.GetSession(ctx, "sess-other"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an ID-changing update created a session: err = %v", err)
	}
	got, err := e.GetSession(ctx, want.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	ephCheckSession(t, got, want)
}

func ephTestSessionConcurrentUpdate(t *testing.T, e storage.Ephemeral) {
	ephConcurrentJoins(t, e, "sess-concurrent", 50, func(ctx context.Context, id string, p storage.SessionParticipant, _ time.Time) error {
		return e.UpdateSession(ctx, id, func(s storage.Session) (storage.Session, error) {
			s.Participants = append(s.Participants, p)
			return s, nil
		})
	})
}

// ephConcurrentJoins has n SPs join one session at once through join, and
// checks that every one of them is in it exactly once: no join lost, none
// applied twice.
func ephConcurrentJoins(t *testing.T, e storage.Ephemeral, id string, n int, join func(ctx context.Context, id string, p storage.SessionParticipant, expires time.Time) error) {
	ctx := t.Context()
	s := ephSession(id)
	s.Participants = nil
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			p := storage.SessionParticipant{
				SPEntityID: fmt.Sprintf("https://sp%02d.example.it", i),
				NameID:     fmt.Sprintf("_nameid-%02d", i),
				IssuedAt:   time.Now(),
			}
			if err := join(ctx, s.ID, p, s.ExpiresAt); err != nil {
				t.Errorf("join %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()

	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	seen := make(map[string]int)
	for _, p := range got.Participants {
		seen[p.SPEntityID]++
	}
	for i := range n {
		id := fmt.Sprintf("https://sp%02d.example.it", i)
		if seen[id] != 1 {
			t.Errorf("participant %s present %d times, want once (lost or duplicated update)", id, seen[id])
		}
	}
	if len(got.Participants) != n {
		t.Errorf("session has %d participants, want %d", len(got.Participants), n)
	}
}

func ephTestSessionTimesUTC(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatalf("load Europe/Rome: %v", err)
	}
	west := time.FixedZone("UTC-03:30", -(3*3600 + 1800))
	now := time.Now()
	// Nanoseconds on purpose: backends must keep at least microseconds.
	in := storage.Session{
		ID:           "sess-utc",
		IdentityID:   "identity-utc",
		Level:        2,
		AuthnInstant: time.Date(2026, 3, 29, 1, 59, 59, 123456789, rome), // just before the DST switch
		CreatedAt:    now.Add(-time.Second).In(west),
		ExpiresAt:    now.Add(time.Hour).In(rome),
		Participants: []storage.SessionParticipant{{
			SPEntityID: "https://sp.example.it", NameID: "_n", SessionIndex: "_s",
			IssuedAt: time.Date(2026, 10, 25, 2, 30, 0, 987654321, rome), // inside the repeated hour
		}},
	}
	if err := e.CreateSession(ctx, in); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	check := func(stage string, got storage.Session) {
		t.Helper()
		ephCheckSession(t, got, in)
		for _, f := range []struct {
			name string
			v    time.Time
		}{
			{"AuthnInstant", got.AuthnInstant}, {"CreatedAt", got.CreatedAt},
			{"ExpiresAt", got.ExpiresAt}, {"Participants[0].IssuedAt", got.Participants[0].IssuedAt},
		} {
			if f.v.Location() != time.UTC {
				t.Errorf("%s: %s is in %s, want UTC", stage, f.name, f.v.Location())
			}
		}
	}
	got, err := e.GetSession(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if len(got.Participants) != 1 {
		t.Fatalf("got %d participants, want 1", len(got.Participants))
	}
	check("GetSession", got)
	err = e.UpdateSession(ctx, in.ID, func(s storage.Session) (storage.Session, error) {
		check("UpdateSession fn", s)
		return s, nil
	})
	if err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
}

func ephTestRequestIDFirstWins(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	const n = 100
	key := "https://sp.example.it|_replayed-request-id"
	exp := time.Now().Add(time.Hour)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won, lost int
	for i := range n {
		wg.Go(func() {
			<-start
			err := e.InsertRequestID(ctx, key, exp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, storage.ErrAlreadyExists):
				lost++
			default:
				t.Errorf("InsertRequestID %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Errorf("%d callers won and %d got ErrAlreadyExists, want 1 and %d", won, lost, n-1)
	}
	if err := e.InsertRequestID(ctx, key, exp); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("later replay: err = %v, want ErrAlreadyExists", err)
	}
}

func ephTestRequestIDIndependent(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	// The same request ID from two SPs, and two IDs from one SP, are all distinct keys.
	for _, k := range []string{"https://a.example.it|_id1", "https://b.example.it|_id1", "https://a.example.it|_id2"} {
		if err := e.InsertRequestID(ctx, k, exp); err != nil {
			t.Errorf("InsertRequestID(%q): %v", k, err)
		}
	}
	// A request ID and a session or counter with the same name live apart.
	if err := e.CreateSession(ctx, ephSession("shared-name")); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := e.Incr(ctx, "shared-name", time.Hour); err != nil {
		t.Fatalf("Incr: %v", err)
	}
	if err := e.InsertRequestID(ctx, "shared-name", exp); err != nil {
		t.Errorf("InsertRequestID collided with a session or counter of the same name: %v", err)
	}
}

func ephTestRequestIDInvalid(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	cases := []struct {
		name string
		key  string
		exp  time.Time
	}{
		{"empty key", "", time.Now().Add(time.Hour)},
		{"zero expiry", "k-zero", time.Time{}},
		{"past expiry", "k-past", time.Now().Add(-time.Second)},
	}
	for _, c := range cases {
		err := e.InsertRequestID(ctx, c.key, c.exp)
		if err == nil || errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("InsertRequestID with %s: err = %v, want a validation error", c.name, err)
		}
	}
}

func ephTestCounterCounts(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	for want := int64(1); want <= 5; want++ {
		got, err := e.Incr(ctx, "login:alice", time.Hour)
		if err != nil {
			t.Fatalf("Incr: %v", err)
		}
		if got != want {
			t.Fatalf("Incr = %d, want %d", got, want)
		}
	}
	if got, err := e.Incr(ctx, "login:bob", time.Hour); err != nil || got != 1 {
		t.Errorf("Incr on another key = %d, %v; want 1, nil", got, err)
	}
	if err := e.ResetCounter(ctx, "login:alice"); err != nil {
		t.Fatalf("ResetCounter: %v", err)
	}
	if got, err := e.Incr(ctx, "login:alice", time.Hour); err != nil || got != 1 {
		t.Errorf("Incr after reset = %d, %v; want 1, nil", got, err)
	}
	if got, err := e.Incr(ctx, "login:bob", time.Hour); err != nil || got != 2 {
		t.Errorf("reset touched another key: Incr = %d, %v; want 2, nil", got, err)
	}
	if err := e.ResetCounter(ctx, "login:nobody"); err != nil {
		t.Errorf("ResetCounter on an unknown key: %v", err)
	}
}

func ephTestCounterConcurrent(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	const n = 100
	got := make([]int64, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			v, err := e.Incr(ctx, "ip:192.0.2.1", time.Hour)
			if err != nil {
				t.Errorf("Incr %d: %v", i, err)
			}
			got[i] = v
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("concurrent Incr returned %v, want each of 1..%d exactly once", got, n)
		}
	}
}

func ephTestCounterInvalid(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	if _, err := e.Incr(ctx, "", time.Hour); err == nil {
		t.Error("Incr with an empty key: want an error")
	}
	for _, w := range []time.Duration{0, -time.Second} {
		if _, err := e.Incr(ctx, "k", w); err == nil {
			t.Errorf("Incr with window %s: want an error", w)
		}
	}
}

func ephTestPing(t *testing.T, e storage.Ephemeral) {
	if err := e.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func ephTestExpirySession(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-expiring")
	s.ExpiresAt = time.Now().Add(ephTTL)
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := e.GetSession(ctx, s.ID); err != nil {
		t.Fatalf("GetSession before expiry: %v", err)
	}
	ephWait(t, s.ExpiresAt.Add(ephMargin))
	if _, err := e.GetSession(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession after expiry: err = %v, want ErrNotFound", err)
	}
	called := false
	err := e.UpdateSession(ctx, s.ID, func(s storage.Session) (storage.Session, error) {
		called = true
		return s, nil
	})
	if !errors.Is(err, storage.ErrNotFound) || called {
		t.Errorf("UpdateSession after expiry: err = %v, fn called = %v; want ErrNotFound, false", err, called)
	}
	// An expired ID is free for a new session.
	fresh := ephSession(s.ID)
	if err := e.CreateSession(ctx, fresh); err != nil {
		t.Errorf("CreateSession over an expired session: %v", err)
	}
}

func ephTestExpiryUpdateShortens(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-shorten")
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	newExp := time.Now().Add(ephTTL)
	err := e.UpdateSession(ctx, s.ID, func(s storage.Session) (storage.Session, error) {
		s.ExpiresAt = newExp
		return s, nil
	})
	if err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	if _, err := e.GetSession(ctx, s.ID); err != nil {
		t.Fatalf("GetSession before the new expiry: %v", err)
	}
	ephWait(t, newExp.Add(ephMargin))
	if _, err := e.GetSession(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession after the shortened expiry: err = %v, want ErrNotFound", err)
	}
}

func ephTestExpiryUpdateExtends(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-extend")
	s.ExpiresAt = time.Now().Add(ephTTL)
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	newExp := time.Now().Add(time.Hour)
	err := e.UpdateSession(ctx, s.ID, func(s storage.Session) (storage.Session, error) {
		s.ExpiresAt = newExp
		return s, nil
	})
	if err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	ephWait(t, s.ExpiresAt.Add(ephMargin))
	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession after the original expiry: %v (the update did not extend it)", err)
	}
	if !ephTimeEqual(got.ExpiresAt, newExp) {
		t.Errorf("ExpiresAt = %s, want %s", got.ExpiresAt, newExp)
	}
}

func ephTestExpiryRequestID(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	key := "https://sp.example.it|_short-lived"
	exp := time.Now().Add(ephTTL)
	if err := e.InsertRequestID(ctx, key, exp); err != nil {
		t.Fatalf("InsertRequestID: %v", err)
	}
	if err := e.InsertRequestID(ctx, key, exp); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("replay before expiry: err = %v, want ErrAlreadyExists", err)
	}
	ephWait(t, exp.Add(ephMargin))
	if err := e.InsertRequestID(ctx, key, time.Now().Add(time.Hour)); err != nil {
		t.Errorf("InsertRequestID after expiry: %v", err)
	}
	if err := e.InsertRequestID(ctx, key, time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("replay of the re-inserted key: err = %v, want ErrAlreadyExists", err)
	}
}

func ephTestExpiryCounter(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	key := "otp:alice"
	if v, err := e.Incr(ctx, key, ephTTL); err != nil || v != 1 {
		t.Fatalf("first Incr = %d, %v; want 1, nil", v, err)
	}
	// The window began no later than now.
	windowEnd := time.Now().Add(ephTTL)
	// Half a window later a second increment must not push the window out
	// (a sliding window would still count 3 after windowEnd).
	ephWait(t, time.Now().Add(ephTTL/2))
	if v, err := e.Incr(ctx, key, ephTTL); err != nil || v != 2 {
		t.Fatalf("second Incr = %d, %v; want 2, nil", v, err)
	}
	ephWait(t, windowEnd.Add(ephMargin))
	if v, err := e.Incr(ctx, key, ephTTL); err != nil || v != 1 {
		t.Errorf("Incr in a new window = %d, %v; want 1, nil", v, err)
	}
}

// ephCheckValue reads key and fails unless it holds want and expires at exp
// (within ephExpiryTolerance), reported in UTC.
func ephCheckValue(t *testing.T, e storage.Ephemeral, key string, want []byte, exp time.Time) {
	t.Helper()
	got, gotExp, err := e.GetValue(t.Context(), key)
	if err != nil {
		t.Fatalf("GetValue(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("GetValue(%q) = %q, want %q", key, ephShort(got), ephShort(want))
	}
	if d := gotExp.Sub(exp); d > ephExpiryTolerance || d < -ephExpiryTolerance {
		t.Errorf("GetValue(%q) expiry = %s, want %s", key, gotExp, exp.UTC())
	}
	if gotExp.Location() != time.UTC {
		t.Errorf("GetValue(%q) expiry is in %s, want UTC", key, gotExp.Location())
	}
}

// ephShort keeps failure messages about large values readable.
func ephShort(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

func ephTestValueCRUD(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	key := "push:challenge-1"
	exp := time.Now().Add(5 * time.Minute).In(time.FixedZone("CET", 3600))
	if err := e.CreateValue(ctx, key, []byte(`{"state":"pending"}`), exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	ephCheckValue(t, e, key, []byte(`{"state":"pending"}`), exp)

	err := e.UpdateValue(ctx, key, func(v []byte) ([]byte, error) {
		if string(v) != `{"state":"pending"}` {
			t.Errorf("UpdateValue fn got %q", v)
		}
		return []byte(`{"state":"approved"}`), nil
	})
	if err != nil {
		t.Fatalf("UpdateValue: %v", err)
	}
	ephCheckValue(t, e, key, []byte(`{"state":"approved"}`), exp)

	// An empty value is a value.
	if err := e.CreateValue(ctx, "empty", nil, exp); err != nil {
		t.Fatalf("CreateValue(empty): %v", err)
	}
	ephCheckValue(t, e, "empty", nil, exp)
	if err := e.UpdateValue(ctx, key, func([]byte) ([]byte, error) { return []byte{}, nil }); err != nil {
		t.Fatalf("UpdateValue to empty: %v", err)
	}
	ephCheckValue(t, e, key, nil, exp)

	if err := e.DeleteValue(ctx, key); err != nil {
		t.Fatalf("DeleteValue: %v", err)
	}
	if _, _, err := e.GetValue(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue after delete: err = %v, want ErrNotFound", err)
	}
	ephCheckValue(t, e, "empty", nil, exp) // deleting one value left the other
	// The key is free again once deleted.
	if err := e.CreateValue(ctx, key, []byte("again"), exp); err != nil {
		t.Errorf("CreateValue after delete: %v", err)
	}
}

func ephTestValueCopies(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	in := []byte("original")
	if err := e.CreateValue(ctx, "k", in, exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	in[0] = 'X'
	out, _, err := e.GetValue(ctx, "k")
	if err != nil {
		t.Fatalf("GetValue: %v", err)
	}
	out[0] = 'Y'
	_ = e.UpdateValue(ctx, "k", func(v []byte) ([]byte, error) {
		if len(v) > 0 {
			v[0] = 'Z'
		}
		return v, errors.New("abort")
	})
	var kept []byte
	_ = e.UpdateValue(ctx, "k", func(v []byte) ([]byte, error) {
		kept = v // fn's bytes are stored...
		return v, nil
	})
	if len(kept) > 0 {
		kept[1] = 'W' // ...but the caller may not reach into the store through them
	}
	ephCheckValue(t, e, "k", []byte("original"), exp)
}

func ephTestValueBinary(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	every := make([]byte, 512)
	for i := range every {
		every[i] = byte(i)
	}
	if err := e.CreateValue(ctx, "bin", every, exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	ephCheckValue(t, e, "bin", every, exp)
	rev := slices.Clone(every)
	slices.Reverse(rev)
	if err := e.UpdateValue(ctx, "bin", func([]byte) ([]byte, error) { return rev, nil }); err != nil {
		t.Fatalf("UpdateValue: %v", err)
	}
	ephCheckValue(t, e, "bin", rev, exp)
}

// ephTestValueFirstWins: a one-time code or challenge is created once; of
// concurrent creators exactly one succeeds.
func ephTestValueFirstWins(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	const n = 100
	exp := time.Now().Add(time.Hour)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won, lost int
	var winner string
	for i := range n {
		wg.Go(func() {
			<-start
			mine := fmt.Sprintf("creator-%03d", i)
			err := e.CreateValue(ctx, "sms:id-001", []byte(mine), exp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
				winner = mine
			case errors.Is(err, storage.ErrAlreadyExists):
				lost++
			default:
				t.Errorf("CreateValue %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Fatalf("%d callers won and %d got ErrAlreadyExists, want 1 and %d", won, lost, n-1)
	}
	ephCheckValue(t, e, "sms:id-001", []byte(winner), exp)
}

func ephTestValueNotFound(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	if _, _, err := e.GetValue(ctx, "no-such-key"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue unknown: err = %v, want ErrNotFound", err)
	}
	called := false
	err := e.UpdateValue(ctx, "no-such-key", func(v []byte) ([]byte, error) {
		called = true
		return v, nil
	})
	if !errors.Is(err, storage.ErrNotFound) || called {
		t.Errorf("UpdateValue unknown: err = %v, fn called = %v; want ErrNotFound, false", err, called)
	}
	if err := e.DeleteValue(ctx, "no-such-key"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteValue unknown: err = %v, want ErrNotFound", err)
	}
	// An update must not bring a missing value into existence.
	if _, _, err := e.GetValue(ctx, "no-such-key"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue after failed update: err = %v, want ErrNotFound", err)
	}
}

func ephTestValueInvalid(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	cases := []struct {
		name string
		key  string
		exp  time.Time
	}{
		{"empty key", "", time.Now().Add(time.Hour)},
		{"zero expiry", "v-zero", time.Time{}},
		{"past expiry", "v-past", time.Now().Add(-time.Second)},
	}
	for _, c := range cases {
		err := e.CreateValue(ctx, c.key, []byte("v"), c.exp)
		if err == nil || errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("CreateValue with %s: err = %v, want a validation error", c.name, err)
		}
		if _, _, err := e.GetValue(ctx, c.key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CreateValue with %s stored something: GetValue err = %v", c.name, err)
		}
	}
}

// ephTestValueSizeLimit: storage.MaxValueSize bytes are accepted, one more
// is refused, on create and on update.
func ephTestValueSizeLimit(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	limit := bytes.Repeat([]byte{'a'}, storage.MaxValueSize)
	over := append(slices.Clone(limit), 'b')
	if err := e.CreateValue(ctx, "at-limit", limit, exp); err != nil {
		t.Fatalf("CreateValue of %d bytes: %v", len(limit), err)
	}
	ephCheckValue(t, e, "at-limit", limit, exp)
	err := e.CreateValue(ctx, "over-limit", over, exp)
	if err == nil || errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateValue of %d bytes: err = %v, want a size error", len(over), err)
	}
	if _, _, err := e.GetValue(ctx, "over-limit"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an oversized value was stored: GetValue err = %v", err)
	}
	err = e.UpdateValue(ctx, "at-limit", func(v []byte) ([]byte, error) { return append(v, 'b'), nil })
	if err == nil {
		t.Errorf("UpdateValue growing past %d bytes succeeded", storage.MaxValueSize)
	}
	ephCheckValue(t, e, "at-limit", limit, exp)
}

func ephTestValueUpdateAborts(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if err := e.CreateValue(ctx, "k", []byte("before"), exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	errVeto := errors.New("veto from fn")
	err := e.UpdateValue(ctx, "k", func([]byte) ([]byte, error) { return []byte("after"), errVeto })
	if err != errVeto {
		t.Errorf("UpdateValue: err = %v, want the error fn returned, as is", err)
	}
	ephCheckValue(t, e, "k", []byte("before"), exp)
}

// ephTestValueConcurrentUpdate: concurrent read-modify-writes of one value
// (a logout chain collecting answers) must lose none.
func ephTestValueConcurrentUpdate(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	const n = 50
	exp := time.Now().Add(time.Hour)
	if err := e.CreateValue(ctx, "chain", nil, exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			err := e.UpdateValue(ctx, "chain", func(v []byte) ([]byte, error) {
				return fmt.Appendf(v, "[%02d]", i), nil
			})
			if err != nil {
				t.Errorf("UpdateValue %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	got, _, err := e.GetValue(ctx, "chain")
	if err != nil {
		t.Fatalf("GetValue: %v", err)
	}
	for i := range n {
		if c := bytes.Count(got, fmt.Appendf(nil, "[%02d]", i)); c != 1 {
			t.Errorf("entry %02d present %d times, want once (lost or duplicated update)", i, c)
		}
	}
	if len(got) != 4*n {
		t.Errorf("value has %d bytes, want %d", len(got), 4*n)
	}
}

// ephTestValueIndependent: a value and a session, request ID or counter of
// the same name live apart.
func ephTestValueIndependent(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if err := e.CreateSession(ctx, ephSession("shared-name")); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := e.InsertRequestID(ctx, "shared-name", exp); err != nil {
		t.Fatalf("InsertRequestID: %v", err)
	}
	if _, err := e.Incr(ctx, "shared-name", time.Hour); err != nil {
		t.Fatalf("Incr: %v", err)
	}
	if _, _, err := e.GetValue(ctx, "shared-name"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue sees another kind of entry: err = %v", err)
	}
	if err := e.CreateValue(ctx, "shared-name", []byte("v"), exp); err != nil {
		t.Fatalf("CreateValue collided with another kind of entry: %v", err)
	}
	if err := e.DeleteValue(ctx, "shared-name"); err != nil {
		t.Fatalf("DeleteValue: %v", err)
	}
	if _, err := e.GetSession(ctx, "shared-name"); err != nil {
		t.Errorf("DeleteValue removed a session of the same name: %v", err)
	}
	if n, err := e.Incr(ctx, "shared-name", time.Hour); err != nil || n != 2 {
		t.Errorf("DeleteValue touched a counter of the same name: Incr = %d, %v", n, err)
	}
}

func ephTestExpiryValue(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(ephTTL)
	if err := e.CreateValue(ctx, "otp:short", []byte("123456"), exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	ephCheckValue(t, e, "otp:short", []byte("123456"), exp)
	if err := e.CreateValue(ctx, "otp:short", []byte("654321"), exp); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second CreateValue before expiry: err = %v, want ErrAlreadyExists", err)
	}
	ephWait(t, exp.Add(ephMargin))
	if _, _, err := e.GetValue(ctx, "otp:short"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue after expiry: err = %v, want ErrNotFound", err)
	}
	called := false
	err := e.UpdateValue(ctx, "otp:short", func(v []byte) ([]byte, error) {
		called = true
		return v, nil
	})
	if !errors.Is(err, storage.ErrNotFound) || called {
		t.Errorf("UpdateValue after expiry: err = %v, fn called = %v; want ErrNotFound, false", err, called)
	}
	if err := e.DeleteValue(ctx, "otp:short"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteValue after expiry: err = %v, want ErrNotFound", err)
	}
	// An expired key is free for a new value.
	newExp := time.Now().Add(time.Hour)
	if err := e.CreateValue(ctx, "otp:short", []byte("654321"), newExp); err != nil {
		t.Fatalf("CreateValue over an expired value: %v", err)
	}
	ephCheckValue(t, e, "otp:short", []byte("654321"), newExp)
}

// ephTestExpiryValueUpdate: an update neither extends nor drops the expiry,
// so a challenge answered repeatedly still dies on time.
func ephTestExpiryValueUpdate(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	exp := time.Now().Add(ephTTL)
	if err := e.CreateValue(ctx, "push:short", []byte("0"), exp); err != nil {
		t.Fatalf("CreateValue: %v", err)
	}
	ephWait(t, time.Now().Add(ephTTL/3))
	for i := range 3 {
		err := e.UpdateValue(ctx, "push:short", func(v []byte) ([]byte, error) { return fmt.Appendf(v, "%d", i+1), nil })
		if err != nil {
			t.Fatalf("UpdateValue: %v", err)
		}
	}
	ephCheckValue(t, e, "push:short", []byte("0123"), exp)
	ephWait(t, exp.Add(ephMargin))
	if _, _, err := e.GetValue(ctx, "push:short"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue after the original expiry: err = %v, want ErrNotFound (the update moved the expiry)", err)
	}
}
