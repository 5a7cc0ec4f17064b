package app

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
)

// TestOIDCKeyWatch: the OP's signing keys are checked against the trust
// anchor's statement about it (spec §2.8): a federation key the statement
// lacks, a core key missing from the openid_provider.jwks it pins, and an
// anchor that says nothing about us are each reported; keys it carries,
// or core keys it does not pin, are not.
func TestOIDCKeyWatch(t *testing.T) {
	signer := func() federation.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		s, err := federation.NewSigner(k, jose.RS256)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fed, fedNext, core, coreNext := signer(), signer(), signer(), signer()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL + "/op"
	f, err := fedtest.New(fedtest.Options{Base: srv.URL, Keys: &fedtest.KeySource{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	f.Mount(mux)
	about := func(fedKeys []federation.Signer, pinned []federation.Signer) {
		var js jose.JSONWebKeySet
		for _, s := range fedKeys {
			js.Keys = append(js.Keys, s.Public())
		}
		var policy map[string]map[string]map[string]any
		if pinned != nil {
			var cs jose.JSONWebKeySet
			for _, s := range pinned {
				cs.Keys = append(cs.Keys, s.Public())
			}
			b, _ := json.Marshal(cs)
			var v any
			_ = json.Unmarshal(b, &v)
			policy = map[string]map[string]map[string]any{federation.TypeOpenIDProvider: {"jwks": {"value": v}}}
		}
		f.TA.Add(issuer, fedtest.Subordinate{Type: federation.TypeOpenIDProvider, JWKS: js, Policy: policy})
	}
	w := oidcKeyWatch{Anchors: []federation.TrustAnchor{f.Anchor()}, Issuer: issuer, FedKID: fed.KID, CoreKID: core.KID,
		Fetcher: &federation.Fetcher{AllowHTTP: true, AllowPrivate: true}}
	for _, tc := range []struct {
		name   string
		set    func()
		signFn func(*oidcKeyWatch)
		want   []string // parts of the problems, in order; none: no problem
	}{
		{"nothing about us", func() {}, nil, []string{"no statement about " + issuer}},
		{"carried, core not pinned", func() { about([]federation.Signer{fed, fedNext}, nil) }, nil, nil},
		{"carried and pinned", func() { about([]federation.Signer{fed}, []federation.Signer{core, coreNext}) }, nil, nil},
		{"next core key signs too early", func() { about([]federation.Signer{fed}, []federation.Signer{core}) },
			func(w *oidcKeyWatch) { w.CoreKID = coreNext.KID }, []string{"without the core key " + coreNext.KID}},
		{"next federation key signs too early", func() { about([]federation.Signer{fed}, nil) },
			func(w *oidcKeyWatch) { w.FedKID = fedNext.KID }, []string{"does not carry the federation key " + fedNext.KID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.set()
			w := w
			if tc.signFn != nil {
				tc.signFn(&w)
			}
			got := w.problems(t.Context())
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d", got, len(tc.want))
			}
			for i, p := range tc.want {
				if !strings.Contains(got[i], p) {
					t.Errorf("problem %q lacks %q", got[i], p)
				}
			}
		})
	}
}
