// Package opfactor is the second factor of back-office operators
// (security.md E.1): WebAuthn passkeys, phishing-resistant and preferred,
// and TOTP authenticator apps as the fallback for operators without a
// passkey. An operator enrols the first factor with a one-time code a
// supervisor issued (spid-idp operator add / reset-factor): a stolen
// password alone never lets anyone register a factor of their own.
//
// Every secret is sealed with the data key (keys/datakey) and bound to its
// place, "operator_factor|v1|operators|<operator>|<factor>", as device TOTP
// seeds are: a ciphertext copied to another operator does not open. The
// WebAuthn credential (public key, sign count) is sealed too, so whoever
// can write the database cannot plant a key of their own.
//
// The package decides and stores; the console renders the pages and the
// caller records the audit events (it knows the request).
package opfactor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

const (
	// EnrolCodeTTL is how long a supervisor's enrolment code stays valid.
	EnrolCodeTTL = 72 * time.Hour
	// MaxEnrolTries wrong enrolment codes void the code.
	MaxEnrolTries = 5
	// MaxFactors an operator may hold (a spare key, a phone).
	MaxFactors = 5
	// ceremonyTTL bounds a WebAuthn registration or login started on a page.
	ceremonyTTL = 5 * time.Minute
)

var (
	// ErrNoCode: no enrolment code is waiting for this operator.
	ErrNoCode = errors.New("opfactor: no enrolment code issued")
	// ErrWrongCode: the enrolment code does not match.
	ErrWrongCode = errors.New("opfactor: wrong enrolment code")
	// ErrCodeExpired: the enrolment code is past EnrolCodeTTL.
	ErrCodeExpired = errors.New("opfactor: enrolment code expired")
	// ErrTooManyTries: MaxEnrolTries wrong codes voided it.
	ErrTooManyTries = errors.New("opfactor: too many wrong enrolment codes, the code is void")
	// ErrRefused: the factor's answer is wrong (TOTP code, WebAuthn
	// assertion), replayed or for another operator.
	ErrRefused = errors.New("opfactor: second factor refused")
	// ErrNoFactor: the operator has no factor of the kind asked for.
	ErrNoFactor = errors.New("opfactor: no such factor")
	// ErrTooManyFactors: MaxFactors reached.
	ErrTooManyFactors = errors.New("opfactor: too many factors")
	// ErrNoPasskeys: passkeys are not configured on this server.
	ErrNoPasskeys = errors.New("opfactor: passkeys are not available")
)

// Service registers and checks operators' factors. Store and Sealer are
// required; without RP only TOTP is offered.
type Service struct {
	Store  storage.Operators
	Sealer *datakey.Sealer
	RP     *webauthn.WebAuthn
	// Issuer names the IdP in authenticator apps.
	Issuer string
	Now    func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// NewRelyingParty is the WebAuthn relying party of the console at origin
// (scheme://host[:port]): its RP ID is the host, so a passkey works only on
// this site. Browsers allow WebAuthn on https and on http://localhost (a
// secure context), nowhere else; an RP ID is a domain name, never an IP
// address, so an origin such as http://127.0.0.1:8080 (the demo) gets
// ErrNoPasskeys and operators there use TOTP.
func NewRelyingParty(origin, displayName string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("opfactor: origin %q is not scheme://host", origin)
	}
	if _, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		return nil, fmt.Errorf("%w on %s: a passkey needs a domain name, not an IP address", ErrNoPasskeys, origin)
	}
	if displayName == "" {
		displayName = u.Hostname()
	}
	return webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: displayName, RPOrigins: []string{u.Scheme + "://" + u.Host},
		AttestationPreference: protocol.PreferNoAttestation,
		// An operator's passkey must prove the person (PIN, biometrics),
		// not only someone's touch.
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationRequired},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL},
		},
	})
}

// Has reports whether op holds a factor of kind ("" any kind).
func Has(op storage.Operator, kind string) bool {
	return slices.ContainsFunc(op.SecondFactor.Factors, func(f storage.OperatorFactor) bool {
		return kind == "" || f.Kind == kind
	})
}

// AD binds a sealed factor secret to its operator and factor.
func AD(operatorID, factorID string) []byte {
	return []byte("operator_factor|v1|operators|" + operatorID + "|" + factorID)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("opfactor: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// --- enrolment codes ---

// codeAlphabet has no 0/O, 1/I/L: the code is read aloud or copied by hand.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newEnrolCode is 12 characters in three groups (about 59 bits).
func newEnrolCode() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("opfactor: random: %w", err)
	}
	var out strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out.WriteByte('-')
		}
		// 256 % 31 leaves a bias below 1 %: harmless for a code tried 5 times.
		out.WriteByte(codeAlphabet[int(c)%len(codeAlphabet)])
	}
	return out.String(), nil
}

// normaliseCode drops spaces and dashes and upper-cases, so "abcd efgh"
// and "ABCD-EFGH" are one code.
func normaliseCode(c string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, c)
}

func codeHash(code string) string {
	h := sha256.Sum256([]byte("spid-idp/operator-enrol-code/v1|" + normaliseCode(code)))
	return hex.EncodeToString(h[:])
}

// IssueEnrolCode gives the operator a new one-time enrolment code (a
// previous one stops working) and returns it: shown once, stored only as a
// hash. reset also removes every registered factor, for an operator who
// lost their authenticator. by is who issued it.
func (s *Service) IssueEnrolCode(ctx context.Context, operatorID, by string, reset bool) (string, error) {
	code, err := newEnrolCode()
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.Store.UpdateOperator(ctx, operatorID, func(o storage.Operator) (storage.Operator, error) {
		f := &o.SecondFactor
		if reset {
			f.Factors = nil
		}
		f.EnrolCodeHash, f.EnrolCodeExpires, f.EnrolCodeTries, f.EnrolCodeBy = codeHash(code), now.Add(EnrolCodeTTL), 0, by
		o.UpdatedAt = now
		return o, nil
	})
	if err != nil {
		return "", fmt.Errorf("opfactor: issue enrolment code: %w", err)
	}
	return code, nil
}

// RedeemEnrolCode checks and consumes the operator's enrolment code: it
// works once, before EnrolCodeTTL, and MaxEnrolTries wrong codes void it.
func (s *Service) RedeemEnrolCode(ctx context.Context, operatorID, code string) error {
	now := s.now()
	var outcome error
	err := s.Store.UpdateOperator(ctx, operatorID, func(o storage.Operator) (storage.Operator, error) {
		f := &o.SecondFactor
		switch {
		case f.EnrolCodeHash == "":
			return o, ErrNoCode
		case !now.Before(f.EnrolCodeExpires):
			f.EnrolCodeHash, f.EnrolCodeTries = "", 0
			outcome = ErrCodeExpired
			return o, nil
		}
		if subtle.ConstantTimeCompare([]byte(codeHash(code)), []byte(f.EnrolCodeHash)) == 1 {
			f.EnrolCodeHash, f.EnrolCodeExpires, f.EnrolCodeTries = "", time.Time{}, 0
			outcome = nil
			return o, nil
		}
		f.EnrolCodeTries++
		outcome = ErrWrongCode
		if f.EnrolCodeTries >= MaxEnrolTries {
			f.EnrolCodeHash, f.EnrolCodeTries = "", 0
			outcome = ErrTooManyTries
		}
		return o, nil
	})
	if err != nil {
		if errors.Is(err, ErrNoCode) {
			return ErrNoCode
		}
		return fmt.Errorf("opfactor: redeem enrolment code: %w", err)
	}
	return outcome
}

// --- TOTP ---

// PendingTOTP is a TOTP seed shown to the operator and not yet confirmed
// with a code: Sealed travels in the operator's session, sealed to the
// operator and FactorID.
type PendingTOTP struct {
	FactorID string
	Sealed   []byte
	// URI is the otpauth:// URI for the QR code; Secret the base32 seed to
	// type by hand.
	URI, Secret string
}

// NewTOTP draws a seed for op. Nothing is stored until AddTOTP.
func (s *Service) NewTOTP(op storage.Operator) (PendingTOTP, error) {
	seed, err := otp.NewSeed()
	if err != nil {
		return PendingTOTP{}, err
	}
	id, err := randomHex(16)
	if err != nil {
		return PendingTOTP{}, err
	}
	sealed, err := s.Sealer.Seal(seed, AD(op.ID, id))
	if err != nil {
		return PendingTOTP{}, fmt.Errorf("opfactor: seal TOTP seed: %w", err)
	}
	issuer := s.Issuer
	if issuer == "" {
		issuer = "SPID"
	}
	return PendingTOTP{FactorID: id, Sealed: sealed, URI: otp.URI(issuer+" console", op.Username, seed), Secret: otp.EncodeSeed(seed)}, nil
}

// AddTOTP stores the pending seed once the operator typed a code from the
// app (so the app really holds it).
func (s *Service) AddTOTP(ctx context.Context, operatorID, factorID string, sealed []byte, code string) error {
	seed, _, err := s.Sealer.Open(sealed, AD(operatorID, factorID))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	now := s.now()
	step, ok := otp.Check(seed, strings.TrimSpace(code), now, 0)
	if !ok {
		return ErrRefused
	}
	return s.add(ctx, operatorID, storage.OperatorFactor{ID: factorID, Kind: storage.FactorTOTP, Name: "App",
		Secret: sealed, KeyVersion: int64(s.Sealer.CurrentKeyID()), LastStep: step, CreatedAt: now, LastUsedAt: now})
}

func (s *Service) add(ctx context.Context, operatorID string, f storage.OperatorFactor) error {
	return s.Store.UpdateOperator(ctx, operatorID, func(o storage.Operator) (storage.Operator, error) {
		if len(o.SecondFactor.Factors) >= MaxFactors {
			return o, ErrTooManyFactors
		}
		if slices.ContainsFunc(o.SecondFactor.Factors, func(x storage.OperatorFactor) bool { return x.ID == f.ID }) {
			return o, fmt.Errorf("opfactor: factor %s already registered", f.ID)
		}
		o.SecondFactor.Factors = append(slices.Clone(o.SecondFactor.Factors), f)
		o.UpdatedAt = s.now()
		return o, nil
	})
}

// CheckTOTP accepts a code of one of the operator's TOTP factors; a code
// (or an earlier one) already accepted is refused, so a code seen over a
// shoulder or in a proxy log is worth nothing. It returns the factor's ID.
func (s *Service) CheckTOTP(ctx context.Context, operatorID, code string) (string, error) {
	code = strings.TrimSpace(code)
	now := s.now()
	var matched string
	err := s.Store.UpdateOperator(ctx, operatorID, func(o storage.Operator) (storage.Operator, error) {
		matched = ""
		fs := slices.Clone(o.SecondFactor.Factors)
		any := false
		for i, f := range fs {
			if f.Kind != storage.FactorTOTP {
				continue
			}
			any = true
			seed, _, err := s.Sealer.Open(f.Secret, AD(o.ID, f.ID))
			if err != nil {
				continue // fails closed: a seed that does not open matches nothing
			}
			if step, ok := otp.Check(seed, code, now, f.LastStep); ok && matched == "" {
				fs[i].LastStep, fs[i].LastUsedAt = step, now
				matched = f.ID
			}
		}
		if !any {
			return o, ErrNoFactor
		}
		if matched == "" {
			return o, ErrRefused
		}
		o.SecondFactor.Factors = fs
		return o, nil
	})
	if err != nil {
		if errors.Is(err, ErrNoFactor) || errors.Is(err, ErrRefused) {
			return "", err
		}
		return "", fmt.Errorf("opfactor: check TOTP: %w", err)
	}
	return matched, nil
}

// --- WebAuthn ---

// user is an operator as the WebAuthn library sees it: the user handle is
// the operator ID, the credentials the opened passkeys.
type user struct {
	op    storage.Operator
	creds []webauthn.Credential
	ids   []string // factor ID of each credential
}

func (u *user) WebAuthnID() []byte                         { return []byte(u.op.ID) }
func (u *user) WebAuthnName() string                       { return u.op.Username }
func (u *user) WebAuthnDisplayName() string                { return u.op.Name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// open reads op's passkeys; one that does not open is left out (fails
// closed).
func (s *Service) open(op storage.Operator) *user {
	u := &user{op: op}
	for _, f := range op.SecondFactor.Factors {
		if f.Kind != storage.FactorWebAuthn {
			continue
		}
		plain, _, err := s.Sealer.Open(f.Secret, AD(op.ID, f.ID))
		if err != nil {
			continue
		}
		var c webauthn.Credential
		if json.Unmarshal(plain, &c) != nil {
			continue
		}
		u.creds, u.ids = append(u.creds, c), append(u.ids, f.ID)
	}
	return u
}

// Ceremony is a started registration or login: Options go to the page
// (navigator.credentials), Session stays in the operator's server-side
// session until the answer comes back.
type Ceremony struct {
	Options []byte
	Session []byte
}

// BeginRegistration starts registering a passkey for op; the operator's
// existing passkeys are excluded (no double registration).
func (s *Service) BeginRegistration(op storage.Operator) (Ceremony, error) {
	if s.RP == nil {
		return Ceremony{}, ErrNoPasskeys
	}
	u := s.open(op)
	var excl []protocol.CredentialDescriptor
	for _, c := range u.creds {
		excl = append(excl, c.Descriptor())
	}
	creation, sess, err := s.RP.BeginRegistration(u, webauthn.WithExclusions(excl),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
	if err != nil {
		return Ceremony{}, fmt.Errorf("opfactor: begin registration: %w", err)
	}
	return ceremony(creation, sess)
}

func ceremony(options any, sess *webauthn.SessionData) (Ceremony, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return Ceremony{}, fmt.Errorf("opfactor: options: %w", err)
	}
	sj, err := json.Marshal(sess)
	if err != nil {
		return Ceremony{}, fmt.Errorf("opfactor: session: %w", err)
	}
	return Ceremony{Options: o, Session: sj}, nil
}

// FinishRegistration checks the browser's answer (JSON of the
// PublicKeyCredential) against the ceremony and stores the passkey. It
// returns the new factor's ID.
func (s *Service) FinishRegistration(ctx context.Context, op storage.Operator, session []byte, answer io.Reader) (string, error) {
	if s.RP == nil {
		return "", ErrNoPasskeys
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return "", fmt.Errorf("%w: no registration in progress", ErrRefused)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(answer)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	cred, err := s.RP.CreateCredential(s.open(op), sd, parsed)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	id, err := randomHex(16)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(cred)
	if err != nil {
		return "", fmt.Errorf("opfactor: credential: %w", err)
	}
	sealed, err := s.Sealer.Seal(plain, AD(op.ID, id))
	if err != nil {
		return "", fmt.Errorf("opfactor: seal credential: %w", err)
	}
	now := s.now()
	err = s.add(ctx, op.ID, storage.OperatorFactor{ID: id, Kind: storage.FactorWebAuthn, Name: "Passkey",
		Secret: sealed, KeyVersion: int64(s.Sealer.CurrentKeyID()), CreatedAt: now, LastUsedAt: now})
	if err != nil {
		return "", err
	}
	return id, nil
}

// BeginLogin starts a passkey login for op, limited to op's passkeys.
func (s *Service) BeginLogin(op storage.Operator) (Ceremony, error) {
	if s.RP == nil {
		return Ceremony{}, ErrNoPasskeys
	}
	u := s.open(op)
	if len(u.creds) == 0 {
		return Ceremony{}, ErrNoFactor
	}
	assertion, sess, err := s.RP.BeginLogin(u)
	if err != nil {
		return Ceremony{}, fmt.Errorf("opfactor: begin login: %w", err)
	}
	return ceremony(assertion, sess)
}

// FinishLogin checks the browser's assertion; the passkey's new sign
// count is stored, and a count that went backwards (a cloned key) is
// refused. It returns the factor's ID.
func (s *Service) FinishLogin(ctx context.Context, op storage.Operator, session []byte, answer io.Reader) (string, error) {
	if s.RP == nil {
		return "", ErrNoPasskeys
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil || len(sd.Challenge) == 0 {
		return "", fmt.Errorf("%w: no login in progress", ErrRefused)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(answer)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	u := s.open(op)
	cred, err := s.RP.ValidateLogin(u, sd, parsed)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if cred.Authenticator.CloneWarning {
		return "", fmt.Errorf("%w: the passkey's signature counter went backwards (cloned authenticator?)", ErrRefused)
	}
	i := slices.IndexFunc(u.creds, func(c webauthn.Credential) bool { return bytes.Equal(c.ID, cred.ID) })
	if i < 0 {
		return "", ErrRefused
	}
	factorID := u.ids[i]
	plain, err := json.Marshal(cred)
	if err != nil {
		return "", fmt.Errorf("opfactor: credential: %w", err)
	}
	sealed, err := s.Sealer.Seal(plain, AD(op.ID, factorID))
	if err != nil {
		return "", fmt.Errorf("opfactor: seal credential: %w", err)
	}
	now := s.now()
	err = s.Store.UpdateOperator(ctx, op.ID, func(o storage.Operator) (storage.Operator, error) {
		fs := slices.Clone(o.SecondFactor.Factors)
		j := slices.IndexFunc(fs, func(f storage.OperatorFactor) bool { return f.ID == factorID })
		if j < 0 {
			return o, ErrNoFactor // removed meanwhile (reset-factor)
		}
		fs[j].Secret, fs[j].KeyVersion, fs[j].LastUsedAt = sealed, int64(s.Sealer.CurrentKeyID()), now
		o.SecondFactor.Factors = fs
		return o, nil
	})
	if err != nil {
		if errors.Is(err, ErrNoFactor) {
			return "", ErrRefused
		}
		return "", fmt.Errorf("opfactor: store sign count: %w", err)
	}
	return factorID, nil
}
