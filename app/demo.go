package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// DemoInfo is what demo mode prints at start-up.
type DemoInfo struct {
	IdPURL, MetadataURL, DemoSPURL string
	// DemoRPURL is the demo OpenID Connect relying party ("" without OIDC).
	DemoRPURL          string
	Username, Password string
	// TOTPSecret is the demo citizen's authenticator seed (base32): add it
	// to any authenticator app, or let the conformance suite compute codes.
	TOTPSecret string
	// OperatorTOTPSecret is every demo operator's second factor (base32).
	OperatorTOTPSecret string
}

// demoOperatorSeedBase32 is the demo operators' TOTP seed. DEMO ONLY: it is
// public, so in demo mode the console's second factor protects nothing.
const demoOperatorSeedBase32 = "MRSW23ZNN5YGK4TBORXXE4ZNN5XGY6JB"

// DemoOperatorTOTPSecret is the demo operators' authenticator seed.
func DemoOperatorTOTPSecret() string { return demoOperatorSeedBase32 }

// EnsureDemoOperatorFactors gives every demo operator without a second
// factor a TOTP factor with DemoOperatorTOTPSecret. Demo mode only.
func (a *App) EnsureDemoOperatorFactors(ctx context.Context) error {
	if !a.Config.Demo {
		return errors.New("the demo operators' factor exists in demo mode only")
	}
	sealer, err := DataSealer(a.Config)
	if err != nil {
		return err
	}
	seed, err := otp.DecodeSeed(demoOperatorSeedBase32)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, o := range demo.Operators {
		id := "demo-op-" + o.Username
		sealed, err := sealer.Seal(seed, opfactor.AD(id, "demo-totp"))
		if err != nil {
			return err
		}
		err = a.Backends.Store.UpdateOperator(ctx, id, func(op storage.Operator) (storage.Operator, error) {
			if opfactor.Has(op, "") {
				return op, errDemoHasFactor
			}
			op.SecondFactor.Factors = []storage.OperatorFactor{{ID: "demo-totp", Kind: storage.FactorTOTP, Name: "App demo",
				Secret: sealed, KeyVersion: int64(sealer.CurrentKeyID()), CreatedAt: now}}
			return op, nil
		})
		if err != nil && !errors.Is(err, errDemoHasFactor) && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("demo operator %s: %w", o.Username, err)
		}
	}
	return nil
}

var errDemoHasFactor = errors.New("already has a factor")

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
	if err := a.EnsureDemoOperatorFactors(ctx); err != nil {
		return DemoInfo{}, fmt.Errorf("demo operators' second factor: %w", err)
	}
	if err := a.ensureDemoVideoSlots(ctx); err != nil {
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
	pages, err := a.Pages()
	if err != nil {
		return DemoInfo{}, err
	}
	pages = pages.With(templates.WithBrand(demo.SPName), templates.WithBrandEN(demo.SPNameEN))
	sp, err := demo.NewSP(base, base+idp.PathSSORedirect, pair, a.IdPCerts, pages,
		derive32(cfg.IdP.Session.CookieKey, "demo-sp"), a.Log.With("component", "demo-sp"))
	if err != nil {
		return DemoInfo{}, err
	}
	if err := a.registerOwnSP(ctx, sp.Metadata(), "demo"); err != nil {
		return DemoInfo{}, fmt.Errorf("registering the demo SP: %w", err)
	}
	if a.demoFed != nil && a.AA != nil {
		sp.AA, sp.Exchange = a.demoFed.AA.ID, a.demoExchange
	}
	sp.Register(a.Mux)
	a.demoSP = sp
	rpURL := ""
	if a.demoFed != nil {
		rpURL = a.demoFed.RP1.ID + "/"
	}
	return DemoInfo{IdPURL: base, MetadataURL: base + idp.PathMetadata, DemoSPURL: base + demo.Prefix + "/", DemoRPURL: rpURL,
		Username: demo.CitizenUsername, Password: demo.CitizenPassword, TOTPSecret: DemoTOTPSecret(),
		OperatorTOTPSecret: DemoOperatorTOTPSecret()}, nil
}
