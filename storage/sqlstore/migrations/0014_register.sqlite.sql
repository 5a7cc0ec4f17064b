-- Transaction register (saml-profile.md §7.5): every SAML message, sealed,
-- hash-chained through register_head. SQLite (demo) keeps one table.
CREATE TABLE register_records (
    seq          INTEGER PRIMARY KEY,
    created_at   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    direction    TEXT NOT NULL,
    binding      TEXT NOT NULL,
    sp_entity_id TEXT NOT NULL,
    spid_code    TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    client_ip    TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX register_records_created_at ON register_records (created_at);
CREATE INDEX register_records_spid_code ON register_records (spid_code) WHERE spid_code <> '';
CREATE INDEX register_records_request ON register_records (sp_entity_id, request_id);

-- The chain's head survives the retention job deleting old records.
CREATE TABLE register_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO register_head (id, seq, hash) VALUES (1, 0, '');
