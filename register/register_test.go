package register_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

func newRegister(t *testing.T) (*register.Register, storage.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "idp.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := datakey.GenerateKey()
	s, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return &register.Register{Store: st, Sealer: s}, st, path
}

const authn = `<samlp:AuthnRequest ID="_r1">  exact bytes &amp; whitespace
</samlp:AuthnRequest>`

func entries() []register.Entry {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	return []register.Entry{
		{Time: t0, Kind: register.KindAuthnRequest, Direction: register.Received, Binding: "redirect", SP: "https://sp.example.it",
			RequestID: "_r1", MessageID: "_r1", ClientIP: "192.0.2.1", Message: []byte(authn)},
		{Time: t0.Add(time.Second), Kind: register.KindResponse, Direction: register.Sent, Binding: "post", SP: "https://sp.example.it",
			SPIDCode: "DEMO0000000001", RequestID: "_r1", MessageID: "_resp1", ClientIP: "192.0.2.1", Message: []byte("<Response/>")},
		{Time: t0.Add(time.Minute), Kind: register.KindResponse, Direction: register.Sent, Binding: "post", SP: "https://other.example.it",
			SPIDCode: "DEMO0000000002", RequestID: "_r2", MessageID: "_resp2", Message: []byte("<Other/>")},
	}
}

// TestRecordSearchOpen: a search by spidCode finds the Response and the
// AuthnRequest it answers, byte-exact; others stay out.
func TestRecordSearchOpen(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newRegister(t)
	e := entries()
	q := r.NewQueue()
	if err := q.Enqueue(ctx, e[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ev := storage.AuditEvent{Actor: "id-1", Action: "sso.response", Outcome: "success"}
	if err := r.Record(ctx, &ev, e[1]); err != nil {
		t.Fatal(err)
	}
	if err := r.Record(ctx, nil, e[2]); err != nil {
		t.Fatal(err)
	}
	q.Close()
	got, err := r.Search(ctx, register.Query{SPIDCodes: []string{"DEMO0000000001"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Kind != register.KindAuthnRequest || string(got[0].XML) != authn || string(got[1].XML) != "<Response/>" {
		t.Fatalf("search = %+v", got)
	}
	if evs, _ := st.ListAudit(ctx, 0, 10); len(evs) != 1 || evs[0].Action != "sso.response" {
		t.Errorf("audit event not written with the record: %+v", evs)
	}
	// Stored encrypted: the plaintext is nowhere in the sealed bytes.
	all, _ := st.ListRegister(ctx, 0, 10)
	for _, rec := range all {
		if bytes.Contains(rec.Sealed, []byte("exact bytes")) || bytes.Contains(rec.Sealed, []byte("<Response/>")) {
			t.Errorf("record %d stored in clear", rec.Seq)
		}
	}
	if n, err := register.Verify(ctx, st); err != nil || n != 3 {
		t.Errorf("Verify = %d, %v", n, err)
	}
}

// TestSealedBoundToRecord: a sealed message moved onto another record's
// fields does not open; a wrong data key does not open either.
func TestSealedBoundToRecord(t *testing.T) {
	r, _, _ := newRegister(t)
	e := entries()
	a, err := r.Seal(e[1])
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := r.Open(a); err != nil || string(msg) != "<Response/>" {
		t.Fatalf("Open = %q, %v", msg, err)
	}
	moved := a
	moved.SPIDCode = "DEMO0000000002"
	if _, err := r.Open(moved); err == nil {
		t.Error("a sealed message opened under another spidCode")
	}
	other, _ := datakey.GenerateKey()
	s2, _ := datakey.New(other)
	r2 := &register.Register{Sealer: s2}
	if _, err := r2.Open(a); err == nil {
		t.Error("opened with another data key")
	}
}

// TestVerifyDetectsTampering: editing a stored record or removing one in
// the middle breaks the chain.
func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	r, st, path := newRegister(t)
	for _, e := range entries() {
		if err := r.Record(ctx, nil, e); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE register_records SET spid_code = 'DEMO0000000009' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := register.Verify(ctx, st); err == nil || !strings.Contains(err.Error(), "record 2 was altered") {
		t.Errorf("edit: %v", err)
	}
	if _, err := db.Exec("DELETE FROM register_records WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := register.Verify(ctx, st); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Errorf("removal: %v", err)
	}
}

// TestSweep: records older than 24 months go, newer ones stay.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newRegister(t)
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{now.AddDate(-2, 0, -1), now.AddDate(-2, 0, 1), now} {
		e := entries()[1]
		e.Time = at
		if err := r.Record(ctx, nil, e); err != nil {
			t.Fatal(err)
		}
	}
	n, err := r.Sweep(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	if left, _ := st.ListRegister(ctx, 0, 10); len(left) != 2 {
		t.Errorf("%d left", len(left))
	}
}
