package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
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
// with ev appended to the audit log in the same commit when not nil. It
// goes through the store's chain appender (see auditQueue): concurrent
// appends share one commit, and the register's head is moved by compare and
// swap, so the chain never forks and no lock outlives a statement.
func (s *Store) AppendRegister(ctx context.Context, recs []storage.RegisterRecord, ev *storage.AuditEvent) ([]storage.RegisterRecord, error) {
	if len(recs) == 0 && ev == nil {
		return nil, nil
	}
	now := time.Now()
	recs = slices.Clone(recs)
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
	req := &auditReq{ctx: ctx, regs: recs}
	if ev != nil {
		aev := *ev
		if aev.Time.IsZero() {
			aev.Time = now
		}
		aev = storableAudit(aev)
		req.ev = &aev
	}
	if err := s.audit.append(ctx, s, req); err != nil {
		return nil, fmt.Errorf("append register: %w", err)
	}
	return req.out, nil
}

// chainRegister chains recs, in order, after (seq, hash).
func chainRegister(seq int64, hash string, recs []storage.RegisterRecord) []storage.RegisterRecord {
	out := make([]storage.RegisterRecord, len(recs))
	for i, r := range recs {
		out[i] = storage.ChainRegister(seq, hash, r)
		seq, hash = out[i].Seq, out[i].Hash
	}
	return out
}

// appendRegisterTx chains recs after register_head inside tx, locking it
// for the transaction where write transactions do not already exclude each
// other, and inserts them.
func (s *Store) appendRegisterTx(ctx context.Context, tx *sql.Tx, recs []storage.RegisterRecord) ([]storage.RegisterRecord, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	var seq int64
	var hash string
	if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM register_head WHERE id = 1"+s.f.ForUpdate).Scan(&seq, &hash); err != nil {
		return nil, fmt.Errorf("read register head: %w", err)
	}
	out := chainRegister(seq, hash, recs)
	insert := s.q("INSERT INTO register_records (" + registerCols + ") VALUES (?" + strings.Repeat(", ?", 12) + ")")
	for _, r := range out {
		if _, err := tx.ExecContext(ctx, insert, registerArgs(s, r)...); err != nil {
			return nil, err
		}
	}
	last := out[len(out)-1]
	if _, err := tx.ExecContext(ctx, s.q("UPDATE register_head SET seq = ?, hash = ? WHERE id = 1"), last.Seq, last.Hash); err != nil {
		return nil, err
	}
	return out, nil
}

func registerArgs(s *Store, r storage.RegisterRecord) []any {
	return []any{r.Seq, s.timeArg(r.Time), r.Kind, r.Direction, r.Binding, r.SPEntityID, r.SPIDCode,
		r.RequestID, r.MessageID, r.ClientIP, bytesArg(r.Sealed), r.PrevHash, r.Hash}
}

// insertChains writes register records regs (chained after prevSeq,
// prevHash) and audit records evs in one statement, which commits all of
// them only if register_head still holds (prevSeq, prevHash), moving it to
// the last of regs. swapped false: the head had moved, nothing was
// written. For flavours whose statements may modify several tables
// (PostgreSQL); the values carry casts because a VALUES list outside an
// INSERT does not take its columns' types.
func (s *Store) insertChains(ctx context.Context, db queryExecer, evs []storage.AuditEvent, prevSeq int64, prevHash string, regs []storage.RegisterRecord) (swapped bool, err error) {
	var c chainsQuery
	c.register(s, prevSeq, prevHash, regs)
	if len(evs) > 0 {
		c.b.WriteString(", a AS (INSERT INTO audit_events (" + auditCols + ")")
		rows := make([][]any, len(evs))
		for i, ev := range evs {
			rows[i] = auditArgs(s, ev)
		}
		t := s.f.Types
		c.values(rows, []string{t.Int64, t.Time, "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", t.JSON, "TEXT", "TEXT"})
		c.b.WriteString(")")
	}
	c.b.WriteString(" SELECT COUNT(*) FROM h")
	if s.localSyncOff(ctx) {
		c.b.WriteString(" WHERE " + s.f.LocalSyncOff)
	}
	var n int
	if err := db.QueryRowContext(ctx, s.q(c.b.String()), c.args...).Scan(&n); err != nil {
		return false, err
	}
	return n == 1, nil
}

// chainsQuery builds a statement that appends to the register by compare
// and swap: CTE h moves register_head, CTE r inserts the records only if h
// did.
type chainsQuery struct {
	b    strings.Builder
	args []any
}

func (c *chainsQuery) param(v any, typ string) {
	c.args = append(c.args, v)
	c.b.WriteString("CAST(? AS " + typ + ")")
}

// values writes a VALUES list of rows (cast to types) selected only if h
// moved the head.
func (c *chainsQuery) values(rows [][]any, types []string) {
	c.b.WriteString(" SELECT * FROM (VALUES ")
	for i, row := range rows {
		if i > 0 {
			c.b.WriteString(", ")
		}
		c.b.WriteString("(")
		for j, v := range row {
			if j > 0 {
				c.b.WriteString(", ")
			}
			c.param(v, types[j])
		}
		c.b.WriteString(")")
	}
	c.b.WriteString(") v WHERE EXISTS (SELECT 1 FROM h)")
}

// register writes CTEs h and r for regs, chained after (prevSeq, prevHash).
func (c *chainsQuery) register(s *Store, prevSeq int64, prevHash string, regs []storage.RegisterRecord) {
	t := s.f.Types
	last := regs[len(regs)-1]
	c.b.WriteString("WITH h AS (UPDATE register_head SET seq = ")
	c.param(last.Seq, t.Int64)
	c.b.WriteString(", hash = ")
	c.param(last.Hash, "TEXT")
	c.b.WriteString(" WHERE id = 1 AND seq = ")
	c.param(prevSeq, t.Int64)
	c.b.WriteString(" AND hash = ")
	c.param(prevHash, "TEXT")
	c.b.WriteString(" RETURNING id), r AS (INSERT INTO register_records (" + registerCols + ")")
	rows := make([][]any, len(regs))
	for i, r := range regs {
		rows[i] = registerArgs(s, r)
	}
	c.values(rows, []string{t.Int64, t.Time, "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", t.Blob, "TEXT", "TEXT"})
	c.b.WriteString(")")
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
