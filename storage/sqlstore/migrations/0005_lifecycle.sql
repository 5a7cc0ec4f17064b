-- Identity lifecycles and scheduler leases (storage.Lifecycles,
-- storage.Leases). suspension, revocation and pending hold small JSON
-- objects, NULL when absent; notices is a JSON array of notice keys.
CREATE TABLE lifecycles (
    identity_id  TEXT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    valid_from   {{.Time}},
    valid_until  {{.Time}},
    suspension   {{.JSON}},
    revocation   {{.JSON}},
    pending      {{.JSON}},
    last_auth_at {{.Time}},
    notices      {{.JSON}} NOT NULL,
    next_due_at  {{.Time}},
    created_at   {{.Time}},
    updated_at   {{.Time}}
);

-- The scheduler's query: what is due now.
CREATE INDEX lifecycles_next_due_at ON lifecycles (next_due_at);

-- A lease is free when absent or expired; its holder extends it.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at {{.Time}} NOT NULL
);
