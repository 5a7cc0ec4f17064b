package care_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/storage"
)

// E107: assigned 2026-11-23 → due 2026-12-07 23:59:59 Europe/Rome.
func TestDeadline(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	for _, at := range []time.Time{
		time.Date(2026, 11, 23, 0, 0, 0, 0, rome),
		time.Date(2026, 11, 23, 23, 59, 0, 0, rome),
		time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC), // already the 23rd in Rome
	} {
		got := care.Deadline(at)
		if want := time.Date(2026, 12, 7, 23, 59, 59, 0, rome); !got.Equal(want) {
			t.Errorf("Deadline(%v) = %v, want %v", at, got.In(rome), want)
		}
	}
	// Across the end of summer time: still the end of the Rome day.
	got := care.Deadline(time.Date(2026, 10, 20, 12, 0, 0, 0, rome)).In(rome)
	if got.Day() != 3 || got.Month() != 11 || got.Hour() != 23 || got.Minute() != 59 {
		t.Errorf("deadline across DST = %v", got)
	}
}

func TestDeadlineStatus(t *testing.T) {
	c := storage.Ticket{Kind: storage.TicketKindComplaint, State: care.StateAssigned,
		DeadlineAt: time.Date(2026, 12, 7, 22, 59, 59, 0, time.UTC)}
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), care.DeadlineOnTime},
		{time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC), care.DeadlineAtRisk},
		{time.Date(2026, 12, 7, 22, 59, 59, 0, time.UTC), care.DeadlineAtRisk},
		{time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC), care.DeadlineLate},
	} {
		if got := care.DeadlineStatus(c, tc.now); got != tc.want {
			t.Errorf("at %v: %q, want %q", tc.now, got, tc.want)
		}
	}
	c.AnsweredAt = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	if got := care.DeadlineStatus(c, c.AnsweredAt); got != care.DeadlineAnswered {
		t.Errorf("answered: %q", got)
	}
}

// E103–E106: a ticket gets a number and an e-mail, moves only along
// §11.2, needs a category, records the escalation level, is answered by
// e-mail and closes 7 days later.
func TestTicketLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tk, err := e.desk.File(ctx, web, request(storage.TicketKindTicket))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tk.Reference, "TT-2026-") || tk.State != care.StateReceived {
		t.Fatalf("filed: %+v", tk)
	}
	m, err := e.outbox.Last("mario.rossi@example.it")
	if err != nil || !strings.Contains(m.Text, tk.Reference) {
		t.Fatalf("acknowledgement: %v %q", err, m.Text)
	}
	if _, err := e.desk.Move(ctx, agent, tk.ID, care.StateOpen, "", 0, ""); !errors.Is(err, care.ErrInvalid) {
		t.Errorf("open without category: %v", err)
	}
	if _, err := e.desk.Move(ctx, agent, tk.ID, care.StateOpen, "astrology", 0, ""); !errors.Is(err, care.ErrInvalid) {
		t.Errorf("unknown category: %v", err)
	}
	if _, err := e.desk.Move(ctx, agent, tk.ID, care.StateSolved, "identity_use", 0, ""); !errors.Is(err, care.ErrTransition) {
		t.Errorf("received → solved: %v", err)
	}
	steps := []struct {
		to    string
		level int
	}{{care.StateOpen, 0}, {care.StateInProgress, 0}, {care.StateWaitingRequester, 0}, {care.StateInProgress, 0},
		{care.StateEscalated, 2}, {care.StateSolutionReady, 0}}
	for _, s := range steps {
		if tk, err = e.desk.Move(ctx, agent, tk.ID, s.to, "identity_use", s.level, "nota"); err != nil {
			t.Fatalf("→ %s: %v", s.to, err)
		}
	}
	if tk.Level != 2 || tk.Category != "identity_use" || tk.AssignedTo != agent.ID {
		t.Errorf("after moves: %+v", tk)
	}
	if _, err := e.desk.AnswerTicket(ctx, shop, tk.ID, "x"); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("shop agent answering: %v", err)
	}
	if tk, err = e.desk.AnswerTicket(ctx, agent, tk.ID, "Abbiamo sbloccato le credenziali."); err != nil {
		t.Fatal(err)
	}
	m, _ = e.outbox.Last("mario.rossi@example.it")
	if !strings.Contains(m.Text, "sbloccato") || !strings.Contains(m.Subject, tk.Reference) {
		t.Errorf("answer e-mail: %+v", m.Message)
	}
	e.clock.Advance(6 * 24 * time.Hour)
	if n, _ := e.desk.CloseSolved(ctx); n != 0 {
		t.Errorf("closed after 6 days: %d", n)
	}
	e.clock.Advance(24 * time.Hour)
	if n, err := e.desk.CloseSolved(ctx); n != 1 || err != nil {
		t.Errorf("closed after 7 days: %d, %v", n, err)
	}
	got, _ := e.store.GetTicket(ctx, tk.ID)
	if got.State != care.StateClosed {
		t.Errorf("state %s", got.State)
	}
	for _, a := range []string{"care.file", "care.ticket.move", "care.ticket.answer", "care.ticket.close"} {
		if len(e.audits(t, a)) == 0 {
			t.Errorf("no audit record %s", a)
		}
	}
	if d := e.audits(t, "care.ticket.answer"); d[0].Outcome != "denied" || d[0].Actor != shop.ID {
		t.Errorf("denied answer not audited first: %+v", d[0])
	}
}

// E108: the answer needs analysis, resolution and (when action is needed)
// the expected time; it names the ADR body, never the ODR platform.
func TestComplaintAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, err := e.desk.File(ctx, web, request(storage.TicketKindComplaint))
	if err != nil {
		t.Fatal(err)
	}
	rome, _ := time.LoadLocation("Europe/Rome")
	if !strings.HasPrefix(c.Reference, "RC-") || c.State != care.StateAssigned ||
		!c.DeadlineAt.Equal(time.Date(2026, 12, 7, 23, 59, 59, 0, rome)) {
		t.Fatalf("complaint: %+v", c)
	}
	ack, _ := e.outbox.Last("mario.rossi@example.it")
	if !strings.Contains(ack.Text, "07/12/2026") {
		t.Errorf("acknowledgement lacks the deadline: %q", ack.Text)
	}
	bad := []care.ComplaintAnswer{
		{Resolution: "r"},
		{Analysis: "a"},
		{Analysis: "a", Resolution: "r", ActionNeeded: true},
		{Analysis: "a", Resolution: "r", IndemnityDue: true},
	}
	for _, a := range bad {
		if _, err := e.desk.AnswerComplaint(ctx, agent, c.ID, a); !errors.Is(err, care.ErrInvalid) {
			t.Errorf("%+v: %v", a, err)
		}
	}
	a := care.ComplaintAnswer{Analysis: "Il codice OTP non arrivava per un guasto del gateway.",
		Resolution: "Abbiamo cambiato fornitore SMS.", ActionNeeded: true, ExpectedTime: "5 giorni lavorativi",
		IndemnityDue: true, IndemnityAmount: "10,00 EUR"}
	if c, err = e.desk.AnswerComplaint(ctx, agent, c.ID, a); err != nil {
		t.Fatal(err)
	}
	m, _ := e.outbox.Last("mario.rossi@example.it")
	for _, want := range []string{a.Analysis, a.Resolution, a.ExpectedTime, "10,00 EUR", "Camera di conciliazione di Roma", c.Reference} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("answer lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(strings.ToLower(m.Text), "odr") || strings.Contains(m.Text, "ec.europa.eu") {
		t.Errorf("answer mentions the ODR platform:\n%s", m.Text)
	}
	if _, err := e.desk.AnswerComplaint(ctx, agent, c.ID, a); !errors.Is(err, care.ErrTransition) {
		t.Errorf("second answer: %v", err)
	}
}

// A complaint by PEC or letter is registered by the desk only, with the
// scan as evidence; the deadline runs from its arrival.
func TestRegisterLetter(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	r := request(storage.TicketKindComplaint)
	r.Channel = "letter"
	r.ReceivedAt = e.clock.Now().Add(-48 * time.Hour)
	r.Uploads = []care.Upload{{Name: "raccomandata.pdf", Body: bytes.NewReader(pdf)}}
	if _, err := e.desk.File(ctx, web, r); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("citizen registering a letter: %v", err)
	}
	r.Uploads = []care.Upload{{Name: "raccomandata.pdf", Body: bytes.NewReader(pdf)}}
	c, err := e.desk.File(ctx, agent, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Attachments) != 1 || c.Attachments[0].MediaType != "application/pdf" || c.AssignedTo != agent.ID ||
		!c.DeadlineAt.Equal(care.Deadline(r.ReceivedAt)) {
		t.Fatalf("letter: %+v", c)
	}
	rc, att, err := e.desk.Open(ctx, agent, c, c.Attachments[0].EvidenceID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := new(bytes.Buffer)
	_, _ = buf.ReadFrom(rc)
	if !bytes.Equal(buf.Bytes(), pdf) || att.FileName != "raccomandata.pdf" {
		t.Errorf("scan read back differs")
	}
	if _, _, err := e.desk.Open(ctx, shop, c, c.Attachments[0].EvidenceID); !errors.Is(err, care.ErrForbidden) {
		t.Errorf("shop agent opening: %v", err)
	}
}

// E111/E020: bad attachments are refused and nothing is stored, even the
// good file sent with them.
func TestBadAttachments(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	big := append(append([]byte{}, pdf...), bytes.Repeat([]byte("x"), 10<<20)...)
	cases := map[string][]care.Upload{
		"exe":         {{Name: "good.pdf", Body: bytes.NewReader(pdf)}, {Name: "setup.exe", Body: bytes.NewReader([]byte("MZ\x90\x00"))}},
		"html":        {{Name: "good.pdf", Body: bytes.NewReader(pdf)}, {Name: "page.html", Body: bytes.NewReader([]byte("<html><script>alert(1)</script>"))}},
		"html as pdf": {{Name: "good.pdf", Body: bytes.NewReader(pdf)}, {Name: "fake.pdf", Body: bytes.NewReader([]byte("<html><script>x</script></html>"))}},
		"oversized":   {{Name: "good.pdf", Body: bytes.NewReader(pdf)}, {Name: "big.pdf", Body: bytes.NewReader(big)}},
		"too many":    {{Name: "1.pdf", Body: bytes.NewReader(pdf)}, {Name: "2.pdf", Body: bytes.NewReader(pdf)}, {Name: "3.pdf", Body: bytes.NewReader(pdf)}, {Name: "4.pdf", Body: bytes.NewReader(pdf)}},
	}
	for name, ups := range cases {
		r := request(storage.TicketKindTicket)
		r.Uploads = ups
		if _, err := e.desk.File(ctx, web, r); !errors.Is(err, care.ErrAttachment) {
			t.Errorf("%s: %v, want ErrAttachment", name, err)
		}
	}
	if n := e.blobs(t); n != 0 {
		t.Errorf("%d blobs left after refusals", n)
	}
	if l, _ := e.store.ListTickets(ctx, storage.TicketFilter{}); len(l) != 0 {
		t.Errorf("%d tickets stored", len(l))
	}
	if d := e.audits(t, "care.file"); len(d) != len(cases) || d[0].Outcome != "denied" {
		t.Errorf("refusals audited: %d", len(d))
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	for name, mut := range map[string]func(*care.Request){
		"no subject":   func(r *care.Request) { r.Subject = " " },
		"no message":   func(r *care.Request) { r.Message = "" },
		"bad e-mail":   func(r *care.Request) { r.ContactEmail = "x" },
		"header break": func(r *care.Request) { r.ContactEmail = "a@b.it\r\nBcc: c@d.it" },
		"long subject": func(r *care.Request) { r.Subject = strings.Repeat("a", 201) },
		"NUL":          func(r *care.Request) { r.Message = "a\x00" },
		"subject CRLF": func(r *care.Request) { r.Subject = "a\r\nBcc: x@y.it" },
		"bad channel":  func(r *care.Request) { r.Channel = "fax" },
		"bad kind":     func(r *care.Request) { r.Kind = "praise" },
	} {
		r := request(storage.TicketKindTicket)
		mut(&r)
		if _, err := e.desk.File(t.Context(), web, r); !errors.Is(err, care.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMasking(t *testing.T) {
	for in, want := range map[string]string{"TINIT-RSSMRA80A01H501X": "RSSMRA******501X", "RSSMRA80A01H501X": "RSSMRA******501X", "abc": "***"} {
		if got := care.MaskFiscal(in); got != want {
			t.Errorf("MaskFiscal(%q) = %q", in, got)
		}
	}
	if got := care.MaskEmail("mario.rossi@example.it"); got != "m***@example.it" {
		t.Errorf("MaskEmail = %q", got)
	}
	if got := care.MaskMobile("+393331234567"); got != "*******567" {
		t.Errorf("MaskMobile = %q", got)
	}
}

// §12.4: a closed ticket's content and attachments go after 24 months, an
// answered complaint's after 10 years; nothing before.
func TestSweepRetention(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	r := request(storage.TicketKindTicket)
	r.Uploads = []care.Upload{{Name: "a.pdf", Body: bytes.NewReader(pdf)}}
	tk, err := e.desk.File(ctx, web, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{care.StateOpen, care.StateSolutionReady} {
		if _, err := e.desk.Move(ctx, agent, tk.ID, s, "information", 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.desk.AnswerTicket(ctx, agent, tk.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	c, _ := e.desk.File(ctx, web, request(storage.TicketKindComplaint))
	if _, err := e.desk.AnswerComplaint(ctx, agent, c.ID, care.ComplaintAnswer{Analysis: "a", Resolution: "r"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(8 * 24 * time.Hour)
	if _, err := e.desk.CloseSolved(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(23 * 30 * 24 * time.Hour)
	if n, err := e.desk.SweepRetention(ctx); n != 0 || err != nil {
		t.Fatalf("purged before 24 months: %d %v", n, err)
	}
	e.clock.Advance(60 * 24 * time.Hour)
	if n, err := e.desk.SweepRetention(ctx); n != 1 || err != nil {
		t.Fatalf("after 24 months: %d %v", n, err)
	}
	got, _ := e.store.GetTicket(ctx, tk.ID)
	if got.ContactEmail != "" || got.Message != "" || len(got.Attachments) != 0 || got.Reference != tk.Reference {
		t.Errorf("after purge: %+v", got)
	}
	if e.blobs(t) != 0 {
		t.Error("attachment blob kept")
	}
	if got, _ := e.store.GetTicket(ctx, c.ID); got.ContactEmail == "" {
		t.Error("complaint purged before 10 years")
	}
	e.clock.Advance(10 * 366 * 24 * time.Hour)
	if n, _ := e.desk.SweepRetention(ctx); n != 1 {
		t.Errorf("complaint after 10 years: %d", n)
	}
	if n, _ := e.desk.SweepRetention(ctx); n != 0 {
		t.Errorf("second sweep purged %d", n)
	}
	if len(e.audits(t, "care.retention.purge")) != 2 {
		t.Error("purges not audited")
	}
}
