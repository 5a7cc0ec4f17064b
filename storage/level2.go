package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DeviceKind says what a second-factor device does.
type DeviceKind string

const (
	// DeviceTOTP is an authenticator app that shows time-based codes.
	DeviceTOTP DeviceKind = "totp"
	// DevicePush is an IdP app holding a signing key: it shows codes too
	// (it has a TOTP seed) and approves push challenges.
	DevicePush DeviceKind = "push"
)

// DeviceStatus is where a device is in its life.
type DeviceStatus string

const (
	DevicePending DeviceStatus = "pending" // activation started, first code not yet confirmed
	DeviceActive  DeviceStatus = "active"
	DeviceRevoked DeviceStatus = "revoked" // kept for the audit trail, never used again
)

// Device is a second factor of an identity. Secret and PublicKey are stored
// as the caller gives them: the caller encrypts them (AES-GCM with the
// identity as additional data), so the store never sees a seed in clear.
type Device struct {
	ID         string
	IdentityID string
	Name       string // chosen by the citizen, e.g. "Telefono di Mario"
	Kind       DeviceKind
	Status     DeviceStatus
	Secret     []byte // sealed TOTP seed
	PublicKey  []byte // sealed PKIX DER ECDSA P-256 public key (push devices)
	// LastStep is the last accepted TOTP time step: a code is accepted only
	// for a later step, so every code is single use.
	LastStep       int64
	FailedAttempts int
	KeyVersion     int // data-key generation that sealed Secret/PublicKey
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastUsedAt     time.Time // zero when never used
}

// Devices stores second-factor devices. It follows Store's conventions:
// ErrNotFound / ErrAlreadyExists, read-modify-write updates, UTC times.
// Creating a device for an unknown identity is ErrNotFound; deleting an
// identity deletes its devices.
type Devices interface {
	CreateDevice(ctx context.Context, d Device) error
	GetDevice(ctx context.Context, id string) (Device, error)
	// ListDevices returns the identity's devices, oldest first.
	ListDevices(ctx context.Context, identityID string) ([]Device, error)
	UpdateDevice(ctx context.Context, id string, fn func(Device) (Device, error)) error
	DeleteDevice(ctx context.Context, id string) error
}

// MaxValueSize is the largest value Values accepts, in bytes (64 KiB): enough
// for any challenge or logout chain, small enough that no caller turns the
// shared cache into bulk storage.
const MaxValueSize = 64 << 10

// CheckValue refuses what no Values backend stores: an empty key or a value
// over MaxValueSize. Backends call it so they refuse alike.
func CheckValue(key string, value []byte) error {
	if key == "" {
		return errors.New("empty key")
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("value of %d bytes exceeds the limit of %d", len(value), MaxValueSize)
	}
	return nil
}

// Values is a small expiring key-value store for short-lived state that
// several nodes share: SMS one-time codes, push challenges, logout chains.
// Values are opaque bytes (JSON by convention) of at most 64 KiB.
type Values interface {
	// CreateValue stores value under key until expiresAt; ErrAlreadyExists
	// if an unexpired value is there (exactly one concurrent creator wins).
	CreateValue(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	// GetValue returns the value and its expiry; ErrNotFound when absent or
	// expired.
	GetValue(ctx context.Context, key string) ([]byte, time.Time, error)
	// UpdateValue is read-modify-write and keeps the expiry; fn may run more
	// than once. ErrNotFound when absent or expired.
	UpdateValue(ctx context.Context, key string, fn func([]byte) ([]byte, error)) error
	// DeleteValue removes key; ErrNotFound when absent.
	DeleteValue(ctx context.Context, key string) error
}
