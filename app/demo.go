package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/templates"
)

// DemoInfo is what demo mode prints at start-up.
type DemoInfo struct {
	IdPURL, MetadataURL, DemoSPURL string
	Username, Password             string
	// TOTPSecret is the demo citizen's authenticator seed (base32): add it
	// to any authenticator app, or let the conformance suite compute codes.
	TOTPSecret string
}

// SetupDemo adds demo mode's citizen and service provider: the SP is served
// under /demo-sp/ by this same server and registered as trusted.
func (a *App) SetupDemo(ctx context.Context) (DemoInfo, error) {
	cfg := a.Config
	if _, err := demo.EnsureCitizen(ctx, a.Backends.Store, a.Argon2); err != nil {
		return DemoInfo{}, err
	}
	if err := a.EnsureDemoDevice(ctx); err != nil {
		return DemoInfo{}, fmt.Errorf("demo citizen's app: %w", err)
	}
	if err := demo.EnsureOperators(ctx, a.Backends.Store, a.Argon2); err != nil {
		return DemoInfo{}, err
	}
	base := cfg.Server.BaseURL
	pair, err := a.SharedSPKey(ctx, "demo-sp", keys.GenerateOptions{
		Profile: keys.ProfileSPPublic, Bits: 2048, CommonName: demo.SPName, Locality: "Roma",
		OrganizationIdentifier: "PA:IT-demo", OrganizationName: "Ente dimostrativo",
		EntityID: base + demo.Prefix, ValidFor: 2 * 365 * 24 * time.Hour,
	})
	if err != nil {
		return DemoInfo{}, fmt.Errorf("demo SP key: %w", err)
	}
	pages, err := templates.New(templates.WithBrand(demo.SPName))
	if err != nil {
		return DemoInfo{}, err
	}
	sp, err := demo.NewSP(base, base+idp.PathSSORedirect, pair, a.Keys, pages,
		derive32(cfg.IdP.Session.CookieKey, "demo-sp"), a.Log.With("component", "demo-sp"))
	if err != nil {
		return DemoInfo{}, err
	}
	if err := a.registerOwnSP(ctx, sp.Metadata(), "demo"); err != nil {
		return DemoInfo{}, fmt.Errorf("registering the demo SP: %w", err)
	}
	sp.Register(a.Mux)
	return DemoInfo{IdPURL: base, MetadataURL: base + idp.PathMetadata, DemoSPURL: base + demo.Prefix + "/",
		Username: demo.CitizenUsername, Password: demo.CitizenPassword, TOTPSecret: DemoTOTPSecret()}, nil
}
