package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

func TestVideoSlotsSQLite(t *testing.T) {
	conformance.RunVideoSlots(t, func(t *testing.T) conformance.VideoStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestVideoSlotsPostgres(t *testing.T) {
	conformance.RunVideoSlots(t, func(t *testing.T) conformance.VideoStore {
		s, err := postgres.Open(t.Context(), PostgresSchema(t), 10)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
