package regulation

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/storage"
)

// fakeStore implements the credential methods of storage.Store; calling any
// other method panics through the nil embedded interface.
type fakeStore struct {
	storage.Store
	mu     sync.Mutex
	creds  map[string]storage.Credential
	writes int
	reads  int // GetCredential calls
}

func newFakeStore(ids ...string) *fakeStore {
	s := &fakeStore{creds: map[string]storage.Credential{}}
	for _, id := range ids {
		s.creds[id] = storage.Credential{IdentityID: id, PasswordHash: "$argon2id$..."}
	}
	return s
}

func (s *fakeStore) GetCredential(_ context.Context, id string) (storage.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	c, ok := s.creds[id]
	if !ok {
		return c, storage.ErrNotFound
	}
	return c, nil
}

func (s *fakeStore) UpdateCredential(_ context.Context, id string, fn func(storage.Credential) (storage.Credential, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[id]
	if !ok {
		return storage.ErrNotFound
	}
	c, err := fn(c)
	if err != nil {
		return err
	}
	s.creds[id] = c
	s.writes++
	return nil
}

type clock = testclock.Clock

func setup() (*Regulator, *fakeStore, *clock) {
	st := newFakeStore("alice", "bob")
	clk := testclock.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	return &Regulator{Store: st, MaxFailures: 5, Window: time.Hour, Duration: 30 * time.Minute, MaxDuration: 4 * time.Hour, Now: clk.Now}, st, clk
}

func TestLockAfterMaxFailures(t *testing.T) {
	ctx := context.Background()
	r, _, clk := setup()
	for i := 1; i <= 4; i++ {
		left, locked, err := r.Fail(ctx, "alice")
		if err != nil || locked || left != 5-i {
			t.Fatalf("failure %d: left=%d locked=%v err=%v", i, left, locked, err)
		}
		clk.Advance(time.Minute)
	}
	left, locked, err := r.Fail(ctx, "alice")
	if err != nil || !locked || left != 0 {
		t.Fatalf("5th failure: left=%d locked=%v err=%v", left, locked, err)
	}
	lockStart := clk.Now()
	isLocked, until, err := r.Check(ctx, "alice")
	if err != nil || !isLocked || !until.Equal(lockStart.Add(30*time.Minute)) {
		t.Fatalf("Check = %v, %v, %v", isLocked, until, err)
	}
	// Other identities are unaffected.
	if l, _, _ := r.Check(ctx, "bob"); l {
		t.Fatal("bob locked by alice's failures")
	}
	// The lock ends by itself.
	clk.Advance(30*time.Minute - time.Second)
	if l, _, _ := r.Check(ctx, "alice"); !l {
		t.Fatal("unlocked before the end")
	}
	clk.Advance(time.Second)
	if l, _, _ := r.Check(ctx, "alice"); l {
		t.Fatal("still locked after Duration")
	}
}

func TestFailWhileLockedDoesNotExtend(t *testing.T) {
	ctx := context.Background()
	r, st, clk := setup()
	for range 5 {
		r.Fail(ctx, "alice")
	}
	before := st.creds["alice"]
	clk.Advance(10 * time.Minute)
	left, locked, err := r.Fail(ctx, "alice")
	if err != nil || locked || left != 0 {
		t.Fatalf("Fail during lock: %d %v %v", left, locked, err)
	}
	after := st.creds["alice"]
	if after.LockedUntil != before.LockedUntil || after.FailedAttempts != before.FailedAttempts {
		t.Fatalf("lock changed during lock: %+v -> %+v", before, after)
	}
}

func TestLocksEscalate(t *testing.T) {
	ctx := context.Background()
	r, _, clk := setup()
	r.Window = 100 * time.Hour // longer than every lock: the count carries on
	want := []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for round, d := range want {
		for range 4 {
			r.Fail(ctx, "alice")
		}
		_, locked, _ := r.Fail(ctx, "alice")
		if !locked {
			t.Fatalf("round %d: not locked", round)
		}
		_, until, _ := r.Check(ctx, "alice")
		if got := until.Sub(clk.Now()); got != d {
			t.Fatalf("round %d: lock of %v, want %v", round+1, got, d)
		}
		clk.Advance(d) // wait the lock out
	}
}

func TestWindowResetsOldFailures(t *testing.T) {
	ctx := context.Background()
	r, _, clk := setup()
	for range 4 {
		r.Fail(ctx, "alice")
	}
	clk.Advance(time.Hour + time.Second)
	left, locked, _ := r.Fail(ctx, "alice")
	if locked || left != 4 {
		t.Fatalf("failure after Window: left=%d locked=%v, want a fresh count", left, locked)
	}
}

func TestSucceedResets(t *testing.T) {
	ctx := context.Background()
	r, st, clk := setup()
	if err := r.Succeed(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if st.writes != 0 {
		t.Fatal("Succeed on a clean credential wrote to the store")
	}
	for range 4 {
		r.Fail(ctx, "alice")
	}
	if err := r.Succeed(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if c := st.creds["alice"]; c.FailedAttempts != 0 || !c.LastFailureAt.IsZero() {
		t.Fatalf("after Succeed: %+v", c)
	}
	// A running lock is not lifted by Succeed; Unlock does.
	for range 5 {
		r.Fail(ctx, "alice")
	}
	r.Succeed(ctx, "alice")
	if l, _, _ := r.Check(ctx, "alice"); !l {
		t.Fatal("Succeed lifted a running lock")
	}
	if err := r.Unlock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if l, _, _ := r.Check(ctx, "alice"); l {
		t.Fatal("Unlock did not lift the lock")
	}
	_ = clk
}

func TestUnknownIdentity(t *testing.T) {
	ctx := context.Background()
	r, _, _ := setup()
	if _, _, err := r.Check(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Check: %v", err)
	}
	if _, _, err := r.Fail(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Fail: %v", err)
	}
	if err := r.Succeed(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Succeed: %v", err)
	}
}

// Concurrent failures are counted exactly once each: exactly one of them
// locks.
func TestConcurrentFailures(t *testing.T) {
	ctx := context.Background()
	r, st, _ := setup()
	r.MaxFailures = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	locks := 0
	for range 20 {
		wg.Go(func() {
			_, locked, err := r.Fail(ctx, "alice")
			if err != nil {
				t.Error(err)
			}
			if locked {
				mu.Lock()
				locks++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if c := st.creds["alice"]; c.FailedAttempts != 20 || locks != 1 {
		t.Fatalf("attempts=%d locks=%d, want 20 and 1", c.FailedAttempts, locks)
	}
}

func TestDefaults(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore("alice")
	r := &Regulator{Store: st}
	for i := 1; i < DefaultMaxFailures; i++ {
		if _, locked, _ := r.Fail(ctx, "alice"); locked {
			t.Fatalf("locked after %d failures", i)
		}
	}
	if _, locked, _ := r.Fail(ctx, "alice"); !locked {
		t.Fatal("not locked after DefaultMaxFailures")
	}
	_, until, _ := r.Check(ctx, "alice")
	if d := time.Until(until); d < DefaultDuration-time.Minute || d > DefaultDuration {
		t.Fatalf("default lock lasts %v", d)
	}
}

// fakeEph implements Incr/ResetCounter of storage.Ephemeral with a clock.
type fakeEph struct {
	storage.Ephemeral
	mu  sync.Mutex
	now func() time.Time
	n   map[string]int64
	exp map[string]time.Time
}

func (e *fakeEph) Incr(_ context.Context, key string, window time.Duration) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.exp[key]; !ok || !e.now().Before(exp) {
		e.n[key] = 0
		e.exp[key] = e.now().Add(window)
	}
	e.n[key]++
	return e.n[key], nil
}

func (e *fakeEph) ResetCounter(_ context.Context, key string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.n, key)
	delete(e.exp, key)
	return nil
}

type failingEph struct{ storage.Ephemeral }

func (failingEph) Incr(context.Context, string, time.Duration) (int64, error) {
	return 0, errors.New("redis down")
}

func TestLimiter(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	eph := &fakeEph{now: clk.Now, n: map[string]int64{}, exp: map[string]time.Time{}}
	l := &Limiter{Eph: eph, Max: 3, Window: time.Minute, Prefix: "login:"}
	ip := IPKey(netip.MustParseAddr("203.0.113.9"))
	for i := 1; i <= 3; i++ {
		if ok, err := l.Allow(ctx, ip); !ok || err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
	}
	if ok, _ := l.Allow(ctx, ip); ok {
		t.Fatal("4th attempt in the window allowed")
	}
	// Another key is independent.
	if ok, _ := l.Allow(ctx, UserKey("mario.rossi")); !ok {
		t.Fatal("other key refused")
	}
	// The window ends.
	clk.Advance(time.Minute)
	if ok, _ := l.Allow(ctx, ip); !ok {
		t.Fatal("refused in a new window")
	}
	// Reset.
	for range 5 {
		l.Allow(ctx, ip)
	}
	if err := l.Reset(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Allow(ctx, ip); !ok {
		t.Fatal("refused after Reset")
	}
	if _, ok := eph.n["login:"+ip]; !ok {
		t.Fatal("prefix not applied to the stored key")
	}
}

func TestLimiterErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (&Limiter{Eph: failingEph{}}).Allow(ctx, "k"); !errors.Is(err, ErrConfig) {
		t.Errorf("zero limiter: %v", err)
	}
	ok, err := (&Limiter{Eph: failingEph{}, Max: 1, Window: time.Second}).Allow(ctx, "k")
	if ok || err == nil {
		t.Errorf("store failure: ok=%v err=%v, want refused with error", ok, err)
	}
}

func TestKeys(t *testing.T) {
	cases := map[string]string{
		"203.0.113.9":          "ip:203.0.113.0/24",
		"203.0.113.200":        "ip:203.0.113.0/24",
		"::ffff:203.0.113.9":   "ip:203.0.113.0/24",
		"2001:db8:1:2:3:4:5:6": "ip:2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "ip:2001:db8:1:2::/64",
		"fe80::1%eth0":         "ip:fe80::/64",
		"2001:db8:1:3::1":      "ip:2001:db8:1:3::/64",
	}
	for in, want := range cases {
		if got := IPKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("IPKey(%s) = %s, want %s", in, got, want)
		}
	}
	if IPKey(netip.Addr{}) != "ip:invalid" {
		t.Error("zero address key")
	}
	// Same key whatever the case and spacing; no username in the key.
	a, b := UserKey(" Mario.Rossi@Example.it "), UserKey("mario.rossi@example.it")
	if a != b {
		t.Errorf("UserKey not normalised: %s vs %s", a, b)
	}
	if got := fmt.Sprint(a); len(got) != len("user:")+32 || got == "user:mario.rossi@example.it" {
		t.Errorf("UserKey = %s", got)
	}
}

// S070: wrong second-factor answers lock like wrong passwords, and a right
// password (a level-1 login) does not clear them; only a completed level-2
// authentication does.
func TestS070FactorFailuresSurvivePassword(t *testing.T) {
	ctx := context.Background()
	r, st, clk := setup()
	for i := range 4 {
		f, err := r.FailFactor(ctx, "alice")
		if err != nil || f.LockedNow || f.AttemptsLeft != 4-i {
			t.Fatalf("factor failure %d: %+v %v", i+1, f, err)
		}
		// A level-1 login in between forgets nothing of the codes.
		if err := r.SucceedPassword(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	if c := st.creds["alice"]; c.FailedAttempts != 4 || c.FactorFailures != 4 {
		t.Fatalf("after 4 codes and 4 level-1 logins: %+v", c)
	}
	f, err := r.FailFactor(ctx, "alice")
	if err != nil || !f.LockedNow || !f.LockedUntil.Equal(clk.Now().Add(30*time.Minute)) || f.Failures != 5 {
		t.Fatalf("5th wrong code: %+v %v, want a 30-minute lock", f, err)
	}
}

func TestSucceedPasswordForgetsOnlyPasswords(t *testing.T) {
	ctx := context.Background()
	r, st, _ := setup()
	r.Fail(ctx, "alice")
	r.Fail(ctx, "alice")
	r.FailFactor(ctx, "alice")
	if err := r.SucceedPassword(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if c := st.creds["alice"]; c.FailedAttempts != 1 || c.FactorFailures != 1 || c.LastFailureAt.IsZero() {
		t.Fatalf("after a level-1 login: %+v, want the one code failure kept", c)
	}
	if err := r.Succeed(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if c := st.creds["alice"]; c.FailedAttempts != 0 || c.FactorFailures != 0 || !c.LastFailureAt.IsZero() {
		t.Fatalf("after a level-2 login: %+v, want all forgotten", c)
	}
	// Passwords only: a level-1 login clears everything.
	r.Fail(ctx, "bob")
	r.SucceedPassword(ctx, "bob")
	if c := st.creds["bob"]; c.FailedAttempts != 0 || !c.LastFailureAt.IsZero() {
		t.Fatalf("bob after a level-1 login: %+v", c)
	}
}

// TestCurrentThenSucceedPasswordAfter: the login's pair reads the
// credential once, writes nothing for a clean one, and otherwise clears
// what SucceedPassword clears; Current says locked as Check does.
func TestCurrentThenSucceedPasswordAfter(t *testing.T) {
	ctx := context.Background()
	r, st, _ := setup()
	c, locked, err := r.Current(ctx, "alice")
	if err != nil || locked {
		t.Fatalf("Current on a clean credential: locked=%v err=%v", locked, err)
	}
	if err := r.SucceedPasswordAfter(ctx, "alice", c); err != nil {
		t.Fatal(err)
	}
	if st.reads != 1 || st.writes != 0 {
		t.Fatalf("clean login: %d reads, %d writes, want 1 and 0", st.reads, st.writes)
	}

	r.Fail(ctx, "alice")
	r.Fail(ctx, "alice")
	r.FailFactor(ctx, "alice")
	c, locked, err = r.Current(ctx, "alice")
	if err != nil || locked {
		t.Fatalf("Current after 3 failures: locked=%v err=%v", locked, err)
	}
	if err := r.SucceedPasswordAfter(ctx, "alice", c); err != nil {
		t.Fatal(err)
	}
	if c := st.creds["alice"]; c.FailedAttempts != 1 || c.FactorFailures != 1 {
		t.Fatalf("after a level-1 login: %+v, want the one code failure kept", c)
	}

	for range 5 {
		r.Fail(ctx, "bob")
	}
	c, locked, err = r.Current(ctx, "bob")
	if err != nil || !locked || !c.LockedUntil.After(time.Time{}) {
		t.Fatalf("Current of a locked credential: locked=%v until=%v err=%v", locked, c.LockedUntil, err)
	}
	if _, _, err := r.Current(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Current of an unknown identity: %v", err)
	}
}
