package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin handle
)

// PostgresSchema gives a test a PostgreSQL schema of its own, named prefix
// plus a random part and dropped (with everything in it) at cleanup, so
// tests and packages running at once never see each other's rows. It
// returns the SPID_TEST_POSTGRES DSN with search_path set to that schema,
// and an admin handle on it. It skips like Postgres when the variable is
// unset.
func PostgresSchema(tb testing.TB, prefix string) (string, *sql.DB) {
	tb.Helper()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := prefix + hex.EncodeToString(suffix)
	dsn, err := withSearchPath(Postgres(tb), schema)
	if err != nil {
		tb.Fatalf("SPID_TEST_POSTGRES: %v", err)
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
	return dsn, admin
}

// withSearchPath selects schema in a URL or keyword/value DSN.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
