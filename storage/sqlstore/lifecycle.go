package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var (
	_ storage.Lifecycles = (*Store)(nil)
	_ storage.Leases     = (*Store)(nil)
)

var lifecycles = table[storage.IdentityLifecycle]{
	name: "lifecycles",
	what: "lifecycle",
	cols: []string{"identity_id", "state", "valid_from", "valid_until", "suspension", "revocation", "pending",
		"last_auth_at", "notices", "next_due_at", "created_at", "updated_at"},
	orderBy: "identity_id",
	parent:  "identity",
	check:   checkLifecycle,
	args: func(s *Store, v storage.IdentityLifecycle) []any {
		return []any{v.IdentityID, string(v.State), s.timeArg(v.ValidFrom), s.timeArg(v.ValidUntil),
			jsonPtrArg(v.Suspension), jsonPtrArg(v.Revocation), jsonPtrArg(v.Pending),
			s.timeArg(v.LastAuthAt), noticesArg(v.NoticesSent), s.timeArg(v.NextDueAt),
			s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt)}
	},
	dests: func(v *storage.IdentityLifecycle) []any {
		return []any{&v.IdentityID, &v.State, timeDest{&v.ValidFrom}, timeDest{&v.ValidUntil},
			jsonDest[storage.Suspension]{&v.Suspension}, jsonDest[storage.Revocation]{&v.Revocation},
			jsonDest[storage.Proposal]{&v.Pending}, timeDest{&v.LastAuthAt}, noticesDest{&v.NoticesSent},
			timeDest{&v.NextDueAt}, timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}}
	},
}

// checkLifecycle refuses states nobody handles and text the JSON columns
// could not return as given.
func checkLifecycle(l storage.IdentityLifecycle) error {
	switch l.State {
	case storage.IdentityActive, storage.IdentitySuspended, storage.IdentityRevoked, storage.IdentityExpired,
		storage.IdentityPending:
	default:
		return fmt.Errorf("unknown lifecycle state %q", l.State)
	}
	var texts []string
	texts = append(texts, l.NoticesSent...)
	if p := l.Suspension; p != nil {
		texts = append(texts, p.Cause, p.Channel, p.RequestedBy, p.PoliceReportID, p.ContactsDigest, p.Blocked)
	}
	if p := l.Revocation; p != nil {
		texts = append(texts, p.Cause)
		texts = append(texts, p.ApprovedBy...)
	}
	if p := l.Pending; p != nil {
		texts = append(texts, p.Action, p.Cause, p.Channel, p.ProposedBy)
	}
	for _, t := range texts {
		if !storable(t) {
			return errors.New("lifecycle text contains NUL or invalid UTF-8")
		}
	}
	return nil
}

// jsonPtrArg encodes a small struct as JSON text, NULL for nil. Times in
// it are normalised to UTC microseconds like every time column.
func jsonPtrArg[T any](v *T) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(normaliseTimes(*v))
	if err != nil {
		panic("sqlstore: marshal " + fmt.Sprintf("%T", v) + ": " + err.Error()) // plain structs of strings and times always marshal
	}
	return string(b)
}

func utcMicro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func normaliseTimes(v any) any {
	switch x := v.(type) {
	case storage.Suspension:
		x.StartedAt, x.Until = utcMicro(x.StartedAt), utcMicro(x.Until)
		return x
	case storage.Revocation:
		x.RequestedAt, x.EffectiveAt = utcMicro(x.RequestedAt), utcMicro(x.EffectiveAt)
		return x
	case storage.Proposal:
		x.ProposedAt = utcMicro(x.ProposedAt)
		return x
	}
	return v
}

// jsonDest scans a nullable JSON object into a pointer (nil for NULL).
type jsonDest[T any] struct{ p **T }

func (d jsonDest[T]) Scan(src any) error {
	v := new(T)
	null, err := scanJSON(src, v, fmt.Sprintf("%T", v))
	if err != nil {
		return err
	}
	if null {
		v = nil
	}
	*d.p = v
	return nil
}

func noticesArg(n []string) string {
	if n == nil {
		n = []string{}
	}
	b, _ := json.Marshal(n) // a string slice always marshals
	return string(b)
}

type noticesDest struct{ n *[]string }

func (d noticesDest) Scan(src any) error {
	var n []string
	if _, err := scanJSON(src, &n, "notices"); err != nil {
		return err
	}
	if len(n) == 0 { // NULL or []
		n = nil
	}
	*d.n = n
	return nil
}

// CreateLifecycle stores the lifecycle of an existing identity and, in the
// same transaction, sets the identity's status to its state.
func (s *Store) CreateLifecycle(ctx context.Context, l storage.IdentityLifecycle) error {
	args := lifecycles.args(s, l)
	if err := lifecycles.validate(l, args); err != nil {
		return fmt.Errorf("create lifecycle %q: %w", l.IdentityID, err)
	}
	insert := s.q("INSERT INTO lifecycles (" + strings.Join(lifecycles.cols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(lifecycles.cols)-1) + ")")
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
			return err
		}
		return s.mirrorStatus(ctx, tx, l.IdentityID, l.State)
	})
	if err != nil {
		return fmt.Errorf("create lifecycle %q: %w", l.IdentityID, s.constraintErr(err, lifecycles.parent))
	}
	return nil
}

func (s *Store) mirrorStatus(ctx context.Context, tx *sql.Tx, identityID string, state storage.IdentityStatus) error {
	res, err := tx.ExecContext(ctx, s.q("UPDATE identities SET status = ? WHERE id = ?"), string(state), identityID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("identity: %w", storage.ErrNotFound)
	}
	return nil
}

// GetLifecycle returns the lifecycle of an identity.
func (s *Store) GetLifecycle(ctx context.Context, identityID string) (storage.IdentityLifecycle, error) {
	return lifecycles.get(ctx, s, "identity_id", identityID, "of identity "+quote(identityID))
}

// UpdateLifecycle reads the lifecycle and its identity under a write lock,
// lets fn change them and writes both back, the identity's status set to
// the lifecycle's state. An error from fn is returned unwrapped.
func (s *Store) UpdateLifecycle(ctx context.Context, identityID string,
	fn func(storage.IdentityLifecycle, storage.Identity) (storage.IdentityLifecycle, storage.Identity, error)) error {
	if !storable(identityID) {
		return fmt.Errorf("update lifecycle %q: %w", identityID, storage.ErrNotFound)
	}
	selLife := s.q(lifecycles.selectFrom() + " WHERE identity_id = ?" + s.f.ForUpdate)
	selID := s.q(identities.selectFrom() + " WHERE id = ?" + s.f.ForUpdate)
	updLife := s.q("UPDATE lifecycles SET " + strings.Join(lifecycles.cols[1:], " = ?, ") + " = ? WHERE identity_id = ?")
	updID := s.q("UPDATE identities SET " + strings.Join(identities.cols[1:], " = ?, ") + " = ? WHERE id = ?")
	var fnErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		fnErr = nil
		var l storage.IdentityLifecycle
		var id storage.Identity
		// Lock order lifecycle then identity everywhere, so two updaters
		// never deadlock.
		if err := tx.QueryRowContext(ctx, selLife, identityID).Scan(lifecycles.dests(&l)...); err != nil {
			return notFoundIfNoRows(err)
		}
		if err := tx.QueryRowContext(ctx, selID, identityID).Scan(identities.dests(&id)...); err != nil {
			return notFoundIfNoRows(err)
		}
		l, id, fnErr = fn(l, id)
		if fnErr != nil {
			return fnErr
		}
		l.IdentityID, id.ID = identityID, identityID
		id.Status = l.State
		largs, iargs := lifecycles.args(s, l), identities.args(s, id)
		if err := lifecycles.validate(l, largs); err != nil {
			return err
		}
		if err := identities.validate(id, iargs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, updLife, append(largs[1:], identityID)...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, updID, append(iargs[1:], identityID)...)
		return err
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("update lifecycle %q: %w", identityID, s.constraintErr(err, ""))
	}
}

// ListDueLifecycles returns the lifecycles due at now (NextDueAt unset or
// not after now) with IdentityID after after, by IdentityID.
func (s *Store) ListDueLifecycles(ctx context.Context, now time.Time, after string, limit int) ([]storage.IdentityLifecycle, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list due lifecycles: limit must be positive, got %d", limit)
	}
	if !storable(after) {
		return nil, fmt.Errorf("list due lifecycles: cursor contains NUL or invalid UTF-8")
	}
	query := s.q(lifecycles.selectFrom() +
		" WHERE (next_due_at IS NULL OR next_due_at <= ?) AND identity_id > ? ORDER BY identity_id LIMIT ?")
	return scanRows(ctx, s, "list due lifecycles", lifecycles.dests, query, s.timeArg(now), after, limit)
}

// ListIdentitiesWithoutLifecycle returns identities (not pending
// activation) with no lifecycle row, by ID, after the cursor.
func (s *Store) ListIdentitiesWithoutLifecycle(ctx context.Context, after string, limit int) ([]storage.Identity, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list identities without lifecycle: limit must be positive, got %d", limit)
	}
	if !storable(after) {
		return nil, errors.New("list identities without lifecycle: cursor contains NUL or invalid UTF-8")
	}
	cols := make([]string, len(identities.cols))
	for i, c := range identities.cols {
		cols[i] = "i." + c
	}
	query := s.q("SELECT " + strings.Join(cols, ", ") + " FROM identities i LEFT JOIN lifecycles l ON l.identity_id = i.id" +
		" WHERE l.identity_id IS NULL AND i.status <> ? AND i.id > ? ORDER BY i.id LIMIT ?")
	return scanRows(ctx, s, "list identities without lifecycle", identities.dests, query, string(storage.IdentityPending), after, limit)
}

// TryAcquire takes or extends the lease in one upsert: the row is written
// only when absent, expired or already the holder's, so of several
// processes exactly one sees a row affected. Expiry uses this process's
// clock: nodes must keep their clocks within a small fraction of ttl.
func (s *Store) TryAcquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	switch {
	case name == "" || holder == "":
		return false, errors.New("acquire lease: empty name or holder")
	case !storable(name) || !storable(holder):
		return false, errors.New("acquire lease: name or holder contains NUL or invalid UTF-8")
	case ttl <= 0:
		return false, fmt.Errorf("acquire lease %q: ttl must be positive, got %v", name, ttl)
	}
	now := nowUTC()
	query := s.q("INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) " +
		"ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at " +
		"WHERE leases.expires_at <= ? OR leases.holder = excluded.holder")
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, name, holder, s.timeArg(now.Add(ttl)), s.timeArg(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return n == 1, nil
}

// Release deletes the lease if holder holds it.
func (s *Store) Release(ctx context.Context, name, holder string) error {
	if !storable(name) || !storable(holder) {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("DELETE FROM leases WHERE name = ? AND holder = ?"), name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}
