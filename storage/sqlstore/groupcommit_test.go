package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// TestGroupCommitSavepoints: concurrent write transactions on SQLite share
// commits, and one that fails after writing leaves none of its writes while
// the others sharing its commit keep all of theirs.
func TestGroupCommitSavepoints(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	const n = 80
	expires := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z")
	errFail := errors.New("fails after writing")
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.WriteForTest(ctx, func(tx *sql.Tx) error {
				for k := range 2 {
					if _, err := tx.ExecContext(ctx, "INSERT INTO single_use (mark, expires_at) VALUES (?, ?)",
						fmt.Sprintf("m-%d-%d", i, k), expires); err != nil {
						return err
					}
				}
				if i%2 == 1 {
					return errFail
				}
				return nil
			})
			if want := map[bool]error{true: errFail, false: nil}[i%2 == 1]; !errors.Is(err, want) || (want == nil && err != nil) {
				t.Errorf("writer %d: %v, want %v", i, err, want)
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		for k := range 2 {
			err := s.InsertRequestID(context.Background(), fmt.Sprintf("m-%d-%d", i, k), time.Now().Add(time.Hour))
			kept := errors.Is(err, storage.ErrAlreadyExists)
			if err != nil && !kept {
				t.Fatal(err)
			}
			if kept != (i%2 == 0) {
				t.Errorf("writer %d (failed: %v): mark %d kept = %v", i, i%2 == 1, k, kept)
			}
		}
	}
	if b := s.WriteBatches(); b >= n+2*n {
		t.Errorf("%d transactions for %d concurrent writers and %d checks: nothing was grouped", b, n, 2*n)
	}
	t.Logf("%d transactions for %d writers and %d checks", s.WriteBatches(), n, 2*n)
}

// TestGroupCommitSyncLater: on SQLite a batch made only of writes marked
// storage.SyncLater commits with synchronous=NORMAL (no fsync of its own);
// one unmarked write in the batch makes the commit synced for all; and no
// connection keeps the skipped fsync for the writes after it.
func TestGroupCommitSyncLater(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	started := make(chan struct{})
	level := func(ctx context.Context, release <-chan struct{}) (int, error) {
		var n int
		err := s.WriteForTest(ctx, func(tx *sql.Tx) error {
			if release != nil {
				close(started)
				<-release
			}
			return tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n)
		})
		return n, err
	}
	const normal, full = 1, 2
	for _, c := range []struct {
		name string
		ctx  context.Context
		want int
	}{
		{"marked", storage.SyncLater(ctx), normal},
		{"unmarked", ctx, full},
		{"marked again", storage.SyncLater(ctx), normal},
	} {
		if got, err := level(c.ctx, nil); err != nil || got != c.want {
			t.Errorf("%s write alone: synchronous = %d, %v; want %d", c.name, got, err, c.want)
		}
	}

	// A batch of marked writes and one unmarked: all commit synced. The
	// first write holds the writer until the others have queued behind it.
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() { _, err := level(ctx, release); first <- err }()
	<-started
	var wg sync.WaitGroup
	got := make([]int, 5)
	for i := range got {
		wg.Go(func() {
			c := storage.SyncLater(ctx)
			if i == 0 {
				c = ctx
			}
			n, err := level(c, nil)
			if err != nil {
				t.Error(err)
			}
			got[i] = n
		})
	}
	for s.PendingWrites() < len(got) {
		time.Sleep(time.Millisecond) // all five queued behind the first
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, n := range got {
		if n != full {
			t.Errorf("write %d of a batch with an unmarked one: synchronous = %d, want %d", i, n, full)
		}
	}

	// Every pooled connection is back to synced commits.
	db := s.DBForTest()
	conns := make([]*sql.Conn, 0, 8)
	for range cap(conns) {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var n int
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n); err != nil || n != full {
			t.Errorf("pooled connection: synchronous = %d, %v; want %d", n, err, full)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}
