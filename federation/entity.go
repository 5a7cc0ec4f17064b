package federation

import (
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DefaultStatementLifetime is how long our statements are valid [DEC 48 h].
const DefaultStatementLifetime = 48 * time.Hour

// Entity publishes a signed entity configuration: ours (the OP) and those
// of the test federation's members.
type Entity struct {
	ID string
	// Keys are the federation keys: all published, the first signs.
	Keys             []Signer
	AuthorityHints   []string
	TrustMarks       []TrustMarkRef
	TrustMarkIssuers map[string][]string
	Constraints      *Constraints
	// Metadata returns the metadata per entity type at signing time.
	Metadata func() map[string]map[string]any
	Lifetime time.Duration
	Now      func() time.Time

	mu     sync.Mutex
	cached string
	exp    time.Time
}

func (e *Entity) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Entity) lifetime() time.Duration {
	if e.Lifetime > 0 {
		return e.Lifetime
	}
	return DefaultStatementLifetime
}

// JWKS is the public federation key set.
func (e *Entity) JWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{}
	for _, k := range e.Keys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set
}

// Configuration signs the entity configuration. It is re-signed once a
// quarter of its lifetime has passed, so a fetched copy is always valid
// for most of its announced time and signing is not done per request.
func (e *Entity) Configuration() (string, error) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cached != "" && now.Before(e.exp.Add(-e.lifetime()*3/4)) {
		return e.cached, nil
	}
	s := Statement{Issuer: e.ID, Subject: e.ID, IssuedAt: now.Unix(), Expires: now.Add(e.lifetime()).Unix(),
		JWKS: e.JWKS(), AuthorityHints: e.AuthorityHints, TrustMarks: e.TrustMarks,
		TrustMarkIssuers: e.TrustMarkIssuers, Constraints: e.Constraints}
	if e.Metadata != nil {
		s.Metadata = e.Metadata()
	}
	jws, err := e.Keys[0].Sign(TypeEntityStatement, s)
	if err != nil {
		return "", err
	}
	e.cached, e.exp = jws, now.Add(e.lifetime())
	return jws, nil
}

// Invalidate makes the next Configuration sign afresh (after a change of
// metadata or keys).
func (e *Entity) Invalidate() {
	e.mu.Lock()
	e.cached = ""
	e.mu.Unlock()
}

// Subordinate signs a statement about sub (what a superior publishes at
// its fetch endpoint).
func (e *Entity) Subordinate(sub string, jwks jose.JSONWebKeySet, policy map[string]map[string]map[string]any, lifetime time.Duration) (string, error) {
	now := e.now()
	if lifetime <= 0 {
		lifetime = e.lifetime()
	}
	s := Statement{Issuer: e.ID, Subject: sub, IssuedAt: now.Unix(), Expires: now.Add(lifetime).Unix(),
		JWKS: jwks, MetadataPolicy: policy}
	return e.Keys[0].Sign(TypeEntityStatement, s)
}

// IssueTrustMark signs a trust mark about sub.
func (e *Entity) IssueTrustMark(id, sub string, lifetime time.Duration) (TrustMarkRef, error) {
	now := e.now()
	claims := map[string]any{"id": id, "iss": e.ID, "sub": sub, "iat": now.Unix()}
	if lifetime != 0 {
		claims["exp"] = now.Add(lifetime).Unix()
	}
	jws, err := e.Keys[0].Sign(TypeTrustMark, claims)
	if err != nil {
		return TrustMarkRef{}, err
	}
	return TrustMarkRef{ID: id, TrustMark: jws}, nil
}

// ServeConfiguration answers GET <id>/.well-known/openid-federation (F001).
func (e *Entity) ServeConfiguration(w http.ResponseWriter, r *http.Request) {
	jws, err := e.Configuration()
	if err != nil {
		WriteError(w, NewError(CodeServerError, "entity configuration cannot be signed", err))
		return
	}
	WriteStatement(w, jws)
}

// WriteStatement sends a signed statement with the exact media type.
func WriteStatement(w http.ResponseWriter, jws string) {
	w.Header().Set("Content-Type", ContentTypeEntityStatement)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(jws))
}
