package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

func openTemp(tb testing.TB) (*sqlstore.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "data", "idp.db")
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	conformance.RunStore(t, func(t *testing.T) storage.Store {
		s, _ := openTemp(t)
		return s
	})
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v: readable by others", perm)
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	if _, err := s.AppendAudit(ctx, storage.AuditEvent{Action: "test", Actor: "system"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening re-runs the migration step, which must find nothing to do.
	s2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	evs, err := s2.ListAudit(ctx, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("after reopen ListAudit = %d records, %v; want 1", len(evs), err)
	}
	if storage.AuditHash(evs[0]) != evs[0].Hash {
		t.Error("record read after reopen does not verify")
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:idp.db", "idp.db?mode=ro"} {
		if s, err := sqlite.Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	s, path := openTemp(t)
	s.Close()
	raw := rawDB(t, path)
	if _, err := raw.Exec(`INSERT INTO migrations (num, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Open on a newer schema: err = %v, want a refusal naming migration 999", err)
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// The database refuses to change or delete audit rows; someone who drops the
// triggers and edits a row is caught by recomputing the chain.
func TestAuditTamperDetected(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	for _, outcome := range []string{"success", "failure", "success", "denied"} {
		if _, err := s.AppendAudit(ctx, storage.AuditEvent{Actor: "id-1", Action: "login", Outcome: outcome}); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawDB(t, path)
	for _, stmt := range []string{
		`UPDATE audit_events SET outcome = 'success' WHERE seq = 2`,
		`DELETE FROM audit_events WHERE seq = 4`,
	} {
		_, err := raw.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", stmt, err)
		}
	}

	if _, err := raw.ExecContext(ctx, `DROP TRIGGER audit_events_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE audit_events SET outcome = 'success' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListAudit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if evs[1].Outcome != "success" {
		t.Fatalf("tampering did not take: outcome %q", evs[1].Outcome)
	}
	firstBad := int64(0)
	for _, ev := range evs {
		if storage.AuditHash(ev) != ev.Hash {
			firstBad = ev.Seq
			break
		}
	}
	if firstBad != 2 {
		t.Errorf("first record failing verification = %d, want 2", firstBad)
	}
}

func BenchmarkAppendAudit(b *testing.B) {
	s, _ := openTemp(b)
	conformance.BenchAppendAudit(b, s)
}

// BenchmarkAuditAppend: appends per second with 1, 4 and 16 writers.
func BenchmarkAuditAppend(b *testing.B) {
	s, _ := openTemp(b)
	conformance.BenchAuditWriters(b, s)
}

func BenchmarkGetIdentity(b *testing.B) {
	s, _ := openTemp(b)
	conformance.BenchGetIdentity(b, s)
}

// Two stores on one file stand for two processes (the server and a CLI
// command): the database lock alone must keep the audit chain whole, and
// both may open (and migrate) at the same moment.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	var stores [2]*sqlstore.Store
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			stores[i] = s
			t.Cleanup(func() { _ = s.Close() })
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	const perStore = 40
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				if _, err := s.AppendAudit(t.Context(), storage.AuditEvent{Actor: "system", Action: "test"}); err != nil {
					t.Errorf("AppendAudit: %v", err)
				}
			})
		}
	}
	wg.Wait()
	evs, err := stores[0].ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2*perStore {
		t.Fatalf("%d records after %d appends", len(evs), 2*perStore)
	}
	prev := ""
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.PrevHash != prev || storage.AuditHash(ev) != ev.Hash {
			t.Fatalf("chain broken at record %d", i+1)
		}
		prev = ev.Hash
	}
}

// TestGroupCommitIsolatesWriters: writes arriving together share one
// transaction (group commit), yet each succeeds or fails on its own — a
// writer refused for a duplicate leaves nothing behind, and every other
// writer's row is there, whatever batch it fell in.
func TestGroupCommitIsolatesWriters(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	const n = 120
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Every third writer reuses the username of the writer before
			// it: of each such pair exactly one may win.
			user := fmt.Sprintf("user%03d", i)
			if i%3 == 2 {
				user = fmt.Sprintf("user%03d", i-1)
			}
			errs[i] = s.CreateIdentity(ctx, storage.Identity{ID: fmt.Sprintf("id-%03d", i), Username: user,
				Type: storage.IdentityCitizen, Status: storage.IdentityActive})
			if i%10 == 0 {
				_, err := s.AppendAudit(ctx, storage.AuditEvent{Actor: "system", Action: "test", Target: user})
				if err != nil {
					t.Errorf("AppendAudit: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		pair := i%3 != 0 // i%3 == 1 and 2 share a username
		id, gerr := s.GetIdentity(ctx, fmt.Sprintf("id-%03d", i))
		switch {
		case err == nil && gerr != nil:
			t.Errorf("writer %d succeeded but its row is missing: %v", i, gerr)
		case err != nil && !pair:
			t.Errorf("writer %d with a unique username failed: %v", i, err)
		case err != nil && !errors.Is(err, storage.ErrAlreadyExists):
			t.Errorf("writer %d: %v, want ErrAlreadyExists", i, err)
		case err != nil && gerr == nil:
			t.Errorf("writer %d failed but left its row (%s)", i, id.Username)
		}
	}
	for i := 1; i < n; i += 3 {
		if (errs[i] == nil) == (errs[i+1] == nil) {
			t.Errorf("writers %d and %d on one username: errors %v, %v; want exactly one to win", i, i+1, errs[i], errs[i+1])
		}
	}
	evs, err := s.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n/10 {
		t.Errorf("%d audit records, want %d", len(evs), n/10)
	}
}
