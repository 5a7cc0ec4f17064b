package regulation

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// Delay pads first-factor replies so their duration does not tell a known
// user from an unknown one, a wrong password from a right one, or a locked
// credential from an open one (security.md §C.3). Every reply is held until
// a target: the larger of Min and the moving average of recent successful
// checks, plus a random jitter. DummyVerify already equalises the hashing;
// this hides what remains (database look-ups, a lock check, a rehash).
//
// The zero value is ready to use with the defaults below. Safe for
// concurrent use.
type Delay struct {
	// Min is the floor of the target (default 250 ms).
	Min time.Duration
	// Jitter is the upper bound of the random extra (default 50 ms).
	Jitter time.Duration
	// Sleep waits for d or until ctx ends; a timer-based wait when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	samples [delaySamples]time.Duration
	n, next int
}

const (
	delaySamples  = 16
	DefaultMin    = 250 * time.Millisecond
	DefaultJitter = 50 * time.Millisecond
	// maxSample keeps one very slow success (a stalled database) from
	// dragging every later reply out.
	maxSample = 2 * time.Second
)

// Pad waits until the reply that started at start has taken the target
// time. success says whether the credentials were right; only successful
// durations feed the average, since those are the ones an attacker wants to
// recognise. It returns early with ctx's error if ctx ends.
func (d *Delay) Pad(ctx context.Context, start time.Time, success bool) error {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	elapsed := now().Sub(start)
	d.mu.Lock()
	if success {
		d.samples[d.next] = min(elapsed, maxSample)
		d.next = (d.next + 1) % delaySamples
		d.n = min(d.n+1, delaySamples)
	}
	target := d.target()
	d.mu.Unlock()

	wait := target + d.jitter() - elapsed
	if wait <= 0 {
		return nil
	}
	if d.Sleep != nil {
		return d.Sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// target is max(Min, average of the samples); d.mu is held.
func (d *Delay) target() time.Duration {
	floor := d.Min
	if floor <= 0 {
		floor = DefaultMin
	}
	if d.n == 0 {
		return floor
	}
	var sum time.Duration
	for i := 0; i < d.n; i++ {
		sum += d.samples[i]
	}
	return max(floor, sum/time.Duration(d.n))
}

func (d *Delay) jitter() time.Duration {
	j := d.Jitter
	if j <= 0 {
		j = DefaultJitter
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(j))
}
