package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/spid-idp/spid-idp/storage"
)

// writeQueue is the group commit of single-writer flavours (SQLite): the
// write transactions that queue up while one commits run together as one
// transaction, each inside a savepoint of its own, so they share one commit
// — one fsync — instead of paying one each, one after the other. A writer's
// error undoes only its own statements; the others still commit.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeJob
	running bool
	batches atomic.Int64 // transactions run, for tests
}

type writeJob struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	err  error
	done chan struct{}
	// later: the writer asked for storage.SyncLater; a batch of such
	// writes only commits without an fsync.
	later bool
}

// maxWriteBatch bounds how many write transactions share one commit.
const maxWriteBatch = 64

// errBatchAborted is given to the writers of a batch that another writer's
// failure rolled back entirely (SQLite rolls back the whole transaction on
// some errors, an interrupted statement among them); write runs them again.
var errBatchAborted = errors.New("write batch rolled back by another writer's failure")

// writeGrouped queues fn and returns once its batch is committed or failed.
// It does not return early when ctx ends: fn sees ctx and fails on its
// own, and returning earlier would hide whether fn's writes committed.
func (s *Store) writeGrouped(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	job := &writeJob{ctx: ctx, fn: fn, done: make(chan struct{}), later: storage.SyncsLater(ctx)}
	q := &s.wq
	q.mu.Lock()
	q.pending = append(q.pending, job)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go s.runWrites()
	}
	<-job.done
	return job.err
}

// runWrites commits batches until the queue is empty.
func (s *Store) runWrites() {
	q := &s.wq
	for {
		q.mu.Lock()
		n := min(len(q.pending), maxWriteBatch)
		if n == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		batch := make([]*writeJob, n)
		copy(batch, q.pending)
		q.pending = append(q.pending[:0], q.pending[n:]...)
		q.mu.Unlock()
		s.commitBatch(batch)
		for _, j := range batch {
			close(j.done)
		}
	}
}

func (s *Store) commitBatch(batch []*writeJob) {
	// The transaction belongs to the whole batch: no one writer's context
	// may roll it back.
	ctx := context.Background()
	s.wq.batches.Add(1)
	s.writer <- struct{}{}
	defer func() { <-s.writer }()
	c, err := s.conn(ctx)
	if err != nil {
		for _, j := range batch {
			j.err = fmt.Errorf("%s: begin: %w", s.f.Name, err)
		}
		return
	}
	defer c.Close()
	if s.syncsLater(batch) {
		if _, err := c.ExecContext(ctx, s.f.SyncLater); err != nil {
			for _, j := range batch {
				j.err = fmt.Errorf("%s: begin: %w", s.f.Name, err)
			}
			return
		}
		// Runs before c.Close, once the transaction is over.
		defer s.syncNow(c)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		for _, j := range batch {
			j.err = fmt.Errorf("%s: begin: %w", s.f.Name, err)
		}
		return
	}
	// abort rolls everything back: the writers not yet failed on their own
	// run again.
	abort := func(cause error) {
		_ = tx.Rollback()
		for _, j := range batch {
			if j.err == nil {
				j.err = fmt.Errorf("%w: %w", errBatchAborted, cause)
			}
		}
	}
	if len(batch) == 1 {
		// Alone: exactly the plain transaction, no savepoint.
		j := batch[0]
		if j.err = j.fn(tx); j.err != nil {
			_ = tx.Rollback()
			return
		}
		if err := tx.Commit(); err != nil {
			j.err = fmt.Errorf("%s: commit: %w", s.f.Name, err)
		}
		return
	}
	committed := 0
	for _, j := range batch {
		if j.err = j.ctx.Err(); j.err != nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			abort(err)
			return
		}
		if j.err = j.fn(tx); j.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				abort(j.err)
				return
			}
		} else {
			committed++
		}
		if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
			abort(err)
			return
		}
	}
	if committed == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for _, j := range batch {
			if j.err == nil {
				j.err = fmt.Errorf("%s: commit: %w", s.f.Name, err)
			}
		}
	}
}

// syncsLater reports whether every write of batch asked for
// storage.SyncLater: one write that did not makes the commit synced, which
// makes the others durable too.
func (s *Store) syncsLater(batch []*writeJob) bool {
	if s.f.SyncLater == "" {
		return false
	}
	for _, j := range batch {
		if !j.later {
			return false
		}
	}
	return true
}

// syncNow puts back the fsync of c's commits after a batch that skipped
// it; a connection where that fails is discarded rather than left to
// commit a later write unsynced.
func (s *Store) syncNow(c *sql.Conn) {
	if _, err := c.ExecContext(context.Background(), s.f.SyncNow); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}
