package evidence

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// blobBackends are the databases evidence can live in: SQLite always,
// PostgreSQL when the test environment has one.
func blobBackends(t *testing.T) map[string]func(t *testing.T) storage.Store {
	m := map[string]func(t *testing.T) storage.Store{
		"sqlite": func(t *testing.T) storage.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "idp.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	m["postgres"] = func(t *testing.T) storage.Store {
		dsn, _ := testenv.PostgresSchema(t, "evidence_")
		st, err := postgres.Open(context.Background(), dsn, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return m
}

// TestBlobsSharedBetweenNodes: with the blobs in the database, an item
// uploaded through one node opens, verifies and is deleted through another
// (two Stores on one database, no common directory). With files under
// each node's Dir the second node answered "item not found".
func TestBlobsSharedBetweenNodes(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			sealer, _ := newSealer(t)
			nodeA := &Store{Blobs: st, Sealer: sealer, Now: func() time.Time { return testNow }}
			nodeB := &Store{Blobs: st, Sealer: sealer}
			ctx := context.Background()
			for _, size := range []int{5, chunkSize, dbChunk - 1, dbChunk, 3*dbChunk + 17} {
				content := pdf(size)
				if size < 5 {
					content = []byte("%PDF-")
				}
				it, err := nodeA.Put(ctx, KindDocumentFront, "", bytes.NewReader(content), 4*dbChunk)
				if err != nil {
					t.Fatalf("Put %d bytes: %v", size, err)
				}
				got, err := readAll(t, nodeB, it)
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("%d bytes read through the other node: %d bytes, %v", size, len(got), err)
				}
				if err := nodeB.Delete(ctx, it); err != nil {
					t.Fatal(err)
				}
				if _, err := nodeA.Open(ctx, it); !errors.Is(err, ErrNotFound) {
					t.Fatalf("after Delete: %v, want ErrNotFound", err)
				}
			}
		})
	}
}

// Refused, cancelled and crashed uploads leave nothing readable, and the
// sweep removes what a crash left.
func TestBlobsNothingHalfStored(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			sealer, _ := newSealer(t)
			s := &Store{Blobs: st, Sealer: sealer}
			ctx := context.Background()
			leftovers := func() int {
				t.Helper()
				n, err := st.DeleteUncommittedBlobs(ctx, time.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if _, err := s.Put(ctx, KindDocumentFront, "", bytes.NewReader(jpeg(2*dbChunk+10)), 2*dbChunk); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("oversized: %v, want ErrTooLarge", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			r := &cancelAfter{r: bytes.NewReader(pdf(3 * dbChunk)), n: dbChunk + 100, cancel: cancel}
			if _, err := s.Put(cctx, KindDocumentFront, "", r, 0); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled: %v, want context.Canceled", err)
			}
			if n := leftovers(); n != 0 {
				t.Errorf("refused and cancelled uploads left %d blobs", n)
			}
			// A crash between chunks: what was written is never readable,
			// and the daily sweep removes it once old enough.
			if err := st.PutBlobChunk(ctx, "0123456789abcdef0123456789abcdef", 0, []byte("half")); err != nil {
				t.Fatal(err)
			}
			it := Item{ID: "0123456789abcdef0123456789abcdef", SHA256: "00000000000000000000000000000000000000000000000000000000000000ff", Size: 4}
			if _, err := s.Open(ctx, it); !errors.Is(err, ErrNotFound) {
				t.Errorf("a half-written blob opened: %v", err)
			}
			if n, err := s.CleanTemp(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
				t.Errorf("CleanTemp removed %d (%v) blobs started just now", n, err)
			}
			if n, err := s.CleanTemp(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
				t.Errorf("CleanTemp = %d, %v; want 1", n, err)
			}
		})
	}
}

// A chunk altered in the database fails the integrity check, as an
// altered file does.
func TestBlobsTampered(t *testing.T) {
	st := blobBackends(t)["sqlite"](t)
	sealer, _ := newSealer(t)
	s := &Store{Blobs: st, Sealer: sealer}
	ctx := context.Background()
	it, err := s.Put(ctx, KindDocumentFront, "", bytes.NewReader(pdf(dbChunk+500)), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Re-store the blob with one byte of its second chunk flipped.
	var chunks [][]byte
	for i := 0; ; i++ {
		c, err := st.GetBlobChunk(ctx, it.ID, i)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	chunks[1][10] ^= 1
	if err := st.DeleteBlob(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		if err := st.PutBlobChunk(ctx, it.ID, i, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CommitBlob(ctx, it.ID, len(chunks)); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx, it); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Verify of an altered blob: %v, want ErrIntegrity", err)
	}
}

// Items that an earlier version stored as files under Dir still open,
// verify and delete once the database holds new items.
func TestBlobsUpgradeReadsOldFiles(t *testing.T) {
	st := blobBackends(t)["sqlite"](t)
	sealer, _ := newSealer(t)
	dir := t.TempDir()
	old := &Store{Dir: dir, Sealer: sealer}
	ctx := context.Background()
	before, err := old.Put(ctx, KindDocumentFront, "", bytes.NewReader(pdf(1000)), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Blobs: st, Dir: dir, Sealer: sealer}
	after, err := s.Put(ctx, KindDocumentBack, "", bytes.NewReader(pdf(2000)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Open(ctx, after); !errors.Is(err, ErrNotFound) {
		t.Errorf("a new item was written as a file: %v", err)
	}
	for _, it := range []Item{before, after} {
		if err := s.Verify(ctx, it); err != nil {
			t.Errorf("Verify %s: %v", it.Kind, err)
		}
		if err := s.Delete(ctx, it); err != nil {
			t.Errorf("Delete %s: %v", it.Kind, err)
		}
		if _, err := s.Open(ctx, it); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after Delete: %v", it.Kind, err)
		}
	}
}
