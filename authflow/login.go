package authflow

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// fieldFlow is the hidden field carrying the sealed flow state.
const fieldFlow = "flow"

// maxUsernameLen bounds what we look up and log.
const maxUsernameLen = 254

func (p *Engine) csrfToken(f *State) string {
	return csrf.Token(p.csrfKey, f.Browser+"|"+f.ID)
}

func (p *Engine) service(sp *metadata.SP, f *State, lang string) templates.Service {
	s := templates.Service{SPName: spName(sp, lang), Level: spid.Level(f.Level)}
	if f.AttrIndex != nil {
		if as, ok := sp.AttributeService(*f.AttrIndex); ok {
			s.ServiceName = as.ServiceName[lang]
			if s.ServiceName == "" {
				s.ServiceName = as.ServiceName["it"]
			}
		}
	}
	return s
}

// pathRecover is credential recovery (package recovery, mounted by app).
const pathRecover = "/recover"

// showLogin renders P01 for the flow; page carries the failure state.
func (p *Engine) showLogin(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, page templates.LoginPage) {
	sealed, err := p.flows.seal(f)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "sealing flow", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	page.Service = p.service(sp, f, templates.Lang(r))
	page.CSRF = p.csrfToken(f)
	page.Action = PathLogin + "?" + fieldFlow + "=" + sealed
	page.Self = page.Action
	// P09 offers "back to login" into this same flow (ui.md P09).
	page.ForgotURL = pathRecover + "?back=" + url.QueryEscape(page.Action)
	status := http.StatusOK
	if page.Failed || page.Notice != "" {
		status = http.StatusUnauthorized
	}
	p.Render(w, r, status, templates.PageLogin, page)
}

// openFlow checks a flow form post: same-origin, a valid sealed flow bound
// to this browser, a valid CSRF token, the SP still trusted. On failure it
// has already answered.
func (p *Engine) openFlow(w http.ResponseWriter, r *http.Request) (*State, *metadata.SP, bool) {
	ctx := r.Context()
	if err := csrf.CheckOrigin(r, p.origin); err != nil {
		p.o.Log.InfoContext(ctx, "cross-site form post refused", "err", err)
		p.Fail(w, r, templates.ReasonForbidden)
		return nil, nil, false
	}
	if err := r.ParseForm(); err != nil {
		p.Fail(w, r, templates.ReasonBadRequest)
		return nil, nil, false
	}
	sealed := r.URL.Query().Get(fieldFlow)
	if sealed == "" {
		sealed = r.PostForm.Get(fieldFlow)
	}
	f, err := p.flows.open(sealed)
	if err != nil {
		p.o.Log.InfoContext(ctx, "flow refused", "err", err)
		p.Fail(w, r, templates.ReasonFlowExpired)
		return nil, nil, false
	}
	if p.cookies.get(r, browserCookie) != f.Browser || !csrf.Valid(p.csrfKey, f.Browser+"|"+f.ID, r.PostForm.Get(templates.FieldCSRF)) {
		p.o.Log.InfoContext(ctx, "flow post without its browser cookie or CSRF token", "flow", f.ID)
		p.Fail(w, r, templates.ReasonForbidden)
		return nil, nil, false
	}
	sp, err := p.flowSP(ctx, f)
	if err != nil {
		p.o.Log.WarnContext(ctx, "SP of a flow is no longer trusted", "sp", f.SP, "err", err)
		p.Fail(w, r, templates.ReasonFlowExpired)
		return nil, nil, false
	}
	if p.now().Sub(f.created()) > p.o.ConsentTimeout {
		p.spAnomaly(w, r, sp, f, spid.NrTimeout, "login not completed in time")
		return nil, nil, false
	}
	return f, sp, true
}

// viewFlow shows the current step of a flow again (GET): the language
// switch links here. Only the browser the flow belongs to may see it.
func (p *Engine) viewFlow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	templates.SetLang(w, r)
	f, err := p.flows.open(r.URL.Query().Get(fieldFlow))
	if err != nil || p.cookies.get(r, browserCookie) != f.Browser || p.now().Sub(f.created()) > p.o.ConsentTimeout {
		p.Fail(w, r, templates.ReasonFlowExpired)
		return
	}
	sp, err := p.flowSP(ctx, f)
	if err != nil {
		p.Fail(w, r, templates.ReasonFlowExpired)
		return
	}
	switch {
	case f.Identity == "":
		p.showLogin(w, r, sp, f, templates.LoginPage{})
		return
	case f.Step == stepNewPassword:
		p.showNewPassword(w, r, sp, f, templates.PasswordExpiredPage{}, http.StatusOK)
		return
	case !f.authenticated():
		p.showSecondFactor(w, r, sp, f)
		return
	}
	if f.Step == stepAA && p.aaPending(f) {
		p.viewAA(w, r, sp, f)
		return
	}
	id, err := p.o.Store.GetIdentity(ctx, f.Identity)
	if err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	p.showConsent(w, r, sp, f, id)
}

// login handles P01: cancel, or check the identifier and password.
func (p *Engine) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	start := time.Now()
	f, sp, ok := p.openFlow(w, r)
	if !ok {
		return
	}
	if f.Identity != "" {
		// Past the password step: this form belongs to an older page.
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	if r.PostForm.Get(templates.FieldOp) == templates.OpCancel {
		p.spAnomaly(w, r, sp, f, spid.NrCancelled, "cancelled by the user on the login page")
		return
	}
	username := strings.ToLower(strings.TrimSpace(r.PostForm.Get(templates.FieldUsername)))
	pw := r.PostForm.Get(templates.FieldPassword)
	if len(username) > maxUsernameLen {
		username = username[:maxUsernameLen]
	}
	allowed, err := p.allowAttempt(ctx, username)
	if err != nil {
		// The throttle's store is out: that is an outage (503), not the
		// citizen's fault (429), and nothing is counted.
		p.o.Log.ErrorContext(ctx, "login throttle", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if !allowed {
		p.Render(w, r, http.StatusTooManyRequests, templates.PageError, templates.ErrorPage{Reason: templates.ReasonTooManyRequests})
		return
	}

	id, cred, known, err := p.lookup(ctx, username)
	if err != nil {
		// An identity that could not be read is not an unknown one: no
		// "wrong credentials", no failure counted, no audit record of a
		// failed login.
		p.o.Log.ErrorContext(ctx, "identity lookup", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	var good bool
	gateErr := p.o.HashGate.Do(ctx, func() {
		if known && cred.PasswordHash == "" {
			// No password any more (cleared after revocation): same cost and
			// answer as an unknown identifier.
			password.DummyVerify(p.o.Argon2, pw)
		} else if known {
			var err error
			good, err = password.Verify(cred.PasswordHash, pw)
			if err != nil && !errors.Is(err, password.ErrPasswordLong) {
				p.o.Log.ErrorContext(ctx, "stored password hash unreadable", "identity", id.ID, "err", err)
				good = false
			}
		} else {
			// Same work as a real check, so timing does not reveal whether the
			// identifier exists (security.md C.3).
			password.DummyVerify(p.o.Argon2, pw)
		}
	})
	if gateErr != nil {
		// The password was not checked: nothing is counted against the
		// credential or the flow, and the same form can be sent again.
		p.o.Log.WarnContext(ctx, "password check not run", "err", gateErr)
		w.Header().Set("Retry-After", strconv.Itoa(p.o.HashGate.RetryAfter()))
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}

	if known && good {
		cur, locked, err := p.o.Regulator.Current(ctx, id.ID)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "lockout check", "err", err)
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		if locked {
			// Only someone who knows the password learns of the lock.
			p.spAnomaly(w, r, sp, withActor(f, id.ID), spid.NrSuspendedRevoked, "credentials locked after repeated failures")
			return
		}
		p.loginSucceeded(w, r, sp, f, id, cred, cur, pw)
		return
	}

	// A failure: count it for the credential (lockout across flows) and for
	// this flow (nr19 after MaxFailures, spec §7.3).
	if p.o.FailureDelay != nil {
		_ = p.o.FailureDelay.Pad(ctx, start, false) // before anything is written
	}
	details := map[string]string{"flow": f.ID, "sp": f.SP}
	actor := "anonymous"
	if known {
		actor = id.ID
		fl, err := p.o.Regulator.FailPassword(ctx, id.ID)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "recording failed login", "err", err)
		} else if err := p.lockedNow(ctx, id.ID, alert.PasswordLock, fl, f.ID, f.SP); err != nil {
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
	} else {
		details["username_unknown"] = "true"
	}
	if err := p.o.Audit.Record(ctx, Event(actor, "login.password", f.SP, audit.Failure, details)); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	n, err := p.o.Eph.Incr(ctx, "flowfail:"+f.ID, p.o.ConsentTimeout)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "counting flow failures", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if int(n) >= p.o.MaxFailures {
		p.spAnomaly(w, r, sp, withActor(f, actor), spid.NrCredentialsExhausted, "attempts exhausted")
		return
	}
	p.showLogin(w, r, sp, f, templates.LoginPage{Username: username, Failed: true, AttemptsLeft: p.o.MaxFailures - int(n)})
}

func withActor(f *State, actor string) *State {
	c := *f
	if actor != "anonymous" {
		c.Identity = actor
	}
	return &c
}

// allowAttempt applies the per-address and per-username throttles; an
// error means the throttle could not be consulted (an outage).
func (p *Engine) allowAttempt(ctx context.Context, username string) (bool, error) {
	l := p.o.LoginLimiter
	if l == nil {
		return true, nil
	}
	keys := []string{regulation.UserKey(username)}
	if a, err := netip.ParseAddr(requestctx.ClientIP(ctx)); err == nil {
		keys = append(keys, regulation.IPKey(a))
	}
	for _, k := range keys {
		ok, err := l.Allow(ctx, k)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// lookup finds the identity and credential of username; known is false
// for an unknown username, err is set when the store could not tell.
func (p *Engine) lookup(ctx context.Context, username string) (storage.Identity, storage.Credential, bool, error) {
	if username == "" {
		return storage.Identity{}, storage.Credential{}, false, nil
	}
	id, err := p.o.Store.GetIdentityByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Identity{}, storage.Credential{}, false, nil
	}
	if err != nil {
		return storage.Identity{}, storage.Credential{}, false, err
	}
	cred, err := p.o.Store.GetCredential(ctx, id.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Identity{}, storage.Credential{}, false, nil
	}
	if err != nil {
		return storage.Identity{}, storage.Credential{}, false, err
	}
	return id, cred, true, nil
}

// loginSucceeded applies the checks that need the identity, then moves the
// flow to consent. cred is the credential whose hash pw matched, cur the
// same row read again after the check (the lockout's view).
func (p *Engine) loginSucceeded(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity, cred, cur storage.Credential, pw string) {
	ctx := r.Context()
	p.rehash(ctx, id.ID, cred, pw)
	// id was read before the password was checked: if the identity's
	// sessions are ended from now on (password changed meanwhile, device
	// revoked, suspended), consent sees the epoch moved and stops the flow.
	f.Epoch = id.SessionEpoch
	if !p.rotateBrowser(w, r, f) {
		return
	}
	fa := withActor(f, id.ID)
	if id.Status != storage.IdentityActive {
		p.spAnomaly(w, r, sp, fa, spid.NrSuspendedRevoked, "identity is "+string(id.Status))
		return
	}
	if !purposeAllows(f.Purpose, id.Type) {
		p.spAnomaly(w, r, sp, fa, spid.NrIdentityType, "identity type not allowed for purpose "+f.Purpose)
		return
	}
	if p.passwordExpired(cred) {
		p.stopForNewPassword(w, r, sp, f, id)
		return
	}
	p.afterPassword(w, r, sp, f, id, &cur)
}

// afterPassword goes on from a right (and current) password: to the second
// factor when the request needs one, else to consent. cur, if not nil, is
// the credential as read just after the password check.
func (p *Engine) afterPassword(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity, cur *storage.Credential) {
	ctx := r.Context()
	if pol, _, _ := Levels(spid.Level(f.Level), f.Comparison); !pol.Allows(spid.L1) {
		// The password was right; the request needs a second factor. The
		// failure count stays: only the completed level 2 resets it, or
		// wrong codes could be guessed forever a few per login (S070).
		if err := p.o.Audit.Record(ctx, Event(id.ID, "login.password", f.SP, audit.Success,
			map[string]string{"flow": f.ID, "level": "1", "next": "second factor"})); err != nil {
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		f.Identity, f.Step = id.ID, stepSecond
		p.secondFactor(w, r, sp, f, id)
		return
	}
	// A completed level-1 authentication: wrong passwords are forgotten,
	// wrong second-factor answers are not (regulation.SucceedPassword).
	reset := func() error { return p.o.Regulator.SucceedPassword(ctx, id.ID) }
	if cur != nil {
		reset = func() error { return p.o.Regulator.SucceedPasswordAfter(ctx, id.ID, *cur) }
	}
	if err := reset(); err != nil {
		p.o.Log.ErrorContext(ctx, "resetting failure counter", "err", err)
	}
	f.Identity, f.Performed, f.AuthnInstant, f.Step = id.ID, int(spid.L1), p.now().UnixMilli(), stepConsent
	if err := p.o.Audit.Record(ctx, Event(id.ID, "login.password", f.SP, audit.Success,
		map[string]string{"flow": f.ID, "level": "1"})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	p.showConsent(w, r, sp, f, id)
}

// rehash upgrades a password hash made with other parameters, now that the
// clear password is at hand; a failure only delays the upgrade.
func (p *Engine) rehash(ctx context.Context, identityID string, cred storage.Credential, pw string) {
	if !password.NeedsRehash(cred.PasswordHash, p.o.Argon2) {
		return
	}
	h, err := password.Hash(pw, p.o.Argon2)
	if err == nil {
		err = p.o.Store.UpdateCredential(ctx, identityID, func(c storage.Credential) (storage.Credential, error) {
			// A password changed meanwhile stays: pw is the one before.
			if c.PasswordHash == cred.PasswordHash {
				c.PasswordHash, c.UpdatedAt = h, p.now()
			}
			return c, nil
		})
	}
	if err != nil {
		p.o.Log.WarnContext(ctx, "upgrading password hash", "identity", identityID, "err", err)
	}
}
