package storage

import (
	"context"
	"time"
)

// SigningKey is one SAML signing key of the IdP as a planned rollover sees
// it (spec saml-profile.md §1.6): every node reads the same rows, so every
// node publishes, signs with and retires the same keys at the same times.
type SigningKey struct {
	// ID is the SHA-256 of the certificate, lower-case hex.
	ID string
	// Cert is the certificate, DER.
	Cert []byte
	// Private is the private key (PKCS#8) sealed with the data key; empty
	// when the key is in the HSM (HSMLabel) or is the configured one.
	Private []byte
	// HSMLabel names the private key in the configured PKCS#11 token.
	HSMLabel string
	// Configured marks the key of idp.signing (file or HSM) that was in
	// use when the first rollover was planned: nodes sign with their own
	// configured key while it is the active one.
	Configured bool
	// PublishAt is when the certificate enters the metadata.
	PublishAt time.Time
	// ActivateAt is when responses start being signed with it; zero for a
	// key active from the start.
	ActivateAt time.Time
	// RetireAt is when it leaves the metadata and is no longer used; zero
	// while no successor is planned.
	RetireAt time.Time
	// SwitchRecorded and RetireRecorded are when a node wrote the audit
	// record of the switch to this key and of its retirement (zero: not
	// yet), so each is recorded once for the whole cluster.
	SwitchRecorded time.Time
	RetireRecorded time.Time
	CreatedAt      time.Time
}

// SigningKeys keep the signing keys of planned rollovers.
type SigningKeys interface {
	// ListSigningKeys returns every key, oldest first (CreatedAt, then ID).
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys is a read-modify-write of the whole set in one
	// transaction, serialised against every other update: fn gets the
	// current keys and returns the set to store; keys it leaves out are
	// deleted. fn may be called more than once; an error from it aborts
	// the update and is returned as is.
	UpdateSigningKeys(ctx context.Context, fn func(current []SigningKey) ([]SigningKey, error)) error
}
