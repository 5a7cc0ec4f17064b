package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

const envDSN = "SPID_TEST_POSTGRES"

// testSchema creates a schema of its own for one test, dropped at cleanup,
// and returns the DSN that selects it plus an admin handle on it.
func testSchema(tb testing.TB) (string, *sql.DB) {
	tb.Helper()
	return testenv.PostgresSchema(tb, "spid_test_")
}

func dsnWithSearchPath(tb testing.TB, dsn, schema string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", envDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openTest(tb testing.TB) (*sqlstore.Store, *sql.DB) {
	tb.Helper()
	dsn, admin := testSchema(tb)
	s, err := postgres.Open(tb.Context(), dsn, 20)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() }) // runs before the schema is dropped
	return s, admin
}

func TestConformance(t *testing.T) {
	conformance.RunStore(t, func(t *testing.T) storage.Store {
		s, _ := openTest(t)
		return s
	})
}

// Several nodes starting at once must migrate the schema exactly once.
func TestConcurrentOpen(t *testing.T) {
	dsn, admin := testSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, 2)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	var n, distinct int
	if err := admin.QueryRow("SELECT COUNT(*), COUNT(DISTINCT num) FROM migrations").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != distinct || n == 0 {
		t.Errorf("migrations table has %d rows for %d migrations", n, distinct)
	}
}

func TestAuditAppendOnly(t *testing.T) {
	s, admin := openTest(t)
	for range 2 {
		if _, err := s.AppendAudit(t.Context(), storage.AuditEvent{Actor: "system", Action: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		"UPDATE audit_events SET outcome = 'x' WHERE seq = 1",
		"DELETE FROM audit_events WHERE seq = 2",
		"TRUNCATE audit_events",
	} {
		_, err := admin.ExecContext(t.Context(), stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", stmt, err)
		}
	}
	evs, err := s.ListAudit(t.Context(), 0, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("ListAudit = %d records, %v; want 2", len(evs), err)
	}
}

func TestOpenUnreachableHidesPassword(t *testing.T) {
	const pw = "S3cret-Pa55w0rd"
	for _, dsn := range []string{
		"postgres://spid:" + pw + "@127.0.0.1:1/idpdb?sslmode=disable&connect_timeout=5",
		"host=127.0.0.1 port=1 dbname=idpdb user=spid password=" + pw + " sslmode=disable connect_timeout=5",
		"postgres://spid:" + pw + "@127.0.0.1:1/idpdb?sslmode=bogus", // invalid: fails while parsing
	} {
		s, err := postgres.Open(t.Context(), dsn, 1)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		msg := err.Error()
		if strings.Contains(msg, pw) {
			t.Errorf("error reveals the password: %s", msg)
		}
		if strings.Contains(dsn, "bogus") {
			continue
		}
		if !strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "idpdb") {
			t.Errorf("error does not name the server and database: %s", msg)
		}
	}
}

func BenchmarkAppendAudit(b *testing.B) {
	s, _ := openTest(b)
	conformance.BenchAppendAudit(b, s)
}

// BenchmarkAuditAppend: appends per second with 1, 4 and 16 writers, on
// one node and on two nodes sharing the schema.
func BenchmarkAuditAppend(b *testing.B) {
	b.Run("nodes=1", func(b *testing.B) {
		s, _ := openTest(b)
		conformance.BenchAuditWriters(b, s)
	})
	b.Run("nodes=2", func(b *testing.B) {
		s, admin := openTest(b)
		conformance.BenchAuditWriters(b, s, openSibling(b, admin))
	})
}

// openSibling opens a second store on the test schema admin selects, as a
// second IdP node would.
func openSibling(tb testing.TB, admin *sql.DB) *sqlstore.Store {
	tb.Helper()
	var schema string
	if err := admin.QueryRowContext(tb.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		tb.Fatal(err)
	}
	other, err := postgres.Open(tb.Context(), dsnWithSearchPath(tb, os.Getenv(envDSN), schema), 20)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = other.Close() })
	return other
}

// appendOnTwoNodes runs writers goroutines on each of two stores sharing
// the test schema (two IdP nodes), each calling fn per times with a tag of
// its own, and returns the first store.
func appendOnTwoNodes(t *testing.T, writers, per int, fn func(s *sqlstore.Store, i int, tag string) error) *sqlstore.Store {
	a, admin := openTest(t)
	var wg sync.WaitGroup
	for n, s := range []*sqlstore.Store{a, openSibling(t, admin)} {
		for w := range writers {
			wg.Go(func() {
				for i := range per {
					tag := fmt.Sprintf("n%d-w%d-%d", n, w, i)
					if err := fn(s, i, tag); err != nil {
						t.Errorf("append %s: %v", tag, err)
					}
				}
			})
		}
	}
	wg.Wait()
	return a
}

// TestAuditTwoNodes: two nodes appending at once, each batching its own
// writers, leave one unbroken chain with every record in it: a conflict
// between their batches is retried, never a fork or a loss.
func TestAuditTwoNodes(t *testing.T) {
	const perNode, writers, nodes = 150, 8, 2
	a := appendOnTwoNodes(t, writers, perNode/writers, func(s *sqlstore.Store, _ int, tag string) error {
		_, err := s.AppendAudit(t.Context(), storage.AuditEvent{Actor: "system", Action: "test", Target: tag})
		return err
	})
	evs, err := a.ListAudit(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	want := nodes * writers * (perNode / writers)
	if len(evs) != want {
		t.Fatalf("%d records after %d appends", len(evs), want)
	}
	prev, targets := "", map[string]bool{}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.PrevHash != prev || storage.AuditHash(ev) != ev.Hash {
			t.Fatalf("chain broken at record %d", i+1)
		}
		prev = ev.Hash
		targets[ev.Target] = true
	}
	if len(targets) != want {
		t.Errorf("%d distinct records, want %d", len(targets), want)
	}
}

// TestAuditChainedInDatabase: a node whose remembered tail is stale (the
// other node appended since) has its batch chained by audit_append, whose
// hashes are exactly storage.AuditHash, text that JSON escapes included;
// a Response's register record still commits with its audit event.
func TestAuditChainedInDatabase(t *testing.T) {
	a, admin := openTest(t)
	b := openSibling(t, admin)
	ctx := t.Context()
	odd := storage.AuditEvent{Actor: `<b>"x"</b> & é`, Action: "test", Target: "\\u2028\u2028\t",
		Details: map[string]string{"<k>": "ü\\", "a": ""}}
	for i, s := range []*sqlstore.Store{a, b, a, a, b, a} {
		ev := odd
		ev.RequestID = fmt.Sprint(i)
		var err error
		if i%3 == 2 {
			rec := storage.RegisterRecord{Kind: "Response", Direction: "sent", Binding: "b", SPEntityID: "sp",
				RequestID: ev.RequestID, MessageID: ev.RequestID, Sealed: []byte("x")}
			_, err = s.AppendRegister(ctx, []storage.RegisterRecord{rec}, &ev)
		} else {
			var rec storage.AuditEvent
			rec, err = s.AppendAudit(ctx, ev)
			if err == nil && (rec.Seq != int64(i+1) || storage.AuditHash(rec) != rec.Hash) {
				t.Errorf("append %d returned seq %d, hash %s (want seq %d, hash %s)", i, rec.Seq, rec.Hash, i+1, storage.AuditHash(rec))
			}
		}
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	evs, err := b.ListAudit(ctx, 0, 100)
	if err != nil || len(evs) != 6 {
		t.Fatalf("ListAudit = %d records, %v; want 6", len(evs), err)
	}
	prev := ""
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.PrevHash != prev || storage.AuditHash(ev) != ev.Hash || ev.RequestID != fmt.Sprint(i) {
			t.Fatalf("record %d: seq %d, request %q, chain or hash broken", i+1, ev.Seq, ev.RequestID)
		}
		prev = ev.Hash
	}
	recs, err := a.ListRegister(ctx, 0, 10)
	if err != nil || len(recs) != 2 {
		t.Fatalf("ListRegister = %d records, %v; want 2", len(recs), err)
	}
}

// TestSyncLater: single-use marks and register records written with
// storage.SyncLater (their commits need not wait for the disk) keep every
// guarantee of the synced writes: of concurrent callers with one mark
// exactly one takes it, whichever way each asked, and the register stays
// one unbroken chain with the Response's audit event in the same commit.
func TestSyncLater(t *testing.T) {
	a, admin := openTest(t)
	b := openSibling(t, admin)
	ctx := t.Context()
	later := storage.SyncLater(ctx)
	const callers = 8
	for round := range 5 {
		key := fmt.Sprintf("flowdone:%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range callers {
			wg.Go(func() {
				s, c := a, later
				if i%2 == 1 {
					s, c = b, ctx
				}
				err := s.InsertRequestID(c, key, time.Now().Add(time.Hour))
				switch {
				case err == nil:
					mu.Lock()
					won++
					mu.Unlock()
				case !errors.Is(err, storage.ErrAlreadyExists):
					t.Errorf("InsertRequestID: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("round %d: %d callers took the mark, want 1", round, won)
		}
	}
	for i := range 6 {
		rec := storage.RegisterRecord{Kind: "AuthnRequest", Direction: "received", Binding: "b", SPEntityID: "sp",
			RequestID: fmt.Sprint(i), MessageID: fmt.Sprint(i), Sealed: []byte("x")}
		var ev *storage.AuditEvent
		c := later
		if i%3 == 2 {
			rec.Kind, rec.Direction = "Response", "sent"
			ev, c = &storage.AuditEvent{Actor: "system", Action: "sso.response", Target: rec.RequestID}, ctx
		}
		if _, err := []*sqlstore.Store{a, b}[i%2].AppendRegister(c, []storage.RegisterRecord{rec}, ev); err != nil {
			t.Fatalf("AppendRegister %d: %v", i, err)
		}
	}
	recs, err := a.ListRegister(ctx, 0, 10)
	if err != nil || len(recs) != 6 {
		t.Fatalf("ListRegister = %d records, %v; want 6", len(recs), err)
	}
	prev := ""
	for i, r := range recs {
		if r.Seq != int64(i+1) || r.PrevHash != prev || storage.RegisterHash(r) != r.Hash || r.RequestID != fmt.Sprint(i) {
			t.Fatalf("register record %d: chain broken", i+1)
		}
		prev = r.Hash
	}
	if evs, err := a.ListAudit(ctx, 0, 10); err != nil || len(evs) != 2 {
		t.Fatalf("ListAudit = %d records, %v; want the 2 Responses' events", len(evs), err)
	}
}

// BenchmarkInsertRequestID: one single-use mark, its commit synced (an
// AuthnRequest's replay mark) or not waited for (storage.SyncLater: a
// consent form's answered-mark, which the Response's synced commit makes
// durable before anything leaves).
func BenchmarkInsertRequestID(b *testing.B) {
	s, _ := openTest(b)
	for _, bc := range []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{"synced", func(c context.Context) context.Context { return c }},
		{"later", storage.SyncLater},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := bc.ctx(b.Context())
			i := 0
			for b.Loop() {
				i++
				if err := s.InsertRequestID(ctx, fmt.Sprintf("%s-%d", bc.name, i), time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRegisterTwoNodes: two nodes appending register records, some with
// their audit event, and audit events alone, all at once, leave both chains
// unbroken and complete: a node whose remembered register head is stale
// writes nothing and chains its batch again.
func TestRegisterTwoNodes(t *testing.T) {
	const perWriter, writers, nodes = 12, 6, 2
	a := appendOnTwoNodes(t, writers, perWriter, func(s *sqlstore.Store, i int, tag string) error {
		rec := storage.RegisterRecord{Kind: "Response", Direction: "sent", Binding: "b", SPEntityID: "sp",
			RequestID: tag, MessageID: tag, Sealed: []byte(tag)}
		ev := storage.AuditEvent{Actor: "system", Action: "test", Target: tag}
		var err error
		switch i % 3 {
		case 0:
			_, err = s.AppendRegister(t.Context(), []storage.RegisterRecord{rec}, &ev)
		case 1:
			_, err = s.AppendRegister(t.Context(), []storage.RegisterRecord{rec}, nil)
		default:
			_, err = s.AppendAudit(t.Context(), ev)
		}
		return err
	})
	total := nodes * writers * perWriter
	recs, err := a.ListRegister(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if want := total * 2 / 3; len(recs) != want {
		t.Fatalf("%d register records, want %d", len(recs), want)
	}
	prev := ""
	for i, r := range recs {
		if r.Seq != int64(i+1) || r.PrevHash != prev || storage.RegisterHash(r) != r.Hash {
			t.Fatalf("register chain broken at record %d", i+1)
		}
		prev = r.Hash
	}
	evs, err := a.ListAudit(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if want := total * 2 / 3; len(evs) != want {
		t.Fatalf("%d audit records, want %d", len(evs), want)
	}
	prev = ""
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.PrevHash != prev || storage.AuditHash(ev) != ev.Hash {
			t.Fatalf("audit chain broken at record %d", i+1)
		}
		prev = ev.Hash
	}
}

func BenchmarkGetIdentity(b *testing.B) {
	s, _ := openTest(b)
	conformance.BenchGetIdentity(b, s)
}

// withUser returns dsn logging in as user instead (the test server trusts
// loopback connections).
func withUser(tb testing.TB, dsn, user string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " user=" + user
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}

// The IdP can run as a role that owns nothing and may only read and append
// the audit log (security.md E.3, S094), once the owner has migrated.
func TestLeastPrivilegeRole(t *testing.T) {
	owner, admin := openTest(t)
	owner.Close()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	role := "spid_app_" + hex.EncodeToString(suffix)
	var schema string
	if err := admin.QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON migrations TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON identities, credentials, devices, service_providers, enrolments, operators, tokens, lifecycles, leases, tickets TO " + role,
		"GRANT SELECT, INSERT ON audit_events TO " + role,
		// The register: append and read only; partitions and retention
		// go through the owner's functions.
		"GRANT SELECT, INSERT ON register_records TO " + role,
		"GRANT SELECT, UPDATE ON register_head TO " + role,
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		// Registered after the schema's cleanup, so it runs first: the
		// role's privileges go with it.
		for _, stmt := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.Exec(stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})

	dsn := withUser(t, dsnWithSearchPath(t, os.Getenv(envDSN), schema), role)
	s, err := postgres.Open(t.Context(), dsn, 2)
	if err != nil {
		t.Fatalf("Open as %s: %v", role, err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.CreateIdentity(ctx, storage.Identity{ID: "id-1", Username: "u@example.it", Type: storage.IdentityCitizen, Status: storage.IdentityActive}); err != nil {
		t.Errorf("CreateIdentity as %s: %v", role, err)
	}
	if _, err := s.AppendAudit(ctx, storage.AuditEvent{Actor: "system", Action: "test"}); err != nil {
		t.Errorf("AppendAudit as %s: %v", role, err)
	}
	if err := s.CreateDevice(ctx, storage.Device{ID: "dev-1", IdentityID: "id-1", Name: "phone", Kind: storage.DeviceTOTP,
		Status: storage.DevicePending, Secret: []byte{1}, PublicKey: []byte{}}); err != nil {
		t.Errorf("CreateDevice as %s: %v", role, err)
	}

	old := time.Date(2020, 1, 10, 0, 0, 0, 0, time.UTC)
	if _, err := s.AppendRegister(ctx, []storage.RegisterRecord{{Time: old, Kind: "Response", Sealed: []byte{1}},
		{Time: time.Now(), Kind: "Response", Sealed: []byte{2}}}, nil); err != nil {
		t.Errorf("AppendRegister as %s (a new month's partition): %v", role, err)
	}
	if n, err := s.DeleteRegisterBefore(ctx, old.AddDate(0, 2, 0)); err != nil || n != 1 {
		t.Errorf("DeleteRegisterBefore as %s: %d, %v", role, n, err)
	}

	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{"DELETE FROM audit_events", "DROP TRIGGER audit_events_no_update_delete ON audit_events",
		"DELETE FROM register_records", "UPDATE register_records SET spid_code = 'x'"} {
		if _, err := raw.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "must be owner") && !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as %s: err = %v, want a permission error", stmt, role, err)
		}
	}
}
