package storage

import (
	"context"
	"sync"
	"time"
)

// VideoRelease frees the video appointment an enrolment request holds in
// the same transaction as the change that takes the request out of the
// state appointments are booked in (cancelled, expired, recognised): the
// slot can be booked again exactly when the change commits, and never
// while it does not.
//
// Like Outbox, the caller attaches it to the context of the update
// (WithVideoRelease); the change's function calls Arm when the request
// leaves that state; the first write transaction of a VideoSlots store
// run with that context then frees the appointment, if it starts after
// After (one that started is the record of the call and stays) and does
// not belong to the operator Arm names (the recognition was that call).
// Staged runs inside the transaction with the freed appointment, before
// the outbox is written, so the change's e-mail to the applicant commits
// with it; its error rolls the whole change back.
type VideoRelease struct {
	RequestID string
	After     time.Time
	Staged    func(VideoSlot) error

	mu       sync.Mutex
	armed    bool
	keep     string
	taken    bool
	released *VideoSlot
}

type videoReleaseKey struct{}

// WithVideoRelease returns ctx carrying r for the next write transaction.
func WithVideoRelease(ctx context.Context, r *VideoRelease) context.Context {
	return context.WithValue(ctx, videoReleaseKey{}, r)
}

// Arm asks for the release; keepOperator, when not empty, is an operator
// whose appointment stays booked.
func (r *VideoRelease) Arm(keepOperator string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed, r.keep = true, keepOperator
}

// Released is the appointment the committed change freed, if any.
func (r *VideoRelease) Released() (VideoSlot, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released == nil || r.taken {
		return VideoSlot{}, false
	}
	return *r.released, true
}

// TakeVideoRelease claims ctx's release for one write transaction (false:
// none, or another transaction has it).
func TakeVideoRelease(ctx context.Context) (*VideoRelease, bool) {
	r, _ := ctx.Value(videoReleaseKey{}).(*VideoRelease)
	if r == nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.taken {
		return nil, false
	}
	r.taken = true
	return r, true
}

// Rewind forgets an earlier run of the transaction's function.
func (r *VideoRelease) Rewind() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed, r.keep, r.released = false, "", nil
}

// Due reports whether the run armed the release, and whose appointment
// stays.
func (r *VideoRelease) Due() (keepOperator string, armed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keep, r.armed
}

// Freed records the appointment the transaction freed and stages what
// announces it.
func (r *VideoRelease) Freed(slot VideoSlot) error {
	r.mu.Lock()
	r.released = &slot
	r.mu.Unlock()
	if r.Staged != nil {
		return r.Staged(slot)
	}
	return nil
}

// Done records the transaction's outcome: after a failure nothing was
// freed.
func (r *VideoRelease) Done(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.taken = false
	if err != nil {
		r.released = nil
	}
}
