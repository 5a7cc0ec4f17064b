-- The durable outbox of e-mail and SMS (storage.MessageQueue): every node
-- enqueues here and claims what is due under a lease, so a message is
-- sent once whichever node made it, and retried after a failure or a
-- node's death. Payloads are sealed by the application.
CREATE TABLE message_queue (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      {{.Blob}} NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt {{.Time}} NOT NULL,
    lease_owner  TEXT NOT NULL,
    lease_until  {{.Time}},
    last_error   TEXT NOT NULL,
    created_at   {{.Time}} NOT NULL
);
CREATE INDEX message_queue_due ON message_queue (state, next_attempt);
