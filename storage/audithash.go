package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// AuditHash is the hex SHA-256 of a record's canonical form: every field but
// Hash, times in UTC with nanoseconds, details with sorted keys (encoding/json
// sorts map keys). Because PrevHash is part of the input, changing, removing
// or reordering any earlier record breaks every later hash.
func AuditHash(ev AuditEvent) string {
	canon := struct {
		Seq       int64             `json:"seq"`
		Time      string            `json:"time"`
		Actor     string            `json:"actor"`
		Action    string            `json:"action"`
		Target    string            `json:"target"`
		Outcome   string            `json:"outcome"`
		RequestID string            `json:"request_id"`
		Details   map[string]string `json:"details"`
		PrevHash  string            `json:"prev_hash"`
	}{
		Seq:       ev.Seq,
		Time:      ev.Time.UTC().Format(time.RFC3339Nano),
		Actor:     ev.Actor,
		Action:    ev.Action,
		Target:    ev.Target,
		Outcome:   ev.Outcome,
		RequestID: ev.RequestID,
		Details:   ev.Details,
		PrevHash:  ev.PrevHash,
	}
	if canon.Details == nil {
		canon.Details = map[string]string{}
	}
	b, err := json.Marshal(canon)
	if err != nil {
		// Marshalling plain strings and ints cannot fail.
		panic("storage: audit canonical form: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ChainAudit fills Seq, PrevHash and Hash of ev as the record after prev
// (prev is nil for the first record). Backends call it inside the append
// transaction. Time is truncated to microseconds so that every backend
// (PostgreSQL keeps microseconds) round-trips it exactly.
func ChainAudit(prev *AuditEvent, ev AuditEvent) AuditEvent {
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	ev.Seq, ev.PrevHash = 1, ""
	if prev != nil {
		ev.Seq, ev.PrevHash = prev.Seq+1, prev.Hash
	}
	ev.Hash = AuditHash(ev)
	return ev
}
