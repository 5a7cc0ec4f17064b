package enrolment

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// Times of §6, §7.1 and §13.
const (
	ClaimLock           = 30 * time.Minute
	ActivationLinkTTL   = 72 * time.Hour
	EmailLinkTTL        = 24 * time.Hour
	CorrectionWindow    = 30 * 24 * time.Hour // rejected → resubmitted or closed
	DraftTimeout        = 30 * 24 * time.Hour
	PaymentTimeout      = 30 * 24 * time.Hour
	RecognitionTimeout  = 90 * 24 * time.Hour
	DocumentsTimeout    = 30 * 24 * time.Hour
	VerificationHours   = 48 * time.Hour
	MinimumAge          = 18
	tokenBytes          = 32
	PurposeActivate     = "activate_identity"
	PurposeVerifyEmail  = "verify_email"
	smsPurposeMobile    = "verify_mobile"
	smsPurposeSign      = "sign_request"
	systemActor         = "system"
	applicantActor      = "applicant"
	schedulerActor      = "scheduler"
	pendingUsernameHead = "pending."
)

// Mailer sends one e-mail (notify/mail.Outbox, notify/mail.SMTP).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// SMSSender sends and checks SMS one-time codes bound to a transaction
// (idp/otp.SMSCodes).
type SMSSender interface {
	Send(ctx context.Context, txID, subjectID, mobile, purpose string) error
	VerifyFor(ctx context.Context, txID, purpose, code string) error
}

// Calendar is the working-time calendar of §6.3
// (enrolment/workinghours.Calendar).
type Calendar interface {
	// Deadline is queuedAt + 48 working hours + pausedTotal of working time.
	Deadline(queuedAt time.Time, pausedTotal time.Duration) time.Time
	// Between is the working time elapsed from a to b.
	Between(a, b time.Time) time.Duration
	// Status is on_time, at_risk or late (§6.2).
	Status(now, queuedAt, deadline time.Time) string
}

// Errors of the Service; each is wrapped with the request's context.
var (
	// ErrFourEyes: the person who recognised the applicant may not decide
	// on the request (§6.4, E051).
	ErrFourEyes = errors.New("enrolment: the operator who recognised the applicant cannot decide on the request")
	// ErrForbidden: the operator's roles do not allow the action (§2), or
	// the operator is disabled or unknown.
	ErrForbidden = errors.New("enrolment: not allowed for this operator")
	// ErrClaimed: another operator holds the 30-minute claim.
	ErrClaimed = errors.New("enrolment: the request is claimed by another operator")
	// ErrNotReady: a step the action needs is missing (the detail says which).
	ErrNotReady = errors.New("enrolment: request not ready")
	// ErrDuplicate: an open request or an active identity of the same type
	// exists for the CF, or a contact is bound to another person (E023, E024).
	ErrDuplicate = errors.New("enrolment: duplicate")
	// ErrLinkInvalid: the link is unknown, used or expired (§7.1).
	ErrLinkInvalid = errors.New("enrolment: the link is not valid any more")
	// ErrNotCorrectable: the rejection cannot be fixed by resubmitting.
	ErrNotCorrectable = errors.New("enrolment: the request cannot be resubmitted")
)

// Service runs requests through their life. Store, Audit, Mail, SMS and
// Calendar are required.
type Service struct {
	Store    storage.Store
	Audit    *audit.Logger
	Mail     Mailer
	SMS      SMSSender
	Calendar Calendar
	// Evidence keeps uploads (Upload); optional for callers that store
	// items themselves and call AddEvidence.
	Evidence *evidence.Store
	// Price is what a request costs in euro cents, by path and identity
	// type; nil or 0 means free. Paid requests wait in awaiting_payment
	// after submission (§6.5).
	Price func(path, identityType string) int64
	// SPIDCodePrefix is the provider's 4-letter code (idp.spid_code_prefix).
	SPIDCodePrefix string
	// PasswordParams hash the password chosen at activation.
	PasswordParams password.Params
	// BaseURL is where links in e-mails point, e.g. https://idp.example.it
	BaseURL string
	// Responsible names the person responsible for identity verification
	// (DPCM art. 7 c.1), shown in the outcome e-mails' footer.
	Responsible string
	// ResponsibleEN is the same for the e-mails' English text ("": the
	// Italian one).
	ResponsibleEN string
	// VideoBookings writes the e-mail telling an applicant that a change of
	// their request freed the video appointment it held (videocall); nil:
	// the appointment is freed all the same, without an e-mail.
	VideoBookings VideoBookings
	Now           func() time.Time
	Log           *slog.Logger
}

// VideoBookings tells applicants about video appointments.
type VideoBookings interface {
	// ReleasedMail is the e-mail announcing that slot was freed because
	// request e (as changed, in its new state) left recognition; nil: none.
	ReleasedMail(e storage.Enrolment, r *Request, slot storage.VideoSlot) (*mail.Message, error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// denied marks an error that is audited as a denial (a policy refusal, as
// opposed to an impossible transition, which leaves the audit log alone).
type denied struct{ err error }

func (d denied) Error() string { return d.err.Error() }
func (d denied) Unwrap() error { return d.err }

func deny(format string, args ...any) error { return denied{fmt.Errorf(format, args...)} }

// change is one update of a request: to is the state it moves to ("" for
// none); apply checks the preconditions and edits the request inside the
// store's read-modify-write, so they are checked against the current row.
type change struct {
	action  string
	actor   string
	to      State
	details map[string]string
	apply   func(e *storage.Enrolment, r *Request, now time.Time) error
	// notify is the e-mail announcing the change (nil: none), made from
	// the request as stored; what names it in errors and logs. With the
	// durable queue it commits in the change's own transaction.
	notify func(e storage.Enrolment, r *Request) *mail.Message
	what   string
	// keepVideo is the operator whose video appointment stays booked when
	// the request leaves recognition (the one who recognised the applicant
	// in that call); every other appointment still to come is freed.
	keepVideo string
}

// update runs c on request id: one store update that re-checks the state,
// then the audit record. It returns the stored request and its body.
func (s *Service) update(ctx context.Context, id string, c change) (storage.Enrolment, *Request, error) {
	now := s.now()
	var out storage.Enrolment
	var body *Request
	var from State
	var msg *mail.Message
	uctx, ob := ctx, (*storage.Outbox)(nil)
	if c.notify != nil || c.to != "" {
		uctx, ob = s.outbox(ctx)
	}
	// Leaving recognition frees the video appointment in the same
	// transaction (storage.VideoRelease), with its e-mail in the outbox.
	var rel *storage.VideoRelease
	var released *mail.Message
	if c.to != "" {
		rel = &storage.VideoRelease{RequestID: id, After: now, Staged: func(slot storage.VideoSlot) error {
			released = nil
			if s.VideoBookings == nil {
				return nil
			}
			m, err := s.VideoBookings.ReleasedMail(out, body, slot)
			if err != nil || m == nil {
				if err != nil && s.Log != nil {
					s.Log.ErrorContext(ctx, "enrolment: video appointment e-mail not written", "request", id, "err", err)
				}
				return nil // the appointment is freed all the same
			}
			if ob == nil {
				released = m // sent once the change is stored
				return nil
			}
			if err := s.Mail.Send(uctx, *m); err != nil {
				return fmt.Errorf("queueing the video appointment e-mail with the change: %w", err)
			}
			return nil
		}}
		uctx = storage.WithVideoRelease(uctx, rel)
	}
	err := s.Store.UpdateEnrolment(uctx, id, func(e storage.Enrolment) (storage.Enrolment, error) {
		r, err := Decode(e.Data)
		if err != nil {
			return e, err
		}
		from = State(e.State)
		if c.to != "" {
			if err := Transition(from, c.to); err != nil {
				return e, err
			}
		}
		if c.apply != nil {
			if err := c.apply(&e, r, now); err != nil {
				return e, err
			}
		}
		if c.to != "" {
			if from == StateAwaitingRecognition && c.to != from {
				rel.Arm(c.keepVideo)
			}
			e.State, r.StateSince = string(c.to), now
		}
		e.Data, e.UpdatedAt = r.encode(), now
		out, body = e, r
		if msg = nil; c.notify != nil {
			msg = c.notify(e, r)
		}
		if msg != nil && ob != nil {
			if err := s.Mail.Send(uctx, *msg); err != nil {
				return e, fmt.Errorf("queueing the %s e-mail with the change: %w", c.what, err)
			}
		}
		return e, nil
	})
	details := map[string]string{"from": string(from)}
	for k, v := range c.details {
		details[k] = v
	}
	var d denied
	switch {
	case errors.As(err, &d):
		details["error"] = d.Error()
		if aerr := s.record(ctx, c.actor, c.action, id, audit.Denied, details); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return out, nil, fmt.Errorf("request %s: %w", id, err)
	case err != nil:
		return out, nil, fmt.Errorf("request %s: %w", id, err)
	}
	details["to"] = out.State
	details["code"] = out.Code
	if err := s.record(ctx, c.actor, c.action, id, audit.Success, details); err != nil {
		return out, body, err
	}
	if rel != nil {
		if slot, ok := rel.Released(); ok {
			if err := s.record(ctx, c.actor, "video.booking_released", id, audit.Success, map[string]string{"slot": slot.ID,
				"operator": slot.OperatorID, "start": slot.Start.UTC().Format(time.RFC3339), "to": out.State}); err != nil {
				return out, body, err
			}
			if released != nil && s.Mail != nil {
				if err := s.send(ctx, *released, "video appointment"); err != nil && msg == nil {
					return out, body, err
				}
			}
		}
	}
	switch {
	case ob != nil:
		ob.Deliver(ctx)
	case msg != nil:
		return out, body, s.send(ctx, *msg, c.what)
	}
	return out, body, nil
}

// outbox gives a change a transactional outbox when the mailer stages
// into one (notify/queue): the e-mail is then written with the change or
// not at all. A gateway without queue (tests, tools) gets none: the e-mail
// is sent after the change, as send does.
func (s *Service) outbox(ctx context.Context) (context.Context, *storage.Outbox) {
	if st, ok := s.Mail.(interface{ Stages() bool }); !ok || !st.Stages() {
		return ctx, nil
	}
	ob := &storage.Outbox{}
	return storage.WithOutbox(ctx, ob), ob
}

// refused audits input or a step refused before any update (the request
// is unchanged) and returns err with the request's context. Problems are
// recorded by field only: the values are personal data.
func (s *Service) refused(ctx context.Context, actor, action, id string, err error) error {
	detail := err.Error()
	var ps identity.Problems
	if errors.As(err, &ps) {
		var fields []string
		for _, p := range ps {
			f, _, _ := strings.Cut(p, ":")
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
		detail = "invalid: " + strings.Join(fields, ", ")
	}
	if aerr := s.record(ctx, actor, action, id, audit.Failure, map[string]string{"error": detail}); aerr != nil {
		return errors.Join(err, aerr)
	}
	if errors.As(err, &ps) {
		return err // Problems stay a list for the form
	}
	return fmt.Errorf("request %s: %w", id, err)
}

func (s *Service) record(ctx context.Context, actor, action, target, outcome string, details map[string]string) error {
	return s.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details})
}

// send delivers an e-mail after the transition is stored and audited; a
// failure is reported, the transition stays.
func (s *Service) send(ctx context.Context, m mail.Message, what string) error {
	if err := s.Mail.Send(ctx, m); err != nil {
		if s.Log != nil {
			s.Log.ErrorContext(ctx, "enrolment e-mail not sent", "what", what, "err", err)
		}
		return fmt.Errorf("%s e-mail not sent: %w", what, err)
	}
	return nil
}

// operator returns the active operator id if one of its roles permits a;
// the refusal is audited by the caller's update (denied).
func (s *Service) operator(ctx context.Context, id string, a Action) (storage.Operator, error) {
	op, err := s.Store.GetOperator(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return op, deny("operator %q: %w", id, ErrForbidden)
	case err != nil:
		return op, err
	case op.Status != storage.OperatorActive:
		return op, deny("operator %s is %s: %w", op.Username, op.Status, ErrForbidden)
	case !Can(op.Roles, a):
		return op, deny("operator %s (%s) may not %s: %w", op.Username, strings.Join(op.Roles, ", "), a, ErrForbidden)
	}
	return op, nil
}

// checkOperator is operator() with the denial audited right away (for
// actions refused before any update runs).
func (s *Service) checkOperator(ctx context.Context, opID string, a Action, action, target string) (storage.Operator, error) {
	op, err := s.operator(ctx, opID, a)
	var d denied
	if errors.As(err, &d) {
		if aerr := s.record(ctx, opID, action, target, audit.Denied, map[string]string{"error": d.Error()}); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return op, fmt.Errorf("request %s: %w", target, err)
	}
	return op, err
}

// Get returns a request and its body.
func (s *Service) Get(ctx context.Context, id string) (storage.Enrolment, *Request, error) {
	e, err := s.Store.GetEnrolment(ctx, id)
	if err != nil {
		return e, nil, err
	}
	r, err := Decode(e.Data)
	return e, r, err
}

// newToken makes a random secret for a link and the hex SHA-256 stored in
// its place.
func newToken() (secret, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, TokenHash(secret), nil
}

// TokenHash is the stored form of a link secret.
func TokenHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func (s *Service) link(path, secret string) string {
	return strings.TrimSuffix(s.BaseURL, "/") + path + "?token=" + url.QueryEscape(secret)
}

// newCode draws a 10-character Crockford base32 request code.
func newCode() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	for i := range b {
		b[i] = crockford[b[i]&31] // 256 is a multiple of 32: uniform
	}
	return string(b), nil
}

// validUntil is §6.4: valid_from + 2 years (personal) or 1 year
// (professional), a 29 February issue ending on 28 February. Dates are
// civil dates in Europe/Rome.
func validUntil(from time.Time, identityType string, loc *time.Location) time.Time {
	years := 1
	if identityType == TypePersonal {
		years = 2
	}
	t := from.In(loc)
	y, m, d := t.Date()
	if m == time.February && d == 29 {
		d = 28
	}
	return time.Date(y+years, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// rome is the zone of civil dates (birth dates, document expiry, validity).
func rome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}

func civil(t time.Time) string { return t.In(rome()).Format(time.DateOnly) }

func newID() string { return uuid.NewString() }

func (s *Service) responsible() Responsible {
	return Responsible{IT: s.Responsible, EN: s.ResponsibleEN}
}
