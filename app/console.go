package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/console"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/templates"
)

// MountConsole serves the operator console (ui.md §9) under /console/ on
// a.Mux and registers the verification-deadline gauges (§6.2, E048) on the
// server's metrics registry. Build calls it once, after a.Server exists.
func (a *App) MountConsole() (*console.Console, error) {
	if a.Enrolment == nil || a.Mux == nil || a.Server == nil {
		return nil, errors.New("console: the enrolment service, mux and server come first")
	}
	pages, err := templates.New(templates.WithBrand(a.Config.IdP.Name))
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	// A key of its own for the console's CSRF tokens, derived from the
	// cookie key, so no token of the login flow is valid here.
	mac := hmac.New(sha256.New, a.Config.IdP.Session.CookieKey)
	mac.Write([]byte("spid-idp/console/csrf/v1"))
	c := &console.Console{
		Service: a.Enrolment, Store: a.Backends.Store, Eph: a.Backends.Eph, Pages: pages, Audit: a.Audit,
		CSRFKey: mac.Sum(nil), Origin: a.Config.Server.BaseURL, Argon2: a.Argon2,
		IPLimiter:   &regulation.Limiter{Eph: a.Backends.Eph, Max: 30, Window: time.Minute, Prefix: "console-login-ip:"},
		UserLimiter: &regulation.Limiter{Eph: a.Backends.Eph, Max: 10, Window: 15 * time.Minute, Prefix: "console-login-user:"},
		Responsible: a.Config.Enrolment.Responsible, Log: a.Log.With("component", "console"),
	}
	h, err := c.Handler()
	if err != nil {
		return nil, err
	}
	a.Mux.Handle(console.Prefix, h)
	if err := a.Server.Registry().Register(console.NewDeadlineCollector(a.Enrolment)); err != nil {
		return nil, fmt.Errorf("console metrics: %w", err)
	}
	return c, nil
}
