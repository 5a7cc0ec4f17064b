package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

func TestLifecyclesSQLite(t *testing.T) {
	conformance.RunLifecycles(t, func(t *testing.T) conformance.LifecycleStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestLifecyclesPostgres(t *testing.T) {
	conformance.RunLifecycles(t, func(t *testing.T) conformance.LifecycleStore {
		s, err := postgres.Open(t.Context(), PostgresSchema(t), 10)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// PostgresSchema creates a schema for one test, dropped at cleanup, and
// returns the DSN selecting it.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	dsn := testenv.Postgres(tb)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "spid_life_" + hex.EncodeToString(suffix)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		dsn += " search_path=" + schema
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := admin.ExecContext(tb.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return dsn
}
