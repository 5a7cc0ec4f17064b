package sqlstore_test

import (
	"path/filepath"
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
	dsn, _ := testenv.PostgresSchema(tb, "spid_life_")
	return dsn
}
