// Package videocall is the booking of the webcam recognition
// (enrolment-lifecycle.md §5.4): operators with the video role publish
// their availability in the console as appointments ("slots"), the
// applicant on the video path picks one from a link they get after
// submitting and on the status page, and receives a confirmation e-mail
// with an iCalendar invitation; the operator's agenda lists the
// appointments with a way to start each recognition.
//
// The slots live in the durable store (storage.VideoSlots), which makes
// double booking impossible across nodes. Every publication, booking,
// change and cancellation is audited. A request leaving recognition frees
// its appointment in the same transaction (enrolment.VideoBookings,
// storage.VideoRelease), and Sweep, a scheduler job, deletes appointments
// past their retention.
package videocall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// Rules of the service [DEC].
const (
	// CutOff: an appointment is booked, changed or cancelled by the
	// applicant at least this long before it starts.
	CutOff = 2 * time.Hour
	// MinLength and MaxLength bound one appointment.
	MinLength = 10 * time.Minute
	MaxLength = 2 * time.Hour
	// MaxWeeks bounds a weekly repetition.
	MaxWeeks = 12
	// MaxSlots bounds one publication.
	MaxSlots = 500
	// Horizon: how far ahead availability may be published.
	Horizon = 120 * 24 * time.Hour
	// DefaultRetention: a past appointment is scheduling data, not
	// evidence (the recording and checklist are kept with the request,
	// §5.7), so it goes after a month, like an abandoned draft (§12.4).
	DefaultRetention = 30 * 24 * time.Hour
	sweepBatch       = 500
)

// ServiceHours are when appointments may fall, Europe/Rome, and the
// lengths offered; holidays (national and configured closing days, the
// Calendar's) are always closed. Configured by enrolment.video_days,
// video_hours and video_slot_minutes.
type ServiceHours struct {
	Days        [7]bool       // open days, by time.Weekday
	Open, Close time.Duration // from midnight
	Lengths     []int         // appointment lengths offered, minutes, ascending
}

// DefaultHours is §5.4's default: Monday to Saturday 08:00–20:00, holidays
// excluded; appointments of 15 to 60 minutes.
var DefaultHours = ServiceHours{Days: [7]bool{false, true, true, true, true, true, true},
	Open: 8 * time.Hour, Close: 20 * time.Hour, Lengths: []int{15, 20, 30, 45, 60}}

// Validate reports hours no appointment fits in.
func (h ServiceHours) Validate() error {
	if !slices.Contains(h.Days[:], true) {
		return fmt.Errorf("%w: no open day", ErrInvalid)
	}
	if h.Open < 0 || h.Close > 24*time.Hour || h.Close <= h.Open {
		return fmt.Errorf("%w: opening time must come before closing time", ErrInvalid)
	}
	if len(h.Lengths) == 0 {
		return fmt.Errorf("%w: no appointment length", ErrInvalid)
	}
	for i, n := range h.Lengths {
		l := time.Duration(n) * time.Minute
		switch {
		case l < MinLength || l > MaxLength:
			return fmt.Errorf("%w: appointment length %d minutes: must be %d to %d", ErrInvalid, n, int(MinLength/time.Minute), int(MaxLength/time.Minute))
		case l > h.Close-h.Open:
			return fmt.Errorf("%w: appointment length %d minutes: longer than the service hours", ErrInvalid, n)
		case i > 0 && n <= h.Lengths[i-1]:
			return fmt.Errorf("%w: appointment lengths must be ascending, each once", ErrInvalid)
		}
	}
	return nil
}

// DefaultLength is the length the publish form proposes: 20 minutes when
// offered, else the shortest.
func (h ServiceHours) DefaultLength() int {
	if slices.Contains(h.Lengths, 20) {
		return 20
	}
	return h.Lengths[0]
}

// Errors the pages turn into messages.
var (
	ErrForbidden   = errors.New("videocall: not allowed")
	ErrNoOperator  = errors.New("videocall: not an active video operator")
	ErrInvalid     = errors.New("videocall: invalid availability")
	ErrClosed      = errors.New("videocall: the day is a holiday or outside service hours")
	ErrOverlap     = errors.New("videocall: overlaps an appointment already published")
	ErrTooLate     = errors.New("videocall: past the cut-off")
	ErrTaken       = errors.New("videocall: the appointment is no longer free")
	ErrNotBookable = errors.New("videocall: the request is not waiting for a video call")
	ErrNoBooking   = errors.New("videocall: no appointment booked")
)

// Mailer sends e-mail (the durable queue in production).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Store is what the service keeps: slots and the operators they belong to.
type Store interface {
	storage.VideoSlots
	GetOperator(ctx context.Context, id string) (storage.Operator, error)
	ListOperators(ctx context.Context) ([]storage.Operator, error)
}

// Service books video appointments. Store, Enrolment and Audit are
// required.
type Service struct {
	Store     Store
	Enrolment *enrolment.Service
	Audit     *audit.Logger
	Mail      Mailer
	// Calendar gives the holidays (national and configured closing days),
	// the one of the 48-working-hour clock.
	Calendar *workinghours.Calendar
	Hours    ServiceHours // zero: DefaultHours; else valid (Validate)
	// Retention is how long a past appointment is kept after it ends
	// (enrolment.video_retention); zero: DefaultRetention.
	Retention time.Duration
	// Brand names the provider in e-mails; Organizer is the address the
	// invitation names as its organiser (the mail sender's).
	Brand, Organizer string
	// RoomURL gives the address of the video room of a booking (the
	// invitation's URL and LOCATION).
	RoomURL func(slot storage.VideoSlot, code string) string
	// UIDHost ends every invitation's UID (the IdP's host name).
	UIDHost string
	// BaseURL is the IdP's public address; LinkKey (at least 32 bytes)
	// signs the applicants' booking links.
	BaseURL string
	LinkKey []byte
	Now     func() time.Time
	Log     *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) hours() ServiceHours {
	if s.Hours.Close == 0 {
		return DefaultHours
	}
	return s.Hours
}

// ServiceHours are the service hours in force.
func (s *Service) ServiceHours() ServiceHours { return s.hours() }

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Rome is where appointments are told.
var Rome = workinghours.Rome()

// Actor is a signed-in operator.
type Actor struct {
	ID    string
	Roles []string
}

// Video reports whether a runs video calls.
func (a Actor) Video() bool { return slices.Contains(a.Roles, string(enrolment.RoleVideoOperator)) }

// Admin reports whether a sees and cancels every operator's appointments
// (supervisors).
func (a Actor) Admin() bool { return slices.Contains(a.Roles, string(enrolment.RoleSupervisor)) }

// Availability is what an operator publishes: on Date (Europe/Rome), from
// From to To, appointments of Length, the same each week for Weeks weeks
// (1: that day only). For names the video operator the appointments
// belong to when a supervisor publishes on their behalf ("": the one
// publishing).
type Availability struct {
	Date     time.Time // any instant of the civil day, in Rome
	From, To time.Duration
	Length   time.Duration
	Weeks    int
	For      string
}

// Published says what a publication made and which days it skipped
// (holidays met by the weekly repetition).
type Published struct {
	Slots   []storage.VideoSlot
	Skipped []time.Time
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// closed reports whether the civil day of t (Rome) is a holiday or
// outside the service days.
func (s *Service) closed(t time.Time) bool {
	t = t.In(Rome)
	if !s.hours().Days[t.Weekday()] {
		return true
	}
	y, m, d := t.Date()
	for _, h := range s.Calendar.Holidays(y) {
		hy, hm, hd := h.In(Rome).Date()
		if hy == y && hm == m && hd == d {
			return true
		}
	}
	return false
}

// Publish adds an operator's availability: a video operator publishes
// their own, a supervisor publishes for an active video operator named by
// a.For (both named in the audit record).
func (s *Service) Publish(ctx context.Context, by Actor, a Availability) (Published, error) {
	var out Published
	owner, err := s.owner(ctx, by, a.For)
	if err != nil {
		return out, err
	}
	h := s.hours()
	switch {
	case !slices.Contains(h.Lengths, int(a.Length/time.Minute)) || a.Length%time.Minute != 0:
		return out, fmt.Errorf("%w: the length must be one of %v minutes", ErrInvalid, h.Lengths)
	case a.Weeks < 1 || a.Weeks > MaxWeeks:
		return out, fmt.Errorf("%w: weeks must be between 1 and %d", ErrInvalid, MaxWeeks)
	case a.To <= a.From || a.To-a.From < a.Length:
		return out, fmt.Errorf("%w: the time range holds no appointment", ErrInvalid)
	case a.From < h.Open || a.To > h.Close:
		return out, fmt.Errorf("%w: outside service hours", ErrClosed)
	}
	y, m, d := a.Date.In(Rome).Date()
	now := s.now()
	if s.closed(time.Date(y, m, d, 12, 0, 0, 0, Rome)) {
		return out, ErrClosed
	}
	for w := range a.Weeks {
		day := time.Date(y, m, d+7*w, 12, 0, 0, 0, Rome)
		if s.closed(day) {
			out.Skipped = append(out.Skipped, time.Date(y, m, d+7*w, 0, 0, 0, 0, Rome))
			continue
		}
		for off := a.From; off+a.Length <= a.To; off += a.Length {
			// Wall-clock time of that civil day, whatever the UTC offset.
			start := time.Date(y, m, d+7*w, int(off/time.Hour), int(off%time.Hour/time.Minute), 0, 0, Rome)
			end := start.Add(a.Length)
			if !start.After(now) {
				if w == 0 {
					return Published{}, fmt.Errorf("%w: the appointments must be in the future", ErrInvalid)
				}
				continue
			}
			if start.Sub(now) > Horizon {
				return Published{}, fmt.Errorf("%w: at most %d days ahead", ErrInvalid, int(Horizon/(24*time.Hour)))
			}
			out.Slots = append(out.Slots, storage.VideoSlot{ID: newID(), OperatorID: owner, Start: start.UTC(), End: end.UTC(),
				CreatedBy: by.ID, CreatedAt: now})
		}
	}
	if len(out.Slots) > MaxSlots {
		return Published{}, fmt.Errorf("%w: at most %d appointments at once", ErrInvalid, MaxSlots)
	}
	if len(out.Slots) == 0 {
		return out, ErrClosed
	}
	if err := s.Store.CreateVideoSlots(ctx, out.Slots); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			s.record(ctx, by.ID, "video.publish", owner, audit.Failure, map[string]string{"reason": "overlap",
				"operator": owner, "by": by.ID, "first": out.Slots[0].Start.Format(time.RFC3339)})
			return Published{}, ErrOverlap
		}
		return Published{}, fmt.Errorf("videocall: publish: %w", err)
	}
	s.record(ctx, by.ID, "video.publish", owner, audit.Success, map[string]string{"operator": owner, "by": by.ID,
		"first": out.Slots[0].Start.Format(time.RFC3339), "last": out.Slots[len(out.Slots)-1].Start.Format(time.RFC3339),
		"slots": fmt.Sprint(len(out.Slots)), "length_minutes": fmt.Sprint(int(a.Length / time.Minute)),
		"weeks": fmt.Sprint(a.Weeks), "skipped_days": fmt.Sprint(len(out.Skipped))})
	return out, nil
}

// owner is whose appointments by publishes: their own (a video operator),
// or, for a supervisor, forID's, who must be an active video operator.
func (s *Service) owner(ctx context.Context, by Actor, forID string) (string, error) {
	if forID == "" || forID == by.ID {
		if !by.Video() {
			reason := "not a video operator"
			if by.Admin() {
				reason = "no video operator chosen"
			}
			s.record(ctx, by.ID, "video.publish", "", audit.Denied, map[string]string{"reason": reason})
			return "", ErrForbidden
		}
		return by.ID, nil
	}
	if !by.Admin() {
		s.record(ctx, by.ID, "video.publish", forID, audit.Denied, map[string]string{"reason": "publishing for another operator needs the supervisor role",
			"operator": forID, "by": by.ID})
		return "", ErrForbidden
	}
	op, err := s.Store.GetOperator(ctx, forID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("%w: unknown operator", ErrNoOperator)
	case err != nil:
		return "", fmt.Errorf("videocall: publish: %w", err)
	case op.Status != storage.OperatorActive || !slices.Contains(op.Roles, string(enrolment.RoleVideoOperator)):
		s.record(ctx, by.ID, "video.publish", forID, audit.Denied, map[string]string{"reason": "not an active video operator",
			"operator": forID, "by": by.ID})
		return "", ErrNoOperator
	}
	return op.ID, nil
}

// VideoOperators lists the active operators with the video role, whom a
// supervisor may publish for.
func (s *Service) VideoOperators(ctx context.Context) ([]storage.Operator, error) {
	all, err := s.Store.ListOperators(ctx)
	if err != nil {
		return nil, fmt.Errorf("videocall: operators: %w", err)
	}
	var out []storage.Operator
	for _, op := range all {
		if op.Status == storage.OperatorActive && slices.Contains(op.Roles, string(enrolment.RoleVideoOperator)) {
			out = append(out, op)
		}
	}
	return out, nil
}

// Slots lists appointments from from on: the operator's own, or every
// operator's for an admin.
func (s *Service) Slots(ctx context.Context, by Actor, from time.Time, bookedOnly bool) ([]storage.VideoSlot, error) {
	if !by.Video() && !by.Admin() {
		return nil, ErrForbidden
	}
	f := storage.VideoSlotFilter{From: from, BookedOnly: bookedOnly, Limit: 2000}
	if !by.Admin() {
		f.OperatorID = by.ID
	}
	return s.Store.ListVideoSlots(ctx, f)
}

// CancelSlot withdraws an appointment: the operator's own, or any for an
// admin. A booked applicant is told by e-mail (with the invitation's
// cancellation) and may book another.
func (s *Service) CancelSlot(ctx context.Context, by Actor, id string) (storage.VideoSlot, error) {
	slot, err := s.Store.GetVideoSlot(ctx, id)
	if err != nil {
		return slot, err
	}
	if !by.Admin() && !(by.Video() && slot.OperatorID == by.ID) {
		s.record(ctx, by.ID, "video.slot_cancel", id, audit.Denied, map[string]string{"reason": "not the operator's appointment"})
		return slot, ErrForbidden
	}
	if !slot.Start.After(s.now()) {
		return slot, ErrTooLate
	}
	slot, err = s.Store.DeleteVideoSlot(ctx, id)
	if err != nil {
		return slot, fmt.Errorf("videocall: cancel: %w", err)
	}
	details := map[string]string{"operator": slot.OperatorID, "start": slot.Start.Format(time.RFC3339)}
	if slot.RequestID != "" {
		details["request"] = slot.RequestID
	}
	s.record(ctx, by.ID, "video.slot_cancel", id, audit.Success, details)
	if slot.RequestID != "" {
		s.notify(ctx, slot, kindOperatorCancelled)
	}
	return slot, nil
}

// bookable loads a request on the video path waiting for recognition.
func (s *Service) bookable(ctx context.Context, requestID string) (storage.Enrolment, *enrolment.Request, error) {
	e, req, err := s.Enrolment.Get(ctx, requestID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return e, nil, ErrNotBookable
		}
		return e, nil, err
	}
	if e.Path != enrolment.PathVideo || enrolment.State(e.State) != enrolment.StateAwaitingRecognition {
		return e, req, ErrNotBookable
	}
	return e, req, nil
}

// Deadline is the last instant a request may hold an appointment: when it
// expires waiting for recognition (§6.5 timers).
func Deadline(req *enrolment.Request) time.Time {
	return req.StateSince.Add(enrolment.RecognitionTimeout)
}

// Free lists the appointments requestID may book: free, past the cut-off,
// before the request expires; one per start time (the first operator's),
// soonest first.
func (s *Service) Free(ctx context.Context, requestID string) ([]storage.VideoSlot, error) {
	_, req, err := s.bookable(ctx, requestID)
	if err != nil {
		return nil, err
	}
	slots, err := s.Store.ListVideoSlots(ctx, storage.VideoSlotFilter{From: s.now().Add(CutOff), To: Deadline(req), FreeOnly: true, Limit: 2000})
	if err != nil {
		return nil, err
	}
	var out []storage.VideoSlot
	for _, sl := range slots {
		if n := len(out); n > 0 && out[n-1].Start.Equal(sl.Start) && out[n-1].End.Equal(sl.End) {
			continue
		}
		out = append(out, sl)
	}
	return out, nil
}

// Booking returns the appointment requestID holds for its present wait
// for recognition (ErrNoBooking if none, or a stale one).
func (s *Service) Booking(ctx context.Context, requestID string) (storage.VideoSlot, error) {
	b, err := s.Store.VideoBooking(ctx, requestID)
	if errors.Is(err, storage.ErrNotFound) {
		return b, ErrNoBooking
	} else if err != nil {
		return b, err
	}
	_, req, err := s.Enrolment.Get(ctx, requestID)
	if errors.Is(err, storage.ErrNotFound) {
		return b, ErrNoBooking
	} else if err != nil {
		return b, err
	}
	if s.stale(b, req) {
		return b, ErrNoBooking
	}
	return b, nil
}

// stale reports whether a request's appointment no longer counts: it was
// booked for an earlier wait for recognition (the call took place, then a
// rejection asked for a new one), or it ended without the recognition
// (missed). It stays as the record of that appointment until the
// applicant books anew, which replaces it.
func (s *Service) stale(b storage.VideoSlot, req *enrolment.Request) bool {
	return req == nil || b.Start.Before(req.StateSince) || !b.End.After(s.now())
}

// Book gives slotID to requestID, or moves its appointment there when
// replaces names the one it holds. If slotID was taken meanwhile, a free
// appointment at the same time with another operator is taken instead.
// A form posted twice books once (changed false, no second e-mail).
func (s *Service) Book(ctx context.Context, requestID, slotID, replaces string) (storage.VideoSlot, bool, error) {
	_, req, err := s.bookable(ctx, requestID)
	if err != nil {
		return storage.VideoSlot{}, false, err
	}
	now := s.now()
	want, err := s.Store.GetVideoSlot(ctx, slotID)
	if errors.Is(err, storage.ErrNotFound) {
		return want, false, ErrTaken
	} else if err != nil {
		return want, false, err
	}
	if want.RequestID == requestID {
		return want, false, nil // posted twice
	}
	if want.Start.Before(now.Add(CutOff)) || !want.Start.Before(Deadline(req)) {
		return want, false, ErrTooLate
	}
	var old storage.VideoSlot
	hold := replaces // the appointment the booking replaces in the store
	if replaces != "" {
		if old, err = s.Store.GetVideoSlot(ctx, replaces); err != nil || old.RequestID != requestID {
			return want, false, ErrNoBooking
		}
		if old.Start.Before(now.Add(CutOff)) {
			return want, false, ErrTooLate
		}
	} else if cur, err := s.Store.VideoBooking(ctx, requestID); err == nil && s.stale(cur, req) {
		hold = cur.ID
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return want, false, err
	}
	candidates := []storage.VideoSlot{want}
	same, err := s.Store.ListVideoSlots(ctx, storage.VideoSlotFilter{From: want.Start, To: want.Start.Add(time.Second), FreeOnly: true})
	if err != nil {
		return want, false, err
	}
	for _, o := range same {
		if o.ID != want.ID && o.End.Equal(want.End) {
			candidates = append(candidates, o)
		}
	}
	for _, c := range candidates {
		got, changed, err := s.Store.BookVideoSlot(ctx, c.ID, requestID, hold, now)
		switch {
		case err == nil:
			if !changed {
				return got, false, nil
			}
			action := "video.book"
			details := map[string]string{"slot": got.ID, "operator": got.OperatorID, "start": got.Start.Format(time.RFC3339)}
			if replaces != "" {
				action, details["replaces"] = "video.change", replaces
			} else if hold != "" {
				details["replaces_stale"] = hold
			}
			s.record(ctx, "applicant", action, requestID, audit.Success, details)
			s.notify(ctx, got, kindBooked)
			return got, true, nil
		case errors.Is(err, storage.ErrSlotTaken):
			continue
		case errors.Is(err, storage.ErrAlreadyExists):
			// Another tab booked or changed meanwhile: what holds now wins.
			if cur, cerr := s.Store.VideoBooking(ctx, requestID); cerr == nil && cur.ID == c.ID {
				return cur, false, nil
			}
			s.record(ctx, "applicant", "video.book", requestID, audit.Failure, map[string]string{"slot": slotID, "reason": "already booked"})
			return want, false, ErrNoBooking
		default:
			return want, false, fmt.Errorf("videocall: book: %w", err)
		}
	}
	// Taken by someone else; a concurrent post of this very form may have
	// been the winner.
	if cur, err := s.Store.VideoBooking(ctx, requestID); err == nil && cur.Start.Equal(want.Start) {
		return cur, false, nil
	}
	s.record(ctx, "applicant", "video.book", requestID, audit.Failure, map[string]string{"slot": slotID, "reason": "taken"})
	return want, false, ErrTaken
}

// CancelBooking gives up the appointment requestID holds, up to the
// cut-off.
func (s *Service) CancelBooking(ctx context.Context, requestID, slotID string) (storage.VideoSlot, error) {
	cur, err := s.Store.GetVideoSlot(ctx, slotID)
	if err != nil || cur.RequestID != requestID {
		return cur, ErrNoBooking
	}
	if cur.Start.Before(s.now().Add(CutOff)) {
		return cur, ErrTooLate
	}
	slot, err := s.Store.ReleaseVideoSlot(ctx, slotID, requestID)
	if errors.Is(err, storage.ErrNotFound) {
		return cur, ErrNoBooking
	} else if err != nil {
		return cur, fmt.Errorf("videocall: cancel booking: %w", err)
	}
	s.record(ctx, "applicant", "video.booking_cancel", requestID, audit.Success,
		map[string]string{"slot": slot.ID, "operator": slot.OperatorID, "start": slot.Start.Format(time.RFC3339)})
	s.notify(ctx, slot, kindCancelled)
	return slot, nil
}

// Appointment is a booked slot with what the agenda shows of its request.
type Appointment struct {
	Slot     storage.VideoSlot
	Operator string // the operator's name
	Name     string // the applicant's
	Code     string // the request code, formatted
	// CFSuffix is the last four characters of the fiscal code, which the
	// console's lookup needs to open the recognition; "" when the request
	// no longer waits for it.
	CFSuffix string
	State    string
}

// Agenda lists booked appointments from from on: the operator's own, or
// everyone's for an admin.
func (s *Service) Agenda(ctx context.Context, by Actor, from time.Time) ([]Appointment, error) {
	slots, err := s.Slots(ctx, by, from, true)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	var out []Appointment
	for _, sl := range slots {
		a := Appointment{Slot: sl}
		if _, ok := names[sl.OperatorID]; !ok {
			if op, err := s.Store.GetOperator(ctx, sl.OperatorID); err == nil {
				names[sl.OperatorID] = op.Name
			}
		}
		a.Operator = names[sl.OperatorID]
		e, req, err := s.Enrolment.Get(ctx, sl.RequestID)
		if err == nil {
			a.Code, a.State = enrolment.FormatCode(e.Code), e.State
			if req != nil && req.Applicant != nil {
				a.Name = req.Applicant.Name + " " + req.Applicant.FamilyName
				if enrolment.State(e.State) == enrolment.StateAwaitingRecognition && len(req.Applicant.FiscalNumber) >= 4 {
					a.CFSuffix = req.Applicant.FiscalNumber[len(req.Applicant.FiscalNumber)-4:]
				}
			}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Sweep deletes the appointments, booked or free, that ended more than
// the retention period before now, in batches, and audits the count. It
// runs as a scheduler job (one node at a time under the lease); should two
// nodes sweep at once, the store deletes each appointment once.
func (s *Service) Sweep(ctx context.Context, now time.Time) (int, error) {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	before := now.Add(-keep)
	deleted, booked := 0, 0
	var err error
	for {
		var batch []storage.VideoSlot
		batch, err = s.Store.DeleteVideoSlotsEndedBefore(ctx, before, sweepBatch)
		deleted += len(batch)
		for _, sl := range batch {
			if sl.RequestID != "" {
				booked++
			}
		}
		if err != nil || len(batch) < sweepBatch {
			break
		}
	}
	if deleted > 0 {
		if aerr := s.Audit.Record(ctx, storage.AuditEvent{Actor: "system:scheduler", Action: "video.retention", Outcome: audit.Success,
			Details: map[string]string{"deleted": fmt.Sprint(deleted), "booked": fmt.Sprint(booked),
				"ended_before": before.UTC().Format(time.RFC3339), "retention_days": fmt.Sprint(int(keep / (24 * time.Hour)))}}); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	if err != nil {
		return deleted, fmt.Errorf("videocall: retention: %w", err)
	}
	return deleted, nil
}

func (s *Service) record(ctx context.Context, actor, action, target, outcome string, details map[string]string) {
	if err := s.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details}); err != nil {
		s.log().ErrorContext(ctx, "videocall: audit record", "action", action, "err", err)
	}
}
