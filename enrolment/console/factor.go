package console

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The second factor of operators (security.md E.1): after the password
// the session is half-open and only these pages answer it. An operator
// with a factor passes it; one without a factor redeems the supervisor's
// enrolment code and registers a passkey or a TOTP app, which is also the
// first use of that factor. Either way the session then gets a new ID.

// maxFactorTries refused answers end the half-open session: the password
// must be typed again.
const maxFactorTries = 5

// pendingTOTP is a TOTP seed shown on the enrolment page, sealed to the
// operator and the factor ID it will get.
type pendingTOTP struct {
	FactorID string `json:"id"`
	Sealed   []byte `json:"sealed"`
}

const (
	pathFactor        = "/console/factor"
	pathFactorTOTP    = "/console/factor/totp"
	pathFactorPasskey = "/console/factor/passkey"
	pathFactorCode    = "/console/factor/code"
	pathEnrolTOTP     = "/console/factor/enrol-totp"
	pathEnrolPasskey  = "/console/factor/enrol-passkey"
)

func (c *Console) factorPage(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	if o.sess.Factor != "" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.renderFactor(w, r, o, http.StatusOK, "")
}

// renderFactor shows the step the operator is at. A passkey ceremony or a
// TOTP seed drawn for the page is kept in the session for the answer.
func (c *Console) renderFactor(w http.ResponseWriter, r *http.Request, o *operatorCtx, status int, errKey string) {
	op := o.op
	p := templates.ConsoleFactorPage{ConsoleFrame: c.frame(o), ErrorKey: errKey}
	var ceremony []byte
	var pending *pendingTOTP
	switch {
	case opfactor.Has(op, ""):
		p.Mode, p.TOTPAction, p.PasskeyAction = "verify", pathFactorTOTP, pathFactorPasskey
		p.HasTOTP, p.HasPasskey = opfactor.Has(op, storage.FactorTOTP), opfactor.Has(op, storage.FactorWebAuthn)
		if p.HasPasskey && c.Factors.RP != nil {
			cer, err := c.Factors.BeginLogin(op)
			switch {
			case err == nil:
				p.PasskeyOptions, ceremony = string(cer.Options), cer.Session
			case !errors.Is(err, opfactor.ErrNoFactor):
				c.fail(w, err)
				return
			}
		}
	case o.sess.EnrolOK:
		p.Mode, p.TOTPAction, p.PasskeyAction = "enrol", pathEnrolTOTP, pathEnrolPasskey
		if c.Factors.RP != nil {
			cer, err := c.Factors.BeginRegistration(op)
			if err != nil {
				c.fail(w, err)
				return
			}
			p.PasskeyOptions, ceremony = string(cer.Options), cer.Session
		}
		t, err := c.Factors.NewTOTP(op)
		if err != nil {
			c.fail(w, err)
			return
		}
		png, err := otp.QRPNG(t.URI, 200)
		if err != nil {
			c.fail(w, err)
			return
		}
		// A data: URL of our own PNG, never input: safe as an image source.
		p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		p.Secret = t.Secret
		pending = &pendingTOTP{FactorID: t.FactorID, Sealed: t.Sealed}
	case op.SecondFactor.EnrolCodeHash != "":
		p.Mode, p.CodeAction = "code", pathFactorCode
	default:
		p.Mode = "none"
	}
	if err := c.saveSession(r.Context(), o.sess, func(s *session) { s.Ceremony, s.PendingTOTP = ceremony, pending }); err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, status, templates.PageConsoleFactor, o.lang, p)
}

// factorPost takes one answer: a TOTP code, a passkey assertion, the
// enrolment code, or a new factor's registration.
func (c *Console) factorPost(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	if o.sess.Factor != "" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	step := r.PathValue("step")
	switch step {
	case "totp", "passkey", "code", "enrol-totp", "enrol-passkey":
	default:
		http.NotFound(w, r)
		return
	}
	allowed, err := c.FactorLimiter.Allow(ctx, regulation.UserKey(o.op.ID))
	if err != nil {
		c.fail(w, err)
		return
	}
	if !allowed {
		c.record(ctx, o.op.ID, "console.factor", o.op.ID, audit.Denied, map[string]string{"step": step, "error": "throttled", "ip": clientIP(r)})
		c.renderFactor(w, r, o, http.StatusTooManyRequests, "console.factor.err.throttled")
		return
	}
	var kind, factorID, errKey string
	switch step {
	case "totp":
		kind, errKey = storage.FactorTOTP, "console.factor.err.totp"
		factorID, err = c.Factors.CheckTOTP(ctx, o.op.ID, r.PostFormValue("otp"))
	case "passkey":
		kind, errKey = storage.FactorWebAuthn, "console.factor.err.passkey"
		factorID, err = c.Factors.FinishLogin(ctx, o.op, o.sess.Ceremony, strings.NewReader(r.PostFormValue("credential")))
	case "code":
		c.redeemCode(w, r, o)
		return
	case "enrol-totp":
		kind, errKey = storage.FactorTOTP, "console.factor.err.totp"
		switch {
		case !o.sess.EnrolOK || opfactor.Has(o.op, "") || o.sess.PendingTOTP == nil:
			err = opfactor.ErrRefused
		default:
			factorID = o.sess.PendingTOTP.FactorID
			err = c.Factors.AddTOTP(ctx, o.op.ID, factorID, o.sess.PendingTOTP.Sealed, r.PostFormValue("otp"))
		}
	case "enrol-passkey":
		kind, errKey = storage.FactorWebAuthn, "console.factor.err.passkey"
		if !o.sess.EnrolOK || opfactor.Has(o.op, "") {
			err = opfactor.ErrRefused
		} else {
			factorID, err = c.Factors.FinishRegistration(ctx, o.op, o.sess.Ceremony, strings.NewReader(r.PostFormValue("credential")))
		}
	}
	enrol := strings.HasPrefix(step, "enrol-")
	action := "console.factor"
	if enrol {
		action = "console.factor.register"
	}
	if err != nil {
		if !errors.Is(err, opfactor.ErrRefused) && !errors.Is(err, opfactor.ErrNoFactor) && !errors.Is(err, opfactor.ErrTooManyFactors) {
			c.fail(w, err)
			return
		}
		c.record(ctx, o.op.ID, action, o.op.ID, audit.Failure, map[string]string{"kind": kind, "error": err.Error(), "ip": clientIP(r)})
		c.refused(w, r, o, errKey)
		return
	}
	c.record(ctx, o.op.ID, action, factorID, audit.Success, map[string]string{"kind": kind, "operator": o.op.Username, "ip": clientIP(r)})
	_ = c.FactorLimiter.Reset(ctx, regulation.UserKey(o.op.ID))
	// Signed in: a new session ID, the 8-hour limit from now.
	now := c.now()
	full := session{OperatorID: o.op.ID, Username: o.op.Username, Created: now, Seen: now, Factor: kind}
	if err := c.startSession(w, r, full, now.Add(SessionLifetime)); err != nil {
		c.fail(w, err)
		return
	}
	c.record(ctx, o.op.ID, "console.login", o.op.ID, audit.Success, map[string]string{"kind": kind,
		"username": o.op.Username, "roles": strings.Join(o.op.Roles, ","), "ip": clientIP(r)})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// refused counts a wrong answer; after maxFactorTries the half-open
// session ends and the password is asked again.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, o *operatorCtx, errKey string) {
	tries := 0
	if err := c.saveSession(r.Context(), o.sess, func(s *session) { s.Tries++; tries = s.Tries }); err != nil {
		c.fail(w, err)
		return
	}
	if tries >= maxFactorTries {
		_ = c.Eph.DeleteValue(r.Context(), sessionKey(o.sess.ID))
		c.record(r.Context(), o.op.ID, "console.logout", o.op.ID, audit.Success, map[string]string{"reason": "too many second-factor failures"})
		http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Path: "/", MaxAge: -1, Secure: c.secure(), HttpOnly: true})
		lang := o.lang
		c.renderLogin(w, r, lang, http.StatusUnauthorized, templates.ConsoleLoginPage{Failed: true})
		return
	}
	c.renderFactor(w, r, o, http.StatusUnauthorized, errKey)
}

// redeemCode checks the supervisor's enrolment code; once accepted the
// session may register a first factor.
func (c *Console) redeemCode(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	if opfactor.Has(o.op, "") {
		// A registered factor is passed, not replaced from here: a reset
		// goes through a supervisor (spid-idp operator reset-factor).
		c.renderFactor(w, r, o, http.StatusConflict, "console.factor.err.code")
		return
	}
	err := c.Factors.RedeemEnrolCode(ctx, o.op.ID, oneLine(r.PostFormValue("enrol_code"), 40))
	switch {
	case err == nil:
	case errors.Is(err, opfactor.ErrNoCode), errors.Is(err, opfactor.ErrWrongCode), errors.Is(err, opfactor.ErrCodeExpired), errors.Is(err, opfactor.ErrTooManyTries):
		c.record(ctx, o.op.ID, "console.factor.enrol_code", o.op.ID, audit.Failure, map[string]string{"error": err.Error(), "ip": clientIP(r)})
		// Re-read: a voided code changes the page (no code waiting).
		if op, gerr := c.Store.GetOperator(ctx, o.op.ID); gerr == nil {
			o.op = op
		}
		c.refused(w, r, o, "console.factor.err.code")
		return
	default:
		c.fail(w, err)
		return
	}
	c.record(ctx, o.op.ID, "console.factor.enrol_code", o.op.ID, audit.Success, map[string]string{"ip": clientIP(r)})
	if err := c.saveSession(ctx, o.sess, func(s *session) { s.EnrolOK, s.Tries = true, 0 }); err != nil {
		c.fail(w, err)
		return
	}
	http.Redirect(w, r, pathFactor, http.StatusSeeOther)
}
