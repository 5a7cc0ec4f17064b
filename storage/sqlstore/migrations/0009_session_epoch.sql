-- Identity.SessionEpoch: advanced to end every session of the identity at
-- once (lifecycle transitions, password change, device revocation); each
-- session records the epoch it was opened at.
ALTER TABLE identities ADD COLUMN session_epoch {{.Int64}} NOT NULL DEFAULT 0;
