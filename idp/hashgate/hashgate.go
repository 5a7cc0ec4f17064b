// Package hashgate bounds how many password hashes (argon2id, tens of MiB
// each) are computed at once, so a login storm costs waiting and then a
// polite 503, never the memory of the whole node.
//
// A request beyond the limit waits in a queue for at most MaxWait; then Do
// returns ErrBusy and the caller answers 503 with Retry-After. It is never
// reported as a wrong password: the password was not checked.
package hashgate

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrBusy means the password was not checked: every slot stayed taken for
// the whole wait.
var ErrBusy = errors.New("hashgate: too many password checks at once, try again shortly")

// Gate is a counting semaphore with a bounded wait, and its metrics.
type Gate struct {
	slots   chan struct{}
	maxWait time.Duration

	waiting  atomic.Int64
	queue    prometheus.GaugeFunc
	running  prometheus.GaugeFunc
	wait     prometheus.Histogram
	rejected prometheus.Counter
}

// New returns a gate letting limit hashes run at once (at least one) and
// making others wait up to maxWait.
func New(limit int, maxWait time.Duration) *Gate {
	limit = max(limit, 1)
	g := &Gate{slots: make(chan struct{}, limit), maxWait: maxWait}
	g.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "spid_password_hash_queue",
		Help: "Password checks waiting for a hashing slot."}, func() float64 { return float64(g.waiting.Load()) })
	g.running = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "spid_password_hash_running",
		Help: "Password hashes being computed (at most spid_password_hash_limit)."}, func() float64 { return float64(len(g.slots)) })
	g.wait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spid_password_hash_wait_seconds",
		Help:    "Time a password check waited for a hashing slot (answered 503 past security.hashing.max_wait).",
		Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}})
	g.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "spid_password_hash_rejected_total",
		Help: "Password checks answered 503 because every hashing slot stayed taken for the whole wait."})
	return g
}

// Limit is how many hashes may run at once.
func (g *Gate) Limit() int { return cap(g.slots) }

// MaxWait is how long a check waits for a slot before ErrBusy.
func (g *Gate) MaxWait() time.Duration { return g.maxWait }

// Do runs fn once a slot is free, waiting at most MaxWait (or until ctx
// ends). It returns ErrBusy, or the context's error, without running fn.
func (g *Gate) Do(ctx context.Context, fn func()) error {
	if g == nil {
		fn()
		return nil
	}
	select {
	case g.slots <- struct{}{}:
		g.wait.Observe(0)
	default:
		start := time.Now()
		g.waiting.Add(1)
		timer := time.NewTimer(g.maxWait)
		var err error
		select {
		case g.slots <- struct{}{}:
		case <-timer.C:
			err = ErrBusy
		case <-ctx.Done():
			err = ctx.Err()
		}
		timer.Stop()
		g.waiting.Add(-1)
		g.wait.Observe(time.Since(start).Seconds())
		if err != nil {
			if errors.Is(err, ErrBusy) {
				g.rejected.Inc()
			}
			return err
		}
	}
	defer func() { <-g.slots }()
	fn()
	return nil
}

// RetryAfter is the Retry-After, in seconds, of a check shed with ErrBusy:
// about one more wait.
func (g *Gate) RetryAfter() int {
	if g == nil {
		return 1
	}
	return max(1, int(g.maxWait.Round(time.Second)/time.Second))
}

// Describe implements prometheus.Collector.
func (g *Gate) Describe(ch chan<- *prometheus.Desc) {
	g.queue.Describe(ch)
	g.running.Describe(ch)
	g.wait.Describe(ch)
	g.rejected.Describe(ch)
	ch <- limitDesc
}

var limitDesc = prometheus.NewDesc("spid_password_hash_limit", "Password hashes allowed to run at once (security.hashing.max_concurrent).", nil, nil)

// Collect implements prometheus.Collector.
func (g *Gate) Collect(ch chan<- prometheus.Metric) {
	g.queue.Collect(ch)
	g.running.Collect(ch)
	g.wait.Collect(ch)
	g.rejected.Collect(ch)
	ch <- prometheus.MustNewConstMetric(limitDesc, prometheus.GaugeValue, float64(g.Limit()))
}

// DefaultLimit is the limit when none is configured: one hash per core
// (each already uses several threads, so more only adds latency), and no
// more than a quarter of the memory available to the process can hold at
// memoryKiB each.
func DefaultLimit(memoryKiB uint32) int {
	return defaultLimit(runtime.NumCPU(), availableBytes(), memoryKiB)
}

func defaultLimit(cores int, avail uint64, memoryKiB uint32) int {
	n := cores
	if avail > 0 && memoryKiB > 0 {
		n = min(n, int(avail/4/(uint64(memoryKiB)*1024)))
	}
	return max(n, 1)
}

// availableBytes is the cgroup memory limit when one is set, else the
// machine's memory (0 when neither can be read).
func availableBytes() uint64 {
	total := memTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64); err == nil && (total == 0 || n < total) {
			return n
		}
	}
	return total
}

func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, _ := strconv.ParseUint(fields[1], 10, 64)
			return kib * 1024
		}
	}
	return 0
}
