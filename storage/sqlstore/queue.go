package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.MessageQueue = (*Store)(nil)

const queueCols = "id, kind, payload, state, attempts, next_attempt, lease_owner, lease_until, last_error, created_at"

// EnqueueMessage implements storage.MessageQueue.
func (s *Store) EnqueueMessage(ctx context.Context, m storage.QueuedMessage) error {
	q, args, err := s.enqueueArgs(m)
	if err != nil {
		return err
	}
	if _, err := s.writeOne(ctx, q, args...); err != nil {
		return fmt.Errorf("enqueue message: %w", s.constraintErr(err, ""))
	}
	return nil
}

// enqueueTx inserts m inside a transaction that makes the change m
// announces (storage.Outbox).
func (s *Store) enqueueTx(ctx context.Context, tx *sql.Tx, m storage.QueuedMessage) error {
	q, args, err := s.enqueueArgs(m)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("enqueue message: %w", s.constraintErr(err, ""))
	}
	return nil
}

func (s *Store) enqueueArgs(m storage.QueuedMessage) (string, []any, error) {
	if m.ID == "" || !storable(m.ID) || (m.Kind != "mail" && m.Kind != "sms") || !storable(m.LeaseOwner) {
		return "", nil, fmt.Errorf("enqueue message %q: invalid id, kind or owner", m.ID)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = nowUTC()
	}
	if m.NextAttempt.IsZero() {
		m.NextAttempt = m.CreatedAt
	}
	attempts := 0
	if m.LeaseOwner != "" {
		attempts = 1
	}
	return s.q("INSERT INTO message_queue (" + queueCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		[]any{m.ID, m.Kind, bytesArg(m.Payload), storage.MessagePending, attempts, s.timeArg(m.NextAttempt),
			m.LeaseOwner, s.timeArg(m.LeaseUntil), "", s.timeArg(m.CreatedAt)}, nil
}

// ClaimMessages implements storage.MessageQueue: it picks candidates, then
// takes each with a conditional UPDATE that only one claimer can win (the
// row must still be pending with a free or expired lease), so no locking
// read is needed on either flavour.
func (s *Store) ClaimMessages(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]storage.QueuedMessage, error) {
	if owner == "" || !storable(owner) || lease <= 0 || limit <= 0 {
		return nil, errors.New("claim messages: owner, lease and limit are required")
	}
	free := "state = ? AND next_attempt <= ? AND (lease_until IS NULL OR lease_until <= ?)"
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id FROM message_queue WHERE "+free+" ORDER BY next_attempt, id LIMIT ?"),
		storage.MessagePending, s.timeArg(now), s.timeArg(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim messages: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	var out []storage.QueuedMessage
	take := s.q("UPDATE message_queue SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ? AND " + free)
	for _, id := range ids {
		n, err := s.writeOne(ctx, take, owner, s.timeArg(now.Add(lease)), id, storage.MessagePending, s.timeArg(now), s.timeArg(now))
		if err != nil {
			return out, fmt.Errorf("claim message: %w", err)
		}
		if n != 1 {
			continue // another node took it first
		}
		m, err := s.getMessage(ctx, id)
		if err != nil {
			return out, err
		}
		if m.LeaseOwner == owner {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Store) getMessage(ctx context.Context, id string) (storage.QueuedMessage, error) {
	var m storage.QueuedMessage
	var attempts int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT "+queueCols+" FROM message_queue WHERE id = ?"), id).Scan(
		&m.ID, &m.Kind, &m.Payload, &m.State, &attempts, timeDest{&m.NextAttempt}, &m.LeaseOwner,
		timeDest{&m.LeaseUntil}, &m.LastError, timeDest{&m.CreatedAt})
	if err != nil {
		return m, fmt.Errorf("get message %q: %w", id, notFoundIfNoRows(err))
	}
	m.Attempts = int(attempts)
	return m, nil
}

// CompleteMessage implements storage.MessageQueue.
func (s *Store) CompleteMessage(ctx context.Context, id, owner string) error {
	n, err := s.writeOne(ctx, s.q("DELETE FROM message_queue WHERE id = ? AND lease_owner = ? AND state = ?"),
		id, owner, storage.MessagePending)
	if err != nil {
		return fmt.Errorf("complete message: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("complete message %q: lease not held: %w", id, storage.ErrNotFound)
	}
	return nil
}

// RetryMessage implements storage.MessageQueue.
func (s *Store) RetryMessage(ctx context.Context, id, owner string, next time.Time, lastError string, dead bool) error {
	state := storage.MessagePending
	if dead {
		state = storage.MessageDead
	}
	n, err := s.writeOne(ctx, s.q("UPDATE message_queue SET state = ?, next_attempt = ?, lease_owner = '', lease_until = NULL, last_error = ? "+
		"WHERE id = ? AND lease_owner = ? AND state = ?"),
		state, s.timeArg(next), storableText(lastError), id, owner, storage.MessagePending)
	if err != nil {
		return fmt.Errorf("retry message: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("retry message %q: lease not held: %w", id, storage.ErrNotFound)
	}
	return nil
}

// MessageQueueStats implements storage.MessageQueue.
func (s *Store) MessageQueueStats(ctx context.Context) (storage.QueueStats, error) {
	var st storage.QueueStats
	rows, err := s.db.QueryContext(ctx, "SELECT state, COUNT(*) FROM message_queue GROUP BY state")
	if err != nil {
		return st, fmt.Errorf("message queue stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return st, fmt.Errorf("message queue stats: %w", err)
		}
		switch state {
		case storage.MessagePending:
			st.Pending = n
		case storage.MessageDead:
			st.Dead = n
		}
	}
	return st, rows.Err()
}
