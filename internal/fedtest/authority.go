// Package fedtest is the offline test federation of spec §11: a trust
// anchor, an intermediate (SA) and relying parties, served in process so
// that tests and demo mode never need the internet. The demo mounts it on
// the IdP's own listener; tests run it through federation.Fetcher.Local.
package fedtest

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// Authority is a trust anchor or an intermediate: it publishes its entity
// configuration and statements about its subordinates, lists them and
// answers trust mark status queries.
type Authority struct {
	*federation.Entity

	mu    sync.Mutex
	subs  map[string]Subordinate
	marks map[string]bool // id + " " + sub → active
	// StatementLifetime of the subordinate statements (0: the entity's).
	StatementLifetime time.Duration
}

// Subordinate is what an authority knows about an entity below it.
type Subordinate struct {
	Type   string // entity type, for the list endpoint
	JWKS   jose.JSONWebKeySet
	Policy map[string]map[string]map[string]any
}

// NewAuthority makes an authority; hints is empty for a trust anchor.
func NewAuthority(id string, key federation.Signer, hints []string) *Authority {
	a := &Authority{subs: map[string]Subordinate{}, marks: map[string]bool{}}
	a.Entity = &federation.Entity{ID: id, Keys: []federation.Signer{key}, AuthorityHints: hints}
	a.Entity.Metadata = func() map[string]map[string]any {
		return map[string]map[string]any{federation.TypeFederationEntity: {
			"organization_name":                     "Demo " + id,
			"homepage_uri":                          id,
			"contacts":                              []string{"federation@example.invalid"},
			"federation_fetch_endpoint":             id + "/fetch",
			"federation_list_endpoint":              id + "/list",
			"federation_resolve_endpoint":           id + "/resolve",
			"federation_trust_mark_status_endpoint": id + "/trust_mark_status",
		}}
	}
	return a
}

// Add registers (or replaces) a subordinate.
func (a *Authority) Add(sub string, s Subordinate) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.subs[sub] = s
}

// Mark issues a trust mark and records it as active for the status
// endpoint.
func (a *Authority) Mark(id, sub string, lifetime time.Duration) (federation.TrustMarkRef, error) {
	ref, err := a.IssueTrustMark(id, sub, lifetime)
	if err == nil {
		a.mu.Lock()
		a.marks[id+" "+sub] = true
		a.mu.Unlock()
	}
	return ref, err
}

// RevokeMark makes the status endpoint answer active:false.
func (a *Authority) RevokeMark(id, sub string) {
	a.mu.Lock()
	a.marks[id+" "+sub] = false
	a.mu.Unlock()
}

// Handler serves the authority's endpoints at paths relative to its id.
func (a *Authority) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+federation.WellKnownPath, a.ServeConfiguration)
	mux.HandleFunc("GET /fetch", a.fetch)
	mux.HandleFunc("GET /list", a.list)
	mux.HandleFunc("POST /trust_mark_status", a.status)
	mux.HandleFunc("GET /.well-known/openid-federation-historical-jwks", a.historical)
	return mux
}

func (a *Authority) fetch(w http.ResponseWriter, r *http.Request) {
	sub := r.URL.Query().Get("sub")
	if sub == "" {
		federation.WriteError(w, federation.NewError(federation.CodeInvalidRequest, "sub is required", nil))
		return
	}
	a.mu.Lock()
	s, ok := a.subs[sub]
	a.mu.Unlock()
	if !ok {
		federation.WriteError(w, federation.NewError(federation.CodeNotFound, "unknown subordinate", nil))
		return
	}
	jws, err := a.Subordinate(sub, s.JWKS, s.Policy, a.StatementLifetime)
	if err != nil {
		federation.WriteError(w, federation.NewError(federation.CodeServerError, "statement cannot be signed", err))
		return
	}
	federation.WriteStatement(w, jws)
}

func (a *Authority) list(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("entity_type")
	a.mu.Lock()
	out := []string{}
	for id, s := range a.subs {
		if typ == "" || s.Type == typ {
			out = append(out, id)
		}
	}
	a.mu.Unlock()
	sort.Strings(out)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (a *Authority) status(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("id") == "" || r.PostForm.Get("sub") == "" {
		federation.WriteError(w, federation.NewError(federation.CodeInvalidRequest, "id and sub are required", nil))
		return
	}
	a.mu.Lock()
	active := a.marks[r.PostForm.Get("id")+" "+r.PostForm.Get("sub")]
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]bool{"active": active})
}

// historical lists keys no longer in use; the test federation never
// retires one, so the list is empty but signed like the real one.
func (a *Authority) historical(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	jws, err := a.Keys[0].Sign("jwk-set+jwt", map[string]any{"iss": a.ID, "iat": now.Unix(), "keys": []any{}})
	if err != nil {
		federation.WriteError(w, federation.NewError(federation.CodeServerError, "cannot sign", err))
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+jwt")
	_, _ = w.Write([]byte(jws))
}

// RPPolicy is the trust anchor's metadata policy for relying parties,
// after the example of TR-ex EN7: SPID's algorithms and methods, and the
// RP's core keys pinned with value.
func RPPolicy(core jose.JSONWebKeySet) map[string]map[string]map[string]any {
	jwks, _ := json.Marshal(core)
	var pinned any
	_ = json.Unmarshal(jwks, &pinned)
	return map[string]map[string]map[string]any{federation.TypeRelyingParty: {
		"grant_types":                     {"subset_of": []any{"authorization_code", "refresh_token"}, "superset_of": []any{"authorization_code"}},
		"token_endpoint_auth_method":      {"one_of": []any{"private_key_jwt"}, "essential": true},
		"client_registration_types":       {"subset_of": []any{"automatic"}, "essential": true},
		"id_token_signed_response_alg":    {"one_of": []any{"RS256", "RS512"}, "default": "RS256"},
		"userinfo_signed_response_alg":    {"one_of": []any{"RS256", "RS512"}, "default": "RS256"},
		"userinfo_encrypted_response_alg": {"one_of": []any{"RSA-OAEP", "RSA-OAEP-256"}, "default": "RSA-OAEP"},
		"userinfo_encrypted_response_enc": {"one_of": []any{"A128CBC-HS256", "A256CBC-HS512"}, "default": "A256CBC-HS512"},
		"redirect_uris":                   {"essential": true},
		"jwks":                            {"value": pinned},
	}}
}
