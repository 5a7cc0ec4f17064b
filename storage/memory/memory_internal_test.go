package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/storage"
)

func newClocked(t *testing.T, opts ...Option) (*Store, *testclock.Clock) {
	t.Helper()
	clk := testclock.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	s := New(append([]Option{WithClock(clk.Now)}, opts...)...)
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

func (s *Store) sizes() (sessions, requestIDs, counters, values int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions), len(s.requestIDs), len(s.counters), len(s.values)
}

// TestExpiryBoundary checks, without sleeping, that every kind of entry is
// visible until the instant before its expiry and gone at that instant.
func TestExpiryBoundary(t *testing.T) {
	ctx := context.Background()
	s, clk := newClocked(t, WithSweepInterval(0))
	start := clk.Now()
	exp := start.Add(time.Minute)

	if err := s.CreateSession(ctx, storage.Session{ID: "s", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRequestID(ctx, "r", exp); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Incr(ctx, "c", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if err := s.CreateValue(ctx, "v", []byte("x"), exp); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute - time.Nanosecond)
	if _, err := s.GetSession(ctx, "s"); err != nil {
		t.Errorf("session gone 1ns before expiry: %v", err)
	}
	if err := s.InsertRequestID(ctx, "r", exp.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("request ID forgotten 1ns before expiry: %v", err)
	}
	if n, _ := s.Incr(ctx, "c", time.Minute); n != 2 {
		t.Errorf("counter reset 1ns before its window ended: %d", n)
	}
	if _, gotExp, err := s.GetValue(ctx, "v"); err != nil || !gotExp.Equal(exp) {
		t.Errorf("value 1ns before expiry: expiry %s, err %v; want %s, nil", gotExp, err, exp)
	}

	clk.Advance(time.Nanosecond)
	if _, err := s.GetSession(ctx, "s"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session at its expiry: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, "s"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteSession of an expired session: err = %v, want ErrNotFound", err)
	}
	if err := s.InsertRequestID(ctx, "r", exp.Add(time.Hour)); err != nil {
		t.Errorf("request ID at its expiry still blocks: %v", err)
	}
	if n, _ := s.Incr(ctx, "c", time.Minute); n != 1 {
		t.Errorf("counter at the end of its window = %d, want 1", n)
	}
	if _, _, err := s.GetValue(ctx, "v"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("value at its expiry: err = %v, want ErrNotFound", err)
	}
	if err := s.UpdateValue(ctx, "v", func(b []byte) ([]byte, error) { return b, nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateValue at its expiry: err = %v, want ErrNotFound", err)
	}
	if err := s.CreateValue(ctx, "v", []byte("y"), exp.Add(time.Hour)); err != nil {
		t.Errorf("CreateValue over an expired value: %v", err)
	}
}

func TestSweepDropsOnlyExpired(t *testing.T) {
	ctx := context.Background()
	s, clk := newClocked(t, WithSweepInterval(0))
	now := clk.Now()
	for _, id := range []string{"short", "long"} {
		d := time.Minute
		if id == "long" {
			d = time.Hour
		}
		if err := s.CreateSession(ctx, storage.Session{ID: id, ExpiresAt: now.Add(d)}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertRequestID(ctx, id, now.Add(d)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, id, d); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateValue(ctx, id, []byte(id), now.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	s.sweep()
	if a, b, c, v := s.sizes(); a != 1 || b != 1 || c != 1 || v != 1 {
		t.Fatalf("after sweep: %d sessions, %d request IDs, %d counters, %d values; want 1 each", a, b, c, v)
	}
	if got, _, err := s.GetValue(ctx, "long"); err != nil || string(got) != "long" {
		t.Errorf("sweep removed a live value: %q, %v", got, err)
	}
	if _, err := s.GetSession(ctx, "long"); err != nil {
		t.Errorf("sweep removed a live session: %v", err)
	}
}

// TestJanitorRuns checks the background sweeper actually runs and that
// Close stops it (Close waits for the goroutine to return).
func TestJanitorRuns(t *testing.T) {
	ctx := context.Background()
	s, clk := newClocked(t, WithSweepInterval(5*time.Millisecond))
	if err := s.InsertRequestID(ctx, "r", clk.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, n, _, _ := s.sizes(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("janitor did not sweep an expired request ID within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("Close returned while the janitor was still running")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s, clk := newClocked(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := clk.Now().Add(time.Hour)
	checks := map[string]error{
		"CreateSession":   s.CreateSession(ctx, storage.Session{ID: "s", ExpiresAt: exp}),
		"InsertRequestID": s.InsertRequestID(ctx, "r", exp),
		"UpdateSession": s.UpdateSession(ctx, "s", func(s storage.Session) (storage.Session, error) {
			return s, nil
		}),
		"DeleteSession": s.DeleteSession(ctx, "s"),
		"ResetCounter":  s.ResetCounter(ctx, "c"),
		"Ping":          s.Ping(ctx),
		"CreateValue":   s.CreateValue(ctx, "v", nil, exp),
		"UpdateValue":   s.UpdateValue(ctx, "v", func(b []byte) ([]byte, error) { return b, nil }),
		"DeleteValue":   s.DeleteValue(ctx, "v"),
	}
	_, checks["GetSession"] = s.GetSession(ctx, "s")
	_, checks["Incr"] = s.Incr(ctx, "c", time.Minute)
	_, _, checks["GetValue"] = s.GetValue(ctx, "v")
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	if a, b, c, v := s.sizes(); a+b+c+v != 0 {
		t.Error("a canceled call changed the store")
	}
}
