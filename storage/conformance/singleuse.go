package conformance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// storeTestSingleUse: a durable store that keeps single-use marks gives
// them the replay-cache contract: one winner among concurrent inserts, the
// key free again once expired, invalid input refused, expired marks
// cleaned up and live ones kept.
func storeTestSingleUse(t *testing.T, s storage.Store) {
	su, ok := s.(storage.SingleUse)
	if !ok {
		t.Skip("this store keeps no durable single-use marks")
	}
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	const n = 16
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := su.InsertRequestID(ctx, "authn|https://sp.example.it|_same", exp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, storage.ErrAlreadyExists):
				lost++
			default:
				t.Errorf("insert %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Errorf("%d won and %d got ErrAlreadyExists, want 1 and %d", won, lost, n-1)
	}
	for _, bad := range []struct {
		key string
		exp time.Time
	}{{"", exp}, {"k-past", time.Now().Add(-time.Second)}, {"k\x00nul", exp}} {
		if err := su.InsertRequestID(ctx, bad.key, bad.exp); err == nil || errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("InsertRequestID(%q, %v) = %v, want a validation error", bad.key, bad.exp, err)
		}
	}

	// A mark that expired frees its key; the clean-up removes expired
	// marks only.
	if err := su.InsertRequestID(ctx, "short", time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := su.InsertRequestID(ctx, "short", time.Now().Add(50*time.Millisecond)); err != nil {
		t.Errorf("reusing an expired mark: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	deleted, err := su.DeleteExpiredRequestIDs(ctx, time.Now())
	if err != nil || deleted != 1 {
		t.Errorf("DeleteExpiredRequestIDs = %d, %v; want 1 (the expired mark only)", deleted, err)
	}
	if err := su.InsertRequestID(ctx, "authn|https://sp.example.it|_same", exp); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("a live mark did not survive the clean-up: %v", err)
	}
}
