package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// A rollover plan is written whole and read back exactly; keys left out of
// an update are deleted; an error from fn changes nothing.
func storeTestSigningKeysRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	got, err := s.ListSigningKeys(ctx)
	storeMust(t, "ListSigningKeys", err)
	if len(got) != 0 {
		t.Fatalf("a new store has %d signing keys, want none", len(got))
	}
	base := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	old := storage.SigningKey{ID: "aa", Cert: []byte{0x30, 0, 1}, Configured: true,
		PublishAt: base, RetireAt: base.Add(14 * 24 * time.Hour), CreatedAt: base}
	next := storage.SigningKey{ID: "bb", Cert: []byte{0x30, 2}, Private: []byte{0, 0xff, 7}, HSMLabel: "",
		PublishAt: base.Add(time.Hour), ActivateAt: base.Add(7 * 24 * time.Hour), CreatedAt: base.Add(time.Hour)}
	hsm := storage.SigningKey{ID: "cc", Cert: []byte{0x30, 3}, HSMLabel: "spid-signing-2027",
		PublishAt: base.Add(2 * time.Hour), ActivateAt: base.Add(30 * 24 * time.Hour), CreatedAt: base.Add(2 * time.Hour),
		SwitchRecorded: base.Add(3 * time.Hour)}
	storeMust(t, "UpdateSigningKeys", s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		if len(cur) != 0 {
			return nil, fmt.Errorf("fn got %d keys, want none", len(cur))
		}
		return []storage.SigningKey{hsm, old, next}, nil
	}))
	got, err = s.ListSigningKeys(ctx)
	storeMust(t, "ListSigningKeys", err)
	if want := []storage.SigningKey{old, next, hsm}; !reflect.DeepEqual(emptyAsNil(got), want) {
		t.Fatalf("ListSigningKeys =\n%+v\nwant (oldest first)\n%+v", got, want)
	}

	boom := errors.New("boom")
	if err := s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateSigningKeys with a failing fn: %v, want its error", err)
	}
	if got, _ := s.ListSigningKeys(ctx); len(got) != 3 {
		t.Fatalf("a failed update changed the set: %d keys", len(got))
	}

	// Retire the old key: update one, drop another.
	retired := base.Add(15 * 24 * time.Hour)
	storeMust(t, "UpdateSigningKeys", s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		var out []storage.SigningKey
		for _, k := range cur {
			switch k.ID {
			case "aa":
				k.RetireRecorded = retired
				out = append(out, k)
			case "bb":
				out = append(out, k)
			}
		}
		return out, nil
	}))
	got, err = s.ListSigningKeys(ctx)
	storeMust(t, "ListSigningKeys", err)
	old.RetireRecorded = retired
	if want := []storage.SigningKey{old, next}; !reflect.DeepEqual(emptyAsNil(got), want) {
		t.Fatalf("after the update ListSigningKeys =\n%+v\nwant\n%+v", got, want)
	}
	if err := s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		return append(cur, cur[0]), nil
	}); err == nil {
		t.Error("UpdateSigningKeys accepted the same ID twice")
	}
}

// Two operators planning at once (or two nodes recording the same switch)
// never both see the same set: each update sees the other's result.
func storeTestSigningKeysConcurrentUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const n = 6
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
				return append(cur, storage.SigningKey{ID: fmt.Sprintf("k%d", len(cur)), Cert: []byte{byte(i)},
					CreatedAt: at.Add(time.Duration(len(cur)) * time.Second)}), nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		storeMust(t, fmt.Sprintf("UpdateSigningKeys %d", i), err)
	}
	got, err := s.ListSigningKeys(ctx)
	storeMust(t, "ListSigningKeys", err)
	if len(got) != n {
		t.Fatalf("%d concurrent appends left %d keys: an update did not see another's result", n, len(got))
	}
}

// emptyAsNil makes empty byte slices nil: backends differ in which of the
// two an empty BLOB reads back as, and no caller tells them apart.
func emptyAsNil(ks []storage.SigningKey) []storage.SigningKey {
	for i := range ks {
		if len(ks[i].Private) == 0 {
			ks[i].Private = nil
		}
	}
	return ks
}
