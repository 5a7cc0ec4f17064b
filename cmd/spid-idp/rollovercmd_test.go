package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/rollover"
)

// TestKeysRolloverCommand plans, shows and cancels a rollover through the
// commands, against the demo database every node would share, and finds
// each operation in the audit log.
func TestKeysRolloverCommand(t *testing.T) {
	d := newDemoEnv(t)
	show := d.mustRun("keys", "show")
	if !strings.Contains(show.stdout, "state        active (idp.signing; no rollover under way)") {
		t.Fatalf("keys show before any rollover:\n%s", show.stdout)
	}
	dir := t.TempDir()
	const demoEntity = "http://127.0.0.1:8080"
	d.mustRun("keys", "generate", "--key", filepath.Join(dir, "next.key"), "--cert", filepath.Join(dir, "next.crt"),
		"--bits", "2048", "--cn", "IdP di prova", "--org", "Prova S.p.A.", "--org-id", "VATIT-12345678901",
		"--entity-id", demoEntity, "--days", "365")
	next, err := keys.Load(filepath.Join(dir, "next.key"), filepath.Join(dir, "next.crt"))
	if err != nil {
		t.Fatal(err)
	}
	fp := hexFingerprint(rollover.ID(next.Cert))
	switchAt := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	args := []string{"keys", "rollover", "--key", filepath.Join(dir, "next.key"), "--cert", filepath.Join(dir, "next.crt"),
		"--switch-at", switchAt.Format(time.RFC3339), "--overlap", "1h"}
	plan := d.mustRun(args...)
	for _, want := range []string{"planned      " + fp, "signs from   " + switchAt.Format(time.RFC3339), "warning      the switch comes in"} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("keys rollover output lacks %q:\n%s", want, plan.stdout)
		}
	}
	show = d.mustRun("keys", "show")
	active, nextAt := strings.Index(show.stdout, "state        active"), strings.Index(show.stdout, "state        next")
	if active < 0 || nextAt < active {
		t.Fatalf("keys show does not list the active key then the next one:\n%s", show.stdout)
	}
	nextPart := show.stdout[nextAt:]
	for _, want := range []string{"sha256       " + fp, "signs from   " + switchAt.Format(time.RFC3339),
		"held         database, sealed with security.data_key", "valid        "} {
		if !strings.Contains(nextPart, want) {
			t.Errorf("keys show, next key, lacks %q:\n%s", want, nextPart)
		}
	}
	if want := "retires      " + switchAt.Add(time.Hour).Format(time.RFC3339); !strings.Contains(show.stdout[active:nextAt], want) {
		t.Errorf("keys show, active key, lacks %q:\n%s", want, show.stdout)
	}

	again := d.run(args...)
	if again.code != exitFailure || !strings.Contains(again.stderr, "already planned") {
		t.Errorf("a second plan: exit %d stderr %q, want a refusal naming the pending one", again.code, again.stderr)
	}
	bad := d.run("keys", "rollover", "--key", filepath.Join(dir, "next.key"), "--cert", filepath.Join(dir, "next.crt"), "--switch-at", "tomorrow")
	if bad.code != exitUsage || !strings.Contains(bad.stderr, "--switch-at") {
		t.Errorf("--switch-at tomorrow: exit %d stderr %q", bad.code, bad.stderr)
	}

	cancel := d.mustRun("keys", "rollover", "--cancel")
	if !strings.Contains(cancel.stdout, "cancelled    the rollover to "+fp) {
		t.Errorf("keys rollover --cancel: %s", cancel.stdout)
	}
	if show = d.mustRun("keys", "show"); strings.Contains(show.stdout, "state        next") {
		t.Errorf("the cancelled key is still shown as next:\n%s", show.stdout)
	}

	cfg, err := config.Load("", d.environ)
	if err != nil {
		t.Fatal(err)
	}
	st, err := app.OpenStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "keys.rollover.") {
			got = append(got, ev.Action+" "+ev.Outcome+" "+ev.Actor)
		}
	}
	want := []string{"keys.rollover.plan success operator:tester", "keys.rollover.plan failure operator:tester",
		"keys.rollover.cancel success operator:tester"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d.mustRun("audit", "verify")
}
