// Package care is the customer-care desk (enrolment-lifecycle.md §11,
// ui.md §10): trouble tickets following the six steps of §11.2, formal
// complaints with their 14-day deadline (§11.4), the citizen's web forms,
// and the desk where care agents answer, register complaints received by
// PEC or letter, and suspend an identity after verifying the caller.
package care

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
	netmail "net/mail"
)

// Ticket states (§11.2).
const (
	StateReceived         = "received"
	StateOpen             = "open"
	StateInProgress       = "in_progress"
	StateWaitingRequester = "waiting_requester"
	StateEscalated        = "escalated"
	StateSolutionReady    = "solution_ready"
	StateSolved           = "solved"
	StateClosed           = "closed"
)

// StateEmailPending: filed through the public form, waiting for the
// requester to open the e-mail link (E110); the desk does not see it.
const StateEmailPending = "email_pending"

// EmailLinkTTL is how long the confirmation link works (§13).
const EmailLinkTTL = 24 * time.Hour

// Complaint states (§11.4): assigned at filing (the deadline runs from
// then), answered when the answer is e-mailed, closed afterwards.
const (
	StateAssigned = "assigned"
	StateAnswered = "answered"
)

// Categories are the eight LG-STAT T8 application areas (§11.2).
var Categories = []string{"information", "identity_issuing", "identity_use", "suspension", "revocation",
	"attribute_management", "errors", "other"}

// Channels a ticket can arrive through (§11.1), with their LG-STAT code.
var Channels = map[string]int{"phone": 1, "web": 2, "email": 2, "pec": 2, "letter": 2, "chat": 3, "counter": 4}

// ticketMoves are the transitions of §11.2 (E105); answering moves
// solution_ready → solved, the clock moves solved → closed.
var ticketMoves = map[string][]string{
	StateReceived:         {StateOpen},
	StateOpen:             {StateInProgress, StateWaitingRequester, StateEscalated, StateSolutionReady},
	StateInProgress:       {StateWaitingRequester, StateEscalated, StateSolutionReady},
	StateWaitingRequester: {StateInProgress},
	StateEscalated:        {StateInProgress, StateSolutionReady},
	StateSolutionReady:    {StateInProgress},
	StateSolved:           {StateInProgress, StateClosed},
}

// Limits of what a requester may send.
const (
	MaxAttachments = 3
	MaxText        = 8000 // characters of a message
	MaxShort       = 200  // characters of a subject, product or name
	// ClosingDelay: a solved ticket without reply closes after 7 days [DEC].
	ClosingDelay = 7 * 24 * time.Hour
	// AnswerDays is the complaint deadline (§11.4).
	AnswerDays = 14
	// AtRisk: a complaint due within 3 days is flagged (§11.4, E109).
	AtRisk = 3 * 24 * time.Hour
)

// Errors callers map to messages.
var (
	ErrInvalid    = errors.New("care: invalid request")
	ErrTransition = errors.New("care: transition not allowed")
	ErrForbidden  = errors.New("care: not allowed for this role")
	ErrAttachment = errors.New("care: attachment refused")
)

// Mailer sends e-mail (notify/mail's Outbox or SMTP).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Service holds the rules; the HTTP handlers call it.
type Service struct {
	Store    storage.Tickets
	Evidence *evidence.Store // nil: attachments are refused
	Mail     Mailer
	Audit    *audit.Logger
	Now      func() time.Time
	// Brand signs the e-mails; ADRBody names the out-of-court
	// dispute-resolution body complaint answers cite (§11.4, decision 12).
	Brand   string
	ADRBody string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// rome is where complaint deadlines end (§11.4 [DEC]).
var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err) // time/tzdata is embedded by the templates package
	}
	return l
}()

// Deadline is the complaint answer deadline for an assignment at t: the
// assignment date + 14 calendar days, 23:59:59 Europe/Rome (E107).
func Deadline(t time.Time) time.Time {
	d := t.In(rome)
	return time.Date(d.Year(), d.Month(), d.Day()+AnswerDays, 23, 59, 59, 0, rome).UTC()
}

// Deadline statuses of an open complaint.
const (
	DeadlineOnTime   = "on_time"
	DeadlineAtRisk   = "at_risk"
	DeadlineLate     = "late"
	DeadlineAnswered = "answered"
)

// DeadlineStatus says where a complaint stands against its deadline at now.
func DeadlineStatus(t storage.Ticket, now time.Time) string {
	switch {
	case t.Kind != storage.TicketKindComplaint || t.DeadlineAt.IsZero():
		return ""
	case !t.AnsweredAt.IsZero() || t.State == StateAnswered || t.State == StateClosed:
		return DeadlineAnswered
	case now.After(t.DeadlineAt):
		return DeadlineLate
	case t.DeadlineAt.Sub(now) <= AtRisk:
		return DeadlineAtRisk
	}
	return DeadlineOnTime
}

// Actor is who acts at the desk.
type Actor struct {
	ID    string // operator ID, or "requester"
	Roles []string
}

func (a Actor) has(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(a.Roles, r) {
			return true
		}
	}
	return false
}

// deskRoles may work tickets and complaints (§2).
var deskRoles = []string{"care_agent", "supervisor"}

// Upload is one file a requester or agent attaches.
type Upload struct {
	Name string
	Body io.Reader
}

// Request is what a citizen or an agent files.
type Request struct {
	Kind         string // storage.TicketKind…
	Channel      string
	Product      string
	Subject      string
	Message      string
	ContactEmail string
	ContactName  string
	IdentityID   string
	Category     string // optional at filing
	Uploads      []Upload
	// ReceivedAt is when a PEC or letter arrived; zero: now.
	ReceivedAt time.Time
	// Unverified: the requester is not signed in; the ticket waits in
	// StateEmailPending until Confirm (E110) and no acknowledgement is sent.
	Unverified bool
}

// crockford is the alphabet of references: no I, L, O, U to misread.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newReference makes a human-readable, random reference: TT-2026-7K3M9Q2X
// for tickets, RC-… for complaints.
func newReference(kind string, now time.Time) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = crockford[int(b[i])%len(crockford)]
	}
	prefix := "TT"
	if kind == storage.TicketKindComplaint {
		prefix = "RC"
	}
	return fmt.Sprintf("%s-%d-%s", prefix, now.In(rome).Year(), b), nil
}

func checkText(field, v string, limit int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fmt.Errorf("%w: %s is required", ErrInvalid, field)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return fmt.Errorf("%w: %s is not valid text", ErrInvalid, field)
	case utf8.RuneCountInString(v) > limit:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalid, field, limit)
	case limit <= MaxShort && strings.IndexFunc(v, unicode.IsControl) >= 0:
		// One-line fields end up in e-mail headers and file names.
		return fmt.Errorf("%w: %s contains a line break or control character", ErrInvalid, field)
	}
	return nil
}

func (r Request) check() error {
	if r.Kind != storage.TicketKindTicket && r.Kind != storage.TicketKindComplaint {
		return fmt.Errorf("%w: kind %q", ErrInvalid, r.Kind)
	}
	if _, ok := Channels[r.Channel]; !ok {
		return fmt.Errorf("%w: channel %q", ErrInvalid, r.Channel)
	}
	if r.Category != "" && !slices.Contains(Categories, r.Category) {
		return fmt.Errorf("%w: category %q", ErrInvalid, r.Category)
	}
	for _, c := range []struct {
		f, v     string
		n        int
		required bool
	}{{"product", r.Product, MaxShort, false}, {"subject", r.Subject, MaxShort, true},
		{"message", r.Message, MaxText, true}, {"name", r.ContactName, MaxShort, false}} {
		if err := checkText(c.f, c.v, c.n, c.required); err != nil {
			return err
		}
	}
	if _, err := netmail.ParseAddress(r.ContactEmail); err != nil || strings.ContainsAny(r.ContactEmail, "\r\n<>") {
		return fmt.Errorf("%w: reply e-mail %q is not an address", ErrInvalid, r.ContactEmail)
	}
	if len(r.Uploads) > MaxAttachments {
		return fmt.Errorf("%w: at most %d attachments", ErrAttachment, MaxAttachments)
	}
	return nil
}

// dangerous names are refused before their content is read, whatever the
// sniffer would say: an agent opening them is the risk.
var dangerous = []string{".exe", ".com", ".bat", ".cmd", ".scr", ".js", ".vbs", ".msi", ".ps1", ".jar",
	".html", ".htm", ".svg", ".xhtml", ".hta", ".dll", ".sh", ".apk"}

// store puts the uploads in the evidence store; on any refusal the ones
// already stored are deleted, so nothing is kept (E020, E111).
func (s *Service) store(ctx context.Context, kind, by string, ups []Upload) ([]storage.TicketAttachment, error) {
	var out []storage.TicketAttachment
	var items []evidence.Item
	fail := func(err error) ([]storage.TicketAttachment, error) {
		for _, it := range items {
			_ = s.Evidence.Delete(context.WithoutCancel(ctx), it) // best effort: the item was never referenced
		}
		return nil, err
	}
	class := evidence.ClassTickets
	if kind == storage.TicketKindComplaint {
		class = evidence.ClassComplaints
	}
	for _, u := range ups {
		name := u.Name
		if err := checkText("file name", name, MaxShort, true); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrAttachment, err))
		}
		lower := strings.ToLower(name)
		for _, ext := range dangerous {
			if strings.HasSuffix(lower, ext) {
				return fail(fmt.Errorf("%w: %q: file type not accepted", ErrAttachment, name))
			}
		}
		if s.Evidence == nil {
			return fail(fmt.Errorf("%w: attachments are not enabled", ErrAttachment))
		}
		// The evidence kind for any care upload: complaint_letter is the
		// only §3.7 kind for it (see the report: a ticket_attachment kind
		// would name it better).
		it, err := s.Evidence.Put(ctx, evidence.KindComplaintLetter, "", u.Body, evidence.DefaultMaxBytes)
		if err != nil {
			return fail(fmt.Errorf("%w: %q: %w", ErrAttachment, name, err))
		}
		items = append(items, it)
		out = append(out, storage.TicketAttachment{EvidenceID: it.ID, Kind: it.Kind, FileName: name,
			MediaType: it.MediaType, Size: it.Size, SHA256: it.SHA256, UploadedBy: by, CreatedAt: it.CreatedAt,
			RetentionClass: string(class)})
	}
	return out, nil
}

// File stores a new ticket or complaint, e-mails its reference and returns
// it. by is who filed it: "requester" for the web forms, the operator's ID
// for phone calls, PEC and letters (which only a desk role may register).
func (s *Service) File(ctx context.Context, by Actor, r Request) (storage.Ticket, error) {
	deny := func(err error) (storage.Ticket, error) {
		_ = s.record(ctx, by.ID, "care.file", "", audit.Denied, map[string]string{"kind": r.Kind, "channel": r.Channel, "reason": err.Error()})
		return storage.Ticket{}, err
	}
	if err := r.check(); err != nil {
		return deny(err)
	}
	if r.Channel != "web" && !by.has(deskRoles...) {
		return deny(fmt.Errorf("%w: only the desk registers %s requests", ErrForbidden, r.Channel))
	}
	now := s.now()
	atts, err := s.store(ctx, r.Kind, by.ID, r.Uploads)
	if err != nil {
		return deny(err)
	}
	ref, err := newReference(r.Kind, now)
	if err != nil {
		return storage.Ticket{}, err
	}
	opened := now
	if !r.ReceivedAt.IsZero() && r.ReceivedAt.Before(now) {
		opened = r.ReceivedAt.UTC()
	}
	t := storage.Ticket{ID: uuid.NewString(), Reference: ref, Kind: r.Kind, State: StateReceived, Channel: r.Channel,
		Category: r.Category, Product: r.Product, Subject: r.Subject, Message: r.Message, Attachments: atts,
		ContactEmail: r.ContactEmail, ContactName: r.ContactName, IdentityID: r.IdentityID,
		OpenedAt: opened, UpdatedAt: now}
	if r.Unverified {
		t.State = StateEmailPending
	} else if r.Kind == storage.TicketKindComplaint {
		// A complaint is assigned to the desk when it is registered: the
		// 14 days run from then (§11.4).
		t.State, t.AssignedAt, t.DeadlineAt = StateAssigned, opened, Deadline(opened)
		if by.has(deskRoles...) {
			t.AssignedTo = by.ID
		}
	}
	var ids []string
	for _, a := range atts {
		ids = append(ids, a.EvidenceID)
	}
	t.Thread = []storage.TicketMessage{{At: opened, Author: by.ID, Kind: "request", Text: r.Message, Attachments: ids}}
	if err := s.Store.CreateTicket(ctx, t); err != nil {
		return storage.Ticket{}, fmt.Errorf("care: store %s: %w", r.Kind, err)
	}
	details := map[string]string{"kind": t.Kind, "channel": t.Channel, "reference": t.Reference,
		"attachments": fmt.Sprint(len(atts))}
	if !t.DeadlineAt.IsZero() {
		details["deadline"] = t.DeadlineAt.Format(time.RFC3339)
	}
	if r.Unverified {
		details["state"] = StateEmailPending
	}
	if err := s.record(ctx, by.ID, "care.file", t.ID, audit.Success, details); err != nil {
		return t, err
	}
	if r.Unverified {
		return t, nil // the caller e-mails the confirmation link
	}
	return t, s.mail(ctx, t, "ack", ackText(t, s.Brand))
}

// ErrLinkExpired: the confirmation link is older than EmailLinkTTL.
var ErrLinkExpired = errors.New("care: confirmation link expired")

// Confirm is the requester opening the e-mail link: the ticket enters the
// queue (a complaint is assigned and its 14 days start) and the
// acknowledgement with the reference is e-mailed. Confirming twice is
// harmless.
func (s *Service) Confirm(ctx context.Context, id string) (storage.Ticket, error) {
	now := s.now()
	confirmed := false
	var out storage.Ticket
	err := s.Store.UpdateTicket(ctx, id, func(t storage.Ticket) (storage.Ticket, error) {
		confirmed, out = false, t
		if t.State != StateEmailPending {
			return t, errSkip
		}
		if now.Sub(t.OpenedAt) > EmailLinkTTL {
			return t, ErrLinkExpired
		}
		t.State, t.OpenedAt, t.UpdatedAt = StateReceived, now, now
		if t.Kind == storage.TicketKindComplaint {
			t.State, t.AssignedAt, t.DeadlineAt = StateAssigned, now, Deadline(now)
		}
		confirmed, out = true, t
		return t, nil
	})
	if errors.Is(err, errSkip) {
		return out, nil
	}
	if err != nil {
		_ = s.record(ctx, "requester", "care.confirm", id, audit.Failure, map[string]string{"reason": err.Error()})
		return storage.Ticket{}, err
	}
	if !confirmed {
		return out, nil
	}
	if err := s.record(ctx, "requester", "care.confirm", id, audit.Success, map[string]string{"reference": out.Reference}); err != nil {
		return out, err
	}
	return out, s.mail(ctx, out, "ack", ackText(out, s.Brand))
}

// MailConfirmation e-mails the link that confirms an unverified filing.
func (s *Service) MailConfirmation(ctx context.Context, t storage.Ticket, link string) error {
	return s.mail(ctx, t, "confirmation", confirmText(t, link, s.Brand))
}

func (s *Service) record(ctx context.Context, actor, action, target, outcome string, d map[string]string) error {
	if s.Audit == nil {
		return nil
	}
	if actor == "" {
		actor = "anonymous"
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: d})
}

func (s *Service) mail(ctx context.Context, t storage.Ticket, what string, m mail.Message) error {
	if s.Mail == nil || t.ContactEmail == "" {
		return nil
	}
	m.To = t.ContactEmail
	if err := s.Mail.Send(ctx, m); err != nil {
		return fmt.Errorf("care: e-mail %s of %s: %w", what, t.Reference, err)
	}
	return nil
}

// Get returns a ticket for a desk role.
func (s *Service) Get(ctx context.Context, by Actor, id string) (storage.Ticket, error) {
	if !by.has(deskRoles...) {
		_ = s.record(ctx, by.ID, "care.view", id, audit.Denied, nil)
		return storage.Ticket{}, ErrForbidden
	}
	return s.Store.GetTicket(ctx, id)
}

// List returns tickets for a desk role.
func (s *Service) List(ctx context.Context, by Actor, f storage.TicketFilter) ([]storage.Ticket, error) {
	if !by.has(deskRoles...) {
		_ = s.record(ctx, by.ID, "care.list", "", audit.Denied, nil)
		return nil, ErrForbidden
	}
	return s.Store.ListTickets(ctx, f)
}

// update runs fn on the ticket for a desk role and audits the outcome.
func (s *Service) update(ctx context.Context, by Actor, id, action string, details map[string]string,
	fn func(t *storage.Ticket, now time.Time) error) (storage.Ticket, error) {
	if details == nil {
		details = map[string]string{}
	}
	if !by.has(deskRoles...) {
		details["reason"] = ErrForbidden.Error()
		_ = s.record(ctx, by.ID, action, id, audit.Denied, details)
		return storage.Ticket{}, ErrForbidden
	}
	now := s.now()
	var out storage.Ticket
	err := s.Store.UpdateTicket(ctx, id, func(t storage.Ticket) (storage.Ticket, error) {
		details["from"] = t.State
		if err := fn(&t, now); err != nil {
			return t, err
		}
		details["to"] = t.State
		t.UpdatedAt = now
		out = t
		return t, nil
	})
	if err != nil {
		details["reason"] = err.Error()
		_ = s.record(ctx, by.ID, action, id, audit.Failure, details)
		return storage.Ticket{}, err
	}
	details["reference"] = out.Reference
	return out, s.record(ctx, by.ID, action, id, audit.Success, details)
}

// Move changes a ticket's state along §11.2 (E104, E105): leaving
// received needs a category; escalation records the support level.
func (s *Service) Move(ctx context.Context, by Actor, id, to, category string, level int, note string) (storage.Ticket, error) {
	details := map[string]string{"category": category}
	if level > 0 {
		details["level"] = fmt.Sprint(level)
	}
	return s.update(ctx, by, id, "care.ticket.move", details, func(t *storage.Ticket, now time.Time) error {
		if t.Kind != storage.TicketKindTicket {
			return fmt.Errorf("%w: complaints are answered, not moved", ErrTransition)
		}
		if !slices.Contains(ticketMoves[t.State], to) {
			return fmt.Errorf("%w: %s → %s", ErrTransition, t.State, to)
		}
		if category != "" {
			if !slices.Contains(Categories, category) {
				return fmt.Errorf("%w: category %q", ErrInvalid, category)
			}
			t.Category = category
		}
		if t.Category == "" {
			return fmt.Errorf("%w: a ticket leaves received only with a category", ErrInvalid)
		}
		if to == StateEscalated {
			if level != 2 && level != 3 {
				return fmt.Errorf("%w: escalation to support level 2 or 3", ErrInvalid)
			}
			t.Level = level
		}
		if err := checkText("note", note, MaxText, false); err != nil {
			return err
		}
		if note != "" {
			t.Thread = append(t.Thread, storage.TicketMessage{At: now, Author: by.ID, Kind: "note", Text: note})
		}
		if t.AssignedTo == "" {
			t.AssignedTo, t.AssignedAt = by.ID, now
		}
		t.State = to
		return nil
	})
}

// AnswerTicket communicates the solution (step 6): the ticket must be
// solution_ready; it becomes solved and the answer is e-mailed.
func (s *Service) AnswerTicket(ctx context.Context, by Actor, id, text string) (storage.Ticket, error) {
	t, err := s.update(ctx, by, id, "care.ticket.answer", nil, func(t *storage.Ticket, now time.Time) error {
		if t.Kind != storage.TicketKindTicket {
			return fmt.Errorf("%w: not a ticket", ErrInvalid)
		}
		if t.State != StateSolutionReady {
			return fmt.Errorf("%w: only a ticket with its solution ready is answered (state %s)", ErrTransition, t.State)
		}
		if err := checkText("answer", text, MaxText, true); err != nil {
			return err
		}
		t.Thread = append(t.Thread, storage.TicketMessage{At: now, Author: by.ID, Kind: "answer", Text: text})
		t.State, t.AnsweredAt = StateSolved, now
		return nil
	})
	if err != nil {
		return t, err
	}
	return t, s.mail(ctx, t, "answer", ticketAnswerText(t, text, s.Brand))
}

// ComplaintAnswer is the answer §11.4 requires.
type ComplaintAnswer struct {
	Analysis     string
	Resolution   string
	ActionNeeded bool
	ExpectedTime string // required when ActionNeeded
	IndemnityDue bool
	// IndemnityAmount is the amount from the configured service charter.
	IndemnityAmount string
}

func (a ComplaintAnswer) check() error {
	if err := checkText("analysis", a.Analysis, MaxText, true); err != nil {
		return err
	}
	if err := checkText("proposed resolution", a.Resolution, MaxText, true); err != nil {
		return err
	}
	if err := checkText("expected time", a.ExpectedTime, MaxShort, a.ActionNeeded); err != nil {
		return err
	}
	if err := checkText("indemnity amount", a.IndemnityAmount, MaxShort, a.IndemnityDue); err != nil {
		return err
	}
	return nil
}

// AnswerComplaint sends the answer of a complaint (E108) by e-mail, with
// the dispute-resolution body and, when due, the indemnity.
func (s *Service) AnswerComplaint(ctx context.Context, by Actor, id string, a ComplaintAnswer) (storage.Ticket, error) {
	details := map[string]string{"indemnity_due": fmt.Sprint(a.IndemnityDue)}
	t, err := s.update(ctx, by, id, "care.complaint.answer", details, func(t *storage.Ticket, now time.Time) error {
		if t.Kind != storage.TicketKindComplaint {
			return fmt.Errorf("%w: not a complaint", ErrInvalid)
		}
		if t.State != StateAssigned {
			return fmt.Errorf("%w: complaint already %s", ErrTransition, t.State)
		}
		if err := a.check(); err != nil {
			return err
		}
		details["deadline_status"] = DeadlineStatus(*t, now)
		t.Analysis, t.Resolution, t.ExpectedTime = a.Analysis, a.Resolution, a.ExpectedTime
		t.IndemnityDue, t.IndemnityAmount = a.IndemnityDue, a.IndemnityAmount
		t.Thread = append(t.Thread, storage.TicketMessage{At: now, Author: by.ID, Kind: "answer",
			Text: complaintAnswerText(*t, s.Brand, s.ADRBody).Text})
		t.State, t.AnsweredAt = StateAnswered, now
		return nil
	})
	if err != nil {
		return t, err
	}
	return t, s.mail(ctx, t, "answer", complaintAnswerText(t, s.Brand, s.ADRBody))
}

// CloseSolved closes tickets solved more than ClosingDelay ago with no
// reply since (E106); the scheduler runs it. It returns how many closed.
func (s *Service) CloseSolved(ctx context.Context) (int, error) {
	now := s.now()
	l, err := s.Store.ListTickets(ctx, storage.TicketFilter{Kind: storage.TicketKindTicket, States: []string{StateSolved}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range l {
		if now.Sub(t.AnsweredAt) < ClosingDelay {
			continue
		}
		err := s.Store.UpdateTicket(ctx, t.ID, func(t storage.Ticket) (storage.Ticket, error) {
			if t.State != StateSolved || now.Sub(t.AnsweredAt) < ClosingDelay {
				return t, errSkip
			}
			t.State, t.ClosedAt, t.UpdatedAt = StateClosed, now, now
			return t, nil
		})
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
		if err := s.record(ctx, "system", "care.ticket.close", t.ID, audit.Success,
			map[string]string{"reference": t.Reference, "reason": "solved 7 days without reply"}); err != nil {
			return n, err
		}
	}
	return n, nil
}

var errSkip = errors.New("skip")

// Open opens an attachment's blob for a desk role; the read is audited.
func (s *Service) Open(ctx context.Context, by Actor, t storage.Ticket, evidenceID string) (io.ReadCloser, storage.TicketAttachment, error) {
	if !by.has(deskRoles...) {
		_ = s.record(ctx, by.ID, "care.attachment.open", t.ID, audit.Denied, map[string]string{"evidence": evidenceID})
		return nil, storage.TicketAttachment{}, ErrForbidden
	}
	for _, a := range t.Attachments {
		if a.EvidenceID != evidenceID || s.Evidence == nil {
			continue
		}
		rc, err := s.Evidence.Open(ctx, evidence.Item{ID: a.EvidenceID, Kind: a.Kind, SHA256: a.SHA256, Size: a.Size,
			MediaType: a.MediaType, CreatedAt: a.CreatedAt})
		if err != nil {
			return nil, a, err
		}
		return rc, a, s.record(ctx, by.ID, "care.attachment.open", t.ID, audit.Success,
			map[string]string{"evidence": evidenceID, "reference": t.Reference})
	}
	return nil, storage.TicketAttachment{}, fmt.Errorf("care: attachment %q: %w", evidenceID, storage.ErrNotFound)
}
