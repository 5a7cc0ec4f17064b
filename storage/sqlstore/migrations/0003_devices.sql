-- Second-factor devices (storage.Devices). secret and public_key arrive
-- sealed by the caller; the database never holds a seed in clear.
CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    identity_id     TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    secret          {{.Blob}} NOT NULL,
    public_key      {{.Blob}} NOT NULL,
    last_step       {{.Int64}} NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    key_version     INTEGER NOT NULL DEFAULT 0,
    created_at      {{.Time}},
    updated_at      {{.Time}},
    last_used_at    {{.Time}}
);

-- Listing an identity's devices, and the cascade when it is deleted.
CREATE INDEX devices_identity_id ON devices (identity_id);
