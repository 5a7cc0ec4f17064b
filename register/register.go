// Package register keeps the transaction register (saml-profile.md §7.5,
// enrolment-lifecycle.md §12.1): every AuthnRequest, Response,
// LogoutRequest and LogoutResponse exactly as received or sent, with the
// SP, spidCode, request ID, time, client IP and binding, for 24 months.
//
// Each message is sealed like an evidence item: a fresh item key encrypts
// it (AES-256-GCM) and the data key (keys/datakey) wraps the item key, both
// bound to the record's searchable fields, so a sealed message moved to
// another record does not open. The storage backend chains the records by
// hash like the audit log. Reading the register is an audited act that
// needs a reason.
package register

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

// Message kinds and directions.
const (
	KindAuthnRequest   = "AuthnRequest"
	KindResponse       = "Response"
	KindLogoutRequest  = "LogoutRequest"
	KindLogoutResponse = "LogoutResponse"

	Received = "received"
	Sent     = "sent"
)

// RetentionMonths is how long records are kept (§7.5: 24 months).
const RetentionMonths = 24

// Entry is one message to record.
type Entry struct {
	Time      time.Time // zero: now
	Kind      string
	Direction string
	Binding   string
	SP        string // entityID
	SPIDCode  string // "" when not known (a request)
	RequestID string // the request the message belongs to
	MessageID string
	ClientIP  string
	Message   []byte // exactly as received or sent
}

// Register seals, stores and searches the register.
type Register struct {
	Store  storage.Register
	Sealer *datakey.Sealer
	Log    *slog.Logger
	Now    func() time.Time
}

func (r *Register) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

const sealVersion = 1

// ad binds a sealed message to its record's fields.
func ad(rec storage.RegisterRecord) []byte {
	return []byte(strings.Join([]string{"spid-idp register v1", rec.Time.UTC().Format(time.RFC3339Nano), rec.Kind,
		rec.Direction, rec.Binding, rec.SPEntityID, rec.SPIDCode, rec.RequestID, rec.MessageID, rec.ClientIP}, "\x00"))
}

// Seal turns an entry into a storable record:
// version | len(wrapped key) (2 bytes) | wrapped key | nonce | ciphertext.
func (r *Register) Seal(e Entry) (storage.RegisterRecord, error) {
	if r.Sealer == nil {
		return storage.RegisterRecord{}, errors.New("register: no data key")
	}
	t := e.Time
	if t.IsZero() {
		t = r.now()
	}
	rec := storage.RegisterRecord{Time: t.UTC().Truncate(time.Microsecond), Kind: e.Kind, Direction: e.Direction,
		Binding: e.Binding, SPEntityID: e.SP, SPIDCode: e.SPIDCode, RequestID: e.RequestID, MessageID: e.MessageID,
		ClientIP: e.ClientIP}
	// The store may replace unstorable text (NUL, invalid UTF-8) in the
	// fields; seal with what it will keep, or the message would not open.
	for _, f := range []*string{&rec.Kind, &rec.Direction, &rec.Binding, &rec.SPEntityID, &rec.SPIDCode,
		&rec.RequestID, &rec.MessageID, &rec.ClientIP} {
		*f = strings.ToValidUTF8(strings.ReplaceAll(*f, "\x00", "\uFFFD"), "\uFFFD")
	}
	key := make([]byte, 32)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return rec, fmt.Errorf("register: item key: %w", err)
	}
	a := ad(rec)
	wrapped, err := r.Sealer.Seal(key, a)
	if err != nil {
		return rec, fmt.Errorf("register: wrap item key: %w", err)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return rec, err
	}
	out := make([]byte, 0, 3+len(wrapped)+gcm.NonceSize()+len(e.Message)+gcm.Overhead())
	out = append(out, sealVersion)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return rec, fmt.Errorf("register: nonce: %w", err)
	}
	out = append(out, nonce...)
	rec.Sealed = gcm.Seal(out, nonce, e.Message, a)
	return rec, nil
}

// Open returns the message of a stored record.
func (r *Register) Open(rec storage.RegisterRecord) ([]byte, error) {
	s := rec.Sealed
	if len(s) < 3 || s[0] != sealVersion {
		return nil, errors.New("register: sealed message of an unknown version")
	}
	n := int(binary.BigEndian.Uint16(s[1:3]))
	if len(s) < 3+n+12 {
		return nil, errors.New("register: sealed message truncated")
	}
	a := ad(rec)
	key, _, err := r.Sealer.Open(s[3:3+n], a)
	if err != nil {
		return nil, fmt.Errorf("register: item key of record %d: %w", rec.Seq, err)
	}
	defer clear(key)
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	rest := s[3+n:]
	msg, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], a)
	if err != nil {
		return nil, fmt.Errorf("register: record %d does not open: %w", rec.Seq, err)
	}
	return msg, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return cipher.NewGCM(b)
}

// Record seals the entries and stores them durably, with ev appended to
// the audit log in the same transaction when not nil. A Response is
// answered only after this returns nil.
func (r *Register) Record(ctx context.Context, ev *storage.AuditEvent, entries ...Entry) error {
	recs := make([]storage.RegisterRecord, 0, len(entries))
	for _, e := range entries {
		rec, err := r.Seal(e)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	if _, err := r.Store.AppendRegister(ctx, recs, ev); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	return nil
}

// Query is what `register search` asks for; empty fields do not filter.
type Query struct {
	SPIDCodes []string // resolved by the caller from a fiscal code too
	RequestID string
	SP        string
	From, To  time.Time
	Limit     int
}

// Empty reports whether q selects nothing in particular.
func (q Query) Empty() bool {
	return len(q.SPIDCodes) == 0 && q.RequestID == "" && q.SP == "" && q.From.IsZero() && q.To.IsZero()
}

// Message is a record with its message opened.
type Message struct {
	storage.RegisterRecord
	XML []byte
}

// Search returns the matching messages, and with every Response or
// LogoutResponse found by spidCode the request it answers (same SP and
// request ID), in register order. The caller audits the search (with its
// reason) before calling.
func (r *Register) Search(ctx context.Context, q Query) ([]Message, error) {
	sq := storage.RegisterQuery{SPIDCodes: q.SPIDCodes, RequestID: q.RequestID, SPEntityID: q.SP,
		From: q.From, To: q.To, Limit: q.Limit}
	found, err := r.Store.SearchRegister(ctx, sq)
	if err != nil {
		return nil, fmt.Errorf("register: search: %w", err)
	}
	bySeq := map[int64]storage.RegisterRecord{}
	for _, rec := range found {
		bySeq[rec.Seq] = rec
	}
	if len(q.SPIDCodes) > 0 {
		type key struct{ sp, req string }
		seen := map[key]bool{}
		for _, rec := range found {
			k := key{rec.SPEntityID, rec.RequestID}
			if rec.RequestID == "" || seen[k] {
				continue
			}
			seen[k] = true
			rel, err := r.Store.SearchRegister(ctx, storage.RegisterQuery{SPEntityID: k.sp, RequestID: k.req})
			if err != nil {
				return nil, fmt.Errorf("register: search: %w", err)
			}
			for _, x := range rel {
				bySeq[x.Seq] = x
			}
		}
	}
	seqs := make([]int64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]Message, 0, len(seqs))
	for _, s := range seqs {
		rec := bySeq[s]
		msg, err := r.Open(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, Message{RegisterRecord: rec, XML: msg})
	}
	return out, nil
}

// Sweep deletes what is older than RetentionMonths (the scheduler's job).
func (r *Register) Sweep(ctx context.Context, now time.Time) (int64, error) {
	n, err := r.Store.DeleteRegisterBefore(ctx, now.UTC().AddDate(0, -RetentionMonths, 0))
	if err != nil {
		return 0, fmt.Errorf("register: retention: %w", err)
	}
	return n, nil
}

// Lister is what Verify reads.
type Lister interface {
	ListRegister(ctx context.Context, afterSeq int64, limit int) ([]storage.RegisterRecord, error)
}

// Verify recomputes every hash and link of the register; the first record
// left after retention is the anchor. It returns how many records it read.
func Verify(ctx context.Context, l Lister) (int64, error) {
	var after, n int64
	prev := ""
	first := true
	for {
		page, err := l.ListRegister(ctx, after, 500)
		if err != nil {
			return n, fmt.Errorf("register: verify: %w", err)
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, rec := range page {
			if storage.RegisterHash(rec) != rec.Hash {
				return n, fmt.Errorf("register: record %d was altered (hash mismatch)", rec.Seq)
			}
			if !first && (rec.PrevHash != prev || rec.Seq != after+1) {
				return n, fmt.Errorf("register: record %d does not follow record %d (removed or reordered)", rec.Seq, after)
			}
			first, prev, after = false, rec.Hash, rec.Seq
			n++
		}
	}
}
