package videocall

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/storage"
)

// TestReleaseOnLeavingRecognition: when a request leaves recognition
// (withdrawn, expired, recognised another way) the appointment still to
// come is freed with the change, the applicant told with the invitation's
// cancellation; the call's own operator recognising keeps it booked.
func TestReleaseOnLeavingRecognition(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	en := f.svc.Enrolment
	en.Mail, en.Calendar, en.Now = f.mails, f.svc.Calendar, func() time.Time { return f.now }
	if err := f.store.CreateOperator(ctx, storage.Operator{ID: "op-shop", Username: "op-shop", Name: "Sara Shop", Roles: []string{"shop_agent"},
		Status: storage.OperatorActive, CreatedAt: f.now, UpdatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	en.VideoBookings = f.svc
	slots := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 11*h, m20, 1).Slots
	checklist := map[string]bool{"consent": true}
	for _, tc := range []struct {
		name  string
		slot  int
		leave func(id string) error
		freed bool
		why   string
	}{
		{"withdrawn", 0, func(id string) error { return en.Cancel(ctx, id, true) }, true, "hai ritirato la richiesta"},
		{"expired", 1, func(id string) error {
			f.now = f.now.Add(enrolment.RecognitionTimeout) // the request waited since an hour before
			defer func() { f.now = f.now.Add(-enrolment.RecognitionTimeout) }()
			// The appointment is in the past by then: it stays as it was.
			_, err := en.RunTimers(ctx)
			return err
		}, false, ""},
		{"recognised at a shop", 2, func(id string) error {
			_, err := en.Recognise(ctx, id, "op-shop", checklist)
			return err
		}, true, "in un altro modo"},
		{"recognised in the call", 3, func(id string) error {
			_, err := en.Recognise(ctx, id, "op-v1", checklist)
			return err
		}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "req-" + strings.ReplaceAll(tc.name, " ", "-")
			f.request(t, id, "AB12CD34E"+string(rune('A'+tc.slot)), enrolment.PathVideo, enrolment.StateAwaitingRecognition)
			withDocument(t, f, id)
			if _, _, err := f.svc.Book(ctx, id, slots[tc.slot].ID, ""); err != nil {
				t.Fatal(err)
			}
			sent := f.mails.count()
			if err := tc.leave(id); err != nil {
				t.Fatal(err)
			}
			got, err := f.store.GetVideoSlot(ctx, slots[tc.slot].ID)
			if err != nil {
				t.Fatal(err)
			}
			if freed := got.RequestID == ""; freed != tc.freed {
				t.Fatalf("freed %v, want %v (%+v)", freed, tc.freed, got)
			}
			if !tc.freed {
				return
			}
			// Bookable by someone else, and the applicant told.
			other := id + "-other"
			f.request(t, other, "ZZ12CD34E"+string(rune('A'+tc.slot)), enrolment.PathVideo, enrolment.StateAwaitingRecognition)
			if _, _, err := f.svc.Book(ctx, other, slots[tc.slot].ID, ""); err != nil {
				t.Errorf("the freed appointment cannot be booked again: %v", err)
			}
			var told bool
			for _, m := range f.mails.sent[sent:] {
				if strings.Contains(m.Text, tc.why) && len(m.Attachments) == 1 && strings.Contains(string(m.Attachments[0].Data), "METHOD:CANCEL") {
					told = true
				}
			}
			if !told {
				t.Errorf("the applicant was not told (%d e-mails since)", f.mails.count()-sent)
			}
			evs, _ := f.store.ListAudit(ctx, 0, 1000)
			var audited bool
			for _, ev := range evs {
				audited = audited || ev.Action == "video.booking_released" && ev.Target == id && ev.Details["slot"] == slots[tc.slot].ID
			}
			if !audited {
				t.Error("no audit record of the release")
			}
		})
	}
}

// withDocument gives a request the identity document a recognition needs.
func withDocument(t *testing.T, f *fixture, id string) {
	t.Helper()
	if err := f.store.UpdateEnrolment(t.Context(), id, func(e storage.Enrolment) (storage.Enrolment, error) {
		var r map[string]any
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return e, err
		}
		r["document"] = enrolment.Document{Type: "cartaIdentita", Number: "CA00000AA", Issuer: "ComuneRoma", IssueDate: "2022-01-01", ExpiryDate: "2032-01-01"}
		b, err := json.Marshal(r)
		e.Data = b
		return e, err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestStaleBookingReplaced: an appointment that ended without the
// recognition (missed) no longer counts: the applicant books anew and the
// old one is let go.
func TestStaleBookingReplaced(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	first := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 9*h+m20, m20, 1).Slots[0]
	next := f.publish(t, v1, rome(2026, 12, 4, 0, 0), 9*h, 9*h+m20, m20, 1).Slots[0]
	if _, _, err := f.svc.Book(ctx, "req-1", first.ID, ""); err != nil {
		t.Fatal(err)
	}
	f.now = rome(2026, 12, 2, 10, 0) // missed
	if _, err := f.svc.Booking(ctx, "req-1"); !errors.Is(err, ErrNoBooking) {
		t.Fatalf("a missed appointment still counts as the booking: %v", err)
	}
	got, changed, err := f.svc.Book(ctx, "req-1", next.ID, "")
	if err != nil || !changed || got.ID != next.ID {
		t.Fatalf("booking anew after a missed appointment: %+v %v %v", got, changed, err)
	}
	if old, _ := f.store.GetVideoSlot(ctx, first.ID); old.RequestID != "" {
		t.Errorf("the missed appointment still holds the request")
	}
	if b, err := f.svc.Booking(ctx, "req-1"); err != nil || b.ID != next.ID {
		t.Errorf("Booking = %+v, %v", b, err)
	}
}
