package enrolment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// PurposeCorrect is the token of the link in a rejection e-mail that
// reopens the request for its applicant to correct (§6.4, §6.5).
const PurposeCorrect = "correct_request"

// PathCorrect is the page the correction link opens.
const PathCorrect = "/enrol/correct"

// Correctable reports whether the applicant can still correct a rejected
// request: within CorrectionWindow of the decision, and no reason is final
// (underage, duplicate, suspected fraud).
func Correctable(r *Request, now time.Time) bool {
	if r.DecidedAt.IsZero() || now.After(r.DecidedAt.Add(CorrectionWindow)) || len(r.Reasons) == 0 {
		return false
	}
	for _, rs := range r.Reasons {
		if !rs.Correctable() && !rs.NeedsRecognition() {
			return false
		}
	}
	return true
}

// Editable reports whether the applicant may change the request's data: a
// draft, or a rejected request still correctable.
func Editable(e storage.Enrolment, r *Request, now time.Time) bool {
	switch State(e.State) {
	case StateDraft:
		return true
	case StateRejected:
		return r != nil && Correctable(r, now)
	}
	return false
}

// correctionLink makes the link of a rejection e-mail, valid until the
// correction window closes; "" when the request cannot be corrected.
func (s *Service) correctionLink(ctx context.Context, e storage.Enrolment, r *Request) (string, error) {
	now := s.now()
	if !Correctable(r, now) {
		return "", nil
	}
	secret, hash, err := newToken()
	if err != nil {
		return "", err
	}
	if err := s.Store.CreateToken(ctx, storage.Token{Hash: hash, Purpose: PurposeCorrect, Subject: e.ID,
		ExpiresAt: r.DecidedAt.Add(CorrectionWindow), CreatedAt: now}); err != nil {
		return "", fmt.Errorf("request %s: %w", e.ID, err)
	}
	return s.link(PathCorrect, secret), nil
}

// preCorrectionLink makes the correction link of a rejection for rs before
// the rejection is stored (its e-mail commits with it): "" when rs leaves
// nothing to correct. withdraw removes the token when the rejection does
// not happen.
func (s *Service) preCorrectionLink(ctx context.Context, id string, rs []Reason) (link string, withdraw func(), err error) {
	now := s.now()
	if !Correctable(&Request{DecidedAt: now, Reasons: rs}, now) {
		return "", nil, nil
	}
	secret, hash, err := newToken()
	if err != nil {
		return "", nil, err
	}
	if err := s.Store.CreateToken(ctx, storage.Token{Hash: hash, Purpose: PurposeCorrect, Subject: id,
		ExpiresAt: now.Add(CorrectionWindow), CreatedAt: now}); err != nil {
		return "", nil, fmt.Errorf("request %s: %w", id, err)
	}
	return s.link(PathCorrect, secret), func() {
		_, _ = s.Store.ConsumeToken(context.WithoutCancel(ctx), hash, PurposeCorrect, now)
	}, nil
}

// SendCorrectionLink e-mails the correction link again (the status page),
// to the address of the request only.
func (s *Service) SendCorrectionLink(ctx context.Context, id string) error {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if State(e.State) != StateRejected || !Correctable(r, s.now()) {
		return fmt.Errorf("request %s: %w", id, ErrNotCorrectable)
	}
	link, err := s.correctionLink(ctx, e, r)
	if err != nil {
		return err
	}
	if err := s.record(ctx, applicantActor, "enrolment.correction_link", id, "success", map[string]string{"code": e.Code}); err != nil {
		return err
	}
	return s.send(ctx, mail.Message{To: r.Applicant.Email,
		Subject: "SPID: correggi la richiesta " + FormatCode(e.Code) + " / correct your request",
		Text:    rejectedText(e.Code, r.Reasons, link, s.responsible())}, "correction link")
}

// OpenCorrection checks a correction link and returns its request. The
// link stays usable until the window closes or the request is resubmitted
// (the applicant may need several sittings).
func (s *Service) OpenCorrection(ctx context.Context, token string) (storage.Enrolment, error) {
	t, err := s.Store.GetToken(ctx, TokenHash(token), PurposeCorrect, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Enrolment{}, ErrLinkInvalid
	} else if err != nil {
		return storage.Enrolment{}, err
	}
	e, r, err := s.Get(ctx, t.Subject)
	if err != nil {
		return e, err
	}
	if !Editable(e, r, s.now()) || State(e.State) != StateRejected {
		return e, ErrLinkInvalid
	}
	return e, s.record(ctx, applicantActor, "enrolment.correction_open", e.ID, "success", map[string]string{"code": e.Code})
}

// ResubmitSigned is the applicant's resubmission of a corrected request,
// confirmed with the SMS code like the first submission (E025): the data
// must be complete and verified and free of duplicates again.
func (s *Service) ResubmitSigned(ctx context.Context, id, smsCode string) (storage.Enrolment, error) {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return e, fmt.Errorf("request %s: %w", id, err)
	}
	if State(e.State) != StateRejected || !Correctable(r, s.now()) {
		return e, fmt.Errorf("request %s: %w", id, ErrNotCorrectable)
	}
	if err := readyToSubmit(e, r); err != nil {
		return e, s.refused(ctx, applicantActor, "enrolment.resubmit", id, err)
	}
	if err := s.checkDuplicates(ctx, e, r); err != nil {
		return e, s.refused(ctx, applicantActor, "enrolment.resubmit", id, err)
	}
	if err := s.SMS.VerifyFor(ctx, smsTx("sign", id), smsPurposeSign, smsCode); err != nil {
		return e, s.refused(ctx, applicantActor, "enrolment.resubmit", id, fmt.Errorf("confirmation code: %w", err))
	}
	return s.Resubmit(ctx, id)
}
