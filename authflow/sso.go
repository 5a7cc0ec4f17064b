package authflow

import (
	"context"
	"net/http"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
)

// reusableSession returns the SpidL1 session of this browser when spec §7.1
// lets it answer the flow: a live L1 session of an active identity whose
// sessions have not been ended since (sessions.Valid), whose type suits the
// request's Purpose.
func (p *Engine) reusableSession(ctx context.Context, r *http.Request, f *State) (storage.Session, storage.Identity, bool) {
	sid := p.cookies.get(r, ssoCookie)
	if sid == "" {
		return storage.Session{}, storage.Identity{}, false
	}
	sess, err := p.o.Eph.GetSession(ctx, sid)
	if err != nil {
		return storage.Session{}, storage.Identity{}, false
	}
	now := p.now()
	if sess.Level != int(spid.L1) || !now.Before(sess.ExpiresAt) || now.Sub(sess.AuthnInstant) > p.o.SessionLifetime {
		return storage.Session{}, storage.Identity{}, false
	}
	id, err := p.o.Store.GetIdentity(ctx, sess.IdentityID)
	if err != nil || !sessions.Valid(id, sess.Epoch) || !purposeAllows(f.Purpose, id.Type) {
		return storage.Session{}, storage.Identity{}, false
	}
	return sess, id, true
}

// purposeAllows applies the spid:Purpose matrix of spec §3.6.
func purposeAllows(purpose string, t storage.IdentityType) bool {
	allowed := map[string][]storage.IdentityType{
		"":   {storage.IdentityCitizen, storage.IdentityProfessional},
		"P":  {storage.IdentityProfessional, storage.IdentityProfessionalForLegal},
		"LP": {storage.IdentityLegalPerson, storage.IdentityProfessionalForLegal},
		"PG": {storage.IdentityProfessionalForLegal},
		"PF": {storage.IdentityProfessional},
		"PX": {storage.IdentityLegalPerson, storage.IdentityProfessional, storage.IdentityProfessionalForLegal},
	}[purpose]
	if t == 0 {
		t = storage.IdentityCitizen
	}
	for _, a := range allowed {
		if a == t {
			return true
		}
	}
	return false
}
