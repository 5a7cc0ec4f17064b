-- Enrolment requests, back-office operators and single-use tokens
-- (storage.Enrolments, storage.Operators, storage.Tokens).

-- data is the request document as the enrolment package wrote it, kept
-- byte for byte (a blob, not JSONB, which would reorder it).
CREATE TABLE enrolments (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL,
    path          TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    fiscal_number TEXT NOT NULL,
    data          {{.Blob}} NOT NULL,
    queued_at     {{.Time}},
    deadline_at   {{.Time}},
    created_at    {{.Time}},
    updated_at    {{.Time}}
);

-- The verification queue lists by state; duplicates are found by CF (E023).
CREATE INDEX enrolments_state ON enrolments (state);
CREATE INDEX enrolments_fiscal_number ON enrolments (fiscal_number);

-- roles is a comma-separated list of role names.
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    roles         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    shop_id       TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    {{.Time}},
    updated_at    {{.Time}}
);

-- hash is the hex SHA-256 of the secret; the secret itself is never stored.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    expires_at {{.Time}} NOT NULL,
    created_at {{.Time}}
);

CREATE INDEX tokens_expires_at ON tokens (expires_at);
