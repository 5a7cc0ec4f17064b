package sqlstore_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// TestUpgradeAddsDevices opens a database left at migration 2 (before
// devices existed) holding an identity: opening it applies 0003, and the
// identity can then have devices that go with it.
func TestUpgradeAddsDevices(t *testing.T) {
	ctx := t.Context()
	id := storage.Identity{ID: "id-1", Username: "mario@example.it", Type: storage.IdentityCitizen, Status: storage.IdentityActive}
	path := olderDatabase(t, func(s *sqlstore.Store) error { return s.CreateIdentity(ctx, id) },
		"DROP TABLE devices", "DELETE FROM migrations WHERE num = 3")

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open a migration-2 database: %v", err)
	}
	defer s.Close()
	d := storage.Device{ID: "dev-1", IdentityID: id.ID, Kind: storage.DeviceTOTP, Status: storage.DevicePending, Secret: []byte{1, 2, 3}}
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatalf("CreateDevice after the upgrade: %v", err)
	}
	if err := s.DeleteIdentity(ctx, id.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDevice(ctx, d.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("device outlived its identity after the upgrade: err = %v", err)
	}
}

// TestUpgradeFillsARecordedGap: migration numbers are handed out before
// they land, so a database migrated while 0009 was a gap recorded it as a
// no-op. Opening it with the program that has 0009 applies it: identities
// get their session epoch column.
func TestUpgradeFillsARecordedGap(t *testing.T) {
	ctx := t.Context()
	path := olderDatabase(t, nil, "ALTER TABLE identities DROP COLUMN session_epoch", "UPDATE migrations SET name = 'noop' WHERE num = 9")

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open a database that recorded 0009 as a gap: %v", err)
	}
	defer s.Close()
	id := storage.Identity{ID: "id-1", Username: "mario@example.it", Type: storage.IdentityCitizen, Status: storage.IdentityActive, SessionEpoch: 2}
	if err := s.CreateIdentity(ctx, id); err != nil {
		t.Fatalf("CreateIdentity after the upgrade: %v", err)
	}
	if got, err := s.GetIdentity(ctx, id.ID); err != nil || got.SessionEpoch != 2 {
		t.Errorf("GetIdentity after the upgrade = epoch %d, %v; want 2", got.SessionEpoch, err)
	}
}

// olderDatabase makes a database as this release does, lets seed (if any)
// fill it, and runs stmts on the closed file to leave it as an older
// release would have: the path is for the test to open again.
func olderDatabase(t *testing.T, seed func(*sqlstore.Store) error, stmts ...string) string {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idp.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if seed != nil {
		if err := seed(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range stmts {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
