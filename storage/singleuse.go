package storage

import (
	"context"
	"time"
)

// SingleUse keeps single-use marks durably: the request-ID replay cache of
// AuthnRequests and LogoutRequests, answered flows (a consent form), used
// push challenges, posted forms. Every one of them goes through
// InsertRequestID, so keeping that one method in the durable store is
// enough for a cache that restarts empty (Redis without persistence) to
// never make an answered request or form valid again. What else the cache
// loses (sessions, one-time codes, counters) fails closed: the citizen
// logs in again.
type SingleUse interface {
	// InsertRequestID has the contract of Ephemeral.InsertRequestID.
	InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error
	// DeleteExpiredRequestIDs forgets marks whose expiry is at or before
	// now (the scheduler's clean-up) and says how many.
	DeleteExpiredRequestIDs(ctx context.Context, now time.Time) (int64, error)
}

// DurableSingleUse is eph with its InsertRequestID kept in marks, the
// durable store, rather than in the cache.
func DurableSingleUse(eph Ephemeral, marks SingleUse) Ephemeral {
	return durableSingleUse{Ephemeral: eph, marks: marks}
}

type durableSingleUse struct {
	Ephemeral
	marks SingleUse
}

func (d durableSingleUse) InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error {
	return d.marks.InsertRequestID(ctx, key, expiresAt)
}
