package rollover

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

// Audit actions of key operations.
const (
	ActionPlan   = "keys.rollover.plan"
	ActionCancel = "keys.rollover.cancel"
	ActionSwitch = "keys.rollover.switch"
	ActionRetire = "keys.rollover.retire"
)

// SealAD is the additional data a next key's PKCS#8 is sealed with: the
// sealed key opens only in its own row.
func SealAD(id string) []byte { return []byte("spid-idp signing key v1|" + id) }

// Ring is one node's view of the signing keys: the pair to sign with now
// and the certificates to publish. Refresh reloads the plan from storage;
// between refreshes the switch still happens on time, since the plan holds
// absolute times. Safe for concurrent use.
type Ring struct {
	Store storage.SigningKeys
	// Configured is the pair of idp.signing, used while no stored key is
	// active and for the stored key with the same certificate.
	Configured keys.Pair
	// Sealer opens next keys sealed with the data key.
	Sealer *datakey.Sealer
	// HSM finds a private key by label in the configured PKCS#11 token;
	// nil when no HSM is configured.
	HSM   func(label string) (crypto.Signer, error)
	Audit *audit.Logger
	Log   *slog.Logger
	Now   func() time.Time

	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	rows  []storage.SigningKey
	pairs []keys.Pair // pairs[i] opens rows[i]; Key nil when it could not be opened
}

func (r *Ring) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Current is the pair to sign with now.
func (r *Ring) Current() keys.Pair {
	s := r.snap.Load()
	if s == nil {
		return r.Configured
	}
	i := activeIndex(s.rows, r.now())
	if i < 0 || s.pairs[i].Key == nil {
		return r.Configured
	}
	return s.pairs[i]
}

// Published are the certificates the metadata lists now, the signing
// one first: during a rollover the next or the previous one follows.
func (r *Ring) Published() []*x509.Certificate {
	cur := r.Current()
	out := []*x509.Certificate{cur.Cert}
	s := r.snap.Load()
	if s == nil {
		return out
	}
	now := r.now()
	states, _, _ := Schedule(s.rows, now)
	for i, st := range states {
		c := s.pairs[i].Cert
		if st.Published(now) && c != nil && !c.Equal(cur.Cert) {
			out = append(out, c)
		}
	}
	return out
}

// Refresh reloads the plan, opens keys it has not opened yet, and records
// in the audit log, once for the cluster, each switch and retirement whose
// time has come. A key that does not open is reported and stays unused:
// the node keeps signing with the key before it.
func (r *Ring) Refresh(ctx context.Context) error {
	rows, err := r.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	old := r.snap.Load()
	s := &snapshot{rows: rows, pairs: make([]keys.Pair, len(rows))}
	var errs []error
	for i, row := range rows {
		if old != nil {
			if p, ok := old.pair(row.ID); ok {
				s.pairs[i] = p
				continue
			}
		}
		p, err := r.open(row)
		if err != nil {
			errs = append(errs, fmt.Errorf("signing key %s: %w", row.ID[:16], err))
			cert, _ := x509.ParseCertificate(row.Cert)
			p = keys.Pair{Cert: cert}
		}
		s.pairs[i] = p
	}
	r.snap.Store(s)
	if err := r.recordTransitions(ctx, rows); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *snapshot) pair(id string) (keys.Pair, bool) {
	for i, row := range s.rows {
		if row.ID == id && s.pairs[i].Key != nil {
			return s.pairs[i], true
		}
	}
	return keys.Pair{}, false
}

// Open resolves a stored key to a pair this node can sign with.
func (r *Ring) open(row storage.SigningKey) (keys.Pair, error) {
	cert, err := x509.ParseCertificate(row.Cert)
	if err != nil {
		return keys.Pair{}, fmt.Errorf("certificate: %w", err)
	}
	if r.Configured.Cert != nil && r.Configured.Cert.Equal(cert) {
		return r.Configured, nil
	}
	var signer crypto.Signer
	switch {
	case row.Configured:
		return keys.Pair{}, errors.New("it is the key of idp.signing when the rollover was planned, and this node is configured with another one")
	case len(row.Private) > 0:
		if r.Sealer == nil {
			return keys.Pair{}, errors.New("sealed with the data key, and security.data_key is not set")
		}
		der, _, err := r.Sealer.Open(row.Private, SealAD(row.ID))
		if err != nil {
			return keys.Pair{}, fmt.Errorf("does not open with security.data_key (is it the same on every node?): %w", err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return keys.Pair{}, fmt.Errorf("sealed key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return keys.Pair{}, fmt.Errorf("sealed key is %T", k)
		}
		signer = s
	case row.HSMLabel != "":
		if r.HSM == nil {
			return keys.Pair{}, fmt.Errorf("in the HSM as %q, and no HSM is configured (idp.signing.pkcs11)", row.HSMLabel)
		}
		if signer, err = r.HSM(row.HSMLabel); err != nil {
			return keys.Pair{}, fmt.Errorf("HSM key %q: %w", row.HSMLabel, err)
		}
	default:
		return keys.Pair{}, errors.New("no private key stored")
	}
	if err := keys.Match(signer, cert); err != nil {
		return keys.Pair{}, err
	}
	return keys.Pair{Key: signer, Cert: cert}, nil
}

// recordTransitions writes the audit records of switches and retirements
// that happened. The mark in storage comes first, so of several nodes
// exactly one records each; a crash between the two loses the record,
// never doubles it.
func (r *Ring) recordTransitions(ctx context.Context, rows []storage.SigningKey) error {
	now := r.now()
	if !pendingTransition(rows, now) {
		return nil
	}
	var evs []storage.AuditEvent
	err := r.Store.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		evs = evs[:0]
		states, _, _ := Schedule(cur, now)
		for i, s := range states {
			k := &cur[i]
			if s.State != Next && !k.ActivateAt.IsZero() && k.SwitchRecorded.IsZero() {
				k.SwitchRecorded = now
				evs = append(evs, transition(ActionSwitch, *k, "activate_at", k.ActivateAt))
			}
			if s.State == Retired && k.RetireRecorded.IsZero() {
				k.RetireRecorded = now
				k.Private = nil // a retired key never signs again
				evs = append(evs, transition(ActionRetire, *k, "retire_at", k.RetireAt))
			}
		}
		return cur, nil
	})
	if err != nil {
		return fmt.Errorf("recording key transitions: %w", err)
	}
	for _, ev := range evs {
		if r.Log != nil {
			r.Log.InfoContext(ctx, "signing key rollover", "action", ev.Action, "fingerprint", ev.Target)
		}
		if r.Audit != nil {
			if err := r.Audit.Record(ctx, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func pendingTransition(rows []storage.SigningKey, now time.Time) bool {
	for _, k := range rows {
		if (!k.ActivateAt.IsZero() && !now.Before(k.ActivateAt) && k.SwitchRecorded.IsZero()) ||
			(retired(k, now) && k.RetireRecorded.IsZero()) {
			return true
		}
	}
	return false
}

func transition(action string, k storage.SigningKey, when string, at time.Time) storage.AuditEvent {
	return storage.AuditEvent{Actor: "system", Action: action, Target: k.ID, Outcome: audit.Success,
		Details: map[string]string{when: at.UTC().Format(time.RFC3339)}}
}

// Run refreshes every interval until ctx ends, logging failures.
func (r *Ring) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil && r.Log != nil {
				r.Log.ErrorContext(ctx, "signing keys refresh", "err", err)
			}
		}
	}
}
