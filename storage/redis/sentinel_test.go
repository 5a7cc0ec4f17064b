package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/redisserver"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/redis"
)

// TestSentinelFailover runs private processes — a primary, a replica and
// three Sentinels — opens the store through the Sentinels, kills the
// primary and shows that the operations a login needs (replay cache,
// counters, sessions, values) work again once the Sentinels promote the
// replica, with what was written before the failover still there.
func TestSentinelFailover(t *testing.T) {
	const master = "spid-test"
	g := redisserver.StartGroup(t, master)
	primary, replica, addrs := g.Primary, g.Replica, g.SentinelAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	st, err := redis.Open(ctx, redis.Options{SentinelAddrs: addrs, MasterName: master, KeyPrefix: "spid-test:"})
	if err != nil {
		t.Fatalf("Open through Sentinel: %v", err)
	}
	defer st.Close()

	sess := storage.Session{ID: "before-failover", IdentityID: "id-1", Level: 1,
		AuthnInstant: time.Now(), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertRequestID(ctx, "authn|sp|_before", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// On the replica before the primary dies: asynchronous replication
	// may otherwise lose the last writes, which is not what this tests.
	g.Sync(t)

	primary.Kill()
	killed := time.Now()
	failed := 0
	waitFor(ctx, t, "the store to work again after the failover", func() bool {
		octx, ocancel := context.WithTimeout(ctx, time.Second)
		defer ocancel()
		if _, err := st.Incr(octx, "login:user:mario", time.Minute); err != nil {
			failed++
			return false
		}
		return true
	})
	t.Logf("store usable %s after the primary was killed (%d failed attempts meanwhile)", time.Since(killed).Round(100*time.Millisecond), failed)
	// The store now writes to the former replica.
	if got, err := replica.Do(ctx, "EXISTS", "spid-test:counter:login:user:mario"); err != nil || got != ":1" {
		t.Errorf("the counter is not on the promoted replica: %q, %v", got, err)
	}
	// What a login does next, on the new primary.
	if err := st.InsertRequestID(ctx, "authn|sp|_after", time.Now().Add(time.Hour)); err != nil {
		t.Errorf("InsertRequestID after failover: %v", err)
	}
	if err := st.InsertRequestID(ctx, "authn|sp|_before", time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("a request ID written before the failover was forgotten: %v", err)
	}
	if got, err := st.GetSession(ctx, sess.ID); err != nil || got.IdentityID != "id-1" {
		t.Errorf("the session written before the failover: %+v, %v", got, err)
	}
	if err := st.CreateValue(ctx, "otp:tx", []byte("123456"), time.Now().Add(time.Minute)); err != nil {
		t.Errorf("CreateValue after failover: %v", err)
	}
	if err := st.UpdateSession(ctx, sess.ID, func(s storage.Session) (storage.Session, error) { s.Level = 2; return s, nil }); err != nil {
		t.Errorf("UpdateSession after failover: %v", err)
	}
}

// waitFor polls cond until it holds or ctx ends (then the test fails).
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
