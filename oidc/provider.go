// Package oidc is the SPID OpenID Provider (spec oidc-federation.md §1–§8):
// our entity configuration with the provider metadata, clients registered
// automatically from their trust chains, the authorization endpoint with
// signed request objects, the token endpoint with private_key_jwt, ID and
// access tokens, and userinfo as a JWS nested in a JWE. The citizen logs in
// on the IdP's own pages (package authflow, which this package drives as
// its OpenID Connect front end, a peer of SAML's in idp/).
package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Endpoint paths under the issuer (spec §1.2).
const (
	PathAuthorization = "/authorization"
	PathToken         = "/token"
	PathUserinfo      = "/userinfo"
	PathResolve       = "/resolve"
	PathIntrospection = "/introspection"
	PathRevocation    = "/revocation"
)

// Lifetimes (spec §10).
const (
	CodeLifetime        = 60 * time.Second
	AccessTokenLifetime = 900 * time.Second
	IDTokenLifetime     = 300 * time.Second
	UserinfoLifetime    = 300 * time.Second
	// requestLifetime bounds a pending authorization (login and consent).
	requestLifetime  = 15 * time.Minute
	maxRequestObject = 32 << 10
)

// Options configure the provider.
type Options struct {
	// Issuer is the OP's entity id: https, no query, no trailing slash.
	Issuer string
	// Entity publishes our entity configuration; its Metadata is set by New.
	Entity *federation.Entity
	// FederationEntity is our federation_entity metadata (organization_name,
	// homepage_uri, policy_uri, logo_uri, contacts).
	FederationEntity map[string]any
	// CoreKeys sign tokens and userinfo; the first is current (F014).
	CoreKeys []federation.Signer
	Resolver *federation.Resolver
	// AllowHTTP admits http:// client ids and redirect URIs (demo, tests).
	AllowHTTP bool
	// PairwiseKey makes the pairwise sub; it must never change.
	PairwiseKey []byte
	Store       storage.Store
	Eph         storage.Ephemeral
	Audit       *audit.Logger
	Log         *slog.Logger
	Pages       *templates.Renderer
	// Flow runs the citizen's authentication; New attaches the provider
	// to it as its OpenID Connect front end.
	Flow *authflow.Engine
	Now  func() time.Time
	// UseCase is the Avviso 41 use case of long revocable sessions (CU1,
	// CU2 or CU3; default CU2) and UseCases the clients with another one.
	UseCase  string
	UseCases map[string]string
	// EndSSO ends the IdP's SSO session a revoked access token came from
	// (spec §7); nil: the session is deleted from Eph.
	EndSSO func(ctx context.Context, sessionID string) error
	// Register, when set, records the OP's messages in the transaction
	// register (register.go).
	Register *register.Queue
}

// Provider is the OpenID Provider.
type Provider struct {
	o    Options
	path string // the issuer's path, the prefix of every endpoint
}

// New checks the options and sets our entity configuration's metadata.
func New(o Options) (*Provider, error) {
	var errs []error
	for name, missing := range map[string]bool{
		"Issuer": o.Issuer == "", "Entity": o.Entity == nil, "CoreKeys": len(o.CoreKeys) == 0, "Resolver": o.Resolver == nil,
		"PairwiseKey": len(o.PairwiseKey) < 32, "Store": o.Store == nil, "Eph": o.Eph == nil, "Audit": o.Audit == nil,
		"Pages": o.Pages == nil, "Flow": o.Flow == nil,
	} {
		if missing {
			errs = append(errs, fmt.Errorf("oidc: option %s is required", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o.Issuer, "/") {
		return nil, fmt.Errorf("oidc: issuer %q must be an absolute URL without query, fragment or trailing slash", o.Issuer)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for c, uc := range o.UseCases {
		if uc != UseCase1 && uc != UseCase2 && uc != UseCase3 {
			return nil, fmt.Errorf("oidc: use case %q of %s is not CU1, CU2 or CU3", uc, c)
		}
	}
	if o.EndSSO == nil {
		eph, flow := o.Eph, o.Flow
		o.EndSSO = func(ctx context.Context, id string) error {
			sess, err := eph.GetSession(ctx, id)
			if err != nil {
				return err
			}
			if err := eph.DeleteSession(ctx, id); err != nil {
				return err
			}
			// The session's other OIDC relying parties lose their tokens
			// too; its SAML SPs are not told (no browser is there to carry
			// a LogoutRequest), their assertions expire.
			flow.SessionEnded(ctx, sess)
			return nil
		}
	}
	p := &Provider{o: o, path: u.Path}
	o.Entity.Metadata = p.metadata
	o.Entity.Invalidate()
	o.Flow.Attach(storage.ProtocolOIDC, p)
	return p, nil
}

// Register adds the provider's routes to mux.
func (p *Provider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+p.path+federation.WellKnownPath, p.o.Entity.ServeConfiguration)
	mux.HandleFunc(p.path+PathAuthorization, p.authorize)
	mux.HandleFunc(p.path+PathToken, p.token)
	mux.HandleFunc(p.path+PathUserinfo, p.userinfo)
	mux.HandleFunc("GET "+p.path+PathResolve, p.resolveEndpoint)
	mux.HandleFunc(p.path+PathIntrospection, p.introspect)
	mux.HandleFunc(p.path+PathRevocation, p.revoke)
}

func (p *Provider) now() time.Time { return p.o.Now() }

func (p *Provider) endpoint(path string) string { return p.o.Issuer + path }

// publicCoreKeys verify what we sign.
func (p *Provider) publicCoreKeys() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{}
	for _, k := range p.o.CoreKeys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set
}

// metadata is what our entity configuration publishes (spec §2.1).
func (p *Provider) metadata() map[string]map[string]any {
	jwks := p.publicCoreKeys()
	// The federation key is listed last so that the entity configuration
	// also verifies with openid_provider.jwks (spec §14 item 1, F005).
	for _, k := range p.o.Entity.Keys {
		jwks.Keys = append(jwks.Keys, k.Public())
	}
	op := map[string]any{
		"issuer":                 p.o.Issuer,
		"authorization_endpoint": p.endpoint(PathAuthorization),
		"token_endpoint":         p.endpoint(PathToken),
		"userinfo_endpoint":      p.endpoint(PathUserinfo),
		"introspection_endpoint": p.endpoint(PathIntrospection),
		"revocation_endpoint":    p.endpoint(PathRevocation),
		"revocation_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"jwks":                                                jwks,
		"response_types_supported":                            []string{"code"},
		"response_modes_supported":                            []string{"form_post", "query"},
		"grant_types_supported":                               []string{"authorization_code", "refresh_token"},
		"scopes_supported":                                    []string{"openid", "offline_access"},
		"acr_values_supported":                                []string{acrL1, acrL2},
		"subject_types_supported":                             []string{"pairwise"},
		"id_token_signing_alg_values_supported":               sigAlgs,
		"userinfo_signing_alg_values_supported":               sigAlgs,
		"request_object_signing_alg_values_supported":         sigAlgs,
		"token_endpoint_auth_signing_alg_values_supported":    sigAlgs,
		"request_authentication_signing_alg_values_supported": sigAlgs,
		"userinfo_encryption_alg_values_supported":            encAlgs,
		"userinfo_encryption_enc_values_supported":            encEncs,
		"token_endpoint_auth_methods_supported":               []string{"private_key_jwt"},
		"code_challenge_methods_supported":                    []string{"S256"},
		"claims_supported":                                    SupportedClaims(),
		"claims_parameter_supported":                          true,
		"request_parameter_supported":                         true,
		"authorization_response_iss_parameter_supported":      true,
		"client_registration_types_supported":                 []string{"automatic"},
		"request_authentication_methods_supported":            map[string]any{"authorization_endpoint": []string{"request_object"}},
	}
	fe := map[string]any{}
	for k, v := range p.o.FederationEntity {
		fe[k] = v
	}
	fe["federation_resolve_endpoint"] = p.endpoint(PathResolve)
	return map[string]map[string]any{federation.TypeFederationEntity: fe, federation.TypeOpenIDProvider: op}
}

// client resolves a relying party: its chain (cached until it expires)
// and the checks of its final metadata.
func (p *Provider) client(ctx context.Context, id string) (*Client, *federation.Error) {
	c, err := p.o.Resolver.Resolve(ctx, id, federation.TypeRelyingParty)
	if err != nil {
		var fe *federation.Error
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, federation.NewError(federation.CodeServerError, "trust chain", err)
	}
	cl, err := ClientFromChain(c, p.o.AllowHTTP)
	if err != nil {
		return nil, federation.NewError(federation.CodeUnauthorizedClient, "metadata of the relying party not acceptable", err)
	}
	return cl, nil
}

// ClientName is the name in lang of the relying party id, for pages that
// list past logins (the personal area's access history); "" when its chain
// cannot be resolved within a short time, so a party that is down slows
// such a page by at most that.
func (p *Provider) ClientName(ctx context.Context, id, lang string) string {
	ctx, cancel := context.WithTimeout(ctx, clientNameWait)
	defer cancel()
	cl, err := p.client(ctx, id)
	if err != nil {
		return ""
	}
	return cl.NameIn(lang)
}

// clientNameWait bounds ClientName's trust-chain resolution.
const clientNameWait = 2 * time.Second

// refreshClient re-resolves after a signature by the client failed (its
// keys may have rotated, F026); nil when nothing new was learnt.
func (p *Provider) refreshClient(ctx context.Context, id string) *Client {
	c, ran, err := p.o.Resolver.Refresh(ctx, id, federation.TypeRelyingParty)
	if !ran || err != nil {
		return nil
	}
	cl, err := ClientFromChain(c, p.o.AllowHTTP)
	if err != nil {
		return nil
	}
	return cl
}

// pairwise is the subject for an identity at a client (spec §4.4):
// stable per (client, identity), different across clients (O079).
func (p *Provider) pairwise(clientID, identityID string) string {
	m := hmac.New(sha256.New, p.o.PairwiseKey)
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write([]byte(identityID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Provider) audit(ctx context.Context, actor, action, target, outcome string, details map[string]string) {
	if err := p.o.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details}); err != nil {
		p.o.Log.ErrorContext(ctx, "audit", "err", err)
	}
}

// resolveEndpoint serves /resolve for ourselves and cached chains only: it
// never starts a discovery (F031).
func (p *Provider) resolveEndpoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub, anchor := q.Get("sub"), q.Get("anchor")
	if sub == "" || anchor == "" {
		federation.WriteError(w, federation.NewError(federation.CodeInvalidRequest, "sub and anchor are required", nil))
		return
	}
	typ := q.Get("type")
	if typ == "" {
		typ = federation.TypeRelyingParty
	}
	c, ok := p.o.Resolver.Cached(sub, typ)
	if !ok || c.Anchor != anchor {
		federation.WriteError(w, federation.NewError(federation.CodeNotFound, "no trust chain known for this subject and anchor", nil))
		return
	}
	now := p.now()
	exp := c.Expires
	claims := map[string]any{"iss": p.o.Issuer, "sub": sub, "iat": now.Unix(), "exp": exp.Unix(),
		"metadata": map[string]any{typ: c.Metadata}, "trust_marks": c.TrustMarks, "trust_chain": c.Serialized()}
	jws, err := p.o.Entity.Keys[0].Sign(federation.TypeEntityStatement, claims)
	if err != nil {
		federation.WriteError(w, federation.NewError(federation.CodeServerError, "cannot sign", err))
		return
	}
	federation.WriteStatement(w, jws)
}
