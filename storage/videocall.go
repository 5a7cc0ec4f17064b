package storage

import (
	"context"
	"errors"
	"time"
)

// VideoSlot is one appointment an operator with the video role offers for
// the webcam recognition (enrolment-lifecycle.md §5.4): free while
// RequestID is empty, booked by that enrolment request otherwise.
type VideoSlot struct {
	ID         string
	OperatorID string
	Start, End time.Time // UTC
	// RequestID is the enrolment request holding the slot; "" when free.
	RequestID string
	BookedAt  time.Time // zero when free
	CreatedBy string    // operator who published it (an admin may publish for another)
	CreatedAt time.Time
}

// VideoSlotFilter selects slots; empty fields select everything. Lists
// are ordered by start, then operator.
type VideoSlotFilter struct {
	OperatorID string
	From, To   time.Time // slots starting in [From, To)
	FreeOnly   bool
	BookedOnly bool
	Limit      int // 0: no limit
}

// ErrSlotTaken: the slot is booked by another request (or no longer
// exists when booked); the applicant must pick another.
var ErrSlotTaken = errors.New("storage: video slot taken")

// VideoSlots stores the operators' video appointments. Double booking is
// impossible across nodes: a slot holds at most one request and a request
// at most one slot, both enforced by the database.
type VideoSlots interface {
	// CreateVideoSlots stores every slot or none: ErrAlreadyExists when one
	// overlaps a slot of the same operator (stored or in the batch).
	CreateVideoSlots(ctx context.Context, slots []VideoSlot) error
	GetVideoSlot(ctx context.Context, id string) (VideoSlot, error)
	ListVideoSlots(ctx context.Context, f VideoSlotFilter) ([]VideoSlot, error)
	// VideoBooking returns the slot requestID holds; ErrNotFound when none.
	VideoBooking(ctx context.Context, requestID string) (VideoSlot, error)
	// BookVideoSlot makes requestID hold slotID, atomically. replaces is
	// the slot the request holds now ("" for none): it is released in the
	// same transaction. If the request holds slotID already nothing
	// changes and changed is false (a form posted twice). ErrSlotTaken
	// when slotID is held by another request or gone; ErrAlreadyExists
	// when the request holds a slot other than replaces.
	BookVideoSlot(ctx context.Context, slotID, requestID, replaces string, at time.Time) (slot VideoSlot, changed bool, err error)
	// ReleaseVideoSlot frees slotID if requestID holds it; ErrNotFound
	// otherwise. It returns the slot as it was booked.
	ReleaseVideoSlot(ctx context.Context, slotID, requestID string) (VideoSlot, error)
	// DeleteVideoSlot removes a slot, booked or not, and returns it as it
	// was (so a booked applicant can be told).
	DeleteVideoSlot(ctx context.Context, id string) (VideoSlot, error)
	// DeleteVideoSlotsEndedBefore deletes up to limit slots, booked or
	// free, that ended before t, oldest first, and returns them. Each slot
	// is deleted once: two nodes sweeping at once share the rows.
	DeleteVideoSlotsEndedBefore(ctx context.Context, t time.Time, limit int) ([]VideoSlot, error)
}
