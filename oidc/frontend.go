package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The OpenID Connect front end of the authentication flow
// (authflow.FrontEnd, beside SAML's in idp/): the authorization endpoint
// starts a flow, Answer issues the code, Refuse answers access_denied.

// rpOf describes the flow's relying party in the shape the pages use: its
// name and one attribute service with the attributes to be released.
func rpOf(f *authflow.State) *metadata.SP {
	// The untagged name stands for Italian unless the RP names itself
	// in Italian too; authflow.SPName falls back to Italian.
	names := map[string]string{"it": f.RPName}
	maps.Copy(names, f.RPNames)
	as := metadata.AttributeService{Index: 0, IsDefault: true, ServiceName: names}
	for _, a := range f.RPAttrs {
		as.Attributes = append(as.Attributes, metadata.RequestedAttribute{Name: a})
	}
	return &metadata.SP{EntityID: f.SP, DisplayName: names,
		AttributeServices: []metadata.AttributeService{as}}
}

// RelyingParty is the description the flow carries: the client was
// resolved through its trust chain when the request arrived.
func (p *Provider) RelyingParty(_ context.Context, f *authflow.State) (*metadata.SP, error) {
	return rpOf(f), nil
}

// RefusalForm is access_denied for the pending request, as a form to its
// redirect_uri (form_post) or the redirect_uri carrying it in its query.
func (p *Provider) RefusalForm(ctx context.Context, _ *metadata.SP, f *authflow.State, _ spid.Anomaly) (string, []templates.Field, error) {
	b, _, err := p.o.Eph.GetValue(ctx, "oidc:ar:"+f.RequestID)
	if err != nil {
		return "", nil, err
	}
	var req authzRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return "", nil, err
	}
	return p.responseTarget(req.RedirectURI, req.ResponseMode, errorValues(ErrAccessDenied), req.State)
}

// SessionEnded revokes what the relying parties parts got in the SpidL1
// session sess, which Single Logout, the session page or the revocation of
// one of its access tokens has ended (spec §7): every code and access
// token that came from it, and the long revocable sessions opened from it.
// The participant list keeps only each RP's latest login (its code and
// access token are deleted at once); an RP that logged in twice in the
// session, or through two codes at a time, has older ones, which the mark
// of the ended session voids (ssoEnded). No message is sent to the RPs:
// OIDC logout notifies no RP.
func (p *Provider) SessionEnded(ctx context.Context, sess storage.Session, parts []storage.SessionParticipant) {
	// Every code and access token of the session expires before the mark:
	// a code issued before now buys an access token within CodeLifetime.
	err := p.o.Eph.CreateValue(ctx, ssoEndedKey(sess.ID), []byte{1}, p.now().Add(CodeLifetime+AccessTokenLifetime))
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		p.o.Log.ErrorContext(ctx, "marking an ended SSO session: its older tokens stay valid", "session_parts", len(parts), "err", err)
	}
	for _, part := range parts {
		for _, key := range []string{"oidc:code:" + part.NameID, "oidc:at:" + part.SessionIndex} {
			if err := p.o.Eph.DeleteValue(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
				p.o.Log.ErrorContext(ctx, "revoking a token of an ended session", "client", part.SPEntityID, "err", err)
			}
		}
		p.audit(ctx, sess.IdentityID, "oidc.session_ended", part.SPEntityID, audit.Success, map[string]string{"tokens": "revoked"})
	}
	long, err := p.o.Store.ListOIDCSessions(ctx, sess.IdentityID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "long sessions of an ended session", "err", err)
		return
	}
	for _, l := range long {
		if l.SSOSession != sess.ID || !l.RevokedAt.IsZero() {
			continue
		}
		if _, err := p.o.Store.RevokeOIDCSession(ctx, l.ID, p.now(), storage.OIDCRevokedLogout); err != nil {
			p.o.Log.ErrorContext(ctx, "revoking a long session", "client", l.ClientID, "err", err)
		}
	}
}

// ssoEndedKey marks an ended SSO session in the shared cache.
func ssoEndedKey(sid string) string { return "oidc:sso-ended:" + sid }

// ssoEnded reports whether the SSO session sid ("" for none) was ended by
// logout: its codes and access tokens are void (SessionEnded).
func (p *Provider) ssoEnded(ctx context.Context, sid string) (bool, error) {
	if sid == "" {
		return false, nil
	}
	_, _, err := p.o.Eph.GetValue(ctx, ssoEndedKey(sid))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("ended SSO sessions: %w", err)
}
