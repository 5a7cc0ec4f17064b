-- Wrong second-factor answers among failed_attempts: a right password alone
-- no longer clears them (security.md C.4, S070).
ALTER TABLE credentials ADD COLUMN factor_failures INTEGER NOT NULL DEFAULT 0;
