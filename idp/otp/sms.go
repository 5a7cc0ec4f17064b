package otp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// Sender delivers an SMS (notify/sms.Outbox, notify/sms.HTTPGateway).
type Sender interface {
	Send(ctx context.Context, m sms.Message) error
}

// Counters counts events in a window (storage.Ephemeral.Incr).
type Counters interface {
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
}

// SMS code rules (security.md C.5, enrolment-lifecycle.md §7.5).
const (
	SMSCodeTTL        = 5 * time.Minute
	MaxSendsPerTx     = 3
	MaxSendsPerDay    = 10 // per identity
	MaxSMSTries       = 3
	sendWindowTx      = time.Hour      // longer than any transaction lives
	sendWindowDay     = 24 * time.Hour // "per day" as a rolling 24 h from the first send
	sendWindowGlobal  = time.Hour
	expiredRecordKeep = 10 * time.Minute // so a late code says "expired", not "no code"
)

// Purposes of an SMS code (enrolment-lifecycle.md §7.5). The text names the
// purpose; a code is checked against the purpose it was sent for by
// VerifyFor.
const (
	PurposeLogin            = "login"
	PurposeVerifyMobile     = "verify_mobile"
	PurposeSignRequest      = "sign_request"
	PurposeActivateIdentity = "activate_identity"
	PurposeActivateApp      = "activate_app"
	PurposeRecoverPassword  = "recover_password"
	PurposeVideoSession     = "video_session"
	PurposeCareVerification = "care_verification"
)

var purposeText = map[string]string{
	PurposeLogin:            "per accedere con SPID",
	PurposeVerifyMobile:     "per verificare il tuo numero di cellulare",
	PurposeSignRequest:      "per confermare la richiesta di identità SPID",
	PurposeActivateIdentity: "per attivare la tua identità SPID",
	PurposeActivateApp:      "per attivare l'app",
	PurposeRecoverPassword:  "per reimpostare la password",
	PurposeVideoSession:     "per il riconoscimento in video",
	PurposeCareVerification: "per farti riconoscere dall'assistenza",
}

// MobileCooldown is how long after a change of the registered mobile the
// new number receives no codes that log in or activate a credential
// (security.md C.12, S086): a SIM swapped by a fraudster together with a
// contact change must not become a second factor at once.
const MobileCooldown = 24 * time.Hour

// MobileCooldownKey is the Values key that exists, holding the RFC 3339
// time of the change, until the cool-down of identityID's new mobile ends.
func MobileCooldownKey(identityID string) string { return "contact-cooldown:mobile:" + identityID }

// cooling are the purposes refused during the cool-down: the codes that
// sign in or turn the phone into a credential. Verifying the new number
// itself, care verification and the rest still work.
var cooling = map[string]bool{PurposeLogin: true, PurposeActivateApp: true, PurposeActivateIdentity: true, PurposeRecoverPassword: true}

// CooldownError is returned by Send while the mobile cool-down runs; Until
// is when codes can be sent again. errors.Is(err, ErrMobileCooldown).
type CooldownError struct{ Until time.Time }

func (e *CooldownError) Error() string {
	return "otp: the mobile number was changed less than 24 hours ago; codes resume at " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrMobileCooldown) true.
func (e *CooldownError) Is(target error) bool { return target == ErrMobileCooldown }

// ErrMobileCooldown: see CooldownError.
var ErrMobileCooldown = errors.New("otp: mobile cool-down")

// Cooldown reports when identityID's mobile cool-down ends, zero when none
// runs. A storage error is returned as is: callers refuse (fail closed).
func Cooldown(ctx context.Context, v storage.Values, identityID string) (time.Time, error) {
	data, _, err := v.GetValue(ctx, MobileCooldownKey(identityID))
	if errors.Is(err, storage.ErrNotFound) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("otp: mobile cool-down: %w", err)
	}
	changed, err := time.Parse(time.RFC3339, string(data))
	if err != nil {
		// Unreadable: the key exists, so the cool-down runs; count a full one.
		changed = time.Now()
	}
	return changed.Add(MobileCooldown), nil
}

var (
	// ErrTooManySends: a send limit is reached (per transaction, per
	// identity per day, or the installation's hourly cap).
	ErrTooManySends = errors.New("otp: too many SMS codes sent")
	// ErrWrongCode: the code does not match; errors.As gives a
	// *WrongCodeError with the tries left.
	ErrWrongCode = errors.New("otp: wrong code")
	// ErrExpired: the code is older than SMSCodeTTL.
	ErrExpired = errors.New("otp: code expired")
	// ErrNoCode: no code was sent for this transaction (or purpose), or it
	// was already used.
	ErrNoCode = errors.New("otp: no code for this transaction")
	// ErrTooManyTries: MaxSMSTries wrong codes voided the code; a new one
	// must be sent.
	ErrTooManyTries = errors.New("otp: too many wrong codes, the code is void")
)

// WrongCodeError is ErrWrongCode with the tries left before the code is
// void (for the page: "codice errato, ti restano N tentativi").
type WrongCodeError struct{ TriesLeft int }

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("otp: wrong code, %d tries left", e.TriesLeft)
}

// Is makes errors.Is(err, ErrWrongCode) true.
func (e *WrongCodeError) Is(target error) bool { return target == ErrWrongCode }

// SMSCodes sends and checks SMS one-time codes bound to a transaction (a
// login flow, an activation): stored in Values under "sms:" + txID, shared
// by every node.
type SMSCodes struct {
	Values   storage.Values
	Sender   Sender
	Host     string           // login host, for the "@host #code" line browsers autofill from
	Now      func() time.Time // nil: time.Now
	Counters Counters         // send limits
	// HourlyLimit caps SMS sent by the whole installation per hour (toll
	// fraud); zero means no cap.
	HourlyLimit int64
}

// smsRecord is what Values holds. The code is kept as a salted hash, so a
// store dump or a MONITOR trace does not show live codes at a glance.
type smsRecord struct {
	Salt       []byte    `json:"salt"`
	Hash       []byte    `json:"hash"`
	IdentityID string    `json:"identity"`
	Purpose    string    `json:"purpose"`
	Expires    time.Time `json:"expires"`
	Tries      int       `json:"tries"`
	Used       bool      `json:"used"`
}

func codeHash(salt []byte, code string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(code))
	return h.Sum(nil)
}

func smsKey(txID string) string { return "sms:" + txID }

func (s *SMSCodes) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *SMSCodes) check() error {
	switch {
	case s.Values == nil:
		return errors.New("otp: SMS codes: no value store")
	case s.Sender == nil:
		return errors.New("otp: SMS codes: no sender")
	case s.Counters == nil:
		return errors.New("otp: SMS codes: no counters for the send limits")
	case s.Host == "" || strings.ContainsAny(s.Host, "/ \t\r\n#@"):
		return fmt.Errorf("otp: SMS codes: login host %q must be a bare host name", s.Host)
	}
	return nil
}

// Send sends a new code for the transaction to mobile, the identity's
// registered number (never one from the request). A previous code of the
// transaction stops working. Limits give ErrTooManySends.
func (s *SMSCodes) Send(ctx context.Context, txID, identityID, mobile, purpose string) error {
	if err := s.check(); err != nil {
		return err
	}
	if txID == "" || identityID == "" {
		return errors.New("otp: send SMS code: empty transaction or identity")
	}
	if strings.TrimSpace(mobile) == "" {
		return errors.New("otp: send SMS code: no registered mobile number")
	}
	if cooling[purpose] && identityID != "" {
		until, err := Cooldown(ctx, s.Values, identityID)
		if err != nil {
			return err
		}
		if until.After(s.now()) {
			return &CooldownError{Until: until}
		}
	}
	// Count before sending: failed deliveries count too, or a broken
	// gateway would let a script retry for ever.
	n, err := s.Counters.Incr(ctx, "sms-sent-tx:"+txID, sendWindowTx)
	if err != nil {
		return fmt.Errorf("otp: send SMS code: %w", err)
	}
	if n > MaxSendsPerTx {
		return fmt.Errorf("%w: %d per transaction", ErrTooManySends, MaxSendsPerTx)
	}
	n, err = s.Counters.Incr(ctx, "sms-sent-identity:"+identityID, sendWindowDay)
	if err != nil {
		return fmt.Errorf("otp: send SMS code: %w", err)
	}
	if n > MaxSendsPerDay {
		return fmt.Errorf("%w: %d per day", ErrTooManySends, MaxSendsPerDay)
	}
	if s.HourlyLimit > 0 {
		n, err = s.Counters.Incr(ctx, "sms-sent-all", sendWindowGlobal)
		if err != nil {
			return fmt.Errorf("otp: send SMS code: %w", err)
		}
		if n > s.HourlyLimit {
			return fmt.Errorf("%w: the service's hourly limit is reached", ErrTooManySends)
		}
	}

	code, err := newSMSCode()
	if err != nil {
		return err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("otp: send SMS code: %w", err)
	}
	now := s.now()
	rec := smsRecord{
		Salt: salt, Hash: codeHash(salt, code), IdentityID: identityID, Purpose: purpose,
		Expires: now.Add(SMSCodeTTL),
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("otp: send SMS code: %w", err)
	}
	if err := s.replace(ctx, smsKey(txID), data, rec.Expires.Add(expiredRecordKeep)); err != nil {
		return err
	}
	msg := sms.Message{To: mobile, Text: smsText(purpose, s.Host, code)}
	if err := s.Sender.Send(ctx, msg); err != nil {
		// Nobody received this code: do not leave it valid.
		_ = s.Values.DeleteValue(context.WithoutCancel(ctx), smsKey(txID))
		return fmt.Errorf("otp: send SMS code: %w", err)
	}
	return nil
}

// replace stores data under key, dropping a previous code (Values creates
// first-wins, so delete then create; a concurrent resend may slip in
// between, in which case try again: the last one wins).
func (s *SMSCodes) replace(ctx context.Context, key string, data []byte, expires time.Time) error {
	for range 3 {
		if err := s.Values.DeleteValue(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("otp: send SMS code: %w", err)
		}
		err := s.Values.CreateValue(ctx, key, data, expires)
		if err == nil {
			return nil
		}
		if !errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("otp: send SMS code: %w", err)
		}
	}
	return errors.New("otp: send SMS code: concurrent sends for one transaction")
}

// newSMSCode is 6 uniformly random digits.
func newSMSCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("otp: new SMS code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// smsText is the message: Italian, the code and its purpose, no link and no
// SP name (ui.md P03), and a last line in the origin-bound one-time-code
// format so browsers fill the code in only on our login host.
func smsText(purpose, host, code string) string {
	what, ok := purposeText[purpose]
	var b strings.Builder
	if ok {
		b.WriteString("Codice SPID " + what + ": " + code + ".")
	} else {
		b.WriteString("Il tuo codice SPID è " + code + ".")
	}
	b.WriteString(" Scade tra 5 minuti.")
	switch purpose {
	case PurposeCareVerification, PurposeVideoSession:
		b.WriteString(" Dillo solo all'operatore che ti assiste.")
	default:
		b.WriteString(" Non comunicarlo a nessuno.")
	}
	b.WriteString("\n\n@" + host + " #" + code)
	return b.String()
}

// Verify checks code against the transaction's code, whatever its purpose.
// A code works once; MaxSMSTries wrong codes void it.
func (s *SMSCodes) Verify(ctx context.Context, txID, code string) error {
	return s.verify(ctx, txID, "", false, code)
}

// VerifyFor is Verify that also requires the code to have been sent for
// purpose; a code sent for another purpose is ErrNoCode (not a try).
func (s *SMSCodes) VerifyFor(ctx context.Context, txID, purpose, code string) error {
	return s.verify(ctx, txID, purpose, true, code)
}

func (s *SMSCodes) verify(ctx context.Context, txID, purpose string, checkPurpose bool, code string) error {
	if s.Values == nil {
		return errors.New("otp: SMS codes: no value store")
	}
	if txID == "" {
		return ErrNoCode
	}
	now := s.now()
	var outcome error
	err := s.Values.UpdateValue(ctx, smsKey(txID), func(data []byte) ([]byte, error) {
		var rec smsRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("otp: stored SMS code unreadable: %w", err)
		}
		switch {
		case rec.Used:
			return nil, ErrNoCode
		case checkPurpose && rec.Purpose != purpose:
			return nil, ErrNoCode
		case !now.Before(rec.Expires):
			return nil, ErrExpired
		case rec.Tries >= MaxSMSTries:
			return nil, ErrTooManyTries
		case !wellFormed(code):
			// A typo in the form (letters, 5 digits) is no guess: no try
			// spent, but the same answer as a wrong code.
			return nil, &WrongCodeError{TriesLeft: MaxSMSTries - rec.Tries}
		}
		if subtle.ConstantTimeCompare(codeHash(rec.Salt, code), rec.Hash) == 1 {
			rec.Used = true
			outcome = nil
		} else {
			rec.Tries++
			if rec.Tries >= MaxSMSTries {
				outcome = ErrTooManyTries
			} else {
				outcome = &WrongCodeError{TriesLeft: MaxSMSTries - rec.Tries}
			}
		}
		return json.Marshal(rec)
	})
	if err != nil {
		var wrong *WrongCodeError
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return ErrNoCode
		case errors.As(err, &wrong):
			return wrong
		case errors.Is(err, ErrNoCode), errors.Is(err, ErrExpired), errors.Is(err, ErrTooManyTries):
			return err
		}
		return fmt.Errorf("otp: verify SMS code: %w", err)
	}
	if outcome == nil {
		// Used is already recorded; deleting just frees the slot early.
		_ = s.Values.DeleteValue(context.WithoutCancel(ctx), smsKey(txID))
	}
	return outcome
}
