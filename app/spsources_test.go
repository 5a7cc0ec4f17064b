package app

import (
	"context"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
)

// TestWatchSPSources: the running server loads the federation's list from
// idp.sp_sources and picks up the next publication on its own: an SP that
// leaves is withdrawn and refused, one that joins can log in. Every round
// is audited.
func TestWatchSPSources(t *testing.T) {
	dir := t.TempDir()
	fed := metadatatest.NewPair(t, "https://federation.example.it")
	certFile := filepath.Join(dir, "federation.crt")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "federation.xml")
	a1, _ := metadatatest.NewSP(t, metadatatest.Options{EntityID: "https://a.example.it"})
	b1, _ := metadatatest.NewSP(t, metadatatest.Options{EntityID: "https://b.example.it"})
	write := func(entities ...[]byte) {
		tmp := list + ".tmp"
		if err := os.WriteFile(tmp, metadatatest.Aggregate(t, fed, time.Time{}, entities...), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, list); err != nil {
			t.Fatal(err)
		}
	}
	write(a1)
	a, _, _ := startApp(t, appOpts{Configure: func(c *config.Config) {
		// Below the validator's 1m floor: the test drives Build directly.
		c.IdP.SPSources = []config.SPSource{{File: list, Certificate: certFile, Refresh: 50 * time.Millisecond}}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.WatchSPSources(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("a registered", func() bool { _, err := a.SPs.Get(ctx, "https://a.example.it"); return err == nil })
	write(b1)
	waitFor("b registered", func() bool { _, err := a.SPs.Get(ctx, "https://b.example.it"); return err == nil })
	waitFor("a withdrawn", func() bool {
		rec, err := a.Backends.Store.GetServiceProvider(ctx, "https://a.example.it")
		return err == nil && rec.Status == storage.SPWithdrawn
	})
	cancel()
	evs, err := a.Backends.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == "sp.sync" && ev.Actor == "system" && ev.Outcome == "success" && ev.Details["source"] == list {
			n++
		}
	}
	if n < 2 {
		t.Errorf("%d sp.sync audit records, want one per round", n)
	}
}

// TestRegisterRecordsLogout: after a login and a Single Logout at the demo
// SP, the register holds the four messages, and the logout ones open to the
// XML that travelled.
func TestRegisterRecordsLogout(t *testing.T) {
	a, ts, info := testApp(t)
	br := newBrowser(t)
	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	result := br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	out := br.submit(result, "/demo-sp/logout", nil)
	if out.url.Path != "/demo-sp/slo" {
		t.Fatalf("logout did not complete: %s", out.url)
	}
	ctx := context.Background()
	if err := a.RegisterQueue.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := a.Register.Search(ctx, register.Query{SP: a.Config.Server.BaseURL + demo.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range msgs {
		kinds = append(kinds, m.Kind+"/"+m.Direction)
		if !strings.Contains(string(m.XML), m.Kind) {
			t.Errorf("%s record does not open to a %s: %.80s", m.Kind, m.Kind, m.XML)
		}
	}
	want := "AuthnRequest/received Response/sent LogoutRequest/received LogoutResponse/sent"
	if strings.Join(kinds, " ") != want {
		t.Errorf("register holds %v, want %s", kinds, want)
	}
	if _, err := register.Verify(ctx, a.Backends.Store); err != nil {
		t.Error(err)
	}
}

// TestSchedulerDeletesOldRegisterRecords: the scheduler's
// register-retention job deletes records older than 24 months, keeps the
// newer ones, and audits the deletion.
func TestSchedulerDeletesOldRegisterRecords(t *testing.T) {
	a, _, _ := testApp(t)
	ctx := context.Background()
	old := register.Entry{Time: time.Now().AddDate(-2, -1, 0), Kind: register.KindResponse, Direction: register.Sent,
		SP: "https://sp.example.it", SPIDCode: "DEMO0000000001", RequestID: "_old", MessageID: "_r1", Message: []byte("<old/>")}
	recent := old
	recent.Time, recent.RequestID = time.Now().AddDate(-1, -11, 0), "_recent"
	if err := a.Register.Record(ctx, nil, old, recent); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Scheduler().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "register-retention: 1 transaction register records older than 24 months deleted") {
		t.Errorf("report: %s", rep.String())
	}
	left, err := a.Register.Search(ctx, register.Query{SPIDCodes: []string{"DEMO0000000001"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].RequestID != "_recent" {
		t.Errorf("left %d records", len(left))
	}
	evs, _ := a.Backends.Store.ListAudit(ctx, 0, 10000)
	found := false
	for _, ev := range evs {
		found = found || ev.Action == "register.retention" && ev.Details["deleted"] == "1"
	}
	if !found {
		t.Error("no register.retention audit record")
	}
}
