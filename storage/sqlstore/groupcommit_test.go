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
