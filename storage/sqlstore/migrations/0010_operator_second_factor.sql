-- Operators' second factors (security.md E.1): passkeys and TOTP
-- authenticators, each secret sealed with the data key, and the one-time
-- enrolment code a supervisor issued (its SHA-256 only), as one JSON
-- document per operator, read and written with the row.
ALTER TABLE operators ADD COLUMN second_factor {{.Blob}};
