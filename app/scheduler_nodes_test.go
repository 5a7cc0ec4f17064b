package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// schedulerNode builds one `spid-idp serve` node the way the command does
// (configuration from the environment, backends, Build), on the shared
// PostgreSQL schema and Redis prefix, with the demo citizen; each node keeps its own data dir,
// hence its own mail outbox.
func schedulerNode(t *testing.T, dsn, redisAddr, prefix string) *App {
	t.Helper()
	env := []string{
		"SPID_IDP_DATA_DIR=" + t.TempDir(),
		"SPID_IDP_SERVER_BASE_URL=http://127.0.0.1:1",
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN=" + dsn,
		"SPID_IDP_CACHE_DRIVER=redis",
		"SPID_IDP_CACHE_REDIS_ADDR=" + redisAddr,
		"SPID_IDP_CACHE_REDIS_KEY_PREFIX=" + prefix,
		// The keys every node of a cluster shares (the personal area's SP
		// key in the database is sealed with the data key).
		"SPID_IDP_IDP_SESSION_COOKIE_KEY=" + sharedTestKey(prefix, "cookie"),
		"SPID_IDP_SECURITY_DATA_KEY=" + sharedTestKey(prefix, "data"),
		"SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=19456", "SPID_IDP_SECURITY_ARGON2_TIME=2", "SPID_IDP_SECURITY_ARGON2_THREADS=1",
	}
	cfg, err := config.Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureDemoKeys(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := OpenBackends(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a, err := Build(ctx, cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.RegisterQueue.Close)
	// The demo citizen alone (no SetupDemo): sealing their TOTP device
	// fails on PostgreSQL whenever the data-key ID exceeds int4 (devices.
	// key_version is INTEGER), which is not what this test is about.
	if _, err := demo.EnsureCitizen(ctx, b.Store, a.Argon2); err != nil {
		t.Fatal(err)
	}
	return a
}

// sharedTestKey is a base64 32-byte key that all nodes of one test derive
// alike.
func sharedTestKey(prefix, purpose string) string {
	sum := sha256.Sum256([]byte(prefix + purpose))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestSchedulerTwoNodes: two nodes on one PostgreSQL and one Redis run the
// scheduler concurrently, again and again, past the end of a holder's
// 30-day suspension. The reactivation happens once: one audit record, one
// "active again" e-mail across both nodes' outboxes.
func TestSchedulerTwoNodes(t *testing.T) {
	dsn, _ := testenv.PostgresSchema(t, "sched_nodes_")
	redisAddr := testenv.Redis(t)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	prefix := "spid-test-" + hex.EncodeToString(suffix) + ":"

	// Built one after the other: the first migrates the schema and seeds
	// the demo, the second finds both done.
	nodes := []*App{schedulerNode(t, dsn, redisAddr, prefix), schedulerNode(t, dsn, redisAddr, prefix)}
	ctx := t.Context()
	const citizen = "demo-citizen"

	if _, err := nodes[0].Lifecycle.Suspend(ctx, citizen, lifecycle.SuspendRequest{
		Actor: lifecycle.Actor{ID: citizen, Role: lifecycle.RoleHolder}, Cause: lifecycle.CauseHolderRequest,
		Channel: lifecycle.ChannelPortal,
	}); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	later := time.Now().Add(31 * 24 * time.Hour)

	const runs = 15
	var (
		mu          sync.Mutex
		reactivated int
		skipped     int
		wg          sync.WaitGroup
	)
	start := make(chan struct{})
	for i, a := range nodes {
		sc := a.Scheduler()
		// Both nodes live in this one process: give them the distinct
		// names two hosts would have, or they would share the lease.
		sc.Holder = "node-" + string(rune('a'+i))
		sc.Now = func() time.Time { return later }
		// Each node runs its passes one after the other, as Loop does;
		// the two nodes race each other from the same start.
		wg.Go(func() {
			<-start
			for range runs {
				rep, err := sc.RunOnce(ctx)
				if err != nil {
					t.Errorf("%s: %v", sc.Holder, err)
				}
				mu.Lock()
				reactivated += rep.Reactivated
				if rep.Skipped {
					skipped++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("%d of %d runs skipped for the lease", skipped, 2*runs)
	if reactivated != 1 {
		t.Errorf("reports count %d reactivations, want 1", reactivated)
	}

	l, err := nodes[1].Lifecycle.Get(ctx, citizen)
	if err != nil {
		t.Fatal(err)
	}
	if l.State != storage.IdentityActive {
		t.Errorf("state after the runs: %s, want active", l.State)
	}

	evs, err := nodes[0].Backends.Store.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var records, notices int
	for _, ev := range evs {
		if ev.Target != citizen || ev.Actor != "system:scheduler" {
			continue
		}
		switch {
		case ev.Action == "lifecycle.reactivate":
			records++
		case ev.Action == "lifecycle.notice" && ev.Details["kind"] == string(lifecycle.NoticeReactivated):
			notices++
		}
	}
	if records != 1 || notices != 1 {
		t.Errorf("audit log: %d reactivation records and %d reactivation notices, want 1 and 1", records, notices)
	}

	var mails int
	for _, a := range nodes {
		files, err := filepath.Glob(filepath.Join(a.Config.Mail.OutboxDir, "*.eml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			m, err := mail.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(m.Text, "di nuovo attiva") {
				mails++
			}
		}
	}
	if mails != 1 {
		t.Errorf("%d reactivation e-mails in the outboxes, want 1", mails)
	}
}
