package enrolment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// Start opens a draft request of the given identity type and path and
// returns it with its public code.
func (s *Service) Start(ctx context.Context, identityType, path, orderType string) (storage.Enrolment, error) {
	var ps identity.Problems
	if !slices.Contains(identityTypes, identityType) {
		ps = append(ps, fmt.Sprintf("identity type: one of %s", strings.Join(identityTypes, ", ")))
	}
	if !slices.Contains(paths, path) {
		ps = append(ps, fmt.Sprintf("path: one of %s", strings.Join(paths, ", ")))
	}
	if orderType == "" {
		orderType = OrderNew
	}
	if orderType != OrderNew && orderType != OrderRenewal {
		ps = append(ps, "order type: new or renewal")
	}
	if len(ps) > 0 {
		return storage.Enrolment{}, ps
	}
	now := s.now()
	r := &Request{OrderType: orderType, StateSince: now}
	e := storage.Enrolment{ID: newID(), State: string(StateDraft), Path: path, IdentityType: identityType,
		Data: r.encode(), CreatedAt: now, UpdatedAt: now}
	for attempt := 0; ; attempt++ {
		code, err := newCode()
		if err != nil {
			return storage.Enrolment{}, err
		}
		e.Code = code
		err = s.Store.CreateEnrolment(ctx, e)
		if err == nil {
			break
		}
		// 32^10 codes: a clash is all but impossible, but never fatal.
		if !errors.Is(err, storage.ErrAlreadyExists) || attempt == 3 {
			return storage.Enrolment{}, fmt.Errorf("creating the request: %w", err)
		}
	}
	err := s.record(ctx, applicantActor, "enrolment.create", e.ID, "success",
		map[string]string{"code": e.Code, "path": path, "identity_type": identityType, "to": e.State})
	return e, err
}

// draftOnly refuses changes to the applicant's data once submitted, except
// while a rejected request is being corrected (Editable).
func draftOnly(e *storage.Enrolment, r *Request, now time.Time) error {
	if !Editable(*e, r, now) {
		return fmt.Errorf("the data of a request %s cannot change: %w", e.State, ErrTransition)
	}
	return nil
}

// SetApplicant validates and stores the applicant, the identity document
// and (professional_legal) the company. Every problem is reported, as
// identity.Problems; the codice fiscale is checked fully and against the
// other data (§4).
func (s *Service) SetApplicant(ctx context.Context, id string, a Applicant, d Document, c *Company) error {
	now := s.now()
	e, err := s.Store.GetEnrolment(ctx, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	a, d, ps := checkApplicant(a, d, c, e.IdentityType, now)
	if len(ps) > 0 {
		return s.refused(ctx, applicantActor, "enrolment.applicant", id, ps)
	}
	_, _, err = s.update(ctx, id, change{action: "enrolment.applicant", actor: applicantActor,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := draftOnly(e, r, now); err != nil {
				return err
			}
			r.Applicant, r.Document, r.Company = &a, &d, c
			e.FiscalNumber = a.FiscalNumber
			return nil
		}})
	return err
}

// checkApplicant normalises the data to the formats they are asserted in
// (identity.NormaliseAttributes, the Response builder's own rules) and
// applies the enrolment rules on top.
func checkApplicant(a Applicant, d Document, c *Company, identityType string, now time.Time) (Applicant, Document, identity.Problems) {
	var ps identity.Problems
	a.FiscalNumber = fiscalcode.Normalise(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(a.FiscalNumber)), "TINIT-"))
	attrs := a.attributes()
	if d.Type != "" || d.Number != "" {
		d.Number = strings.ToUpper(strings.ReplaceAll(d.Number, " ", ""))
		if name := strings.Join(strings.Fields(d.Issuer), " "); name != "" {
			d.IssuerName, d.Issuer = name, IssuerToken(name)
		}
		attrs["idCard"] = strings.Join([]string{d.Type, d.Number, d.Issuer, d.IssueDate, d.ExpiryDate}, " ")
	}
	if c != nil {
		attrs["companyName"], attrs["companyFiscalNumber"], attrs["registeredOffice"] = c.Name, c.FiscalNumber, c.RegisteredOffice
		if c.IvaCode != "" {
			attrs["ivaCode"] = c.IvaCode
		}
	}
	norm, aps := identity.NormaliseAttributes(attrs)
	ps = append(ps, aps...)
	for _, req := range []struct{ field, v string }{
		{"name", a.Name}, {"familyName", a.FamilyName}, {"fiscalNumber", a.FiscalNumber},
		{"dateOfBirth", a.DateOfBirth}, {"placeOfBirth", a.PlaceOfBirth}, {"gender", a.Gender},
		{"email", a.Email}, {"mobilePhone", a.MobilePhone}, {"idCard", d.Type},
	} {
		if strings.TrimSpace(req.v) == "" {
			ps = append(ps, req.field+": required")
		}
	}
	if identityType == TypeProfessionalLegal && (c == nil || strings.TrimSpace(c.Name) == "" || strings.TrimSpace(c.FiscalNumber) == "") {
		ps = append(ps, "company: name and fiscal number required for a professional_legal identity")
	}
	if err := fiscalcode.Validate(a.FiscalNumber); err != nil && a.FiscalNumber != "" {
		ps = append(ps, "fiscalNumber: "+err.Error())
	}
	birth, berr := time.ParseInLocation(time.DateOnly, a.DateOfBirth, rome())
	if berr == nil {
		if fiscalcode.Validate(a.FiscalNumber) == nil {
			for _, m := range fiscalcode.CheckAgainst(a.FiscalNumber, fiscalcode.Person{Name: a.Name, FamilyName: a.FamilyName,
				DateOfBirth: birth, Gender: strings.ToUpper(a.Gender), PlaceOfBirth: strings.ToUpper(a.PlaceOfBirth),
				CountyOfBirth: strings.ToUpper(a.CountyOfBirth)}) {
				ps = append(ps, m.Field+": "+m.Error())
			}
		}
		if !adult(birth, now) {
			ps = append(ps, fmt.Sprintf("dateOfBirth: the applicant must be at least %d years old", MinimumAge))
		}
	}
	if d.IssueDate != "" {
		if t, err := time.ParseInLocation(time.DateOnly, d.IssueDate, rome()); err == nil && t.After(now) {
			ps = append(ps, "idCard: the issue date is in the future")
		}
	}
	if d.ExpiryDate != "" {
		if t, err := time.ParseInLocation(time.DateOnly, d.ExpiryDate, rome()); err == nil && t.Before(dayStart(now)) {
			ps = append(ps, "idCard: the document has expired")
		}
	}
	if len(ps) > 0 {
		return a, d, ps
	}
	a.Name, a.FamilyName, a.DateOfBirth, a.PlaceOfBirth = norm["name"], norm["familyName"], norm["dateOfBirth"], norm["placeOfBirth"]
	a.CountyOfBirth, a.Gender, a.Email, a.MobilePhone = norm["countyOfBirth"], norm["gender"], norm["email"], norm["mobilePhone"]
	a.Address, a.DigitalAddress, a.IvaCode = norm["address"], norm["digitalAddress"], norm["ivaCode"]
	return a, d, nil
}

// attributes maps the applicant to SPID attribute names.
func (a Applicant) attributes() map[string]string {
	m := map[string]string{
		"name": a.Name, "familyName": a.FamilyName, "fiscalNumber": a.FiscalNumber,
		"dateOfBirth": a.DateOfBirth, "placeOfBirth": a.PlaceOfBirth, "countyOfBirth": a.CountyOfBirth,
		"gender": a.Gender, "email": a.Email, "mobilePhone": a.MobilePhone,
		"address": a.Address, "digitalAddress": a.DigitalAddress, "ivaCode": a.IvaCode,
	}
	for k, v := range m {
		if strings.TrimSpace(v) == "" {
			delete(m, k)
		}
	}
	return m
}

// adult reports whether someone born on birth is at least 18 on now's
// civil date (Europe/Rome); born on 29 February, they come of age on
// 1 March in common years.
func adult(birth, now time.Time) bool {
	n := now.In(rome())
	by, bm, bd := birth.Date()
	coming := time.Date(by+MinimumAge, bm, bd, 0, 0, 0, 0, rome())
	return !dayStart(n).Before(coming)
}

func dayStart(t time.Time) time.Time {
	y, m, d := t.In(rome()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, rome())
}

// SendEmailLink e-mails a single-use link (24 h) that proves the applicant
// reads the address (REG art. 5, E017).
func (s *Service) SendEmailLink(ctx context.Context, id string) error {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if !Editable(e, r, s.now()) || r.Applicant == nil {
		return fmt.Errorf("request %s: the applicant's data come first: %w", id, ErrNotReady)
	}
	secret, hash, err := newToken()
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.Store.CreateToken(ctx, storage.Token{Hash: hash, Purpose: PurposeVerifyEmail, Subject: id,
		ExpiresAt: now.Add(EmailLinkTTL), CreatedAt: now}); err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if err := s.record(ctx, applicantActor, "enrolment.email_link", id, "success", map[string]string{"code": e.Code}); err != nil {
		return err
	}
	link := s.link("/enrol/verify-email", secret)
	return s.send(ctx, mail.Message{To: r.Applicant.Email, Subject: "SPID: conferma il tuo indirizzo e-mail / confirm your e-mail address",
		Text: emailVerificationText(e.Code, link)}, "verification")
}

// ConfirmEmail uses the e-mailed link. The address it proves is the one the
// request held when the link was sent... and still holds now.
func (s *Service) ConfirmEmail(ctx context.Context, token string) (storage.Enrolment, error) {
	t, err := s.Store.ConsumeToken(ctx, TokenHash(token), PurposeVerifyEmail, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Enrolment{}, ErrLinkInvalid
	} else if err != nil {
		return storage.Enrolment{}, err
	}
	e, _, err := s.update(ctx, t.Subject, change{action: "enrolment.email_verified", actor: applicantActor,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := draftOnly(e, r, now); err != nil {
				return err
			}
			r.EmailVerified, r.EmailVerifiedAt = r.Applicant.Email, now
			return nil
		}})
	return e, err
}

func smsTx(kind, id string) string { return "enrol-" + kind + ":" + id }

// SendMobileCode sends the 6-digit code that verifies the mobile number.
func (s *Service) SendMobileCode(ctx context.Context, id string) error {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if !Editable(e, r, s.now()) || r.Applicant == nil {
		return fmt.Errorf("request %s: the applicant's data come first: %w", id, ErrNotReady)
	}
	return s.SMS.Send(ctx, smsTx("mobile", id), id, r.Applicant.MobilePhone, smsPurposeMobile)
}

// ConfirmMobile checks the code sent by SendMobileCode.
func (s *Service) ConfirmMobile(ctx context.Context, id, code string) error {
	if err := s.SMS.VerifyFor(ctx, smsTx("mobile", id), smsPurposeMobile, code); err != nil {
		return fmt.Errorf("request %s: mobile code: %w", id, err)
	}
	_, _, err := s.update(ctx, id, change{action: "enrolment.mobile_verified", actor: applicantActor,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := draftOnly(e, r, now); err != nil {
				return err
			}
			r.MobileVerified, r.MobileVerifiedAt = r.Applicant.MobilePhone, now
			return nil
		}})
	return err
}

// Consents are the acceptances of §3.1 / REG art. 5.
type Consents struct {
	PrivacyVersion      string
	TermsVersion        string
	Declaration         bool   // art. 76 DPR 445/2000
	VideoRecording      bool   // video path only
	AccessNotifications string // "off", "email", "sms"
}

// AcceptConsents records the acceptances with the time and IP (E021).
func (s *Service) AcceptConsents(ctx context.Context, id string, c Consents, ip string) error {
	var ps identity.Problems
	if strings.TrimSpace(c.PrivacyVersion) == "" {
		ps = append(ps, "privacy: the notice version read is required")
	}
	if strings.TrimSpace(c.TermsVersion) == "" {
		ps = append(ps, "terms: the version accepted is required")
	}
	if !c.Declaration {
		ps = append(ps, "declaration: the declaration of truthfulness (art. 76 DPR 445/2000) is required")
	}
	switch c.AccessNotifications {
	case "", "off", "email", "sms":
	default:
		ps = append(ps, "access notifications: off, email or sms")
	}
	if len(ps) > 0 {
		return ps
	}
	_, _, err := s.update(ctx, id, change{action: "enrolment.consents", actor: applicantActor,
		details: map[string]string{"privacy": c.PrivacyVersion, "terms": c.TermsVersion},
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := draftOnly(e, r, now); err != nil {
				return err
			}
			if e.Path == PathVideo && !c.VideoRecording {
				return fmt.Errorf("the video path needs the recording consent: %w", ErrNotReady)
			}
			r.Consents = []Consent{
				{Kind: "privacy", Version: c.PrivacyVersion, At: now, IP: ip},
				{Kind: "terms", Version: c.TermsVersion, At: now, IP: ip},
				{Kind: "declaration_art76", At: now, IP: ip},
			}
			if c.VideoRecording {
				r.Consents = append(r.Consents, Consent{Kind: "video_recording", At: now, IP: ip})
			}
			if c.AccessNotifications == "" {
				c.AccessNotifications = "off"
			}
			r.Consents = append(r.Consents, Consent{Kind: "access_notifications", Value: c.AccessNotifications, At: now, IP: ip})
			return nil
		}})
	return err
}

// AddEvidence attaches a stored evidence item (evidence.Store.Put made it)
// to a request that is not decided yet.
func (s *Service) AddEvidence(ctx context.Context, id string, item evidence.Item) error {
	if item.ID == "" || item.Kind == "" || item.SHA256 == "" {
		return errors.New("evidence: ID, kind and SHA-256 are required")
	}
	actor := item.UploadedBy
	if actor == "" {
		actor = applicantActor
	}
	_, _, err := s.update(ctx, id, change{action: "enrolment.evidence", actor: actor,
		details: map[string]string{"kind": item.Kind, "evidence_id": item.ID, "sha256": item.SHA256,
			"media_type": item.MediaType, "size": fmt.Sprint(item.Size)},
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			switch State(e.State) {
			case StateDraft, StateAwaitingPayment, StateAwaitingRecognition, StateAwaitingDocuments, StateAwaitingProcessing, StateRejected:
			default:
				return fmt.Errorf("a request %s takes no more evidence: %w", e.State, ErrTransition)
			}
			if item.CreatedAt.IsZero() {
				item.CreatedAt = now
			}
			r.Evidence = append(r.Evidence, item)
			return nil
		}})
	return err
}

// Upload stores an upload in the evidence store (type sniffed, size capped:
// E020) and attaches it; if the request refuses it, the blob is deleted, so
// nothing is kept for a refused upload.
func (s *Service) Upload(ctx context.Context, id, kind, mediaType, uploader string, r io.Reader, maxBytes int64) (evidence.Item, error) {
	if s.Evidence == nil {
		return evidence.Item{}, errors.New("enrolment: no evidence store configured")
	}
	item, err := s.Evidence.Put(ctx, kind, mediaType, r, maxBytes)
	if err != nil {
		return item, fmt.Errorf("request %s: %s: %w", id, kind, err)
	}
	item.UploadedBy = uploader
	if err := s.AddEvidence(ctx, id, item); err != nil {
		return item, errors.Join(err, s.Evidence.Delete(ctx, item))
	}
	return item, nil
}

// SendSignCode sends the SMS code that confirms ("signs") the request.
func (s *Service) SendSignCode(ctx context.Context, id string) error {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if err := readyToSubmit(e, r); err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	return s.SMS.Send(ctx, smsTx("sign", id), id, r.MobileVerified, smsPurposeSign)
}

// readyToSubmit is E016 and the other steps of §5.1 before confirmation.
func readyToSubmit(e storage.Enrolment, r *Request) error {
	var missing []string
	if r.Applicant == nil {
		return fmt.Errorf("personal data missing: %w", ErrNotReady)
	}
	if r.EmailVerified == "" || r.EmailVerified != r.Applicant.Email {
		missing = append(missing, "e-mail not verified")
	}
	if r.MobileVerified == "" || r.MobileVerified != r.Applicant.MobilePhone {
		missing = append(missing, "mobile not verified")
	}
	for _, k := range []string{"privacy", "terms", "declaration_art76"} {
		if _, ok := r.consent(k); !ok {
			missing = append(missing, k+" not accepted")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(missing, ", "), ErrNotReady)
	}
	return nil
}

// Submit confirms the request with the SMS code of purpose sign_request
// sent for this request (E025) and queues it for recognition; the request
// code is e-mailed (E022).
func (s *Service) Submit(ctx context.Context, id, smsCode string) (storage.Enrolment, error) {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return e, fmt.Errorf("request %s: %w", id, err)
	}
	if err := Transition(State(e.State), StateAwaitingRecognition); err != nil {
		return e, fmt.Errorf("request %s: %w", id, err)
	}
	if err := readyToSubmit(e, r); err != nil {
		return e, s.refused(ctx, applicantActor, "enrolment.submit", id, err)
	}
	birth, err := time.ParseInLocation(time.DateOnly, r.Applicant.DateOfBirth, rome())
	if err != nil || !adult(birth, s.now()) {
		return e, s.refused(ctx, applicantActor, "enrolment.submit", id,
			fmt.Errorf("the applicant must be at least %d years old: %w", MinimumAge, ErrNotReady))
	}
	if err := s.checkDuplicates(ctx, e, r); err != nil {
		return e, s.refused(ctx, applicantActor, "enrolment.submit", id, err)
	}
	if err := s.SMS.VerifyFor(ctx, smsTx("sign", id), smsPurposeSign, smsCode); err != nil {
		return e, s.refused(ctx, applicantActor, "enrolment.submit", id, fmt.Errorf("confirmation code: %w", err))
	}
	to, price := StateAwaitingRecognition, int64(0)
	if s.Price != nil {
		price = s.Price(e.Path, e.IdentityType)
	}
	if price > 0 {
		to = StateAwaitingPayment
	}
	e, r, err = s.update(ctx, id, change{action: "enrolment.submit", actor: applicantActor, to: to,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if err := readyToSubmit(*e, r); err != nil {
				return err
			}
			r.RequestSignedAt = now
			if price > 0 {
				r.Payment = &Payment{Amount: price, State: "pending"}
			}
			return nil
		}})
	if err != nil {
		return e, err
	}
	return e, s.send(ctx, mail.Message{To: r.Applicant.Email,
		Subject: "SPID: richiesta " + FormatCode(e.Code) + " ricevuta / request received",
		Text:    submittedText(e.Code, e.Path, r.Payment)}, "submission")
}

// InUse says which of the applicant's data another request or identity
// already holds, so the form can say what to do (recover the credentials,
// follow the open request, use a contact of one's own). It wraps
// ErrDuplicate.
type InUse struct {
	// Field is fiscalNumber, email or mobilePhone.
	Field string
	// Identity: an identity holds it; otherwise an open request does
	// (its code in Code).
	Identity bool
	Code     string
}

func (u *InUse) Error() string {
	switch {
	case u.Field == "fiscalNumber" && u.Identity:
		return "an identity of the same type exists for this fiscal code"
	case u.Field == "fiscalNumber":
		return "request " + FormatCode(u.Code) + " of the same type is open for this fiscal code"
	case u.Field == "email":
		return "the e-mail address belongs to another person's identity"
	}
	return "the mobile number belongs to another person's identity"
}

func (u *InUse) Unwrap() error { return ErrDuplicate }

// CheckInUse is the duplicate check of E023 and E024 run as soon as the
// applicant's data are in (the data step), so nobody verifies an e-mail
// and a mobile for a request that cannot go on. Submit runs it again.
func (s *Service) CheckInUse(ctx context.Context, id string) error {
	e, r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if r.Applicant == nil {
		return fmt.Errorf("request %s: %w", id, ErrNotReady)
	}
	return s.checkDuplicates(ctx, e, r)
}

// checkDuplicates is E023 and E024: one open request and one identity per
// type per CF; e-mail and mobile not bound to another person's identity.
func (s *Service) checkDuplicates(ctx context.Context, e storage.Enrolment, r *Request) error {
	others, err := s.Store.ListEnrolmentsByFiscalNumber(ctx, e.FiscalNumber)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != e.ID && o.IdentityType == e.IdentityType && open(State(o.State)) {
			return &InUse{Field: "fiscalNumber", Code: o.Code}
		}
	}
	ids, err := s.Store.ListIdentities(ctx)
	if err != nil {
		return err
	}
	cf := "TINIT-" + e.FiscalNumber
	for _, id := range ids {
		if id.Status == storage.IdentityRevoked || id.Status == storage.IdentityExpired {
			continue
		}
		if id.Attributes["fiscalNumber"] == cf {
			if id.Type == spidType(e.IdentityType) {
				return &InUse{Field: "fiscalNumber", Identity: true}
			}
			continue
		}
		if id.Attributes["email"] != "" && strings.EqualFold(id.Attributes["email"], r.Applicant.Email) {
			return &InUse{Field: "email", Identity: true}
		}
		if m := id.Attributes["mobilePhone"]; m != "" && strings.TrimPrefix(m, "+") == strings.TrimPrefix(r.Applicant.MobilePhone, "+") {
			return &InUse{Field: "mobilePhone", Identity: true}
		}
	}
	return nil
}

// open reports whether a request in s still heads for an identity.
func open(s State) bool {
	return !s.Terminal() && s != StateDraft
}

func spidType(t string) storage.IdentityType {
	switch t {
	case TypeProfessional:
		return storage.IdentityProfessional
	case TypeProfessionalLegal:
		return storage.IdentityProfessionalForLegal
	}
	return storage.IdentityCitizen
}

// Cancel ends a request before recognition. Cancelling while awaiting
// payment needs confirmed (the explicit confirmation step, E055).
func (s *Service) Cancel(ctx context.Context, id string, confirmed bool) error {
	_, _, err := s.update(ctx, id, change{action: "enrolment.cancel", actor: applicantActor, to: StateCancelled,
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if State(e.State) == StateAwaitingPayment && !confirmed {
				return fmt.Errorf("cancelling a request awaiting payment needs confirmation: %w", ErrNotReady)
			}
			retire(r, now)
			return nil
		}})
	return err
}

// Payment methods of §3.1.
var paymentMethods = []string{"card", "paypal", "transfer"}

// Pay records the payment of a request awaiting it (the payment provider's
// confirmation, or an operator matching a bank transfer by the request
// code) and moves it on to recognition.
func (s *Service) Pay(ctx context.Context, id, actor, method, reference string) (storage.Enrolment, error) {
	if !slices.Contains(paymentMethods, method) {
		return storage.Enrolment{}, fmt.Errorf("payment method: one of %s", strings.Join(paymentMethods, ", "))
	}
	e, _, err := s.update(ctx, id, change{action: "enrolment.pay", actor: actor, to: StateAwaitingRecognition,
		details: map[string]string{"method": method, "reference": oneLine(reference, 64)},
		apply: func(e *storage.Enrolment, r *Request, now time.Time) error {
			if r.Payment == nil {
				return fmt.Errorf("no payment is due: %w", ErrNotReady)
			}
			r.Payment.State, r.Payment.Method, r.Payment.Reference, r.Payment.PaidAt = "paid", method, oneLine(reference, 64), now
			return nil
		}})
	return e, err
}
