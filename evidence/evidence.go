// Package evidence keeps the evidence of recognition and of the identity's
// life (document scans, signed forms, recordings, checklists, registry
// answers) encrypted at rest, in the database every node shares
// (storage.Blobs) or, without one, on the filesystem (spec enrolment-lifecycle
// §3.7, §5.7, §12.4; security.md E.4).
//
// Every item has its own random AES-256 key, wrapped by the master key
// through keys/datakey (so master-key rotation works as for other secrets)
// and bound to the item's ID. The content is sealed in 64 KiB chunks
// (the STREAM construction: the nonce is the chunk counter plus a
// last-chunk flag), so uploads and recordings of any size are written and
// read without holding them in memory, and a reordered, truncated or
// extended file fails to open.
//
// The package knows nothing of requests or access rights: the caller keeps
// the Item in its database, checks who may open it and why (§12.3), and
// audits openings and deletions.
package evidence

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

// Evidence kinds (spec §3.7).
const (
	KindDocumentFront          = "document_front"
	KindDocumentBack           = "document_back"
	KindTaxcodeFront           = "taxcode_front"
	KindTaxcodeBack            = "taxcode_back"
	KindAdhesionFormSigned     = "adhesion_form_signed"
	KindCNSTransactionLog      = "cns_transaction_log"
	KindClientCertificateChain = "client_certificate_chain"
	KindSignatureReport        = "signature_report"
	KindVideoRecording         = "video_recording"
	KindVideoChecklist         = "video_checklist"
	KindAgentChecklist         = "agent_checklist"
	KindAuthoritativeCheck     = "authoritative_check"
	KindVisuraCamerale         = "visura_camerale"
	KindPoliceReport           = "police_report"
	KindDeathEvidence          = "death_evidence"
	KindComplaintLetter        = "complaint_letter"
)

// Size limits applied when Put is given maxBytes <= 0.
const (
	DefaultMaxBytes      = 10 << 20 // 10 MiB per document (spec §3.7 [DEC])
	DefaultVideoMaxBytes = 2 << 30  // a recorded session of the webcam path
)

// kindRule says what content a kind accepts.
type kindRule int

const (
	ruleDocument kindRule = iota // JPEG, PNG, PDF, P7M: what people upload
	ruleRecord                   // the IdP's own records: documents or plain text labelled JSON/PEM/text
	ruleVideo                    // any media type, larger limit
)

var kinds = map[string]kindRule{
	KindDocumentFront:          ruleDocument,
	KindDocumentBack:           ruleDocument,
	KindTaxcodeFront:           ruleDocument,
	KindTaxcodeBack:            ruleDocument,
	KindAdhesionFormSigned:     ruleDocument,
	KindVisuraCamerale:         ruleDocument,
	KindPoliceReport:           ruleDocument,
	KindDeathEvidence:          ruleDocument,
	KindComplaintLetter:        ruleDocument,
	KindCNSTransactionLog:      ruleRecord,
	KindClientCertificateChain: ruleRecord,
	KindSignatureReport:        ruleRecord,
	KindVideoChecklist:         ruleRecord,
	KindAgentChecklist:         ruleRecord,
	KindAuthoritativeCheck:     ruleRecord,
	KindVideoRecording:         ruleVideo,
}

// ValidKind reports whether kind is one of the Kind… constants.
func ValidKind(kind string) bool { _, ok := kinds[kind]; return ok }

var (
	// ErrUnknownKind: Put was given a kind that is not in spec §3.7.
	ErrUnknownKind = errors.New("evidence: unknown kind")
	// ErrEmpty: the upload has no content.
	ErrEmpty = errors.New("evidence: empty upload")
	// ErrTooLarge: the upload is over the size limit; nothing was stored.
	ErrTooLarge = errors.New("evidence: upload too large")
	// ErrMediaType: the content is not of a type the kind accepts; nothing
	// was stored.
	ErrMediaType = errors.New("evidence: file type not accepted")
	// ErrNotFound: no blob for that item (deleted, or never stored here).
	ErrNotFound = errors.New("evidence: item not found")
	// ErrLegalHold: the item is under legal hold and cannot be deleted.
	ErrLegalHold = errors.New("evidence: item under legal hold")
	// ErrIntegrity: the blob was altered, truncated, moved to another item,
	// or no longer matches the recorded SHA-256 or size.
	ErrIntegrity = errors.New("evidence: integrity check failed")
)

// Item describes one stored blob. The caller persists it with the request
// or identity it belongs to; Store needs it back to open or delete the blob.
type Item struct {
	ID             string // 32 lower-case hex characters, random
	Kind           string
	SHA256         string // hex SHA-256 of the plaintext
	Size           int64  // plaintext bytes
	MediaType      string // sniffed from the content
	CreatedAt      time.Time
	UploadedBy     string // set by the caller: operator ID, or the citizen's request
	RetentionClass RetentionClass
	// RetainUntil is when the item may be deleted; zero while the period
	// has not started (for adhesion evidence: the identity is not yet
	// expired or revoked). Set it with RetentionUntil.
	RetainUntil time.Time
	LegalHold   bool // never deleted while set
}

// Store keeps blobs in Blobs when set: in the database, as chunks, so an
// item uploaded through one node of a cluster opens on every other.
// Without Blobs it keeps them under Dir as <Dir>/<first 2 hex of ID>/<ID>,
// files 0600 in directories 0700 (one machine only). Sealer holds the
// master key(s). Safe for concurrent use.
type Store struct {
	Blobs  storage.Blobs
	Dir    string
	Sealer *datakey.Sealer
	Now    func() time.Time // nil: time.Now
}

func (s *Store) check() error {
	if s == nil || s.Blobs == nil && s.Dir == "" {
		return errors.New("evidence: no blob store or directory configured")
	}
	if s.Sealer == nil {
		return errors.New("evidence: no master key configured")
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// validID accepts only what newID makes, so an ID read from a tampered row
// cannot point outside Dir.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("evidence: new ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// keyAD binds a wrapped item key to its item: a blob copied under another
// ID does not open.
func keyAD(id string) []byte { return []byte("spid-idp evidence key v1|" + id) }

// Put reads r to the end (at most maxBytes; <= 0 means the kind's
// default), checks its type from the content, and stores it encrypted.
// mediaType is what the uploader declared: it is never trusted for
// documents; it labels the IdP's own text records (application/json,
// application/pem-certificate-chain, text/plain) and names a recording
// whose format the sniffer does not know. On any error nothing is stored.
func (s *Store) Put(ctx context.Context, kind, mediaType string, r io.Reader, maxBytes int64) (Item, error) {
	if err := s.check(); err != nil {
		return Item{}, err
	}
	rule, ok := kinds[kind]
	if !ok {
		return Item{}, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	limit := maxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
		if rule == ruleVideo {
			limit = DefaultVideoMaxBytes
		}
	}
	if limit == math.MaxInt64 {
		limit-- // room for the extra byte below
	}
	// One byte over the limit is enough to know it is too large.
	src := &io.LimitedReader{R: ctxReader{ctx, r}, N: limit + 1}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Item{}, fmt.Errorf("evidence: read upload: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return Item{}, ErrEmpty
	}
	mt, err := accept(rule, Sniff(head), mediaType)
	if err != nil {
		return Item{}, err
	}
	id, err := newID()
	if err != nil {
		return Item{}, err
	}
	key := make([]byte, 32)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return Item{}, fmt.Errorf("evidence: item key: %w", err)
	}
	wrapped, err := s.Sealer.Seal(key, keyAD(id))
	if err != nil {
		return Item{}, fmt.Errorf("evidence: wrap item key: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return Item{}, err
	}
	f, err := s.backend().create(ctx, id)
	if err != nil {
		return Item{}, err
	}
	stored := false
	defer func() {
		if !stored {
			f.abort()
		}
	}()
	if err := writeHeader(f, wrapped); err != nil {
		return Item{}, fmt.Errorf("evidence: write: %w", err)
	}
	sw := newSealWriter(f, aead)
	sum := sha256.New()
	w := io.MultiWriter(sw, sum)
	if _, err := w.Write(head); err != nil {
		return Item{}, fmt.Errorf("evidence: write: %w", err)
	}
	copied, err := io.Copy(w, src)
	if err != nil {
		return Item{}, fmt.Errorf("evidence: store upload: %w", err)
	}
	size := int64(n) + copied
	if size > limit {
		return Item{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	if err := sw.Close(); err != nil {
		return Item{}, fmt.Errorf("evidence: write: %w", err)
	}
	if err := f.commit(); err != nil {
		return Item{}, err
	}
	stored = true
	return Item{
		ID:             id,
		Kind:           kind,
		SHA256:         hex.EncodeToString(sum.Sum(nil)),
		Size:           size,
		MediaType:      mt,
		CreatedAt:      s.now().UTC(),
		RetentionClass: ClassForKind(kind),
	}, nil
}

// accept decides the recorded media type for content sniffed as sniffed
// and declared as declared, or refuses it.
func accept(rule kindRule, sniffed, declared string) (string, error) {
	base := baseType(sniffed)
	if documentTypes[base] {
		return base, nil
	}
	switch rule {
	case ruleVideo:
		// Any recording format: the sniffer knows WebM, MP4, AVI and Ogg;
		// for others (Matroska) trust a declared video type.
		if d := baseType(declared); base == "application/octet-stream" && d != "" {
			return d, nil
		}
		return base, nil
	case ruleRecord:
		if base == "text/plain" {
			if d := baseType(declared); recordTypes[d] {
				return d, nil
			}
			return "text/plain", nil
		}
	}
	return "", fmt.Errorf("%w: the content is %s; accepted: JPEG, PNG, PDF, P7M", ErrMediaType, base)
}

// syncDir makes a rename durable; failure only weakens crash safety.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ctxReader stops a long upload when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return aead, nil
}

// Open returns the plaintext of it as a stream. Every chunk is
// authenticated before it is returned; at the end the size and SHA-256
// are compared with it, and a mismatch is returned instead of io.EOF. An
// altered blob fails with ErrIntegrity, one sealed under a master key that
// is not configured with datakey.ErrUnknownKey.
func (s *Store) Open(ctx context.Context, it Item) (io.ReadCloser, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	if !validID(it.ID) {
		return nil, fmt.Errorf("evidence: invalid item ID %q", it.ID)
	}
	want, err := hex.DecodeString(it.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("evidence: item %s: recorded SHA-256 is not 64 hex characters", it.ID)
	}
	f, err := s.backend().open(ctx, it.ID)
	if err != nil {
		return nil, err
	}
	rd, err := s.openBlob(ctx, f, it.ID, want, it.Size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("evidence: item %s: %w", it.ID, err)
	}
	return rd, nil
}

// openBlob reads the header of f and returns the decrypting reader.
func (s *Store) openBlob(ctx context.Context, f io.ReadCloser, id string, sum []byte, size int64) (*openReader, error) {
	wrapped, err := readHeader(f)
	if err != nil {
		return nil, err
	}
	key, _, err := s.Sealer.Open(wrapped, keyAD(id))
	if err != nil {
		if errors.Is(err, datakey.ErrAuthentication) || errors.Is(err, datakey.ErrMalformed) {
			return nil, fmt.Errorf("%w: item key does not open (%v)", ErrIntegrity, err)
		}
		return nil, err
	}
	defer clear(key)
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: item key has %d bytes", ErrIntegrity, len(key))
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return newOpenReader(ctx, f, aead, sum, size), nil
}

// Verify reads the whole item and reports whether it still matches its
// record: the integrity check an operator or a periodic job runs (E094).
func (s *Store) Verify(ctx context.Context, it Item) error {
	rc, err := s.Open(ctx, it)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("evidence: item %s: %w", it.ID, err)
	}
	return nil
}

// Delete removes the blob of it. Deleting an item that is already gone
// succeeds, so a sweep interrupted between the file and the database row
// can simply run again. An item under legal hold is refused.
func (s *Store) Delete(ctx context.Context, it Item) error {
	if err := s.check(); err != nil {
		return err
	}
	if it.LegalHold {
		return fmt.Errorf("%w: %s", ErrLegalHold, it.ID)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	if !validID(it.ID) {
		return fmt.Errorf("evidence: invalid item ID %q", it.ID)
	}
	return s.backend().remove(ctx, it.ID)
}

// CleanTemp removes the partial files of uploads interrupted by a crash
// (Put removes its own on every error it sees) last written before
// before, and returns how many it removed. The daily job calls it with a
// margin (e.g. now - 24h) so an upload in progress is never touched.
func (s *Store) CleanTemp(ctx context.Context, before time.Time) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	return s.backend().cleanTemp(ctx, before)
}
