// Package rollover replaces the IdP's SAML signing key without a flag day
// (spec saml-profile.md §1.6): the next certificate is published in the
// metadata ahead of the switch, so service providers learn it before the
// first Response signed with it; at the planned time every node signs with
// it; after an overlap the old certificate leaves the metadata. The plan
// lives in storage (storage.SigningKeys) and the times are absolute, so
// every node of a cluster publishes and signs alike without talking to the
// others.
package rollover

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// State is where a key stands at an instant.
type State string

const (
	// Next: published in the metadata, not yet signing.
	Next State = "next"
	// Active: signs every message.
	Active State = "active"
	// Previous: replaced by a newer key, still published until retired.
	Previous State = "previous"
	// Retired: gone from the metadata, never used again.
	Retired State = "retired"
)

// ID names a certificate: the SHA-256 of its DER, lower-case hex.
func ID(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Status is one key's state at an instant.
type Status struct {
	Key   storage.SigningKey
	State State
}

// Schedule says what each key is at now: the active key is the newest one
// whose activation time has come and that is not retired; later ones are
// next, earlier ones previous until their retirement. ok is false when no
// stored key is active (no rollover was ever planned): the configured key
// signs alone.
func Schedule(ks []storage.SigningKey, now time.Time) (out []Status, active int, ok bool) {
	active = activeIndex(ks, now)
	out = make([]Status, len(ks))
	for i, k := range ks {
		s := Status{Key: k}
		switch {
		case retired(k, now):
			s.State = Retired
		case i == active:
			s.State = Active
		case now.Before(k.ActivateAt):
			s.State = Next
		default:
			s.State = Previous
		}
		out[i] = s
	}
	return out, active, active >= 0
}

// activeIndex is the index of the active key, -1 if none.
func activeIndex(ks []storage.SigningKey, now time.Time) int {
	active := -1
	for i, k := range ks {
		if retired(k, now) || now.Before(k.ActivateAt) {
			continue
		}
		if active < 0 || later(k, ks[active]) {
			active = i
		}
	}
	return active
}

func retired(k storage.SigningKey, now time.Time) bool {
	return !k.RetireAt.IsZero() && !now.Before(k.RetireAt)
}

// later orders activation: by ActivateAt, then CreatedAt, then ID, so
// every node picks the same key.
func later(a, b storage.SigningKey) bool {
	if !a.ActivateAt.Equal(b.ActivateAt) {
		return a.ActivateAt.After(b.ActivateAt)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// Published reports whether k's certificate belongs in the metadata.
func (s Status) Published(now time.Time) bool {
	return s.State != Retired && !now.Before(s.Key.PublishAt)
}

// NewKey is the key a rollover moves to. Exactly one of Private (the
// PKCS#8 key sealed with the data key) and HSMLabel is set.
type NewKey struct {
	Cert     *x509.Certificate
	Private  []byte
	HSMLabel string
}

// ErrPending: a rollover is already planned and has not switched yet.
var ErrPending = errors.New("a rollover is already planned")

// Plan returns the key set with a rollover to next: next is published now
// and signs from switchAt; the key active now stays published until
// switchAt + overlap. configured is the certificate of idp.signing, the
// active key when no rollover was ever planned. Retired keys lose their
// sealed private key (their rows stay, as history).
func Plan(cur []storage.SigningKey, configured *x509.Certificate, next NewKey, now, switchAt time.Time, overlap time.Duration) ([]storage.SigningKey, error) {
	if next.Cert == nil {
		return nil, errors.New("no certificate for the next key")
	}
	if (len(next.Private) == 0) == (next.HSMLabel == "") {
		return nil, errors.New("the next key must be either sealed or in the HSM")
	}
	if !switchAt.After(now) {
		return nil, fmt.Errorf("the switch time %s is not in the future: the next certificate must be published before it signs", switchAt.UTC().Format(time.RFC3339))
	}
	if overlap < 0 {
		return nil, errors.New("the overlap must not be negative")
	}
	if !next.Cert.NotAfter.After(switchAt.Add(overlap)) {
		return nil, fmt.Errorf("the next certificate expires on %s, before the rollover is over", next.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if switchAt.Before(next.Cert.NotBefore) {
		return nil, fmt.Errorf("the next certificate is valid only from %s, after the switch", next.Cert.NotBefore.UTC().Format(time.RFC3339))
	}
	nextID := ID(next.Cert)
	states, active, ok := Schedule(cur, now)
	out := make([]storage.SigningKey, 0, len(cur)+2)
	for _, s := range states {
		if s.State == Next {
			return nil, fmt.Errorf("%w: %s signs from %s; cancel it first (keys rollover --cancel)", ErrPending, s.Key.ID[:16], s.Key.ActivateAt.UTC().Format(time.RFC3339))
		}
	}
	for _, s := range states {
		k := s.Key
		if k.ID == nextID {
			return nil, fmt.Errorf("the certificate %s is already in the key set (%s)", nextID[:16], s.State)
		}
		if s.State == Retired {
			k.Private = nil
		}
		out = append(out, k)
	}
	retireAt := switchAt.Add(overlap)
	if ok {
		out[active].RetireAt = retireAt
	} else {
		if configured == nil {
			return nil, errors.New("no configured signing certificate")
		}
		id := ID(configured)
		for _, k := range out {
			if k.ID == id {
				return nil, fmt.Errorf("the configured certificate %s is retired: configure the active key", id[:16])
			}
		}
		if id == nextID {
			return nil, errors.New("the next key is the configured one")
		}
		out = append(out, storage.SigningKey{ID: id, Cert: configured.Raw, Configured: true,
			PublishAt: now, RetireAt: retireAt, CreatedAt: now, SwitchRecorded: now})
	}
	out = append(out, storage.SigningKey{ID: nextID, Cert: next.Cert.Raw, Private: next.Private,
		HSMLabel: next.HSMLabel, PublishAt: now, ActivateAt: switchAt, CreatedAt: now})
	return out, nil
}

// Cancel removes a planned key that has not switched yet and gives the
// active key back its open end. It returns the removed key.
func Cancel(cur []storage.SigningKey, now time.Time) ([]storage.SigningKey, storage.SigningKey, error) {
	states, active, ok := Schedule(cur, now)
	var removed storage.SigningKey
	out := make([]storage.SigningKey, 0, len(cur))
	for _, s := range states {
		if s.State == Next {
			removed = s.Key
			continue
		}
		out = append(out, s.Key)
	}
	if removed.ID == "" {
		return nil, removed, errors.New("no rollover is planned")
	}
	if ok {
		for i := range out {
			if out[i].ID == cur[active].ID {
				out[i].RetireAt = time.Time{}
			}
		}
	}
	return out, removed, nil
}
