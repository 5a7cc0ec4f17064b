package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.Register = (*Store)(nil)

const registerCols = "seq, created_at, kind, direction, binding, sp_entity_id, spid_code, request_id, message_id, client_ip, sealed, prev_hash, hash"

func registerDests(r *storage.RegisterRecord) []any {
	return []any{&r.Seq, timeDest{&r.Time}, &r.Kind, &r.Direction, &r.Binding, &r.SPEntityID, &r.SPIDCode,
		&r.RequestID, &r.MessageID, &r.ClientIP, &r.Sealed, &r.PrevHash, &r.Hash}
}

// AppendRegister chains recs after the register's head and inserts them,
// with ev appended to the audit log in the same transaction when not nil.
// register_head is locked for the transaction, so the chain never forks.
func (s *Store) AppendRegister(ctx context.Context, recs []storage.RegisterRecord, ev *storage.AuditEvent) ([]storage.RegisterRecord, error) {
	if len(recs) == 0 && ev == nil {
		return nil, nil
	}
	now := time.Now()
	for i := range recs {
		if recs[i].Time.IsZero() {
			recs[i].Time = now
		}
		for _, f := range []*string{&recs[i].Kind, &recs[i].Direction, &recs[i].Binding, &recs[i].SPEntityID,
			&recs[i].SPIDCode, &recs[i].RequestID, &recs[i].MessageID, &recs[i].ClientIP} {
			*f = storableText(*f) // attacker-supplied IDs must not fail the write
		}
	}
	if s.f.PartitionedRegister {
		if err := s.ensureMonths(ctx, recs); err != nil {
			return nil, err
		}
	}
	var aev storage.AuditEvent
	if ev != nil {
		aev = *ev
		if aev.Time.IsZero() {
			aev.Time = now
		}
		aev = storableAudit(aev)
	}
	var out []storage.RegisterRecord
	insert := s.q("INSERT INTO register_records (" + registerCols + ") VALUES (?" + strings.Repeat(", ?", 12) + ")")
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		if len(recs) > 0 {
			var seq int64
			var hash string
			if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM register_head WHERE id = 1"+s.f.ForUpdate).Scan(&seq, &hash); err != nil {
				return fmt.Errorf("read register head: %w", err)
			}
			for _, r := range recs {
				r = storage.ChainRegister(seq, hash, r)
				if _, err := tx.ExecContext(ctx, insert, r.Seq, s.timeArg(r.Time), r.Kind, r.Direction, r.Binding,
					r.SPEntityID, r.SPIDCode, r.RequestID, r.MessageID, r.ClientIP, bytesArg(r.Sealed), r.PrevHash, r.Hash); err != nil {
					return err
				}
				seq, hash = r.Seq, r.Hash
				out = append(out, r)
			}
			if _, err := tx.ExecContext(ctx, s.q("UPDATE register_head SET seq = ?, hash = ? WHERE id = 1"), seq, hash); err != nil {
				return err
			}
		}
		if ev != nil {
			if _, err := s.appendAuditTx(ctx, tx, []storage.AuditEvent{aev}); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("append register: %w", err)
	}
	return out, nil
}

func (s *Store) ensureMonths(ctx context.Context, recs []storage.RegisterRecord) error {
	for _, r := range recs {
		key := r.Time.UTC().Format("200601")
		if _, ok := s.months.Load(key); ok {
			continue
		}
		if _, err := s.db.ExecContext(ctx, s.q("SELECT register_ensure_month(?)"), s.timeArg(r.Time)); err != nil {
			return fmt.Errorf("register partition for %s: %w", r.Time.UTC().Format("2006-01"), err)
		}
		s.months.Store(key, true)
	}
	return nil
}

// SearchRegister returns the records q selects, in Seq order.
func (s *Store) SearchRegister(ctx context.Context, q storage.RegisterQuery) ([]storage.RegisterRecord, error) {
	var where []string
	var args []any
	if len(q.SPIDCodes) > 0 {
		ph := make([]string, 0, len(q.SPIDCodes))
		for _, c := range q.SPIDCodes {
			if !storable(c) {
				continue
			}
			ph = append(ph, "?")
			args = append(args, c)
		}
		if len(ph) == 0 {
			return nil, nil
		}
		where = append(where, "spid_code IN ("+strings.Join(ph, ", ")+")")
	}
	for _, f := range []struct{ col, val string }{{"request_id", q.RequestID}, {"sp_entity_id", q.SPEntityID}} {
		if f.val == "" {
			continue
		}
		if !storable(f.val) {
			return nil, nil
		}
		where = append(where, f.col+" = ?")
		args = append(args, f.val)
	}
	if !q.From.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, s.timeArg(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, s.timeArg(q.To))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	query := "SELECT " + registerCols + " FROM register_records"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq LIMIT ?"
	args = append(args, limit)
	return scanRows(ctx, s, "search register", registerDests, s.q(query), args...)
}

// ListRegister returns up to limit records with Seq > afterSeq, in order.
func (s *Store) ListRegister(ctx context.Context, afterSeq int64, limit int) ([]storage.RegisterRecord, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list register: limit must be positive, got %d", limit)
	}
	return scanRows(ctx, s, "list register", registerDests,
		s.q("SELECT "+registerCols+" FROM register_records WHERE seq > ? ORDER BY seq LIMIT ?"), afterSeq, limit)
}

// DeleteRegisterBefore deletes the records older than before: whole month
// partitions where the flavour has them, then the rest row by row.
func (s *Store) DeleteRegisterBefore(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if s.f.PartitionedRegister {
			return tx.QueryRowContext(ctx, s.q("SELECT register_delete_before(?)"), s.timeArg(before)).Scan(&n)
		}
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM register_records WHERE created_at < ?"), s.timeArg(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete register records: %w", err)
	}
	if s.f.PartitionedRegister {
		// Dropped partitions may be needed again by a clock set back.
		s.months.Range(func(k, _ any) bool { s.months.Delete(k); return true })
	}
	return n, nil
}
