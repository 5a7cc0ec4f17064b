// Package sessions ends every session of an identity at once, on every
// node: the IdP's SSO sessions and the personal area's. A session records
// the identity's SessionEpoch when the citizen authenticated; ending the
// sessions advances the epoch in the durable store, and every use of a
// session compares the two (Valid). No list of sessions is kept or walked,
// so the change takes effect at the next request whichever node serves it,
// and a command-line change reaches sessions the server keeps in its own
// memory (demo mode).
//
// What ends them: a lifecycle transition (lifecycle advances the epoch in
// the same transaction as the state), a password change or reset, the
// revocation of a device.
package sessions

import (
	"context"
	"fmt"

	"github.com/spid-idp/spid-idp/storage"
)

// IdentityUpdater is the part of storage.Store that End needs.
type IdentityUpdater interface {
	UpdateIdentity(ctx context.Context, id string, fn func(storage.Identity) (storage.Identity, error)) error
}

// Advance moves id to a new epoch, voiding every session opened before.
// Callers already inside a store update of the identity use it directly.
func Advance(id *storage.Identity) { id.SessionEpoch++ }

// End voids every session of the identity and returns its new epoch.
func End(ctx context.Context, st IdentityUpdater, identityID string) (int64, error) {
	var epoch int64
	err := st.UpdateIdentity(ctx, identityID, func(id storage.Identity) (storage.Identity, error) {
		Advance(&id)
		epoch = id.SessionEpoch
		return id, nil
	})
	if err != nil {
		return 0, fmt.Errorf("ending the sessions of %s: %w", identityID, err)
	}
	return epoch, nil
}

// Valid reports whether a session opened at epoch may still be used by id:
// the identity is active and its sessions have not been ended since.
func Valid(id storage.Identity, epoch int64) bool {
	return id.Status == storage.IdentityActive && id.SessionEpoch == epoch
}
