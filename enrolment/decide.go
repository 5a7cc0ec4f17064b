package enrolment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/revocation"
	"github.com/spid-idp/spid-idp/storage"
)

// Recognition methods (LG-STAT T2, §12.5).
const (
	MethodCIE       = "1"
	MethodCNS       = "2"
	MethodSignature = "3"
	MethodWebcam    = "4"
	MethodOperator  = "5" // shop and counter
)

// MethodFor is the recognition method code of a path.
func MethodFor(path string) string {
	switch path {
	case PathCIE:
		return MethodCIE
	case PathCNS:
		return MethodCNS
	case PathSignature:
		return MethodSignature
	case PathVideo:
		return MethodWebcam
	}
	return MethodOperator
}

// Recognise records that the applicant was recognised on the request's
// path: by "system" on the CNS/CIE and signature paths, by an operator
// with the recognise role otherwise. Every checklist item must be ticked
// and the document valid on the recognition day (E019); the request enters
// the verification queue and its 48-working-hour clock starts (E043). A
// counter_public_official request without its signed form waits in
// awaiting_documents (E042).
func (s *Service) Recognise(ctx context.Context, id, operatorID string, checklist map[string]bool) (storage.Enrolment, error) {
	return s.recognise(ctx, id, operatorID, checklist, nil)
}

func (s *Service) recognise(ctx context.Context, id, operatorID string, checklist map[string]bool, status []revocation.Result) (storage.Enrolment, error) {
	var shopID string
	if operatorID != systemActor {
		op, err := s.checkOperator(ctx, operatorID, ActRecognise, "enrolment.recognise", id)
		if err != nil {
			return storage.Enrolment{}, err
		}
		shopID = op.ShopID
	}
	e, err := s.Store.GetEnrolment(ctx, id)
	if err != nil {
		return e, fmt.Errorf("request %s: %w", id, err)
	}
	to := StateAwaitingProcessing
	if e.Path == PathCounterPublicOfficial {
		r, err := Decode(e.Data)
		if err != nil {
			return e, err
		}
		if !r.HasEvidence("adhesion_form_signed") {
			to = StateAwaitingDocuments
		}
	}
	e, _, err = s.update(ctx, id, change{action: "enrolment.recognise", actor: operatorID, to: to,
		details: map[string]string{"shop_id": shopID}, keepVideo: operatorID,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if automaticPaths[e.Path] != (operatorID == systemActor) {
				return deny("path %s is recognised by %s: %w", e.Path,
					map[bool]string{true: "the system", false: "an operator"}[automaticPaths[e.Path]], ErrForbidden)
			}
			var unticked []string
			for _, k := range slices.Sorted(maps.Keys(checklist)) {
				if !checklist[k] {
					unticked = append(unticked, k)
				}
			}
			if len(unticked) > 0 {
				return fmt.Errorf("checklist items not passed: %s: %w", strings.Join(unticked, ", "), ErrNotReady)
			}
			if e.Path == PathVideo && len(checklist) == 0 {
				return fmt.Errorf("the video checklist is empty: %w", ErrNotReady)
			}
			if r.Document == nil {
				return fmt.Errorf("identity document missing: %w", ErrNotReady)
			}
			if exp, err := time.ParseInLocation(time.DateOnly, r.Document.ExpiryDate, rome()); err != nil || exp.Before(dayStart(now)) {
				return fmt.Errorf("the identity document expired before the recognition day: %w", ErrNotReady)
			}
			r.Recognition = &Recognition{By: operatorID, At: now, ShopID: shopID, Method: MethodFor(e.Path), Checklist: checklist, Revocation: status}
			if to == StateAwaitingProcessing {
				s.startClock(e, r, now)
			} else {
				r.PausedAt = now
				r.DocumentsRequested = []string{"adhesion_form_signed"}
			}
			return nil
		}})
	return e, err
}

// startClock queues the request now with a fresh 48-working-hour deadline.
func (s *Service) startClock(e *storage.Enrolment, r *Request, now time.Time) {
	e.QueuedAt, r.PausedAt, r.PausedTotal = now, time.Time{}, 0
	e.DeadlineAt = s.Calendar.Deadline(now, 0)
}

// decider checks what every verifier action needs: the role, and not
// having recognised the applicant (§2: a verifier does not act on a request
// they recognised), and no live claim by someone else.
func decider(opID string, r *Request, now time.Time) error {
	if r.Recognition != nil && r.Recognition.By == opID {
		return denied{ErrFourEyes}
	}
	if r.ClaimedBy != "" && r.ClaimedBy != opID && now.Before(r.ClaimedUntil) {
		return fmt.Errorf("claimed until %s: %w", r.ClaimedUntil.Format(time.RFC3339), ErrClaimed)
	}
	return nil
}

// Claim takes a queued request for ClaimLock (30 minutes); claiming again
// renews the lock.
func (s *Service) Claim(ctx context.Context, id, operatorID string) (storage.Enrolment, error) {
	if _, err := s.checkOperator(ctx, operatorID, ActClaim, "enrolment.claim", id); err != nil {
		return storage.Enrolment{}, err
	}
	e, _, err := s.update(ctx, id, change{action: "enrolment.claim", actor: operatorID,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if State(e.State) != StateAwaitingProcessing {
				return fmt.Errorf("only a request awaiting processing can be claimed, this one is %s: %w", e.State, ErrTransition)
			}
			if err := decider(operatorID, r, now); err != nil {
				return err
			}
			r.ClaimedBy, r.ClaimedUntil = operatorID, now.Add(ClaimLock)
			return nil
		}})
	return e, err
}

// Release gives a claim back before it lapses.
func (s *Service) Release(ctx context.Context, id, operatorID string) error {
	_, _, err := s.update(ctx, id, change{action: "enrolment.release", actor: operatorID,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if r.ClaimedBy != operatorID {
				return fmt.Errorf("not claimed by %s: %w", operatorID, ErrClaimed)
			}
			r.ClaimedBy, r.ClaimedUntil = "", time.Time{}
			return nil
		}})
	return err
}

// Approve issues the identity (§6.4): a verifier other than the person who
// recognised the applicant (E051), with every item of the §6.1 checklist
// passed (VerifierChecklist), moves the request to approved, which
// exactly one of concurrent approvals does (E050); the identity is created
// in pending_activation with its spidCode and validity (E056) and the
// activation link (single use, 72 hours) is e-mailed.
func (s *Service) Approve(ctx context.Context, id, operatorID string, checklist map[string]bool) (storage.Identity, error) {
	if _, err := s.checkOperator(ctx, operatorID, ActDecide, "enrolment.approve", id); err != nil {
		return storage.Identity{}, err
	}
	identityID := newID()
	recheck, err := sampleRecheck()
	if err != nil {
		return storage.Identity{}, err
	}
	e, r, err := s.update(ctx, id, change{action: "enrolment.approve", actor: operatorID, to: StateApproved,
		details: map[string]string{"identity_id": identityID, "recheck": fmt.Sprint(recheck)},
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := decider(operatorID, r, now); err != nil {
				return err
			}
			if err := approvable(e, r); err != nil {
				return err
			}
			var failed []string
			for _, item := range VerifierChecklist(e.Path, e.IdentityType) {
				if !checklist[item] {
					failed = append(failed, item)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("checklist items not passed: %s: %w", strings.Join(failed, ", "), ErrNotReady)
			}
			r.Verification = &Verification{By: operatorID, At: now, Items: checklist}
			r.DecidedBy, r.DecidedAt, r.IdentityID, r.Reasons = operatorID, now, identityID, nil
			r.Recheck = recheck
			r.ClaimedBy, r.ClaimedUntil = "", time.Time{}
			return nil
		}})
	if err != nil {
		return storage.Identity{}, err
	}
	id2, err := s.issue(ctx, e, r, identityID)
	if err != nil {
		// Put the request back in the queue rather than leave it approved
		// with no identity; only if nobody moved it meanwhile.
		_, _, rerr := s.update(ctx, id, change{action: "enrolment.approve_undone", actor: systemActor,
			details: map[string]string{"error": err.Error()},
			apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
				if State(e.State) != StateApproved || r.IdentityID != identityID {
					return errors.New("moved meanwhile")
				}
				e.State, r.StateSince, r.DecidedBy, r.DecidedAt, r.IdentityID = string(StateAwaitingProcessing), now, "", time.Time{}, ""
				return nil
			}})
		return storage.Identity{}, errors.Join(fmt.Errorf("request %s: issuing the identity: %w", id, err), rerr)
	}
	return id2, nil
}

// VerifierChecklist is the §6.1 checklist for a request of path and
// identity type: what the verifier confirms before approving.
func VerifierChecklist(path, identityType string) []string {
	items := []string{
		"cf_valid",               // passes §4 and matches the data
		"tax_registry_confirmed", // CF and personal data confirmed by the tax registry
		"document_valid",         // allowed type, valid on the recognition day
		"document_images_match",  // legible, matching the typed data
		"taxcode_proof_valid",    // health card or certificate showing the same CF
		"contacts_verified",      // e-mail and mobile verified, not bound to another person
		"adult",
		"path_evidence_complete", // §5.7
		"no_duplicate",           // no other open request or active identity of the type
	}
	switch path {
	case PathVideo, PathShop, PathCounter, PathCounterPublicOfficial:
		items = append(items, "face_match")
	}
	if identityType == TypeProfessionalLegal {
		items = append(items, "company_representation")
	}
	return items
}

// RecheckOneIn is how many approvals share one supervisor re-check (5 %).
const RecheckOneIn = 20

// sampleRecheck draws whether an approval goes to the sampled re-check,
// from crypto/rand so nobody can predict which ones will.
func sampleRecheck() (bool, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, fmt.Errorf("random: %w", err)
	}
	// 65536 is not a multiple of 20: redraw the top 16 values for uniformity.
	v := int(b[0])<<8 | int(b[1])
	if v >= 65536-65536%RecheckOneIn {
		return sampleRecheck()
	}
	return v%RecheckOneIn == 0, nil
}

// approvable: what must be there before an identity is issued.
func approvable(e *storage.Enrolment, r *Request) error {
	if r.Applicant == nil || r.Recognition == nil {
		return fmt.Errorf("no applicant or no recognition: %w", ErrNotReady)
	}
	if e.Path == PathVideo && !r.HasEvidence("video_recording") {
		return fmt.Errorf("no video recording stored: %w", ErrNotReady)
	}
	return nil
}

// issue creates the pending identity and e-mails its activation link.
func (s *Service) issue(ctx context.Context, e storage.Enrolment, r *Request, identityID string) (storage.Identity, error) {
	now := s.now()
	all, err := s.Store.ListIdentities(ctx)
	if err != nil {
		return storage.Identity{}, err
	}
	cf := "TINIT-" + e.FiscalNumber
	for _, o := range all {
		if o.Type == spidType(e.IdentityType) && o.Attributes["fiscalNumber"] == cf &&
			o.Status != storage.IdentityRevoked && o.Status != storage.IdentityExpired {
			return storage.Identity{}, fmt.Errorf("an identity of the same type exists for this fiscal code: %w", ErrDuplicate)
		}
	}
	if !identity.SPIDPrefixRE.MatchString(s.SPIDCodePrefix) {
		return storage.Identity{}, fmt.Errorf("spidCode prefix %q: must be the 4 letters AgID assigned", s.SPIDCodePrefix)
	}
	code, err := identity.NewSPIDCode(s.SPIDCodePrefix, all)
	if err != nil {
		return storage.Identity{}, err
	}
	until := validUntil(now, e.IdentityType, rome())
	attrs := r.Applicant.attributes()
	attrs["spidCode"] = code
	attrs["expirationDate"] = civil(until)
	if d := r.Document; d != nil {
		attrs["idCard"] = strings.Join([]string{d.Type, d.Number, d.Issuer, d.IssueDate, d.ExpiryDate}, " ")
	}
	if c := r.Company; c != nil {
		attrs["companyName"], attrs["companyFiscalNumber"] = c.Name, c.FiscalNumber
		if c.RegisteredOffice != "" {
			attrs["registeredOffice"] = c.RegisteredOffice
		}
		if c.IvaCode != "" {
			attrs["ivaCode"] = c.IvaCode
		}
	}
	norm, ps := identity.NormaliseAttributes(attrs)
	if len(ps) > 0 {
		return storage.Identity{}, ps
	}
	idn := storage.Identity{ID: identityID, Username: pendingUsernameHead + identityID, Type: spidType(e.IdentityType),
		Status: storage.IdentityPending, Attributes: norm, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateIdentity(ctx, idn); err != nil {
		return storage.Identity{}, err
	}
	secret, hash, err := newToken()
	if err == nil {
		err = s.Store.CreateToken(ctx, storage.Token{Hash: hash, Purpose: PurposeActivate, Subject: identityID,
			ExpiresAt: now.Add(ActivationLinkTTL), CreatedAt: now})
	}
	if err != nil {
		return storage.Identity{}, errors.Join(err, s.Store.DeleteIdentity(ctx, identityID))
	}
	if err := s.record(ctx, systemActor, "identity.issue", identityID, audit.Success, map[string]string{
		"enrolment": e.ID, "spid_code": code, "valid_until": civil(until), "status": string(idn.Status)}); err != nil {
		return idn, err
	}
	return idn, s.send(ctx, mail.Message{To: r.Applicant.Email,
		Subject: "SPID: la tua identità è pronta da attivare / your identity is ready to activate",
		Text:    approvedText(e.Code, s.link("/activate", secret), until, s.responsible())}, "activation")
}

// Reject ends a request with at least one reason (E052); the e-mail lists
// every reason with its corrective action, in Italian and English.
func (s *Service) Reject(ctx context.Context, id, operatorID string, rs []Reason) error {
	if len(rs) == 0 {
		return fmt.Errorf("request %s: a rejection needs at least one reason: %w", id, ErrNotReady)
	}
	var codes []string
	for _, r := range rs {
		if err := r.Check(); err != nil {
			return fmt.Errorf("request %s: %w", id, err)
		}
		codes = append(codes, r.Code)
	}
	if _, err := s.checkOperator(ctx, operatorID, ActDecide, "enrolment.reject", id); err != nil {
		return err
	}
	return s.reject(ctx, id, operatorID, rs, codes, func(_ *storage.Enrolment, r *Request, now time.Time) error { return decider(operatorID, r, now) })
}

func (s *Service) reject(ctx context.Context, id, actor string, rs []Reason, codes []string, check func(*storage.Enrolment, *Request, time.Time) error) error {
	// The correction link goes in the rejection e-mail, which commits with
	// the rejection: its token is made first, and withdrawn if the
	// rejection does not happen.
	link, withdraw, err := s.preCorrectionLink(ctx, id, rs)
	if err != nil {
		return err
	}
	_, _, err = s.update(ctx, id, change{action: "enrolment.reject", actor: actor, to: StateRejected,
		details: map[string]string{"reasons": strings.Join(codes, " ")},
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := check(e, r, now); err != nil {
				return err
			}
			r.DecidedBy, r.DecidedAt, r.Reasons = actor, now, rs
			r.ClaimedBy, r.ClaimedUntil, r.PausedAt = "", time.Time{}, time.Time{}
			return nil
		},
		what: "rejection",
		notify: func(e storage.Enrolment, r *Request) *mail.Message {
			return &mail.Message{To: r.Applicant.Email,
				Subject: "SPID: richiesta " + FormatCode(e.Code) + " respinta / request rejected",
				Text:    rejectedText(e.Code, rs, link, s.responsible())}
		}})
	if err != nil && withdraw != nil {
		// Withdrawn only when the rejection is not stored (an e-mail that
		// failed after it leaves the link valid, for SendCorrectionLink).
		if cur, gerr := s.Store.GetEnrolment(ctx, id); gerr == nil && State(cur.State) != StateRejected {
			withdraw()
		}
	}
	return err
}

// AskDocuments asks the applicant for what is missing and pauses the clock
// (§6.2): the request waits in awaiting_documents.
func (s *Service) AskDocuments(ctx context.Context, id, operatorID string, missing []string) error {
	var clean []string
	for _, m := range missing {
		if m = strings.TrimSpace(m); m != "" {
			clean = append(clean, m)
		}
	}
	if len(clean) == 0 {
		return fmt.Errorf("request %s: say which documents are missing: %w", id, ErrNotReady)
	}
	if _, err := s.checkOperator(ctx, operatorID, ActDecide, "enrolment.ask_documents", id); err != nil {
		return err
	}
	_, _, err := s.update(ctx, id, change{action: "enrolment.ask_documents", actor: operatorID, to: StateAwaitingDocuments,
		details: map[string]string{"documents": strings.Join(clean, "; ")},
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := decider(operatorID, r, now); err != nil {
				return err
			}
			r.DocumentsRequested, r.PausedAt = clean, now
			r.ClaimedBy, r.ClaimedUntil = "", time.Time{}
			return nil
		},
		what: "documents",
		notify: func(e storage.Enrolment, r *Request) *mail.Message {
			return &mail.Message{To: r.Applicant.Email,
				Subject: "SPID: documenti richiesti per " + FormatCode(e.Code) + " / documents requested",
				Text:    documentsText(e.Code, clean)}
		}})
	return err
}

// DocumentsReceived returns the request to the queue. The working time
// spent waiting does not count: the deadline moves by it (E047). A request
// that waited before it was ever queued (E042) starts its clock now.
func (s *Service) DocumentsReceived(ctx context.Context, id, actor string) (storage.Enrolment, error) {
	e, _, err := s.update(ctx, id, change{action: "enrolment.documents_received", actor: actor, to: StateAwaitingProcessing,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if e.QueuedAt.IsZero() {
				s.startClock(e, r, now)
				return nil
			}
			if !r.PausedAt.IsZero() {
				r.PausedTotal += s.Calendar.Between(r.PausedAt, now)
			}
			r.PausedAt = time.Time{}
			e.DeadlineAt = s.Calendar.Deadline(e.QueuedAt, r.PausedTotal)
			return nil
		}})
	return e, err
}

// Resubmit brings a rejected request back after the applicant corrected
// it: within 30 days and with only correctable reasons it re-enters the
// queue with a new clock (E053); a reason that needs a new recognition
// sends it back to awaiting_recognition (E054); final reasons cannot be
// corrected.
func (s *Service) Resubmit(ctx context.Context, id string) (storage.Enrolment, error) {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return e, fmt.Errorf("request %s: %w", id, err)
	}
	to := StateAwaitingProcessing
	for _, rs := range r.Reasons {
		switch {
		case rs.NeedsRecognition():
			to = StateAwaitingRecognition
		case !rs.Correctable():
			return e, fmt.Errorf("request %s: reason %s: %w", id, rs.Code, ErrNotCorrectable)
		}
	}
	e, _, err = s.update(ctx, id, change{action: "enrolment.resubmit", actor: applicantActor, to: to,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if now.After(r.DecidedAt.Add(CorrectionWindow)) {
				return fmt.Errorf("more than 30 days after the rejection: %w", ErrNotCorrectable)
			}
			if to == StateAwaitingProcessing {
				s.startClock(e, r, now)
			} else {
				r.Recognition, e.QueuedAt, e.DeadlineAt = nil, time.Time{}, time.Time{}
			}
			r.DecidedBy, r.DecidedAt = "", time.Time{}
			return nil
		}})
	return e, err
}

// timers are the [DEC] timeouts of §6.5.
var timers = []struct {
	from  State
	after time.Duration
	to    State
}{
	{StateDraft, DraftTimeout, StateExpired},
	{StateAwaitingPayment, PaymentTimeout, StateExpired},
	{StateAwaitingRecognition, RecognitionTimeout, StateExpired},
	{StateAwaitingDocuments, DocumentsTimeout, StateRejected},
	{StateRejected, CorrectionWindow, StateClosed},
}

// RunTimers applies the timeouts of §6.5 that are due and returns how many
// requests moved. Each move re-checks the state in its update, so two
// schedulers on one database move each request once (E057).
func (s *Service) RunTimers(ctx context.Context) (int, error) {
	var states []string
	for _, t := range timers {
		states = append(states, string(t.from))
	}
	es, err := s.Store.ListEnrolments(ctx, states)
	if err != nil {
		return 0, err
	}
	now := s.now()
	moved := 0
	var errs []error
	for _, e := range es {
		r, err := Decode(e.Data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range timers {
			if State(e.State) != t.from || !now.After(r.StateSince.Add(t.after)) {
				continue
			}
			err := s.timeout(ctx, e.ID, t.from, t.to, t.after)
			switch {
			case err == nil:
				moved++
			case errors.Is(err, errMovedMeanwhile):
			default:
				errs = append(errs, err)
			}
		}
	}
	return moved, errors.Join(errs...)
}

var errMovedMeanwhile = errors.New("moved meanwhile")

func (s *Service) timeout(ctx context.Context, id string, from, to State, after time.Duration) error {
	if to == StateRejected {
		rs := []Reason{{Code: "documents_not_received"}}
		err := s.reject(ctx, id, schedulerActor, rs, []string{rs[0].Code}, func(e *storage.Enrolment, r *Request, now time.Time) error {
			if State(e.State) != from || !now.After(r.StateSince.Add(after)) {
				return errMovedMeanwhile
			}
			return nil
		})
		if errors.Is(err, ErrTransition) {
			return errMovedMeanwhile
		}
		return err
	}
	_, _, err := s.update(ctx, id, change{action: "enrolment.timeout", actor: schedulerActor, to: to,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if State(e.State) != from || !now.After(r.StateSince.Add(after)) {
				return errMovedMeanwhile
			}
			retire(r, now)
			return nil
		}})
	if errors.Is(err, ErrTransition) {
		return errMovedMeanwhile
	}
	return err
}
