package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/storage"
)

// demoEnv runs commands in-process in demo mode over a fresh data
// directory, with argon2 parameters small enough for tests.
type demoEnv struct {
	t       *testing.T
	dir     string
	environ []string
}

func newDemoEnv(t *testing.T) *demoEnv {
	t.Helper()
	dir := t.TempDir()
	return &demoEnv{t: t, dir: dir, environ: []string{
		"SPID_IDP_DATA_DIR=" + dir,
		"SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=19456",
		"SPID_IDP_SECURITY_ARGON2_TIME=2",
		"SPID_IDP_SECURITY_ARGON2_THREADS=1",
		"USER=tester",
	}}
}

type result struct {
	stdout, stderr string
	code           int
}

func (d *demoEnv) run(args ...string) result {
	d.t.Helper()
	return d.runStdin("", args...)
}

func (d *demoEnv) runStdin(stdin string, args ...string) result {
	d.t.Helper()
	var out, errb bytes.Buffer
	var in io.Reader = strings.NewReader(stdin)
	code := dispatch(context.Background(), env{stdout: &out, stderr: &errb, stdin: in, environ: d.environ}, args)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustRun runs a command that has to succeed.
func (d *demoEnv) mustRun(args ...string) result {
	d.t.Helper()
	r := d.run(args...)
	if r.code != exitOK {
		d.t.Fatalf("spid-idp %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (d *demoEnv) config() *config.Config {
	d.t.Helper()
	cfg, err := config.Load("", d.environ)
	if err != nil {
		d.t.Fatal(err)
	}
	return cfg
}

// withStore opens the demo store for assertions; commands must not be
// running meanwhile.
func (d *demoEnv) withStore(fn func(st storage.Store)) {
	d.t.Helper()
	st, err := app.OpenStore(context.Background(), d.config())
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

func (d *demoEnv) auditLog() []storage.AuditEvent {
	d.t.Helper()
	var evs []storage.AuditEvent
	d.withStore(func(st storage.Store) {
		var err error
		if evs, err = st.ListAudit(context.Background(), 0, 10000); err != nil {
			d.t.Fatal(err)
		}
	})
	return evs
}

// lastAudit returns the last audit record with this action.
func (d *demoEnv) lastAudit(action string) (storage.AuditEvent, bool) {
	d.t.Helper()
	evs := d.auditLog()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == action {
			return evs[i], true
		}
	}
	return storage.AuditEvent{}, false
}

func (d *demoEnv) wantAudit(action, target, outcome string) storage.AuditEvent {
	d.t.Helper()
	ev, ok := d.lastAudit(action)
	if !ok {
		d.t.Fatalf("no audit record %s", action)
	}
	if ev.Actor != "operator:tester" || ev.Target != target || ev.Outcome != outcome {
		d.t.Fatalf("audit %s: actor %q target %q outcome %q, want operator:tester %q %q", action, ev.Actor, ev.Target, ev.Outcome, target, outcome)
	}
	return ev
}

// prodEnv is an operator's first steps outside demo mode: generate the
// signing key with `keys generate`, write a configuration naming it, then
// administer through -c.
func prodEnv(t *testing.T) (*demoEnv, string) {
	t.Helper()
	d := newDemoEnv(t)
	d.environ = append(d.environ,
		"SPID_IDP_IDP_SESSION_COOKIE_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'c'}, 32)),
		"SPID_IDP_SECURITY_DATA_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'d'}, 32)))
	d.mustRun(generateArgs(d.dir)...)
	if err := os.Mkdir(filepath.Join(d.dir, "sp"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(`server:
  base_url: https://idp.example.it
data_dir: DIR
enrolment:
  responsible: Maria Bianchi
idp:
  spid_code_prefix: PROV
  organization:
    name: {it: Prova S.p.A.}
    display_name: {it: IdP di prova}
    url: {it: "https://www.example.it"}
  contact:
    email: spid@example.it
    vat_number: IT12345678901
  signing:
    key_file: DIR/signing.key
    cert_file: DIR/signing.crt
  sp_metadata_dir: DIR/sp
`, "DIR", d.dir)
	path := writeTemp(t, "spid-idp.yaml", []byte(cfg))
	if r := d.run("config", "validate", "-c", path); r.code != exitOK {
		t.Fatalf("configuration: %s", r.stderr)
	}
	return d, path
}
