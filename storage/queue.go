package storage

import (
	"context"
	"time"
)

// Message states in a MessageQueue.
const (
	MessagePending = "pending" // waiting for its next attempt, or leased to a sender
	MessageDead    = "dead"    // gave up after the last attempt; kept for the operator
)

// QueuedMessage is one e-mail or SMS waiting to be delivered. The payload
// is opaque to the store (the notify queue seals it: it carries links and
// one-time codes).
type QueuedMessage struct {
	ID      string // unique, chosen by the caller
	Kind    string // "mail" or "sms"
	Payload []byte
	State   string // MessagePending or MessageDead
	// Attempts counts the deliveries begun: each claim adds one.
	Attempts int
	// NextAttempt is when the message may be claimed again.
	NextAttempt time.Time
	// LeaseOwner holds the message until LeaseUntil; an expired lease (a
	// node that died while sending) frees it for any other.
	LeaseOwner string
	LeaseUntil time.Time
	LastError  string
	CreatedAt  time.Time
}

// QueueStats are the counts /metrics shows.
type QueueStats struct {
	Pending int64 // waiting or being sent
	Dead    int64 // given up
}

// MessageQueue is the durable outbox of e-mail and SMS shared by every
// node: a message is enqueued once and delivered by whichever node claims
// it, under a lease, so each is sent once however many nodes run.
type MessageQueue interface {
	// EnqueueMessage stores m as pending. With m.LeaseOwner set the
	// message is stored already claimed (Attempts 1) by that owner until
	// m.LeaseUntil, so the enqueuing node can try it at once.
	// ErrAlreadyExists if the ID is taken.
	EnqueueMessage(ctx context.Context, m QueuedMessage) error
	// ClaimMessages leases to owner, until now+lease, at most limit pending
	// messages due at now whose lease is free or expired, adding one to
	// their Attempts, oldest due first. Of concurrent claimers exactly one
	// gets each message.
	ClaimMessages(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]QueuedMessage, error)
	// CompleteMessage removes a delivered message; ErrNotFound unless owner
	// still holds its lease (it expired and another node took it).
	CompleteMessage(ctx context.Context, id, owner string) error
	// RetryMessage records a failed attempt: the lease is released, the
	// message is due again at next, or dead when dead is set. ErrNotFound
	// unless owner still holds its lease.
	RetryMessage(ctx context.Context, id, owner string, next time.Time, lastError string, dead bool) error
	// MessageQueueStats counts pending and dead messages.
	MessageQueueStats(ctx context.Context) (QueueStats, error)
}
