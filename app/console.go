package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/console"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/opfactor"
)

// MountConsole serves the operator console (ui.md §9) under /console/ on
// a.Mux and registers the verification-deadline gauges (§6.2, E048) on the
// server's metrics registry. Build calls it once, after a.Server exists.
func (a *App) MountConsole() (*console.Console, error) {
	if a.Enrolment == nil || a.Mux == nil || a.Server == nil {
		return nil, errors.New("console: the enrolment service, mux and server come first")
	}
	pages, err := a.Pages()
	if err != nil {
		return nil, err
	}
	factors, err := a.OperatorFactors()
	if err != nil {
		return nil, err
	}
	// A key of its own for the console's CSRF tokens, derived from the
	// cookie key, so no token of the login flow is valid here.
	mac := hmac.New(sha256.New, a.Config.IdP.Session.CookieKey)
	mac.Write([]byte("spid-idp/console/csrf/v1"))
	c := &console.Console{
		Service: a.Enrolment, Store: a.Backends.Store, Eph: a.Backends.Eph, Pages: pages, Audit: a.Audit,
		CSRFKey: mac.Sum(nil), Origin: a.Config.Server.BaseURL, Argon2: a.Argon2, HashGate: a.HashGate,
		IPLimiter:   &regulation.Limiter{Eph: a.Backends.Eph, Max: 30, Window: time.Minute, Prefix: "console-login-ip:"},
		UserLimiter: &regulation.Limiter{Eph: a.Backends.Eph, Max: 10, Window: 15 * time.Minute, Prefix: "console-login-user:"},
		Responsible: a.Config.Enrolment.Responsible, ResponsibleEN: a.Config.Enrolment.ResponsibleEN, Log: a.Log.With("component", "console"),
		Factors: factors,
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

// OperatorFactors is the operators' second factor (security.md E.1):
// secrets sealed with the data key; passkeys for the console's origin,
// which must be a domain name (on an IP address, as the demo's
// http://127.0.0.1:8080, operators use TOTP only).
func (a *App) OperatorFactors() (*opfactor.Service, error) {
	if len(a.Config.Security.DataKey) == 0 {
		return nil, errors.New("operators' second factor: security.data_key is not set")
	}
	sealer, err := DataSealer(a.Config)
	if err != nil {
		return nil, err
	}
	f := &opfactor.Service{Store: a.Backends.Store, Sealer: sealer, Issuer: a.Config.IdP.Name}
	origin := a.Config.Server.BaseURL
	if u, err := url.Parse(origin); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	rp, err := opfactor.NewRelyingParty(origin, a.Config.IdP.Name)
	switch {
	case err == nil:
		f.RP = rp
	case errors.Is(err, opfactor.ErrNoPasskeys):
		a.Log.Warn("operators' passkeys are off: the console's address is not a domain name; operators use TOTP", "base_url", a.Config.Server.BaseURL)
	default:
		return nil, fmt.Errorf("operators' passkeys: %w", err)
	}
	return f, nil
}
