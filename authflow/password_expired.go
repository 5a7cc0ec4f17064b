package authflow

import (
	"errors"
	"net/http"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The forced change of an expired password (enrolment-lifecycle.md §7.2,
// E063): a right password past its maximum age does not complete the
// login; the citizen chooses a new one on PathNewPassword, under the same
// rules as everywhere else (composition, history), and the login goes on
// from there.

// PathNewPassword receives the new password of a login stopped because
// the old one expired.
const PathNewPassword = "/login/password"

// stepNewPassword: the password was right but expired.
const stepNewPassword = "newpassword"

// passwordExpired reports whether cred's password must be changed before
// the login completes; never without Options.PasswordRules.
func (p *Engine) passwordExpired(cred storage.Credential) bool {
	return p.o.PasswordRules != nil && p.o.PasswordRules.Expired(cred, p.now())
}

// stopForNewPassword records the right but expired password and shows the
// change page.
func (p *Engine) stopForNewPassword(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity) {
	if err := p.o.Audit.Record(r.Context(), Event(id.ID, "login.password", f.SP, audit.Success,
		map[string]string{"flow": f.ID, "next": "password change (expired)"})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	f.Identity, f.Step = id.ID, stepNewPassword
	p.showNewPassword(w, r, sp, f, templates.PasswordExpiredPage{}, http.StatusOK)
}

func (p *Engine) showNewPassword(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, page templates.PasswordExpiredPage, status int) {
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	page.Service = p.service(sp, f, templates.Lang(r))
	page.CSRF = p.csrfToken(f)
	page.Action = flowURL(PathNewPassword, sealed)
	p.Render(w, r, status, templates.PagePasswordExpired, page)
}

// newPassword handles the change page's form.
func (p *Engine) newPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, sp, ok := p.openFlow(w, r)
	if !ok {
		return
	}
	if f.Identity == "" || f.Step != stepNewPassword || p.o.PasswordRules == nil {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	if r.PostForm.Get(templates.FieldOp) == templates.OpCancel {
		p.spAnomaly(w, r, sp, f, spid.NrCancelled, "cancelled by the user on the expired-password page")
		return
	}
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
		return
	}
	next := r.PostForm.Get(templates.FieldNewPassword)
	if next != r.PostForm.Get(templates.FieldConfirm) {
		p.showNewPassword(w, r, sp, f, templates.PasswordExpiredPage{Mismatch: true}, http.StatusUnprocessableEntity)
		return
	}
	if probs := identity.CheckPassword(next, id.Username, id.Attributes); len(probs) > 0 {
		p.showNewPassword(w, r, sp, f, templates.PasswordExpiredPage{Problems: policyWords(templates.Lang(r), probs)}, http.StatusUnprocessableEntity)
		return
	}
	err := p.o.PasswordRules.Change(ctx, p.o.Store, id.ID, next, p.o.Argon2, p.now().UTC())
	switch {
	case errors.Is(err, pwrules.ErrReused):
		p.showNewPassword(w, r, sp, f, templates.PasswordExpiredPage{Problems: []string{pwrules.ReusedMessage(templates.Lang(r))}}, http.StatusUnprocessableEntity)
		return
	case err != nil:
		p.o.Log.ErrorContext(ctx, "expired password change", "identity", id.ID, "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	// Whoever held a session with the old password loses it; this flow
	// continues under the new epoch.
	epoch, err := sessions.End(ctx, p.o.Store, id.ID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "ending sessions after a password change", "identity", id.ID, "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	f.Epoch, id.SessionEpoch = epoch, epoch
	if err := p.o.Audit.Record(ctx, Event(id.ID, "password.change", f.SP, audit.Success,
		map[string]string{"flow": f.ID, "reason": "expired"})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	f.Step = ""
	p.afterPassword(w, r, sp, f, id, nil)
}

// policyWords says the broken password rules to the citizen in lang; the
// checker's own strings are for logs and tests, in English.
func policyWords(lang string, probs []string) []string {
	out := make([]string, 0, len(probs))
	for _, pr := range probs {
		m, ok := identity.PasswordMessage(lang, pr)
		if !ok {
			m = templates.Text(lang, "pwexpired.policy")
		}
		out = append(out, m)
	}
	return out
}
