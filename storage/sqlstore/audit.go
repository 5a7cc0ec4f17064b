package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spid-idp/spid-idp/storage"
)

const auditCols = "seq, occurred_at, actor, action, target, outcome, request_id, details, prev_hash, hash"

func auditDests(ev *storage.AuditEvent) []any {
	return []any{&ev.Seq, timeDest{&ev.Time}, &ev.Actor, &ev.Action, &ev.Target, &ev.Outcome,
		&ev.RequestID, mapDest{&ev.Details}, &ev.PrevHash, &ev.Hash}
}

// AppendAudit chains ev after the last record and stores it. A zero Time is
// set to now. It returns once the record is committed (durable).
//
// Concurrent appends are committed together (group commit, see auditQueue):
// the cost of a commit — an fsync, a network round trip — is paid once per
// batch rather than once per record, so the more writers there are, the
// more records each commit carries.
func (s *Store) AppendAudit(ctx context.Context, ev storage.AuditEvent) (storage.AuditEvent, error) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev = storableAudit(ev)
	req := &auditReq{ctx: ctx, ev: &ev}
	if err := s.audit.append(ctx, s, req); err != nil {
		return storage.AuditEvent{}, fmt.Errorf("append audit %q: %w", ev.Action, err)
	}
	return req.rec, nil
}

// auditQueue gathers the appends of one Store to its two hash chains, the
// audit log and the transaction register, into batches. One flusher
// goroutine at a time (started when the first request arrives, gone when
// the queue is empty) takes everything queued, up to maxAuditBatch records
// of each chain, and commits it as consecutive records of the chains in one
// write: the register record of a Response and its audit event, and every
// other request queued meanwhile, share one commit.
//
// No lock is held across round trips. Where write transactions exclude
// each other (SQLite) the batch reads the chains' heads and inserts inside
// one transaction. Elsewhere (PostgreSQL, several nodes) the flusher
// remembers the heads it last wrote and commits the batch in one
// autocommit statement: the audit records go in after the remembered last
// one, where the primary key on seq and the unique prev_hash make a
// concurrent append by another node fail the statement instead of forking
// the chain; the register records go in only if register_head still holds
// the remembered head, which the same statement moves on (a compare and
// swap, row-locked only while the statement runs). On either conflict
// nothing is written, and the flusher reads the heads again and chains the
// batch afresh. Where the database can chain records itself
// (Flavor.AuditAppendFunc), a conflict on the audit log instead sends this
// store's batches through audit_append, which takes turns with the other
// node under a lock held only while its statement runs, until batches stop
// finding the other node's records before them. The chain formats are unchanged: `audit verify` and the
// register's verification check one sequence each, whichever node wrote
// each record.
type auditQueue struct {
	mu       sync.Mutex
	pending  []*auditReq
	flushing bool
	// tail is the last audit record known to be in the table (only its Seq
	// and Hash are used); tailKnown false means it must be read first.
	tail      storage.AuditEvent
	tailKnown bool
	// regSeq, regHash: register_head as this store last wrote or read it.
	regSeq   int64
	regHash  string
	regKnown bool
	// contended: another node appended to the audit log meanwhile, so
	// batches go through audit_append (Flavor.AuditAppendFunc), which
	// queues them behind the other node's instead of racing it; quiet
	// counts the batches since that found the log where this store left
	// it. Uncontended, the plain insert after the remembered tail costs the
	// database less.
	contended bool
	quiet     int
}

// auditReq is one caller's append: an audit event, register records, or
// both (committed together or not at all).
type auditReq struct {
	ctx  context.Context
	ev   *storage.AuditEvent // nil: register records only
	regs []storage.RegisterRecord
	rec  storage.AuditEvent
	out  []storage.RegisterRecord
	err  error
	done chan struct{}
}

const (
	// maxAuditBatch bounds the records of each chain in one batch, and so
	// one statement's parameters (10 an audit record, 13 a register
	// record; PostgreSQL takes at most 65,535 parameters, SQLite 32,766).
	// A single request over it is written alone, in a transaction.
	maxAuditBatch = 256
	// maxAuditConflicts bounds how often a batch is re-chained after
	// another node appended first; every conflict means that node made
	// progress, so this is reached only by a pathological storm.
	maxAuditConflicts = 1000
	// quietBatches: after this many batches in a row found no other
	// node's records before them, a contended store goes back to the
	// plain insert (and to audit_append again at the next conflict).
	quietBatches = 32
	// auditFlushTimeout bounds one batch: it runs on behalf of many
	// requests, so no single request's context governs it.
	auditFlushTimeout = 30 * time.Second
)

// append queues req and waits until its batch is committed or failed, or
// ctx ends (the batch may still commit it then; the caller treats the
// action as failed either way, as with any cancelled write).
func (q *auditQueue) append(ctx context.Context, s *Store, req *auditReq) error {
	req.done = make(chan struct{})
	q.mu.Lock()
	q.pending = append(q.pending, req)
	start := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if start {
		go q.run(s)
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run flushes batches until the queue is empty.
func (q *auditQueue) run(s *Store) {
	for {
		q.mu.Lock()
		n, evs, regs := 0, 0, 0
		for _, r := range q.pending {
			e := 0
			if r.ev != nil {
				e = 1
			}
			if n > 0 && (evs+e > maxAuditBatch || regs+len(r.regs) > maxAuditBatch) {
				break
			}
			n, evs, regs = n+1, evs+e, regs+len(r.regs)
		}
		if n == 0 {
			q.flushing = false
			q.mu.Unlock()
			return
		}
		batch := make([]*auditReq, 0, n)
		for _, r := range q.pending[:n] {
			if err := r.ctx.Err(); err != nil {
				r.err = err
				close(r.done)
				continue
			}
			batch = append(batch, r)
		}
		q.pending = append(q.pending[:0], q.pending[n:]...)
		q.mu.Unlock()
		if len(batch) > 0 {
			q.flush(s, batch)
		}
	}
}

func (q *auditQueue) flush(s *Store, batch []*auditReq) {
	ctx, cancel := context.WithTimeout(context.Background(), auditFlushTimeout)
	defer cancel()
	later := true
	for _, r := range batch {
		later = later && storage.SyncsLater(r.ctx)
	}
	if later {
		ctx = storage.SyncLater(ctx)
	}
	var evs []storage.AuditEvent
	var regs []storage.RegisterRecord
	for _, r := range batch {
		if r.ev != nil {
			evs = append(evs, *r.ev)
		}
		regs = append(regs, r.regs...)
	}
	recs, out, err := q.commit(ctx, s, evs, regs)
	for _, r := range batch {
		switch {
		case err != nil:
			r.err = err
		default:
			if r.ev != nil {
				r.rec, recs = recs[0], recs[1:]
			}
			r.out, out = out[:len(r.regs):len(r.regs)], out[len(r.regs):]
		}
		close(r.done)
	}
}

// commit stores evs and regs as the next records of their chains and
// returns them chained.
func (q *auditQueue) commit(ctx context.Context, s *Store, evs []storage.AuditEvent, regs []storage.RegisterRecord) ([]storage.AuditEvent, []storage.RegisterRecord, error) {
	if s.writer != nil || len(evs) > maxAuditBatch || len(regs) > maxAuditBatch {
		// One transaction: reads the heads, locking register_head where
		// transactions do not already exclude each other.
		q.tailKnown, q.regKnown = false, false
		var recs []storage.AuditEvent
		var out []storage.RegisterRecord
		err := s.write(ctx, func(tx *sql.Tx) error {
			var err error
			if out, err = s.appendRegisterTx(ctx, tx, regs); err != nil {
				return err
			}
			if len(evs) > 0 {
				recs, err = s.appendAuditTx(ctx, tx, evs)
			}
			return err
		})
		return recs, out, err
	}
	if s.f.AuditAppendFunc && len(evs) > 0 && q.contended {
		return q.commitInDatabase(ctx, s, evs, regs)
	}
	c, err := s.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	for conflicts := 0; ; conflicts++ {
		if len(evs) > 0 && !q.tailKnown {
			prev, err := lastAudit(ctx, c)
			if err != nil {
				return nil, nil, err
			}
			q.tail, q.tailKnown = storage.AuditEvent{}, true
			if prev != nil {
				q.tail = *prev
			}
		}
		if len(regs) > 0 && !q.regKnown {
			if err := c.QueryRowContext(ctx, "SELECT seq, hash FROM register_head WHERE id = 1").Scan(&q.regSeq, &q.regHash); err != nil {
				return nil, nil, fmt.Errorf("read register head: %w", err)
			}
			q.regKnown = true
		}
		var prev *storage.AuditEvent
		if q.tail.Seq > 0 {
			prev = &q.tail
		}
		recs := chainAudit(prev, evs)
		out := chainRegister(q.regSeq, q.regHash, regs)
		swapped := true
		var err error
		if len(out) == 0 {
			err = s.insertAudit(ctx, c, recs)
		} else {
			swapped, err = s.insertChains(ctx, c, recs, q.regSeq, q.regHash, out)
		}
		if err == nil && swapped {
			if len(recs) > 0 {
				q.tail = recs[len(recs)-1]
			}
			if len(out) > 0 {
				q.regSeq, q.regHash = out[len(out)-1].Seq, out[len(out)-1].Hash
			}
			return recs, out, nil
		}
		if err == nil {
			// Another node moved the register on: nothing was written.
			q.regKnown = false
			if conflicts < maxAuditConflicts {
				continue
			}
			return nil, nil, errors.New("register head kept moving: too many conflicting appends")
		}
		q.tailKnown, q.regKnown = false, false
		class := s.f.classify(err)
		if class == ErrUnique && s.f.AuditAppendFunc {
			// Another node appends too: take turns with it from now on.
			q.contended, q.quiet = true, 0
			return q.commitInDatabase(ctx, s, evs, regs)
		}
		if class == ErrUnique && conflicts < maxAuditConflicts {
			// Another node appended first. Read its tail and try again at
			// once: sleeping would only let its next batches through first.
			continue
		}
		if (class != ErrUnique && class != ErrRetry) || conflicts == maxAuditConflicts {
			return nil, nil, err
		}
		// The database asked for a retry: let the other writer finish
		// rather than collide with it again at once.
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(1+min(conflicts, 10))))):
		}
	}
}

// commitInDatabase is commit where the database chains the audit records
// (Flavor.AuditAppendFunc): one statement calls audit_append, which reads
// the tail and inserts evs under a lock its commit releases, so appenders
// on other nodes wait their turn rather than make this batch fail. With
// register records, the same statement first moves register_head by
// compare and swap (as insertChains does) and audit_append runs only if
// that succeeded: both chains are written together or not at all.
func (q *auditQueue) commitInDatabase(ctx context.Context, s *Store, evs []storage.AuditEvent, regs []storage.RegisterRecord) ([]storage.AuditEvent, []storage.RegisterRecord, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	n := len(evs)
	times := make([]time.Time, n)
	actors, actions, targets, outcomes, requestIDs, details := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bodies := make([][]byte, n)
	for i := range evs {
		ev := &evs[i]
		// As ChainAudit: the database keeps microseconds.
		ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
		times[i], actors[i], actions[i], targets[i], outcomes[i], requestIDs[i] =
			ev.Time, ev.Actor, ev.Action, ev.Target, ev.Outcome, ev.RequestID
		details[i], bodies[i] = jsonArg(ev.Details), storage.AuditBody(*ev)
	}
	fnArgs := []any{times, actors, actions, targets, outcomes, requestIDs, details, bodies}
	const fnParams = "CAST(? AS TIMESTAMPTZ[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), " +
		"CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BYTEA[])"
	for conflicts := 0; ; conflicts++ {
		if len(regs) > 0 && !q.regKnown {
			if err := c.QueryRowContext(ctx, "SELECT seq, hash FROM register_head WHERE id = 1").Scan(&q.regSeq, &q.regHash); err != nil {
				return nil, nil, fmt.Errorf("read register head: %w", err)
			}
			q.regKnown = true
		}
		var out []storage.RegisterRecord
		var query chainsQuery
		if len(regs) == 0 {
			query.b.WriteString("SELECT out_seq, out_prev, out_hash FROM audit_append(TRUE, " + fnParams + ")")
		} else {
			out = chainRegister(q.regSeq, q.regHash, regs)
			query.register(s, q.regSeq, q.regHash, out)
			query.b.WriteString(" SELECT out_seq, out_prev, out_hash FROM audit_append((SELECT COUNT(*) = 1 FROM h), " + fnParams + ")")
		}
		if s.localSyncOff(ctx) {
			query.b.WriteString(" WHERE " + s.f.LocalSyncOff)
		}
		recs, err := scanAppended(ctx, c, s.q(query.b.String()), append(query.args, fnArgs...), evs)
		if err == nil && len(recs) == len(evs) {
			if len(out) > 0 {
				q.regSeq, q.regHash = out[len(out)-1].Seq, out[len(out)-1].Hash
			}
			if q.tailKnown && recs[0].PrevHash == q.tail.Hash {
				q.quiet++
			} else {
				q.quiet = 0
			}
			q.tail, q.tailKnown = recs[len(recs)-1], true
			if q.quiet >= quietBatches {
				q.contended = false
			}
			return recs, out, nil
		}
		q.regKnown = false
		if err == nil {
			// Another node moved the register on: nothing was written.
			if conflicts < maxAuditConflicts {
				continue
			}
			return nil, nil, errors.New("register head kept moving: too many conflicting appends")
		}
		// A transaction appending records of its own (appendAuditTx) took
		// the same sequence numbers first, or the database asked for a
		// retry.
		class := s.f.classify(err)
		if (class != ErrUnique && class != ErrRetry) || conflicts == maxAuditConflicts {
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(1+min(conflicts, 10))))):
		}
	}
}

// scanAppended runs query, which returns the seq, prev_hash and hash
// audit_append gave each of evs, and returns evs so chained (none when the
// statement appended nothing).
func scanAppended(ctx context.Context, c *sql.Conn, query string, args []any, evs []storage.AuditEvent) ([]storage.AuditEvent, error) {
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []storage.AuditEvent
	for rows.Next() {
		if len(recs) == len(evs) {
			return nil, errors.New("audit_append returned more records than it was given")
		}
		rec := evs[len(recs)]
		if err := rows.Scan(&rec.Seq, &rec.PrevHash, &rec.Hash); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(recs) != 0 && len(recs) != len(evs) {
		return nil, fmt.Errorf("audit_append chained %d of %d records", len(recs), len(evs))
	}
	return recs, nil
}

// errAuditRace: another appender took the sequence numbers a transaction
// had chained its records to; write runs the transaction again.
var errAuditRace = errors.New("another node appended to the audit log first")

// appendAuditTx chains evs (already storable, times set) after the last
// record inside tx and inserts them, for writes whose audit records must
// commit with them (an identity import). It takes no lock: should another
// appender commit first, the unique seq refuses the insert and the whole
// transaction is run again (errAuditRace).
func (s *Store) appendAuditTx(ctx context.Context, tx *sql.Tx, evs []storage.AuditEvent) ([]storage.AuditEvent, error) {
	prev, err := lastAudit(ctx, tx)
	if err != nil {
		return nil, err
	}
	recs := chainAudit(prev, evs)
	for i := 0; i < len(recs); i += maxAuditBatch {
		if err := s.insertAudit(ctx, tx, recs[i:min(i+maxAuditBatch, len(recs))]); err != nil {
			if s.f.classify(err) == ErrUnique {
				return nil, fmt.Errorf("%w: %w", errAuditRace, err)
			}
			return nil, err
		}
	}
	return recs, nil
}

type queryExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lastAudit returns the last record (nil when the log is empty).
func lastAudit(ctx context.Context, db queryExecer) (*storage.AuditEvent, error) {
	var prev storage.AuditEvent // ChainAudit needs only its Seq and Hash
	err := db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").Scan(&prev.Seq, &prev.Hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read last record: %w", err)
	}
	return &prev, nil
}

// chainAudit chains evs, in order, after prev.
func chainAudit(prev *storage.AuditEvent, evs []storage.AuditEvent) []storage.AuditEvent {
	recs := make([]storage.AuditEvent, len(evs))
	for i, ev := range evs {
		recs[i] = storage.ChainAudit(prev, ev)
		prev = &recs[i]
	}
	return recs
}

// insertAudit inserts recs in one statement: all or none.
func (s *Store) insertAudit(ctx context.Context, db queryExecer, recs []storage.AuditEvent) error {
	var q strings.Builder
	q.WriteString("INSERT INTO audit_events (" + auditCols + ") VALUES ")
	args := make([]any, 0, 10*len(recs))
	for i, rec := range recs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, auditArgs(s, rec)...)
	}
	_, err := db.ExecContext(ctx, s.q(q.String()), args...)
	return err
}

func auditArgs(s *Store, rec storage.AuditEvent) []any {
	return []any{rec.Seq, s.timeArg(rec.Time), rec.Actor, rec.Action, rec.Target, rec.Outcome,
		rec.RequestID, jsonArg(rec.Details), rec.PrevHash, rec.Hash}
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
