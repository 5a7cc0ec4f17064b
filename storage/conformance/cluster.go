package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// clusterTests are the contracts of what the nodes of a cluster share
// (storage.SharedValues, Revisions, Imports, Blobs); RunStore runs them.
var clusterTests = []struct {
	name string
	run  func(t *testing.T, s storage.Store)
}{
	{"SharedValueCreateOnce", storeTestSharedValueCreateOnce},
	{"SharedValueConcurrentCreate", storeTestSharedValueConcurrentCreate},
	{"ServiceProviderRevision", storeTestServiceProviderRevision},
	{"ImportIdentitiesAllOrNothing", storeTestImportAllOrNothing},
	{"BlobRoundTrip", storeTestBlobRoundTrip},
	{"BlobUncommittedInvisible", storeTestBlobUncommitted},
	{"SigningKeysRoundTrip", storeTestSigningKeysRoundTrip},
	{"SigningKeysConcurrentUpdate", storeTestSigningKeysConcurrentUpdate},
}

func storeTestSharedValueCreateOnce(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if _, err := s.GetSharedValue(ctx, "portal"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetSharedValue of a missing name: %v, want ErrNotFound", err)
	}
	val := []byte{0, 1, 2, 0xff, 'x'}
	storeMust(t, "CreateSharedValue", s.CreateSharedValue(ctx, "portal", val))
	if err := s.CreateSharedValue(ctx, "portal", []byte("other")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second CreateSharedValue: %v, want ErrAlreadyExists", err)
	}
	got, err := s.GetSharedValue(ctx, "portal")
	storeMust(t, "GetSharedValue", err)
	if !bytes.Equal(got, val) {
		t.Errorf("GetSharedValue = %x, want %x (the first value, kept)", got, val)
	}
}

// Two nodes starting together both try to make the value: one wins and
// both then read the winner's.
func storeTestSharedValueConcurrentCreate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateSharedValue(ctx, "race", []byte(fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrAlreadyExists):
			t.Errorf("creator %d: %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d creators succeeded, want exactly 1", won)
	}
}

func storeTestServiceProviderRevision(t *testing.T, s storage.Store) {
	ctx := t.Context()
	last, err := s.ServiceProviderRevision(ctx)
	storeMust(t, "ServiceProviderRevision", err)
	step := func(what string, op func() error) {
		t.Helper()
		storeMust(t, what, op())
		rev, err := s.ServiceProviderRevision(ctx)
		storeMust(t, "ServiceProviderRevision", err)
		if rev <= last {
			t.Errorf("after %s the revision is %d, was %d: other nodes would not notice", what, rev, last)
		}
		last = rev
	}
	sp := storeSP(1)
	step("CreateServiceProvider", func() error { return s.CreateServiceProvider(ctx, sp) })
	step("UpdateServiceProvider", func() error {
		return s.UpdateServiceProvider(ctx, sp.EntityID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
			cur.Status = storage.SPDisabled
			return cur, nil
		})
	})
	step("DeleteServiceProvider", func() error { return s.DeleteServiceProvider(ctx, sp.EntityID) })
	// Failed changes and other tables may leave it alone, but must not
	// move it backwards.
	_ = s.DeleteServiceProvider(ctx, sp.EntityID)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, storeIdentity(1)))
	rev, err := s.ServiceProviderRevision(ctx)
	storeMust(t, "ServiceProviderRevision", err)
	if rev < last {
		t.Errorf("revision went back from %d to %d", last, rev)
	}
}

func storeImportBatch(from, n int) []storage.ImportedIdentity {
	var batch []storage.ImportedIdentity
	for i := from; i < from+n; i++ {
		id := storeIdentity(i)
		b := storage.ImportedIdentity{
			Identity: id,
			Audit: storage.AuditEvent{Time: storeT0, Actor: "operator:cli", Action: "user.import", Target: id.ID,
				Outcome: "success", Details: map[string]string{"row": fmt.Sprint(i)}},
		}
		if i%2 == 0 {
			b.Credential = &storage.Credential{IdentityID: id.ID, PasswordHash: "$argon2id$x", UpdatedAt: storeT0}
		}
		if i%3 == 0 {
			b.Devices = []storage.Device{storeDevice(i, id.ID)}
		}
		batch = append(batch, b)
	}
	return batch
}

func storeTestImportAllOrNothing(t *testing.T, s storage.Store) {
	ctx := t.Context()
	_, err := s.AppendAudit(ctx, storeAuditEvent(0))
	storeMust(t, "AppendAudit", err)
	batch := storeImportBatch(1, 30)
	recs, err := s.ImportIdentities(ctx, batch)
	storeMust(t, "ImportIdentities", err)
	if len(recs) != len(batch) {
		t.Fatalf("ImportIdentities returned %d audit records, want %d", len(recs), len(batch))
	}
	all, err := s.ListAudit(ctx, 0, 1000)
	storeMust(t, "ListAudit", err)
	storeVerifyChain(t, all)
	if len(all) != 31 || all[1].Target != batch[0].Identity.ID || all[30].Target != batch[29].Identity.ID {
		t.Fatalf("audit log after the import has %d records, want 31 in row order", len(all))
	}
	for _, b := range batch {
		if _, err := s.GetIdentity(ctx, b.Identity.ID); err != nil {
			t.Errorf("imported identity %s: %v", b.Identity.ID, err)
		}
		if _, err := s.GetCredential(ctx, b.Identity.ID); (err == nil) != (b.Credential != nil) {
			t.Errorf("credential of %s: %v, want present=%v", b.Identity.ID, err, b.Credential != nil)
		}
		ds, err := s.ListDevices(ctx, b.Identity.ID)
		storeMust(t, "ListDevices", err)
		if len(ds) != len(b.Devices) {
			t.Errorf("%s has %d devices, want %d", b.Identity.ID, len(ds), len(b.Devices))
		}
	}

	// A batch whose last row collides (username taken) writes nothing:
	// no identity, no credential, no audit record.
	bad := storeImportBatch(100, 20)
	bad[19].Identity.Username = batch[0].Identity.Username
	if _, err := s.ImportIdentities(ctx, bad); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("ImportIdentities with a taken username: %v, want ErrAlreadyExists", err)
	}
	for _, b := range bad {
		if _, err := s.GetIdentity(ctx, b.Identity.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("identity %s of the failed batch: %v, want ErrNotFound", b.Identity.ID, err)
		}
	}
	after, err := s.ListAudit(ctx, 0, 1000)
	storeMust(t, "ListAudit", err)
	if len(after) != len(all) {
		t.Errorf("the failed batch left %d audit records", len(after)-len(all))
	}
	// The chain goes on after it.
	_, err = s.AppendAudit(ctx, storeAuditEvent(1))
	storeMust(t, "AppendAudit after the failed import", err)
	after, err = s.ListAudit(ctx, 0, 1000)
	storeMust(t, "ListAudit", err)
	storeVerifyChain(t, after)
}

func storeTestBlobRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	chunks := [][]byte{bytes.Repeat([]byte{0, 0xff}, 40000), {}, []byte("last")}
	for i, c := range chunks {
		storeMust(t, "PutBlobChunk", s.PutBlobChunk(ctx, "blob-1", i, c))
	}
	if err := s.PutBlobChunk(ctx, "blob-1", 1, []byte("again")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("PutBlobChunk of an existing chunk: %v, want ErrAlreadyExists", err)
	}
	if err := s.CommitBlob(ctx, "blob-1", 4); err == nil {
		t.Errorf("CommitBlob claiming 4 chunks of 3 succeeded")
	}
	storeMust(t, "CommitBlob", s.CommitBlob(ctx, "blob-1", len(chunks)))
	if err := s.PutBlobChunk(ctx, "blob-1", 3, []byte("more")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("PutBlobChunk to a committed blob: %v, want ErrAlreadyExists", err)
	}
	if err := s.PutBlobChunk(ctx, "blob-1", 0, []byte("new")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("restarting a committed blob: %v, want ErrAlreadyExists", err)
	}
	n, err := s.BlobChunks(ctx, "blob-1")
	storeMust(t, "BlobChunks", err)
	if n != len(chunks) {
		t.Fatalf("BlobChunks = %d, want %d", n, len(chunks))
	}
	for i, want := range chunks {
		got, err := s.GetBlobChunk(ctx, "blob-1", i)
		storeMust(t, "GetBlobChunk", err)
		if !bytes.Equal(got, want) {
			t.Errorf("chunk %d: %d bytes differ from the %d written", i, len(got), len(want))
		}
	}
	if _, err := s.GetBlobChunk(ctx, "blob-1", 3); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetBlobChunk past the end: %v, want ErrNotFound", err)
	}
	storeMust(t, "DeleteBlob", s.DeleteBlob(ctx, "blob-1"))
	storeMust(t, "DeleteBlob again", s.DeleteBlob(ctx, "blob-1"))
	if _, err := s.BlobChunks(ctx, "blob-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("BlobChunks after DeleteBlob: %v, want ErrNotFound", err)
	}
	if _, err := s.GetBlobChunk(ctx, "blob-1", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetBlobChunk after DeleteBlob: %v, want ErrNotFound", err)
	}
}

// An upload cut short is never readable, and the sweep removes it once it
// is old enough, never one still being written.
func storeTestBlobUncommitted(t *testing.T, s storage.Store) {
	ctx := t.Context()
	storeMust(t, "PutBlobChunk", s.PutBlobChunk(ctx, "cut", 0, []byte("half")))
	if _, err := s.BlobChunks(ctx, "cut"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("BlobChunks of an uncommitted blob: %v, want ErrNotFound", err)
	}
	if _, err := s.GetBlobChunk(ctx, "cut", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetBlobChunk of an uncommitted blob: %v, want ErrNotFound", err)
	}
	if err := s.PutBlobChunk(ctx, "nostart", 1, []byte("x")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("PutBlobChunk 1 without chunk 0: %v, want ErrNotFound", err)
	}
	n, err := s.DeleteUncommittedBlobs(ctx, time.Now().Add(-time.Hour))
	storeMust(t, "DeleteUncommittedBlobs", err)
	if n != 0 {
		t.Errorf("the sweep removed %d blobs started just now", n)
	}
	storeMust(t, "PutBlobChunk", s.PutBlobChunk(ctx, "kept", 0, []byte("whole")))
	storeMust(t, "CommitBlob", s.CommitBlob(ctx, "kept", 1))
	n, err = s.DeleteUncommittedBlobs(ctx, time.Now().Add(time.Minute))
	storeMust(t, "DeleteUncommittedBlobs", err)
	if n != 1 {
		t.Errorf("the sweep removed %d blobs, want 1 (the uncommitted one)", n)
	}
	if _, err := s.BlobChunks(ctx, "kept"); err != nil {
		t.Errorf("the sweep touched a committed blob: %v", err)
	}
	if err := s.PutBlobChunk(ctx, "cut", 1, []byte("late")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("PutBlobChunk to a swept blob: %v, want ErrNotFound", err)
	}
}
