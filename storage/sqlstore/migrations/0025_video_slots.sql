-- Video-call appointments (storage.VideoSlots). request_id is NULL while
-- the slot is free; its UNIQUE constraint makes one booking per request,
-- and booking is an UPDATE guarded by "request_id IS NULL", so two nodes
-- can never give one slot to two requests. (operator_id, start_at) is
-- unique so a publication posted twice adds nothing.
CREATE TABLE video_slots (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    start_at    {{.Time}} NOT NULL,
    end_at      {{.Time}} NOT NULL,
    request_id  TEXT UNIQUE,
    booked_at   {{.Time}},
    created_by  TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL,
    UNIQUE (operator_id, start_at)
);

-- The applicant lists free slots by time; the agenda lists one operator's.
CREATE INDEX video_slots_start_at ON video_slots (start_at);
