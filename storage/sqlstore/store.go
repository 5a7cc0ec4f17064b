// Package sqlstore implements storage.Store once over database/sql. A Flavor
// describes what differs between SQL dialects (placeholders, column types,
// locking, error codes), so the SQLite and PostgreSQL backends share every
// query, every transaction and the migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Store is a storage.Store over a *sql.DB it owns.
type Store struct {
	db *sql.DB
	f  Flavor
	// writer is a one-slot semaphore held by every write transaction when
	// the flavour has a single writer; a channel rather than a mutex so a
	// cancelled context stops the wait.
	writer chan struct{}
	// checkout bounds taking a connection from the pool (dial, or the
	// liveness ping of an idle one) when positive; see SetCheckoutTimeout.
	checkout time.Duration
	// audit batches concurrent audit appends (group commit).
	audit auditQueue
	// wq batches concurrent write transactions when there is one writer.
	wq writeQueue
	// months remembers the register partitions this store has made sure
	// of, so the hot path calls register_ensure_month once a month, not per
	// append. Per store, not global: a global keyed by the store's address
	// was fooled by a new store allocated where a closed one had been.
	months sync.Map
}

// SetCheckoutTimeout bounds how long an operation may wait for a usable
// connection: a database that stopped answering then fails the operation
// after d instead of after every pooled connection's ping and a dial have
// each timed out in turn. The statements themselves are not bounded here
// (a long import keeps its transaction); the driver bounds each wait for
// the server (see postgres.Options.Timeout). Call it before use.
func (s *Store) SetCheckoutTimeout(d time.Duration) { s.checkout = d }

// conn takes a connection from the pool within the checkout timeout. The
// caller closes it, which returns it to the pool.
func (s *Store) conn(ctx context.Context) (*sql.Conn, error) {
	if s.checkout <= 0 {
		return s.db.Conn(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, s.checkout)
	defer cancel()
	c, err := s.db.Conn(cctx)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		return nil, fmt.Errorf("no usable connection within %s: %w", s.checkout, err)
	}
	return c, err
}

var _ storage.Store = (*Store)(nil)

// maxAttempts bounds how often a write transaction is re-run after a
// retryable error (serialisation failure, deadlock, busy database).
const maxAttempts = 5

// New wraps db, brings its schema up to date and returns the store. The
// store owns db: Close closes it. On error db is left open for the caller.
func New(ctx context.Context, db *sql.DB, f Flavor) (*Store, error) {
	s := &Store{db: db, f: f}
	if f.SingleWriter {
		s.writer = make(chan struct{}, 1)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Ping makes a round trip to the database.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if s.checkout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.checkout)
		defer cancel()
	}
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%s: ping: %w", s.f.Name, err)
	}
	return nil
}

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) q(query string) string { return s.f.rebind(query) }

// write runs fn in a write transaction, re-running it (fn included) when the
// database reports a retryable conflict. An error from fn is returned as is.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	// A request's video appointment is freed with the change that takes
	// the request out of recognition (storage.VideoRelease), inside the
	// outbox's wrapping so the e-mail it stages commits too.
	if rel, ok := storage.TakeVideoRelease(ctx); ok {
		defer func() { rel.Done(err) }()
		inner := fn
		fn = func(tx *sql.Tx) error {
			rel.Rewind()
			if err := inner(tx); err != nil {
				return err
			}
			return s.releaseVideoTx(ctx, tx, rel)
		}
	}
	// The messages announcing this change commit with it (storage.Outbox).
	if ob, ok := storage.TakeOutbox(ctx); ok {
		defer func() { ob.Done(err) }()
		inner := fn
		fn = func(tx *sql.Tx) error {
			ob.Rewind()
			if err := inner(tx); err != nil {
				return err
			}
			for _, m := range ob.Messages() {
				if err := s.enqueueTx(ctx, tx, m); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, fn)
		if err == nil || attempt == maxAttempts || !s.rerun(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
}

// rerun reports whether a failed write transaction should run again: the
// database asked for it, or it lost a race it can win on a second try.
func (s *Store) rerun(err error) bool {
	return s.f.classify(err) == ErrRetry || errors.Is(err, errBatchAborted) || errors.Is(err, errAuditRace)
}

func (s *Store) writeOnce(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if s.writer != nil {
		return s.writeGrouped(ctx, fn)
	}
	c, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.f.Name, err)
	}
	defer c.Close()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.f.Name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one worth returning
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.f.Name, err)
	}
	return nil
}

// writeOne runs one statement as a transaction of its own and returns the
// rows it affected. Where the database runs a lone statement atomically
// (PostgreSQL autocommit) that is one round trip instead of three (BEGIN,
// the statement, COMMIT); single-writer flavours go through write and its
// group commit.
// localSyncOff reports whether an autocommit statement made with ctx may
// carry Flavor.LocalSyncOff (the caller asked for storage.SyncLater).
func (s *Store) localSyncOff(ctx context.Context) bool {
	return s.f.LocalSyncOff != "" && s.writer == nil && storage.SyncsLater(ctx)
}

func (s *Store) writeOne(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	if s.writer != nil || storage.OutboxFrom(ctx) != nil {
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		return n, err
	}
	for attempt := 1; ; attempt++ {
		res, err := s.execConn(ctx, query, args...)
		if err == nil {
			return res.RowsAffected()
		}
		if attempt == maxAttempts || s.f.classify(err) != ErrRetry {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
}

// execConn runs one statement on a connection taken within the checkout
// timeout.
func (s *Store) execConn(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ExecContext(ctx, query, args...)
}

// notFoundIfNoRows turns sql.ErrNoRows into storage.ErrNotFound.
func notFoundIfNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}
