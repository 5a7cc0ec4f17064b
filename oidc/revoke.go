package oidc

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
)

// revoke is the revocation endpoint (spec §7, RFC 7009): POST, client
// authentication with aud = this endpoint, errors as the token endpoint.
// After authentication the answer is always 200: for unknown, expired and
// already revoked tokens, and for another client's token, which is left
// alone (saying whose it is would help whoever holds a stolen one).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, ErrInvalidRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, ErrInvalidRequest)
		return
	}
	cl := p.authenticateClient(w, r, p.endpoint(PathRevocation), writeTokenError)
	if cl == nil {
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		writeTokenError(w, ErrInvalidRequest)
		return
	}
	if isGrantToken(token) {
		p.revokeGrant(w, r, cl, token)
		return
	}
	st, err := p.lookupToken(ctx, token)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "revocation lookup", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	details := map[string]string{"token_type": st.kind, "token_jti": st.jti, "long_session": st.session.ID}
	handle := st.rec.Handle
	if handle == "" {
		handle = st.session.ID
	}
	if st.clientID == cl.ID {
		p.record(ctx, register.Entry{Kind: KindRevocationRequest, Direction: register.Received, Binding: bindingBack,
			SP: cl.ID, RequestID: handle, MessageID: st.jti, Message: redactForm(r.PostForm)})
	}
	switch {
	case st.kind == "":
		p.audit(ctx, cl.ID, "oidc.revocation", cl.ID, audit.Success, map[string]string{"token_type": "unknown"})
	case st.clientID != cl.ID:
		p.audit(ctx, cl.ID, "oidc.revocation", st.clientID, audit.Denied, details)
	case st.kind == "access_token":
		if st.active {
			p.logout(ctx, st.jti, st.rec)
		}
		p.audit(ctx, actorOf(st.rec.Identity), "oidc.revocation", cl.ID, audit.Success, details)
	default:
		// A refresh token ends its whole family and the family's access
		// token [DEC spec §7]; the SSO session is left to access tokens.
		s := p.endLongSession(ctx, st.session.ID, storage.OIDCRevokedByClient)
		p.audit(ctx, actorOf(s.IdentityID), "oidc.revocation", cl.ID, audit.Success, details)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// logout is what revoking an access token means in SPID OIDC, where logout
// is the relying party's revocation (spec §7; there is no
// end_session_endpoint): the token, the long revocable session it belongs
// to and the SSO session it came from all end; the citizen's other tokens
// stay valid. Kept small so the shared SSO session can be wired here.
func (p *Provider) logout(ctx context.Context, accessJTI string, rec accessRecord) {
	p.revokeAccess(ctx, accessJTI)
	if rec.Session != "" {
		p.endLongSession(ctx, rec.Session, storage.OIDCRevokedLogout)
	}
	if rec.SSO != "" {
		if err := p.o.EndSSO(ctx, rec.SSO); err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.o.Log.ErrorContext(ctx, "ending the SSO session of a revoked access token", "err", err)
		}
	}
}

func actorOf(identity string) string {
	if identity == "" {
		return "anonymous"
	}
	return identity
}
