package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/rollover"
	"github.com/spid-idp/spid-idp/storage"
)

// SigningRefresh is how often a node reloads the rollover plan; the switch
// itself happens on time whatever the refresh, since the plan holds
// absolute times.
const SigningRefresh = 10 * time.Second

// NewSigningRing is this node's view of the signing keys: the configured
// pair until a planned rollover moves to another (keys/rollover). Every
// key of the plan must open here, so a node that could not sign after
// the switch refuses to start instead.
func NewSigningRing(ctx context.Context, cfg *config.Config, st storage.Store, configured keys.Pair, auditLog *audit.Logger, log *slog.Logger) (*rollover.Ring, error) {
	r := &rollover.Ring{Store: st, Configured: configured, Audit: auditLog, Log: log.With("component", "signing-keys")}
	if cfg.Security.PKCS11.Module != "" {
		r.HSM = func(label string) (crypto.Signer, error) {
			tok, err := HSMToken(cfg)
			if err != nil {
				return nil, err
			}
			return tok.Signer(label)
		}
	}
	if len(cfg.Security.DataKey) > 0 {
		s, err := DataSealer(cfg)
		if err != nil {
			return nil, err
		}
		r.Sealer = s
	}
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// RolloverRequest names the key a rollover moves to and when.
type RolloverRequest struct {
	// KeyFile and CertFile hold the next key pair (PEM); the private key is
	// sealed with the data key into the database, so every node has it.
	KeyFile, CertFile string
	// PKCS11Label, instead of KeyFile, names the next key pair in the HSM
	// of security.pkcs11 (CertFile still holds its certificate).
	PKCS11Label string
	// SwitchAt is when the next key starts signing; zero means now plus
	// idp.signing.rollover_announce.
	SwitchAt time.Time
	// Overlap is how long the old certificate stays published after the
	// switch; negative means idp.signing.rollover_overlap.
	Overlap time.Duration
	Actor   string
}

// PlanRollover stores a rollover plan and records it in the audit log. It
// returns the planned key.
func PlanRollover(ctx context.Context, cfg *config.Config, st storage.Store, auditLog *audit.Logger, req RolloverRequest, now time.Time) (storage.SigningKey, error) {
	configured, err := SigningKeys(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return storage.SigningKey{}, err
	}
	var next keys.Pair
	if req.PKCS11Label != "" {
		tok, err := HSMToken(cfg)
		if err != nil {
			return storage.SigningKey{}, err
		}
		if next.Key, err = tok.Signer(req.PKCS11Label); err != nil {
			return storage.SigningKey{}, err
		}
		certPEM, err := os.ReadFile(req.CertFile)
		if err != nil {
			return storage.SigningKey{}, err
		}
		if next.Cert, err = keys.ParseCertificate(certPEM); err != nil {
			return storage.SigningKey{}, fmt.Errorf("%s: %w", req.CertFile, err)
		}
		if err := keys.Match(next.Key, next.Cert); err != nil {
			return storage.SigningKey{}, fmt.Errorf("HSM key %q and %s: %w", req.PKCS11Label, req.CertFile, err)
		}
	} else if next, err = keys.Load(req.KeyFile, req.CertFile); err != nil {
		return storage.SigningKey{}, err
	}
	switchAt, overlap := req.SwitchAt, req.Overlap
	if switchAt.IsZero() {
		switchAt = now.Add(cfg.IdP.Signing.RolloverAnnounce)
	}
	if overlap < 0 {
		overlap = cfg.IdP.Signing.RolloverOverlap
	}
	if err := keys.CheckIdPProfile(next.Cert, cfg.IdP.EntityID, switchAt); err != nil {
		return storage.SigningKey{}, fmt.Errorf("the next certificate at the switch: %w", err)
	}
	id := rollover.ID(next.Cert)
	newKey := rollover.NewKey{Cert: next.Cert, HSMLabel: req.PKCS11Label}
	held := "HSM label " + req.PKCS11Label
	if req.PKCS11Label == "" {
		if len(cfg.Security.DataKey) == 0 {
			return storage.SigningKey{}, errors.New("security.data_key is not set: the next key is sealed with it in the database")
		}
		sealer, err := DataSealer(cfg)
		if err != nil {
			return storage.SigningKey{}, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(next.Key)
		if err != nil {
			return storage.SigningKey{}, fmt.Errorf("next key: %w", err)
		}
		if newKey.Private, err = sealer.Seal(der, rollover.SealAD(id)); err != nil {
			return storage.SigningKey{}, err
		}
		held = "database (sealed)"
	}
	var planned storage.SigningKey
	err = st.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		out, err := rollover.Plan(cur, configured.Cert, newKey, now, switchAt, overlap)
		if err == nil {
			planned = out[len(out)-1]
		}
		return out, err
	})
	if err != nil {
		return storage.SigningKey{}, err
	}
	details := map[string]string{"switch_at": switchAt.UTC().Format(time.RFC3339),
		"retire_previous_at": switchAt.Add(overlap).UTC().Format(time.RFC3339),
		"not_after":          next.Cert.NotAfter.UTC().Format(time.RFC3339), "held": held}
	if err := auditLog.Record(ctx, storage.AuditEvent{Actor: req.Actor, Action: rollover.ActionPlan, Target: id,
		Outcome: audit.Success, Details: details}); err != nil {
		return planned, err
	}
	return planned, nil
}

// CancelRollover removes a planned key that has not started signing, and
// records it in the audit log.
func CancelRollover(ctx context.Context, st storage.Store, auditLog *audit.Logger, actor string, now time.Time) (storage.SigningKey, error) {
	var removed storage.SigningKey
	err := st.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		out, r, err := rollover.Cancel(cur, now)
		removed = r
		return out, err
	})
	if err != nil {
		return removed, err
	}
	return removed, auditLog.Record(ctx, storage.AuditEvent{Actor: actor, Action: rollover.ActionCancel, Target: removed.ID,
		Outcome: audit.Success, Details: map[string]string{"switch_at": removed.ActivateAt.UTC().Format(time.RFC3339)}})
}
