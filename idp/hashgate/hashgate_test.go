package hashgate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// With every slot taken, a check waits, then is refused with ErrBusy
// without running; a freed slot lets the next one in. The metrics show the
// queue, the wait and the refusals.
func TestGateQueuesThenRefuses(t *testing.T) {
	g := New(1, 50*time.Millisecond)
	hold, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := g.Do(t.Context(), func() { close(hold); <-release }); err != nil {
			t.Errorf("first check: %v", err)
		}
	})
	<-hold

	ran := false
	if err := g.Do(t.Context(), func() { ran = true }); !errors.Is(err, ErrBusy) || ran {
		t.Fatalf("check beyond the limit: err %v, ran %v; want ErrBusy without running", err, ran)
	}

	// A waiting check shows in the queue gauge.
	queued := make(chan error, 1)
	g2 := New(1, time.Minute)
	hold2, release2 := make(chan struct{}), make(chan struct{})
	wg.Go(func() { _ = g2.Do(t.Context(), func() { close(hold2); <-release2 }) })
	<-hold2
	wg.Go(func() { queued <- g2.Do(t.Context(), func() {}) })
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(g2)
	for gathered(t, reg2, "spid_password_hash_queue") != 1 {
		time.Sleep(time.Millisecond)
	}
	close(release2)
	if err := <-queued; err != nil {
		t.Errorf("queued check after the slot freed: %v", err)
	}

	close(release)
	wg.Wait()
	if err := g.Do(t.Context(), func() { ran = true }); err != nil || !ran {
		t.Errorf("check with a free slot: err %v, ran %v", err, ran)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(g)
	for name, want := range map[string]float64{"spid_password_hash_rejected_total": 1, "spid_password_hash_limit": 1, "spid_password_hash_queue": 0} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n := gathered(t, reg, "spid_password_hash_wait_seconds"); n != 3 {
		t.Errorf("wait histogram counts %v checks, want 3", n)
	}
}

func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A cancelled request leaves the queue with its context's error.
func TestGateCancelled(t *testing.T) {
	g := New(1, time.Minute)
	hold, release := make(chan struct{}), make(chan struct{})
	go func() { _ = g.Do(context.Background(), func() { close(hold); <-release }) }()
	<-hold
	defer close(release)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.Do(ctx, func() { t.Error("ran") }); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func TestDefaultLimit(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		cores int
		avail uint64
		kib   uint32
		want  int
	}{
		{2, 8 * gib, 65536, 2},    // cores bound
		{16, 1 * gib, 65536, 4},   // a quarter of 1 GiB holds four 64 MiB hashes
		{16, 128 << 20, 65536, 1}, // never below one
		{4, 0, 65536, 4},          // memory unknown: cores
	} {
		if got := defaultLimit(tc.cores, tc.avail, tc.kib); got != tc.want {
			t.Errorf("defaultLimit(%d, %d, %d) = %d, want %d", tc.cores, tc.avail, tc.kib, got, tc.want)
		}
	}
	if n := DefaultLimit(65536); n < 1 || n > 1024 {
		t.Errorf("DefaultLimit = %d", n)
	}
	if !strings.Contains(ErrBusy.Error(), "try again") {
		t.Error("ErrBusy does not say to retry")
	}
}
