package federation_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
)

func signer(t *testing.T, name string) federation.Signer {
	t.Helper()
	k, err := (&fedtest.KeySource{Dir: "../internal/fedtest/testdata"}).Key(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := federation.NewSigner(k, jose.RS256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestF029_IgnoredClaimsDoNotFail(t *testing.T) {
	s := signer(t, "ta")
	now := time.Now()
	claims := map[string]any{
		"iss": "https://ta.example.it", "sub": "https://ta.example.it", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jwks": federation.PublicSet(s.Public()), "crit": []string{"unknown_claim"}, "aud": "https://someone.example.it",
		"naming_constraints": map[string]any{"permitted": []string{".example.it"}}, "policy_language_crit": []string{"regexp"},
		"trust_anchor_id": "https://other.example.it", "unknown_claim": 1,
	}
	jws, err := s.Sign(federation.TypeEntityStatement, claims)
	if err != nil {
		t.Fatal(err)
	}
	st, err := federation.ParseStatement(jws, nil, now)
	if err != nil {
		t.Fatalf("F029: statement with ignored claims refused: %v", err)
	}
	if st.Subject != "https://ta.example.it" {
		t.Fatalf("sub %q", st.Subject)
	}
}

func TestParseStatementRules(t *testing.T) {
	s := signer(t, "ta")
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iss": "https://a.example.it", "sub": "https://a.example.it", "iat": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "jwks": federation.PublicSet(s.Public())}
	}
	cases := []struct {
		name   string
		typ    string
		change func(m map[string]any)
	}{
		{"wrong typ", "JWT", func(map[string]any) {}},
		{"expired", federation.TypeEntityStatement, func(m map[string]any) { m["exp"] = now.Add(-time.Second).Unix() }},
		{"iat in the future", federation.TypeEntityStatement, func(m map[string]any) { m["iat"] = now.Add(2 * time.Minute).Unix() }},
		{"no jwks", federation.TypeEntityStatement, func(m map[string]any) { delete(m, "jwks") }},
		{"no sub", federation.TypeEntityStatement, func(m map[string]any) { delete(m, "sub") }},
		{"signed by a key it does not list", federation.TypeEntityStatement, func(m map[string]any) {
			m["jwks"] = federation.PublicSet(signer(t, "other").Public())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.change(m)
			jws, err := s.Sign(tc.typ, m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := federation.ParseStatement(jws, nil, now); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	jws, _ := s.Sign(federation.TypeEntityStatement, good())
	if _, err := federation.ParseStatement(jws, nil, now); err != nil {
		t.Fatalf("good statement refused: %v", err)
	}
}

func TestF013_WeakAlgorithmsRefused(t *testing.T) {
	s := signer(t, "ta")
	// HS256 with the RSA public key's bytes as secret: the classic
	// confusion attack; and alg none.
	for _, tok := range []string{
		"eyJhbGciOiJub25lIiwidHlwIjoiZW50aXR5LXN0YXRlbWVudCtqd3QifQ.eyJpc3MiOiJ4In0.",
		hs256(t, []byte("a secret long enough for HMAC-SHA256!")),
	} {
		if _, err := federation.Verify(tok, federation.PublicSet(s.Public())); err == nil {
			t.Fatalf("accepted %s", tok[:20])
		}
	}
}

func hs256(t *testing.T, key []byte) string {
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := sg.Sign([]byte(`{"iss":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := o.CompactSerialize()
	return c
}

func TestF001_F002_F003_ConfigurationServed(t *testing.T) {
	s := signer(t, "op-fed")
	e := &federation.Entity{ID: "https://idp.example.it/oidc/op", Keys: []federation.Signer{s},
		AuthorityHints: []string{"https://registry.spid.gov.it"}}
	rec := httptest.NewRecorder()
	e.ServeConfiguration(rec, httptest.NewRequest(http.MethodGet, federation.WellKnownPath, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != federation.ContentTypeEntityStatement {
		t.Fatalf("F001: status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	h, err := federation.Header(body)
	if err != nil {
		t.Fatal(err)
	}
	if h.Algorithm != "RS256" || h.KeyID != s.KID || h.ExtraHeaders[jose.HeaderType] != federation.TypeEntityStatement {
		t.Fatalf("F002: header %+v", h)
	}
	now := time.Now()
	st, err := federation.ParseStatement(body, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Issuer != e.ID || st.Subject != e.ID || st.IssuedAt > now.Unix() || st.Expires <= now.Unix() {
		t.Fatalf("F003: iss %s sub %s iat %d exp %d", st.Issuer, st.Subject, st.IssuedAt, st.Expires)
	}
	if !slices.Equal(st.AuthorityHints, e.AuthorityHints) {
		t.Fatalf("F006: authority_hints %v", st.AuthorityHints)
	}
	var raw map[string]any
	p, _ := federation.UnverifiedPayload(body)
	_ = json.Unmarshal(p, &raw)
	if _, ok := raw["iat"].(float64); !ok || strings.Contains(string(p), `"iat":"`) {
		t.Fatal("F003: iat not a number")
	}
}

func TestF034_TestAnchorEndpoints(t *testing.T) {
	ks := &fedtest.KeySource{Dir: "../internal/fedtest/testdata"}
	fed, err := fedtest.New(fedtest.Options{Base: "http://fed.test", Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	mux := fed.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get("/demo-ta/fetch"); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"invalid_request"`) {
		t.Fatalf("fetch without sub: %d %s", rec.Code, rec.Body)
	}
	if rec := get("/demo-ta/fetch?sub=http://fed.test/unknown"); rec.Code != 404 || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Fatalf("fetch of an unknown sub: %d %s", rec.Code, rec.Body)
	}
	if rec := get("/demo-ta/fetch?sub=" + fed.RP1.ID); rec.Code != 200 || rec.Header().Get("Content-Type") != federation.ContentTypeEntityStatement {
		t.Fatalf("fetch of RP1: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var list []string
	if rec := get("/demo-ta/list?entity_type=openid_relying_party"); json.Unmarshal(rec.Body.Bytes(), &list) != nil || !slices.Equal(list, []string{fed.RP1.ID}) {
		t.Fatalf("list: %v", list)
	}
	status := func(sub string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/demo-ta/trust_mark_status",
			strings.NewReader("id="+fed.TA.ID+fedtest.MarkRPPublic+"&sub="+sub))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		mux.ServeHTTP(rec, req)
		return strings.TrimSpace(rec.Body.String())
	}
	if got := status(fed.RP1.ID); got != `{"active":true}` {
		t.Fatalf("status of RP1's mark: %s", got)
	}
	fed.TA.RevokeMark(fed.TA.ID+fedtest.MarkRPPublic, fed.RP1.ID)
	if got := status(fed.RP1.ID); got != `{"active":false}` {
		t.Fatalf("status of a revoked mark: %s", got)
	}
	if rec := get("/demo-ta/.well-known/openid-federation-historical-jwks"); rec.Code != 200 {
		t.Fatalf("historical keys: %d", rec.Code)
	}
}
