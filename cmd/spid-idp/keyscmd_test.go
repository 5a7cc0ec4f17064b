package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
)

const testEntityID = "https://idp.example.it"

func generateArgs(dir string, extra ...string) []string {
	return append([]string{"keys", "generate",
		"--key", filepath.Join(dir, "signing.key"), "--cert", filepath.Join(dir, "signing.crt"),
		"--bits", "2048", "--cn", "IdP di prova", "--org", "Prova S.p.A.", "--org-id", "VATIT-12345678901",
		"--entity-id", testEntityID, "--days", "365"}, extra...)
}

func TestKeysGenerateAndShow(t *testing.T) {
	d := newDemoEnv(t)
	dir := t.TempDir()
	r := d.mustRun(generateArgs(dir)...)
	pair, err := keys.Load(filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.CheckIdPProfile(pair.Cert, testEntityID, time.Now()); err != nil {
		t.Errorf("generated certificate: %v", err)
	}
	if n := pair.Key.(*rsa.PrivateKey).N.BitLen(); n != 2048 {
		t.Errorf("key of %d bits, want 2048", n)
	}
	if days := pair.Cert.NotAfter.Sub(pair.Cert.NotBefore).Hours() / 24; days != 365 {
		t.Errorf("validity %v days, want 365", days)
	}
	if fi, err := os.Stat(filepath.Join(dir, "signing.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	sum := sha256.Sum256(pair.Cert.Raw)
	fp := strings.ToUpper(fmt.Sprintf("%x", sum[:2]))
	for _, want := range []string{"subject      CN=IdP di prova", "organizationIdentifier=VATIT-12345678901",
		"uri=" + testEntityID, "sha256       " + fp[:2] + ":" + fp[2:], "expires in 364 days", "profile      OK"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	show := d.mustRun("keys", "show", "--cert", filepath.Join(dir, "signing.crt"),
		"--key", filepath.Join(dir, "signing.key"), "--entity-id", testEntityID)
	for _, want := range []string{"private key  ", "matches", "profile      OK", fp[:2] + ":" + fp[2:]} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("keys show lacks %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(show.stdout, "note ") {
		t.Errorf("note about unchecked uri printed although --entity-id was given")
	}
}

func TestKeysGenerateRefusesOverwrite(t *testing.T) {
	d := newDemoEnv(t)
	dir := t.TempDir()
	d.mustRun(generateArgs(dir)...)
	before, _ := os.ReadFile(filepath.Join(dir, "signing.key"))

	r := d.run(generateArgs(dir)...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Fatalf("exit %d stderr %q, want refusal", r.code, r.stderr)
	}
	// Only the certificate present (an orphan) is also protected.
	os.Remove(filepath.Join(dir, "signing.key"))
	r = d.run(generateArgs(dir)...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "signing.crt exists") {
		t.Fatalf("exit %d stderr %q, want refusal naming the certificate", r.code, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "signing.key"), before, 0o600); err != nil {
		t.Fatal(err)
	}
	d.mustRun(generateArgs(dir, "--force")...)
	after, _ := os.ReadFile(filepath.Join(dir, "signing.key"))
	if bytes.Equal(before, after) {
		t.Error("--force did not replace the key")
	}
}

func TestKeysGenerateBadInput(t *testing.T) {
	d := newDemoEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"nothing given", []string{"keys", "generate"}, exitUsage,
			[]string{"missing --key, --cert, --cn, --org, --org-id, --entity-id"}},
		{"bad org id", generateArgs(dir, "--org-id", "IT12345678901"), exitUsage, []string{"organizationIdentifier"}},
		{"bad key size", generateArgs(dir, "--bits", "1024"), exitUsage, []string{"key size 1024"}},
		{"relative entity id", generateArgs(dir, "--entity-id", "idp"), exitUsage, []string{"not an absolute URI"}},
		{"zero days", generateArgs(dir, "--days", "0"), exitUsage, []string{"--days"}},
		{"same file", []string{"keys", "generate", "--key", "x.pem", "--cert", "x.pem", "--cn", "a", "--org", "b",
			"--org-id", "VATIT-12345678901", "--entity-id", testEntityID}, exitUsage, []string{"different files"}},
		{"unknown flag", []string{"keys", "generate", "--nope"}, exitUsage, []string{"flag provided but not defined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.run(tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %q", w, r.stderr)
				}
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed runs left files: %v", ents)
	}
}

func TestKeysShowViolations(t *testing.T) {
	d := newDemoEnv(t)
	dir := t.TempDir()
	d.mustRun(generateArgs(dir)...)
	crt := filepath.Join(dir, "signing.crt")

	// The IdP certificate checked against another entityID.
	r := d.run("keys", "show", "--cert", crt, "--entity-id", "https://other.example.it")
	if r.code != exitFailure || !strings.Contains(r.stdout, "1 violation(s)") || !strings.Contains(r.stdout, "differs from entityID") {
		t.Errorf("exit %d stdout:\n%s", r.code, r.stdout)
	}

	// An SP certificate lacks the IdP policy: each violation on its line.
	sp := metadatatest.NewPair(t, "https://sp.example.it")
	spDir := t.TempDir()
	if err := keys.Save(sp, filepath.Join(spDir, "sp.key"), filepath.Join(spDir, "sp.crt")); err != nil {
		t.Fatal(err)
	}
	r = d.run("keys", "show", "--cert", filepath.Join(spDir, "sp.crt"))
	if r.code != exitFailure {
		t.Fatalf("exit %d, want 1", r.code)
	}
	for _, want := range []string{"note ", "  - subject organizationIdentifier", "  - certificatePolicies lacks 1.3.76.16.4.1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	// A key that belongs to another certificate.
	r = d.run("keys", "show", "--cert", crt, "--key", filepath.Join(spDir, "sp.key"), "--entity-id", testEntityID)
	if r.code != exitFailure || !strings.Contains(r.stdout, "does not match") {
		t.Errorf("mismatched key: exit %d stdout:\n%s", r.code, r.stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"missing file", []string{"keys", "show", "--cert", filepath.Join(dir, "nope.crt")}, exitFailure},
		{"not PEM", []string{"keys", "show", "--cert", filepath.Join(dir, "signing.key")}, exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := d.run(tc.args...); r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
		})
	}
}
