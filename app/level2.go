package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/storage"
)

// DataSealer is the sealer for secrets at rest: it seals with
// security.data_key and also opens values sealed with
// security.previous_data_key, so a rotation in progress
// (spid-idp keys rotate-data-key) breaks no login and no evidence file.
func DataSealer(cfg *config.Config) (*datakey.Sealer, error) {
	var previous [][]byte
	if len(cfg.Security.PreviousDataKey) > 0 {
		previous = append(previous, cfg.Security.PreviousDataKey)
	}
	sealer, err := datakey.New(cfg.Security.DataKey, previous...)
	if err != nil {
		return nil, fmt.Errorf("security.data_key / previous_data_key: %w", err)
	}
	return sealer, nil
}

// buildLevel2 assembles the second factors from the configuration: the data
// key that seals TOTP seeds and device keys, the SMS sender for activation
// codes, push approval and the app API (to mount at appapi.Prefix). Without
// a data key (only possible in tests) level 2 stays off: level-2 requests
// get nr20 and no app API is served.
func buildLevel2(cfg *config.Config, b *Backends, auditLog *audit.Logger, log *slog.Logger) (authflow.Level2, http.Handler, error) {
	log = log.With("component", "level2")
	if len(cfg.Security.DataKey) == 0 {
		log.Warn("security.data_key is not set: level 2 is disabled (SpidL2 requests get nr20)")
		return authflow.Level2{}, nil, nil
	}
	sealer, err := DataSealer(cfg)
	if err != nil {
		return authflow.Level2{}, nil, err
	}
	l2 := authflow.Level2{Sealer: sealer, Issuer: cfg.IdP.Name}
	sender, err := SMSSender(cfg, b, log)
	if err != nil {
		return authflow.Level2{}, nil, err
	}
	l2.SMS = SMSCodes(cfg, b, sender)
	l2.Push = &push.Service{Values: b.Eph, Devices: b.Store, Sealer: sealer, Audit: auditLog}
	api, err := appapi.New(appapi.Config{
		Push: l2.Push, Devices: b.Store, Values: b.Eph, Ephemeral: b.Eph, Sealer: sealer, Audit: auditLog,
		Issuer: cfg.IdP.Name, Identities: b.Store, Log: log.With("component", "appapi"),
	})
	if err != nil {
		return authflow.Level2{}, nil, fmt.Errorf("app API: %w", err)
	}
	return l2, api, nil
}

// securityAlerts e-mails owners when their credentials lock or a push
// request is refused in the app, through the configured mail sender; the
// links point to the personal area and to the care desk's form.
func securityAlerts(cfg *config.Config, b *Backends, log *slog.Logger) (authflow.Alerter, error) {
	m, err := MailSender(cfg, b, log.With("component", "security-alerts"))
	if err != nil {
		return nil, err
	}
	return alert.Mailer{Mail: m, BaseURL: cfg.Server.BaseURL, PersonalArea: portal.Prefix + "/", Report: portal.PathTicket}, nil
}

// SMSOutboxDir is where the outbox driver writes SMS messages.
func SMSOutboxDir(cfg *config.Config) string { return cfg.SMS.OutboxDir }

// demoSeedBase32 is the demo citizen's TOTP seed in base32. DEMO ONLY:
// it is public (printed in the banner, written here), so any identity
// holding it has no second factor at all.
const demoSeedBase32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// demoDeviceID names the demo citizen's device.
const demoDeviceID = "demo-citizen-totp"

// DemoTOTPSecret returns the base32 TOTP seed of the demo citizen's
// authenticator device, so the conformance suite (and a person with any
// authenticator app) can log in at level 2. Demo only: the seed is public.
func DemoTOTPSecret() string { return demoSeedBase32 }

// EnsureDemoDevice gives the demo citizen an active TOTP device with
// DemoTOTPSecret unless it already has an active device. Call it after
// demo.EnsureCitizen, in demo mode only.
func (a *App) EnsureDemoDevice(ctx context.Context) error {
	if !a.Config.Demo {
		return errors.New("the demo device exists in demo mode only")
	}
	st := a.Backends.Store
	id, err := st.GetIdentityByUsername(ctx, demo.CitizenUsername)
	if err != nil {
		return fmt.Errorf("demo citizen: %w", err)
	}
	devs, err := st.ListDevices(ctx, id.ID)
	if err != nil {
		return fmt.Errorf("demo citizen's devices: %w", err)
	}
	for _, d := range devs {
		if d.Status == storage.DeviceActive {
			return nil
		}
	}
	sealer, err := DataSealer(a.Config)
	if err != nil {
		return err
	}
	seed, err := otp.DecodeSeed(demoSeedBase32)
	if err != nil {
		return err
	}
	sealed, err := sealer.Seal(seed, push.SeedAD(id.ID, demoDeviceID))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	d := storage.Device{ID: demoDeviceID, IdentityID: id.ID, Name: "App demo", Kind: storage.DeviceTOTP,
		Status: storage.DeviceActive, Secret: sealed, KeyVersion: int(sealer.CurrentKeyID()), CreatedAt: now, UpdatedAt: now}
	err = st.CreateDevice(ctx, d)
	if errors.Is(err, storage.ErrAlreadyExists) {
		// Revoked earlier from the device page: bring the demo back.
		err = st.UpdateDevice(ctx, demoDeviceID, func(x storage.Device) (storage.Device, error) {
			// LastStep stays: codes already used stay used.
			x.Status, x.Secret, x.KeyVersion, x.FailedAttempts, x.UpdatedAt = storage.DeviceActive, sealed, d.KeyVersion, 0, now
			return x, nil
		})
	}
	if err != nil {
		return fmt.Errorf("demo device: %w", err)
	}
	a.Log.Info("demo citizen has a TOTP device (demo only: the seed is public)", "device", demoDeviceID)
	return nil
}
