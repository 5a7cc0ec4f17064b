-- Long revocable sessions of the OpenID Provider (storage.OIDCSessions,
-- oidc-federation.md §4.3) and their refresh tokens, kept as SHA-256
-- hashes only.
CREATE TABLE oidc_sessions (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    subject       TEXT NOT NULL,
    scope         TEXT NOT NULL,
    claims        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    use_case      TEXT NOT NULL,
    session_start {{.Time}} NOT NULL,
    expires_at    {{.Time}} NOT NULL,
    access_jti    TEXT NOT NULL,
    sso_session   TEXT NOT NULL,
    revoked_at    {{.Time}},
    revoke_reason TEXT NOT NULL,
    created_at    {{.Time}} NOT NULL,
    updated_at    {{.Time}} NOT NULL
);
CREATE INDEX oidc_sessions_identity ON oidc_sessions (identity_id);
CREATE INDEX oidc_sessions_expires ON oidc_sessions (expires_at);

CREATE TABLE oidc_refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    issued_at  {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL,
    used_at    {{.Time}}
);
CREATE INDEX oidc_refresh_tokens_session ON oidc_refresh_tokens (session_id);
