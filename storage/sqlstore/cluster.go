package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var (
	_ storage.SharedValues = (*Store)(nil)
	_ storage.Revisions    = (*Store)(nil)
	_ storage.Imports      = (*Store)(nil)
	_ storage.Blobs        = (*Store)(nil)
)

// revisionSPs names the revision bumped by every SP change.
const revisionSPs = "service_providers"

// CreateSharedValue stores value under name unless name is taken.
func (s *Store) CreateSharedValue(ctx context.Context, name string, value []byte) error {
	if name == "" || !storable(name) {
		return fmt.Errorf("create shared value %q: invalid name", name)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO shared_values (name, value, created_at) VALUES (?, ?, ?)"),
			name, bytesArg(value), s.timeArg(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("create shared value %q: %w", name, s.constraintErr(err, ""))
	}
	return nil
}

// GetSharedValue returns the value stored under name.
func (s *Store) GetSharedValue(ctx context.Context, name string) ([]byte, error) {
	if !storable(name) {
		return nil, fmt.Errorf("get shared value %q: %w", name, storage.ErrNotFound)
	}
	var v []byte
	err := s.db.QueryRowContext(ctx, s.q("SELECT value FROM shared_values WHERE name = ?"), name).Scan(&v)
	if err != nil {
		return nil, fmt.Errorf("get shared value %q: %w", name, notFoundIfNoRows(err))
	}
	return v, nil
}

// ServiceProviderRevision returns the SP registry's revision.
func (s *Store) ServiceProviderRevision(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT value FROM revisions WHERE name = ?"), revisionSPs).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read SP registry revision: %w", err)
	}
	return v, nil
}

func (s *Store) bumpRevision(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, s.q("UPDATE revisions SET value = value + 1 WHERE name = ?"), name); err != nil {
		return fmt.Errorf("bump revision %s: %w", name, err)
	}
	return nil
}

// ImportIdentities writes the whole batch in one transaction. The rows go
// in first and the audit lock is taken last, so other nodes' audit
// appends wait only for the chaining of the batch's records, not for the
// whole import.
func (s *Store) ImportIdentities(ctx context.Context, batch []storage.ImportedIdentity) ([]storage.AuditEvent, error) {
	evs := make([]storage.AuditEvent, len(batch))
	for i, b := range batch {
		ev := b.Audit
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		evs[i] = storableAudit(ev)
	}
	var recs []storage.AuditEvent
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, b := range batch {
			if err := identities.insert(ctx, s, tx, b.Identity); err != nil {
				return err
			}
			if b.Credential != nil {
				if err := credentials.insert(ctx, s, tx, *b.Credential); err != nil {
					return err
				}
			}
			for _, d := range b.Devices {
				if err := devices.insert(ctx, s, tx, d); err != nil {
					return err
				}
			}
		}
		var err error
		recs, err = s.appendAuditTx(ctx, tx, evs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("import %d identities: %w", len(batch), err)
	}
	return recs, nil
}

// PutBlobChunk stores one chunk of an uncommitted blob, each in its own
// transaction so a large upload never holds one open.
func (s *Store) PutBlobChunk(ctx context.Context, id string, seq int, data []byte) error {
	if id == "" || !storable(id) || seq < 0 {
		return fmt.Errorf("put blob chunk %q/%d: invalid id or sequence number", id, seq)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if seq == 0 {
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO blobs (id, chunks, committed, started_at) VALUES (?, 0, 0, ?)"),
				id, s.timeArg(time.Now())); err != nil {
				return err
			}
		} else {
			var committed int64
			err := tx.QueryRowContext(ctx, s.q("SELECT committed FROM blobs WHERE id = ?"+s.f.ForUpdate), id).Scan(&committed)
			if err != nil {
				return notFoundIfNoRows(err)
			}
			if committed != 0 {
				return storage.ErrAlreadyExists
			}
		}
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO blob_chunks (blob_id, seq, data) VALUES (?, ?, ?)"), id, int64(seq), bytesArg(data))
		return err
	})
	if err != nil {
		return fmt.Errorf("put blob chunk %q/%d: %w", id, seq, s.constraintErr(err, "blob"))
	}
	return nil
}

// CommitBlob checks that chunks 0..chunks-1 are all there and marks the
// blob readable.
func (s *Store) CommitBlob(ctx context.Context, id string, chunks int) error {
	if !storable(id) {
		return fmt.Errorf("commit blob %q: %w", id, storage.ErrNotFound)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var committed int64
		err := tx.QueryRowContext(ctx, s.q("SELECT committed FROM blobs WHERE id = ?"+s.f.ForUpdate), id).Scan(&committed)
		if err != nil {
			return notFoundIfNoRows(err)
		}
		if committed != 0 {
			return storage.ErrAlreadyExists
		}
		var n, maxSeq sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*), MAX(seq) FROM blob_chunks WHERE blob_id = ?"), id).Scan(&n, &maxSeq); err != nil {
			return err
		}
		if n.Int64 != int64(chunks) || chunks > 0 && maxSeq.Int64 != int64(chunks-1) {
			return fmt.Errorf("has %d chunks, want %d", n.Int64, chunks)
		}
		_, err = tx.ExecContext(ctx, s.q("UPDATE blobs SET committed = 1, chunks = ? WHERE id = ?"), int64(chunks), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("commit blob %q: %w", id, err)
	}
	return nil
}

// BlobChunks returns the chunk count of a committed blob.
func (s *Store) BlobChunks(ctx context.Context, id string) (int, error) {
	if !storable(id) {
		return 0, fmt.Errorf("blob %q: %w", id, storage.ErrNotFound)
	}
	var n int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT chunks FROM blobs WHERE id = ? AND committed = 1"), id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("blob %q: %w", id, notFoundIfNoRows(err))
	}
	return int(n), nil
}

// GetBlobChunk returns one chunk of a committed blob.
func (s *Store) GetBlobChunk(ctx context.Context, id string, seq int) ([]byte, error) {
	if !storable(id) {
		return nil, fmt.Errorf("blob chunk %q/%d: %w", id, seq, storage.ErrNotFound)
	}
	var data []byte
	err := s.db.QueryRowContext(ctx, s.q("SELECT c.data FROM blob_chunks c JOIN blobs b ON b.id = c.blob_id WHERE c.blob_id = ? AND c.seq = ? AND b.committed = 1"),
		id, int64(seq)).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("blob chunk %q/%d: %w", id, seq, notFoundIfNoRows(err))
	}
	return data, nil
}

// DeleteBlob removes a blob and its chunks.
func (s *Store) DeleteBlob(ctx context.Context, id string) error {
	if !storable(id) {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Chunks first: SQLite enforces the cascade only with foreign keys on.
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM blob_chunks WHERE blob_id = ?"), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q("DELETE FROM blobs WHERE id = ?"), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete blob %q: %w", id, err)
	}
	return nil
}

// DeleteUncommittedBlobs sweeps the leftovers of interrupted uploads.
func (s *Store) DeleteUncommittedBlobs(ctx context.Context, before time.Time) (int, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id FROM blobs WHERE committed = 0 AND started_at < ?"), s.timeArg(before))
	if err != nil {
		return 0, fmt.Errorf("list uncommitted blobs: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list uncommitted blobs: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list uncommitted blobs: %w", err)
	}
	var errs []error
	n := 0
	for _, id := range ids {
		if err := s.DeleteBlob(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
