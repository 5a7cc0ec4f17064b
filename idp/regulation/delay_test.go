package regulation

import (
	"context"
	"errors"
	"testing"
	"time"
)

// recordingDelay returns a Delay whose clock and sleep are fake: the
// elapsed time of each call is what the test says, and the wait is recorded.
func recordingDelay(floor, jitter time.Duration) (*Delay, *time.Time, *[]time.Duration) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var waits []time.Duration
	d := &Delay{
		Min: floor, Jitter: jitter,
		Now: func() time.Time { return now },
		Sleep: func(_ context.Context, w time.Duration) error {
			waits = append(waits, w)
			return nil
		},
	}
	return d, &now, &waits
}

func TestDelayPadsToFloor(t *testing.T) {
	d, now, waits := recordingDelay(250*time.Millisecond, time.Nanosecond)
	ctx := context.Background()
	// An unknown user answered in 60 ms and a wrong password in 90 ms both
	// end at the floor.
	for _, took := range []time.Duration{60 * time.Millisecond, 90 * time.Millisecond} {
		if err := d.Pad(ctx, now.Add(-took), false); err != nil {
			t.Fatal(err)
		}
	}
	if len(*waits) != 2 || (*waits)[0] != 190*time.Millisecond || (*waits)[1] != 160*time.Millisecond {
		t.Fatalf("waits %v, want [190ms 160ms]", *waits)
	}
}

func TestDelayFollowsSuccesses(t *testing.T) {
	d, now, waits := recordingDelay(100*time.Millisecond, time.Nanosecond)
	ctx := context.Background()
	// Successes take 400 ms: the target rises, so failures wait that long too.
	for range 4 {
		d.Pad(ctx, now.Add(-400*time.Millisecond), true)
	}
	*waits = nil
	d.Pad(ctx, now.Add(-50*time.Millisecond), false)
	if len(*waits) != 1 || (*waits)[0] != 350*time.Millisecond {
		t.Fatalf("failure waited %v, want 350ms", *waits)
	}
	// Failures never move the average.
	for range 20 {
		d.Pad(ctx, now.Add(-10*time.Millisecond), false)
	}
	if got := d.target(); got != 400*time.Millisecond {
		t.Fatalf("target %v after failures, want 400ms", got)
	}
	// A stalled success is capped.
	for range delaySamples {
		d.Pad(ctx, now.Add(-time.Minute), true)
	}
	if got := d.target(); got != maxSample {
		t.Fatalf("target %v, want cap %v", got, maxSample)
	}
}

func TestDelayJitterBounded(t *testing.T) {
	d, now, waits := recordingDelay(100*time.Millisecond, 20*time.Millisecond)
	for range 200 {
		d.Pad(context.Background(), *now, false)
	}
	seen := map[time.Duration]bool{}
	for _, w := range *waits {
		if w < 100*time.Millisecond || w >= 120*time.Millisecond {
			t.Fatalf("wait %v outside [100ms, 120ms)", w)
		}
		seen[w] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter takes only %d values", len(seen))
	}
}

func TestDelayNoWaitWhenSlow(t *testing.T) {
	d, now, waits := recordingDelay(100*time.Millisecond, time.Millisecond)
	d.Pad(context.Background(), now.Add(-time.Second), false)
	if len(*waits) != 0 {
		t.Fatalf("waited %v after a slow reply", *waits)
	}
}

func TestDelayRealSleepHonoursContext(t *testing.T) {
	d := &Delay{Min: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Pad(ctx, time.Now(), false); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// Zero value: default floor, real timer.
	var z Delay
	start := time.Now()
	if err := z.Pad(context.Background(), start.Add(-DefaultMin), false); err != nil {
		t.Fatal(err)
	}
}
