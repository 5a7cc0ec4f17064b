// Package authflow is how a citizen authenticates, whatever protocol the
// relying party speaks: the login page with lockout and throttling, the
// forced change of an expired password, level 2 (app code, push approval,
// activation of an app inside the login), consent, and the SpidL1 single
// sign-on session. A protocol front end (SAML in idp/, OpenID Connect in
// oidc/) starts a flow and is called back at its end to answer its
// relying party; the pages, the audit, the lockout and the session store
// are the same for both.
package authflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/hashgate"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Paths of the flow's pages, relative to the base URL.
const (
	PathLogin   = "/login"
	PathConsent = "/consent"
)

// Options configure the authentication flow.
type Options struct {
	BaseURL string // public URL, no trailing slash

	Store storage.Store
	Eph   storage.Ephemeral
	Pages *templates.Renderer
	Audit *audit.Logger
	Log   *slog.Logger

	// Regulator locks credentials after repeated failures (across flows);
	// LoginLimiter throttles attempts per client address and per username.
	Regulator    *regulation.Regulator
	LoginLimiter *regulation.Limiter
	// FailureDelay pads every failed login to the same duration, so an
	// unknown identifier and a wrong password answer alike (security.md
	// C.3); nil disables it (tests).
	FailureDelay *regulation.Delay
	// Alerts e-mails the owner when the credentials lock and when a push
	// request is refused in the app (see lockout.go); nil: nobody is told
	// (tests that do not look).
	Alerts Alerter
	// MaxFailures failed attempts within one login flow end it with nr19.
	MaxFailures int
	Argon2      password.Params
	// PasswordRules, when set, enforces the password's maximum age at login
	// (password_expired.go) with the history rules on the new one.
	PasswordRules *pwrules.Policy
	// HashGate bounds the password checks computed at once (nil: no
	// bound); a check that finds no slot in time is answered 503.
	HashGate *hashgate.Gate

	// CookieKeys: the first authenticates and encrypts, all are accepted.
	CookieKeys [][]byte

	SessionLifetime time.Duration // absolute SSO session lifetime
	SessionIdle     time.Duration // SSO session idle timeout
	ConsentTimeout  time.Duration // request received → consent, else nr21

	// OnAuthenticated, if set, hears of every authentication that reached
	// a relying party (the lifecycle's last_auth_at, inactivity); errors
	// are the callee's to log.
	OnAuthenticated func(ctx context.Context, identityID string, at time.Time)

	// OwnService, if set, tells the IdP's own services (the personal
	// area): they get the answer without the consent page, since no
	// data leave the provider that holds them.
	OwnService func(entityID string) bool

	// PersonalArea, if set, tells the identity signed in to the personal
	// area in r (with keep, moving that session to a new epoch), so the
	// devices page works from there without an SSO session.
	PersonalArea func(r *http.Request) (identityID string, keep func(epoch int64) error, ok bool)

	Now func() time.Time

	// Level2 configures second factors (see level2.go); its zero value
	// answers every level-2 request with nr20.
	Level2 Level2
}

// FrontEnd is a protocol's side of a flow: it describes the relying party
// for the pages and answers it at the end. SAML (idp/) and OpenID Connect
// (oidc/) implement it.
type FrontEnd interface {
	// RelyingParty describes the flow's relying party in the shape the
	// pages use: its names and the attributes it will receive. An error
	// wrapping storage.ErrNotFound means it is no longer trusted.
	RelyingParty(ctx context.Context, f *State) (*metadata.SP, error)
	// Refuse ends the flow with the SPID anomaly code (nr19–nr25, nr30)
	// and a reason for the log.
	Refuse(w http.ResponseWriter, r *http.Request, rp *metadata.SP, f *State, code spid.Anomaly, reason string)
	// Answer answers the relying party for a flow the citizen completed
	// and consented to; id is active and its sessions were not ended
	// during the flow.
	Answer(w http.ResponseWriter, r *http.Request, rp *metadata.SP, f *State, id storage.Identity)
	// RefusalForm prepares the answer Refuse would send for code as a
	// form a page may offer (the activation offer's "back to the
	// service"): its action and fields. The caller audits it.
	RefusalForm(ctx context.Context, rp *metadata.SP, f *State, code spid.Anomaly) (action string, fields []templates.Field, err error)
	// SessionEnded ends what parts, this protocol's participants of the
	// SpidL1 session sess, hold of it, now that it has ended elsewhere.
	SessionEnded(ctx context.Context, sess storage.Session, parts []storage.SessionParticipant)
}

// Engine serves the flow's pages.
type Engine struct {
	o       Options
	flows   *flowCodec
	cookies *cookieJar
	index   *sessionIndexer
	csrfKey []byte
	dummy   string // password hash verified for unknown users (timing)
	origin  string
	alerts  sync.WaitGroup // e-mails to owners still being sent
	// fronts answer the flows they started, by State.Proto.
	fronts map[string]FrontEnd
	// aa offers Attribute Authorities after consent (aa.go); nil: none.
	aa *attrauth.Service
}

// New checks the options and builds the flow.
func New(o Options) (*Engine, error) {
	var errs []error
	for name, missing := range map[string]bool{
		"BaseURL": o.BaseURL == "", "Store": o.Store == nil, "Eph": o.Eph == nil, "Pages": o.Pages == nil,
		"Audit": o.Audit == nil, "Regulator": o.Regulator == nil, "CookieKeys": len(o.CookieKeys) == 0,
	} {
		if missing {
			errs = append(errs, fmt.Errorf("authflow: option %s is required", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 3
	}
	if o.ConsentTimeout <= 0 {
		o.ConsentTimeout = 10 * time.Minute
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 8 * time.Hour
	}
	if o.SessionIdle <= 0 || o.SessionIdle > o.SessionLifetime {
		o.SessionIdle = o.SessionLifetime
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("authflow: base URL %q is not absolute", o.BaseURL)
	}
	p := &Engine{o: o, origin: u.Scheme + "://" + u.Host, fronts: map[string]FrontEnd{}}
	// The flow seal outlives the consent timeout a little, so an expired
	// flow is recognised (nr21 to the SP) rather than rejected as garbage.
	if p.flows, err = newFlowCodec(o.ConsentTimeout+time.Hour, o.CookieKeys...); err != nil {
		return nil, err
	}
	p.cookies = newCookieJar(u.Scheme == "https", o.SessionLifetime, o.CookieKeys...)
	if p.index, err = newSessionIndexer(o.CookieKeys...); err != nil {
		return nil, err
	}
	p.csrfKey = derive(o.CookieKeys[0], "csrf")
	if p.dummy, err = password.DummyHash(o.Argon2); err != nil {
		return nil, fmt.Errorf("authflow: %w", err)
	}
	if o.Level2.Push != nil {
		// A refusal in the app counts when it is made (lockout.go).
		o.Level2.Push.OnRefused = p.pushRefused
	}
	return p, nil
}

// Attach installs the front end of protocol proto (storage.ProtocolSAML,
// storage.ProtocolOIDC); call it before serving.
func (p *Engine) Attach(proto string, f FrontEnd) { p.fronts[proto] = f }

// front is the front end that answers f. A flow names only a front end
// that started it, and front ends are attached before serving.
func (p *Engine) front(f *State) FrontEnd {
	fe, ok := p.fronts[f.Proto]
	if !ok {
		panic("authflow: no front end for protocol " + f.Proto)
	}
	return fe
}

// Register adds the flow's pages to mux.
func (p *Engine) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathLogin, p.viewFlow)
	mux.HandleFunc("POST "+PathLogin, p.login)
	mux.HandleFunc("POST "+PathConsent, p.consent)
	mux.HandleFunc("POST "+PathAA, p.aaStep)
	mux.HandleFunc("POST "+PathNewPassword, p.newPassword)
	p.registerLevel2(mux)
}

// NewState starts the state of a flow bound to this browser (issuing its
// browser cookie when it has none); the front end fills in its request.
func (p *Engine) NewState(w http.ResponseWriter, r *http.Request) (*State, error) {
	browser, err := p.cookies.browserID(w, r)
	if err != nil {
		return nil, err
	}
	return &State{ID: randomHex(16), Browser: browser, Created: p.now().UnixMilli()}, nil
}

// Begin runs a new flow for the relying party rp: an anomaly when no
// level performed here satisfies the request, the SpidL1 session when the
// request allows single sign-on and the browser has a usable one, else
// the login page.
func (p *Engine) Begin(w http.ResponseWriter, r *http.Request, rp *metadata.SP, f *State) {
	pol, code, ok := Levels(spid.Level(f.Level), f.Comparison)
	if !ok {
		// Nothing the citizen could do here would satisfy the request.
		p.spAnomaly(w, r, rp, f, code, "no level this IdP performs satisfies the request")
		return
	}
	if pol.SSOAllowed(f.ForceAuthn) {
		if sess, id, ok := p.reusableSession(r.Context(), r, f); ok {
			f.Identity, f.Performed, f.AuthnInstant, f.Session, f.Epoch = sess.IdentityID, sess.Level, sess.AuthnInstant.UnixMilli(), sess.ID, sess.Epoch
			p.showConsent(w, r, rp, f, id)
			return
		}
	}
	p.showLogin(w, r, rp, f, templates.LoginPage{})
}

// Authenticated tells Options.OnAuthenticated that identityID reached a
// relying party now.
func (p *Engine) Authenticated(ctx context.Context, identityID string) {
	if p.o.OnAuthenticated != nil {
		p.o.OnAuthenticated(ctx, identityID, p.now())
	}
}

// JoinSession adds rp to the flow's SpidL1 session (opening one when the
// flow reused none), recording nameID and index as what rp was given (index
// "": the SAML SessionIndex, made here), and returns the participant's
// SessionIndex and the session's ID. Only flows that f.JoinsSession may
// join: the front end asks before it calls.
func (p *Engine) JoinSession(w http.ResponseWriter, r *http.Request, f *State, rp, nameID, index string) (string, string, error) {
	if !f.JoinsSession() {
		return "", "", fmt.Errorf("authflow: a SpidL%d answer to a SpidL%d request joins no session", f.Performed, f.Level)
	}
	return p.joinSession(w, r, f, f.AuthnTime(), rp, nameID, index)
}

// SessionEnded tells the front ends of other protocols that sess has
// ended, so they end what their relying parties hold of it (OIDC: the
// tokens). SAML participants are told by Single Logout itself.
func (p *Engine) SessionEnded(ctx context.Context, sess storage.Session) {
	byProto := map[string][]storage.SessionParticipant{}
	for _, part := range sess.Participants {
		if part.Protocol != storage.ProtocolSAML {
			byProto[part.Protocol] = append(byProto[part.Protocol], part)
		}
	}
	for proto, parts := range byProto {
		if fe, ok := p.fronts[proto]; ok {
			fe.SessionEnded(ctx, sess, parts)
		} else {
			p.o.Log.ErrorContext(ctx, "session participants of a protocol without front end", "protocol", proto)
		}
	}
}

// CurrentSession returns the browser's live SSO session and its identity.
func (p *Engine) CurrentSession(ctx context.Context, r *http.Request) (storage.Session, storage.Identity, bool) {
	return p.currentSession(ctx, r)
}

// SessionOfIndex returns the session ID a SessionIndex was sealed from.
func (p *Engine) SessionOfIndex(index string) (string, error) { return p.index.open(index) }

// SSOCookie returns the session ID of the browser's SSO cookie ("" if none).
func (p *Engine) SSOCookie(r *http.Request) string { return p.cookies.get(r, ssoCookie) }

// ClearSSOCookie removes the browser's SSO cookie.
func (p *Engine) ClearSSOCookie(w http.ResponseWriter) { p.cookies.clear(w, ssoCookie) }

// BrowserCookie returns the browser's ID ("" if it has none).
func (p *Engine) BrowserCookie(r *http.Request) string { return p.cookies.get(r, browserCookie) }

// BrowserID returns the browser's ID, issuing one when it has none.
func (p *Engine) BrowserID(w http.ResponseWriter, r *http.Request) (string, error) {
	return p.cookies.browserID(w, r)
}

// CookieAttrs tell how a front end's own cookies should be set to travel
// like the flow's: the name on this listener, Secure, and the SameSite mode
// of the SSO cookie.
func (p *Engine) CookieAttrs(name string) (string, bool, http.SameSite) {
	return p.cookies.name(name), p.cookies.secure, p.cookies.ssoSameSite()
}

// WaitAlerts waits for the notices being sent to owners (tests, shutdown).
func (p *Engine) WaitAlerts() { p.alerts.Wait() }

// Derive makes an independent key for one purpose from a master key.
func Derive(master []byte, purpose string) []byte { return derive(master, purpose) }

// RandomHex is n random bytes in hex, for identifiers nobody may guess.
func RandomHex(n int) string { return randomHex(n) }

func (p *Engine) now() time.Time { return p.o.Now().UTC() }

// Render writes a page; a template failure is logged (the status line is
// already gone by then). Front ends render through it too.
func (p *Engine) Render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if err := p.o.Pages.Render(w, status, page, templates.Lang(r), data); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering page", "page", page, "err", err)
	}
}

// Fail shows a terminal error page that sends nothing to any relying party.
func (p *Engine) Fail(w http.ResponseWriter, r *http.Request, reason templates.ErrorReason) {
	if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: reason}); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering error page", "err", err)
	}
}

// flowSP is the relying party of a flow: its front end's description.
func (p *Engine) flowSP(ctx context.Context, f *State) (*metadata.SP, error) {
	if _, ok := p.fronts[f.Proto]; !ok {
		// A sealed flow of a protocol this server does not serve (any more).
		return nil, fmt.Errorf("authflow: protocol %q: %w", f.Proto, storage.ErrNotFound)
	}
	return p.front(f).RelyingParty(ctx, f)
}

// spAnomaly ends a flow with an anomaly for its relying party.
func (p *Engine) spAnomaly(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, code spid.Anomaly, reason string) {
	p.front(f).Refuse(w, r, sp, f, code, reason)
}

// refusalForm is the front end's ready answer for code (see
// FrontEnd.RefusalForm).
func (p *Engine) refusalForm(ctx context.Context, sp *metadata.SP, f *State, code spid.Anomaly) (string, []templates.Field, error) {
	return p.front(f).RefusalForm(ctx, sp, f, code)
}

// Record writes an audit event whose actor is not yet known.
func (p *Engine) Record(ctx context.Context, action, target, outcome string, details map[string]string) {
	if err := p.o.Audit.Record(ctx, Event("anonymous", action, target, outcome, details)); err != nil {
		p.o.Log.ErrorContext(ctx, "audit", "err", err)
	}
}

// SPName is a relying party's display name in lang, else in Italian,
// else its id.
func SPName(sp *metadata.SP, lang string) string {
	if n := sp.DisplayName[lang]; n != "" {
		return n
	}
	if n := sp.DisplayName["it"]; n != "" {
		return n
	}
	return sp.EntityID
}

func spName(sp *metadata.SP, lang string) string { return SPName(sp, lang) }

// Event is an audit record of the flow or of a front end.
func Event(actor, action, target, outcome string, details map[string]string) storage.AuditEvent {
	return storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details}
}
