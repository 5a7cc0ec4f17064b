package fedtest

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/federation"
)

// PathAA is the test Attribute Authority (spec §11).
const PathAA = "/demo-aa"

// MarkAA is the AA trust mark id suffix the test anchor issues.
const MarkAA = "/oauth_resource/public/"

// AA is the test federation's Attribute Authority: an oauth_resource
// entity with signing and encryption keys, an OpenAPI document naming the
// attributes it needs (x-spid), and a token-exchange endpoint that opens a
// grant token and answers with the attributes it certifies.
type AA struct {
	*federation.Entity
	Name string
	// NameEN, when set, is published as organization_name#en.
	NameEN string
	Sig    federation.Signer
	Enc    *rsa.PrivateKey
	// EncKID names Enc.
	EncKID string
	// Required and Lookup go to the OpenAPI x-spid block.
	Required []string
	Lookup   string
	// NoEncKey drops the encryption key from the metadata (a defect).
	NoEncKey bool
	// Issuers gives the keys grant tokens of an issuer verify with (the
	// IdP's SAML certificate, the OP's core keys); nil refuses every token.
	Issuers func(iss string) (jose.JSONWebKeySet, bool)
}

// DemoAARequired are the claims the test AA needs (spec §11).
var DemoAARequired = []string{"https://attributes.eid.gov.it/fiscal_number", "email"}

// NewAA makes an AA whose keys are name-fed, name-sig and name-enc of ks.
func NewAA(ks *KeySource, name, id, display, superior string) (*AA, error) {
	k, err := ks.member(name)
	if err != nil {
		return nil, err
	}
	aa := &AA{Name: display, Sig: k.sig, Enc: k.enc, EncKID: k.encKID, Required: DemoAARequired, Lookup: "email"}
	aa.Entity = &federation.Entity{ID: id, Keys: []federation.Signer{k.fed}, AuthorityHints: []string{superior}}
	aa.Entity.Metadata = aa.metadata
	return aa, nil
}

// CoreJWKS are the AA's signing and (unless NoEncKey) encryption keys.
func (aa *AA) CoreJWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{aa.Sig.Public()}}
	if !aa.NoEncKey {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &aa.Enc.PublicKey, KeyID: aa.EncKID, Use: "enc", Algorithm: string(jose.RSA_OAEP_256)})
	}
	return set
}

func (aa *AA) metadata() map[string]map[string]any {
	fe := map[string]any{"organization_name": aa.Name, "homepage_uri": aa.ID,
		"logo_uri": aa.ID + "/logo.svg", "contacts": []any{"aa@example.invalid"}}
	if aa.NameEN != "" {
		fe["organization_name#en"] = aa.NameEN
	}
	return map[string]map[string]any{
		federation.TypeFederationEntity: fe,
		federation.TypeOAuthResource: {"resource": aa.ID, "service_documentation": aa.ID + "/openapi",
			"logo_uri": aa.ID + "/logo.svg"},
		"oauth_authorization_server": {"issuer": aa.ID, "token_endpoint": aa.ID + "/token", "jwks": aa.CoreJWKS(),
			"grant_types_supported": []any{"urn:ietf:params:oauth:grant-type:token-exchange"}},
	}
}

// Handler serves the AA's configuration, OpenAPI document, logo and
// token endpoint.
func (aa *AA) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+federation.WellKnownPath, aa.ServeConfiguration)
	mux.HandleFunc("GET /openapi", aa.openapi)
	mux.HandleFunc("GET /logo.svg", aa.logo)
	mux.HandleFunc("POST /token", aa.token)
	return mux
}

func (aa *AA) openapi(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{"openapi": "3.0.3", "info": map[string]any{
		"title": aa.Name, "version": "1.0",
		"x-spid": map[string]any{"aa-required-attributes": aa.Required, "aa-lookup-attribute": aa.Lookup},
	}, "paths": map[string]any{}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// logoSVG is a plain badge: a shield with "AA".
const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img"><title>AA</title>` +
	`<path d="M32 4 8 12v18c0 15 10 26 24 30 14-4 24-15 24-30V12z" fill="#0066cc"/>` +
	`<text x="32" y="40" font-family="sans-serif" font-size="20" font-weight="700" fill="#fff" text-anchor="middle">AA</text></svg>`

func (aa *AA) logo(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(logoSVG))
}

// token exchanges a grant token (RFC 8693 form, subject_token) for the
// attributes the AA certifies, signed by the AA. The test AA certifies one
// made-up qualification for whoever the token names.
func (aa *AA) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("subject_token") == "" {
		fail(http.StatusBadRequest, "invalid_request", "subject_token is required")
		return
	}
	jwe := r.PostForm.Get("subject_token")
	// Learn the issuer first: the keys to verify with depend on it.
	iss := peekIssuer(jwe, aa.Enc)
	if aa.Issuers == nil {
		fail(http.StatusBadRequest, "invalid_grant", "no issuer is trusted")
		return
	}
	keys, ok := aa.Issuers(iss)
	if !ok {
		fail(http.StatusBadRequest, "invalid_grant", "grant token of an unknown issuer")
		return
	}
	opened, err := attrauth.Open(jwe, aa.Enc, keys)
	if err != nil {
		fail(http.StatusBadRequest, "invalid_grant", "grant token not valid")
		return
	}
	c := opened.Claims
	now := time.Now().Unix()
	exp, _ := c["exp"].(float64)
	if c["aud"] != aa.ID || int64(exp) <= now {
		fail(http.StatusBadRequest, "invalid_grant", "grant token not for this AA or expired")
		return
	}
	act, _ := c["act"].(map[string]any)
	out := map[string]any{"iss": aa.ID, "sub": c["sub"], "aud": act["sub"], "iat": now, "exp": now + 300,
		"attributes": map[string]any{"qualification": "Iscritto all'albo dimostrativo n. 1234"}}
	jws, err := aa.Sig.Sign("", out)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "cannot sign")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"attributes_token": jws, "token_type": "N_A",
		"issued_token_type": "urn:ietf:params:oauth:token-type:jwt"})
}

// peekIssuer decrypts a grant token and reads iss without verifying it.
func peekIssuer(jwe string, key *rsa.PrivateKey) string {
	obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256},
		[]jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512})
	if err != nil {
		return ""
	}
	inner, err := obj.Decrypt(key)
	if err != nil {
		return ""
	}
	raw, err := federation.UnverifiedPayload(string(inner))
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Iss
}
