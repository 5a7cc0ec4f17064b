package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/portal"
)

// SetupPortal adds the citizen's personal area under /account/: a SPID
// service provider of this same IdP with its own key (kept in the store,
// shared by every node: SharedSPKey), its signed metadata registered in
// the SP registry (source "portal"), logging citizens in at level 2. Build
// calls it once a.Mux exists.
func (a *App) SetupPortal(ctx context.Context) (*portal.Portal, error) {
	cfg := a.Config
	base := cfg.Server.BaseURL
	pair, err := a.SharedSPKey(ctx, "portal", keys.GenerateOptions{
		Profile: keys.ProfileSPPublic, Bits: 2048, CommonName: portal.Name, Locality: "Roma",
		OrganizationIdentifier: "PA:IT-portal", OrganizationName: cfg.IdP.Name,
		EntityID: base + portal.Prefix, ValidFor: 2 * 365 * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("portal SP key: %w", err)
	}
	pages, err := a.Pages()
	if err != nil {
		return nil, err
	}
	mailer, err := MailSender(cfg, a.Backends, a.Log.With("component", "portal-mail"))
	if err != nil {
		return nil, err
	}
	smsSender, err := SMSSender(cfg, a.Backends, a.Log.With("component", "portal-sms"))
	if err != nil {
		return nil, err
	}
	// Adding an app from the personal area seals its seed like the login's
	// activation does; without a data key level 2 is off and so is this.
	var sealer *datakey.Sealer
	if len(cfg.Security.DataKey) > 0 {
		if sealer, err = DataSealer(cfg); err != nil {
			return nil, err
		}
	}
	p, err := portal.New(portal.Options{
		BaseURL: base, IdPSSO: base + idp.PathSSORedirect, IdPSLO: base + idp.PathSLORedirect, Pair: pair, IdPCertsNow: a.IdPCerts,
		Store: a.Backends.Store, Eph: a.Backends.Eph, Lifecycle: a.Lifecycle, Audit: a.Audit,
		Pages: pages, Mailer: mailer, Argon2: a.Argon2, HashGate: a.HashGate, PasswordRules: PasswordRules(cfg), SMS: SMSCodes(cfg, a.Backends, smsSender),
		SPName: func(ctx context.Context, entityID, lang string) string {
			sp, err := a.SPs.Get(ctx, entityID)
			if err != nil {
				// Not a SAML SP: an OpenID relying party, named by its
				// trust chain.
				if a.OIDC != nil {
					return a.OIDC.ClientName(ctx, entityID, lang)
				}
				return ""
			}
			if n := sp.DisplayName[lang]; n != "" {
				return n
			}
			return sp.DisplayName["it"]
		},
		DeviceSealer: sealer, Issuer: cfg.IdP.Name,
		Alerts:  alert.Mailer{Mail: mailer, BaseURL: base, PersonalArea: portal.Prefix + "/", Report: portal.PathTicket},
		CSRFKey: derive32(cfg.IdP.Session.CookieKey, "portal"), Log: a.Log.With("component", "portal"),
	})
	if err != nil {
		return nil, err
	}
	if err := a.registerOwnSP(ctx, p.Metadata(), "portal"); err != nil {
		return nil, fmt.Errorf("registering the portal SP: %w", err)
	}
	p.Register(a.Mux)
	return p, nil
}
