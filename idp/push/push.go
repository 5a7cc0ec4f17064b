// Package push runs push approval with number matching (security.md C.10):
// a level-2 login creates a challenge, the citizen's registered app fetches
// it, shows the service provider, the level and three numbers, and signs
// the citizen's choice with the device key; the login page polls Status.
//
// Challenges live in storage.Values, so every IdP node sees the same ones.
// A challenge is decided once: a wrong number or a "Non sono stato io"
// ends it as denied, and an approval after expiry changes nothing.
package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

// Challenge statuses.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusDenied   = "denied"
	StatusExpired  = "expired"
)

// Reasons a challenge ended other than by approval.
const (
	ReasonUserDenied  = "user_denied"  // the citizen answered "Non sono stato io"
	ReasonWrongNumber = "wrong_number" // the app approved a number other than the one on the page
	ReasonCancelled   = "cancelled"    // the login moved on (OTP fallback, flow ended)
)

// Decisions as the app signs them.
const (
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// Defaults.
const (
	DefaultTTL    = 60 * time.Second
	DefaultLimit  = 3
	DefaultWindow = 10 * time.Minute
	// retain keeps a decided or expired challenge readable a while after it
	// expires, so the login page learns "expired" instead of "unknown" and a
	// late approval is told why it was refused.
	retain = 5 * time.Minute
)

// Errors. Every refusal leaves the challenge as it was, except
// ErrWrongNumber, which ends it as denied.
var (
	ErrNoDevice      = errors.New("push: the identity has no active push device")
	ErrTooManyPushes = errors.New("push: too many push requests; wait a few minutes or use a code from the app")
	ErrNotFound      = errors.New("push: no such challenge")
	ErrExpired       = errors.New("push: the challenge has expired")
	ErrDecided       = errors.New("push: the challenge was already decided")
	ErrWrongNumber   = errors.New("push: wrong number; the login was refused")
	ErrWrongDevice   = errors.New("push: the challenge is not for this device")
	ErrBadSignature  = errors.New("push: the decision's signature does not verify")
	ErrDevice        = errors.New("push: the device is unknown, revoked or not a push device")
	ErrBadDecision   = errors.New("push: malformed decision")
)

// Challenge is one push approval request.
type Challenge struct {
	ID         string    `json:"id"`
	IdentityID string    `json:"identity_id"`
	FlowID     string    `json:"flow_id"`
	DeviceIDs  []string  `json:"device_ids"` // the active push devices when it was created
	SPName     string    `json:"sp_name"`
	Level      int       `json:"level"`
	Number     int       `json:"number"`  // 10–99, shown on the login page only
	Options    [3]int    `json:"options"` // Number and two distinct decoys, shuffled
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Status     string    `json:"status"`
	DecidedBy  string    `json:"decided_by,omitempty"` // device ID
	Reason     string    `json:"reason,omitempty"`     // Reason* when not approved
	// SP (entity ID) and ClientIP (the login browser's address) let a
	// refusal be recorded where the owner's access history finds it; the
	// app never sees them.
	SP       string `json:"sp,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
}

// Login describes the login a challenge is created for (CreateFor).
type Login struct {
	IdentityID, FlowID string
	SP                 string // entity ID
	SPName             string // shown in the app
	Level              int
	ClientIP           string
}

// Service creates and decides challenges. Values, Devices and Sealer are
// required; the rest have defaults.
type Service struct {
	Values  storage.Values
	Devices storage.Devices
	Sealer  *datakey.Sealer
	Audit   *audit.Logger // nil: no audit records (tests)
	Now     func() time.Time
	// Limit challenges per identity in any Window (C.10: 3 in 10 minutes).
	Limit  int
	Window time.Duration
	TTL    time.Duration // life of a challenge (60 s)
	// OnRefused, if set, hears of every challenge refused in the app
	// ("Non sono stato io" or a wrong number) once, when it is decided, so
	// the refusal counts toward the identity's lock and the owner is told
	// even if the login page never asks again. Its error is returned by
	// Decide (the decision itself stays recorded).
	OnRefused func(ctx context.Context, c Challenge) error
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) limit() int {
	if s.Limit > 0 {
		return s.Limit
	}
	return DefaultLimit
}

func (s *Service) window() time.Duration {
	if s.Window >= time.Second {
		return s.Window
	}
	return DefaultWindow
}

// ttl is capped at the window: the per-identity index (see index.go) relies
// on a challenge living no longer than one window.
func (s *Service) ttl() time.Duration {
	t := s.TTL
	if t <= 0 {
		t = DefaultTTL
	}
	return min(t, s.window())
}

func challengeKey(id string) string { return "push:" + id }

// PublicKeyAD is the additional data that binds a device's sealed public key
// to its row: a key copied to another device or identity does not open.
func PublicKeyAD(identityID, deviceID string) []byte {
	return []byte("device_key|v1|devices|" + deviceID + "|" + identityID)
}

// SeedAD is the additional data that binds a device's sealed TOTP seed to
// its row (security.md E.4): whoever seals a seed (the activation page) and
// whoever opens it (the app API, the OTP check) must use it.
func SeedAD(identityID, deviceID string) []byte {
	return []byte("totp_seed|v1|devices|" + deviceID + "|" + identityID)
}

// DecisionMessage is what the app signs (ECDSA P-256, SHA-256, ASN.1) to
// decide a challenge.
func DecisionMessage(challengeID, decision string, number int) []byte {
	return []byte("spid-idp-push\n" + challengeID + "\n" + decision + "\n" + strconv.Itoa(number))
}

// Create starts a challenge for a login of identityID at spName. It fails
// with ErrNoDevice when the identity has no active push device and with
// ErrTooManyPushes past the limit; a refused push is audited.
func (s *Service) Create(ctx context.Context, identityID, flowID, spName string, level int) (Challenge, error) {
	return s.CreateFor(ctx, Login{IdentityID: identityID, FlowID: flowID, SPName: spName, Level: level})
}

// CreateFor is Create with the SP's entity ID and the browser's address
// kept in the challenge (see Challenge.SP).
func (s *Service) CreateFor(ctx context.Context, l Login) (Challenge, error) {
	identityID, flowID, spName, level := l.IdentityID, l.FlowID, l.SPName, l.Level
	if identityID == "" || flowID == "" {
		return Challenge{}, errors.New("push: create: identity and flow are required")
	}
	devs, err := s.Devices.ListDevices(ctx, identityID)
	if err != nil {
		return Challenge{}, fmt.Errorf("push: create: list devices: %w", err)
	}
	var ids []string
	for _, d := range devs {
		if d.Kind == storage.DevicePush && d.Status == storage.DeviceActive {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) == 0 {
		return Challenge{}, ErrNoDevice
	}
	now := s.now()
	c := Challenge{
		IdentityID: identityID, FlowID: flowID, DeviceIDs: ids, SPName: spName, Level: level,
		Created: now, Expires: now.Add(s.ttl()), Status: StatusPending, SP: l.SP, ClientIP: l.ClientIP,
	}
	if c.ID, err = randomID(); err != nil {
		return Challenge{}, err
	}
	if c.Number, c.Options, err = numbers(); err != nil {
		return Challenge{}, err
	}
	if err := s.reserve(ctx, identityID, c.ID, now); err != nil {
		if errors.Is(err, ErrTooManyPushes) {
			if aerr := s.record(ctx, identityID, "push.create", "", audit.Denied, map[string]string{
				"flow": flowID, "sp": spName, "reason": "rate_limit"}); aerr != nil {
				return Challenge{}, errors.Join(err, aerr)
			}
		}
		return Challenge{}, err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return Challenge{}, fmt.Errorf("push: create: %w", err)
	}
	if err := s.Values.CreateValue(ctx, challengeKey(c.ID), data, c.Expires.Add(retain)); err != nil {
		return Challenge{}, fmt.Errorf("push: create: store challenge: %w", err)
	}
	if err := s.record(ctx, identityID, "push.create", c.ID, audit.Success, map[string]string{
		"flow": flowID, "sp": spName, "level": strconv.Itoa(level), "devices": strconv.Itoa(len(ids))}); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// Pending returns the challenges waiting for deviceID's answer, oldest
// first, without their Number: the app must learn it from the citizen.
// A device not yet confirmed gets none; an unknown or revoked one gets
// ErrDevice.
func (s *Service) Pending(ctx context.Context, deviceID string) ([]Challenge, error) {
	d, err := s.Devices.GetDevice(ctx, deviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrDevice
	}
	if err != nil {
		return nil, fmt.Errorf("push: pending: %w", err)
	}
	switch {
	case d.Status == storage.DeviceRevoked:
		return nil, ErrDevice
	case d.Status != storage.DeviceActive || d.Kind != storage.DevicePush:
		return nil, nil
	}
	now := s.now()
	ids, err := s.recent(ctx, d.IdentityID, now)
	if err != nil {
		return nil, err
	}
	var out []Challenge
	for _, id := range ids {
		c, err := s.get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.IdentityID != d.IdentityID || c.Status != StatusPending || !now.Before(c.Expires) ||
			!slices.Contains(c.DeviceIDs, deviceID) {
			continue
		}
		c.Number = 0
		c.FlowID = ""
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Challenge) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Decide records deviceID's answer to a challenge. sig is the device's
// ASN.1 ECDSA signature of DecisionMessage(challengeID, decision, number).
// Approving needs the challenge's number: a wrong one ends the challenge as
// denied and counts as a failure of the device (ErrWrongNumber). Every
// outcome, refusals included, is audited.
func (s *Service) Decide(ctx context.Context, deviceID, challengeID string, approve bool, number int, sig []byte) error {
	decision := DecisionDeny
	if approve {
		decision = DecisionApprove
	}
	details := map[string]string{"device": deviceID, "decision": decision}
	refuse := func(actor string, err error) error {
		details["reason"] = reasonOf(err)
		if aerr := s.record(ctx, actor, "push.decide", challengeID, audit.Denied, details); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	d, err := s.Devices.GetDevice(ctx, deviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return refuse("anonymous", ErrDevice)
	}
	if err != nil {
		return fmt.Errorf("push: decide: %w", err)
	}
	if d.Kind != storage.DevicePush || d.Status != storage.DeviceActive {
		return refuse(d.IdentityID, ErrDevice)
	}
	c, err := s.get(ctx, challengeID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return refuse(d.IdentityID, err)
		}
		return err
	}
	details["sp"] = c.SPName
	if c.IdentityID != d.IdentityID || !slices.Contains(c.DeviceIDs, deviceID) {
		return refuse(d.IdentityID, ErrWrongDevice)
	}
	if err := s.verify(d, challengeID, decision, number, sig); err != nil {
		return refuse(d.IdentityID, err)
	}

	var final Challenge
	err = s.Values.UpdateValue(ctx, challengeKey(challengeID), func(b []byte) ([]byte, error) {
		var cur Challenge
		if err := json.Unmarshal(b, &cur); err != nil {
			return nil, fmt.Errorf("push: decode challenge: %w", err)
		}
		if cur.Status != StatusPending {
			return nil, ErrDecided
		}
		if !s.now().Before(cur.Expires) {
			return nil, ErrExpired
		}
		cur.DecidedBy = deviceID
		switch {
		case !approve:
			cur.Status, cur.Reason = StatusDenied, ReasonUserDenied
		case subtle.ConstantTimeEq(int32(number), int32(cur.Number)) == 1:
			cur.Status = StatusApproved
		default:
			cur.Status, cur.Reason = StatusDenied, ReasonWrongNumber
		}
		final = cur
		return json.Marshal(cur)
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = ErrNotFound
	}
	if err != nil {
		if errors.Is(err, ErrDecided) || errors.Is(err, ErrExpired) || errors.Is(err, ErrNotFound) {
			return refuse(d.IdentityID, err)
		}
		return fmt.Errorf("push: decide: %w", err)
	}

	var result error
	outcome := audit.Success
	switch final.Reason {
	case ReasonUserDenied:
		outcome = audit.Denied
		details["reason"] = ReasonUserDenied
	case ReasonWrongNumber:
		outcome = audit.Failure
		details["reason"] = ReasonWrongNumber
		result = ErrWrongNumber
	}
	if uerr := s.Devices.UpdateDevice(ctx, deviceID, func(dv storage.Device) (storage.Device, error) {
		if final.Status == StatusApproved {
			dv.LastUsedAt = s.now()
			dv.FailedAttempts = 0
		} else if final.Reason == ReasonWrongNumber {
			dv.FailedAttempts++
		}
		return dv, nil
	}); uerr != nil {
		result = errors.Join(result, fmt.Errorf("push: decide: update device: %w", uerr))
	}
	if aerr := s.record(ctx, d.IdentityID, "push.decide", challengeID, outcome, details); aerr != nil {
		result = errors.Join(result, aerr)
	}
	if final.Status == StatusDenied && s.OnRefused != nil {
		if herr := s.OnRefused(ctx, final); herr != nil {
			result = errors.Join(result, fmt.Errorf("push: decide: %w", herr))
		}
	}
	return result
}

// Status is what the login page polls. flowID must be the one the challenge
// was created for, else ErrNotFound (a flow cannot watch another's login).
// A pending challenge past its expiry reads as expired.
func (s *Service) Status(ctx context.Context, challengeID, flowID string) (Challenge, error) {
	c, err := s.get(ctx, challengeID)
	if err != nil {
		return Challenge{}, err
	}
	if subtle.ConstantTimeCompare([]byte(c.FlowID), []byte(flowID)) != 1 {
		return Challenge{}, ErrNotFound
	}
	if c.Status == StatusPending && !s.now().Before(c.Expires) {
		c.Status = StatusExpired
	}
	return c, nil
}

// Cancel ends a pending challenge of flowID, so the app stops offering it
// once the citizen used the OTP fallback or left the login. A challenge
// already decided stays as it is.
func (s *Service) Cancel(ctx context.Context, challengeID, flowID string) error {
	err := s.Values.UpdateValue(ctx, challengeKey(challengeID), func(b []byte) ([]byte, error) {
		var c Challenge
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("push: decode challenge: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(c.FlowID), []byte(flowID)) != 1 {
			return nil, ErrNotFound
		}
		if c.Status != StatusPending {
			return b, nil
		}
		c.Status, c.Reason = StatusExpired, ReasonCancelled
		return json.Marshal(c)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

func (s *Service) get(ctx context.Context, id string) (Challenge, error) {
	b, _, err := s.Values.GetValue(ctx, challengeKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return Challenge{}, ErrNotFound
	}
	if err != nil {
		return Challenge{}, fmt.Errorf("push: read challenge: %w", err)
	}
	var c Challenge
	if err := json.Unmarshal(b, &c); err != nil {
		return Challenge{}, fmt.Errorf("push: decode challenge: %w", err)
	}
	return c, nil
}

// verify checks the decision's signature with the device's public key.
func (s *Service) verify(d storage.Device, challengeID, decision string, number int, sig []byte) error {
	pub, err := DevicePublicKey(s.Sealer, d)
	if err != nil {
		return err
	}
	h := sha256.Sum256(DecisionMessage(challengeID, decision, number))
	if len(sig) == 0 || !ecdsa.VerifyASN1(pub, h[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// DevicePublicKey opens and parses a device's sealed P-256 public key.
func DevicePublicKey(sealer *datakey.Sealer, d storage.Device) (*ecdsa.PublicKey, error) {
	if len(d.PublicKey) == 0 {
		return nil, fmt.Errorf("%w: no public key registered", ErrDevice)
	}
	der, _, err := sealer.Open(d.PublicKey, PublicKeyAD(d.IdentityID, d.ID))
	if err != nil {
		return nil, fmt.Errorf("push: open device key: %w", err)
	}
	return ParsePublicKey(der)
}

// ParsePublicKey accepts a PKIX DER ECDSA P-256 public key and nothing else.
func ParsePublicKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("push: public key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("push: public key: not an ECDSA P-256 key")
	}
	return pub, nil
}

func (s *Service) record(ctx context.Context, actor, action, target, outcome string, details map[string]string) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target,
		Outcome: outcome, Details: details})
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrDevice):
		return "device"
	case errors.Is(err, ErrNotFound):
		return "unknown_challenge"
	case errors.Is(err, ErrWrongDevice):
		return "other_identity_or_device"
	case errors.Is(err, ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, ErrDecided):
		return "already_decided"
	case errors.Is(err, ErrExpired):
		return "expired"
	}
	return "error"
}

// randomID is 128 random bits in hex: URL-safe, and never starting with
// "-", which a command line would take for a flag (spid-idp app approve ID).
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("push: random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// numbers draws the two-digit number and two distinct decoys, shuffled.
func numbers() (int, [3]int, error) {
	var opts [3]int
	for i := 0; i < 3; {
		n, err := rand.Int(rand.Reader, big.NewInt(90))
		if err != nil {
			return 0, opts, fmt.Errorf("push: random: %w", err)
		}
		v := int(n.Int64()) + 10
		if slices.Contains(opts[:i], v) {
			continue
		}
		opts[i] = v
		i++
	}
	number := opts[0]
	// Fisher–Yates, so the right number is not always first.
	for i := 2; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return 0, opts, fmt.Errorf("push: random: %w", err)
		}
		opts[i], opts[j.Int64()] = opts[j.Int64()], opts[i]
	}
	return number, opts, nil
}
