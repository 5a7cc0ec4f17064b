package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/storage"
)

// tokenState is what an access or refresh token presented to introspection
// or revocation stands for.
type tokenState struct {
	kind   string // "access_token" or "refresh_token"; "" when unknown
	active bool
	// clientID owns the token; jti names an access token; rec is its
	// record (zero once revoked or expired).
	clientID, jti string
	rec           accessRecord
	session       storage.OIDCSession
	sub           string
	scope         []string
	exp           int64
}

// lookupToken identifies a token we issued. An access token is one of our
// signed at+jwt whose record is still in the shared cache; a refresh token
// is found by its hash in the durable store. Anything else is unknown.
func (p *Provider) lookupToken(ctx context.Context, token string) (tokenState, error) {
	now := p.now()
	if v, err := federation.Verify(token, p.publicCoreKeys()); err == nil && v.Typ == "at+jwt" {
		var c struct {
			Iss      string `json:"iss"`
			Exp      int64  `json:"exp"`
			JTI      string `json:"jti"`
			ClientID string `json:"client_id"`
		}
		if json.Unmarshal(v.Payload, &c) != nil || c.Iss != p.o.Issuer || c.JTI == "" {
			return tokenState{}, nil
		}
		st := tokenState{kind: "access_token", clientID: c.ClientID, jti: c.JTI, exp: c.Exp}
		if !now.Before(time.Unix(c.Exp, 0)) {
			return st, nil
		}
		b, _, err := p.o.Eph.GetValue(ctx, "oidc:at:"+c.JTI)
		if errors.Is(err, storage.ErrNotFound) {
			return st, nil // revoked
		} else if err != nil {
			return st, err
		}
		if json.Unmarshal(b, &st.rec) != nil || st.rec.ClientID != c.ClientID {
			return tokenState{}, nil
		}
		if ended, err := p.ssoEnded(ctx, st.rec.SSO); err != nil || ended {
			return st, err // logged out with its SSO session
		}
		st.active, st.sub, st.scope = true, st.rec.Sub, st.rec.Scope
		return st, nil
	}
	t, sess, err := p.o.Store.GetOIDCRefreshToken(ctx, tokenHash(token))
	if errors.Is(err, storage.ErrNotFound) {
		return tokenState{}, nil
	} else if err != nil {
		return tokenState{}, err
	}
	return tokenState{kind: "refresh_token", clientID: sess.ClientID, session: sess, sub: sess.Subject, scope: sess.Scope,
		exp:    t.ExpiresAt.Unix(),
		active: t.UsedAt.IsZero() && sess.RevokedAt.IsZero() && now.Before(t.ExpiresAt)}, nil
}

// introspect is the introspection endpoint (spec §6): POST, client
// authentication with aud = this endpoint; every request error is a 401
// (OPT 9.3.1 accepts nothing else). Tokens of other clients are inactive.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, ErrInvalidRequest)
		return
	}
	unauthorized := func(w http.ResponseWriter, code string) { writeJSONError(w, http.StatusUnauthorized, code) }
	if err := r.ParseForm(); err != nil {
		unauthorized(w, ErrInvalidRequest)
		return
	}
	cl := p.authenticateClient(w, r, p.endpoint(PathIntrospection), unauthorized)
	if cl == nil {
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		unauthorized(w, ErrInvalidRequest)
		return
	}
	if isGrantToken(token) {
		p.introspectGrant(w, r, cl, token)
		return
	}
	st, err := p.lookupToken(ctx, token)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "introspection lookup", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	body := map[string]any{"active": false}
	if st.active && st.clientID == cl.ID {
		body = map[string]any{"active": true, "scope": strings.Join(st.scope, " "), "exp": st.exp, "sub": st.sub,
			"client_id": cl.ID, "iss": p.o.Issuer, "aud": cl.ID, "token_type": st.kind}
	}
	outcome := audit.Success
	if st.kind != "" && st.clientID != cl.ID {
		outcome = audit.Denied // asked about another client's token: answered inactive
	}
	p.audit(ctx, cl.ID, "oidc.introspection", cl.ID, outcome, map[string]string{
		"token_type": st.kind, "active": boolText(body["active"] == true), "token_jti": st.jti, "long_session": st.session.ID})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(body)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
