package app

import (
	"net/url"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/recovery"
	"github.com/spid-idp/spid-idp/templates"
)

// MountRecovery serves credential recovery under /recover (ui.md P09).
func (a *App) MountRecovery(pages *templates.Renderer) error {
	cfg := a.Config
	log := a.Log.With("component", "recovery")
	mailer, err := MailSender(cfg, a.Backends, log)
	if err != nil {
		return err
	}
	smsSender, err := SMSSender(cfg, a.Backends, log)
	if err != nil {
		return err
	}
	b := a.Backends
	svc := &recovery.Service{
		Store: b.Store, Eph: b.Eph, SMS: SMSCodes(cfg, b, smsSender), Notices: smsSender, Mail: mailer, Audit: a.Audit,
		Rules: PasswordRules(cfg), Argon2: a.Argon2,
		Regulator: &regulation.Regulator{Store: b.Store, MaxFailures: cfg.Security.Lockout.MaxFailures,
			Window: cfg.Security.Lockout.Window, Duration: cfg.Security.Lockout.Duration},
		Limit:   &regulation.Limiter{Eph: b.Eph, Max: cfg.Recovery.MaxRequests, Window: cfg.Recovery.Window, Prefix: "recover:"},
		BaseURL: cfg.Server.BaseURL, LinkTTL: cfg.Recovery.LinkTTL, Log: log,
	}
	u, err := url.Parse(cfg.Server.BaseURL)
	if err != nil {
		return err
	}
	h := &recovery.Handler{Service: svc, Pages: pages, CSRFKey: derive32(cfg.IdP.Session.CookieKey, "recover-csrf"),
		Secure: u.Scheme == "https", SelfOrigin: u.Scheme + "://" + u.Host,
		AccountURL: portal.Prefix + "/", CareURL: care.PathTicketForm}
	h.Register(a.Mux)
	return nil
}
