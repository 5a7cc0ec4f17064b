package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/templates"
)

// setupAttributeAuthorities builds the registry of the federation's
// Attribute Authorities over the configured trust anchors, and gives it
// to the flow, where the SAML front end and the OP both find it. In demo
// mode the test AA learns the keys it accepts grant tokens from: the SAML
// certificates of our metadata and the OP's core keys (A041).
func (a *App) setupAttributeAuthorities(anchors []federation.TrustAnchor, fetcher *federation.Fetcher, core []federation.Signer, issuer string) *attrauth.Service {
	reg := attrauth.NewRegistry(anchors, fetcher, a.Log.With("component", "attrauth"))
	svc := &attrauth.Service{Registry: reg, Grants: &attrauth.Grants{Eph: a.Backends.Eph},
		Claims: oidc.Claims, Attributes: oidc.SAMLAttributes, Lifetime: a.Config.OIDC.GrantTokenLifetime}
	a.AA = svc
	a.Flow.SetAttributeAuthorities(svc)
	if a.demoFed != nil {
		a.demoFed.AA.Issuers = func(iss string) (jose.JSONWebKeySet, bool) {
			set := jose.JSONWebKeySet{}
			switch {
			case iss == a.Config.IdP.EntityID:
				for _, c := range a.IdPCerts() {
					kid, err := federation.Thumbprint(c.PublicKey)
					if err != nil {
						continue
					}
					set.Keys = append(set.Keys, jose.JSONWebKey{Key: c.PublicKey, KeyID: kid, Use: "sig"})
				}
			case issuer != "" && iss == issuer: // "": no OP
				for _, s := range core {
					set.Keys = append(set.Keys, s.Public())
				}
			default:
				return set, false
			}
			return set, true
		}
	}
	return svc
}

// demoExchange presents a grant token to the demo AA's token endpoint, in
// process, and returns what the AA certifies, its signature checked with
// the AA's key: the demo SP's last step after an AA login.
func (a *App) demoExchange(ctx context.Context, aa, token string) ([]templates.Attribute, error) {
	if a.demoFed == nil || aa != a.demoFed.AA.ID {
		return nil, fmt.Errorf("demo SP: %s is not the demo attribute authority", aa)
	}
	f := &federation.Fetcher{AllowHTTP: true, AllowPrivate: true, Local: a.Mux, LocalBase: a.Config.Server.BaseURL}
	body, err := f.PostForm(ctx, aa+"/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {token},
		"subject_token_type": {attrauth.TokenType}})
	if err != nil {
		return nil, err
	}
	var res struct {
		Token string `json:"attributes_token"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("demo AA answer: %w", err)
	}
	v, err := federation.Verify(res.Token, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{a.demoFed.AA.Sig.Public()}})
	if err != nil {
		return nil, fmt.Errorf("demo AA answer: %w", err)
	}
	var claims struct {
		Sub        string            `json:"sub"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(v.Payload, &claims); err != nil {
		return nil, fmt.Errorf("demo AA answer: %w", err)
	}
	out := []templates.Attribute{{Name: "sub", Value: claims.Sub}}
	names := make([]string, 0, len(claims.Attributes))
	for k := range claims.Attributes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, templates.Attribute{Name: k, Value: claims.Attributes[k]})
	}
	return out, nil
}
