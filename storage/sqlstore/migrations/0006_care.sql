-- Trouble tickets and formal complaints (storage.Tickets). data holds the
-- fields the desk never searches on (subject, message, thread, answer) as
-- JSON written by sqlstore.
CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    reference   TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    assigned_to TEXT NOT NULL,
    data        {{.Blob}} NOT NULL,
    opened_at   {{.Time}},
    deadline_at {{.Time}},
    answered_at {{.Time}},
    closed_at   {{.Time}},
    updated_at  {{.Time}}
);

-- The desk lists by kind and state; complaints are watched by deadline.
CREATE INDEX tickets_kind_state ON tickets (kind, state);
CREATE INDEX tickets_deadline_at ON tickets (deadline_at);
CREATE INDEX tickets_identity_id ON tickets (identity_id);
