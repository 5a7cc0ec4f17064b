-- Data-key IDs are uint32 (the first 4 bytes of SHA-256 of the key): INTEGER
-- (int4) cannot hold those above 2^31-1. SQLite integers are already 64-bit.
ALTER TABLE devices ALTER COLUMN key_version TYPE BIGINT;
