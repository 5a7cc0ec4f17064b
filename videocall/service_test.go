package videocall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// mailbox keeps what the service sends (the queue and the gateways are
// tested in notify/).
type mailbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func (m *mailbox) last(t *testing.T) mail.Message {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) == 0 {
		t.Fatal("no e-mail sent")
	}
	return m.sent[len(m.sent)-1]
}

type fixture struct {
	svc   *Service
	store *sqlstore.Store
	mails *mailbox
	now   time.Time
}

func rome(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, Rome)
}

// newFixture: SQLite, two video operators and a supervisor, the clock on
// Tuesday 1 December 2026 at 10:00 in Rome.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{store: st, mails: &mailbox{}, now: rome(2026, 12, 1, 10, 0)}
	for _, op := range []struct{ id, name, role string }{{"op-v1", "Valeria Video", "video_operator"},
		{"op-v2", "Vito Video", "video_operator"}, {"op-sup", "Silvia Super", "supervisor"}} {
		if err := st.CreateOperator(t.Context(), storage.Operator{ID: op.id, Username: op.id, Name: op.name, Roles: []string{op.role},
			Status: storage.OperatorActive, CreatedAt: f.now, UpdatedAt: f.now}); err != nil {
			t.Fatal(err)
		}
	}
	al := &audit.Logger{Store: st, Now: func() time.Time { return f.now }}
	f.svc = &Service{Store: st, Enrolment: &enrolment.Service{Store: st, Audit: al}, Audit: al, Mail: f.mails,
		Calendar: &workinghours.Calendar{}, Brand: "IdP Esempio", UIDHost: "idp.example.it", BaseURL: "https://idp.example.it",
		LinkKey: bytes.Repeat([]byte{7}, 32), Now: func() time.Time { return f.now }}
	return f
}

var (
	v1  = Actor{ID: "op-v1", Roles: []string{"video_operator"}}
	v2  = Actor{ID: "op-v2", Roles: []string{"video_operator"}}
	sup = Actor{ID: "op-sup", Roles: []string{"supervisor"}}
)

// request stores a request on path in state, as the enrolment flow leaves it.
func (f *fixture) request(t *testing.T, id, code, path string, state enrolment.State) {
	t.Helper()
	r := enrolment.Request{StateSince: f.now.Add(-time.Hour), Applicant: &enrolment.Applicant{Name: "Giulia", FamilyName: "Verdi",
		FiscalNumber: "VRDGLI90A41H501K", Email: "giulia.verdi@example.it", MobilePhone: "+393331112223"}}
	data, _ := json.Marshal(r)
	if err := f.store.CreateEnrolment(t.Context(), storage.Enrolment{ID: id, Code: code, State: string(state), Path: path,
		IdentityType: "personal", FiscalNumber: r.Applicant.FiscalNumber, Data: data, CreatedAt: f.now, UpdatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) publish(t *testing.T, by Actor, day time.Time, from, to, length time.Duration, weeks int) Published {
	t.Helper()
	p, err := f.svc.Publish(t.Context(), by, Availability{Date: day, From: from, To: to, Length: length, Weeks: weeks})
	if err != nil {
		t.Fatalf("Publish %s: %v", day.Format("2006-01-02"), err)
	}
	return p
}

const h, m20 = time.Hour, 20 * time.Minute

func TestPublish(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// Three Tuesdays: 8 December (Immacolata) is skipped.
	p := f.publish(t, v1, rome(2026, 12, 1, 0, 0), 14*h, 15*h, m20, 3)
	if len(p.Slots) != 6 || len(p.Skipped) != 1 || p.Skipped[0].Format("2006-01-02") != "2026-12-08" {
		t.Fatalf("published %d, skipped %v", len(p.Slots), p.Skipped)
	}
	if got := When(p.Slots[0].Start) + " " + When(p.Slots[5].End); got != "01/12/2026 14:00 15/12/2026 15:00" {
		t.Errorf("first and last: %s", got)
	}
	// Wall-clock hours across the change to summer time (Easter Monday
	// 2027 is 29 March, so Tuesday 30th).
	dst := f.publish(t, v1, rome(2027, 3, 30, 0, 0), 9*h, 9*h+m20, m20, 1)
	if s := dst.Slots[0].Start; s.Format(time.RFC3339) != "2027-03-30T07:00:00Z" {
		t.Errorf("09:00 in Rome on 30/03/2027 stored as %s", s.Format(time.RFC3339))
	}

	for name, tc := range map[string]struct {
		by   Actor
		a    Availability
		want error
	}{
		"holiday":       {v1, Availability{Date: rome(2026, 12, 8, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrClosed},
		"Christmas":     {v1, Availability{Date: rome(2026, 12, 25, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrClosed},
		"Sunday":        {v1, Availability{Date: rome(2026, 12, 6, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrClosed},
		"before 08:00":  {v1, Availability{Date: rome(2026, 12, 2, 0, 0), From: 7 * h, To: 9 * h, Length: m20, Weeks: 1}, ErrClosed},
		"after 20:00":   {v1, Availability{Date: rome(2026, 12, 2, 0, 0), From: 19 * h, To: 21 * h, Length: m20, Weeks: 1}, ErrClosed},
		"past":          {v1, Availability{Date: rome(2026, 12, 1, 0, 0), From: 8 * h, To: 9 * h, Length: m20, Weeks: 1}, ErrInvalid},
		"no room":       {v1, Availability{Date: rome(2026, 12, 2, 0, 0), From: 9 * h, To: 9*h + 10*time.Minute, Length: m20, Weeks: 1}, ErrInvalid},
		"reversed":      {v1, Availability{Date: rome(2026, 12, 2, 0, 0), From: 10 * h, To: 9 * h, Length: m20, Weeks: 1}, ErrInvalid},
		"too short":     {v1, Availability{Date: rome(2026, 12, 2, 0, 0), From: 9 * h, To: 10 * h, Length: 5 * time.Minute, Weeks: 1}, ErrInvalid},
		"13 weeks":      {v1, Availability{Date: rome(2026, 12, 2, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 13}, ErrInvalid},
		"too far":       {v1, Availability{Date: rome(2027, 6, 1, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrInvalid},
		"overlap":       {v1, Availability{Date: rome(2026, 12, 1, 0, 0), From: 14*h + 10*time.Minute, To: 15 * h, Length: m20, Weeks: 1}, ErrOverlap},
		"supervisor":    {sup, Availability{Date: rome(2026, 12, 2, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrForbidden},
		"no video role": {Actor{ID: "x", Roles: []string{"verifier"}}, Availability{Date: rome(2026, 12, 2, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrForbidden},
	} {
		if _, err := f.svc.Publish(ctx, tc.by, tc.a); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// Another operator may publish the same hours.
	f.publish(t, v2, rome(2026, 12, 1, 0, 0), 14*h, 15*h, m20, 1)
	mine, _ := f.svc.Slots(ctx, v1, f.now, false)
	all, _ := f.svc.Slots(ctx, sup, f.now, false)
	if len(mine) != 7 || len(all) != 10 {
		t.Errorf("v1 sees %d, the supervisor %d; want 7 and 10", len(mine), len(all))
	}
	if !auditHas(t, f, "video.publish", "success") || !auditHas(t, f, "video.publish", "denied") {
		t.Error("publications are not audited")
	}
}

func auditHas(t *testing.T, f *fixture, action, outcome string) bool {
	t.Helper()
	evs, err := f.store.ListAudit(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == outcome {
			return true
		}
	}
	return false
}

func TestBookChangeCancel(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	f.request(t, "req-2", "GH56JK78MN", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	f.request(t, "req-shop", "PQ12RS34TV", enrolment.PathShop, enrolment.StateAwaitingRecognition)
	f.request(t, "req-done", "WX56YZ78AB", enrolment.PathVideo, enrolment.StateAwaitingProcessing)
	a := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 10*h, m20, 1).Slots
	b := f.publish(t, v2, rome(2026, 12, 2, 0, 0), 9*h, 9*h+m20, m20, 1).Slots
	// Two operators at 09:00: the applicant sees the time once.
	free, err := f.svc.Free(ctx, "req-1")
	if err != nil || len(free) != 3 {
		t.Fatalf("Free = %d slots, %v; want 3", len(free), err)
	}
	for _, id := range []string{"req-shop", "req-done", "unknown"} {
		if _, err := f.svc.Free(ctx, id); !errors.Is(err, ErrNotBookable) {
			t.Errorf("Free(%s): %v", id, err)
		}
		if _, _, err := f.svc.Book(ctx, id, a[1].ID, ""); !errors.Is(err, ErrNotBookable) {
			t.Errorf("Book(%s): %v", id, err)
		}
	}

	got, changed, err := f.svc.Book(ctx, "req-1", a[0].ID, "")
	if err != nil || !changed || got.ID != a[0].ID {
		t.Fatalf("Book: %+v %v %v", got, changed, err)
	}
	msg := f.mails.last(t)
	if msg.To != "giulia.verdi@example.it" || !strings.Contains(msg.Text, "02/12/2026 09:00") || !strings.Contains(msg.Text, "AB12C-D34EF") ||
		!strings.Contains(msg.Text, "https://idp.example.it/enrol/video?t=") || len(msg.Attachments) != 1 {
		t.Errorf("confirmation:\n%s", msg.Text)
	}
	ics := string(msg.Attachments[0].Data)
	for _, want := range []string{"METHOD:REQUEST\r\n", "UID:videocall-req-1@idp.example.it\r\n", "DTSTART:20261202T080000Z\r\n",
		"DTEND:20261202T082000Z\r\n", "STATUS:CONFIRMED\r\n", "ATTENDEE;CN=\"Giulia Verdi\";", "ORGANIZER;CN=\"IdP Esempio\":mailto:noreply@idp.example.it\r\n"} {
		if !strings.Contains(ics, want) {
			t.Errorf("invitation lacks %q:\n%s", want, ics)
		}
	}
	if msg.Attachments[0].ContentType != "text/calendar; charset=utf-8; method=REQUEST" {
		t.Errorf("content type %q", msg.Attachments[0].ContentType)
	}
	// Posted twice: one booking, one e-mail.
	n := f.mails.count()
	if _, changed, err := f.svc.Book(ctx, "req-1", a[0].ID, ""); err != nil || changed || f.mails.count() != n {
		t.Errorf("posted twice: changed %v, err %v, %d e-mails", changed, err, f.mails.count()-n)
	}
	// A second slot without saying it replaces the first: refused.
	if _, _, err := f.svc.Book(ctx, "req-1", a[1].ID, ""); !errors.Is(err, ErrNoBooking) {
		t.Errorf("second booking: %v", err)
	}
	// The other applicant asks for 09:00 with v1: taken, so v2's 09:00.
	got, _, err = f.svc.Book(ctx, "req-2", a[0].ID, "")
	if err != nil || got.ID != b[0].ID {
		t.Errorf("same time, other operator: %+v %v", got, err)
	}
	// Now 09:00 is full.
	f.request(t, "req-3", "CD12EF34GH", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	if _, _, err := f.svc.Book(ctx, "req-3", a[0].ID, ""); !errors.Is(err, ErrTaken) {
		t.Errorf("full time: %v", err)
	}
	// Change 09:00 → 09:40.
	got, changed, err = f.svc.Book(ctx, "req-1", a[2].ID, a[0].ID)
	if err != nil || !changed || got.ID != a[2].ID {
		t.Fatalf("change: %+v %v %v", got, changed, err)
	}
	if msg := f.mails.last(t); !strings.Contains(msg.Text, "09:40") || !strings.Contains(string(msg.Attachments[0].Data), "UID:videocall-req-1@") {
		t.Errorf("change e-mail:\n%s", msg.Text)
	}
	if bk, _ := f.svc.Booking(ctx, "req-1"); bk.ID != a[2].ID {
		t.Errorf("booking after the change: %+v", bk)
	}
	// Cancel.
	if _, err := f.svc.CancelBooking(ctx, "req-1", a[0].ID); !errors.Is(err, ErrNoBooking) {
		t.Errorf("cancel a slot not held: %v", err)
	}
	if _, err := f.svc.CancelBooking(ctx, "req-1", a[2].ID); err != nil {
		t.Fatal(err)
	}
	cancel := f.mails.last(t)
	if !strings.Contains(cancel.Subject, "annullato") || !strings.Contains(string(cancel.Attachments[0].Data), "METHOD:CANCEL\r\n") ||
		!strings.Contains(string(cancel.Attachments[0].Data), "STATUS:CANCELLED\r\n") {
		t.Errorf("cancellation: %s\n%s", cancel.Subject, cancel.Attachments[0].Data)
	}
	if _, err := f.svc.Booking(ctx, "req-1"); !errors.Is(err, ErrNoBooking) {
		t.Errorf("booking after cancelling: %v", err)
	}
	// Cut-off: two hours before.
	if _, _, err := f.svc.Book(ctx, "req-1", a[1].ID, ""); err != nil {
		t.Fatal(err)
	}
	f.now = rome(2026, 12, 2, 7, 30)
	if _, err := f.svc.CancelBooking(ctx, "req-1", a[1].ID); !errors.Is(err, ErrTooLate) {
		t.Errorf("cancel 1h50 before: %v", err)
	}
	if _, _, err := f.svc.Book(ctx, "req-1", a[2].ID, a[1].ID); !errors.Is(err, ErrTooLate) {
		t.Errorf("change 1h50 before: %v", err)
	}
	for _, action := range []string{"video.book", "video.change", "video.booking_cancel"} {
		if !auditHas(t, f, action, "success") {
			t.Errorf("%s not audited", action)
		}
	}
}

func TestOperatorCancels(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	s := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 10*h, m20, 1).Slots
	if _, _, err := f.svc.Book(ctx, "req-1", s[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CancelSlot(ctx, v2, s[0].ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("another operator cancels: %v", err)
	}
	if _, err := f.svc.CancelSlot(ctx, v1, s[1].ID); err != nil {
		t.Errorf("own free slot: %v", err)
	}
	n := f.mails.count()
	if _, err := f.svc.CancelSlot(ctx, sup, s[0].ID); err != nil {
		t.Fatalf("supervisor cancels: %v", err)
	}
	if f.mails.count() != n+1 || !strings.Contains(f.mails.last(t).Text, "l'operatore ha dovuto annullare") {
		t.Errorf("the applicant was not told: %d", f.mails.count()-n)
	}
	if _, err := f.svc.Booking(ctx, "req-1"); !errors.Is(err, ErrNoBooking) {
		t.Errorf("booking after the operator cancelled: %v", err)
	}
	if !auditHas(t, f, "video.slot_cancel", "success") || !auditHas(t, f, "video.slot_cancel", "denied") {
		t.Error("cancellations not audited")
	}
}

func TestAgenda(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	s := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 10*h, m20, 1).Slots
	if _, _, err := f.svc.Book(ctx, "req-1", s[1].ID, ""); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.Agenda(ctx, v1, f.now)
	if err != nil || len(list) != 1 {
		t.Fatalf("Agenda: %v %v", list, err)
	}
	if a := list[0]; a.Name != "Giulia Verdi" || a.Code != "AB12C-D34EF" || a.CFSuffix != "501K" || a.Operator != "Valeria Video" {
		t.Errorf("appointment %+v", a)
	}
	if other, _ := f.svc.Agenda(ctx, v2, f.now); len(other) != 0 {
		t.Errorf("v2 sees v1's appointments: %+v", other)
	}
	if all, _ := f.svc.Agenda(ctx, sup, f.now); len(all) != 1 {
		t.Errorf("the supervisor sees %d", len(all))
	}
	if _, err := f.svc.Agenda(ctx, Actor{ID: "x", Roles: []string{"care_agent"}}, f.now); !errors.Is(err, ErrForbidden) {
		t.Errorf("care agent: %v", err)
	}
}

// TestConcurrentBooking: applicants on two nodes (two services over one
// database) race for the only 09:00; one wins, one is told it is taken.
func TestConcurrentBooking(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 9*h+m20, m20, 1).Slots
	const n = 8
	for i := range n {
		f.request(t, "req-"+string(rune('a'+i)), "AB12CD34E"+string(rune('A'+i)), enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	}
	other := *f.svc
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := f.svc
			if i%2 == 1 {
				svc = &other
			}
			_, changed, err := svc.Book(ctx, "req-"+string(rune('a'+i)), s[0].ID, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && changed:
				won++
			case errors.Is(err, ErrTaken):
				taken++
			default:
				t.Errorf("request %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || taken != n-1 || f.mails.count() != 1 {
		t.Errorf("won %d, taken %d, e-mails %d", won, taken, f.mails.count())
	}
}

func TestLink(t *testing.T) {
	f := newFixture(t)
	link, err := f.svc.Link("req-1")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(link, "https://idp.example.it/enrol/video?t=")
	if id, err := f.svc.request(tok); err != nil || id != "req-1" {
		t.Fatalf("request(%q) = %q, %v", tok, id, err)
	}
	for name, bad := range map[string]string{"altered": "cmVxLTI" + tok[7:], "truncated": tok[:len(tok)-3], "empty": "", "dots": "a.b.c"} {
		if _, err := f.svc.request(bad); !errors.Is(err, ErrBadLink) {
			t.Errorf("%s: %v", name, err)
		}
	}
	f.now = f.now.Add(LinkLifetime + time.Minute)
	if _, err := f.svc.request(tok); !errors.Is(err, ErrBadLink) {
		t.Errorf("expired: %v", err)
	}
}

func TestICS(t *testing.T) {
	e := Event{Method: "REQUEST", UID: "videocall-x@idp.example.it", Sequence: 7, Stamp: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Start: rome(2026, 12, 2, 9, 0), End: rome(2026, 12, 2, 9, 20),
		Summary:     "SPID: videochiamata; di riconoscimento, con l'operatore",
		Description: "Richiesta AB12C-D34EF\nhttps://idp.example.it/enrol/video?t=" + strings.Repeat("x", 120),
		URL:         "https://video.example.it/room/AB12CD34EF", Organizer: "noreply@idp.example.it", OrgName: "IdP \"Esempio\"",
		Attendee: "a@example.it", AttName: "Niccolò Àlvarez Ünal Ça"}
	out := string(e.ICS())
	if !strings.HasSuffix(out, "END:VCALENDAR\r\n") || strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
		t.Fatalf("line ends:\n%q", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
	}
	unfolded := strings.ReplaceAll(out, "\r\n ", "")
	for _, want := range []string{"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:", "METHOD:REQUEST\r\n", "BEGIN:VEVENT\r\n", "SEQUENCE:7\r\n",
		"DTSTAMP:20261201T090000Z\r\n", "DTSTART:20261202T080000Z\r\n", "DTEND:20261202T082000Z\r\n",
		`SUMMARY:SPID: videochiamata\; di riconoscimento\, con l'operatore` + "\r\n",
		`DESCRIPTION:Richiesta AB12C-D34EF\nhttps://idp.example.it/enrol/video?t=xxx`,
		"URL:https://video.example.it/room/AB12CD34EF\r\n", `ORGANIZER;CN="IdP Esempio":mailto:noreply@idp.example.it`,
		`ATTENDEE;CN="Niccolò Àlvarez Ünal Ça";ROLE=REQ-PARTICIPANT`, "END:VEVENT\r\nEND:VCALENDAR\r\n"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("lacks %q:\n%s", want, unfolded)
		}
	}
	// Folding never splits a character.
	long := fold("DESCRIPTION:" + strings.Repeat("è", 100))
	for _, l := range strings.Split(long, "\r\n") {
		if !utf8Valid(l) {
			t.Errorf("fold split a character: %q", l)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestPublishOnBehalf: a supervisor publishes for an active video
// operator, the audit record naming both; nobody else publishes for
// another, and nobody publishes for someone who is not a video operator.
func TestPublishOnBehalf(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	day := rome(2026, 12, 2, 0, 0)
	p, err := f.svc.Publish(ctx, sup, Availability{Date: day, From: 9 * h, To: 10 * h, Length: m20, Weeks: 1, For: "op-v2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Slots) != 3 || p.Slots[0].OperatorID != "op-v2" || p.Slots[0].CreatedBy != "op-sup" {
		t.Fatalf("published %+v", p.Slots)
	}
	evs, err := f.store.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if ev.Action == "video.publish" && ev.Outcome == audit.Success {
			found = ev.Actor == "op-sup" && ev.Target == "op-v2" && ev.Details["operator"] == "op-v2" && ev.Details["by"] == "op-sup"
		}
	}
	if !found {
		t.Errorf("no audit record naming the supervisor and the operator: %+v", evs)
	}
	for name, tc := range map[string]struct {
		by    Actor
		forID string
		want  error
	}{
		"supervisor, nobody chosen":   {sup, "", ErrForbidden},
		"supervisor for a supervisor": {sup, "op-sup", ErrForbidden},
		"operator for another":        {v1, "op-v2", ErrForbidden},
		"supervisor for a stranger":   {sup, "op-nobody", ErrNoOperator},
		"operator for themself":       {v1, "op-v1", nil},
	} {
		_, err := f.svc.Publish(ctx, tc.by, Availability{Date: rome(2026, 12, 3, 0, 0), From: 11 * h, To: 12 * h, Length: m20, Weeks: 1, For: tc.forID})
		if !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A disabled video operator gets nothing published for them.
	if err := f.store.UpdateOperator(ctx, "op-v1", func(o storage.Operator) (storage.Operator, error) {
		o.Status = storage.OperatorDisabled
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Publish(ctx, sup, Availability{Date: rome(2026, 12, 4, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1, For: "op-v1"}); !errors.Is(err, ErrNoOperator) {
		t.Errorf("publishing for a disabled operator: %v", err)
	}
}

// TestSweep: appointments that ended more than the retention period ago
// are deleted, booked or free, and the deletion audited; newer ones stay.
func TestSweep(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	slots := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 10*h, m20, 1).Slots
	later := f.publish(t, v1, rome(2026, 12, 9, 0, 0), 9*h, 9*h+m20, m20, 1).Slots
	if _, _, err := f.svc.Book(ctx, "req-1", slots[1].ID, ""); err != nil {
		t.Fatal(err)
	}
	f.svc.Retention = 10 * 24 * time.Hour
	// On 12 December at 09:41 the 2 December appointments that ended by
	// 09:41 go (09:00 and 09:20, booked); 09:40–10:00 stays.
	n, err := f.svc.Sweep(ctx, rome(2026, 12, 12, 9, 41))
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want the 09:00 and 09:20 appointments", n, err)
	}
	left, _ := f.svc.Slots(ctx, sup, time.Time{}, false)
	if len(left) != 2 || left[0].ID != slots[2].ID || left[1].ID != later[0].ID {
		t.Fatalf("left %+v", left)
	}
	if _, err := f.svc.Booking(ctx, "req-1"); !errors.Is(err, ErrNoBooking) {
		t.Errorf("the booking survived its appointment's deletion: %v", err)
	}
	if n, err := f.svc.Sweep(ctx, rome(2026, 12, 12, 9, 41)); err != nil || n != 0 {
		t.Errorf("second sweep: %d, %v", n, err)
	}
	evs, _ := f.store.ListAudit(ctx, 0, 1000)
	var got []map[string]string
	for _, ev := range evs {
		if ev.Action == "video.retention" {
			got = append(got, ev.Details)
		}
	}
	if len(got) != 1 || got[0]["deleted"] != "2" || got[0]["booked"] != "1" || got[0]["retention_days"] != "10" {
		t.Errorf("retention audit: %v", got)
	}
	// The default keeps a month.
	f.svc.Retention = 0
	if n, _ := f.svc.Sweep(ctx, rome(2027, 1, 8, 0, 0)); n != 1 {
		t.Errorf("default retention on 8 January deleted %d, want the 2 December 09:40 one", n)
	}
}
