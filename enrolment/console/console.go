// Package console is the operator back office of enrolment (ui.md §9,
// enrolment-lifecycle.md §2, §5.4–§5.6, §6, §12.3): operator login, the
// verification queue with its deadlines, the case page (claim, approve,
// reject, ask for documents, evidence opened for a stated reason), and the
// recognition pages of shop agents, counter operators and video operators.
//
// The console decides nothing on its own: every state change goes through
// enrolment.Service, which re-checks roles, the four-eyes rule and the
// state machine. The console adds what only the web side knows: who is
// signed in, which request an agent found by code, the OTP and the
// time-stamped checklist of a recognition session, and the audited
// opening of evidence.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/hashgate"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Prefix is where the console is mounted.
const Prefix = "/console/"

// Times of the console.
const (
	SessionLifetime = 8 * time.Hour    // one working shift, however active
	SessionIdle     = 15 * time.Minute // signed out after this long without a request (security.md E.1)
	// PreFactorLifetime bounds the half-open session between the password
	// and the second factor (or the enrolment of the first factor).
	PreFactorLifetime = 10 * time.Minute
	ticketTTL         = time.Minute // an evidence-open grant, used once
)

// Console serves /console/. Service, Store, Eph, Pages, Audit and CSRFKey
// are required.
type Console struct {
	Service *enrolment.Service
	Store   storage.Store
	Eph     storage.Ephemeral
	Pages   *templates.Renderer
	Audit   *audit.Logger
	// CSRFKey signs the synchroniser tokens (at least 32 bytes).
	CSRFKey []byte
	// Origin is the IdP's base URL (scheme://host[:port]); the Origin
	// header of posts is checked against it. An https origin makes the
	// cookie __Host- and Secure.
	Origin string
	// HashGate bounds the password checks computed at once with the IdP's
	// (nil: unbounded).
	HashGate *hashgate.Gate
	// Argon2 is the parameter set of the dummy hash that keeps an unknown
	// username as slow as a wrong password.
	Argon2 password.Params
	// Factors checks and registers the operators' second factors; every
	// sign-in needs one (security.md E.1). Required.
	Factors *opfactor.Service
	// FactorLimiter caps second-factor attempts per operator. Nil: 10 per
	// 15 minutes.
	FactorLimiter *regulation.Limiter
	// Limits on login attempts: per client network and per username
	// (counted whether or not the user exists). Nil: defaults.
	IPLimiter, UserLimiter *regulation.Limiter
	// Responsible is shown in every page (DPCM art. 7 c.1).
	Responsible   string
	ResponsibleEN string // on English pages; "": Responsible
	// MaxUpload caps one uploaded scan; recordings use the evidence
	// store's default. 0: evidence.DefaultMaxBytes.
	MaxUpload int64
	Now       func() time.Time
	Log       *slog.Logger

	dummy string
}

func (c *Console) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Console) secure() bool { return strings.HasPrefix(c.Origin, "https://") }

func (c *Console) cookieName() string {
	if c.secure() {
		return "__Host-spid-console"
	}
	return "spid-console"
}

// Handler returns the console's routes, to be mounted at Prefix.
func (c *Console) Handler() (http.Handler, error) {
	if c.Service == nil || c.Store == nil || c.Eph == nil || c.Pages == nil || c.Audit == nil {
		return nil, errors.New("console: Service, Store, Eph, Pages and Audit are required")
	}
	if c.Factors == nil || c.Factors.Sealer == nil || c.Factors.Store == nil {
		return nil, errors.New("console: the operators' second factor (Factors, with a data key) is required")
	}
	if c.FactorLimiter == nil {
		c.FactorLimiter = &regulation.Limiter{Eph: c.Eph, Max: 10, Window: 15 * time.Minute, Prefix: "console-factor-user:"}
	}
	if len(c.CSRFKey) < csrf.MinSecretLen {
		return nil, fmt.Errorf("console: CSRF key shorter than %d bytes", csrf.MinSecretLen)
	}
	if c.IPLimiter == nil {
		c.IPLimiter = &regulation.Limiter{Eph: c.Eph, Max: 30, Window: time.Minute, Prefix: "console-login-ip:"}
	}
	if c.UserLimiter == nil {
		c.UserLimiter = &regulation.Limiter{Eph: c.Eph, Max: 10, Window: 15 * time.Minute, Prefix: "console-login-user:"}
	}
	p := c.Argon2
	if p.Time == 0 {
		p = password.Default
	}
	d, err := password.DummyHash(p)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.dummy = d
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.HandleFunc("POST /console/logout", c.pre(c.logout))
	mux.HandleFunc("GET /console/factor", c.pre(c.factorPage))
	mux.HandleFunc("POST /console/factor/{step}", c.pre(c.factorPost))
	mux.HandleFunc("GET "+pathOperators, c.auth(c.operatorsPage))
	mux.HandleFunc("POST "+pathOperators+"/{id}/reset-factor", c.auth(c.resetFactor))
	mux.HandleFunc("GET /console/{$}", c.auth(c.home))
	mux.HandleFunc("GET /console/queue", c.auth(c.queue))
	mux.HandleFunc("GET /console/requests/{id}", c.auth(c.request))
	mux.HandleFunc("POST /console/requests/{id}/{action}", c.auth(c.decide))
	mux.HandleFunc("POST /console/requests/{id}/evidence/{item}", c.auth(c.openEvidence))
	mux.HandleFunc("GET /console/evidence/{ticket}", c.auth(c.streamEvidence))
	mux.HandleFunc("GET /console/find", c.auth(c.findPage))
	mux.HandleFunc("POST /console/find", c.auth(c.find))
	mux.HandleFunc("GET /console/recognise/{id}", c.auth(c.recognisePage))
	mux.HandleFunc("GET /console/recognise/{id}/form", c.auth(c.adhesionForm))
	mux.HandleFunc("POST /console/recognise/{id}/{action}", c.auth(c.recognise))
	return mux, nil
}

// session is a signed-in operator, kept in the ephemeral store under the
// hash of the cookie's random ID.
type session struct {
	ID         string    `json:"-"`
	OperatorID string    `json:"operator_id"`
	Username   string    `json:"username"`
	Created    time.Time `json:"created"`
	Seen       time.Time `json:"seen"`
	// Factor is the kind of second factor the operator passed; "" while
	// the session waits for it (only the factor pages answer then).
	Factor string `json:"factor,omitempty"`
	// EnrolOK: the supervisor's enrolment code was accepted in this
	// half-open session, so a first factor may be registered.
	EnrolOK bool `json:"enrol_ok,omitempty"`
	// Ceremony is the WebAuthn registration or login in progress.
	Ceremony []byte `json:"ceremony,omitempty"`
	// PendingTOTP is a TOTP seed shown for enrolment, sealed.
	PendingTOTP *pendingTOTP `json:"pending_totp,omitempty"`
	// Tries counts refused second-factor answers in this session.
	Tries int `json:"tries,omitempty"`
	// Found are the requests the agent opened by code + CF suffix; an agent
	// sees no other request.
	Found map[string]time.Time `json:"found,omitempty"`
	// Rec is the recognition in progress per request.
	Rec map[string]*recState `json:"rec,omitempty"`
}

// recState is one recognition session: the OTP transaction and the
// time-stamped checklist (§5.4).
type recState struct {
	Nonce     string               `json:"nonce"` // binds the OTP to this session (E037)
	OTPSentAt time.Time            `json:"otp_sent_at,omitzero"`
	OTPOKAt   time.Time            `json:"otp_ok_at,omitzero"`
	Ticks     map[string]time.Time `json:"ticks,omitempty"`
}

var errSessionExpired = errors.New("console: session expired")

func sessionKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return "console:session:" + hex.EncodeToString(h[:])
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// operatorCtx is a request of a signed-in, active operator.
type operatorCtx struct {
	sess *session
	op   storage.Operator
	lang string
}

func (o *operatorCtx) has(roles ...enrolment.Role) bool {
	for _, r := range roles {
		if slices.Contains(o.op.Roles, string(r)) {
			return true
		}
	}
	return false
}

func (o *operatorCtx) can(a enrolment.Action) bool { return enrolment.Can(o.op.Roles, a) }

type handler func(w http.ResponseWriter, r *http.Request, o *operatorCtx)

// auth loads the session (idle and absolute limits), re-reads the operator
// (a disabled account is out at once), and checks CSRF on every post. A
// session still waiting for the second factor goes to the factor page.
func (c *Console) auth(h handler) http.HandlerFunc {
	return c.session(true, h)
}

// pre is auth for the pages of the second factor and logout: a half-open
// session is enough.
func (c *Console) pre(h handler) http.HandlerFunc {
	return c.session(false, h)
}

func (c *Console) session(full bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lang := templates.SetLang(w, r)
		sess, err := c.loadSession(r)
		if err != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if full && sess.Factor == "" {
			http.Redirect(w, r, "/console/factor", http.StatusSeeOther)
			return
		}
		op, err := c.Store.GetOperator(r.Context(), sess.OperatorID)
		if err != nil || op.Status != storage.OperatorActive {
			_ = c.Eph.DeleteValue(r.Context(), sessionKey(sess.ID))
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if err := csrf.CheckOrigin(r, c.Origin); err != nil || !csrf.Valid(c.CSRFKey, sess.ID, r.FormValue(csrf.FieldName)) {
				c.record(r.Context(), op.ID, "console.csrf", r.URL.Path, audit.Denied, nil)
				c.message(w, r, http.StatusForbidden, &operatorCtx{sess: sess, op: op, lang: lang}, msg(lang, "Richiesta non valida", "Invalid request"),
					msg(lang, "Il modulo è scaduto o non proviene dalla console: ricarica la pagina e riprova.", "The form expired or did not come from the console: reload the page and try again."))
				return
			}
		}
		h(w, r, &operatorCtx{sess: sess, op: op, lang: lang})
	}
}

func (c *Console) loadSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return nil, storage.ErrNotFound
	}
	key := sessionKey(ck.Value)
	now := c.now()
	var s session
	var expired string
	err = c.Eph.UpdateValue(r.Context(), key, func(b []byte) ([]byte, error) {
		s = session{}
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		switch {
		case s.Factor == "" && now.Sub(s.Created) > PreFactorLifetime:
			expired = "second factor not given in time"
		case now.Sub(s.Created) > SessionLifetime:
			expired = "absolute limit"
		case now.Sub(s.Seen) > SessionIdle:
			expired = "idle"
		}
		if expired != "" {
			return nil, errSessionExpired
		}
		s.Seen = now
		return json.Marshal(s)
	})
	if errors.Is(err, errSessionExpired) {
		// Out for good: the record goes, and the audit log says why.
		_ = c.Eph.DeleteValue(r.Context(), key)
		c.record(r.Context(), s.OperatorID, "console.session_expired", s.OperatorID, audit.Success,
			map[string]string{"reason": expired, "ip": clientIP(r)})
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.ID = ck.Value
	return &s, nil
}

// saveSession applies fn to the stored session (the agent's found list,
// the recognition state).
func (c *Console) saveSession(ctx context.Context, s *session, fn func(*session)) error {
	return c.Eph.UpdateValue(ctx, sessionKey(s.ID), func(b []byte) ([]byte, error) {
		var cur session
		if err := json.Unmarshal(b, &cur); err != nil {
			return nil, err
		}
		fn(&cur)
		cur.ID = s.ID // not in the JSON: keep it for the next save
		*s = cur
		return json.Marshal(cur)
	})
}

func (c *Console) frame(o *operatorCtx) templates.ConsoleFrame {
	f := templates.ConsoleFrame{Operator: o.op.Username, Roles: o.op.Roles, CSRF: csrf.Token(c.CSRFKey, o.sess.ID),
		Logout: "/console/logout", Home: "/console/", Responsible: c.Responsible, ResponsibleEN: c.ResponsibleEN}
	if o.sess.Factor != "" && o.has(enrolment.RoleSupervisor) {
		f.OperatorsPage = pathOperators
	}
	if o.sess.Factor != "" && o.has(enrolment.RoleVideoOperator, enrolment.RoleSupervisor) {
		f.VideoPage = "/console/video/" // the video-call agenda (package videocall)
	}
	return f
}

// --- login ---

const preCookie = "spid-console-pre"

func (c *Console) preName() string {
	if c.secure() {
		return "__Host-" + preCookie
	}
	return preCookie
}

// loginPage binds the login form's CSRF token to a random pre-session
// cookie (login CSRF).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	lang := templates.SetLang(w, r)
	c.renderLogin(w, r, lang, http.StatusOK, templates.ConsoleLoginPage{})
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, lang string, status int, p templates.ConsoleLoginPage) {
	pre, err := randomID()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.preName(), Value: pre, Path: "/", HttpOnly: true, Secure: c.secure(),
		SameSite: http.SameSiteLaxMode, MaxAge: 3600})
	p.CSRF, p.Action, p.Responsible, p.ResponsibleEN = csrf.Token(c.CSRFKey, "login:"+pre), "/console/login", c.Responsible, c.ResponsibleEN
	c.render(w, status, templates.PageConsoleLogin, lang, p)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	lang := templates.SetLang(w, r)
	ctx := r.Context()
	pre, _ := r.Cookie(c.preName())
	if pre == nil || csrf.CheckOrigin(r, c.Origin) != nil || !csrf.Valid(c.CSRFKey, "login:"+pre.Value, r.FormValue(csrf.FieldName)) {
		c.record(ctx, "anonymous", "console.login", "", audit.Denied, map[string]string{"error": "csrf", "ip": clientIP(r)})
		c.renderLogin(w, r, lang, http.StatusForbidden, templates.ConsoleLoginPage{Failed: true})
		return
	}
	username := strings.ToLower(strings.TrimSpace(r.FormValue("username")))
	pw := r.FormValue("password")
	ipOK, err1 := c.IPLimiter.Allow(ctx, regulation.IPKey(clientAddr(r)))
	userOK, err2 := c.UserLimiter.Allow(ctx, regulation.UserKey(username))
	if err := errors.Join(err1, err2); err != nil {
		c.fail(w, err)
		return
	}
	if !ipOK || !userOK {
		c.record(ctx, "anonymous", "console.login", "", audit.Denied, map[string]string{"error": "throttled", "username": oneLine(username, 64), "ip": clientIP(r)})
		c.renderLogin(w, r, lang, http.StatusTooManyRequests, templates.ConsoleLoginPage{Username: username, Throttle: true})
		return
	}
	op, err := c.Store.GetOperatorByUsername(ctx, username)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		c.fail(w, err)
		return
	}
	ok := false
	gateErr := c.HashGate.Do(ctx, func() {
		if err == nil && op.PasswordHash != "" {
			ok, err = password.Verify(op.PasswordHash, pw)
		} else {
			password.DummyVerify(c.Argon2, pw) // same cost as a real check
			err = nil
		}
	})
	if gateErr != nil {
		// Not checked, so neither right nor wrong: the form can be sent again.
		w.Header().Set("Retry-After", strconv.Itoa(c.HashGate.RetryAfter()))
		http.Error(w, msg(lang, "Servizio momentaneamente sovraccarico, riprova tra poco.",
			"The service is busy, try again shortly."), http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	if !ok || op.Status != storage.OperatorActive {
		why := "bad_credentials"
		if ok {
			why = "operator_" + op.Status
		}
		c.record(ctx, "anonymous", "console.login", op.ID, audit.Failure, map[string]string{"error": why, "username": oneLine(username, 64), "ip": clientIP(r)})
		c.renderLogin(w, r, lang, http.StatusUnauthorized, templates.ConsoleLoginPage{Username: username, Failed: true})
		return
	}
	_ = c.UserLimiter.Reset(ctx, regulation.UserKey(username))
	// The password opens a half-open session: only the second-factor pages
	// answer it, for PreFactorLifetime.
	now := c.now()
	if err := c.startSession(w, r, session{OperatorID: op.ID, Username: op.Username, Created: now, Seen: now}, now.Add(PreFactorLifetime)); err != nil {
		c.fail(w, err)
		return
	}
	c.record(ctx, op.ID, "console.login.password", op.ID, audit.Success, map[string]string{"username": op.Username,
		"roles": strings.Join(op.Roles, ","), "factors": strconv.Itoa(len(op.SecondFactor.Factors)), "ip": clientIP(r)})
	http.SetCookie(w, &http.Cookie{Name: c.preName(), Path: "/", MaxAge: -1, Secure: c.secure(), HttpOnly: true})
	http.Redirect(w, r, "/console/factor", http.StatusSeeOther)
}

// startSession stores s under a fresh ID and sets the cookie; a session of
// the browser from before ends, so no ID outlives a change of privilege
// (session fixation).
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, s session, expires time.Time) error {
	if old, err := r.Cookie(c.cookieName()); err == nil && old.Value != "" && len(old.Value) <= 64 {
		_ = c.Eph.DeleteValue(r.Context(), sessionKey(old.Value))
	}
	id, err := randomID()
	if err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("console: session: %w", err)
	}
	// The record outlives its limit a little, so a late request finds it,
	// is refused by loadSession and leaves an audit record of the expiry.
	if err := c.Eph.CreateValue(r.Context(), sessionKey(id), b, expires.Add(SessionIdle)); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: id, Path: "/", HttpOnly: true, Secure: c.secure(), SameSite: http.SameSiteLaxMode})
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	_ = c.Eph.DeleteValue(r.Context(), sessionKey(o.sess.ID))
	c.record(r.Context(), o.op.ID, "console.logout", o.op.ID, audit.Success, nil)
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Path: "/", MaxAge: -1, Secure: c.secure(), HttpOnly: true})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// home sends each role to its page.
func (c *Console) home(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	switch {
	case o.can(enrolment.ActClaim) || o.can(enrolment.ActReadAudit):
		http.Redirect(w, r, "/console/queue", http.StatusSeeOther)
	case o.can(enrolment.ActRecognise):
		http.Redirect(w, r, "/console/find", http.StatusSeeOther)
	case o.can(enrolment.ActSuspendCare):
		// Care agents work at the desk (package care, mounted under
		// /console/care/ with this console's session).
		http.Redirect(w, r, "/console/care/", http.StatusSeeOther)
	default:
		c.message(w, r, http.StatusForbidden, o, msg(o.lang, "Nessuna funzione", "Nothing to do here"),
			msg(o.lang, "Il tuo ruolo non ha funzioni nella console di registrazione.", "Your role has no functions in the enrolment console."))
	}
}

// --- helpers ---

func (c *Console) render(w http.ResponseWriter, status int, page, lang string, data any) {
	if err := c.Pages.Render(w, status, page, lang, data); err != nil {
		c.fail(w, err)
	}
}

func (c *Console) message(w http.ResponseWriter, r *http.Request, status int, o *operatorCtx, title, text string) {
	f := c.frame(o)
	c.render(w, status, templates.PageConsoleMessage, o.lang, templates.ConsoleMessagePage{ConsoleFrame: f, Title: title, Text: text, Back: "/console/"})
}

func (c *Console) fail(w http.ResponseWriter, err error) {
	if c.Log != nil {
		c.Log.Error("console", "err", err)
	}
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (c *Console) record(ctx context.Context, actor, action, target, outcome string, details map[string]string) {
	if err := c.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details}); err != nil && c.Log != nil {
		c.Log.Error("console: audit record", "action", action, "err", err)
	}
}

func msg(lang, it, en string) string {
	if lang == "en" {
		return en
	}
	return it
}

func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}

func clientIP(r *http.Request) string { return clientAddr(r).String() }

func oneLine(v string, n int) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	if len(v) > n {
		v = v[:n]
	}
	return strings.ToValidUTF8(v, "")
}

// redirect answers a post with 303 to the page, with a notice or an error
// carried in the query as a message key (never free text from the user).
func redirect(w http.ResponseWriter, r *http.Request, to, kind, key string) {
	if key != "" {
		to += "?" + kind + "=" + key
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// Operator is the signed-in, active operator of r's console session; other
// back-office areas (the care desk) authenticate through it.
// LogoutToken is the CSRF token of the console's logout form for the
// session of r, so pages mounted beside the console (the care desk) offer
// the same logout ("" without a session).
func (c *Console) LogoutToken(r *http.Request) string {
	sess, err := c.loadSession(r)
	if err != nil {
		return ""
	}
	return csrf.Token(c.CSRFKey, sess.ID)
}

func (c *Console) Operator(r *http.Request) (storage.Operator, bool) {
	sess, err := c.loadSession(r)
	if err != nil || sess.Factor == "" {
		return storage.Operator{}, false
	}
	op, err := c.Store.GetOperator(r.Context(), sess.OperatorID)
	if err != nil || op.Status != storage.OperatorActive {
		return storage.Operator{}, false
	}
	return op, true
}
