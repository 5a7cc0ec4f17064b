package app

import (
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/videocall"
)

// nextOpenDay is the first day after today (Rome) that takes video
// appointments: not a Sunday, not a holiday.
func nextOpenDay(now time.Time) time.Time {
	d := now.In(videocall.Rome)
	for {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 12, 0, 0, 0, videocall.Rome)
		closed := d.Weekday() == time.Sunday
		for _, h := range workinghours.Holidays(d.Year()) {
			if h.Format("2006-01-02") == d.Format("2006-01-02") {
				closed = true
			}
		}
		if !closed {
			return d
		}
	}
}

// videoOperators stores a video operator ("vid") and a supervisor ("sup"),
// each with an authenticator app (consoleLogin).
func videoOperators(t *testing.T, a *App) {
	t.Helper()
	for _, op := range []struct{ user, name, role string }{{"vid", "Valeria Video", "video_operator"}, {"sup", "Silvia Super", "supervisor"}} {
		h, err := password.Hash("Console-"+op.user+"-2026", a.Argon2)
		cmust(t, err)
		now := time.Now().UTC()
		cmust(t, a.Backends.Store.CreateOperator(t.Context(), storage.Operator{ID: "op-" + op.user, Username: op.user, Name: op.name,
			Roles: []string{op.role}, PasswordHash: h, Status: storage.OperatorActive, CreatedAt: now, UpdatedAt: now}))
		giveOperatorTOTP(t, a, "op-"+op.user)
	}
}

var (
	bookingLinkRE = regexp.MustCompile(`href="(/enrol/video\?[^"]+)"`)
	slotRE        = regexp.MustCompile(`name="slot" value="([0-9a-f]+)"`)
)

// The video path through the assembled IdP: the video operator publishes
// availability in the console, the citizen books from the page after
// submission, gets the e-mail with the invitation, sees the appointment on
// the status page, and the operator starts the recognition from the agenda.
func TestVideoCallEndToEnd(t *testing.T) {
	a, ts, _ := testApp(t)
	base := ts.URL
	cmust(t, a.MountBackOffice())
	videoOperators(t, a)
	mails := mail.Outbox{Dir: a.Config.Mail.OutboxDir}

	// The operator publishes the next open day, 09:00–10:00, 20 minutes.
	vid := newBrowser(t)
	p := consoleLogin(a, vid, base, "vid")
	if !strings.Contains(p.body, `href="/console/video/"`) {
		t.Errorf("the console bar has no link to the video agenda:\n%s", p.body)
	}
	p = vid.get(base + videocall.PathSlots)
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="date"`) {
		t.Fatalf("availability page: %d\n%s", p.status, p.body)
	}
	day := nextOpenDay(time.Now())
	p = vid.submit(p, videocall.PathSlots, url.Values{"date": {day.Format("2006-01-02")}, "from": {"09:00"}, "to": {"10:00"},
		"length": {"20"}, "weeks": {"1"}})
	if p.status != http.StatusOK || !strings.Contains(p.url.RawQuery, "notice=published") || !strings.Contains(p.body, "Pubblicati 3 appuntamenti") {
		t.Fatalf("publish: %d %s\n%s", p.status, p.url, p.body)
	}
	// The same form again: nothing more.
	again := vid.submit(p, videocall.PathSlots, url.Values{"date": {day.Format("2006-01-02")}, "from": {"09:00"}, "to": {"10:00"},
		"length": {"20"}, "weeks": {"1"}})
	if again.status != http.StatusConflict {
		t.Errorf("publishing twice: %d", again.status)
	}
	// A holiday is refused with a message in words.
	xmas := time.Date(day.Year(), 12, 25, 0, 0, 0, 0, videocall.Rome)
	if !xmas.After(time.Now()) {
		xmas = xmas.AddDate(1, 0, 0)
	}
	hol := vid.submit(p, videocall.PathSlots, url.Values{"date": {xmas.Format("2006-01-02")}, "from": {"09:00"}, "to": {"10:00"},
		"length": {"20"}, "weeks": {"1"}})
	if hol.status != http.StatusBadRequest || !strings.Contains(hol.body, "festivo") {
		t.Errorf("publishing on Christmas: %d", hol.status)
	}

	// The citizen submits a request on the video path and books.
	citizen := newBrowser(t)
	ap := newApplicant(t, 7)
	done := capture(t, a, base, citizen, ap, enrolment.PathVideo)
	e, _ := requestByCode(t, a, done)
	m := bookingLinkRE.FindStringSubmatch(done.body)
	if m == nil {
		t.Fatalf("the done page has no booking link:\n%s", done.body)
	}
	book := citizen.get(base + html.UnescapeString(m[1]))
	// The operator's three times are offered (beside the demo operator's
	// afternoons).
	published, err := a.video.Service.Slots(t.Context(), videocall.Actor{ID: "op-vid", Roles: []string{"video_operator"}}, time.Now(), false)
	cmust(t, err)
	var slots [][]string
	offered := map[string]bool{}
	for _, s := range slotRE.FindAllStringSubmatch(book.body, -1) {
		offered[s[1]] = true
	}
	for _, s := range published {
		if !offered[s.ID] {
			t.Errorf("the booking page does not offer %s", videocall.When(s.Start))
		}
		slots = append(slots, []string{"", s.ID})
	}
	if book.status != http.StatusOK || len(slots) != 3 {
		t.Fatalf("booking page: %d, %d published\n%s", book.status, len(slots), book.body)
	}
	booked := citizen.submit(book, videocall.PathBooking, url.Values{"op": {"book"}, "slot": {slots[1][1]}})
	when := day.Format("02/01/2006") + " 09:20"
	if booked.status != http.StatusOK || !strings.Contains(booked.url.RawQuery, "done=booked") || !strings.Contains(booked.body, when) {
		t.Fatalf("after booking: %d %s\n%s", booked.status, booked.url, booked.body)
	}
	msg, err := mails.Last(ap.email)
	cmust(t, err)
	if len(msg.Attachments) != 1 || !strings.Contains(msg.Text, when) || !strings.Contains(msg.Subject, "videochiamata") {
		t.Fatalf("confirmation e-mail: %s %d attachments\n%s", msg.Subject, len(msg.Attachments), msg.Text)
	}
	ics := string(msg.Attachments[0].Data)
	for _, want := range []string{"METHOD:REQUEST\r\n", "UID:videocall-" + e.ID + "@", "SUMMARY:SPID: videochiamata"} {
		if !strings.Contains(ics, want) {
			t.Errorf("invitation lacks %q:\n%s", want, ics)
		}
	}
	// The same form posted again books nothing more and sends nothing.
	twice := citizen.submit(book, videocall.PathBooking, url.Values{"op": {"book"}, "slot": {slots[1][1]}})
	if again, _ := mails.Last(ap.email); twice.status != http.StatusOK || again.MessageID != msg.MessageID {
		t.Errorf("posted twice: %d, a second e-mail %v", twice.status, again.MessageID != msg.MessageID)
	}
	// Another applicant cannot take 09:20.
	other := newBrowser(t)
	ap2 := newApplicant(t, 8)
	done2 := capture(t, a, base, other, ap2, enrolment.PathVideo)
	book2 := other.get(base + html.UnescapeString(bookingLinkRE.FindStringSubmatch(done2.body)[1]))
	if strings.Contains(book2.body, `value="`+slots[1][1]+`"`) || !strings.Contains(book2.body, `value="`+slots[0][1]+`"`) {
		t.Errorf("the second applicant is offered the booked time, or not the free one")
	}
	taken := other.submit(book2, videocall.PathBooking, url.Values{"op": {"book"}, "slot": {slots[1][1]}})
	if !strings.Contains(taken.url.RawQuery, "err=taken") || !strings.Contains(taken.body, "altra persona") {
		t.Errorf("booking a taken time: %s", taken.url)
	}
	// A post from another site is refused.
	forged := newBrowser(t).submit(book, videocall.PathBooking, url.Values{"op": {"cancel"}, "slot": {slots[1][1]}, "csrf_token": {"x"}})
	if !strings.Contains(forged.url.RawQuery, "err=form") {
		t.Errorf("forged cancel: %s", forged.url)
	}
	if b, err := a.video.Service.Booking(t.Context(), e.ID); err != nil || b.ID != slots[1][1] {
		t.Fatalf("booking after the forged cancel: %+v %v", b, err)
	}

	// The status page shows the appointment.
	st := newBrowser(t)
	sp := st.get(base + "/enrol/status")
	sp = st.submit(sp, "/enrol/status", url.Values{"code": {enrolment.FormatCode(e.Code)}, "cf_suffix": {ap.cf[12:]}})
	if !strings.Contains(sp.body, when) || !bookingLinkRE.MatchString(sp.body) {
		t.Errorf("status page lacks the appointment:\n%s", sp.body)
	}

	// The operator's agenda: the citizen, the code, and the start button,
	// which opens the recognition of that request.
	ag := vid.get(base + videocall.PathAgenda)
	if ag.status != http.StatusOK || !strings.Contains(ag.body, "Giulia Bianchi") || !strings.Contains(ag.body, enrolment.FormatCode(e.Code)) {
		t.Fatalf("agenda: %d\n%s", ag.status, ag.body)
	}
	rec := vid.submit(ag, "/console/find", nil)
	if rec.status != http.StatusOK || !strings.HasSuffix(rec.url.Path, "/console/recognise/"+e.ID) {
		t.Fatalf("start the recognition: %d %s\n%s", rec.status, rec.url, rec.body)
	}

	// The supervisor sees every operator's appointments and withdraws the
	// booked one: the citizen is told and may book again.
	sup := newBrowser(t)
	consoleLogin(a, sup, base, "sup")
	sl := sup.get(base + videocall.PathSlots)
	if sl.status != http.StatusOK || !strings.Contains(sl.body, "Valeria Video") || !strings.Contains(sl.body, `<option value="op-vid"`) {
		t.Fatalf("supervisor's availability page: %d\n%s", sl.status, sl.body)
	}
	// ... and publishes for the video operator, in that operator's agenda.
	onBehalf := sup.submit(sl, videocall.PathSlots, url.Values{"operator": {"op-vid"}, "date": {day.Format("2006-01-02")},
		"from": {"11:00"}, "to": {"11:40"}, "length": {"20"}, "weeks": {"1"}})
	if !strings.Contains(onBehalf.url.RawQuery, "notice=published") || !strings.Contains(onBehalf.body, "Valeria Video") {
		t.Fatalf("supervisor publishes for the video operator: %d %s\n%s", onBehalf.status, onBehalf.url, onBehalf.body)
	}
	if mine, _ := a.video.Service.Slots(t.Context(), videocall.Actor{ID: "op-vid", Roles: []string{"video_operator"}}, time.Now(), false); len(mine) != 5 {
		t.Errorf("the video operator has %d appointments after the supervisor published 2 more, want 5", len(mine))
	}
	sl = onBehalf
	cancelled := sup.submit(sl, "/console/video/slots/"+slots[1][1]+"/cancel", nil)
	if !strings.Contains(cancelled.url.RawQuery, "notice=cancelled_booked") {
		t.Fatalf("supervisor's cancel: %d %s", cancelled.status, cancelled.url)
	}
	if m, _ := mails.Last(ap.email); !strings.Contains(string(m.Attachments[0].Data), "METHOD:CANCEL") {
		t.Errorf("the citizen was not told of the cancellation:\n%s", m.Text)
	}
	for _, action := range []string{"video.publish", "video.book", "video.slot_cancel"} {
		if !auditAction(t, a, action) {
			t.Errorf("no audit record %s", action)
		}
	}
}

func auditAction(t *testing.T, a *App, action string) bool {
	t.Helper()
	evs, err := a.Backends.Store.ListAudit(t.Context(), 0, 100000)
	cmust(t, err)
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == "success" {
			return true
		}
	}
	return false
}

// TestVideoHoursFromConfig: the video calls' hours come from the
// configuration, the defaults being the booking's own (§5.4).
func TestVideoHoursFromConfig(t *testing.T) {
	a, _, _ := testApp(t)
	cfg := *a.Config
	got, err := VideoHours(&cfg)
	cmust(t, err)
	if !reflect.DeepEqual(got, videocall.DefaultHours) {
		t.Errorf("default hours %+v, want %+v", got, videocall.DefaultHours)
	}
	cfg.Enrolment.VideoDays, cfg.Enrolment.VideoHours, cfg.Enrolment.VideoSlotMinutes = []string{"sun"}, "09:30-12:00", []string{"45", "30"}
	got, err = VideoHours(&cfg)
	cmust(t, err)
	want := videocall.ServiceHours{Days: [7]bool{time.Sunday: true}, Open: 9*time.Hour + 30*time.Minute, Close: 12 * time.Hour, Lengths: []int{30, 45}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configured hours %+v, want %+v", got, want)
	}
	cfg.Enrolment.VideoSlotMinutes = []string{"180"}
	if _, err := VideoHours(&cfg); err == nil {
		t.Error("a 3-hour appointment in a 2½-hour day accepted")
	}
}

// TestVideoRetentionScheduled: the scheduler (one node under the lease)
// deletes appointments past enrolment.video_retention; a second node's run
// at the same time finds nothing left to do.
func TestVideoRetentionScheduled(t *testing.T) {
	a, _, _ := testApp(t)
	videoOperators(t, a)
	h, err := a.videoCalls()
	cmust(t, err)
	st := h.Service.Store
	now := time.Now().UTC().Truncate(time.Second)
	old := now.Add(-a.Config.Enrolment.VideoRetention - 2*time.Hour)
	recent := now.Add(-24 * time.Hour)
	cmust(t, st.CreateVideoSlots(t.Context(), []storage.VideoSlot{
		{ID: "old", OperatorID: "op-vid", Start: old, End: old.Add(20 * time.Minute), CreatedBy: "op-vid", CreatedAt: old},
		{ID: "recent", OperatorID: "op-vid", Start: recent, End: recent.Add(20 * time.Minute), CreatedBy: "op-vid", CreatedAt: old}}))
	rep, err := a.Scheduler().RunOnce(t.Context())
	cmust(t, err)
	if !strings.Contains(rep.String(), "video-retention: 1 past video appointments deleted") {
		t.Errorf("scheduler report:\n%s", rep)
	}
	if _, err := st.GetVideoSlot(t.Context(), "old"); err == nil {
		t.Error("the appointment past retention is still kept")
	}
	if _, err := st.GetVideoSlot(t.Context(), "recent"); err != nil {
		t.Errorf("a recent past appointment was deleted: %v", err)
	}
	if !auditAction(t, a, "video.retention") {
		t.Error("no audit record of the deletion")
	}
}

// TestVideoBookingReleasedWithRequest: a citizen who withdraws a request
// holding an appointment frees it in the same transaction (it is offered
// to others at once) and gets the invitation's cancellation through the
// mail queue.
func TestVideoBookingReleasedWithRequest(t *testing.T) {
	a, ts, _ := testApp(t)
	base := ts.URL
	cmust(t, a.MountBackOffice())
	videoOperators(t, a)
	mails := mail.Outbox{Dir: a.Config.Mail.OutboxDir}
	day := nextOpenDay(time.Now())
	vid := videocall.Actor{ID: "op-vid", Roles: []string{"video_operator"}}
	pub, err := a.video.Service.Publish(t.Context(), vid, videocall.Availability{Date: day, From: 9 * time.Hour, To: 9*time.Hour + 20*time.Minute,
		Length: 20 * time.Minute, Weeks: 1})
	cmust(t, err)
	citizen := newBrowser(t)
	ap := newApplicant(t, 7)
	done := capture(t, a, base, citizen, ap, enrolment.PathVideo)
	e, _ := requestByCode(t, a, done)
	book := citizen.get(base + html.UnescapeString(bookingLinkRE.FindStringSubmatch(done.body)[1]))
	booked := citizen.submit(book, videocall.PathBooking, url.Values{"op": {"book"}, "slot": {pub.Slots[0].ID}})
	if !strings.Contains(booked.url.RawQuery, "done=booked") {
		t.Fatalf("booking: %s\n%s", booked.url, booked.body)
	}
	cmust(t, a.Enrolment.Cancel(t.Context(), e.ID, true))
	slot, err := a.Backends.Store.(videocall.Store).GetVideoSlot(t.Context(), pub.Slots[0].ID)
	cmust(t, err)
	if slot.RequestID != "" {
		t.Fatalf("the withdrawn request still holds the appointment: %+v", slot)
	}
	// The mail queue delivers the cancellation.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := mails.Last(ap.email)
		if err == nil && len(m.Attachments) == 1 && strings.Contains(string(m.Attachments[0].Data), "METHOD:CANCEL") &&
			strings.Contains(m.Text, "hai ritirato la richiesta") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cancellation e-mail: %+v %v", m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !auditAction(t, a, "video.booking_released") {
		t.Error("no audit record of the release")
	}
	// Another applicant is offered the time again.
	other := newBrowser(t)
	done2 := capture(t, a, base, other, newApplicant(t, 8), enrolment.PathVideo)
	book2 := other.get(base + html.UnescapeString(bookingLinkRE.FindStringSubmatch(done2.body)[1]))
	if !strings.Contains(book2.body, `value="`+pub.Slots[0].ID+`"`) {
		t.Error("the freed appointment is not offered to the next applicant")
	}
}
