package sqlstore

import (
	"context"
	"fmt"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.Devices = (*Store)(nil)

var devices = table[storage.Device]{
	name: "devices",
	what: "device",
	cols: []string{"id", "identity_id", "name", "kind", "status", "secret", "public_key",
		"last_step", "failed_attempts", "key_version", "created_at", "updated_at", "last_used_at"},
	fixed: 1, // identity_id: the seal binds Secret to the identity, so a device never moves
	// Zero creation times first in both dialects (SQLite puts NULL first by
	// default, PostgreSQL last), then the ID so equal times list stably.
	orderBy: "created_at NULLS FIRST, id",
	parent:  "identity",
	check:   checkDevice,
	args: func(s *Store, v storage.Device) []any {
		return []any{v.ID, v.IdentityID, v.Name, string(v.Kind), string(v.Status),
			bytesArg(v.Secret), bytesArg(v.PublicKey), v.LastStep, int64(v.FailedAttempts), int64(v.KeyVersion),
			s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt), s.timeArg(v.LastUsedAt)}
	},
	dests: func(v *storage.Device) []any {
		return []any{&v.ID, &v.IdentityID, &v.Name, &v.Kind, &v.Status,
			&v.Secret, &v.PublicKey, &v.LastStep, &v.FailedAttempts, &v.KeyVersion,
			timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}, timeDest{&v.LastUsedAt}}
	},
}

// checkDevice refuses kinds and statuses no caller knows: a device stored
// with a typo in its status would be neither usable nor visibly revoked.
func checkDevice(d storage.Device) error {
	switch d.Kind {
	case storage.DeviceTOTP, storage.DevicePush:
	default:
		return fmt.Errorf("unknown device kind %q", d.Kind)
	}
	switch d.Status {
	case storage.DevicePending, storage.DeviceActive, storage.DeviceRevoked:
	default:
		return fmt.Errorf("unknown device status %q", d.Status)
	}
	return nil
}

// CreateDevice stores a new device of an existing identity; ErrNotFound if
// the identity does not exist, ErrAlreadyExists if the device ID is taken.
func (s *Store) CreateDevice(ctx context.Context, d storage.Device) error {
	return devices.create(ctx, s, d)
}

// GetDevice returns the device with the given ID.
func (s *Store) GetDevice(ctx context.Context, id string) (storage.Device, error) {
	return devices.get(ctx, s, "id", id, quote(id))
}

// ListDevices returns the identity's devices, oldest first (by CreatedAt,
// then ID); none, without error, for an identity that has none or does not
// exist.
func (s *Store) ListDevices(ctx context.Context, identityID string) ([]storage.Device, error) {
	return devices.list(ctx, s, "identity_id", identityID)
}

// UpdateDevice is a read-modify-write of one device; its ID and IdentityID
// are kept whatever fn returns.
func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(storage.Device) (storage.Device, error)) error {
	return devices.update(ctx, s, id, fn)
}

// DeleteDevice removes a device.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return devices.delete(ctx, s, id)
}
