-- OIDCSession.Epoch: the identity's SessionEpoch when the citizen
-- authenticated, so that a long revocable session ends with the identity's
-- other sessions (password change or reset, device revoked). Sessions
-- already open take the identity's present epoch: they stay valid until
-- the next such event.
ALTER TABLE oidc_sessions ADD COLUMN epoch {{.Int64}} NOT NULL DEFAULT 0;
UPDATE oidc_sessions SET epoch = (SELECT session_epoch FROM identities WHERE identities.id = oidc_sessions.identity_id)
    WHERE EXISTS (SELECT 1 FROM identities WHERE identities.id = oidc_sessions.identity_id);
