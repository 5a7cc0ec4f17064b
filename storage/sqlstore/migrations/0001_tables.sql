-- Durable tables of the IdP. Column types in template actions come from the flavour (sqlstore.Types).

CREATE TABLE identities (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    identity_type INTEGER NOT NULL,
    status        TEXT NOT NULL,
    attributes    {{.JSON}} NOT NULL,
    created_at    {{.Time}},
    updated_at    {{.Time}}
);

CREATE TABLE credentials (
    identity_id     TEXT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    password_hash   TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    last_failure_at {{.Time}},
    locked_until    {{.Time}},
    updated_at      {{.Time}}
);

-- metadata_xml is the SP metadata exactly as received (signed).
CREATE TABLE service_providers (
    entity_id    TEXT PRIMARY KEY,
    metadata_xml {{.Blob}} NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    created_at   {{.Time}},
    updated_at   {{.Time}}
);

-- Hash-chained audit log: hash covers every column and prev_hash, so any
-- change to an earlier row breaks every later hash (storage.AuditHash).
CREATE TABLE audit_events (
    seq         {{.Int64}} PRIMARY KEY CHECK (seq > 0),
    occurred_at {{.Time}} NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    details     {{.JSON}} NOT NULL,
    prev_hash   TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL UNIQUE
);
