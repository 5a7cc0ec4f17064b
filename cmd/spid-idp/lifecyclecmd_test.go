package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
)

func (d *demoEnv) lifecycleStore(fn func(ls lifecycleStore)) {
	d.t.Helper()
	d.withStore(func(st storage.Store) {
		ls, ok := st.(lifecycleStore)
		if !ok {
			d.t.Fatalf("store %T keeps no lifecycles", st)
		}
		fn(ls)
	})
}

func TestLifecycleRunAndShow(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	d.mustRun(addArgs("mrossi", testCF, "--email", "mario.rossi@example.org", "--mobile", "+39 333 1234567",
		"--password-file", pwFile)...)
	id, _ := d.identity("mrossi")

	r := d.mustRun("lifecycle", "show", "mrossi")
	for _, want := range []string{"state        active", "valid from", "inactivity", "next check"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}

	// A holder's suspension whose 30 days are over: one run reactivates
	// it and tells the holder by e-mail and SMS through the outboxes.
	d.mustRun("user", "suspend", "--cause", "holder_request", "mrossi")
	d.lifecycleStore(func(ls lifecycleStore) {
		err := ls.UpdateLifecycle(context.Background(), id.ID, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
			l.Suspension.StartedAt = time.Now().Add(-31 * 24 * time.Hour)
			l.Suspension.Until = time.Now().Add(-24 * time.Hour)
			l.NextDueAt = time.Time{}
			return l, i, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if r := d.mustRun("lifecycle", "show", "mrossi"); !strings.Contains(r.stdout, "suspension   holder_request by operator:tester via cli") {
		t.Errorf("show while suspended:\n%s", r.stdout)
	}
	r = d.mustRun("lifecycle", "run", "--now")
	if !strings.Contains(r.stdout, "reactivated 1") {
		t.Errorf("run: %s", r.stdout)
	}
	if i, _ := d.identity("mrossi"); i.Status != storage.IdentityActive {
		t.Errorf("status after the run: %s", i.Status)
	}
	if r := d.mustRun("lifecycle", "run", "--now"); !strings.Contains(r.stdout, "reactivated 0") {
		t.Errorf("second run: %s", r.stdout)
	}
	for _, dir := range []string{filepath.Join(d.dir, "outbox", "mail"), filepath.Join(d.dir, "outbox", "sms")} {
		if es, err := os.ReadDir(dir); err != nil || len(es) < 2 { // suspended, reactivated
			t.Errorf("%s: %d messages, %v", dir, len(es), err)
		}
	}
	if ev, ok := d.lastAudit("lifecycle.reactivate"); !ok || ev.Actor != "system:scheduler" || ev.Target != id.ID {
		t.Errorf("reactivation audit %+v", ev)
	}

	// Another node holds the lease: the run is skipped.
	d.lifecycleStore(func(ls lifecycleStore) {
		if ok, err := ls.TryAcquire(context.Background(), lifecycle.LeaseName, "node-b", time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	})
	if r := d.mustRun("lifecycle", "run", "--now"); !strings.Contains(r.stdout, "skipped") {
		t.Errorf("run under another node's lease: %s", r.stdout)
	}

	for _, bad := range [][]string{{"lifecycle", "run"}, {"lifecycle", "run", "--now", "extra"}, {"lifecycle", "show"}} {
		if r := d.run(bad...); r.code != exitUsage {
			t.Errorf("%v: exit %d", bad, r.code)
		}
	}
	if r := d.run("lifecycle", "show", "nobody"); r.code != exitFailure || !strings.Contains(r.stderr, `no identity with username "nobody"`) {
		t.Errorf("show nobody: %d %s", r.code, r.stderr)
	}
}
