package federation_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
)

const base = "http://fed.test"

// recorder counts the requests the federation served, by path.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	hits []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hits = append(r.hits, req.URL.Path)
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *recorder) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hits...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.hits = nil
	r.mu.Unlock()
}

type harness struct {
	fed *fedtest.Federation
	ks  *fedtest.KeySource
	mux *http.ServeMux
	rec *recorder
	res *federation.Resolver
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ks := &fedtest.KeySource{Dir: "../internal/fedtest/testdata"}
	fed, err := fedtest.New(fedtest.Options{Base: base, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{fed: fed, ks: ks, mux: fed.Handler(), now: time.Now()}
	h.rec = &recorder{h: h.mux}
	h.res = &federation.Resolver{
		Anchors:    []federation.TrustAnchor{fed.Anchor()},
		Fetcher:    &federation.Fetcher{Local: h.rec, LocalBase: base, AllowHTTP: true, AllowPrivate: true},
		TrustMarks: map[string][]string{federation.TypeRelyingParty: fedtest.RPMarks()},
		Now:        func() time.Time { return h.now },
	}
	return h
}

func (h *harness) resolve(t *testing.T, sub string) (*federation.Chain, *federation.Error) {
	t.Helper()
	c, err := h.res.Resolve(context.Background(), sub, federation.TypeRelyingParty)
	if err == nil {
		return c, nil
	}
	var fe *federation.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *federation.Error", err)
	}
	return nil, fe
}

func wantCode(t *testing.T, fe *federation.Error, code string) {
	t.Helper()
	if fe == nil {
		t.Fatalf("chain resolved, want %s", code)
	}
	t.Logf("%s: %v", code, fe)
	if fe.Code != code {
		t.Fatalf("error %s (%v), want %s", fe.Code, fe, code)
	}
}

func TestF019_ChainToTrustAnchor(t *testing.T) {
	h := newHarness(t)
	c, fe := h.resolve(t, h.fed.RP1.ID)
	if fe != nil {
		t.Fatal(fe)
	}
	if c.Anchor != h.fed.TA.ID || len(c.Statements) != 3 {
		t.Fatalf("anchor %s, %d statements", c.Anchor, len(c.Statements))
	}
	leaf, es, ta := c.Statements[0], c.Statements[1], c.Statements[2]
	if leaf.Issuer != h.fed.RP1.ID || es.Issuer != h.fed.TA.ID || es.Subject != h.fed.RP1.ID || ta.Subject != h.fed.TA.ID {
		t.Fatalf("chain order wrong: %s/%s, %s/%s, %s", leaf.Issuer, leaf.Subject, es.Issuer, es.Subject, ta.Subject)
	}
	if got := c.Serialized(); len(got) != 3 || got[0] != leaf.Raw {
		t.Fatal("serialized chain differs from the statements")
	}
}

func TestF019_LeafSignedByKeyTheSuperiorDoesNotList(t *testing.T) {
	h := newHarness(t)
	other, err := h.ks.Key("other")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := federation.NewSigner(other, jose.RS256)
	// The TA vouches for another key than the one RP1 signs with.
	h.fed.TA.Add(h.fed.RP1.ID, fedtest.Subordinate{Type: federation.TypeRelyingParty,
		JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.Public()}}, Policy: fedtest.RPPolicy(h.fed.RP1.CoreJWKS())})
	_, fe := h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeInvalidClient)
}

func TestF015_TrustAnchorOnlyThroughPinnedKeys(t *testing.T) {
	h := newHarness(t)
	other, _ := h.ks.Key("other")
	s, _ := federation.NewSigner(other, jose.RS256)
	h.res.Anchors = []federation.TrustAnchor{{EntityID: h.fed.TA.ID, JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.Public()}}}}
	_, fe := h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeUnauthorizedClient) // the TA-issued mark cannot verify either
	// With the mark check satisfied by pinning nothing, the chain itself fails.
	h.res.TrustMarks = nil
	_, fe = h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeInvalidClient)
}

func TestF016_NoTrustMarkNoOtherFetch(t *testing.T) {
	h := newHarness(t)
	h.fed.RP1.TrustMarks = nil
	h.fed.RP1.Invalidate()
	_, fe := h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeUnauthorizedClient)
	for _, p := range h.rec.paths() {
		if p != fedtest.PathRP1+federation.WellKnownPath {
			t.Fatalf("fetched %s although the RP holds no trust mark", p)
		}
	}
}

func TestF017_InvalidTrustMarksIgnored(t *testing.T) {
	taID := base + fedtest.PathTA
	cases := []struct {
		name string
		mark func(h *harness) federation.TrustMarkRef
	}{
		{"F017 wrong sub", func(h *harness) federation.TrustMarkRef {
			m, _ := h.fed.TA.IssueTrustMark(taID+fedtest.MarkRPPublic, h.fed.RP2.ID, time.Hour)
			return m
		}},
		{"F017 expired", func(h *harness) federation.TrustMarkRef {
			m, _ := h.fed.TA.IssueTrustMark(taID+fedtest.MarkRPPublic, h.fed.RP1.ID, -time.Minute)
			return m
		}},
		{"F017 bad signature", func(h *harness) federation.TrustMarkRef {
			m, _ := h.fed.TA.IssueTrustMark(taID+fedtest.MarkRPPublic, h.fed.RP1.ID, time.Hour)
			parts := strings.Split(m.TrustMark, ".")
			parts[2] = strings.Repeat("A", len(parts[2]))
			m.TrustMark = strings.Join(parts, ".")
			return m
		}},
		{"F017 issuer not in trust_mark_issuers", func(h *harness) federation.TrustMarkRef {
			k, _ := h.ks.Key("sa2")
			s, _ := federation.NewSigner(k, jose.RS256)
			rogue := fedtest.NewAuthority(base+"/rogue", s, []string{taID})
			m, _ := rogue.IssueTrustMark(taID+fedtest.MarkRPPublic, h.fed.RP1.ID, time.Hour)
			return m
		}},
		{"F017 id not allowed", func(h *harness) federation.TrustMarkRef {
			m, _ := h.fed.TA.IssueTrustMark(taID+"/openid_provider/private/", h.fed.RP1.ID, time.Hour)
			return m
		}},
		{"F017 wrapper id differs from the mark's", func(h *harness) federation.TrustMarkRef {
			m, _ := h.fed.TA.IssueTrustMark(taID+fedtest.MarkRPPrivate, h.fed.RP1.ID, time.Hour)
			m.ID = taID + fedtest.MarkRPPublic
			return m
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fed.RP1.TrustMarks = []federation.TrustMarkRef{tc.mark(h)}
			h.fed.RP1.Invalidate()
			_, fe := h.resolve(t, h.fed.RP1.ID)
			wantCode(t, fe, federation.CodeUnauthorizedClient)
		})
	}
}

func TestF018_MarkIssuedByListedIntermediate(t *testing.T) {
	h := newHarness(t)
	c, fe := h.resolve(t, h.fed.RP2.ID)
	if fe != nil {
		t.Fatal(fe)
	}
	if len(c.Statements) != 4 || c.Statements[1].Issuer != h.fed.SA.ID || c.Statements[2].Subject != h.fed.SA.ID {
		t.Fatalf("chain RP2→SA→TA expected, got %d statements", len(c.Statements))
	}
}

func TestF020_MaxPathLength(t *testing.T) {
	h := newHarness(t)
	k, _ := h.ks.Key("sa2")
	s, _ := federation.NewSigner(k, jose.RS256)
	sa2 := fedtest.NewAuthority(base+"/sa2", s, []string{h.fed.SA.ID})
	h.fed.SA.Add(sa2.ID, fedtest.Subordinate{Type: federation.TypeFederationEntity, JWKS: sa2.JWKS()})
	rp3, err := fedtest.NewRP(h.ks, "rp3", base+"/sa2/rp", "RP3", sa2.ID)
	if err != nil {
		t.Fatal(err)
	}
	sa2.Add(rp3.ID, fedtest.Subordinate{Type: federation.TypeRelyingParty, JWKS: rp3.JWKS(), Policy: fedtest.RPPolicy(rp3.CoreJWKS())})
	m, _ := h.fed.TA.Mark(h.fed.TA.ID+fedtest.MarkRPPublic, rp3.ID, time.Hour)
	rp3.TrustMarks = []federation.TrustMarkRef{m}
	h.mux.Handle("/sa2/rp/", http.StripPrefix("/sa2/rp", rp3.Handler()))
	h.mux.Handle("/sa2/", http.StripPrefix("/sa2", sa2.Handler()))
	_, fe := h.resolve(t, rp3.ID)
	wantCode(t, fe, federation.CodeInvalidClient)
	// The same chain passes when the anchor allows two intermediates.
	two := 2
	h.fed.TA.Constraints = &federation.Constraints{MaxPathLength: &two}
	h.fed.TA.Invalidate()
	h.res = &federation.Resolver{Anchors: h.res.Anchors, Fetcher: h.res.Fetcher, TrustMarks: h.res.TrustMarks}
	if _, fe := h.resolve(t, rp3.ID); fe != nil {
		t.Fatal(fe)
	}
}

func TestF021_AtMostTwoAuthorityHints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hints []string
		ok    bool
	}{
		{"F021 anchor second", []string{base + "/nowhere", base + fedtest.PathTA}, true},
		{"F021 anchor third is ignored", []string{base + "/nowhere", base + "/elsewhere", base + fedtest.PathTA}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fed.RP1.AuthorityHints = tc.hints
			h.fed.RP1.Invalidate()
			_, fe := h.resolve(t, h.fed.RP1.ID)
			if tc.ok && fe != nil {
				t.Fatal(fe)
			}
			if !tc.ok {
				wantCode(t, fe, federation.CodeInvalidClient)
			}
		})
	}
}

func TestF022_PolicyPinsCoreKeys(t *testing.T) {
	h := newHarness(t)
	other, _ := h.ks.Key("other")
	s, _ := federation.NewSigner(other, jose.RS256)
	// The RP declares an extra key of its own: the anchor's value wins.
	own := h.fed.RP1.CoreJWKS()
	own.Keys = append(own.Keys, s.Public())
	h.fed.RP1.Extra = map[string]any{"jwks": own, "id_token_signed_response_alg": nil}
	h.fed.RP1.Invalidate()
	c, fe := h.resolve(t, h.fed.RP1.ID)
	if fe != nil {
		t.Fatal(fe)
	}
	keys, _ := c.Metadata["jwks"].(map[string]any)["keys"].([]any)
	if len(keys) != 2 {
		t.Fatalf("final jwks has %d keys, want the 2 the anchor pinned", len(keys))
	}
	if c.Metadata["id_token_signed_response_alg"] != "RS256" {
		t.Fatalf("default not applied: %v", c.Metadata["id_token_signed_response_alg"])
	}
}

func TestF022_PolicyViolationFailsChain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]any
	}{
		{"F022 token_endpoint_auth_method not private_key_jwt", map[string]any{"token_endpoint_auth_method": "client_secret_basic"}},
		{"F022 redirect_uris missing", map[string]any{"redirect_uris": nil}},
		{"F022 grant_types without authorization_code", map[string]any{"grant_types": []any{"refresh_token"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fed.RP1.Extra = tc.extra
			h.fed.RP1.Invalidate()
			_, fe := h.resolve(t, h.fed.RP1.ID)
			wantCode(t, fe, federation.CodeUnauthorizedClient)
		})
	}
}

func TestF025_CachedUntilEarliestExpiry(t *testing.T) {
	h := newHarness(t)
	h.fed.TA.StatementLifetime = time.Hour
	c, fe := h.resolve(t, h.fed.RP1.ID)
	if fe != nil {
		t.Fatal(fe)
	}
	if d := c.Expires.Sub(h.now); d > time.Hour+time.Second || d < time.Hour-time.Minute {
		t.Fatalf("chain expires in %v, want the subordinate statement's hour", d)
	}
	h.rec.reset()
	if _, fe := h.resolve(t, h.fed.RP1.ID); fe != nil {
		t.Fatal(fe)
	}
	if n := len(h.rec.paths()); n != 0 {
		t.Fatalf("cached chain fetched %d documents", n)
	}
	if _, ok := h.res.Cached(h.fed.RP1.ID, federation.TypeRelyingParty); !ok {
		t.Fatal("chain not cached")
	}
	h.now = h.now.Add(time.Hour + time.Second)
	h.fed.TA.Now = func() time.Time { return h.now }
	h.fed.RP1.Now = h.fed.TA.Now
	h.fed.RP1.Invalidate()
	h.fed.TA.Invalidate()
	if _, ok := h.res.Cached(h.fed.RP1.ID, federation.TypeRelyingParty); ok {
		t.Fatal("expired chain still cached")
	}
	if _, fe := h.resolve(t, h.fed.RP1.ID); fe != nil {
		t.Fatal(fe)
	}
	if n := len(h.rec.paths()); n == 0 {
		t.Fatal("expired chain not resolved again")
	}
}

func TestF026_ForcedRefreshAtMostEveryFiveMinutes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, ok, err := h.res.Refresh(ctx, h.fed.RP1.ID, federation.TypeRelyingParty); !ok || err != nil {
		t.Fatalf("first refresh: ok %v, err %v", ok, err)
	}
	if _, ok, _ := h.res.Refresh(ctx, h.fed.RP1.ID, federation.TypeRelyingParty); ok {
		t.Fatal("second refresh within five minutes ran")
	}
	h.now = h.now.Add(5*time.Minute + time.Second)
	if _, ok, _ := h.res.Refresh(ctx, h.fed.RP1.ID, federation.TypeRelyingParty); !ok {
		t.Fatal("refresh after five minutes held back")
	}
}

func TestF035_ExpiredSubordinateStatement(t *testing.T) {
	h := newHarness(t)
	past := h.now.Add(-2 * time.Hour)
	h.fed.TA.Now = func() time.Time { return past }
	h.fed.TA.StatementLifetime = time.Hour
	_, fe := h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeInvalidClient)
}

func TestF035_UnreachableEntities(t *testing.T) {
	h := newHarness(t)
	_, fe := h.resolve(t, base+"/no-such-rp")
	wantCode(t, fe, federation.CodeInvalidClient)
	h.mux.HandleFunc("GET /down/.well-known/openid-federation", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	_, fe = h.resolve(t, base+"/down")
	wantCode(t, fe, federation.CodeTemporarilyUnavailable)
	h.fed.RP1.AuthorityHints = []string{base + "/no-such-authority"}
	h.fed.RP1.Invalidate()
	_, fe = h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeInvalidClient)
}

func TestF035_BadSubordinateSignature(t *testing.T) {
	h := newHarness(t)
	other, _ := h.ks.Key("other")
	s, _ := federation.NewSigner(other, jose.RS256)
	// A TA statement signed by a key the TA does not publish.
	h.mux.HandleFunc("GET /bad-ta/fetch", func(w http.ResponseWriter, r *http.Request) {
		jws, _ := (&federation.Entity{ID: h.fed.TA.ID, Keys: []federation.Signer{s}}).Subordinate(h.fed.RP1.ID, h.fed.RP1.JWKS(), nil, time.Hour)
		federation.WriteStatement(w, jws)
	})
	h.fed.TA.Entity.Metadata = func() map[string]map[string]any {
		return map[string]map[string]any{federation.TypeFederationEntity: {"federation_fetch_endpoint": base + "/bad-ta/fetch"}}
	}
	_, fe := h.resolve(t, h.fed.RP1.ID)
	wantCode(t, fe, federation.CodeInvalidClient)
}

func TestF030_RevokedMarkFailsAtRefresh(t *testing.T) {
	for _, rp := range []string{"F030 anchor mark", "F030 intermediate mark"} {
		t.Run(rp, func(t *testing.T) {
			h := newHarness(t)
			h.res.CheckStatus = true
			sub, issuer := h.fed.RP1.ID, h.fed.TA
			if rp == "F030 intermediate mark" {
				sub, issuer = h.fed.RP2.ID, h.fed.SA
			}
			if _, fe := h.resolve(t, sub); fe != nil {
				t.Fatal(fe)
			}
			issuer.RevokeMark(h.fed.TA.ID+fedtest.MarkRPPublic, sub)
			if _, _, err := h.res.Refresh(context.Background(), sub, federation.TypeRelyingParty); err == nil {
				t.Fatal("chain with a revoked mark refreshed")
			}
			if _, ok := h.res.Cached(sub, federation.TypeRelyingParty); ok {
				t.Fatal("the chain that failed to refresh is still cached")
			}
		})
	}
}

func TestF027_SubjectNotAnEntityID(t *testing.T) {
	h := newHarness(t)
	for _, sub := range []string{"x", "ftp://fed.test/rp", "http://fed.test/rp#frag"} {
		_, fe := h.resolve(t, sub)
		wantCode(t, fe, federation.CodeInvalidClient)
	}
	if n := len(h.rec.paths()); n != 0 {
		t.Fatalf("%d fetches for subjects that are not entity ids", n)
	}
}
