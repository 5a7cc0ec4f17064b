package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/audit"
)

// Attribute Authorities over OpenID Connect (spec §9.6): the request
// object's authorization_details names the AAs, the citizen chooses on the
// same pages as SAML (authflow), and the ID Token carries a grant token
// per consented AA in its tokens claim; the relying party may introspect
// and revoke them.

// attributeAuthorities is the flow's AA service (nil: none): one service
// offers the AAs on the shared pages and mints and tracks the grant
// tokens of both protocols.
func (p *Provider) attributeAuthorities() *attrauth.Service { return p.o.Flow.AttributeAuthorities() }

// requiredAAs reads the AA entity ids of authorization_details: the
// locations of the entries of the required-aa type. Anything malformed is
// ignored, never an error (OPT AA6, AA7; A036).
func requiredAAs(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range list {
		d, ok := e.(map[string]any)
		if !ok || d["type"] != attrauth.DetailsType {
			continue
		}
		locs, ok := d["locations"].([]any)
		if !ok {
			continue
		}
		for _, l := range locs {
			if s, ok := l.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	return out
}

// grantTokens returns what makes the tokens claim of the code grant's ID
// Token once its jti is known (sid = "oidc:" + jti), or nil when the
// citizen consented to no AA (no claim at all, A037).
func (p *Provider) grantTokens(ctx context.Context, cl *Client, g codeGrant, acr string) func(idJTI string) []any {
	aa := p.attributeAuthorities()
	if aa == nil || len(g.AAs) == 0 {
		return nil
	}
	return func(idJTI string) []any {
		id, err := p.o.Store.GetIdentity(ctx, g.Identity)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "grant tokens: identity", "err", err)
			return nil
		}
		key := p.o.CoreKeys[0] // A025: verifiable with openid_provider.jwks.keys[0]
		signer := attrauth.Signer{Key: key.Key, KID: key.KID, Alg: key.Alg}
		issued, err := aa.Issue(ctx, signer, p.o.Issuer, cl.ID, "oidc:"+idJTI, acr, g.AAs, id)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "grant tokens", "client", cl.ID, "err", err)
		}
		out := make([]any, 0, len(issued))
		details := map[string]string{"id_token_jti": idJTI}
		for _, t := range issued {
			out = append(out, map[string]string{"type": attrauth.TokenType, "aud": t.AA, "token": t.Token})
			details["grant:"+t.AA] = t.JTI
		}
		if len(out) > 0 {
			p.audit(ctx, g.Identity, "oidc.grant_tokens", cl.ID, audit.Success, details)
		}
		return out
	}
}

// isGrantToken tells a grant token (a compact JWE: five parts) from the
// access and refresh tokens (compact JWS: three).
func isGrantToken(token string) bool { return strings.Count(token, ".") == 4 }

// introspectGrant answers the introspection of a grant token: active only
// for the relying party it was issued to, unexpired and unrevoked (A038,
// A039), with exp, sub (the AA lookup value), act, iss and aud (the AA).
func (p *Provider) introspectGrant(w http.ResponseWriter, r *http.Request, cl *Client, token string) {
	ctx := r.Context()
	body := map[string]any{"active": false}
	var rec attrauth.Record
	if aa := p.attributeAuthorities(); aa != nil && aa.Grants != nil {
		var ok bool
		var err error
		rec, ok, err = aa.Grants.Active(ctx, token, cl.ID)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "grant token introspection", "err", err)
			writeTokenError(w, ErrTemporarilyUnavailable)
			return
		}
		if ok {
			body = map[string]any{"active": true, "exp": rec.Expires, "sub": rec.Subject, "act": map[string]string{"sub": rec.Actor},
				"iss": rec.Issuer, "aud": rec.AA, "client_id": cl.ID, "jti": rec.JTI, "token_type": attrauth.TokenType}
		}
	}
	p.audit(ctx, cl.ID, "oidc.introspection", cl.ID, audit.Success, map[string]string{
		"token_type": "grant_token", "active": boolText(body["active"] == true), "token_jti": rec.JTI})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(body)
}

// revokeGrant makes a grant token inactive when the caller received it
// (A040); like any revocation it answers 200 whatever the token.
func (p *Provider) revokeGrant(w http.ResponseWriter, r *http.Request, cl *Client, token string) {
	ctx := r.Context()
	found := false
	if aa := p.attributeAuthorities(); aa != nil && aa.Grants != nil {
		var err error
		if found, err = aa.Grants.Revoke(ctx, token, cl.ID); err != nil {
			p.o.Log.ErrorContext(ctx, "grant token revocation", "err", err)
			writeTokenError(w, ErrTemporarilyUnavailable)
			return
		}
	}
	p.audit(ctx, cl.ID, "oidc.revocation", cl.ID, audit.Success, map[string]string{"token_type": "grant_token", "known": boolText(found)})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
