-- State every node of a cluster shares (storage.SharedValues,
-- storage.Revisions, storage.Blobs).

-- Values made once for the whole cluster (the personal area's SP key,
-- sealed), never replaced.
CREATE TABLE shared_values (
    name       TEXT PRIMARY KEY,
    value      {{.Blob}} NOT NULL,
    created_at {{.Time}}
);

-- Counters bumped in the transaction of every change to what nodes cache,
-- so a node polls one row to learn that its cache is stale.
CREATE TABLE revisions (
    name  TEXT PRIMARY KEY,
    value {{.Int64}} NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('service_providers', 1);

-- Large objects (encrypted evidence) as numbered chunks; committed = 1
-- once every chunk is there, so a crash mid-upload leaves nothing
-- readable, only a row for the sweep.
CREATE TABLE blobs (
    id         TEXT PRIMARY KEY,
    chunks     {{.Int64}} NOT NULL,
    committed  INTEGER NOT NULL,
    started_at {{.Time}} NOT NULL
);
CREATE INDEX blobs_uncommitted ON blobs (committed, started_at);

CREATE TABLE blob_chunks (
    blob_id TEXT NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    seq     {{.Int64}} NOT NULL,
    data    {{.Blob}} NOT NULL,
    PRIMARY KEY (blob_id, seq)
);
