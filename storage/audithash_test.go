package storage_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// fullForm is the canonical form as one JSON object, as records were always
// hashed: AuditHash, now assembled from AuditBody so a database can chain
// records, must keep every existing chain verifying.
func fullForm(ev storage.AuditEvent) string {
	d := ev.Details
	if d == nil {
		d = map[string]string{}
	}
	b, err := json.Marshal(struct {
		Seq       int64             `json:"seq"`
		Time      string            `json:"time"`
		Actor     string            `json:"actor"`
		Action    string            `json:"action"`
		Target    string            `json:"target"`
		Outcome   string            `json:"outcome"`
		RequestID string            `json:"request_id"`
		Details   map[string]string `json:"details"`
		PrevHash  string            `json:"prev_hash"`
	}{ev.Seq, ev.Time.UTC().Format(time.RFC3339Nano), ev.Actor, ev.Action, ev.Target, ev.Outcome, ev.RequestID, d, ev.PrevHash})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestAuditHashCanonicalForm(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 4, 5, 123456000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		ev   storage.AuditEvent
	}{
		{"first record, no details", storage.AuditEvent{Seq: 1, Time: at, Actor: "system", Action: "start"}},
		{"chained", storage.AuditEvent{Seq: 42, Time: at, Actor: "id-1", Action: "sso.response", Target: "https://sp.example.it",
			Outcome: "success", RequestID: "r1", Details: map[string]string{"z": "1", "a": "2"},
			PrevHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		{"escapes", storage.AuditEvent{Seq: 7, Time: at, Actor: `<a href="x">&`, Action: "login", Target: "é\u2028\u2029\t\n\"\\",
			Details: map[string]string{"<k>": "v&", "ü": "ß"}, PrevHash: "ab"}},
		{"empty details map", storage.AuditEvent{Seq: 3, Time: at, Details: map[string]string{}}},
		{"zero time", storage.AuditEvent{Seq: 1 << 40}},
		{"odd previous hash", storage.AuditEvent{Seq: 2, Time: at, PrevHash: `"tampered"`}},
	} {
		if got, want := storage.AuditHash(tc.ev), fullForm(tc.ev); got != want {
			t.Errorf("%s: AuditHash = %s, canonical form hashes to %s", tc.name, got, want)
		}
	}
}
