package enrolment

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/internal/capture"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

var _ Calendar = (*workinghours.Calendar)(nil)
var _ SMSSender = (*otp.SMSCodes)(nil)

// clock is the fixtures' shared time, moved by tests.
type clock = testclock.Clock

// mailbox captures what the Service hands to the mail sender.
type mailbox struct{ capture.Box[mail.Message] }

func (m *mailbox) all() []mail.Message { return m.All() }

func (m *mailbox) last(t *testing.T) mail.Message { t.Helper(); return m.Last(t) }

// phone captures SMS texts delivered by the real otp.SMSCodes.
type phone struct{ capture.Box[sms.Message] }

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

func (p *phone) lastCode(t *testing.T) string {
	t.Helper()
	text := p.Last(t).Text
	c := sixDigits.FindString(text)
	if c == "" {
		t.Fatalf("no code in SMS %q", text)
	}
	return c
}

type fixture struct {
	svc   *Service
	st    storage.Store
	clk   *clock
	mails *mailbox
	phone *phone
}

// t0 is Friday 2026-11-20 10:00 in Rome: 48 working hours later is
// Tuesday 2026-11-24 10:00 (§6.3).
var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, rome())

// newFixture runs the Service on SQLite in a temporary directory.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureOn(t, st)
}

// newPostgresFixture runs the Service on PostgreSQL (SPID_TEST_POSTGRES),
// in a schema of its own dropped at the end; skipped when unset.
func newPostgresFixture(t *testing.T) *fixture {
	t.Helper()
	dsn, _ := testenv.PostgresSchema(t, "spid_enrol_")
	st, err := postgres.Open(t.Context(), dsn, 20)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() }) // before the schema is dropped
	return newFixtureOn(t, st)
}

func newFixtureOn(t *testing.T, st storage.Store) *fixture {
	t.Helper()
	clk := testclock.New(t0)
	eph := memory.New(memory.WithClock(clk.Now))
	t.Cleanup(func() { eph.Close() })
	ph := &phone{}
	mb := &mailbox{}
	svc := &Service{
		Store:          st,
		Audit:          &audit.Logger{Store: st, Now: clk.Now},
		Mail:           mb,
		SMS:            &otp.SMSCodes{Values: eph, Sender: ph, Host: "idp.example.it", Now: clk.Now, Counters: eph},
		Calendar:       &workinghours.Calendar{},
		SPIDCodePrefix: "TEST",
		PasswordParams: password.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16},
		BaseURL:        "https://idp.example.it",
		Responsible:    "Dott.ssa Anna Verdi",
		Now:            clk.Now,
	}
	return &fixture{svc: svc, st: st, clk: clk, mails: mb, phone: ph}
}

func mario() (Applicant, Document) {
	return Applicant{Name: "Mario", FamilyName: "Rossi", FiscalNumber: "RSSMRA80A01H501U", DateOfBirth: "1980-01-01",
			PlaceOfBirth: "H501", CountyOfBirth: "RM", Gender: "M", Email: "mario.rossi@example.it", MobilePhone: "+393331234567"},
		Document{Type: "cartaIdentita", Number: "CA12345AB", Issuer: "ComuneRoma", IssueDate: "2021-03-01", ExpiryDate: "2031-03-01"}
}

// operator stores an active operator with roles and returns its ID.
func (f *fixture) operator(t *testing.T, username string, roles ...Role) string {
	t.Helper()
	var rs []string
	for _, r := range roles {
		rs = append(rs, string(r))
	}
	o := storage.Operator{ID: "op-" + username, Username: username, Name: username, Roles: rs,
		PasswordHash: "$argon2id$x", Status: storage.OperatorActive, ShopID: "shop-1"}
	if err := f.st.CreateOperator(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func tokenFrom(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`https://idp\.example\.it/\S+`).FindString(text)
	if m == "" {
		t.Fatalf("no link in %q", text)
	}
	u, err := url.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// draft returns a draft request with valid data, e-mail and mobile
// verified and consents given.
func (f *fixture) draft(t *testing.T, path string, a Applicant, d Document) storage.Enrolment {
	t.Helper()
	ctx := t.Context()
	e, err := f.svc.Start(ctx, TypePersonal, path, "")
	must(t, "Start", err)
	must(t, "SetApplicant", f.svc.SetApplicant(ctx, e.ID, a, d, nil))
	must(t, "SendEmailLink", f.svc.SendEmailLink(ctx, e.ID))
	_, err = f.svc.ConfirmEmail(ctx, tokenFrom(t, f.mails.last(t).Text))
	must(t, "ConfirmEmail", err)
	must(t, "SendMobileCode", f.svc.SendMobileCode(ctx, e.ID))
	must(t, "ConfirmMobile", f.svc.ConfirmMobile(ctx, e.ID, f.phone.lastCode(t)))
	must(t, "AcceptConsents", f.svc.AcceptConsents(ctx, e.ID, Consents{PrivacyVersion: "2026-01", TermsVersion: "2026-02",
		Declaration: true, VideoRecording: path == PathVideo}, "192.0.2.7"))
	e, err = f.st.GetEnrolment(ctx, e.ID)
	must(t, "GetEnrolment", err)
	return e
}

// submitted is draft + SMS confirmation: awaiting_recognition.
func (f *fixture) submitted(t *testing.T, path string, a Applicant, d Document) storage.Enrolment {
	t.Helper()
	e := f.draft(t, path, a, d)
	must(t, "SendSignCode", f.svc.SendSignCode(t.Context(), e.ID))
	e, err := f.svc.Submit(t.Context(), e.ID, f.phone.lastCode(t))
	must(t, "Submit", err)
	return e
}

// queued is a video request recognised by operator "video1": awaiting_processing.
func (f *fixture) queued(t *testing.T) storage.Enrolment {
	t.Helper()
	a, d := mario()
	e := f.submitted(t, PathVideo, a, d)
	video := f.operatorOnce(t, "video1", RoleVideoOperator)
	must(t, "AddEvidence", f.svc.AddEvidence(t.Context(), e.ID, evidence.Item{ID: "ev-1", Kind: "video_recording",
		SHA256: strings.Repeat("ab", 32), Size: 1000, MediaType: "video/webm", UploadedBy: video}))
	e, err := f.svc.Recognise(t.Context(), e.ID, video, map[string]bool{"document_shown": true, "face_match": true, "otp_read": true})
	must(t, "Recognise", err)
	return e
}

func (f *fixture) operatorOnce(t *testing.T, username string, roles ...Role) string {
	if o, err := f.st.GetOperatorByUsername(t.Context(), username); err == nil {
		return o.ID
	}
	return f.operator(t, username, roles...)
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (f *fixture) state(t *testing.T, id string) State {
	t.Helper()
	e, err := f.st.GetEnrolment(t.Context(), id)
	must(t, "GetEnrolment", err)
	return State(e.State)
}

func (f *fixture) auditLen(t *testing.T) int {
	t.Helper()
	evs, err := f.st.ListAudit(t.Context(), 0, 100000)
	must(t, "ListAudit", err)
	return len(evs)
}

func (f *fixture) auditActions(t *testing.T) []string {
	t.Helper()
	evs, err := f.st.ListAudit(t.Context(), 0, 100000)
	must(t, "ListAudit", err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action+":"+ev.Outcome)
	}
	return out
}

// passAll ticks every item of any checklist.
var passAll = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range paths {
		for _, t := range identityTypes {
			for _, i := range VerifierChecklist(p, t) {
				m[i] = true
			}
		}
	}
	return m
}()
