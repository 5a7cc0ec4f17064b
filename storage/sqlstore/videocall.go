package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.VideoSlots = (*Store)(nil)

// nullText scans a nullable text column into a string ("" for NULL).
type nullText struct{ s *string }

func (d nullText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.s = ""
	case string:
		*d.s = v
	case []byte:
		*d.s = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into text", src)
	}
	return nil
}

// textArg binds "" as NULL, so a UNIQUE column admits many empty values.
func textArg(v string) any {
	if v == "" {
		return nil
	}
	return v
}

var videoSlots = table[storage.VideoSlot]{
	name:    "video_slots",
	what:    "video slot",
	cols:    []string{"id", "operator_id", "start_at", "end_at", "request_id", "booked_at", "created_by", "created_at"},
	fixed:   1,
	orderBy: "start_at, operator_id, id",
	parent:  "operator",
	check: func(v storage.VideoSlot) error {
		switch {
		case v.OperatorID == "":
			return errors.New("empty operator")
		case v.Start.IsZero() || !v.End.After(v.Start):
			return errors.New("the slot must end after it starts")
		}
		return nil
	},
	args: func(s *Store, v storage.VideoSlot) []any {
		return []any{v.ID, v.OperatorID, s.timeArg(v.Start), s.timeArg(v.End), textArg(v.RequestID), s.timeArg(v.BookedAt),
			v.CreatedBy, s.timeArg(v.CreatedAt)}
	},
	dests: func(v *storage.VideoSlot) []any {
		return []any{&v.ID, &v.OperatorID, timeDest{&v.Start}, timeDest{&v.End}, nullText{&v.RequestID}, timeDest{&v.BookedAt},
			&v.CreatedBy, timeDest{&v.CreatedAt}}
	},
}

// CreateVideoSlots stores slots in one transaction. The operators' rows
// are locked first (PostgreSQL; SQLite has one writer), so two
// publications of one operator on two nodes cannot both pass the overlap
// check.
func (s *Store) CreateVideoSlots(ctx context.Context, slots []storage.VideoSlot) error {
	if len(slots) == 0 {
		return nil
	}
	for i, a := range slots {
		if err := videoSlots.validate(a, videoSlots.args(s, a)); err != nil {
			return fmt.Errorf("create video slot %q: %w", a.ID, err)
		}
		for _, b := range slots[:i] {
			if a.OperatorID == b.OperatorID && a.Start.Before(b.End) && b.Start.Before(a.End) {
				return fmt.Errorf("create video slot %q: overlaps %q: %w", a.ID, b.ID, storage.ErrAlreadyExists)
			}
		}
	}
	lock := s.q("SELECT id FROM operators WHERE id = ?" + s.f.ForUpdate)
	overlap := s.q("SELECT id FROM video_slots WHERE operator_id = ? AND start_at < ? AND end_at > ? LIMIT 1")
	err := s.write(ctx, func(tx *sql.Tx) error {
		locked := map[string]bool{}
		for _, v := range slots {
			if !locked[v.OperatorID] {
				var id string
				if err := tx.QueryRowContext(ctx, lock, v.OperatorID).Scan(&id); err != nil {
					return fmt.Errorf("operator: %w", notFoundIfNoRows(err))
				}
				locked[v.OperatorID] = true
			}
			var other string
			err := tx.QueryRowContext(ctx, overlap, v.OperatorID, s.timeArg(v.End), s.timeArg(v.Start)).Scan(&other)
			switch {
			case err == nil:
				return fmt.Errorf("slot %q overlaps %q: %w", v.ID, other, storage.ErrAlreadyExists)
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if err := videoSlots.insert(ctx, s, tx, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create video slots: %w", s.constraintErr(err, "operator"))
	}
	return nil
}

// GetVideoSlot returns one slot.
func (s *Store) GetVideoSlot(ctx context.Context, id string) (storage.VideoSlot, error) {
	return videoSlots.get(ctx, s, "id", id, quote(id))
}

// VideoBooking returns the slot a request holds.
func (s *Store) VideoBooking(ctx context.Context, requestID string) (storage.VideoSlot, error) {
	if requestID == "" {
		return storage.VideoSlot{}, fmt.Errorf("video booking: %w", storage.ErrNotFound)
	}
	return videoSlots.get(ctx, s, "request_id", requestID, "of a request")
}

// ListVideoSlots returns the slots f selects, by start.
func (s *Store) ListVideoSlots(ctx context.Context, f storage.VideoSlotFilter) ([]storage.VideoSlot, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.OperatorID != "" {
		if !storable(f.OperatorID) {
			return nil, nil
		}
		where, args = append(where, "operator_id = ?"), append(args, f.OperatorID)
	}
	if !f.From.IsZero() {
		where, args = append(where, "start_at >= ?"), append(args, s.timeArg(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "start_at < ?"), append(args, s.timeArg(f.To))
	}
	if f.FreeOnly {
		where = append(where, "request_id IS NULL")
	}
	if f.BookedOnly {
		where = append(where, "request_id IS NOT NULL")
	}
	q := videoSlots.selectFrom() + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + videoSlots.orderBy
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return videoSlots.query(ctx, s, q, args...)
}

// BookVideoSlot claims slotID for requestID with a guarded UPDATE: of two
// nodes booking one slot at once, the database lets one through, and the
// UNIQUE request_id refuses a second slot for one request.
func (s *Store) BookVideoSlot(ctx context.Context, slotID, requestID, replaces string, at time.Time) (storage.VideoSlot, bool, error) {
	var out storage.VideoSlot
	changed := false
	if requestID == "" || !storable(slotID) || !storable(requestID) || !storable(replaces) {
		return out, false, fmt.Errorf("book video slot %q: %w", slotID, storage.ErrSlotTaken)
	}
	cur := s.q(videoSlots.selectFrom() + " WHERE request_id = ?" + s.f.ForUpdate)
	release := s.q("UPDATE video_slots SET request_id = NULL, booked_at = NULL WHERE id = ? AND request_id = ?")
	claim := s.q("UPDATE video_slots SET request_id = ?, booked_at = ? WHERE id = ? AND request_id IS NULL")
	get := s.q(videoSlots.selectFrom() + " WHERE id = ?")
	err := s.write(ctx, func(tx *sql.Tx) error {
		changed = false
		var held storage.VideoSlot
		err := tx.QueryRowContext(ctx, cur, requestID).Scan(videoSlots.dests(&held)...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if replaces != "" {
				// The booking to change is gone (cancelled meanwhile): book
				// afresh only if the applicant meant no booking at all.
				return fmt.Errorf("the request no longer holds %q: %w", replaces, storage.ErrAlreadyExists)
			}
		case err != nil:
			return err
		case held.ID == slotID:
			out = held
			return nil
		case held.ID != replaces:
			return fmt.Errorf("the request holds another slot: %w", storage.ErrAlreadyExists)
		default:
			if _, err := tx.ExecContext(ctx, release, held.ID, requestID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, claim, requestID, s.timeArg(at), slotID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return storage.ErrSlotTaken
		}
		changed = true
		return tx.QueryRowContext(ctx, get, slotID).Scan(videoSlots.dests(&out)...)
	})
	if err != nil {
		if s.f.classify(err) == ErrUnique {
			err = storage.ErrAlreadyExists
		}
		return storage.VideoSlot{}, false, fmt.Errorf("book video slot %q: %w", slotID, err)
	}
	return out, changed, nil
}

// ReleaseVideoSlot frees a slot its request gives up.
func (s *Store) ReleaseVideoSlot(ctx context.Context, slotID, requestID string) (storage.VideoSlot, error) {
	var out storage.VideoSlot
	if slotID == "" || requestID == "" || !storable(slotID) || !storable(requestID) {
		return out, fmt.Errorf("release video slot %q: %w", slotID, storage.ErrNotFound)
	}
	get := s.q(videoSlots.selectFrom() + " WHERE id = ? AND request_id = ?" + s.f.ForUpdate)
	release := s.q("UPDATE video_slots SET request_id = NULL, booked_at = NULL WHERE id = ? AND request_id = ?")
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, get, slotID, requestID).Scan(videoSlots.dests(&out)...); err != nil {
			return notFoundIfNoRows(err)
		}
		_, err := tx.ExecContext(ctx, release, slotID, requestID)
		return err
	})
	if err != nil {
		return storage.VideoSlot{}, fmt.Errorf("release video slot %q: %w", slotID, err)
	}
	return out, nil
}

// DeleteVideoSlot removes a slot and returns it as it was.
func (s *Store) DeleteVideoSlot(ctx context.Context, id string) (storage.VideoSlot, error) {
	var out storage.VideoSlot
	if !storable(id) {
		return out, fmt.Errorf("delete video slot %q: %w", id, storage.ErrNotFound)
	}
	query := s.q("DELETE FROM video_slots WHERE id = ? RETURNING " + strings.Join(videoSlots.cols, ", "))
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, query, id).Scan(videoSlots.dests(&out)...)
	})
	if err != nil {
		return storage.VideoSlot{}, fmt.Errorf("delete video slot %q: %w", id, notFoundIfNoRows(err))
	}
	return out, nil
}

// DeleteVideoSlotsEndedBefore deletes past slots in one statement; the
// start_at bound (implied by the end) lets the index find them.
func (s *Store) DeleteVideoSlotsEndedBefore(ctx context.Context, t time.Time, limit int) ([]storage.VideoSlot, error) {
	if limit <= 0 {
		return nil, nil
	}
	query := s.q(fmt.Sprintf("DELETE FROM video_slots WHERE id IN (SELECT id FROM video_slots WHERE start_at < ? AND end_at < ? ORDER BY start_at, id LIMIT %d) RETURNING %s",
		limit, strings.Join(videoSlots.cols, ", ")))
	var out []storage.VideoSlot
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, query, s.timeArg(t), s.timeArg(t))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v storage.VideoSlot
			if err := rows.Scan(videoSlots.dests(&v)...); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("delete past video slots: %w", err)
	}
	return out, nil
}

// releaseVideoTx frees, inside tx, the appointment rel's request holds
// when the change armed rel (storage.VideoRelease).
func (s *Store) releaseVideoTx(ctx context.Context, tx *sql.Tx, rel *storage.VideoRelease) error {
	keep, armed := rel.Due()
	if !armed || !storable(rel.RequestID) {
		return nil
	}
	var held storage.VideoSlot
	err := tx.QueryRowContext(ctx, s.q(videoSlots.selectFrom()+" WHERE request_id = ?"+s.f.ForUpdate), rel.RequestID).Scan(videoSlots.dests(&held)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("video booking of the request: %w", err)
	case !held.Start.After(rel.After) || keep != "" && held.OperatorID == keep:
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q("UPDATE video_slots SET request_id = NULL, booked_at = NULL WHERE id = ? AND request_id = ?"),
		held.ID, rel.RequestID); err != nil {
		return fmt.Errorf("freeing the video appointment: %w", err)
	}
	return rel.Freed(held)
}
