// Package idp is the SPID login flow over HTTP: the SSO endpoints on both
// bindings, credentials and consent pages, the signed Response delivered by
// an auto-submitting form, SpidL1 single sign-on, the citizen's session page
// and Single Logout. The protocol pieces live in subpackages (binding,
// authnrequest, response); this package drives them.
package idp

import (
	"context"
	"errors"
	"fmt"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/hashgate"
	"github.com/spid-idp/spid-idp/idp/logoutmsg"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// SPDirectory finds trusted service providers; an unknown or disabled SP is
// an error wrapping storage.ErrNotFound.
type SPDirectory interface {
	LookupSP(ctx context.Context, entityID string) (*metadata.SP, error)
}

// Paths of the IdP's endpoints, relative to the base URL.
const (
	PathMetadata    = "/metadata"
	PathSSORedirect = "/sso/redirect"
	PathSSOPOST     = "/sso/post"
	PathSLORedirect = "/slo/redirect"
	PathSLOPOST     = "/slo/post"
	PathLogin       = "/login"
	PathConsent     = "/consent"
	PathSession     = "/session"
	PathLogout      = "/session/logout"
)

// Options configure the IdP handlers.
type Options struct {
	EntityID string
	BaseURL  string // public URL, no trailing slash

	Store   storage.Store
	Eph     storage.Ephemeral
	SPs     SPDirectory
	Checker *authnrequest.Checker
	Builder *response.Builder
	Pages   *templates.Renderer
	Audit   *audit.Logger
	Log     *slog.Logger
	// Register is the transaction register (spec §7.5): a Response is
	// answered only once its record is durable; requests and logout
	// messages go through RegisterQueue. Both nil: nothing is recorded
	// (unit tests of other parts).
	Register      *register.Register
	RegisterQueue *register.Queue

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

	// OnAuthenticated, if set, hears of every authentication that reached an
	// SP (the lifecycle's last_auth_at, inactivity); errors are the
	// callee's to log.
	OnAuthenticated func(ctx context.Context, identityID string, at time.Time)

	// OwnService, if set, tells the IdP's own services (the personal
	// area): they get the Response without the consent page, since no
	// data leave the provider that holds them.
	OwnService func(entityID string) bool

	// PersonalArea, if set, tells the identity signed in to the personal
	// area in r (with keep, moving that session to a new epoch), so the
	// devices page works from there without an SSO session.
	PersonalArea func(r *http.Request) (identityID string, keep func(epoch int64) error, ok bool)

	// Metadata returns the current signed IdP metadata.
	Metadata func() ([]byte, error)

	Now func() time.Time

	// ---- Level 2 ----
	// Level2 configures second factors (see level2.go); its zero value
	// answers every level-2 request with nr20.
	Level2 Level2
}

// IdP serves the login flow.
type IdP struct {
	o       Options
	flows   *flowCodec
	cookies *cookieJar
	index   *sessionIndexer
	csrfKey []byte
	dummy   string // password hash verified for unknown users (timing)
	origin  string
	logout  *logoutmsg.Checker
	chains  []securecookie.Codec // seal the Single Logout chain cookie
	alerts  sync.WaitGroup       // e-mails to owners still being sent
	// external answers the flows of an external front end (external.go).
	external ExternalFinisher
}

// New checks the options and builds the handlers.
func New(o Options) (*IdP, error) {
	var errs []error
	for name, missing := range map[string]bool{
		"EntityID": o.EntityID == "", "BaseURL": o.BaseURL == "", "Store": o.Store == nil, "Eph": o.Eph == nil,
		"SPs": o.SPs == nil, "Checker": o.Checker == nil, "Builder": o.Builder == nil, "Pages": o.Pages == nil,
		"Audit": o.Audit == nil, "Regulator": o.Regulator == nil, "Metadata": o.Metadata == nil,
		"CookieKeys": len(o.CookieKeys) == 0,
	} {
		if missing {
			errs = append(errs, fmt.Errorf("idp: option %s is required", name))
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
		return nil, fmt.Errorf("idp: base URL %q is not absolute", o.BaseURL)
	}
	p := &IdP{o: o, origin: u.Scheme + "://" + u.Host}
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
	p.logout = p.newLogoutChecker()
	p.chains = p.newChainCodecs()
	if p.dummy, err = password.DummyHash(o.Argon2); err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	if o.Level2.Push != nil {
		// A refusal in the app counts when it is made (lockout.go).
		o.Level2.Push.OnRefused = p.pushRefused
	}
	return p, nil
}

// Register adds the IdP's routes to mux.
func (p *IdP) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathMetadata, p.serveMetadata)
	mux.HandleFunc(PathSSORedirect, p.sso)
	mux.HandleFunc(PathSSOPOST, p.sso)
	mux.HandleFunc("GET "+PathLogin, p.viewFlow)
	mux.HandleFunc("POST "+PathLogin, p.login)
	mux.HandleFunc("POST "+PathConsent, p.consent)
	mux.HandleFunc("POST "+PathNewPassword, p.newPassword)
	mux.HandleFunc("GET "+PathSession, p.sessionPage)
	mux.HandleFunc("POST "+PathLogout, p.idpLogout)
	mux.HandleFunc(PathSLORedirect, p.slo)
	mux.HandleFunc(PathSLOPOST, p.slo)
	mux.Handle("GET /static/", templates.Static())
	p.registerLevel2(mux)
}

func (p *IdP) serveMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := p.o.Metadata()
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "building metadata", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(md)
}

func (p *IdP) now() time.Time { return p.o.Now().UTC() }

// render writes a page; a template failure is logged (the status line is
// already gone by then).
func (p *IdP) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if err := p.o.Pages.Render(w, status, page, templates.Lang(r), data); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering page", "page", page, "err", err)
	}
}

// fail shows a terminal error page that sends nothing to any SP.
func (p *IdP) fail(w http.ResponseWriter, r *http.Request, reason templates.ErrorReason) {
	if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: reason}); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering error page", "err", err)
	}
}
