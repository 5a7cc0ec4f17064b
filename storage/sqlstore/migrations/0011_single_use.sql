-- Single-use marks (request IDs, answered flows, used push challenges,
-- posted forms) kept durably, so a restart of the cache without persistence
-- cannot make an answered AuthnRequest or consent form valid again.
CREATE TABLE single_use (
    mark       TEXT PRIMARY KEY,
    expires_at {{.Time}} NOT NULL
);
CREATE INDEX single_use_expires_at ON single_use (expires_at);
