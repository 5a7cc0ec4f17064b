package lifecycle_test

import (
	"testing"

	"github.com/spid-idp/spid-idp/internal/testenv"
)

// testSchema creates a schema for one test, dropped at cleanup, and
// returns the DSN selecting it.
func testSchema(t *testing.T) string {
	t.Helper()
	dsn, _ := testenv.PostgresSchema(t, "spid_lc_")
	return dsn
}
