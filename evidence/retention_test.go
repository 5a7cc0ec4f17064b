package evidence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRetentionUntil(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	revoked := time.Date(2028, 3, 15, 9, 30, 0, 0, rome)
	leap := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		class RetentionClass
		from  time.Time
		want  time.Time
	}{
		{ClassAdhesion, revoked, time.Date(2048, 3, 15, 9, 30, 0, 0, rome)},
		{ClassVideo, revoked, time.Date(2048, 3, 15, 9, 30, 0, 0, rome)},
		{ClassTransactions, revoked, time.Date(2030, 3, 15, 9, 30, 0, 0, rome)},
		{ClassSecurity, revoked, time.Date(2030, 3, 15, 9, 30, 0, 0, rome)},
		{ClassRejected, revoked, time.Date(2030, 3, 15, 9, 30, 0, 0, rome)},
		{ClassTickets, revoked, time.Date(2030, 3, 15, 9, 30, 0, 0, rome)},
		{ClassComplaints, revoked, time.Date(2038, 3, 15, 9, 30, 0, 0, rome)},
		{ClassDrafts, revoked, time.Date(2028, 4, 14, 9, 30, 0, 0, rome)},
		// 29 February: kept in a leap year; otherwise the day after, never before.
		{ClassAdhesion, leap, time.Date(2048, 2, 29, 12, 0, 0, 0, time.UTC)},
		{ClassRejected, leap, time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)},
		// The identity is alive: the period has not started.
		{ClassAdhesion, time.Time{}, time.Time{}},
		// An unknown class keeps the item rather than guess.
		{"forever-ish", revoked, time.Time{}},
	}
	for _, tc := range tests {
		if got := RetentionUntil(tc.class, tc.from); !got.Equal(tc.want) {
			t.Errorf("RetentionUntil(%s, %v) = %v, want %v", tc.class, tc.from, got, tc.want)
		}
	}
	for _, c := range []RetentionClass{ClassAdhesion, ClassVideo, ClassTransactions, ClassSecurity, ClassRejected, ClassDrafts, ClassTickets, ClassComplaints} {
		if !c.Valid() {
			t.Errorf("%s not valid", c)
		}
	}
	if RetentionClass("adhesions").Valid() {
		t.Error("a misspelt class is valid")
	}
}

func TestClassForKind(t *testing.T) {
	for kind := range kinds {
		want := ClassAdhesion
		if kind == KindVideoRecording {
			want = ClassVideo
		}
		if got := ClassForKind(kind); got != want {
			t.Errorf("ClassForKind(%s) = %s, want %s", kind, got, want)
		}
		if !ValidKind(kind) {
			t.Errorf("ValidKind(%s) = false", kind)
		}
	}
	if len(kinds) != 16 {
		t.Errorf("%d kinds, spec §3.7 lists 16", len(kinds))
	}
}

func TestSweep(t *testing.T) {
	s := newStore(t)
	now := time.Date(2048, 6, 1, 3, 0, 0, 0, time.UTC)
	mk := func(name string, mutate func(*Item)) Item {
		it, _ := put(t, s, 100)
		it.UploadedBy = name
		mutate(&it)
		return it
	}
	revokedLongAgo := time.Date(2028, 3, 15, 0, 0, 0, 0, time.UTC)
	due := mk("due", func(it *Item) { it.RetainUntil = RetentionUntil(ClassAdhesion, revokedLongAgo) })
	dueNow := mk("due exactly now", func(it *Item) { it.RetainUntil = now })
	notYet := mk("not yet", func(it *Item) { it.RetainUntil = now.Add(time.Second) })
	held := mk("legal hold", func(it *Item) {
		it.RetainUntil = RetentionUntil(ClassAdhesion, revokedLongAgo)
		it.LegalHold = true
	})
	alive := mk("identity alive", func(*Item) {})
	gone := mk("file already gone", func(it *Item) { it.RetainUntil = revokedLongAgo })
	if err := s.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}

	deleted, err := s.Sweep(context.Background(), []Item{due, dueNow, notYet, held, alive, gone}, now)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	var names []string
	for _, it := range deleted {
		names = append(names, it.UploadedBy)
	}
	want := []string{"due", "due exactly now", "file already gone"}
	if len(names) != len(want) {
		t.Fatalf("deleted %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("deleted %v, want %v", names, want)
		}
	}
	for _, it := range []Item{due, dueNow} {
		if _, err := s.Open(context.Background(), it); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: still openable after the sweep: %v", it.UploadedBy, err)
		}
	}
	for _, it := range []Item{notYet, held, alive} {
		if err := s.Verify(context.Background(), it); err != nil {
			t.Errorf("%s: damaged by the sweep: %v", it.UploadedBy, err)
		}
	}

	// Lifting the hold makes the item due on the next run.
	held.LegalHold = false
	if deleted, err := s.Sweep(context.Background(), []Item{held}, now); err != nil || len(deleted) != 1 {
		t.Errorf("after the hold is lifted: deleted %d, %v", len(deleted), err)
	}
}

func TestSweepFailures(t *testing.T) {
	s := newStore(t)
	now := time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	ok, _ := put(t, s, 100)
	ok.RetainUntil = now.Add(-time.Hour)
	stuck, path := put(t, s, 100)
	stuck.RetainUntil = ok.RetainUntil
	// A directory where the blob was: Remove fails (non-empty directory).
	os.Remove(path)
	os.MkdirAll(filepath.Join(path, "x"), 0o700)
	bad := Item{ID: "../../x", RetainUntil: ok.RetainUntil}

	deleted, err := s.Sweep(context.Background(), []Item{stuck, bad, ok}, now)
	if err == nil {
		t.Fatal("Sweep hid the failed deletions")
	}
	if len(deleted) != 1 || deleted[0].ID != ok.ID {
		t.Errorf("deleted %v, want only the deletable item", deleted)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	again, _ := put(t, s, 100)
	again.RetainUntil = ok.RetainUntil
	if deleted, err := s.Sweep(ctx, []Item{again}, now); !errors.Is(err, context.Canceled) || len(deleted) != 0 {
		t.Errorf("cancelled sweep: deleted %d, %v", len(deleted), err)
	}
}

func TestDue(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		it   Item
		want bool
	}{
		{Item{RetainUntil: now.Add(-1)}, true},
		{Item{RetainUntil: now}, true},
		{Item{RetainUntil: now.Add(1)}, false},
		{Item{}, false},
		{Item{RetainUntil: now.Add(-1), LegalHold: true}, false},
	} {
		if got := tc.it.Due(now); got != tc.want {
			t.Errorf("%+v.Due = %v, want %v", tc.it, got, tc.want)
		}
	}
}
