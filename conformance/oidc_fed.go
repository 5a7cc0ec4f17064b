package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The simulator's side of the SPID OIDC federation (spec oidc-federation.md
// §1, §2): a trust anchor of its own and relying parties below it (or below
// an authority the OP trusts, through OIDCOptions.Register), each publishing
// a signed entity configuration. It is written with go-jose alone, not with
// this project's federation package, so that it judges the OP rather than
// sharing its reading of the rules.

const (
	mediaEntityStatement = "application/entity-statement+jwt"
	typEntityStatement   = "entity-statement+jwt"
	typTrustMark         = "trust-mark+jwt"
	wellKnownFederation  = "/.well-known/openid-federation"
	// markRPPublic is the RP trust mark id after the anchor's id (spec §0).
	markRPPublic = "/openid_relying_party/public/"
	markOP       = "/openid_provider/private/"
)

// TrustMark is a trust mark as an entity configuration lists it.
type TrustMark struct {
	ID        string `json:"id"`
	TrustMark string `json:"trust_mark"`
}

// RPRegistration is what an authority needs to accept a simulated relying
// party as its subordinate: its federation keys (for the subordinate
// statement) and its core keys (which a SPID anchor pins by policy).
type RPRegistration struct {
	EntityID       string
	FederationJWKS jose.JSONWebKeySet
	CoreJWKS       jose.JSONWebKeySet
}

// RPEnrolment is the answer of the authority: the superior to name in
// authority_hints and the trust marks to publish.
type RPEnrolment struct {
	AuthorityHint string
	TrustMarks    []TrustMark
}

// fedKey is an RSA key with its RFC 7638 thumbprint.
type fedKey struct {
	priv *rsa.PrivateKey
	kid  string
}

func (k fedKey) public(use string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Use: use, Algorithm: string(jose.RS256)}
}

// sign makes a compact JWS with typ (empty: none) over claims.
func (k fedKey) sign(typ string, claims any) (string, error) {
	opts := (&jose.SignerOptions{}).WithHeader("kid", k.kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.priv}, opts)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// keyStore hands out named RSA keys: generated, or kept in dir between runs.
type keyStore struct {
	dir  string
	bits int
	mu   sync.Mutex
}

func (ks *keyStore) key(name string) (fedKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var priv *rsa.PrivateKey
	path := ""
	if ks.dir != "" {
		path = filepath.Join(ks.dir, "oidc-"+name+".key")
		if b, err := os.ReadFile(path); err == nil {
			blk, _ := pem.Decode(b)
			if blk == nil {
				return fedKey{}, fmt.Errorf("%s is not PEM", path)
			}
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return fedKey{}, fmt.Errorf("%s: %w", path, err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return fedKey{}, fmt.Errorf("%s is not an RSA key", path)
			}
			priv = rk
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fedKey{}, err
		}
	}
	if priv == nil {
		var err error
		if priv, err = rsa.GenerateKey(rand.Reader, ks.bits); err != nil {
			return fedKey{}, err
		}
		if path != "" {
			der, _ := x509.MarshalPKCS8PrivateKey(priv)
			if err := os.MkdirAll(ks.dir, 0o700); err != nil {
				return fedKey{}, err
			}
			if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return fedKey{}, err
			}
		}
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return fedKey{}, err
	}
	return fedKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// simRP is a simulated relying party.
type simRP struct {
	ID          string
	Name        string
	RedirectURI string
	fed         fedKey // signs the entity configuration
	sig         fedKey // signs request objects and client assertions
	enc         fedKey // decrypts userinfo
	hints       []string
	marks       []TrustMark
	// extra claims merged into openid_relying_party (nil deletes).
	extra map[string]any
}

func (rp *simRP) coreJWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{rp.sig.public("sig"), rp.enc.public("enc")}}
}

func (rp *simRP) fedJWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{rp.fed.public("sig")}}
}

// entityConfiguration is the RP's signed entity configuration (spec §2.6).
func (rp *simRP) entityConfiguration() (string, error) {
	now := time.Now()
	md := map[string]any{
		"client_id":                       rp.ID,
		"client_registration_types":       []string{"automatic"},
		"client_name":                     rp.Name,
		"redirect_uris":                   []string{rp.RedirectURI},
		"response_types":                  []string{"code"},
		"grant_types":                     []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method":      "private_key_jwt",
		"id_token_signed_response_alg":    "RS256",
		"userinfo_signed_response_alg":    "RS256",
		"userinfo_encrypted_response_alg": "RSA-OAEP",
		"userinfo_encrypted_response_enc": "A256CBC-HS512",
		"jwks":                            rp.coreJWKS(),
		"contacts":                        []string{"conformance@example.invalid"},
	}
	for k, v := range rp.extra {
		if v == nil {
			delete(md, k)
		} else {
			md[k] = v
		}
	}
	claims := map[string]any{
		"iss": rp.ID, "sub": rp.ID, "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"jwks": rp.fedJWKS(), "authority_hints": rp.hints,
		"metadata": map[string]any{
			"federation_entity":    map[string]any{"organization_name": rp.Name, "homepage_uri": rp.ID, "contacts": []string{"conformance@example.invalid"}},
			"openid_relying_party": md,
		},
	}
	if len(rp.marks) > 0 {
		claims["trust_marks"] = rp.marks
	}
	return rp.fed.sign(typEntityStatement, claims)
}

// simTA is the simulator's own trust anchor: it publishes statements about
// the simulated RPs and counts the fetches it receives, so that a case can
// tell whether the OP climbed a chain it should not have (F016).
type simTA struct {
	ID   string
	key  fedKey
	mu   sync.Mutex
	subs map[string]*simRP
	hits map[string]int // sub → fetches
}

func (ta *simTA) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ta.key.public("sig")}}
}

func (ta *simTA) add(rp *simRP) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.subs[rp.ID] = rp
}

func (ta *simTA) fetches(sub string) int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return ta.hits[sub]
}

// mark issues the RP trust mark of this anchor for sub.
func (ta *simTA) mark(sub string) (TrustMark, error) {
	now := time.Now()
	id := ta.ID + markRPPublic
	jws, err := ta.key.sign(typTrustMark, map[string]any{"iss": ta.ID, "sub": sub, "id": id, "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()})
	return TrustMark{ID: id, TrustMark: jws}, err
}

func (ta *simTA) entityConfiguration() (string, error) {
	now := time.Now()
	return ta.key.sign(typEntityStatement, map[string]any{
		"iss": ta.ID, "sub": ta.ID, "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(), "jwks": ta.jwks(),
		"trust_mark_issuers": map[string][]string{ta.ID + markRPPublic: {ta.ID}},
		"constraints":        map[string]any{"max_path_length": 1},
		"metadata": map[string]any{"federation_entity": map[string]any{
			"organization_name": "SPID conformance trust anchor", "homepage_uri": ta.ID,
			"federation_fetch_endpoint": ta.ID + "/fetch", "federation_list_endpoint": ta.ID + "/list",
		}},
	})
}

// statement is the subordinate statement about rp, with the SPID metadata
// policy that pins its core keys (spec §2.5).
func (ta *simTA) statement(rp *simRP) (string, error) {
	now := time.Now()
	return ta.key.sign(typEntityStatement, map[string]any{
		"iss": ta.ID, "sub": rp.ID, "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(), "jwks": rp.fedJWKS(),
		"metadata_policy": map[string]any{"openid_relying_party": map[string]any{
			"token_endpoint_auth_method": map[string]any{"one_of": []string{"private_key_jwt"}, "essential": true},
			"jwks":                       map[string]any{"value": rp.coreJWKS()},
		}},
	})
}

// fedServer serves the anchor and the RPs at their paths under base.
type fedServer struct {
	base string
	ta   *simTA
	mu   sync.Mutex
	rps  map[string]*simRP // path → RP
	// callbacks records what reached the redirect URIs (normally nothing:
	// the driver reads redirects instead of following them).
	callbacks int
}

func (s *fedServer) addRP(path string, rp *simRP) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rps[path] = rp
}

func (s *fedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	writeJWT := func(jws string, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", mediaEntityStatement)
		_, _ = w.Write([]byte(jws))
	}
	ta := s.ta
	switch {
	case p == "/ta"+wellKnownFederation:
		writeJWT(ta.entityConfiguration())
		return
	case p == "/ta/fetch":
		sub := r.URL.Query().Get("sub")
		ta.mu.Lock()
		ta.hits[sub]++
		rp := ta.subs[sub]
		ta.mu.Unlock()
		if rp == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not_found","error_description":"unknown subordinate"}`))
			return
		}
		writeJWT(ta.statement(rp))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, rp := range s.rps {
		switch p {
		case path + wellKnownFederation:
			writeJWT(rp.entityConfiguration())
			return
		case path + "/callback":
			s.callbacks++
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("SPID conformance relying party: authorization response received"))
			return
		}
	}
	http.NotFound(w, r)
}

// rpPath is the path of an RP below the simulator's base.
func rpPath(name string) string { return "/rp/" + strings.TrimPrefix(name, "/") }

// assertionNoKID is a client assertion whose header names no key, as the
// conformance tool sends them (O042).
func (rp *simRP) assertionNoKID(aud string) string {
	now := time.Now()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rp.sig.priv}, nil)
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]any{"iss": rp.ID, "sub": rp.ID, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": randomString(32)})
	obj, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}
