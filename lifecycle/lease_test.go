package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/lifecycle"
)

// testTTL is a lease short enough for a test and long enough for a slow,
// shared machine to renew it (a renewal every third of it).
const testTTL = 2 * time.Second

// A run longer than the lease keeps it: the heartbeat renews it while the
// run lasts, so another node's attempts during the run are all skipped.
// Before the heartbeat the lease ran out mid-run and a second node ran too.
func TestSchedulerHeartbeatKeepsLeaseDuringLongRun(t *testing.T) {
	e := newEnv(t)
	b := envOn(t, e.st, "node-b")
	e.sched.LeaseTTL, b.sched.LeaseTTL = testTTL, testTTL
	started, finish := make(chan struct{}), make(chan struct{})
	e.sched.Jobs = []lifecycle.Job{{Name: "long", Run: func(ctx context.Context, _ time.Time) (string, error) {
		close(started)
		select {
		case <-finish:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}}}
	type result struct {
		rep lifecycle.Report
		err error
	}
	res := make(chan result, 1)
	go func() {
		rep, err := e.sched.RunOnce(t.Context())
		res <- result{rep, err}
	}()
	<-started
	// Node B tries for four lease lifetimes while A's job runs.
	deadline := time.Now().Add(4 * testTTL)
	for time.Now().Before(deadline) {
		rep, err := b.sched.RunOnce(t.Context())
		if err != nil || !rep.Skipped {
			t.Fatalf("node B ran while node A's run was still going: %+v, %v", rep, err)
		}
		time.Sleep(testTTL / 6)
	}
	close(finish)
	r := <-res
	if r.err != nil || r.rep.Skipped {
		t.Fatalf("node A's run: %+v, %v", r.rep, r.err)
	}
	// Released at the end: B takes it at once.
	if rep, err := b.sched.RunOnce(t.Context()); err != nil || rep.Skipped {
		t.Errorf("after A's run: %+v, %v", rep, err)
	}
}

// A holder that dies (its lease left in the database, nobody renewing
// it) is replaced by a looping node soon after the lease's TTL, not after
// the loop's interval: here the interval is an hour.
func TestSchedulerDeadHolderReplaced(t *testing.T) {
	e := newEnv(t)
	if ok, err := e.st.TryAcquire(t.Context(), lifecycle.LeaseName, "dead-node", testTTL); err != nil || !ok {
		t.Fatal(ok, err)
	}
	died := time.Now()
	e.sched.LeaseTTL = testTTL
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ran := make(chan time.Duration, 1)
	go e.sched.Loop(ctx, time.Hour, func(r lifecycle.Report, err error) {
		if err == nil && !r.Skipped {
			select {
			case ran <- time.Since(died):
			default:
			}
		}
	})
	select {
	case d := <-ran:
		if d < testTTL {
			t.Errorf("took the lease after %s, before the dead holder's lease (%s) expired", d, testTTL)
		}
	case <-time.After(20 * testTTL):
		t.Fatalf("the dead holder's lease (TTL %s) was not taken over within %s", testTTL, 20*testTTL)
	}
}

// A node whose lease is taken by another (it stalled past the TTL) stops
// its run with ErrLeaseLost instead of carrying on beside the new holder.
func TestSchedulerStopsWhenLeaseTaken(t *testing.T) {
	e := newEnv(t)
	e.sched.LeaseTTL = testTTL
	e.sched.Jobs = []lifecycle.Job{{Name: "long", Run: func(ctx context.Context, _ time.Time) (string, error) {
		// Another node steals the lease, as if this one had stalled.
		if err := e.st.Release(ctx, lifecycle.LeaseName, "node-a"); err != nil {
			return "", err
		}
		if ok, err := e.st.TryAcquire(ctx, lifecycle.LeaseName, "node-b", time.Hour); err != nil || !ok {
			return "", errors.Join(errors.New("node-b could not take the lease"), err)
		}
		<-ctx.Done()
		return "", ctx.Err()
	}}}
	done := make(chan error, 1)
	go func() {
		_, err := e.sched.RunOnce(t.Context())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, lifecycle.ErrLeaseLost) {
			t.Errorf("run after losing the lease: %v, want ErrLeaseLost", err)
		}
	case <-time.After(20 * testTTL):
		t.Fatal("the run went on after another node took the lease")
	}
	// node-b's lease is untouched by node-a's release at the end.
	if ok, err := e.st.TryAcquire(t.Context(), lifecycle.LeaseName, "node-c", time.Hour); err != nil || ok {
		t.Errorf("node-b's lease was released by node-a: %v %v", ok, err)
	}
}

func TestDefaultLeaseReplacesDeadHolderWithinAMinute(t *testing.T) {
	// Loop's interval in serve is one minute; a skipped node retries every
	// half TTL, so a dead holder is replaced within max(1 min, 1.5 TTL).
	if d := lifecycle.DefaultLeaseTTL * 3 / 2; d > time.Minute {
		t.Errorf("DefaultLeaseTTL %s lets a dead holder keep the lease %s", lifecycle.DefaultLeaseTTL, d)
	}
}
