package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// VideoStore is what the video-slot suite needs: the slots and the
// operators they belong to.
type VideoStore interface {
	storage.VideoSlots
	storage.Operators
}

// RunVideoSlots runs the storage.VideoSlots conformance suite (subtests
// prefixed "video"). newStore must return an empty store for the subtest
// it is given and close it in t.Cleanup.
func RunVideoSlots(t *testing.T, newStore func(t *testing.T) VideoStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s VideoStore)
	}{
		{"videoCreateList", videoTestCreateList},
		{"videoOverlap", videoTestOverlap},
		{"videoBookRelease", videoTestBookRelease},
		{"videoChange", videoTestChange},
		{"videoDelete", videoTestDelete},
		{"videoConcurrentBooking", videoTestConcurrentBooking},
		{"videoConcurrentOneRequest", videoTestConcurrentOneRequest},
		{"videoSweep", videoTestSweep},
		{"videoReleaseWithChange", videoTestReleaseWithChange},
		{"videoConcurrentSweep", videoTestConcurrentSweep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

func videoOperators(t *testing.T, s VideoStore, ids ...string) {
	t.Helper()
	for _, id := range ids {
		storeMust(t, "CreateOperator", s.CreateOperator(t.Context(), storage.Operator{ID: id, Username: id, Name: id,
			Roles: []string{"video_operator"}, Status: storage.OperatorActive, CreatedAt: videoT0, UpdatedAt: videoT0}))
	}
}

// videoSlot n of op starts n×20 minutes after videoT0 and lasts 20.
func videoSlot(op string, n int) storage.VideoSlot {
	start := videoT0.Add(time.Duration(n) * 20 * time.Minute)
	return storage.VideoSlot{ID: fmt.Sprintf("%s-%03d", op, n), OperatorID: op, Start: start, End: start.Add(20 * time.Minute),
		CreatedBy: op, CreatedAt: videoT0}
}

func videoIDs(ss []storage.VideoSlot) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func videoSameIDs(t *testing.T, what string, got []storage.VideoSlot, want ...string) {
	t.Helper()
	g := videoIDs(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("%s: got %v, want %v", what, g, want)
	}
}

func videoTestCreateList(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a", "op-b")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0), videoSlot("op-a", 1), videoSlot("op-b", 0)}))
	got, err := s.GetVideoSlot(ctx, "op-a-001")
	storeMust(t, "GetVideoSlot", err)
	want := videoSlot("op-a", 1)
	if got.OperatorID != "op-a" || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) || got.RequestID != "" ||
		!got.BookedAt.IsZero() || got.CreatedBy != "op-a" || !got.CreatedAt.Equal(videoT0) || got.Start.Location() != time.UTC {
		t.Errorf("GetVideoSlot = %+v, want %+v", got, want)
	}
	_, err = s.GetVideoSlot(ctx, "nope")
	storeWantErr(t, "GetVideoSlot unknown", err, storage.ErrNotFound)
	_, err = s.GetVideoSlot(ctx, "bad\x00id")
	storeWantErr(t, "GetVideoSlot NUL", err, storage.ErrNotFound)

	all, err := s.ListVideoSlots(ctx, storage.VideoSlotFilter{})
	storeMust(t, "ListVideoSlots", err)
	videoSameIDs(t, "all, by start then operator", all, "op-a-000", "op-b-000", "op-a-001")
	mine, err := s.ListVideoSlots(ctx, storage.VideoSlotFilter{OperatorID: "op-a"})
	storeMust(t, "ListVideoSlots op-a", err)
	videoSameIDs(t, "op-a", mine, "op-a-000", "op-a-001")
	later, err := s.ListVideoSlots(ctx, storage.VideoSlotFilter{From: videoT0.Add(time.Minute), To: videoT0.Add(time.Hour)})
	storeMust(t, "ListVideoSlots range", err)
	videoSameIDs(t, "range", later, "op-a-001")
	one, err := s.ListVideoSlots(ctx, storage.VideoSlotFilter{Limit: 1})
	storeMust(t, "ListVideoSlots limit", err)
	videoSameIDs(t, "limit", one, "op-a-000")

	// Unknown operator, empty ID, reversed times: refused, nothing stored.
	storeWantErr(t, "unknown operator", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-x", 5)}), storage.ErrNotFound)
	bad := videoSlot("op-a", 6)
	bad.End = bad.Start
	if err := s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 7), bad}); err == nil {
		t.Error("a slot ending when it starts was stored")
	}
	if got, _ := s.ListVideoSlots(ctx, storage.VideoSlotFilter{OperatorID: "op-a"}); len(got) != 2 {
		t.Errorf("a refused batch left %v behind", videoIDs(got))
	}
}

func videoTestOverlap(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a", "op-b")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0)}))
	// The same publication again, an overlapping slot, an overlap inside one batch.
	again := videoSlot("op-a", 0)
	again.ID = "other-id"
	storeWantErr(t, "same start again", s.CreateVideoSlots(ctx, []storage.VideoSlot{again}), storage.ErrAlreadyExists)
	half := videoSlot("op-a", 0)
	half.ID, half.Start, half.End = "half", half.Start.Add(10*time.Minute), half.End.Add(10*time.Minute)
	storeWantErr(t, "overlapping", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 3), half}), storage.ErrAlreadyExists)
	in := videoSlot("op-a", 5)
	in.ID = "dup"
	storeWantErr(t, "overlap in batch", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 5), in}), storage.ErrAlreadyExists)
	// Back to back is no overlap, and another operator may take the same time.
	storeMust(t, "adjacent and other operator", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 1), videoSlot("op-b", 0)}))
	all, _ := s.ListVideoSlots(ctx, storage.VideoSlotFilter{})
	videoSameIDs(t, "after refusals", all, "op-a-000", "op-b-000", "op-a-001")
}

func videoTestBookRelease(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0), videoSlot("op-a", 1)}))
	_, err := s.VideoBooking(ctx, "req-1")
	storeWantErr(t, "VideoBooking before", err, storage.ErrNotFound)
	at := videoT0.Add(-time.Hour)
	got, changed, err := s.BookVideoSlot(ctx, "op-a-000", "req-1", "", at)
	storeMust(t, "BookVideoSlot", err)
	if !changed || got.RequestID != "req-1" || !got.BookedAt.Equal(at) {
		t.Errorf("BookVideoSlot = %+v, changed %v", got, changed)
	}
	// Posted twice: nothing changes.
	if _, changed, err := s.BookVideoSlot(ctx, "op-a-000", "req-1", "", at.Add(time.Minute)); err != nil || changed {
		t.Errorf("booking again: changed %v, err %v", changed, err)
	}
	_, _, err = s.BookVideoSlot(ctx, "op-a-000", "req-2", "", at)
	storeWantErr(t, "taken slot", err, storage.ErrSlotTaken)
	_, _, err = s.BookVideoSlot(ctx, "op-a-001", "req-1", "", at)
	storeWantErr(t, "second slot for one request", err, storage.ErrAlreadyExists)
	_, _, err = s.BookVideoSlot(ctx, "gone", "req-3", "", at)
	storeWantErr(t, "unknown slot", err, storage.ErrSlotTaken)
	b, err := s.VideoBooking(ctx, "req-1")
	storeMust(t, "VideoBooking", err)
	if b.ID != "op-a-000" || !b.BookedAt.Equal(at) {
		t.Errorf("VideoBooking = %+v", b)
	}
	free, _ := s.ListVideoSlots(ctx, storage.VideoSlotFilter{FreeOnly: true})
	videoSameIDs(t, "free", free, "op-a-001")
	booked, _ := s.ListVideoSlots(ctx, storage.VideoSlotFilter{BookedOnly: true})
	videoSameIDs(t, "booked", booked, "op-a-000")

	_, err = s.ReleaseVideoSlot(ctx, "op-a-000", "req-2")
	storeWantErr(t, "release by another request", err, storage.ErrNotFound)
	rel, err := s.ReleaseVideoSlot(ctx, "op-a-000", "req-1")
	storeMust(t, "ReleaseVideoSlot", err)
	if rel.RequestID != "req-1" {
		t.Errorf("ReleaseVideoSlot returned %+v, want the booking as it was", rel)
	}
	_, err = s.ReleaseVideoSlot(ctx, "op-a-000", "req-1")
	storeWantErr(t, "release twice", err, storage.ErrNotFound)
	if _, err := s.VideoBooking(ctx, "req-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("VideoBooking after release: %v", err)
	}
	// Free again: another request may take it.
	if _, _, err := s.BookVideoSlot(ctx, "op-a-000", "req-2", "", at); err != nil {
		t.Errorf("booking a released slot: %v", err)
	}
}

func videoTestChange(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0), videoSlot("op-a", 1), videoSlot("op-a", 2)}))
	_, _, err := s.BookVideoSlot(ctx, "op-a-000", "req-1", "", videoT0)
	storeMust(t, "book", err)
	_, _, err = s.BookVideoSlot(ctx, "op-a-002", "req-2", "", videoT0)
	storeMust(t, "book other", err)
	// A change to a taken slot keeps the old booking.
	_, _, err = s.BookVideoSlot(ctx, "op-a-002", "req-1", "op-a-000", videoT0)
	storeWantErr(t, "change to a taken slot", err, storage.ErrSlotTaken)
	if b, err := s.VideoBooking(ctx, "req-1"); err != nil || b.ID != "op-a-000" {
		t.Errorf("after a refused change the booking is %+v, %v", b, err)
	}
	// A change naming the wrong current slot is refused.
	_, _, err = s.BookVideoSlot(ctx, "op-a-001", "req-1", "op-a-002", videoT0)
	storeWantErr(t, "change from a slot not held", err, storage.ErrAlreadyExists)
	got, changed, err := s.BookVideoSlot(ctx, "op-a-001", "req-1", "op-a-000", videoT0)
	storeMust(t, "change", err)
	if !changed || got.ID != "op-a-001" || got.RequestID != "req-1" {
		t.Errorf("change = %+v, %v", got, changed)
	}
	free, _ := s.ListVideoSlots(ctx, storage.VideoSlotFilter{FreeOnly: true})
	videoSameIDs(t, "the old slot is free", free, "op-a-000")
	// The same change posted again: no-op.
	if _, changed, err := s.BookVideoSlot(ctx, "op-a-001", "req-1", "op-a-000", videoT0); err != nil || changed {
		t.Errorf("change posted twice: changed %v, err %v", changed, err)
	}
	// A change of a booking cancelled meanwhile.
	_, err = s.ReleaseVideoSlot(ctx, "op-a-001", "req-1")
	storeMust(t, "release", err)
	_, _, err = s.BookVideoSlot(ctx, "op-a-000", "req-1", "op-a-001", videoT0)
	storeWantErr(t, "change of a cancelled booking", err, storage.ErrAlreadyExists)
}

func videoTestDelete(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0), videoSlot("op-a", 1)}))
	_, _, err := s.BookVideoSlot(ctx, "op-a-001", "req-1", "", videoT0)
	storeMust(t, "book", err)
	d, err := s.DeleteVideoSlot(ctx, "op-a-001")
	storeMust(t, "DeleteVideoSlot", err)
	if d.RequestID != "req-1" {
		t.Errorf("DeleteVideoSlot returned %+v, want the booking", d)
	}
	_, err = s.DeleteVideoSlot(ctx, "op-a-001")
	storeWantErr(t, "delete twice", err, storage.ErrNotFound)
	if _, err := s.VideoBooking(ctx, "req-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("booking of a deleted slot: %v", err)
	}
	// The request may book again.
	if _, _, err := s.BookVideoSlot(ctx, "op-a-000", "req-1", "", videoT0); err != nil {
		t.Errorf("booking after the slot was deleted: %v", err)
	}
	// The operator may publish the deleted time again.
	storeMust(t, "republish", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 1)}))
}

// videoTestConcurrentBooking: many requests race for one slot; exactly one
// gets it.
func videoTestConcurrentBooking(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0)}))
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, changed, err := s.BookVideoSlot(ctx, "op-a-000", fmt.Sprintf("req-%d", i), "", videoT0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && changed:
				won++
			case errors.Is(err, storage.ErrSlotTaken):
				taken++
			default:
				t.Errorf("request %d: changed %v, err %v", i, changed, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || taken != n-1 {
		t.Errorf("%d requests won the slot and %d were refused, want 1 and %d", won, taken, n-1)
	}
}

// videoTestConcurrentOneRequest: one request posts for many slots at once
// (several tabs, a double click); it ends up holding exactly one.
func videoTestConcurrentOneRequest(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a")
	const n = 8
	var slots []storage.VideoSlot
	for i := range n {
		slots = append(slots, videoSlot("op-a", i))
	}
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, slots))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.BookVideoSlot(ctx, slots[i].ID, "req-1", "", videoT0)
			if err != nil && !errors.Is(err, storage.ErrAlreadyExists) && !errors.Is(err, storage.ErrSlotTaken) {
				t.Errorf("slot %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	booked, err := s.ListVideoSlots(ctx, storage.VideoSlotFilter{BookedOnly: true})
	storeMust(t, "ListVideoSlots", err)
	if len(booked) != 1 || booked[0].RequestID != "req-1" {
		t.Errorf("one request holds %v", videoIDs(booked))
	}
}

// videoT0 is storeT0 at the microsecond every backend keeps.
var videoT0 = storeT0.Truncate(time.Microsecond)

// videoTestSweep: past slots, booked or free, are deleted oldest first in
// batches; a slot still running or to come stays.
func videoTestSweep(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a", "op-b")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0), videoSlot("op-a", 1),
		videoSlot("op-b", 1), videoSlot("op-a", 2), videoSlot("op-a", 3)}))
	if _, _, err := s.BookVideoSlot(ctx, "op-a-001", "req-1", "", videoT0); err != nil {
		t.Fatal(err)
	}
	// Slot 2 ends at +60 min: at +60 it has not ended before.
	cut := videoT0.Add(60 * time.Minute)
	first, err := s.DeleteVideoSlotsEndedBefore(ctx, cut, 2)
	storeMust(t, "DeleteVideoSlotsEndedBefore", err)
	videoSameIDs(t, "first batch", first, "op-a-000", "op-a-001")
	if first[1].RequestID != "req-1" {
		t.Errorf("the deleted booked slot comes back without its request: %+v", first[1])
	}
	rest, err := s.DeleteVideoSlotsEndedBefore(ctx, cut, 2)
	storeMust(t, "DeleteVideoSlotsEndedBefore", err)
	videoSameIDs(t, "second batch", rest, "op-b-001")
	none, err := s.DeleteVideoSlotsEndedBefore(ctx, cut, 2)
	storeMust(t, "DeleteVideoSlotsEndedBefore", err)
	videoSameIDs(t, "third batch", none)
	left, err := s.ListVideoSlots(ctx, storage.VideoSlotFilter{})
	storeMust(t, "ListVideoSlots", err)
	videoSameIDs(t, "left", left, "op-a-002", "op-a-003")
	if _, err := s.VideoBooking(ctx, "req-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the deleted booking is still found: %v", err)
	}
	if got, err := s.DeleteVideoSlotsEndedBefore(ctx, cut.Add(time.Hour), 0); err != nil || len(got) != 0 {
		t.Errorf("limit 0 deleted %v, %v", videoIDs(got), err)
	}
}

// videoTestConcurrentSweep: nodes sweeping at once delete each slot once
// between them.
func videoTestConcurrentSweep(t *testing.T, s VideoStore) {
	ctx := t.Context()
	videoOperators(t, s, "op-a")
	const n = 30
	var slots []storage.VideoSlot
	for i := range n {
		slots = append(slots, videoSlot("op-a", i))
	}
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, slots))
	cut := videoT0.Add(24 * time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.DeleteVideoSlotsEndedBefore(ctx, cut, 7)
				if err != nil {
					t.Errorf("sweep: %v", err)
					return
				}
				mu.Lock()
				for _, v := range got {
					seen[v.ID]++
				}
				mu.Unlock()
				if len(got) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d slots deleted, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s reported deleted %d times", id, k)
		}
	}
}

// videoTestReleaseWithChange: a request's appointment is freed in the
// transaction of the request's change (storage.VideoRelease): only when
// the change armed it and committed, never an appointment that started or
// one of the operator named to keep; a failure staging its e-mail undoes
// the change too.
func videoTestReleaseWithChange(t *testing.T, s VideoStore) {
	es, ok := s.(storage.Enrolments)
	if !ok {
		t.Skip("the store keeps no enrolment requests")
	}
	ctx := t.Context()
	videoOperators(t, s, "op-a", "op-b")
	storeMust(t, "CreateVideoSlots", s.CreateVideoSlots(ctx, []storage.VideoSlot{videoSlot("op-a", 0), videoSlot("op-a", 3), videoSlot("op-b", 3)}))
	for _, id := range []string{"req-1", "req-2", "req-3"} {
		storeMust(t, "CreateEnrolment", es.CreateEnrolment(ctx, storage.Enrolment{ID: id, Code: "CODE" + id, State: "awaiting_recognition",
			Path: "video", IdentityType: "personal", FiscalNumber: "RSSMRA80A01H501U", Data: []byte("{}"), CreatedAt: videoT0, UpdatedAt: videoT0}))
	}
	book := func(slot, req string) {
		t.Helper()
		if _, _, err := s.BookVideoSlot(ctx, slot, req, "", videoT0); err != nil {
			t.Fatalf("book %s for %s: %v", slot, req, err)
		}
	}
	book("op-a-003", "req-1")
	now := videoT0.Add(30 * time.Minute) // op-a-000 has started, the -003 ones have not
	change := func(req, to string, arm bool, keep string, fnErr, stageErr error) (*storage.VideoRelease, error) {
		rel := &storage.VideoRelease{RequestID: req, After: now, Staged: func(storage.VideoSlot) error { return stageErr }}
		err := es.UpdateEnrolment(storage.WithVideoRelease(ctx, rel), req, func(e storage.Enrolment) (storage.Enrolment, error) {
			e.State = to
			if arm {
				rel.Arm(keep)
			}
			return e, fnErr
		})
		return rel, err
	}
	holder := func(slot string) string {
		t.Helper()
		v, err := s.GetVideoSlot(ctx, slot)
		storeMust(t, "GetVideoSlot", err)
		return v.RequestID
	}
	state := func(req string) string {
		t.Helper()
		e, err := es.GetEnrolment(ctx, req)
		storeMust(t, "GetEnrolment", err)
		return e.State
	}
	// Not armed: a change that keeps the request in recognition.
	if _, err := change("req-1", "awaiting_recognition", false, "", nil, nil); err != nil || holder("op-a-003") != "req-1" {
		t.Fatalf("unarmed change freed the appointment (%v)", err)
	}
	// The change fails: nothing is freed.
	boom := errors.New("refused")
	if _, err := change("req-1", "cancelled", true, "", boom, nil); !errors.Is(err, boom) || holder("op-a-003") != "req-1" {
		t.Fatalf("failed change: %v, holder %q", err, holder("op-a-003"))
	}
	// The e-mail cannot be staged: neither the change nor the release stay.
	if _, err := change("req-1", "cancelled", true, "", nil, boom); !errors.Is(err, boom) || holder("op-a-003") != "req-1" || state("req-1") != "awaiting_recognition" {
		t.Fatalf("staging failure: %v, holder %q, state %s", err, holder("op-a-003"), state("req-1"))
	}
	// Recognised by the appointment's own operator: it stays booked.
	if rel, err := change("req-1", "awaiting_processing", true, "op-a", nil, nil); err != nil || holder("op-a-003") != "req-1" {
		t.Fatalf("kept operator's appointment freed (%v)", err)
	} else if _, ok := rel.Released(); ok {
		t.Error("Released reports an appointment that stayed")
	}
	// Another request whose appointment has started: it stays (the call).
	book("op-a-000", "req-2")
	if _, err := change("req-2", "expired", true, "", nil, nil); err != nil || holder("op-a-000") != "req-2" || state("req-2") != "expired" {
		t.Fatalf("started appointment freed (%v)", err)
	}
	// Cancelled with an appointment to come: freed, reported, bookable.
	book("op-b-003", "req-3")
	rel, err := change("req-3", "cancelled", true, "op-a", nil, nil)
	storeMust(t, "UpdateEnrolment", err)
	if got, ok := rel.Released(); !ok || got.ID != "op-b-003" || got.RequestID != "req-3" {
		t.Errorf("Released = %+v, %v", got, ok)
	}
	if holder("op-b-003") != "" || state("req-3") != "cancelled" {
		t.Errorf("after the change: holder %q, state %s", holder("op-b-003"), state("req-3"))
	}
	if _, err := s.VideoBooking(ctx, "req-3"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the cancelled request still holds a booking: %v", err)
	}
	book("op-b-003", "req-2x")
}
