package care_test

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// clock is a settable test clock.
type clock = testclock.Clock

type env struct {
	store    *sqlstore.Store
	phones   sms.Outbox
	desk     *care.Desk
	outbox   mail.Outbox
	evidence string
	clock    *clock
}

var (
	agent = care.Actor{ID: "op-agent", Roles: []string{"care_agent"}}
	sup1  = care.Actor{ID: "op-sup1", Roles: []string{"supervisor"}}
	sup2  = care.Actor{ID: "op-sup2", Roles: []string{"supervisor"}}
	shop  = care.Actor{ID: "op-shop", Roles: []string{"shop_agent"}}
	web   = care.Actor{ID: "requester"}
)

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, err := datakey.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := testclock.New(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	e := &env{store: st, outbox: mail.Outbox{Dir: t.TempDir()}, evidence: t.TempDir(), clock: c}
	al := &audit.Logger{Store: st, Now: c.Now}
	svc := &care.Service{Store: st, Evidence: &evidence.Store{Dir: e.evidence, Sealer: sealer, Now: c.Now},
		Mail: e.outbox, Audit: al, Now: c.Now, Brand: "Test IdP", ADRBody: "Camera di conciliazione di Roma"}
	e.phones = sms.Outbox{Dir: t.TempDir()}
	eph := memory.New(memory.WithClock(c.Now))
	t.Cleanup(func() { eph.Close() })
	e.desk = &care.Desk{Service: svc, Identities: st,
		Lifecycle: &lifecycle.Service{Store: st, Audit: al, Now: c.Now},
		Codes:     &otp.SMSCodes{Values: eph, Sender: e.phones, Host: "idp.example.it", Now: c.Now, Counters: eph}}
	return e
}

// blobs counts files in the evidence directory.
func (e *env) blobs(t testing.TB) int {
	n := 0
	_ = filepath.WalkDir(e.evidence, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(e.evidence, p)
		if err == nil && !d.IsDir() && !strings.Contains(rel, "tmp") {
			n++
		}
		return nil
	})
	return n
}

// audits returns the audit records with action.
func (e *env) audits(t *testing.T, action string) []storage.AuditEvent {
	t.Helper()
	all, err := e.store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.AuditEvent
	for _, ev := range all {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

var pdf = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

func request(kind string) care.Request {
	return care.Request{Kind: kind, Channel: "web", Product: "SPID", Subject: "Non accedo",
		Message: "Dopo la password compare un errore.", ContactEmail: "mario.rossi@example.it", ContactName: "Mario Rossi"}
}
