package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/storage"
)

const testSP = "https://sp.example.it"

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (d *demoEnv) spRecord(entityID string) (storage.ServiceProvider, error) {
	var rec storage.ServiceProvider
	var err error
	d.withStore(func(st storage.Store) { rec, err = st.GetServiceProvider(context.Background(), entityID) })
	return rec, err
}

func TestSPAddListShow(t *testing.T) {
	d := newDemoEnv(t)
	xml, pair := metadatatest.NewSP(t, metadatatest.Options{})
	file := writeTemp(t, "sp.xml", xml)

	r := d.mustRun("sp", "add", "--metadata", file)
	if !strings.Contains(r.stdout, "registered "+testSP+" (Servizio di prova), status active: 2 ACS, 2 attribute set(s), 2 SLO") {
		t.Errorf("sp add output:\n%s", r.stdout)
	}
	rec, err := d.spRecord(testSP)
	if err != nil || rec.Status != storage.SPActive || rec.Source != "cli" || string(rec.MetadataXML) != string(xml) {
		t.Fatalf("stored %+v, %v", rec, err)
	}
	ev := d.wantAudit("sp.add", testSP, "success")
	if ev.Details["metadata_source"] != file {
		t.Errorf("audit details %v", ev.Details)
	}

	list := d.mustRun("sp", "list")
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ENTITY ID") {
		t.Fatalf("sp list:\n%s", list.stdout)
	}
	if f := strings.Fields(lines[1]); len(f) < 7 || f[0] != testSP || f[4] != "active" || f[5] != "cli" || f[6] != "2" {
		t.Errorf("sp list row %q", lines[1])
	}

	show := d.mustRun("sp", "show", testSP)
	for _, want := range []string{
		"entityID     " + testSP, "status       active", "sector       public",
		"0      yes      HTTP-POST  " + testSP + "/acs",
		"1      no       HTTP-POST  " + testSP + "/acs/1",
		"0, default  Servizio 0: name*, familyName*, fiscalNumber*, email*",
		"HTTP-Redirect  " + testSP + "/slo/redirect",
		"sha256  " + fingerprint(pair.Cert),
		"organizationIdentifier=PA:IT-c_h501",
	} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("sp show lacks %q:\n%s", want, show.stdout)
		}
	}
}

func TestSPAddRefusesInvalidMetadata(t *testing.T) {
	d := newDemoEnv(t)
	for _, tc := range []struct {
		name   string
		opts   metadatatest.Options
		checks []string
	}{
		{"unsigned and unsigned requests", metadatatest.Options{Unsigned: true, Mutate: func(root *etree.Element) {
			root.FindElement("SPSSODescriptor").CreateAttr("AuthnRequestsSigned", "false")
		}}, []string{metadata.CheckSignature, metadata.CheckAuthnRequestsSigned}},
		{"no default ACS and signed by another key", metadatatest.Options{
			SignWith: ptr(metadatatest.NewPair(t, testSP)),
			Mutate: func(root *etree.Element) {
				for _, acs := range root.FindElements("SPSSODescriptor/AssertionConsumerService") {
					acs.RemoveAttr("isDefault")
				}
			}}, []string{metadata.CheckSignature, metadata.CheckACSDefault}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xml, _ := metadatatest.NewSP(t, tc.opts)
			_, perr := metadata.ParseSPMetadata(xml, metadata.ParseOptions{})
			var ve *metadata.ValidationError
			if !errors.As(perr, &ve) {
				t.Fatalf("fixture is not invalid: %v", perr)
			}
			for _, c := range tc.checks {
				if !ve.Has(c) {
					t.Fatalf("fixture does not fail %s: %v", c, ve)
				}
			}
			r := d.run("sp", "add", "--metadata", writeTemp(t, "bad.xml", xml))
			if r.code != exitFailure {
				t.Fatalf("exit %d, want 1", r.code)
			}
			// Every failed check is printed, one per line.
			for _, f := range ve.Failures {
				if !strings.Contains(r.stderr, "\n  "+f.Check+": "+f.Detail+"\n") {
					t.Errorf("stderr lacks failure %s: %s\n%s", f.Check, f.Detail, r.stderr)
				}
			}
			if _, err := d.spRecord(testSP); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("refused SP stored: %v", err)
			}
			ev := d.wantAudit("sp.add", ve.EntityID, "failure")
			for _, c := range tc.checks {
				if !strings.Contains(ev.Details["failed_checks"], c) {
					t.Errorf("audit failed_checks %q lacks %s", ev.Details["failed_checks"], c)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSPAddFromURL(t *testing.T) {
	d := newDemoEnv(t)
	xml, _ := metadatatest.NewSP(t, metadatatest.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metadata" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(xml)
	}))
	defer srv.Close()

	d.mustRun("sp", "add", "--metadata", srv.URL+"/metadata")
	if _, err := d.spRecord(testSP); err != nil {
		t.Fatal(err)
	}
	r := d.run("sp", "add", "--metadata", srv.URL+"/missing")
	if r.code != exitFailure || !strings.Contains(r.stderr, "404") {
		t.Errorf("404: exit %d stderr %q", r.code, r.stderr)
	}
	d.wantAudit("sp.add", "", "failure")
}

func TestSPStatusChanges(t *testing.T) {
	d := newDemoEnv(t)
	xml, _ := metadatatest.NewSP(t, metadatatest.Options{})
	file := writeTemp(t, "sp.xml", xml)
	d.mustRun("sp", "add", "--metadata", file)

	status := func() storage.SPStatus {
		t.Helper()
		rec, err := d.spRecord(testSP)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Status
	}

	d.mustRun("sp", "disable", testSP)
	if s := status(); s != storage.SPDisabled {
		t.Fatalf("after disable: %s", s)
	}
	d.wantAudit("sp.disable", testSP, "success")

	// Replacing the metadata keeps the SP disabled, unless --enable.
	r := d.mustRun("sp", "add", "--metadata", file)
	if s := status(); s != storage.SPDisabled || !strings.Contains(r.stdout, "metadata replaced for "+testSP) {
		t.Fatalf("after re-add: %s, %q", s, r.stdout)
	}
	d.mustRun("sp", "add", "--enable", "--metadata", file)
	if s := status(); s != storage.SPActive {
		t.Fatalf("after re-add --enable: %s", s)
	}
	if ev := d.wantAudit("sp.add", testSP, "success"); ev.Details["enabled"] != "true" || ev.Details["replaced"] != "true" {
		t.Errorf("audit details %v", ev.Details)
	}

	d.mustRun("sp", "disable", testSP)
	// Flags may follow the entityID.
	d.mustRun("sp", "enable", testSP, "-c", "")
	if s := status(); s != storage.SPActive {
		t.Fatalf("after enable: %s", s)
	}
	d.wantAudit("sp.enable", testSP, "success")

	if r := d.mustRun("sp", "list"); !strings.Contains(r.stdout, "active") {
		t.Errorf("list after enable:\n%s", r.stdout)
	}
	d.mustRun("sp", "remove", testSP)
	if _, err := d.spRecord(testSP); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	d.wantAudit("sp.remove", testSP, "success")
	if r := d.mustRun("sp", "list"); !strings.Contains(r.stdout, "no service providers") {
		t.Errorf("list after remove:\n%s", r.stdout)
	}
}

func TestSPBadUse(t *testing.T) {
	d := newDemoEnv(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
		audit  string // action recorded as a failure, if any
	}{
		{"add without metadata", []string{"sp", "add"}, exitUsage, "missing --metadata", ""},
		{"add missing file", []string{"sp", "add", "--metadata", filepath.Join(d.dir, "nope.xml")}, exitFailure, "no such file", "sp.add"},
		{"add not XML", []string{"sp", "add", "--metadata", writeTemp(t, "x.xml", []byte("not xml"))}, exitFailure, "check(s) failed", "sp.add"},
		{"add ftp URL", []string{"sp", "add", "--metadata", "ftp://example.org/md"}, exitFailure, "not an http(s) URL", "sp.add"},
		{"show unknown", []string{"sp", "show", "https://nope.example.it"}, exitFailure, "no service provider", ""},
		{"show without id", []string{"sp", "show"}, exitUsage, "usage:", ""},
		{"remove unknown", []string{"sp", "remove", "https://nope.example.it"}, exitFailure, "no service provider", "sp.remove"},
		{"disable unknown", []string{"sp", "disable", "https://nope.example.it"}, exitFailure, "no service provider", "sp.disable"},
		{"enable two ids", []string{"sp", "enable", "a", "b"}, exitUsage, "usage:", ""},
		{"list with argument", []string{"sp", "list", "x"}, exitUsage, "unexpected argument", ""},
		{"no subcommand", []string{"sp"}, exitUsage, "needs a subcommand: add, disable, enable, list, remove, show", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(d.auditLog())
			r := d.run(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d stderr %q, want %d containing %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			evs := d.auditLog()
			switch {
			case tc.audit == "" && len(evs) != before:
				t.Errorf("audit records added for a usage error: %v", evs[before:])
			case tc.audit != "" && (len(evs) != before+1 || evs[before].Action != tc.audit || evs[before].Outcome != "failure"):
				t.Errorf("want one %s failure record, got %v", tc.audit, evs[before:])
			}
		})
	}
}

// An SP whose stored metadata no longer passes the checks (here: damaged
// in the database) is listed as untrusted with the reasons, and show says so.
func TestSPListShowUntrusted(t *testing.T) {
	d := newDemoEnv(t)
	xml, _ := metadatatest.NewSP(t, metadatatest.Options{})
	d.mustRun("sp", "add", "--metadata", writeTemp(t, "sp.xml", xml))
	d.withStore(func(st storage.Store) {
		err := st.UpdateServiceProvider(context.Background(), testSP, func(sp storage.ServiceProvider) (storage.ServiceProvider, error) {
			sp.MetadataXML = []byte(strings.Replace(string(xml), "Servizio di prova", "Servizio alterato", 1))
			return sp, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	r := d.mustRun("sp", "list")
	if !strings.Contains(r.stdout, "active (untrusted)") || !strings.Contains(r.stdout, "\n  signature: ") {
		t.Errorf("sp list:\n%s", r.stdout)
	}
	r = d.mustRun("sp", "show", testSP)
	if !strings.Contains(r.stdout, "UNTRUSTED") || !strings.Contains(r.stdout, "\n  signature: ") {
		t.Errorf("sp show:\n%s", r.stdout)
	}
}

// Outside demo mode the commands work from -c and apply the production
// profile.
func TestProductionMode(t *testing.T) {
	d, conf := prodEnv(t)

	r := d.mustRun("metadata", "-c", conf)
	pair, err := keys.Load(filepath.Join(d.dir, "signing.key"), filepath.Join(d.dir, "signing.crt"))
	if err != nil {
		t.Fatal(err)
	}
	root := verifyIdPMetadata(t, []byte(r.stdout), pair.Cert)
	if got := root.SelectAttrValue("entityID", ""); got != testEntityID {
		t.Errorf("entityID %q", got)
	}

	// The production profile refuses plain-HTTP endpoints that demo accepts.
	httpSP, _ := metadatatest.NewSP(t, metadatatest.Options{BaseURL: "http://sp.example.it"})
	file := writeTemp(t, "http-sp.xml", httpSP)
	r = d.run("sp", "add", "-c", conf, "--metadata", file)
	if r.code != exitFailure || !strings.Contains(r.stderr, "acs: ") {
		t.Errorf("production sp add of http endpoints: exit %d\n%s", r.code, r.stderr)
	}
	if r := d.run("sp", "add", "-c", conf, "--metadata", "http://127.0.0.1:1/metadata"); r.code != exitFailure || !strings.Contains(r.stderr, "production requires https") {
		t.Errorf("production fetch over http: exit %d %s", r.code, r.stderr)
	}
	// (demo mode, same file: accepted)
	demo := newDemoEnv(t)
	demo.mustRun("sp", "add", "--metadata", file)

	// The provider code comes from idp.spid_code_prefix (PROV in the test
	// file); --spid-code-prefix overrides it.
	pw := writeTemp(t, "pw", []byte(testPassword))
	d.mustRun(addArgs("mrossi", testCF, "-c", conf, "--password-file", pw)...)
	if id, _ := d.identity("mrossi"); !strings.HasPrefix(id.Attributes["spidCode"], "PROV") {
		t.Errorf("spidCode %q", id.Attributes["spidCode"])
	}
	d.mustRun(addArgs("lbianchi", "BNCLRA85M41F205C", "-c", conf, "--password-file", pw, "--spid-code-prefix", "EXID")...)
	if id, _ := d.identity("lbianchi"); !strings.HasPrefix(id.Attributes["spidCode"], "EXID") {
		t.Errorf("spidCode %q", id.Attributes["spidCode"])
	}
}

// TestSPSync: `sp sync` loads a federation aggregate signed by the
// operator: good entities are registered (the AgID test tool's SP with its
// Redirect ACS included, with a warning), a bad one is reported without
// blocking the others, a tampered aggregate changes nothing, and an SP
// dropped from the list is withdrawn.
func TestSPSync(t *testing.T) {
	d := newDemoEnv(t)
	fed := metadatatest.NewPair(t, "https://federation.example.it")
	certFile := writeTemp(t, "federation.crt", pemCert(fed))
	a, _ := metadatatest.NewSP(t, metadatatest.Options{EntityID: "https://a.example.it"})
	tool, _ := metadatatest.NewSP(t, metadatatest.Options{EntityID: "https://tool.example.it", Mutate: func(r *etree.Element) {
		r.FindElement("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']").CreateAttr("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
	}})
	bad, _ := metadatatest.NewSP(t, metadatatest.Options{EntityID: "https://bad.example.it", Mutate: func(r *etree.Element) {
		r.FindElement("./md:SPSSODescriptor").CreateAttr("AuthnRequestsSigned", "false")
	}})
	agg := metadatatest.Aggregate(t, fed, time.Time{}, a, bad, tool)

	// Tampered: one byte of an entity changed after the operator signed.
	tampered := writeTemp(t, "tampered.xml", bytes.Replace(agg, []byte("https://a.example.it/acs"), []byte("https://a.example.it/acx"), 1))
	r := d.run("sp", "sync", "--source", tampered, "--certificate", certFile)
	if r.code != exitFailure || !strings.Contains(r.stderr, "signature") || !strings.Contains(r.stderr, "nothing changed") {
		t.Fatalf("tampered aggregate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := d.spRecord("https://a.example.it"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SP stored from a tampered aggregate: %v", err)
	}
	d.wantAudit("sp.sync", "", "failure")

	// Served over HTTP like a registry.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(agg) }))
	defer srv.Close()
	r = d.mustRun("sp", "sync", "--source", srv.URL+"/sp.xml", "--certificate", certFile)
	for _, want := range []string{
		"2 added, 0 updated, 0 unchanged, 0 withdrawn, 0 reactivated, 1 rejected",
		"added https://a.example.it", "added https://tool.example.it",
		"warning: acs: AssertionConsumerService 1: Binding HTTP-Redirect cannot be answered",
		"rejected https://bad.example.it (last good copy kept):", "authn-requests-signed:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sp sync output lacks %q:\n%s", want, r.stdout)
		}
	}
	ev := d.wantAudit("sp.sync", "", "success")
	if ev.Details["rejected"] != "https://bad.example.it" || ev.Details["added"] != "https://a.example.it https://tool.example.it" {
		t.Errorf("audit details %v", ev.Details)
	}
	rec, err := d.spRecord("https://tool.example.it")
	if err != nil || rec.Status != storage.SPActive || rec.Source != metadata.SourceFederationPrefix+srv.URL+"/sp.xml" {
		t.Fatalf("tool SP %+v %v", rec, err)
	}

	// Next publication drops a: withdrawn, no longer trusted.
	agg = metadatatest.Aggregate(t, fed, time.Time{}, tool)
	r = d.mustRun("sp", "sync", "--source", srv.URL+"/sp.xml", "--certificate", certFile)
	if !strings.Contains(r.stdout, "withdrawn https://a.example.it") {
		t.Errorf("second sync:\n%s", r.stdout)
	}
	if rec, _ := d.spRecord("https://a.example.it"); rec.Status != storage.SPWithdrawn {
		t.Errorf("a is %s, want withdrawn", rec.Status)
	}
	if r := d.run("sp", "sync", "--source", srv.URL); r.code != exitUsage {
		t.Errorf("--source without --certificate: exit %d", r.code)
	}
}

func pemCert(p keys.Pair) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}
