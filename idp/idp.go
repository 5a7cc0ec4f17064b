// Package idp is the SAML front end of the SPID login: the SSO endpoints
// on both bindings, the signed Response delivered by an auto-submitting
// form, the citizen's session page and Single Logout. The citizen
// authenticates in package authflow (credentials, level 2, consent, the
// SpidL1 session), which calls this package back to answer the SP. The
// protocol pieces live in subpackages (binding, authnrequest, response);
// this package drives them.
package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/logoutmsg"
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

	// Flow authenticates the citizen; the IdP attaches itself to it as
	// its SAML front end.
	Flow *authflow.Engine

	// CookieKeys: the first authenticates and encrypts, all are accepted
	// (the session page's CSRF token, the Single Logout chain).
	CookieKeys [][]byte

	SessionLifetime time.Duration // absolute SSO session lifetime

	// Metadata returns the current signed IdP metadata.
	Metadata func() ([]byte, error)

	Now func() time.Time
}

// IdP serves the login flow.
type IdP struct {
	o       Options
	flow    *authflow.Engine
	csrfKey []byte
	origin  string
	logout  *logoutmsg.Checker
	chains  []securecookie.Codec // seal the Single Logout chain cookie
}

// New checks the options and builds the handlers.
func New(o Options) (*IdP, error) {
	var errs []error
	for name, missing := range map[string]bool{
		"EntityID": o.EntityID == "", "BaseURL": o.BaseURL == "", "Store": o.Store == nil, "Eph": o.Eph == nil,
		"SPs": o.SPs == nil, "Checker": o.Checker == nil, "Builder": o.Builder == nil, "Pages": o.Pages == nil,
		"Audit": o.Audit == nil, "Flow": o.Flow == nil, "Metadata": o.Metadata == nil,
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
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 8 * time.Hour
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("idp: base URL %q is not absolute", o.BaseURL)
	}
	p := &IdP{o: o, flow: o.Flow, origin: u.Scheme + "://" + u.Host}
	p.csrfKey = authflow.Derive(o.CookieKeys[0], "csrf")
	p.logout = p.newLogoutChecker()
	p.chains = p.newChainCodecs()
	o.Flow.Attach(storage.ProtocolSAML, p)
	return p, nil
}

// Register adds the IdP's routes to mux.
func (p *IdP) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathMetadata, p.serveMetadata)
	mux.HandleFunc(PathSSORedirect, p.sso)
	mux.HandleFunc(PathSSOPOST, p.sso)
	mux.HandleFunc("GET "+PathSession, p.sessionPage)
	mux.HandleFunc("POST "+PathLogout, p.idpLogout)
	mux.HandleFunc(PathSLORedirect, p.slo)
	mux.HandleFunc(PathSLOPOST, p.slo)
	mux.Handle("GET /static/", templates.Static())
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
	p.flow.Render(w, r, status, page, data)
}

// fail shows a terminal error page that sends nothing to any SP.
func (p *IdP) fail(w http.ResponseWriter, r *http.Request, reason templates.ErrorReason) {
	p.flow.Fail(w, r, reason)
}
