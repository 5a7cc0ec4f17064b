package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

func TestTicketsSQLite(t *testing.T) {
	conformance.RunTickets(t, func(t *testing.T) storage.Tickets {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestTicketsPostgres(t *testing.T) {
	conformance.RunTickets(t, func(t *testing.T) storage.Tickets {
		s, err := postgres.Open(t.Context(), PostgresSchema(t), 10)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
