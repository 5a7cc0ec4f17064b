package evidence

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RetentionClass names a retention period of spec §12.4.
type RetentionClass string

// The classes of §12.4. The comment says from when each period runs: the
// time the caller passes to RetentionUntil.
const (
	ClassAdhesion     RetentionClass = "adhesion"     // 20 years from the identity's revocation or expiry (DPCM art. 7 c.8)
	ClassVideo        RetentionClass = "video"        // 20 years from revocation or expiry (REG art. 8)
	ClassTransactions RetentionClass = "transactions" // 24 months from the record
	ClassSecurity     RetentionClass = "security"     // 24 months from the event [DEC]
	ClassRejected     RetentionClass = "rejected"     // 24 months from closing a request that produced no identity [DEC]
	ClassDrafts       RetentionClass = "drafts"       // 30 days from a draft's expiry or cancellation [DEC]
	ClassTickets      RetentionClass = "tickets"      // 24 months from closing [DEC]
	ClassComplaints   RetentionClass = "complaints"   // 10 years from closing [DEC]
)

// period is a class's length as calendar years, months, days.
type period struct{ years, months, days int }

var periods = map[RetentionClass]period{
	ClassAdhesion:     {years: 20},
	ClassVideo:        {years: 20},
	ClassTransactions: {months: 24},
	ClassSecurity:     {months: 24},
	ClassRejected:     {months: 24},
	ClassDrafts:       {days: 30},
	ClassTickets:      {months: 24},
	ClassComplaints:   {years: 10},
}

// Valid reports whether c is one of the classes of §12.4.
func (c RetentionClass) Valid() bool { _, ok := periods[c]; return ok }

// RetentionUntil is when an item of class may be deleted, given the time
// its period starts from (see the class constants): for adhesion and video
// evidence, the identity's revocation or expiry. A zero from (the identity
// is still alive) or an unknown class gives the zero time, which Sweep
// reads as "keep": an error in the data never deletes evidence early.
// Calendar arithmetic in from's location; 29 February rolls to 1 March.
func RetentionUntil(class RetentionClass, from time.Time) time.Time {
	p, ok := periods[class]
	if !ok || from.IsZero() {
		return time.Time{}
	}
	return from.AddDate(p.years, p.months, p.days)
}

// ClassForKind is the class Put gives a new item: recordings are video,
// everything else adhesion evidence (§5.7; police reports, death evidence
// and complaint letters document the identity's life cycle). When a
// request is closed without producing an identity, the caller moves its
// items to ClassRejected.
func ClassForKind(kind string) RetentionClass {
	if kind == KindVideoRecording {
		return ClassVideo
	}
	return ClassAdhesion
}

// Due reports whether the item's retention has ended at now and no legal
// hold keeps it.
func (it Item) Due(now time.Time) bool {
	return !it.LegalHold && !it.RetainUntil.IsZero() && !now.Before(it.RetainUntil)
}

// Sweep deletes the blobs of the items that are due at now (the daily
// retention job, §12.4) and returns the deleted ones, for the caller to
// audit each deletion and drop its rows. Items under legal hold or not yet
// due are left alone. A failed deletion does not stop the others: the
// error joins every failure, and the returned items are exactly those
// whose blob is gone.
func (s *Store) Sweep(ctx context.Context, items []Item, now time.Time) ([]Item, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var deleted []Item
	var errs []error
	for _, it := range items {
		if !it.Due(now) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("evidence: sweep interrupted: %w", err))
			break
		}
		if err := s.Delete(ctx, it); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, it)
	}
	return deleted, errors.Join(errs...)
}
