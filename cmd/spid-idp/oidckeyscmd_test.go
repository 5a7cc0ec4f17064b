package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keys oidc-generate writes a private key once and prints its JWK; oidc
// keys show lists which configured key signs and which are only published,
// with the JWK sets for the trust anchor (spec §2.8).
func TestOIDCKeysGenerateAndShow(t *testing.T) {
	d := newDemoEnv(t)
	dir := filepath.Join(d.dir, "keys")
	fedKey, nextFed := filepath.Join(dir, "oidc-federation.key"), filepath.Join(dir, "fed-next.key")
	coreKey, nextCore := filepath.Join(dir, "oidc-signing.key"), filepath.Join(dir, "core-next.key")
	kids := map[string]string{}
	for _, f := range []string{fedKey, nextFed, coreKey, nextCore} {
		r := d.run("keys", "oidc-generate", "--out", f, "--bits", "2048")
		if r.code != exitOK || !strings.Contains(r.stdout, `"kty": "RSA"`) {
			t.Fatalf("generate %s: %d %s %s", f, r.code, r.stdout, r.stderr)
		}
		kids[f] = strings.Fields(strings.SplitN(r.stdout, "\n", 3)[1])[1]
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st, err)
		}
	}
	if r := d.run("keys", "oidc-generate", "--out", fedKey); r.code != exitFailure || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Fatalf("overwrite: %d %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"--bits", "1024", "--out", nextCore}, {}, {"--out", nextCore, "extra"}} {
		if r := d.run(append([]string{"keys", "oidc-generate"}, args...)...); r.code != exitUsage {
			t.Fatalf("generate %v: %d %s", args, r.code, r.stderr)
		}
	}
	d.environ = append(d.environ, "SPID_IDP_OIDC_FEDERATION_PUBLISHED_KEY_FILES="+nextFed,
		"SPID_IDP_OIDC_SIGNING_KEY_FILES="+coreKey+","+nextCore)
	r := d.run("keys", "oidc-show", "--json")
	if r.code != exitOK {
		t.Fatalf("show: %d %s", r.code, r.stderr)
	}
	var out struct {
		Keys []oidcKeyRole `json:"keys"`
		Fed  struct {
			Keys []map[string]any `json:"keys"`
		} `json:"federation_jwks"`
		Core struct {
			Keys []map[string]any `json:"keys"`
		} `json:"core_jwks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	want := []oidcKeyRole{
		{"oidc.federation_key_file", fedKey, kids[fedKey], 2048, true},
		{"oidc.federation_published_key_files[0]", nextFed, kids[nextFed], 2048, false},
		{"oidc.signing_key_files[0]", coreKey, kids[coreKey], 2048, true},
		{"oidc.signing_key_files[1]", nextCore, kids[nextCore], 2048, false},
	}
	if len(out.Keys) != len(want) {
		t.Fatalf("roles %+v", out.Keys)
	}
	for i := range want {
		if out.Keys[i] != want[i] {
			t.Errorf("role %d = %+v, want %+v", i, out.Keys[i], want[i])
		}
	}
	if len(out.Fed.Keys) != 2 || out.Fed.Keys[0]["kid"] != kids[fedKey] || len(out.Core.Keys) != 2 || out.Core.Keys[0]["kid"] != kids[coreKey] {
		t.Fatalf("jwks: %+v %+v", out.Fed, out.Core)
	}
	if _, ok := out.Core.Keys[0]["d"]; ok {
		t.Fatal("show printed a private key")
	}
}
