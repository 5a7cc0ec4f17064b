package attrauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/templates"
)

const base = "http://fed.test"

type harness struct {
	fed *fedtest.Federation
	reg *attrauth.Registry
	mux *http.ServeMux
}

func newHarness(t *testing.T, mutate func(*fedtest.Federation)) *harness {
	t.Helper()
	ks := &fedtest.KeySource{Dir: "../internal/fedtest/testdata"}
	fed, err := fedtest.New(fedtest.Options{Base: base, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(fed)
	}
	mux := fed.Handler()
	reg := attrauth.NewRegistry([]federation.TrustAnchor{fed.Anchor()},
		&federation.Fetcher{Local: mux, LocalBase: base, AllowHTTP: true, AllowPrivate: true}, nil)
	return &harness{fed: fed, reg: reg, mux: mux}
}

func TestRegistryDiscoversTheTestAA(t *testing.T) {
	h := newHarness(t, nil)
	all := h.reg.All(context.Background())
	if len(all) != 1 {
		t.Fatalf("registry holds %d AAs, want the test AA only: %+v", len(all), all)
	}
	aa := all[0]
	if aa.ID != base+fedtest.PathAA || aa.Name != "Attribute Authority dimostrativa" || aa.Names["en"] != "Demo Attribute Authority" ||
		aa.Logo != base+fedtest.PathAA+"/logo.svg" {
		t.Errorf("AA = %+v", aa)
	}
	if strings.Join(aa.Required, " ") != strings.Join(fedtest.DemoAARequired, " ") || aa.Lookup != "email" {
		t.Errorf("attributes: required %v lookup %q", aa.Required, aa.Lookup)
	}
	pub, ok := aa.EncKey.Key.(*rsa.PublicKey)
	if !ok || pub.N.Cmp(h.fed.AA.Enc.N) != 0 || aa.EncKey.KeyID != h.fed.AA.EncKID {
		t.Errorf("encryption key is not the AA's enc key: %+v", aa.EncKey)
	}
}

// A001, A003: an AA without its trust mark or without an encryption key
// is not offered; an entity the anchor does not list is unknown.
func TestRegistryLeavesOutUnusableAAs(t *testing.T) {
	for name, mutate := range map[string]func(*fedtest.Federation){
		"no trust mark":     func(f *fedtest.Federation) { f.AA.TrustMarks = nil },
		"mark revoked":      func(f *fedtest.Federation) { f.TA.RevokeMark(f.TA.ID+fedtest.MarkAA, f.AA.ID) },
		"no encryption key": func(f *fedtest.Federation) { f.AA.NoEncKey = true },
		"no required attrs": func(f *fedtest.Federation) { f.AA.Required = nil },
		"mark of an RP instead": func(f *fedtest.Federation) {
			m, _ := f.TA.Mark(f.TA.ID+fedtest.MarkRPPublic, f.AA.ID, time.Hour)
			f.AA.TrustMarks = []federation.TrustMarkRef{m}
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mutate)
			if all := h.reg.All(context.Background()); len(all) != 0 {
				t.Errorf("AA offered: %+v", all)
			}
		})
	}
}

// A010 and §9.2: blanks and unknown ids ignored, ids trimmed, duplicates
// merged, at most ten considered.
func TestLookup(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	aa := base + fedtest.PathAA
	cases := map[string]struct {
		ids  []string
		want int
	}{
		"none":             {nil, 0},
		"only blanks":      {[]string{"", "  ", "\n"}, 0},
		"unknown":          {[]string{"https://aa.example.it"}, 0},
		"one plus blanks":  {[]string{"", aa, " "}, 1},
		"trimmed":          {[]string{"  " + aa + "\n"}, 1},
		"duplicates":       {[]string{aa, aa, " " + aa}, 1},
		"rp is not an aa":  {[]string{base + fedtest.PathRP1}, 0},
		"beyond the tenth": {append(strings.Split("a b c d e f g h i j", " "), aa), 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := h.reg.Lookup(ctx, c.ids); len(got) != c.want {
				t.Errorf("Lookup(%q) = %d AAs, want %d", c.ids, len(got), c.want)
			}
		})
	}
}

func testSigner(t *testing.T) (attrauth.Signer, jose.JSONWebKeySet) {
	t.Helper()
	k, err := (&fedtest.KeySource{Dir: "../internal/fedtest/testdata"}).Key("op-sig")
	if err != nil {
		t.Fatal(err)
	}
	s, err := attrauth.SignerFor(k)
	if err != nil {
		t.Fatal(err)
	}
	return s, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: s.KID, Use: "sig"}}}
}

var claims = map[string]any{"https://attributes.eid.gov.it/fiscal_number": "TINIT-RSSMRA80A01H501U",
	"email": "mario@example.it", "given_name": "Mario"}

// A023–A034: the token's two layers and every claim.
func TestMintAndOpen(t *testing.T) {
	h := newHarness(t, nil)
	aa := h.reg.All(context.Background())[0]
	s, pub := testSigner(t)
	now := time.Now().Truncate(time.Second)
	m, err := attrauth.Mint(s, attrauth.Grant{Issuer: "https://idp.example.it", AA: aa, SID: "saml:_abc",
		ACR: "https://www.spid.gov.it/SpidL2", Actor: "https://sp.example.it", Claims: claims, Lifetime: 90 * time.Second}, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "mario@example.it" || !m.Expires.Equal(now.Add(90*time.Second)) {
		t.Errorf("minted %+v", m)
	}
	o, err := attrauth.Open(m.JWE, h.fed.AA.Enc, pub)
	if err != nil {
		t.Fatal(err)
	}
	eh := o.EncHeader
	if eh.Algorithm != "RSA-OAEP-256" || eh.ExtraHeaders["enc"] != "A256CBC-HS512" || eh.ExtraHeaders[jose.HeaderType] != "aa-grant+jwt" ||
		eh.KeyID != h.fed.AA.EncKID || eh.ExtraHeaders[jose.HeaderContentType] != "JWT" {
		t.Errorf("JWE header %+v", eh)
	}
	sh := o.SigHeader
	if sh.Algorithm != "RS256" || sh.KeyID != s.KID || sh.ExtraHeaders[jose.HeaderType] != "aa-grant+jwt" {
		t.Errorf("JWS header %+v", sh)
	}
	c := o.Claims
	want := map[string]any{"iss": "https://idp.example.it", "aud": aa.ID, "sid": "saml:_abc", "acr": "https://www.spid.gov.it/SpidL2",
		"sub": "mario@example.it", "iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Unix() + 90),
		"https://attributes.eid.gov.it/fiscal_number": "TINIT-RSSMRA80A01H501U", "email": "mario@example.it"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if act, _ := c["act"].(map[string]any); act["sub"] != "https://sp.example.it" {
		t.Errorf("act = %v", c["act"])
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c["jti"].(string)) {
		t.Errorf("jti %v is not a uuid4", c["jti"])
	}
	if _, ok := c["given_name"]; ok {
		t.Error("a claim the AA does not require is in the token")
	}
	// Another AA key cannot open it; another issuer key cannot verify it.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := attrauth.Open(m.JWE, other, pub); err == nil {
		t.Error("opened with a key that is not the AA's")
	}
	if _, err := attrauth.Open(m.JWE, h.fed.AA.Enc, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &other.PublicKey, KeyID: s.KID}}}); err == nil {
		t.Error("verified with a key that is not the issuer's")
	}
}

func TestMintRefusesAUserWithoutTheAttributes(t *testing.T) {
	h := newHarness(t, nil)
	aa := h.reg.All(context.Background())[0]
	s, _ := testSigner(t)
	_, err := attrauth.Mint(s, attrauth.Grant{Issuer: "i", AA: aa, SID: "saml:_x", ACR: "a", Actor: "sp",
		Claims: map[string]any{"email": "a@b.it"}}, time.Now())
	if !errors.Is(err, attrauth.ErrMissingAttribute) {
		t.Errorf("err = %v, want ErrMissingAttribute", err)
	}
	if got := attrauth.Missing(aa, map[string]any{"email": "a@b.it"}); len(got) != 1 || got[0] != "https://attributes.eid.gov.it/fiscal_number" {
		t.Errorf("Missing = %v", got)
	}
}

// A038–A040: a grant is active for the party that received it until it
// expires or that party revokes it.
func TestGrantsActiveAndRevoked(t *testing.T) {
	now := time.Now()
	eph := memory.New(memory.WithClock(func() time.Time { return now }))
	defer eph.Close()
	g := &attrauth.Grants{Eph: eph, Now: func() time.Time { return now }}
	ctx := context.Background()
	m := attrauth.Minted{JWE: "a.b.c.d.e", JTI: "j", Subject: "s", IssuedAt: now, Expires: now.Add(time.Minute)}
	if err := g.Save(ctx, "iss", attrauth.AA{ID: "aa"}, "rp", m); err != nil {
		t.Fatal(err)
	}
	if rec, ok, err := g.Active(ctx, m.JWE, "rp"); err != nil || !ok || rec.AA != "aa" || rec.Subject != "s" {
		t.Fatalf("Active = %+v %v %v", rec, ok, err)
	}
	if _, ok, _ := g.Active(ctx, m.JWE, "other"); ok {
		t.Error("active for another party")
	}
	if _, ok, _ := g.Active(ctx, "unknown", "rp"); ok {
		t.Error("unknown token active")
	}
	if found, err := g.Revoke(ctx, m.JWE, "other"); err != nil || found {
		t.Errorf("another party revoked it: %v %v", found, err)
	}
	if found, err := g.Revoke(ctx, m.JWE, "rp"); err != nil || !found {
		t.Fatalf("Revoke = %v %v", found, err)
	}
	if _, ok, _ := g.Active(ctx, m.JWE, "rp"); ok {
		t.Error("revoked token still active")
	}
	m2 := m
	m2.JWE = "f.g.h.i.j"
	_ = g.Save(ctx, "iss", attrauth.AA{ID: "aa"}, "rp", m2)
	now = now.Add(2 * time.Minute)
	if _, ok, _ := g.Active(ctx, m2.JWE, "rp"); ok {
		t.Error("expired token still active")
	}
}

// A017: the choice page's policy adds exactly the HTTPS origins of the
// logos to img-src; http logos (the demo's own origin) add nothing, and a
// crafted logo URL cannot smuggle a directive in.
func TestAllowLogos(t *testing.T) {
	h := http.Header{}
	attrauth.AllowLogos(h, []templates.AAOption{{Logo: "https://aa.example.it/logo.svg"}, {Logo: "https://aa.example.it/other.svg"},
		{Logo: "https://cdn.example.org:8443/x.svg"}, {Logo: "http://127.0.0.1:8080/demo-aa/logo.svg"}, {Logo: "https://x;script-src *"}})
	got := h.Get(csp.Header)
	if !strings.Contains(got, "img-src 'self' data: https://aa.example.it https://cdn.example.org:8443;") {
		t.Errorf("policy %q", got)
	}
	if strings.Contains(got, "127.0.0.1") || strings.Contains(got, "script-src *") {
		t.Errorf("policy %q admits more than the HTTPS logo origins", got)
	}
	h = http.Header{}
	attrauth.AllowLogos(h, []templates.AAOption{{Logo: "http://127.0.0.1:8080/demo-aa/logo.svg"}})
	if h.Get(csp.Header) != "" {
		t.Errorf("policy set for a same-origin logo: %q", h.Get(csp.Header))
	}
}
