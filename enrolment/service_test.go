package enrolment

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/storage"
)

// E016: no submission before the e-mail link was opened and the SMS code
// entered; E025: only with a sign_request code sent for that request.
func TestE016E025SubmitNeedsVerifiedContactsAndSignCode(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	e, err := f.svc.Start(ctx, TypePersonal, PathVideo, "")
	must(t, "Start", err)
	must(t, "SetApplicant", f.svc.SetApplicant(ctx, e.ID, a, d, nil))
	must(t, "AcceptConsents", f.svc.AcceptConsents(ctx, e.ID, Consents{PrivacyVersion: "1", TermsVersion: "1", Declaration: true, VideoRecording: true}, "192.0.2.1"))
	if err := f.svc.SendSignCode(ctx, e.ID); !errors.Is(err, ErrNotReady) {
		t.Fatalf("sign code before verification: %v, want ErrNotReady", err)
	}
	if _, err := f.svc.Submit(ctx, e.ID, "123456"); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "e-mail not verified") {
		t.Fatalf("Submit unverified: %v", err)
	}
	must(t, "SendEmailLink", f.svc.SendEmailLink(ctx, e.ID))
	_, err = f.svc.ConfirmEmail(ctx, tokenFrom(t, f.mails.last(t).Text))
	must(t, "ConfirmEmail", err)
	if _, err := f.svc.Submit(ctx, e.ID, "123456"); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "mobile not verified") {
		t.Fatalf("Submit without mobile: %v", err)
	}
	must(t, "SendMobileCode", f.svc.SendMobileCode(ctx, e.ID))
	mobileCode := f.phone.lastCode(t)
	if err := f.svc.ConfirmMobile(ctx, e.ID, "000000"); err == nil && mobileCode != "000000" {
		t.Fatal("wrong mobile code accepted")
	}
	must(t, "ConfirmMobile", f.svc.ConfirmMobile(ctx, e.ID, mobileCode))

	// A verify_mobile code of another transaction does not sign (E025).
	must(t, "SendMobileCode", f.svc.SendMobileCode(ctx, e.ID))
	other := f.phone.lastCode(t)
	if _, err := f.svc.Submit(ctx, e.ID, other); err == nil {
		t.Fatal("Submit accepted a code not sent for sign_request")
	}
	if f.state(t, e.ID) != StateDraft {
		t.Fatal("state changed")
	}
	must(t, "SendSignCode", f.svc.SendSignCode(ctx, e.ID))
	e, err = f.svc.Submit(ctx, e.ID, f.phone.lastCode(t))
	must(t, "Submit", err)
	if State(e.State) != StateAwaitingRecognition {
		t.Fatalf("state %s", e.State)
	}
	_, r, _ := f.svc.Get(ctx, e.ID)
	if r.RequestSignedAt.IsZero() {
		t.Error("request_signed_at not recorded")
	}
	// Changing the e-mail after verification voids the proof.
	e2 := f.draft(t, PathVideo, mustApplicant(t, "Luisa", "Bianchi", "1985-07-12", "F", "luisa@example.it", "+393401112222"), d)
	a2, d2 := mustApplicant(t, "Luisa", "Bianchi", "1985-07-12", "F", "luisa.new@example.it", "+393401112222"), d
	must(t, "SetApplicant", f.svc.SetApplicant(ctx, e2.ID, a2, d2, nil))
	if err := f.svc.SendSignCode(ctx, e2.ID); !errors.Is(err, ErrNotReady) {
		t.Errorf("changed e-mail still counts as verified: %v", err)
	}
}

// mustApplicant builds a valid applicant born in Rome with a computed CF.
func mustApplicant(t *testing.T, name, family, birth, gender, email, mobile string) Applicant {
	t.Helper()
	b, err := time.Parse(time.DateOnly, birth)
	must(t, "parse birth", err)
	cf, err := fiscalcode.Compute(fiscalcode.Person{Name: name, FamilyName: family, DateOfBirth: b, Gender: gender, PlaceOfBirth: "H501"})
	must(t, "Compute", err)
	return Applicant{Name: name, FamilyName: family, FiscalNumber: cf, DateOfBirth: birth, PlaceOfBirth: "H501",
		CountyOfBirth: "RM", Gender: gender, Email: email, MobilePhone: mobile}
}

// E017: the e-mail link works once and dies after 24 hours.
func TestE017EmailLinkOnceAnd24Hours(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	e, err := f.svc.Start(ctx, TypePersonal, PathShop, "")
	must(t, "Start", err)
	must(t, "SetApplicant", f.svc.SetApplicant(ctx, e.ID, a, d, nil))
	must(t, "SendEmailLink", f.svc.SendEmailLink(ctx, e.ID))
	tok := tokenFrom(t, f.mails.last(t).Text)
	if !strings.HasPrefix(f.mails.last(t).Text, "Per confermare") || f.mails.last(t).To != "mario.rossi@example.it" {
		t.Errorf("verification e-mail: %+v", f.mails.last(t))
	}
	_, err = f.svc.ConfirmEmail(ctx, tok)
	must(t, "ConfirmEmail", err)
	if _, err := f.svc.ConfirmEmail(ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("second use: %v, want ErrLinkInvalid", err)
	}
	must(t, "SendEmailLink", f.svc.SendEmailLink(ctx, e.ID))
	tok = tokenFrom(t, f.mails.last(t).Text)
	f.clk.Advance(24 * time.Hour)
	if _, err := f.svc.ConfirmEmail(ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("after 24 h: %v, want ErrLinkInvalid", err)
	}
}

// E018 and E019: an applicant under 18 and an expired document are refused.
func TestE018E019AgeAndDocumentExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e, err := f.svc.Start(ctx, TypePersonal, PathCounter, "")
	must(t, "Start", err)
	_, d := mario()
	// 18 on 2026-11-21, the day after t0.
	young := mustApplicant(t, "Giulia", "Neri", "2008-11-21", "F", "giulia@example.it", "+393409998888")
	err = f.svc.SetApplicant(ctx, e.ID, young, d, nil)
	var ps identity.Problems
	if !errors.As(err, &ps) || !slices.ContainsFunc(ps, func(p string) bool { return strings.HasPrefix(p, "dateOfBirth: the applicant must be at least 18") }) {
		t.Errorf("17-year-old: %v", err)
	}
	of := mustApplicant(t, "Giulia", "Neri", "2008-11-20", "F", "giulia@example.it", "+393409998888")
	must(t, "SetApplicant on the 18th birthday", f.svc.SetApplicant(ctx, e.ID, of, d, nil))

	expired := d
	expired.ExpiryDate = "2026-11-19"
	if err := f.svc.SetApplicant(ctx, e.ID, of, expired, nil); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired document: %v", err)
	}
	// A document valid at submission but expired on the recognition day.
	g := newFixture(t)
	a, d2 := mario()
	d2.ExpiryDate = "2026-11-23"
	e2 := g.submitted(t, PathShop, a, d2)
	agent := g.operator(t, "agent1", RoleShopAgent)
	g.clk.Set(time.Date(2026, 11, 24, 9, 0, 0, 0, rome()))
	before := g.auditLen(t)
	if _, err := g.svc.Recognise(ctx, e2.ID, agent, map[string]bool{"document_checked": true}); !errors.Is(err, ErrNotReady) {
		t.Errorf("recognition with an expired document: %v", err)
	}
	if g.state(t, e2.ID) != StateAwaitingRecognition || g.auditLen(t) != before {
		t.Error("refused recognition changed the request or the audit log")
	}
}

// Invalid fiscal codes and mismatches each give their own problem.
func TestSetApplicantFiscalCode(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e, err := f.svc.Start(ctx, TypePersonal, PathVideo, "")
	must(t, "Start", err)
	a, d := mario()
	a.FiscalNumber = "RSSMRA80A01H501V"
	err = f.svc.SetApplicant(ctx, e.ID, a, d, nil)
	if err == nil || !strings.Contains(err.Error(), "fiscalNumber") {
		t.Errorf("bad check character: %v", err)
	}
	a, _ = mario()
	a.FamilyName, a.Gender = "Verdi", "F"
	err = f.svc.SetApplicant(ctx, e.ID, a, d, nil)
	var ps identity.Problems
	if !errors.As(err, &ps) || len(ps) < 2 {
		t.Fatalf("mismatches: %v", err)
	}
	if !strings.Contains(err.Error(), "familyName") || !strings.Contains(err.Error(), "gender") {
		t.Errorf("mismatches not all reported: %v", err)
	}
	_, r, _ := f.svc.Get(ctx, e.ID)
	if r.Applicant != nil {
		t.Error("refused data stored")
	}
	a, _ = mario()
	a.FiscalNumber = " tinit-rssmra80a01h501u "
	must(t, "lower-case CF with prefix", f.svc.SetApplicant(ctx, e.ID, a, d, nil))
	got, _ := f.st.GetEnrolment(ctx, e.ID)
	if got.FiscalNumber != "RSSMRA80A01H501U" {
		t.Errorf("stored CF %q", got.FiscalNumber)
	}
}

// E021: consents are stored with versions, time and IP; E022: the code is
// 10 Crockford characters and is in the submission e-mail; E038: the video
// path needs the recording consent.
func TestE021E022E038ConsentsAndRequestCode(t *testing.T) {
	f := newFixture(t)
	a, d := mario()
	e := f.submitted(t, PathVideo, a, d)
	_, r, err := f.svc.Get(t.Context(), e.ID)
	must(t, "Get", err)
	kinds := map[string]Consent{}
	for _, c := range r.Consents {
		kinds[c.Kind] = c
	}
	for _, k := range []string{"privacy", "terms", "declaration_art76", "video_recording", "access_notifications"} {
		c, ok := kinds[k]
		if !ok || c.IP != "192.0.2.7" || !c.At.Equal(t0) {
			t.Errorf("consent %s = %+v", k, c)
		}
	}
	if kinds["privacy"].Version != "2026-01" || kinds["terms"].Version != "2026-02" {
		t.Errorf("versions: %+v", kinds)
	}
	if !regexp.MustCompile(`^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{10}$`).MatchString(e.Code) {
		t.Errorf("code %q", e.Code)
	}
	m := f.mails.last(t)
	if !strings.Contains(m.Text, FormatCode(e.Code)) || !strings.Contains(m.Subject, FormatCode(e.Code)) {
		t.Errorf("submission e-mail lacks the code: %+v", m)
	}
	// Missing declaration: refused with its own problem.
	e2, err := f.svc.Start(t.Context(), TypePersonal, PathVideo, "")
	must(t, "Start", err)
	err = f.svc.AcceptConsents(t.Context(), e2.ID, Consents{PrivacyVersion: "1", TermsVersion: "1"}, "192.0.2.1")
	if err == nil || !strings.Contains(err.Error(), "declaration") {
		t.Errorf("no declaration: %v", err)
	}
	// Video path without the recording consent (E038's precondition).
	err = f.svc.AcceptConsents(t.Context(), e2.ID, Consents{PrivacyVersion: "1", TermsVersion: "1", Declaration: true}, "192.0.2.1")
	if !errors.Is(err, ErrNotReady) {
		t.Errorf("video without recording consent: %v", err)
	}
}

// E023 and E024: duplicates of CF and type, and contacts bound to another
// person's identity.
func TestE023E024Duplicates(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	f.submitted(t, PathVideo, a, d)
	second := f.draft(t, PathShop, a, d)
	must(t, "SendSignCode", f.svc.SendSignCode(ctx, second.ID))
	if _, err := f.svc.Submit(ctx, second.ID, f.phone.lastCode(t)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second open request: %v, want ErrDuplicate", err)
	}
	// An active identity of the same type for the CF.
	g := newFixture(t)
	must(t, "CreateIdentity", g.st.CreateIdentity(ctx, storage.Identity{ID: "x", Username: "mrossi", Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: map[string]string{"fiscalNumber": "TINIT-RSSMRA80A01H501U"}}))
	e := g.draft(t, PathShop, a, d)
	must(t, "SendSignCode", g.svc.SendSignCode(ctx, e.ID))
	if _, err := g.svc.Submit(ctx, e.ID, g.phone.lastCode(t)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("identity exists: %v, want ErrDuplicate", err)
	}
	// E024: e-mail of another person's active identity.
	h := newFixture(t)
	must(t, "CreateIdentity", h.st.CreateIdentity(ctx, storage.Identity{ID: "y", Username: "other", Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: map[string]string{"fiscalNumber": "TINIT-VRDGPP80A01H501X", "email": "Mario.Rossi@example.it"}}))
	e = h.draft(t, PathShop, a, d)
	must(t, "SendSignCode", h.svc.SendSignCode(ctx, e.ID))
	if _, err := h.svc.Submit(ctx, e.ID, h.phone.lastCode(t)); !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), "e-mail") {
		t.Errorf("shared e-mail: %v", err)
	}
	must(t, "UpdateIdentity", h.st.UpdateIdentity(ctx, "y", func(i storage.Identity) (storage.Identity, error) {
		i.Attributes["email"], i.Attributes["mobilePhone"] = "else@example.it", "+393331234567"
		return i, nil
	}))
	must(t, "SendSignCode", h.svc.SendSignCode(ctx, e.ID))
	if _, err := h.svc.Submit(ctx, e.ID, h.phone.lastCode(t)); !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), "mobile") {
		t.Errorf("shared mobile: %v", err)
	}
}

// E043: entering awaiting_processing sets the deadline 48 working hours on
// (Friday 10:00 → Tuesday 10:00).
func TestE043DeadlineOnQueue(t *testing.T) {
	f := newFixture(t)
	e := f.queued(t)
	if State(e.State) != StateAwaitingProcessing {
		t.Fatalf("state %s", e.State)
	}
	want := time.Date(2026, 11, 24, 10, 0, 0, 0, rome())
	if !e.QueuedAt.Equal(t0) || !e.DeadlineAt.Equal(want) {
		t.Errorf("queued %v deadline %v, want %v and %v", e.QueuedAt, e.DeadlineAt, t0, want)
	}
	_, r, _ := f.svc.Get(t.Context(), e.ID)
	if r.Recognition.Method != MethodWebcam || r.Recognition.By != "op-video1" {
		t.Errorf("recognition %+v", r.Recognition)
	}
}

// E047: 3 working days in awaiting_documents move the deadline by 3
// working days.
func TestE047PauseMovesDeadline(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	f.clk.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, rome())) // Monday
	must(t, "AskDocuments", f.svc.AskDocuments(ctx, e.ID, ver, []string{"retro della tessera sanitaria"}))
	if m := f.mails.last(t); !strings.Contains(m.Text, "retro della tessera sanitaria") {
		t.Errorf("documents e-mail: %q", m.Text)
	}
	if f.state(t, e.ID) != StateAwaitingDocuments {
		t.Fatal("not awaiting documents")
	}
	f.clk.Set(time.Date(2026, 11, 26, 10, 0, 0, 0, rome())) // Thursday: 3 working days later
	got, err := f.svc.DocumentsReceived(ctx, e.ID, "applicant")
	must(t, "DocumentsReceived", err)
	want := time.Date(2026, 11, 27, 10, 0, 0, 0, rome()) // Tue 24 + 3 working days
	if State(got.State) != StateAwaitingProcessing || !got.DeadlineAt.Equal(want) {
		t.Errorf("state %s deadline %v, want awaiting_processing and %v", got.State, got.DeadlineAt.In(rome()), want)
	}
	if !got.QueuedAt.Equal(t0) {
		t.Errorf("queued_at moved: %v", got.QueuedAt)
	}
}

// E049: impossible transitions change nothing: state, audit log, outbox.
func TestE049ImpossibleTransitionsChangeNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ver := f.operator(t, "ver1", RoleVerifier)
	a, d := mario()
	draft := f.draft(t, PathVideo, a, d)
	queued := f.queued(t)
	for _, tc := range []struct {
		name string
		id   string
		do   func(id string) error
	}{
		{"approve a draft", draft.ID, func(id string) error { _, err := f.svc.Approve(ctx, id, ver, passAll); return err }},
		{"reject a draft", draft.ID, func(id string) error { return f.svc.Reject(ctx, id, ver, []Reason{{Code: "document_expired"}}) }},
		{"documents for a draft", draft.ID, func(id string) error { return f.svc.AskDocuments(ctx, id, ver, []string{"x"}) }},
		{"documents received in processing", queued.ID, func(id string) error { _, err := f.svc.DocumentsReceived(ctx, id, "applicant"); return err }},
		{"resubmit in processing", queued.ID, func(id string) error { _, err := f.svc.Resubmit(ctx, id); return err }},
		{"cancel in processing", queued.ID, func(id string) error { return f.svc.Cancel(ctx, id, true) }},
		{"recognise in processing", queued.ID, func(id string) error {
			_, err := f.svc.Recognise(ctx, id, "op-video1", map[string]bool{"ok": true})
			return err
		}},
		{"claim a draft", draft.ID, func(id string) error { _, err := f.svc.Claim(ctx, id, ver); return err }},
		{"set data after submission", queued.ID, func(id string) error { return f.svc.SetApplicant(ctx, id, a, d, nil) }},
	} {
		before, _ := f.st.GetEnrolment(ctx, tc.id)
		n, mails := f.auditLen(t), len(f.mails.all())
		err := tc.do(tc.id)
		if !errors.Is(err, ErrTransition) {
			t.Errorf("%s: %v, want ErrTransition", tc.name, err)
		}
		after, _ := f.st.GetEnrolment(ctx, tc.id)
		if after.State != before.State || string(after.Data) != string(before.Data) || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("%s: request changed", tc.name)
		}
		if f.auditLen(t) != n || len(f.mails.all()) != mails {
			t.Errorf("%s: audit log or outbox changed", tc.name)
		}
	}
	// Approving twice: the second is refused and changes nothing.
	_, err := f.svc.Approve(ctx, queued.ID, ver, passAll)
	must(t, "Approve", err)
	n, mails := f.auditLen(t), len(f.mails.all())
	if _, err := f.svc.Approve(ctx, queued.ID, ver, passAll); !errors.Is(err, ErrTransition) {
		t.Errorf("second approval: %v", err)
	}
	if f.auditLen(t) != n || len(f.mails.all()) != mails {
		t.Error("second approval touched the audit log or the outbox")
	}
}

// E050: concurrent approvals create exactly one identity, on SQLite and
// on PostgreSQL (row lock of the read-modify-write).
func TestE050ConcurrentApprovals(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testConcurrentApprovals(t, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) { testConcurrentApprovals(t, newPostgresFixture(t)) })
}

func testConcurrentApprovals(t *testing.T, f *fixture) {
	ctx := t.Context()
	e := f.queued(t)
	var vers []string
	for i := range 6 {
		vers = append(vers, f.operator(t, "ver"+string(rune('a'+i)), RoleVerifier))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refused := 0, 0
	for _, v := range vers {
		wg.Go(func() {
			_, err := f.svc.Approve(ctx, e.ID, v, passAll)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrTransition):
				refused++
			default:
				t.Errorf("Approve: %v", err)
			}
		})
	}
	wg.Wait()
	ids, err := f.st.ListIdentities(ctx)
	must(t, "ListIdentities", err)
	if wins != 1 || refused != len(vers)-1 || len(ids) != 1 {
		t.Errorf("%d approvals won, %d refused, %d identities; want 1, %d, 1", wins, refused, len(ids), len(vers)-1)
	}
}

// E051: the recogniser cannot approve; the refusal is audited as denied
// and the request is unchanged. Agents cannot decide at all (E041).
func TestE051FourEyesAndE041AgentsCannotDecide(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	e := f.submitted(t, PathCounter, a, d)
	// A counter operator who is also a verifier recognises...
	both := f.operator(t, "both", RoleCounterOperator, RoleVerifier)
	_, err := f.svc.Recognise(ctx, e.ID, both, map[string]bool{"document_checked": true, "signed_form": true})
	must(t, "Recognise", err)
	before, _ := f.st.GetEnrolment(ctx, e.ID)
	// ...and may not approve, reject, ask for documents or claim.
	if _, err := f.svc.Approve(ctx, e.ID, both, passAll); !errors.Is(err, ErrFourEyes) {
		t.Errorf("self-approval: %v, want ErrFourEyes", err)
	}
	if err := f.svc.Reject(ctx, e.ID, both, []Reason{{Code: "document_illegible"}}); !errors.Is(err, ErrFourEyes) {
		t.Errorf("self-rejection: %v", err)
	}
	if _, err := f.svc.Claim(ctx, e.ID, both); !errors.Is(err, ErrFourEyes) {
		t.Errorf("self-claim: %v", err)
	}
	after, _ := f.st.GetEnrolment(ctx, e.ID)
	if after.State != before.State || string(after.Data) != string(before.Data) {
		t.Error("request changed")
	}
	acts := f.auditActions(t)
	if !slices.Contains(acts, "enrolment.approve:denied") {
		t.Errorf("self-approval not audited: %v", acts)
	}
	ids, _ := f.st.ListIdentities(ctx)
	if len(ids) != 0 {
		t.Error("identity created")
	}
	// E041: shop agents, counter operators and auditors cannot decide.
	for _, r := range []Role{RoleShopAgent, RoleCounterOperator, RoleAuditor, RoleCareAgent, RoleVideoOperator} {
		op := f.operator(t, "x-"+string(r), r)
		if _, err := f.svc.Approve(ctx, e.ID, op, passAll); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s approves: %v", r, err)
		}
		if err := f.svc.Reject(ctx, e.ID, op, []Reason{{Code: "document_illegible"}}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s rejects: %v", r, err)
		}
	}
	// A disabled verifier neither.
	dis := f.operator(t, "gone", RoleVerifier)
	must(t, "disable", f.st.UpdateOperator(ctx, dis, func(o storage.Operator) (storage.Operator, error) {
		o.Status = storage.OperatorDisabled
		return o, nil
	}))
	if _, err := f.svc.Approve(ctx, e.ID, dis, passAll); !errors.Is(err, ErrForbidden) {
		t.Errorf("disabled verifier: %v", err)
	}
	// Another verifier may.
	other := f.operator(t, "ver2", RoleVerifier)
	_, err = f.svc.Approve(ctx, e.ID, other, passAll)
	must(t, "Approve by another", err)
}

// Claims lock a request for 30 minutes against other verifiers.
func TestClaimLock(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	v1, v2 := f.operator(t, "ver1", RoleVerifier), f.operator(t, "ver2", RoleVerifier)
	_, err := f.svc.Claim(ctx, e.ID, v1)
	must(t, "Claim", err)
	if _, err := f.svc.Claim(ctx, e.ID, v2); !errors.Is(err, ErrClaimed) {
		t.Errorf("second claim: %v", err)
	}
	if _, err := f.svc.Approve(ctx, e.ID, v2, passAll); !errors.Is(err, ErrClaimed) {
		t.Errorf("approve under another's claim: %v", err)
	}
	f.clk.Advance(ClaimLock)
	_, err = f.svc.Claim(ctx, e.ID, v2)
	must(t, "Claim after the lock lapsed", err)
	if err := f.svc.Release(ctx, e.ID, v1); !errors.Is(err, ErrClaimed) {
		t.Errorf("release by non-holder: %v", err)
	}
	must(t, "Release", f.svc.Release(ctx, e.ID, v2))
	_, err = f.svc.Approve(ctx, e.ID, v1, passAll)
	must(t, "Approve", err)
}

// E052: a rejection needs a reason; the e-mail lists every reason with its
// corrective action in Italian and English, and names no fraud detail.
func TestE052RejectionReasonsInEmail(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	if err := f.svc.Reject(ctx, e.ID, ver, nil); !errors.Is(err, ErrNotReady) {
		t.Errorf("no reason: %v", err)
	}
	if err := f.svc.Reject(ctx, e.ID, ver, []Reason{{Code: "bogus"}}); err == nil {
		t.Error("unknown reason accepted")
	}
	if err := f.svc.Reject(ctx, e.ID, ver, []Reason{{Code: "data_mismatch"}}); err == nil {
		t.Error("data_mismatch without a field accepted")
	}
	if f.state(t, e.ID) != StateAwaitingProcessing {
		t.Fatal("refused rejections changed the state")
	}
	rs := []Reason{{Code: "document_expired"}, {Code: "data_mismatch", Field: "familyName", Note: "internal note"}, {Code: "face_mismatch"}}
	must(t, "Reject", f.svc.Reject(ctx, e.ID, ver, rs))
	m := f.mails.last(t)
	for _, r := range rs {
		for _, lang := range []string{"it", "en"} {
			if !strings.Contains(m.Text, r.CorrectiveAction(lang)) || !strings.Contains(m.Text, r.Title(lang)) {
				t.Errorf("e-mail lacks %s (%s): %q", r.Code, lang, m.Text)
			}
		}
	}
	if strings.Contains(m.Text, "internal note") || !strings.Contains(m.Text, "Anna Verdi") {
		t.Error("note leaked or responsible missing")
	}
	_, r, _ := f.svc.Get(ctx, e.ID)
	if len(r.Reasons) != 3 || r.DecidedBy != ver {
		t.Errorf("stored outcome %+v", r)
	}
	// suspected_fraud: no detail.
	g := newFixture(t)
	e2 := g.queued(t)
	v := g.operator(t, "ver1", RoleVerifier)
	must(t, "Reject fraud", g.svc.Reject(ctx, e2.ID, v, []Reason{{Code: "suspected_fraud", Note: "document forged"}}))
	if txt := g.mails.last(t).Text; strings.Contains(txt, "forged") || strings.Contains(strings.ToLower(txt), "fraud") {
		t.Errorf("fraud e-mail names a detail: %q", txt)
	}
}

// E053: corrected within 30 days → awaiting_processing with a new clock;
// after 30 days → closed by the timer. E054: face_mismatch → awaiting_recognition.
func TestE053E054Resubmission(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	must(t, "Reject", f.svc.Reject(ctx, e.ID, ver, []Reason{{Code: "document_illegible"}}))
	f.clk.Set(time.Date(2026, 12, 1, 9, 0, 0, 0, rome())) // Tuesday
	got, err := f.svc.Resubmit(ctx, e.ID)
	must(t, "Resubmit", err)
	if State(got.State) != StateAwaitingProcessing || !got.QueuedAt.Equal(f.clk.Now()) ||
		!got.DeadlineAt.Equal(time.Date(2026, 12, 3, 9, 0, 0, 0, rome())) {
		t.Errorf("resubmitted: %s queued %v deadline %v", got.State, got.QueuedAt, got.DeadlineAt)
	}

	// Too late: refused, then closed by the timer.
	g := newFixture(t)
	e2 := g.queued(t)
	v := g.operator(t, "ver1", RoleVerifier)
	must(t, "Reject", g.svc.Reject(ctx, e2.ID, v, []Reason{{Code: "document_illegible"}}))
	g.clk.Advance(CorrectionWindow + time.Minute)
	if _, err := g.svc.Resubmit(ctx, e2.ID); !errors.Is(err, ErrNotCorrectable) {
		t.Errorf("late resubmission: %v", err)
	}
	n, err := g.svc.RunTimers(ctx)
	must(t, "RunTimers", err)
	if n != 1 || g.state(t, e2.ID) != StateClosed {
		t.Errorf("timers moved %d, state %s; want 1 and closed", n, g.state(t, e2.ID))
	}

	// E054.
	h := newFixture(t)
	e3 := h.queued(t)
	v3 := h.operator(t, "ver1", RoleVerifier)
	must(t, "Reject", h.svc.Reject(ctx, e3.ID, v3, []Reason{{Code: "face_mismatch"}, {Code: "document_illegible"}}))
	got, err = h.svc.Resubmit(ctx, e3.ID)
	must(t, "Resubmit", err)
	_, r, _ := h.svc.Get(ctx, e3.ID)
	if State(got.State) != StateAwaitingRecognition || r.Recognition != nil || !got.DeadlineAt.IsZero() {
		t.Errorf("face_mismatch resubmitted to %s (recognition %+v)", got.State, r.Recognition)
	}
	// Final reasons cannot be corrected.
	k := newFixture(t)
	e4 := k.queued(t)
	v4 := k.operator(t, "ver1", RoleVerifier)
	must(t, "Reject", k.svc.Reject(ctx, e4.ID, v4, []Reason{{Code: "underage"}}))
	if _, err := k.svc.Resubmit(ctx, e4.ID); !errors.Is(err, ErrNotCorrectable) {
		t.Errorf("underage resubmitted: %v", err)
	}
}

// E055: cancelling a request awaiting payment needs an explicit confirmation.
func TestE055CancelAwaitingPaymentNeedsConfirmation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e, err := f.svc.Start(ctx, TypePersonal, PathVideo, "")
	must(t, "Start", err)
	// Payment is out of this package; put the request there directly.
	must(t, "to awaiting_payment", f.st.UpdateEnrolment(ctx, e.ID, func(x storage.Enrolment) (storage.Enrolment, error) {
		x.State = string(StateAwaitingPayment)
		return x, nil
	}))
	if err := f.svc.Cancel(ctx, e.ID, false); !errors.Is(err, ErrNotReady) {
		t.Errorf("unconfirmed cancel: %v", err)
	}
	if f.state(t, e.ID) != StateAwaitingPayment {
		t.Fatal("cancelled without confirmation")
	}
	must(t, "Cancel", f.svc.Cancel(ctx, e.ID, true))
	if f.state(t, e.ID) != StateCancelled {
		t.Error("not cancelled")
	}
	// A draft is cancelled without the extra step.
	e2, _ := f.svc.Start(ctx, TypePersonal, PathVideo, "")
	must(t, "Cancel draft", f.svc.Cancel(ctx, e2.ID, false))
}

// E056: valid_until = issue + 2 years (personal) or 1 year (professional);
// 29 February gives 28 February.
func TestE056Validity(t *testing.T) {
	leap := time.Date(2028, 2, 29, 12, 0, 0, 0, rome())
	for _, tc := range []struct {
		from time.Time
		typ  string
		want string
	}{
		{t0, TypePersonal, "2028-11-20"},
		{t0, TypeProfessional, "2027-11-20"},
		{t0, TypeProfessionalLegal, "2027-11-20"},
		{leap, TypePersonal, "2030-02-28"},
		{leap, TypeProfessional, "2029-02-28"},
	} {
		if got := civil(validUntil(tc.from, tc.typ, rome())); got != tc.want {
			t.Errorf("%s %s: %s, want %s", civil(tc.from), tc.typ, got, tc.want)
		}
	}
	// Through Approve: the identity's expirationDate, pending status and spidCode.
	f := newFixture(t)
	f.clk.Set(leap)
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	idn, err := f.svc.Approve(t.Context(), e.ID, ver, passAll)
	must(t, "Approve", err)
	if idn.Attributes["expirationDate"] != "2030-02-28" || idn.Status != storage.IdentityPending ||
		!regexp.MustCompile(`^TEST[A-Z0-9]{10}$`).MatchString(idn.Attributes["spidCode"]) {
		t.Errorf("identity %+v", idn)
	}
	if idn.Attributes["fiscalNumber"] != "TINIT-RSSMRA80A01H501U" || idn.Attributes["idCard"] != "cartaIdentita CA12345AB ComuneRoma 2021-03-01 2031-03-01" ||
		idn.Attributes["mobilePhone"] != "+393331234567" || idn.Type != storage.IdentityCitizen {
		t.Errorf("attributes %v", idn.Attributes)
	}
	_, r, _ := f.svc.Get(t.Context(), e.ID)
	if r.IdentityID != idn.ID || r.DecidedBy != ver {
		t.Errorf("outcome %+v", r)
	}
}

// E057: each timer of §6.5 fires once, even with two schedulers at once.
func TestE057TimersOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testTimersOnce(t, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) { testTimersOnce(t, newPostgresFixture(t)) })
}

func testTimersOnce(t *testing.T, f *fixture) {
	ctx := t.Context()
	_, d := mario()
	draft, err := f.svc.Start(ctx, TypePersonal, PathVideo, "")
	must(t, "Start", err)
	recog := f.submitted(t, PathShop, mustApplicant(t, "Luisa", "Bianchi", "1985-07-12", "F", "luisa@example.it", "+393401112222"), d)
	docs := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	must(t, "AskDocuments", f.svc.AskDocuments(ctx, docs.ID, ver, []string{"tessera sanitaria"}))

	f.clk.Advance(DocumentsTimeout + time.Hour) // drafts (30 d) and document waits (30 d) are due
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Go(func() {
			n, err := f.svc.RunTimers(ctx)
			if err != nil {
				t.Errorf("RunTimers: %v", err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != 2 {
		t.Errorf("moved %v, want 2 in total", counts)
	}
	if f.state(t, draft.ID) != StateExpired || f.state(t, docs.ID) != StateRejected || f.state(t, recog.ID) != StateAwaitingRecognition {
		t.Errorf("states: draft %s, docs %s, recog %s", f.state(t, draft.ID), f.state(t, docs.ID), f.state(t, recog.ID))
	}
	_, r, _ := f.svc.Get(ctx, docs.ID)
	if len(r.Reasons) != 1 || r.Reasons[0].Code != "documents_not_received" {
		t.Errorf("reasons %+v", r.Reasons)
	}
	f.clk.Advance(RecognitionTimeout)
	n, err := f.svc.RunTimers(ctx)
	must(t, "RunTimers", err)
	// The recognition wait expires; the rejected one closes.
	if n != 2 || f.state(t, recog.ID) != StateExpired || f.state(t, docs.ID) != StateClosed {
		t.Errorf("second run moved %d: recog %s docs %s", n, f.state(t, recog.ID), f.state(t, docs.ID))
	}
	if n, _ := f.svc.RunTimers(ctx); n != 0 {
		t.Errorf("third run moved %d", n)
	}
}

// E058: the activation link works once, only with a valid SMS code of
// purpose activate_identity, and expires after 72 hours. E061/E064: the
// password policy applies and the password is stored only as argon2id.
func TestE058ActivationLink(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testActivationLink(t, newFixture, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) { testActivationLink(t, newPostgresFixture, newPostgresFixture(t)) })
}

func testActivationLink(t *testing.T, newFixture func(*testing.T) *fixture, f *fixture) {
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	idn, err := f.svc.Approve(ctx, e.ID, ver, passAll)
	must(t, "Approve", err)
	m := f.mails.last(t)
	if !strings.Contains(m.Text, "https://idp.example.it/activate?token=") || m.To != "mario.rossi@example.it" {
		t.Fatalf("activation e-mail: %+v", m)
	}
	tok := tokenFrom(t, m.Text)
	if len(tok) < 43 {
		t.Errorf("token %q shorter than 32 random bytes", tok)
	}
	// Only the hash is stored.
	if _, err := f.st.GetToken(ctx, tok, PurposeActivate, f.clk.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Error("the secret itself is a stored key")
	}
	if _, err := f.st.GetToken(ctx, TokenHash(tok), PurposeActivate, f.clk.Now()); err != nil {
		t.Errorf("hash not stored: %v", err)
	}
	// Without a code, with a wrong code, with a code of another purpose.
	if _, err := f.svc.Activate(ctx, tok, "123456", "mario.rossi", "Str0ng-Passw0rd!"); err == nil {
		t.Fatal("activation without an SMS code")
	}
	must(t, "SendActivationCode", f.svc.SendActivationCode(ctx, tok))
	code := f.phone.lastCode(t)
	// Weak password, reserved username: refused with the rule, the link
	// and the SMS code stay usable (issue 12: the code is not spent).
	_, err = f.svc.Activate(ctx, tok, code, "mario.rossi", "Mario-1980-x")
	var ps identity.Problems
	if !errors.As(err, &ps) || !slices.Contains(ps, identity.PasswordPersonal) {
		t.Errorf("personal data in password: %v", err)
	}
	if _, err := f.svc.Activate(ctx, tok, code, "pending.x", "Str0ng-Passw0rd!"); err == nil {
		t.Error("reserved username accepted")
	}
	const pw = "Str0ng-Passw0rd!"
	got, err := f.svc.Activate(ctx, tok, code, "Mario.Rossi", pw)
	must(t, "Activate", err)
	if got.Status != storage.IdentityActive || got.Username != "mario.rossi" || got.ID != idn.ID {
		t.Errorf("activated %+v", got)
	}
	c, err := f.st.GetCredential(ctx, idn.ID)
	must(t, "GetCredential", err)
	if ok, err := password.Verify(c.PasswordHash, pw); !ok || err != nil || !strings.HasPrefix(c.PasswordHash, "$argon2id$") {
		t.Errorf("credential %q does not verify: %v", c.PasswordHash, err)
	}
	// Used: refused, nothing more changes.
	if err := f.svc.SendActivationCode(ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("code for a used link: %v", err)
	}
	if _, err := f.svc.Activate(ctx, tok, code, "mario2", pw); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("second activation: %v", err)
	}
	// E064: the password is in no e-mail, SMS or audit record.
	for _, m := range f.mails.all() {
		if strings.Contains(m.Text, pw) || strings.Contains(m.Text, "RSSMRA80A01H501U") {
			t.Errorf("e-mail carries the password or the full CF: %q", m.Subject)
		}
	}
	evs, _ := f.st.ListAudit(ctx, 0, 1000)
	for _, ev := range evs {
		for k, v := range ev.Details {
			if strings.Contains(v, pw) || strings.Contains(v, tok) {
				t.Errorf("audit %s detail %s carries a secret", ev.Action, k)
			}
		}
	}

	// Expiry: 72 hours.
	g := newFixture(t)
	e2 := g.queued(t)
	v2 := g.operator(t, "ver1", RoleVerifier)
	_, err = g.svc.Approve(ctx, e2.ID, v2, passAll)
	must(t, "Approve", err)
	tok2 := tokenFrom(t, g.mails.last(t).Text)
	g.clk.Advance(ActivationLinkTTL - time.Minute)
	must(t, "SendActivationCode just before expiry", g.svc.SendActivationCode(ctx, tok2))
	code2 := g.phone.lastCode(t)
	g.clk.Advance(time.Minute)
	if _, err := g.svc.Activate(ctx, tok2, code2, "mario.rossi", pw); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("after 72 h: %v", err)
	}
}

// SMS codes of another purpose do not activate (E069 at this boundary).
func TestActivationCodeOfOtherPurpose(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	idn, err := f.svc.Approve(ctx, e.ID, ver, passAll)
	must(t, "Approve", err)
	tok := tokenFrom(t, f.mails.last(t).Text)
	must(t, "send login code", f.svc.SMS.Send(ctx, activationTx(TokenHash(tok)), idn.ID, "+393331234567", otp.PurposeLogin))
	if _, err := f.svc.Activate(ctx, tok, f.phone.lastCode(t), "mario.rossi", "Str0ng-Passw0rd!"); err == nil {
		t.Error("a login code activated the identity")
	}
}

// E036: a video request cannot be approved without its recording.
func TestE036VideoNeedsRecording(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	e := f.submitted(t, PathVideo, a, d)
	video := f.operator(t, "video1", RoleVideoOperator)
	if _, err := f.svc.Recognise(ctx, e.ID, video, map[string]bool{"document_shown": true, "face_match": false}); !errors.Is(err, ErrNotReady) {
		t.Errorf("unticked checklist: %v", err)
	}
	_, err := f.svc.Recognise(ctx, e.ID, video, map[string]bool{"document_shown": true, "face_match": true})
	must(t, "Recognise", err)
	ver := f.operator(t, "ver1", RoleVerifier)
	if _, err := f.svc.Approve(ctx, e.ID, ver, passAll); !errors.Is(err, ErrNotReady) {
		t.Errorf("approval without recording: %v", err)
	}
	if f.state(t, e.ID) != StateAwaitingProcessing {
		t.Error("state changed")
	}
	// System paths are recognised by the system only, others never by it.
	a2 := mustApplicant(t, "Luisa", "Bianchi", "1985-07-12", "F", "luisa@example.it", "+393401112222")
	g := newFixture(t)
	e2 := g.submitted(t, PathCNS, a2, d)
	agent := g.operator(t, "agent", RoleShopAgent)
	if _, err := g.svc.Recognise(ctx, e2.ID, agent, map[string]bool{"ok": true}); !errors.Is(err, ErrForbidden) {
		t.Errorf("agent recognising a CNS request: %v", err)
	}
	got, err := g.svc.Recognise(ctx, e2.ID, "system", map[string]bool{"certificate_chain": true, "cf_match": true})
	must(t, "system recognition", err)
	if State(got.State) != StateAwaitingProcessing {
		t.Errorf("state %s", got.State)
	}
}

// E042: a counter_public_official request waits in awaiting_documents
// until the signed form is uploaded.
func TestE042PublicOfficialWaitsForForm(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	e := f.submitted(t, PathCounterPublicOfficial, a, d)
	clerk := f.operator(t, "clerk", RoleCounterOperator)
	got, err := f.svc.Recognise(ctx, e.ID, clerk, map[string]bool{"document_checked": true})
	must(t, "Recognise", err)
	if State(got.State) != StateAwaitingDocuments || !got.DeadlineAt.IsZero() {
		t.Fatalf("state %s deadline %v", got.State, got.DeadlineAt)
	}
	must(t, "AddEvidence", f.svc.AddEvidence(ctx, e.ID, evidence.Item{ID: "ev-9", Kind: "adhesion_form_signed", SHA256: "00", UploadedBy: "applicant"}))
	f.clk.Set(time.Date(2026, 11, 23, 9, 0, 0, 0, rome()))
	got, err = f.svc.DocumentsReceived(ctx, e.ID, "applicant")
	must(t, "DocumentsReceived", err)
	if State(got.State) != StateAwaitingProcessing || !got.DeadlineAt.Equal(time.Date(2026, 11, 25, 9, 0, 0, 0, rome())) {
		t.Errorf("state %s deadline %v", got.State, got.DeadlineAt)
	}
}

// Every transition leaves an audit record with actor, before and after.
func TestTransitionsAudited(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	_, err := f.svc.Approve(ctx, e.ID, ver, passAll)
	must(t, "Approve", err)
	evs, _ := f.st.ListAudit(ctx, 0, 1000)
	var got []string
	for _, ev := range evs {
		if ev.Details["to"] != "" && ev.Details["from"] != ev.Details["to"] {
			got = append(got, ev.Actor+" "+ev.Details["from"]+"→"+ev.Details["to"])
		}
	}
	want := []string{"applicant draft→awaiting_recognition", "op-video1 awaiting_recognition→awaiting_processing",
		"op-ver1 awaiting_processing→approved"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("audit lacks %q: %v", w, got)
		}
	}
	if !slices.Contains(f.auditActions(t), "identity.issue:success") {
		t.Error("identity issue not audited")
	}
}

// §7.1: a lost or expired link is replaced after an SMS code to the
// verified mobile; the new link activates.
func TestNewActivationLink(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	_, err := f.svc.Approve(ctx, e.ID, ver, passAll)
	must(t, "Approve", err)
	f.clk.Advance(ActivationLinkTTL + time.Hour)
	if err := f.svc.SendNewLinkCode(ctx, "NOSUCHCODE"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("unknown code: %v", err)
	}
	must(t, "SendNewLinkCode", f.svc.SendNewLinkCode(ctx, strings.ToLower(FormatCode(e.Code))))
	if err := f.svc.NewActivationLink(ctx, e.Code, "000000"); err == nil && f.phone.lastCode(t) != "000000" {
		t.Error("wrong code accepted")
	}
	must(t, "SendNewLinkCode", f.svc.SendNewLinkCode(ctx, e.Code))
	mails := len(f.mails.all())
	must(t, "NewActivationLink", f.svc.NewActivationLink(ctx, e.Code, f.phone.lastCode(t)))
	if len(f.mails.all()) != mails+1 {
		t.Fatal("no new e-mail")
	}
	tok := tokenFrom(t, f.mails.last(t).Text)
	must(t, "SendActivationCode", f.svc.SendActivationCode(ctx, tok))
	idn, err := f.svc.Activate(ctx, tok, f.phone.lastCode(t), "mario.rossi", "Str0ng-Passw0rd!")
	must(t, "Activate", err)
	if idn.Status != storage.IdentityActive {
		t.Errorf("status %s", idn.Status)
	}
	// Once active, no more links.
	if err := f.svc.SendNewLinkCode(ctx, e.Code); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("link for an active identity: %v", err)
	}
}

// 5 % of approvals go to the supervisors' re-check, drawn at random.
func TestRecheckSampling(t *testing.T) {
	n := 0
	for range 20000 {
		s, err := sampleRecheck()
		must(t, "sampleRecheck", err)
		if s {
			n++
		}
	}
	if n < 850 || n > 1150 { // 1000 expected, σ ≈ 31
		t.Errorf("%d of 20000 sampled, want about 1000", n)
	}
}

// §6.4: approval needs every §6.1 checklist item passed; the checklist is
// kept with who and when. Face match applies to in-person and video paths,
// company representation to professional_legal only.
func TestApprovalNeedsVerifierChecklist(t *testing.T) {
	if slices.Contains(VerifierChecklist(PathCNS, TypePersonal), "face_match") ||
		!slices.Contains(VerifierChecklist(PathShop, TypePersonal), "face_match") ||
		!slices.Contains(VerifierChecklist(PathCNS, TypeProfessionalLegal), "company_representation") {
		t.Error("checklist does not depend on path and type as §6.1 says")
	}
	f := newFixture(t)
	ctx := t.Context()
	e := f.queued(t)
	ver := f.operator(t, "ver1", RoleVerifier)
	partial := map[string]bool{}
	for _, i := range VerifierChecklist(PathVideo, TypePersonal) {
		partial[i] = true
	}
	partial["face_match"] = false
	if _, err := f.svc.Approve(ctx, e.ID, ver, partial); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "face_match") {
		t.Errorf("failed item: %v", err)
	}
	delete(partial, "face_match")
	delete(partial, "no_duplicate")
	if _, err := f.svc.Approve(ctx, e.ID, ver, partial); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "no_duplicate, face_match") {
		t.Errorf("missing items: %v", err)
	}
	if f.state(t, e.ID) != StateAwaitingProcessing {
		t.Fatal("state changed")
	}
	_, err := f.svc.Approve(ctx, e.ID, ver, passAll)
	must(t, "Approve", err)
	_, r, _ := f.svc.Get(ctx, e.ID)
	if r.Verification == nil || r.Verification.By != ver || !r.Verification.At.Equal(t0) || !r.Verification.Items["tax_registry_confirmed"] {
		t.Errorf("verification %+v", r.Verification)
	}
}

// Professional identities: type 3 with its VAT number, type 4 with the
// company's data; both valid one year (E056), attributes in release form.
func TestProfessionalIdentities(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	a.IvaCode = "12345670017"
	e, err := f.svc.Start(ctx, TypeProfessional, PathCNS, "")
	must(t, "Start", err)
	must(t, "SetApplicant", f.svc.SetApplicant(ctx, e.ID, a, d, nil))
	_, r, _ := f.svc.Get(ctx, e.ID)
	if r.Applicant.IvaCode != "VATIT-12345670017" {
		t.Errorf("ivaCode stored as %q", r.Applicant.IvaCode)
	}
	bad := a
	bad.IvaCode = "12345670018"
	if err := f.svc.SetApplicant(ctx, e.ID, bad, d, nil); err == nil || !strings.Contains(err.Error(), "ivaCode") {
		t.Errorf("bad partita IVA: %v", err)
	}

	e4, err := f.svc.Start(ctx, TypeProfessionalLegal, PathCNS, "")
	must(t, "Start", err)
	if err := f.svc.SetApplicant(ctx, e4.ID, a, d, nil); err == nil || !strings.Contains(err.Error(), "company") {
		t.Errorf("type 4 without company: %v", err)
	}

	// Through approval: a fresh fixture per type so the CF is not a duplicate.
	for _, tc := range []struct {
		typ     string
		company *Company
		want    storage.IdentityType
	}{
		{TypeProfessional, nil, storage.IdentityProfessional},
		{TypeProfessionalLegal, &Company{Name: "Rossi Srl", FiscalNumber: "12345670017", IvaCode: "12345670017"}, storage.IdentityProfessionalForLegal},
	} {
		g := newFixture(t)
		e, err := g.svc.Start(ctx, tc.typ, PathCNS, "")
		must(t, "Start", err)
		must(t, "SetApplicant", g.svc.SetApplicant(ctx, e.ID, a, d, tc.company))
		must(t, "SendEmailLink", g.svc.SendEmailLink(ctx, e.ID))
		_, err = g.svc.ConfirmEmail(ctx, tokenFrom(t, g.mails.last(t).Text))
		must(t, "ConfirmEmail", err)
		must(t, "SendMobileCode", g.svc.SendMobileCode(ctx, e.ID))
		must(t, "ConfirmMobile", g.svc.ConfirmMobile(ctx, e.ID, g.phone.lastCode(t)))
		must(t, "AcceptConsents", g.svc.AcceptConsents(ctx, e.ID, Consents{PrivacyVersion: "1", TermsVersion: "1", Declaration: true}, "192.0.2.9"))
		must(t, "SendSignCode", g.svc.SendSignCode(ctx, e.ID))
		_, err = g.svc.Submit(ctx, e.ID, g.phone.lastCode(t))
		must(t, "Submit", err)
		_, err = g.svc.Recognise(ctx, e.ID, "system", map[string]bool{"certificate_chain": true, "cf_match": true})
		must(t, "Recognise", err)
		idn, err := g.svc.Approve(ctx, e.ID, g.operator(t, "ver", RoleVerifier), passAll)
		must(t, "Approve "+tc.typ, err)
		if idn.Type != tc.want || idn.Attributes["expirationDate"] != "2027-11-20" || idn.Attributes["ivaCode"] != "VATIT-12345670017" {
			t.Errorf("%s: type %d attributes %v", tc.typ, idn.Type, idn.Attributes)
		}
		if tc.company != nil && (idn.Attributes["companyName"] != "Rossi Srl" || idn.Attributes["companyFiscalNumber"] == "") {
			t.Errorf("company attributes %v", idn.Attributes)
		}
	}
}

// Paid offers wait in awaiting_payment after submission (§6.5); payment
// moves them on to recognition; an unpaid request is never recognised.
func TestPaidOfferAwaitsPayment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.svc.Price = func(path, _ string) int64 {
		if path == PathVideo {
			return 1990
		}
		return 0
	}
	a, d := mario()
	e := f.submitted(t, PathVideo, a, d)
	if State(e.State) != StateAwaitingPayment {
		t.Fatalf("state %s", e.State)
	}
	if m := f.mails.last(t).Text; !strings.Contains(m, "19,90 EUR") || !strings.Contains(m, FormatCode(e.Code)) {
		t.Errorf("submission e-mail: %q", m)
	}
	video := f.operator(t, "video1", RoleVideoOperator)
	if _, err := f.svc.Recognise(ctx, e.ID, video, map[string]bool{"ok": true}); !errors.Is(err, ErrTransition) {
		t.Errorf("recognition before payment: %v", err)
	}
	if _, err := f.svc.Pay(ctx, e.ID, "system", "cash", "x"); err == nil {
		t.Error("unknown payment method accepted")
	}
	got, err := f.svc.Pay(ctx, e.ID, "system", "card", "psp-123")
	must(t, "Pay", err)
	_, r, _ := f.svc.Get(ctx, e.ID)
	if State(got.State) != StateAwaitingRecognition || r.Payment.State != "paid" || r.Payment.Method != "card" || !r.Payment.PaidAt.Equal(t0) {
		t.Errorf("after payment: %s %+v", got.State, r.Payment)
	}
	if _, err := f.svc.Pay(ctx, e.ID, "system", "card", "psp-124"); !errors.Is(err, ErrTransition) {
		t.Errorf("paid twice: %v", err)
	}
	// Free paths skip the payment state.
	g := newFixture(t)
	g.svc.Price = f.svc.Price
	if e := g.submitted(t, PathShop, a, d); State(e.State) != StateAwaitingRecognition {
		t.Errorf("free path: %s", e.State)
	}
}
