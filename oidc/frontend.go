package oidc

import (
	"context"
	"encoding/json"
	"errors"

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
	as := metadata.AttributeService{Index: 0, IsDefault: true, ServiceName: map[string]string{"it": f.RPName}}
	for _, a := range f.RPAttrs {
		as.Attributes = append(as.Attributes, metadata.RequestedAttribute{Name: a})
	}
	return &metadata.SP{EntityID: f.SP, DisplayName: map[string]string{"it": f.RPName},
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
// session sess, which Single Logout or the session page has ended: the
// code and access token of each one's latest login in it (kept in the
// participant's NameID and SessionIndex), and the long revocable sessions
// opened from it. No message is sent to them: OIDC logout notifies no RP
// (spec §7).
func (p *Provider) SessionEnded(ctx context.Context, sess storage.Session, parts []storage.SessionParticipant) {
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
