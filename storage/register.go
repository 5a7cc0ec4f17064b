package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// RegisterRecord is one SAML message of the transaction register (spec
// saml-profile.md §7.5, enrolment-lifecycle.md §12.1): the message itself,
// byte-exact, is inside Sealed (encrypted under the data-key hierarchy by
// package register); the other fields are what a search needs. The backend
// assigns Seq, PrevHash and Hash inside the append transaction, chaining the
// records like the audit log.
type RegisterRecord struct {
	Seq        int64
	Time       time.Time
	Kind       string // AuthnRequest, Response, LogoutRequest, LogoutResponse
	Direction  string // "received" or "sent"
	Binding    string // SAML binding URI the message travelled on
	SPEntityID string
	SPIDCode   string // the citizen's spidCode when known ("" for a request)
	// RequestID is the ID of the request the message belongs to: its own
	// ID for a request, InResponseTo for a response. A search by spidCode
	// finds the request through it.
	RequestID string
	MessageID string
	ClientIP  string
	Sealed    []byte
	PrevHash  string // hex SHA-256 of the previous record, "" for the first
	Hash      string
}

// RegisterQuery selects records; empty fields do not filter, the others
// must all match. Records come back in Seq order.
type RegisterQuery struct {
	SPIDCodes  []string // any of them
	RequestID  string
	SPEntityID string
	From, To   time.Time // From <= Time < To
	Limit      int       // 0 means 1000
}

// Register keeps the transaction register.
type Register interface {
	// AppendRegister chains and stores recs in order and, when ev is not
	// nil, appends ev to the audit log in the same transaction: the
	// register record of a Response and its audit event cost one commit.
	AppendRegister(ctx context.Context, recs []RegisterRecord, ev *AuditEvent) ([]RegisterRecord, error)
	SearchRegister(ctx context.Context, q RegisterQuery) ([]RegisterRecord, error)
	// ListRegister returns up to limit records with Seq > afterSeq, in order.
	ListRegister(ctx context.Context, afterSeq int64, limit int) ([]RegisterRecord, error)
	// DeleteRegisterBefore deletes every record older than before (the
	// retention job) and returns how many went.
	DeleteRegisterBefore(ctx context.Context, before time.Time) (int64, error)
}

// RegisterHash is the hex SHA-256 of a record's canonical form: every field
// but Hash, the sealed message by its SHA-256, times in UTC.
func RegisterHash(r RegisterRecord) string {
	sealed := sha256.Sum256(r.Sealed)
	canon := struct {
		Seq        int64  `json:"seq"`
		Time       string `json:"time"`
		Kind       string `json:"kind"`
		Direction  string `json:"direction"`
		Binding    string `json:"binding"`
		SPEntityID string `json:"sp"`
		SPIDCode   string `json:"spid_code"`
		RequestID  string `json:"request_id"`
		MessageID  string `json:"message_id"`
		ClientIP   string `json:"client_ip"`
		Sealed     string `json:"sealed_sha256"`
		PrevHash   string `json:"prev_hash"`
	}{r.Seq, r.Time.UTC().Format(time.RFC3339Nano), r.Kind, r.Direction, r.Binding, r.SPEntityID, r.SPIDCode,
		r.RequestID, r.MessageID, r.ClientIP, hex.EncodeToString(sealed[:]), r.PrevHash}
	b, err := json.Marshal(canon)
	if err != nil {
		panic("storage: register canonical form: " + err.Error()) // plain strings cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ChainRegister fills Seq, PrevHash and Hash of r as the record after
// (prevSeq, prevHash); Time is truncated to microseconds so every backend
// round-trips it exactly.
func ChainRegister(prevSeq int64, prevHash string, r RegisterRecord) RegisterRecord {
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	r.Seq, r.PrevHash = prevSeq+1, prevHash
	r.Hash = RegisterHash(r)
	return r
}
