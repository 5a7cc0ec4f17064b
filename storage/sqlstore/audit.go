package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spid-idp/spid-idp/storage"
)

const auditCols = "seq, occurred_at, actor, action, target, outcome, request_id, details, prev_hash, hash"

func auditDests(ev *storage.AuditEvent) []any {
	return []any{&ev.Seq, timeDest{&ev.Time}, &ev.Actor, &ev.Action, &ev.Target, &ev.Outcome,
		&ev.RequestID, mapDest{&ev.Details}, &ev.PrevHash, &ev.Hash}
}

// AppendAudit chains ev after the last record and inserts it, in one
// transaction that excludes every other appender (the flavour's AuditLock or
// single writer), so the chain never forks. A zero Time is set to now.
func (s *Store) AppendAudit(ctx context.Context, ev storage.AuditEvent) (storage.AuditEvent, error) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev = storableAudit(ev)
	var rec storage.AuditEvent
	err := s.write(ctx, func(tx *sql.Tx) error {
		recs, err := s.appendAuditTx(ctx, tx, []storage.AuditEvent{ev})
		if err == nil {
			rec = recs[0]
		}
		return err
	})
	if err != nil {
		return storage.AuditEvent{}, fmt.Errorf("append audit %q: %w", ev.Action, err)
	}
	return rec, nil
}

// appendAuditTx chains evs (already storable, times set) after the last
// record inside tx, holding the flavour's AuditLock until tx ends, and
// inserts them.
func (s *Store) appendAuditTx(ctx context.Context, tx *sql.Tx, evs []storage.AuditEvent) ([]storage.AuditEvent, error) {
	if s.f.AuditLock != "" {
		if _, err := tx.ExecContext(ctx, s.f.AuditLock); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
	}
	var prev storage.AuditEvent // ChainAudit needs only its Seq and Hash
	var last *storage.AuditEvent
	err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").
		Scan(&prev.Seq, &prev.Hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read last record: %w", err)
	default:
		last = &prev
	}
	out := make([]storage.AuditEvent, len(evs))
	insert := s.q("INSERT INTO audit_events (" + auditCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	for i, ev := range evs {
		rec := storage.ChainAudit(last, ev)
		if _, err := tx.ExecContext(ctx, insert,
			rec.Seq, s.timeArg(rec.Time), rec.Actor, rec.Action, rec.Target, rec.Outcome,
			rec.RequestID, jsonArg(rec.Details), rec.PrevHash, rec.Hash); err != nil {
			return nil, err
		}
		out[i] = rec
		last = &out[i]
	}
	return out, nil
}

// ListAudit returns up to limit records with Seq > afterSeq, in order. The
// stored hashes are returned as they are: verifying them is the caller's job.
func (s *Store) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list audit: limit must be positive, got %d", limit)
	}
	return scanRows(ctx, s, "list audit", auditDests,
		s.q("SELECT "+auditCols+" FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"), afterSeq, limit)
}

// storableAudit replaces what not every database can store in text (NUL,
// invalid UTF-8; PostgreSQL refuses both) with U+FFFD before the record is
// hashed, so that an event carrying attacker-supplied bytes, such as a
// failed login's username, is still recorded, identically on every backend,
// and verifies when read back.
func storableAudit(ev storage.AuditEvent) storage.AuditEvent {
	for _, f := range []*string{&ev.Actor, &ev.Action, &ev.Target, &ev.Outcome, &ev.RequestID} {
		*f = storableText(*f)
	}
	clean := true
	for k, v := range ev.Details {
		if storableText(k) != k || storableText(v) != v {
			clean = false
			break
		}
	}
	if !clean {
		d := make(map[string]string, len(ev.Details))
		for k, v := range ev.Details {
			d[storableText(k)] = storableText(v)
		}
		ev.Details = d
	}
	return ev
}

// storable reports whether every backend can keep s as text.
func storable(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }

func storableText(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
