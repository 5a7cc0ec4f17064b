package storage

import (
	"context"
	"time"
)

// What several nodes of one IdP must see alike lives in the Store, never on
// one node's disk: values made once for the whole cluster (the personal
// area's SP key), the revision that tells every node the SP registry
// changed, evidence blobs, and batch imports that must land whole.

// SharedValues are durable values made once for the whole cluster by
// whichever node gets there first, then read by all. They are never
// replaced: a second creator gets ErrAlreadyExists and reads the winner's.
type SharedValues interface {
	// CreateSharedValue stores value under name; ErrAlreadyExists if name
	// is taken (exactly one of several concurrent creators succeeds).
	CreateSharedValue(ctx context.Context, name string, value []byte) error
	// GetSharedValue returns the value stored under name; ErrNotFound if
	// there is none.
	GetSharedValue(ctx context.Context, name string) ([]byte, error)
}

// Revisions let a node notice that another node (or the command line)
// changed what it caches.
type Revisions interface {
	// ServiceProviderRevision changes (grows) in the same transaction as
	// every create, update and delete of a service provider.
	ServiceProviderRevision(ctx context.Context) (int64, error)
}

// ImportedIdentity is one identity of a batch import with everything that
// belongs to it.
type ImportedIdentity struct {
	Identity   Identity
	Credential *Credential // nil: no password
	Devices    []Device
	// Audit is the record of the import of this identity; the backend
	// chains it (Seq, PrevHash, Hash) like AppendAudit.
	Audit AuditEvent
}

// Imports write batches that must land whole.
type Imports interface {
	// ImportIdentities creates every identity with its credential, devices
	// and audit record in one transaction: after a crash at any moment
	// either all of them exist, each with its audit record, or none does.
	// It returns the stored audit records in order.
	ImportIdentities(ctx context.Context, batch []ImportedIdentity) ([]AuditEvent, error)
}

// Blobs keep large binary objects (encrypted evidence) in the database as
// numbered chunks, so every node reads what any node wrote. A blob is
// written chunk by chunk, then committed; only committed blobs can be
// read, and blobs never committed (a crash mid-upload) are swept.
type Blobs interface {
	// PutBlobChunk stores chunk seq (0, 1, ...) of the uncommitted blob id,
	// creating the blob with the first chunk; ErrAlreadyExists if that
	// chunk, or a committed blob with this id, exists.
	PutBlobChunk(ctx context.Context, id string, seq int, data []byte) error
	// CommitBlob makes blob id readable; it must have chunks 0..chunks-1.
	// ErrNotFound if the blob has no chunks.
	CommitBlob(ctx context.Context, id string, chunks int) error
	// BlobChunks returns how many chunks the committed blob id has;
	// ErrNotFound if it is unknown or not committed.
	BlobChunks(ctx context.Context, id string) (int, error)
	// GetBlobChunk returns chunk seq of the committed blob id; ErrNotFound
	// if there is no such chunk.
	GetBlobChunk(ctx context.Context, id string, seq int) ([]byte, error)
	// DeleteBlob removes blob id, committed or not; no error if absent.
	DeleteBlob(ctx context.Context, id string) error
	// DeleteUncommittedBlobs removes the blobs never committed whose
	// writing began before before, and says how many it removed.
	DeleteUncommittedBlobs(ctx context.Context, before time.Time) (int, error)
}
