package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.SingleUse = (*Store)(nil)

// InsertRequestID implements storage.SingleUse in one upsert, like
// TryAcquire: the row is written only when absent or expired, so of
// several callers with the same key exactly one sees a row affected.
func (s *Store) InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error {
	now := nowUTC()
	switch {
	case key == "":
		return errors.New("insert request ID: empty key")
	case !storable(key):
		return errors.New("insert request ID: key contains NUL or invalid UTF-8")
	case !expiresAt.After(now):
		return fmt.Errorf("insert request ID: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	values := "VALUES (?, ?)"
	if s.localSyncOff(ctx) && storage.OutboxFrom(ctx) == nil {
		// One statement still, whose commit does not wait for the disk.
		values = "SELECT CAST(? AS TEXT), CAST(? AS " + s.f.Types.Time + ") WHERE " + s.f.LocalSyncOff
	}
	query := s.q("INSERT INTO single_use (mark, expires_at) " + values + " " +
		"ON CONFLICT (mark) DO UPDATE SET expires_at = excluded.expires_at " +
		"WHERE single_use.expires_at <= ?")
	n, err := s.writeOne(ctx, query, key, s.timeArg(expiresAt.UTC()), s.timeArg(now))
	if err != nil {
		return fmt.Errorf("insert request ID: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("insert request ID: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// DeleteExpiredRequestIDs implements storage.SingleUse.
func (s *Store) DeleteExpiredRequestIDs(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM single_use WHERE expires_at <= ?"), s.timeArg(now.UTC()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired request IDs: %w", err)
	}
	return n, nil
}
