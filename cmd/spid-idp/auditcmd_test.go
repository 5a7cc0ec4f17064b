package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAuditVerifyNamesTamperedRecord edits one audit record in the SQLite
// file behind the IdP's back (dropping the append-only trigger first, as
// someone with write access to the file could) and expects `audit verify`
// to fail naming that record.
func TestAuditVerifyNamesTamperedRecord(t *testing.T) {
	d := newDemoEnv(t)
	for _, u := range []string{"anna.verdi", "luca.neri", "sara.blu"} {
		d.runStdin("Unaparola-Lunga-2026\n", "user", "add", "--username", u, "--password-stdin")
	}
	r := d.mustRun("audit", "verify")
	if !strings.Contains(r.stdout, "intact") {
		t.Fatalf("fresh log not reported intact: %s", r.stdout)
	}

	db, err := sql.Open("sqlite", filepath.Join(d.dir, "spid-idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_events_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	r = d.run("audit", "verify")
	if r.code != exitFailure || !strings.Contains(r.stdout, "record 2") {
		t.Fatalf("tampering not reported: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
