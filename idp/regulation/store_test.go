package regulation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/redis"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// The same behaviour on the real durable store: locks survive in the row,
// and concurrent failures on separate connections are each counted once.
func TestRegulatorOnSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.CreateIdentity(ctx, storage.Identity{ID: "id-1", Username: "mario.rossi", Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: map[string]string{"name": "Mario"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCredential(ctx, storage.Credential{IdentityID: "id-1", PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	clk := testclock.New(now)
	r := &Regulator{Store: st, MaxFailures: 10, Now: clk.Now}

	var wg sync.WaitGroup
	var mu sync.Mutex
	locks := 0
	for range 10 {
		wg.Go(func() {
			_, locked, err := r.Fail(ctx, "id-1")
			if err != nil {
				t.Error(err)
				return
			}
			if locked {
				mu.Lock()
				locks++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	c, err := st.GetCredential(ctx, "id-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.FailedAttempts != 10 || locks != 1 {
		t.Fatalf("attempts=%d locks=%d, want 10 and 1", c.FailedAttempts, locks)
	}
	locked, until, err := r.Check(ctx, "id-1")
	if err != nil || !locked || !until.Equal(now.Add(DefaultDuration)) {
		t.Fatalf("Check = %v %v %v, want locked until %v", locked, until, err, now.Add(DefaultDuration))
	}
	clk.Advance(DefaultDuration)
	if err := r.Succeed(ctx, "id-1"); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.GetCredential(ctx, "id-1"); c.FailedAttempts != 0 || !c.LockedUntil.IsZero() || c.PasswordHash == "" {
		t.Fatalf("after Succeed: %+v", c)
	}
}

func testLimiter(t *testing.T, eph storage.Ephemeral) {
	ctx := context.Background()
	l := &Limiter{Eph: eph, Max: 5, Window: time.Minute, Prefix: "login:"}
	key := IPKey(netip.MustParseAddr("198.51.100.7"))
	// Concurrent attempts: exactly Max pass.
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 20 {
		wg.Go(func() {
			ok, err := l.Allow(ctx, key)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d attempts allowed, want 5", allowed)
	}
	if err := l.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Allow(ctx, key); !ok {
		t.Fatal("refused after Reset")
	}
}

func TestLimiterOnMemory(t *testing.T) {
	eph := memory.New()
	defer eph.Close()
	testLimiter(t, eph)
}

func TestLimiterOnRedis(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	eph, err := redis.Open(ctx, redis.Options{Addr: "127.0.0.1:6379", KeyPrefix: "test-regulation-" + hex.EncodeToString(b[:]) + ":"})
	if err != nil {
		t.Skipf("redis not reachable on 127.0.0.1:6379: %v", err)
	}
	defer eph.Close()
	testLimiter(t, eph)
}
