-- audit_append chains a batch of audit records after the last one and
-- inserts them, all inside the one statement that calls it: the records'
-- hashes are computed here, after the tail is read under a lock that the
-- statement's transaction holds only until it commits. Appenders on several
-- nodes then queue for their turn instead of racing on the unique seq and
-- each losing batch paying a failed insert, a rollback and a fresh read of
-- the tail (issue 14: the more writers, the slower). No lock outlives the
-- statement: the calling node is never between round trips while it holds
-- one.
--
-- body[i] is the record's canonical JSON (storage.AuditBody) without seq
-- and prev_hash, which are known only here; the hash is the SHA-256 of
-- {"seq":<seq>,<body>,"prev_hash":"<prev>"}, exactly storage.AuditHash.
-- proceed false appends nothing (a caller's compare and swap failed in the same
-- statement). It runs as its caller, in the caller's search_path (the
-- schema's own), and pins none: setting one would cost every call.
CREATE FUNCTION audit_append(proceed BOOLEAN, t TIMESTAMPTZ[], actor TEXT[], action TEXT[], target TEXT[],
    outcome TEXT[], request_id TEXT[], details TEXT[], body BYTEA[])
RETURNS TABLE (out_seq BIGINT, out_prev TEXT, out_hash TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT;
    h TEXT;
    p TEXT;
BEGIN
    IF NOT proceed THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('spid-idp/audit/' || COALESCE(current_schema(), ''), 0));
    -- A statement of its own, so a snapshot taken after the lock: it sees
    -- the batch committed by whoever held the lock before.
    SELECT e.seq, e.hash INTO s, h FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        s := 0;
        h := '';
    END IF;
    FOR i IN 1 .. coalesce(array_length(body, 1), 0) LOOP
        s := s + 1;
        p := h;
        h := encode(sha256(convert_to('{"seq":' || s || ',', 'UTF8') || body[i]
            || convert_to(',"prev_hash":"' || p || '"}', 'UTF8')), 'hex');
        INSERT INTO audit_events (seq, occurred_at, actor, action, target, outcome, request_id, details, prev_hash, hash)
        VALUES (s, t[i], actor[i], action[i], target[i], outcome[i], request_id[i], details[i]::JSONB, p, h);
        out_seq := s;
        out_prev := p;
        out_hash := h;
        RETURN NEXT;
    END LOOP;
END
$$;
