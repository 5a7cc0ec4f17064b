package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
)

// Long revocable sessions (spec §4.3, Avviso 41): a refresh token is a JWS
// we sign, but it is honoured only through its SHA-256 in the durable
// store, so rotation, reuse detection and revocation work on every node
// and a retired core key need not stay published for 30 days (§2.8).

// RefreshLifetime is the 30 days of a long revocable session (spec §10).
const RefreshLifetime = 30 * 24 * time.Hour

// Avviso 41 use cases (spec §4.3).
const (
	UseCase1 = "CU1"
	UseCase2 = "CU2"
	UseCase3 = "CU3"
)

// refreshExpiry is the exp of a refresh token issued at iat in a session
// that started at start: CU1/CU2 never beyond start + 30 days (O066), CU3
// 30 days less a second after its own iat (O067); always less than 30
// days after iat (O065).
func refreshExpiry(useCase string, start, iat time.Time) time.Time {
	own := iat.Add(RefreshLifetime - time.Second)
	if useCase == UseCase3 {
		return own
	}
	if cap := start.Add(RefreshLifetime); cap.Before(own) {
		return cap
	}
	return own
}

// tokenHash is how a refresh token is kept and looked up.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// useCase is the Avviso 41 use case configured for a client.
func (p *Provider) useCase(clientID string) string {
	if uc, ok := p.o.UseCases[clientID]; ok {
		return uc
	}
	if p.o.UseCase != "" {
		return p.o.UseCase
	}
	return UseCase2
}

// signRefresh signs a refresh token (spec §4.4).
func (p *Provider) signRefresh(cl *Client, sub string, iat, exp time.Time) (string, error) {
	return p.o.CoreKeys[0].Sign("", map[string]any{
		"iss": p.o.Issuer, "sub": sub, "client_id": cl.ID, "aud": cl.ID,
		"iat": iat.Unix(), "exp": exp.Unix(), "jti": uuid.NewString(),
	})
}

// openLongSession stores the session of a code grant the citizen opted in
// to and returns its first refresh token.
func (p *Provider) openLongSession(ctx context.Context, cl *Client, g codeGrant, sub string, now time.Time) (string, error) {
	start := time.Unix(g.Req.IssuedAt, 0)
	uc := p.useCase(cl.ID)
	exp := refreshExpiry(uc, start, now)
	rt, err := p.signRefresh(cl, sub, now, exp)
	if err != nil {
		return "", fmt.Errorf("signing refresh token: %w", err)
	}
	sess := storage.OIDCSession{ID: g.SessionID, ClientID: cl.ID, IdentityID: g.Identity, Subject: sub,
		Scope: g.Req.Scope, Claims: g.Req.Claims, Nonce: g.Req.Nonce, UseCase: uc, SessionStart: start,
		ExpiresAt: exp, AccessJTI: g.AccessJTI, SSOSession: g.SSOSession, Epoch: g.Epoch, CreatedAt: now, UpdatedAt: now}
	tok := storage.OIDCRefreshToken{Hash: tokenHash(rt), SessionID: sess.ID, IssuedAt: now, ExpiresAt: exp}
	if err := p.o.Store.CreateOIDCSession(ctx, sess, tok); err != nil {
		return "", err
	}
	return rt, nil
}

// refreshGrant is grant_type=refresh_token (spec §4.3): a new access token,
// ID token (acr SpidL1) and refresh token; the presented one is spent, and
// presenting a spent one ends its session.
func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request, cl *Client) {
	ctx := r.Context()
	presented := r.PostForm.Get("refresh_token")
	if presented == "" {
		writeTokenError(w, ErrInvalidRequest)
		return
	}
	hash := tokenHash(presented)
	// The owner is checked before anything changes: another client's token
	// is refused without spending it.
	_, sess, err := p.o.Store.GetOIDCRefreshToken(ctx, hash)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		p.refreshDenied(ctx, cl, "", "refresh token unknown")
		writeTokenError(w, ErrInvalidGrant)
		return
	case err != nil:
		p.o.Log.ErrorContext(ctx, "refresh token lookup", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	case sess.ClientID != cl.ID:
		p.refreshDenied(ctx, cl, sess.IdentityID, "refresh token of another client")
		writeTokenError(w, ErrInvalidGrant)
		return
	}
	id, err := p.o.Store.GetIdentity(ctx, sess.IdentityID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.o.Log.ErrorContext(ctx, "identity of a refresh token", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	if err != nil || !sessions.Valid(id, sess.Epoch) {
		// A suspended, revoked or deleted identity ends its sessions, and
		// so does whatever ended its other sessions since the login (a
		// password change or reset, a device revoked): what the citizen
		// proved then no longer holds.
		reason := "identity not active"
		if err == nil && id.Status == storage.IdentityActive {
			reason = "identity's sessions ended since the login"
		}
		p.endLongSession(ctx, sess.ID, reason)
		p.refreshDenied(ctx, cl, sess.IdentityID, reason)
		writeTokenError(w, ErrInvalidGrant)
		return
	}
	now := p.now()
	accessJTI := uuid.NewString()
	var (
		refresh  string
		previous string
		t        signed
		rec      accessRecord
	)
	err = p.o.Store.RotateOIDCRefreshToken(ctx, hash, now, func(_ storage.OIDCRefreshToken, s storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
		exp := refreshExpiry(s.UseCase, s.SessionStart, now)
		rt, err := p.signRefresh(cl, s.Subject, now, exp)
		if err != nil {
			return storage.OIDCRefreshToken{}, s, err
		}
		rec = accessRecord{ClientID: cl.ID, Identity: s.IdentityID, Sub: s.Subject, Claims: s.Claims, Scope: s.Scope,
			Session: s.ID, SSO: s.SSOSession, Handle: s.ID}
		idExp := now.Add(IDTokenLifetime)
		if end := s.SessionStart.Add(RefreshLifetime); end.Before(idExp) {
			idExp = end // never beyond the session (O068)
		}
		if t, err = p.signTokens(cl, rec, accessJTI, s.Nonce, acrL1, now, idExp); err != nil {
			return storage.OIDCRefreshToken{}, s, err
		}
		refresh, previous = rt, s.AccessJTI
		s.AccessJTI, s.ExpiresAt, s.UpdatedAt = accessJTI, exp, now
		return storage.OIDCRefreshToken{Hash: tokenHash(rt), SessionID: s.ID, IssuedAt: now, ExpiresAt: exp}, s, nil
	})
	switch {
	case errors.Is(err, storage.ErrRefreshReused):
		// A spent token came back: someone holds a copy. The whole family
		// is revoked (done by the store), its access token too.
		p.revokeAccess(ctx, sess.AccessJTI)
		if s, err := p.o.Store.GetOIDCSession(ctx, sess.ID); err == nil {
			p.revokeAccess(ctx, s.AccessJTI)
		}
		p.refreshDenied(ctx, cl, sess.IdentityID, "refresh token reused; its session revoked")
		writeTokenError(w, ErrInvalidGrant)
		return
	case errors.Is(err, storage.ErrNotFound):
		p.refreshDenied(ctx, cl, sess.IdentityID, "refresh token expired or its session revoked")
		writeTokenError(w, ErrInvalidGrant)
		return
	case err != nil:
		p.o.Log.ErrorContext(ctx, "refresh token rotation", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	// The access token of the previous refresh is superseded.
	p.revokeAccess(ctx, previous)
	if err := p.storeAccess(ctx, accessJTI, rec, now); err != nil {
		p.o.Log.ErrorContext(ctx, "storing access token", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	p.audit(ctx, sess.IdentityID, "oidc.refresh", cl.ID, audit.Success, map[string]string{
		"long_session": sess.ID, "access_token_jti": accessJTI, "id_token_jti": t.idJTI})
	p.tokenResponse(w, t, refresh)
	p.recordToken(ctx, r, cl, rec, t, accessJTI, refresh)
}

func (p *Provider) refreshDenied(ctx context.Context, cl *Client, identity, reason string) {
	if identity == "" {
		identity = "anonymous"
	}
	p.o.Log.InfoContext(ctx, "refresh refused", "client", cl.ID, "reason", reason)
	p.audit(ctx, identity, "oidc.refresh", cl.ID, audit.Denied, map[string]string{"reason": reason})
}

// revokeAccess forgets an access token: userinfo and introspection refuse
// it from now on.
func (p *Provider) revokeAccess(ctx context.Context, jti string) {
	if jti == "" {
		return
	}
	if err := p.o.Eph.DeleteValue(ctx, "oidc:at:"+jti); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.o.Log.ErrorContext(ctx, "revoking access token", "err", err)
	}
}

// endLongSession revokes a long revocable session and its newest access
// token; it returns the session (zero when unknown).
func (p *Provider) endLongSession(ctx context.Context, id, reason string) storage.OIDCSession {
	if id == "" {
		return storage.OIDCSession{}
	}
	s, err := p.o.Store.RevokeOIDCSession(ctx, id, p.now(), reason)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			p.o.Log.ErrorContext(ctx, "revoking long session", "err", err)
		}
		return storage.OIDCSession{}
	}
	p.revokeAccess(ctx, s.AccessJTI)
	return s
}
