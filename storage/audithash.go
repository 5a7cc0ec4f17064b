package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// AuditHash is the hex SHA-256 of a record's canonical form: every field but
// Hash, times in UTC with nanoseconds, details with sorted keys (encoding/json
// sorts map keys). Because PrevHash is part of the input, changing, removing
// or reordering any earlier record breaks every later hash.
//
// The canonical form is {"seq":<Seq>,<AuditBody>,"prev_hash":<PrevHash>},
// so that a database can chain a record whose body was made here (the
// PostgreSQL store's audit_append does).
func AuditHash(ev AuditEvent) string {
	prev, err := json.Marshal(ev.PrevHash)
	if err != nil {
		// Marshalling a string cannot fail.
		panic("storage: audit canonical form: " + err.Error())
	}
	var b []byte
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, ',')
	b = append(b, AuditBody(ev)...)
	b = append(b, `,"prev_hash":`...)
	b = append(b, prev...)
	b = append(b, '}')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AuditBody is the middle of a record's canonical form (see AuditHash):
// the JSON members of every field but Seq, PrevHash and Hash, without the
// enclosing braces.
func AuditBody(ev AuditEvent) []byte {
	canon := struct {
		Time      string            `json:"time"`
		Actor     string            `json:"actor"`
		Action    string            `json:"action"`
		Target    string            `json:"target"`
		Outcome   string            `json:"outcome"`
		RequestID string            `json:"request_id"`
		Details   map[string]string `json:"details"`
	}{
		Time:      ev.Time.UTC().Format(time.RFC3339Nano),
		Actor:     ev.Actor,
		Action:    ev.Action,
		Target:    ev.Target,
		Outcome:   ev.Outcome,
		RequestID: ev.RequestID,
		Details:   ev.Details,
	}
	if canon.Details == nil {
		canon.Details = map[string]string{}
	}
	b, err := json.Marshal(canon)
	if err != nil {
		// Marshalling plain strings cannot fail.
		panic("storage: audit canonical form: " + err.Error())
	}
	return b[1 : len(b)-1]
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
