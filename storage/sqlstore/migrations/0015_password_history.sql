-- Credential rules (enrolment-lifecycle.md §3.6, §7.2): when the current
-- password was chosen (its 180-day age counts from there) and the earlier
-- hashes with their dates, so a new password can be checked against the
-- last 5 and every one used in 15 months. Existing rows start with no
-- history and the age counted from updated_at.
ALTER TABLE credentials ADD COLUMN password_set_at {{.Time}};
ALTER TABLE credentials ADD COLUMN password_history {{.JSON}} NOT NULL DEFAULT '[]';
