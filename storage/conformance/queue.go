package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// storeTestMessageQueue: the durable mail/SMS outbox gives each message to
// exactly one of several concurrent claimers, keeps a leased message from
// others until the lease expires, retries after a failure no sooner than
// asked, gives up when told, and only the lease holder settles a message.
func storeTestMessageQueue(t *testing.T, s storage.Store) {
	q, ok := s.(storage.MessageQueue)
	if !ok {
		t.Skip("this store keeps no message queue")
	}
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	const n = 12
	for i := range n {
		m := storage.QueuedMessage{ID: fmt.Sprintf("m%02d", i), Kind: "mail", Payload: []byte{byte(i), 0, 1}, CreatedAt: now, NextAttempt: now}
		if err := q.EnqueueMessage(ctx, m); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	if err := q.EnqueueMessage(ctx, storage.QueuedMessage{ID: "m00", Kind: "sms", Payload: []byte("x")}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("enqueue of a taken ID: %v, want ErrAlreadyExists", err)
	}
	if err := q.EnqueueMessage(ctx, storage.QueuedMessage{ID: "bad", Kind: "fax", Payload: []byte("x")}); err == nil {
		t.Error("enqueue of an unknown kind was accepted")
	}

	// Six claimers at once: every message goes to exactly one of them.
	var (
		mu  sync.Mutex
		got = map[string]string{}
		wg  sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			owner := fmt.Sprintf("node-%d", w)
			for {
				ms, err := q.ClaimMessages(ctx, owner, now, 3*time.Hour, 3)
				if err != nil {
					t.Errorf("claim by %s: %v", owner, err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					if prev, dup := got[m.ID]; dup {
						t.Errorf("%s claimed by %s and %s", m.ID, prev, owner)
					}
					got[m.ID] = owner
					if m.Attempts != 1 || m.LeaseOwner != owner || m.Kind != "mail" || len(m.Payload) != 3 || m.State != storage.MessagePending {
						t.Errorf("claimed %+v", m)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d messages claimed, want %d", len(got), n)
	}
	if st, err := q.MessageQueueStats(ctx); err != nil || st.Pending != n || st.Dead != 0 {
		t.Errorf("stats while leased: %+v, %v", st, err)
	}

	// Only the holder settles; a message sent is gone.
	holder := got["m00"]
	if err := q.CompleteMessage(ctx, "m00", "someone-else"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("complete by a non-holder: %v, want ErrNotFound", err)
	}
	if err := q.CompleteMessage(ctx, "m00", holder); err != nil {
		t.Errorf("complete: %v", err)
	}
	if err := q.CompleteMessage(ctx, "m00", holder); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second complete: %v, want ErrNotFound", err)
	}

	// A failure: due again no sooner than asked, with one more attempt.
	if err := q.RetryMessage(ctx, "m01", got["m01"], now.Add(time.Hour), "smtp: 451 try later", false); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if ms, err := q.ClaimMessages(ctx, "node-x", now.Add(30*time.Minute), time.Minute, 10); err != nil || len(ms) != 0 {
		t.Errorf("claim before the retry is due (other leases live): %d messages, %v", len(ms), err)
	}
	ms, err := q.ClaimMessages(ctx, "node-x", now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].ID != "m01" || ms[0].Attempts != 2 || ms[0].LastError != "smtp: 451 try later" {
		t.Fatalf("claim of the due retry: %+v, %v", ms, err)
	}

	// Dead: never claimed again, counted.
	if err := q.RetryMessage(ctx, "m01", "node-x", now.Add(time.Hour), "gave up", true); err != nil {
		t.Fatalf("dead: %v", err)
	}
	if st, err := q.MessageQueueStats(ctx); err != nil || st.Pending != n-2 || st.Dead != 1 {
		t.Errorf("stats: %+v, %v; want %d pending, 1 dead", st, err, n-2)
	}

	// A lease that expired (its node died while sending) frees the
	// message for another, and the old holder can no longer settle it.
	late := now.Add(4 * time.Hour)
	ms, err = q.ClaimMessages(ctx, "node-y", late, time.Minute, 100)
	if err != nil || len(ms) != n-2 {
		t.Fatalf("claim after the leases expired: %d messages, %v; want %d", len(ms), err, n-2)
	}
	if err := q.RetryMessage(ctx, "m02", got["m02"], late, "late", false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("retry by the expired holder: %v, want ErrNotFound", err)
	}

	// Enqueued already leased: the enqueuing node tries it first.
	own := storage.QueuedMessage{ID: "own", Kind: "sms", Payload: []byte("code"), CreatedAt: now, NextAttempt: now,
		LeaseOwner: "node-a", LeaseUntil: now.Add(time.Minute)}
	if err := q.EnqueueMessage(ctx, own); err != nil {
		t.Fatal(err)
	}
	if ms, err := q.ClaimMessages(ctx, "node-b", now.Add(30*time.Second), time.Minute, 10); err != nil || len(ms) != 0 {
		t.Errorf("claim of a message leased at enqueue: %+v, %v", ms, err)
	}
	ms, err = q.ClaimMessages(ctx, "node-b", now.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].ID != "own" || ms[0].Attempts != 2 || ms[0].Kind != "sms" {
		t.Errorf("claim after the enqueuer's lease expired: %+v, %v", ms, err)
	}
}
