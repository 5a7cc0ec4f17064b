package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// joinSession adds the SP to the flow's SpidL1 session, opening a new
// session when the flow reused none, and returns the participant's
// SessionIndex and the session's ID. index "" asks for the SAML one (the
// session ID sealed); another protocol records its own handle there. A
// new session always gets a new server-chosen ID and cookie, so an ID
// planted before login is never promoted (session fixation).
func (p *Engine) joinSession(w http.ResponseWriter, r *http.Request, f *State, authnInstant time.Time, sp, nameID, index string) (string, string, error) {
	ctx := r.Context()
	now := p.now()
	// Idle timeout, never past the absolute lifetime from the authentication.
	expires := now.Add(p.o.SessionIdle)
	if hard := authnInstant.Add(p.o.SessionLifetime); hard.Before(expires) {
		expires = hard
	}
	sealed := index == ""
	if f.Session != "" {
		if sealed {
			index = p.index.seal(f.Session)
		}
		// One entry per SP, written alone: the session does not grow with
		// each Response to the same SP (issue 14).
		err := p.o.Eph.AddParticipant(ctx, f.Session, storage.SessionParticipant{
			SPEntityID: sp, NameID: nameID, SessionIndex: index, IssuedAt: now, Protocol: f.Proto}, expires)
		if err == nil {
			return index, f.Session, nil
		}
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrSessionFull) {
			return "", "", fmt.Errorf("joining session: %w", err)
		}
		// The session ended while the citizen was on the consent page, or
		// it already names as many SPs as a session may: open a new one,
		// the authentication itself is still fresh enough.
	}
	sid := randomHex(32)
	if sealed {
		index = p.index.seal(sid)
	}
	s := storage.Session{ID: sid, IdentityID: f.Identity, Level: int(spid.L1), AuthnInstant: authnInstant, CreatedAt: now,
		ExpiresAt: expires, Epoch: f.Epoch,
		Participants: []storage.SessionParticipant{{SPEntityID: sp, NameID: nameID, SessionIndex: index, IssuedAt: now, Protocol: f.Proto}}}
	if !now.Before(s.ExpiresAt) {
		return "", "", fmt.Errorf("opening session: the authentication is older than the session lifetime")
	}
	if err := p.o.Eph.CreateSession(ctx, s); err != nil {
		return "", "", fmt.Errorf("opening session: %w", err)
	}
	if err := p.cookies.set(w, ssoCookie, sid, p.cookies.ssoSameSite()); err != nil {
		return "", "", err
	}
	// A new session, a new browser ID too (S075).
	if _, err := p.cookies.newBrowserID(w); err != nil {
		return "", "", err
	}
	return index, sid, nil
}

// rotateBrowser gives the browser a new ID after an authentication step
// and binds the flow to it (the pages that follow seal f again, with CSRF
// tokens for the new ID). On failure it has answered.
func (p *Engine) rotateBrowser(w http.ResponseWriter, r *http.Request, f *State) bool {
	id, err := p.cookies.newBrowserID(w)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "browser cookie", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return false
	}
	f.Browser = id
	return true
}

// currentSession returns the browser's live SSO session and its identity:
// none when the session has expired, or its identity is not active or has
// had its sessions ended since (sessions.Valid).
func (p *Engine) currentSession(ctx context.Context, r *http.Request) (storage.Session, storage.Identity, bool) {
	sid := p.cookies.get(r, ssoCookie)
	if sid == "" {
		return storage.Session{}, storage.Identity{}, false
	}
	s, err := p.o.Eph.GetSession(ctx, sid)
	if err != nil || !p.now().Before(s.ExpiresAt) {
		return storage.Session{}, storage.Identity{}, false
	}
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil || !sessions.Valid(id, s.Epoch) {
		return storage.Session{}, storage.Identity{}, false
	}
	return s, id, true
}
