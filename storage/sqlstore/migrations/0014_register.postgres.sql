-- Transaction register (saml-profile.md §7.5): every SAML message, sealed,
-- hash-chained through register_head, in one partition per month so the
-- 24-month retention drops whole partitions.
CREATE TABLE register_records (
    seq          BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    kind         TEXT NOT NULL,
    direction    TEXT NOT NULL,
    binding      TEXT NOT NULL,
    sp_entity_id TEXT NOT NULL,
    spid_code    TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    client_ip    TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (created_at, seq)
) PARTITION BY RANGE (created_at);
CREATE INDEX register_records_seq ON register_records (seq);
CREATE INDEX register_records_spid_code ON register_records (spid_code) WHERE spid_code <> '';
CREATE INDEX register_records_request ON register_records (sp_entity_id, request_id);

CREATE TABLE register_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO register_head (id, seq, hash) VALUES (1, 0, '');

-- The IdP's role may only read and append the register (no CREATE, no
-- DELETE): these two functions run as the schema owner to make the month's
-- partition and to apply the retention.
CREATE FUNCTION register_ensure_month(t TIMESTAMPTZ) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    lo TIMESTAMPTZ := date_trunc('month', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    part TEXT := 'register_records_' || to_char(t AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF register_records FOR VALUES FROM (%L) TO (%L)',
        part, lo, lo + interval '1 month');
EXCEPTION WHEN duplicate_table THEN
    NULL; -- another node made it meanwhile
END
$$;

CREATE FUNCTION register_delete_before(cutoff TIMESTAMPTZ) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    p RECORD;
    n BIGINT := 0;
    c BIGINT;
BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'register_records'::regclass AND c.relname ~ '^register_records_[0-9]{6}$'
    LOOP
        IF (to_date(right(p.relname, 6), 'YYYYMM')::timestamp AT TIME ZONE 'UTC') + interval '1 month' <= cutoff THEN
            EXECUTE format('SELECT count(*) FROM %I', p.relname) INTO c;
            EXECUTE format('DROP TABLE %I', p.relname);
            n := n + c;
        END IF;
    END LOOP;
    DELETE FROM register_records WHERE created_at < cutoff;
    GET DIAGNOSTICS c = ROW_COUNT;
    RETURN n + c;
END
$$;
