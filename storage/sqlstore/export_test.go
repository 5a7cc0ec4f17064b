package sqlstore

import (
	"context"
	"database/sql"
)

// WriteForTest runs fn as a write transaction, as the store's methods do.
func (s *Store) WriteForTest(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.write(ctx, fn)
}

// WriteBatches is how many write transactions the group commit has run.
func (s *Store) WriteBatches() int64 { return s.wq.batches.Load() }

// DBForTest is the store's connection pool.
func (s *Store) DBForTest() *sql.DB { return s.db }

// PendingWrites is how many write transactions wait for the running batch.
func (s *Store) PendingWrites() int {
	s.wq.mu.Lock()
	defer s.wq.mu.Unlock()
	return len(s.wq.pending)
}
