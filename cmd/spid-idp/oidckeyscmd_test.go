package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/keys"
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

// keys oidc-show --anchors reads the trust anchor's statement about us:
// a key that signs must be in it (federation keys in its jwks, core keys in
// the openid_provider.jwks its policy pins), else the command fails and
// says which; keys only published may be missing (spec §2.8).
func TestOIDCKeysShowAnchors(t *testing.T) {
	d := newDemoEnv(t)
	dir := filepath.Join(d.dir, "keys")
	files := map[string]string{}
	signers := map[string]federation.Signer{}
	for _, name := range []string{"fed", "fed-next", "core", "core-next"} {
		f := filepath.Join(dir, name+".key")
		if r := d.run("keys", "oidc-generate", "--out", f, "--bits", "2048"); r.code != exitOK {
			t.Fatalf("generate: %d %s", r.code, r.stderr)
		}
		k, err := keys.LoadKey(f)
		if err != nil {
			t.Fatal(err)
		}
		if signers[name], err = federation.NewSigner(k, jose.RS256); err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	cfg, err := config.Load("", d.environ)
	if err != nil {
		t.Fatal(err)
	}
	issuer := cfg.OIDC.Issuer
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	set := func(names ...string) jose.JSONWebKeySet {
		var s jose.JSONWebKeySet
		for _, n := range names {
			s.Keys = append(s.Keys, signers[n].Public())
		}
		return s
	}
	fed, err := fedtest.New(fedtest.Options{Base: srv.URL, Keys: &fedtest.KeySource{Dir: t.TempDir()}, OP: issuer, OPJWKS: set("fed")})
	if err != nil {
		t.Fatal(err)
	}
	fed.Mount(mux)
	pin := func(core ...string) {
		var p map[string]map[string]map[string]any
		if core != nil {
			b, _ := json.Marshal(set(core...))
			var v any
			_ = json.Unmarshal(b, &v)
			p = map[string]map[string]map[string]any{federation.TypeOpenIDProvider: {"jwks": {"value": v}}}
		}
		fed.TA.Add(issuer, fedtest.Subordinate{Type: federation.TypeOpenIDProvider, JWKS: set("fed"), Policy: p})
	}
	ta := fed.Anchor()
	b, _ := json.Marshal(ta.JWKS)
	taFile := filepath.Join(d.dir, "ta.jwks.json")
	if err := os.WriteFile(taFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	base := append([]string{}, d.environ...)
	show := func(core ...string) (result, map[string]string) {
		t.Helper()
		var cf []string
		for _, c := range core {
			cf = append(cf, files[c])
		}
		d.environ = append(append([]string{}, base...), "SPID_IDP_OIDC_FEDERATION_TRUST_ANCHORS="+ta.EntityID+"|"+taFile,
			"SPID_IDP_OIDC_FEDERATION_KEY_FILE="+files["fed"], "SPID_IDP_OIDC_FEDERATION_PUBLISHED_KEY_FILES="+files["fed-next"],
			"SPID_IDP_OIDC_SIGNING_KEY_FILES="+strings.Join(cf, ","))
		r := d.run("keys", "oidc-show", "--anchors", "--json")
		var out struct {
			Anchors []anchorView `json:"anchors"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Anchors) != 1 {
			t.Fatalf("output %q %q: %v", r.stdout, r.stderr, err)
		}
		got := map[string]string{}
		for name, s := range signers {
			got[name] = out.Anchors[0].Keys[s.KID]
		}
		return r, got
	}
	steps := []struct {
		name   string
		pinned []string // nil: no policy on our core keys
		core   []string // signing_key_files, the first signs
		code   int
		want   map[string]string
	}{
		{"core keys not pinned", nil, []string{"core", "core-next"}, exitOK,
			map[string]string{"fed": anchorCarries, "fed-next": anchorLacks, "core": anchorNotPinned, "core-next": anchorNotPinned}},
		{"next core key published, not yet pinned", []string{"core"}, []string{"core", "core-next"}, exitOK,
			map[string]string{"fed": anchorCarries, "fed-next": anchorLacks, "core": anchorCarries, "core-next": anchorLacks}},
		{"next core key signs too early", []string{"core"}, []string{"core-next", "core"}, exitFailure,
			map[string]string{"core": anchorCarries, "core-next": anchorLacks}},
		{"anchor pins both: the switch is safe", []string{"core", "core-next"}, []string{"core-next", "core"}, exitOK,
			map[string]string{"core": anchorCarries, "core-next": anchorCarries}},
	}
	for _, st := range steps {
		pin(st.pinned...)
		r, got := show(st.core...)
		if r.code != st.code {
			t.Errorf("%s: exit %d, want %d: %s", st.name, r.code, st.code, r.stderr)
		}
		for k, v := range st.want {
			if got[k] != v {
				t.Errorf("%s: %s is %q, want %q", st.name, k, got[k], v)
			}
		}
		if st.code == exitFailure && !strings.Contains(r.stderr, "oidc.signing_key_files[0]") {
			t.Errorf("%s: the failure does not name the key: %s", st.name, r.stderr)
		}
	}
	text := d.run("keys", "oidc-show", "--anchors")
	if text.code != exitOK || !strings.Contains(text.stdout, "trust anchor "+ta.EntityID) ||
		!strings.Contains(text.stdout, anchorLacks+"    kid "+signers["fed-next"].KID) {
		t.Errorf("text output: %d\n%s\n%s", text.code, text.stdout, text.stderr)
	}
}
