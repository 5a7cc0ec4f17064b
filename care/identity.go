package care

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
)

// Identities is what the desk reads of the durable store.
type Identities interface {
	GetIdentityByUsername(ctx context.Context, username string) (storage.Identity, error)
	ListIdentities(ctx context.Context) ([]storage.Identity, error)
	GetIdentity(ctx context.Context, id string) (storage.Identity, error)
}

// Lookup is what an agent sees of an identity (ui.md §10): masked data,
// state, a waiting four-eyes proposal.
type Lookup struct {
	ID           string
	Username     string
	Name         string
	FiscalNumber string // masked RSSMRA******501X
	Email        string // masked m***@example.it
	Mobile       string // masked, last 3 digits
	State        storage.IdentityStatus
	Lifecycle    storage.IdentityLifecycle
}

// MaskFiscal keeps the first six and last four characters.
func MaskFiscal(cf string) string {
	cf = strings.TrimPrefix(cf, "TINIT-")
	if len(cf) < 10 {
		return strings.Repeat("*", len(cf))
	}
	return cf[:6] + strings.Repeat("*", len(cf)-10) + cf[len(cf)-4:]
}

// MaskEmail keeps the first letter and the domain.
func MaskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at < 1 {
		return ""
	}
	return e[:1] + "***" + e[at:]
}

// MaskMobile keeps the last three digits.
func MaskMobile(m string) string {
	if len(m) < 3 {
		return ""
	}
	return "*******" + m[len(m)-3:]
}

// CallerCodes sends and checks the one-time code that verifies a caller
// (otp.SMSCodes): single use, 5 minutes, 3 wrong entries void it, a new
// send voids the previous code.
type CallerCodes interface {
	Send(ctx context.Context, txID, identityID, mobile, purpose string) error
	VerifyFor(ctx context.Context, txID, purpose, code string) error
}

// Desk adds identity actions to the ticket service.
type Desk struct {
	*Service
	Identities Identities
	Lifecycle  *lifecycle.Service
	// Codes verifies callers by SMS to the registered mobile (ui.md §10,
	// E074). Without it no phone request can be verified.
	Codes CallerCodes
}

// Refusals of the caller check.
var (
	// ErrCallerNotVerified: a phone request without a right code.
	ErrCallerNotVerified = errors.New("care: caller not verified")
	// ErrCodeWrong: the code typed is not the one sent.
	ErrCodeWrong = errors.New("care: wrong caller code")
	// ErrCodeVoid: no code waiting (never sent, used, expired or voided
	// by wrong entries): send a new one.
	ErrCodeVoid = errors.New("care: no valid caller code")
	// ErrNoMobile: the identity has no registered mobile to send to.
	ErrNoMobile = errors.New("care: no registered mobile")
	// ErrTooManyCodes: the send limits are reached.
	ErrTooManyCodes = errors.New("care: too many caller codes sent")
)

// callerTx binds a caller code to the agent and the identity: a code sent
// by one agent is no good to another, nor for another identity.
func callerTx(operatorID, identityID string) string {
	return "care-caller:" + operatorID + ":" + identityID
}

// SendCallerCode sends a one-time code to the identity's registered mobile
// (never a number the caller gives): the caller reads it back to the agent.
// It returns the masked number, for the agent to name.
func (d *Desk) SendCallerCode(ctx context.Context, by Actor, identityID string) (string, error) {
	if !by.has(deskRoles...) {
		_ = d.record(ctx, by.ID, "care.caller.code_sent", identityID, audit.Denied, nil)
		return "", ErrForbidden
	}
	if d.Codes == nil {
		return "", errors.New("care: no SMS sender for caller codes")
	}
	id, err := d.Identities.GetIdentity(ctx, identityID)
	if err != nil {
		return "", fmt.Errorf("care: identity: %w", err)
	}
	mobile := strings.TrimSpace(id.Attributes["mobilePhone"])
	if mobile == "" {
		_ = d.record(ctx, by.ID, "care.caller.code_sent", identityID, audit.Failure, map[string]string{"error": "no registered mobile"})
		return "", ErrNoMobile
	}
	err = d.Codes.Send(ctx, callerTx(by.ID, identityID), identityID, mobile, otp.PurposeCareVerification)
	if err != nil {
		_ = d.record(ctx, by.ID, "care.caller.code_sent", identityID, audit.Failure, map[string]string{"error": err.Error()})
		if errors.Is(err, otp.ErrTooManySends) {
			return "", ErrTooManyCodes
		}
		return "", fmt.Errorf("care: caller code: %w", err)
	}
	masked := MaskMobile(mobile)
	return masked, d.record(ctx, by.ID, "care.caller.code_sent", identityID, audit.Success, map[string]string{"to": masked})
}

// verifyCaller checks the code the caller read out; every outcome is
// audited.
func (d *Desk) verifyCaller(ctx context.Context, by Actor, identityID, code string) error {
	code = strings.TrimSpace(code)
	if d.Codes == nil || code == "" {
		_ = d.record(ctx, by.ID, "care.caller.verify", identityID, audit.Failure, map[string]string{"error": "no code typed"})
		return ErrCallerNotVerified
	}
	err := d.Codes.VerifyFor(ctx, callerTx(by.ID, identityID), otp.PurposeCareVerification, code)
	if err == nil {
		return d.record(ctx, by.ID, "care.caller.verify", identityID, audit.Success, nil)
	}
	_ = d.record(ctx, by.ID, "care.caller.verify", identityID, audit.Failure, map[string]string{"error": err.Error()})
	switch {
	case errors.Is(err, otp.ErrWrongCode):
		return fmt.Errorf("%w: %w", ErrCallerNotVerified, ErrCodeWrong)
	case errors.Is(err, otp.ErrNoCode), errors.Is(err, otp.ErrExpired), errors.Is(err, otp.ErrTooManyTries):
		return fmt.Errorf("%w: %w", ErrCallerNotVerified, ErrCodeVoid)
	}
	return fmt.Errorf("care: caller code: %w", err)
}

// Find looks an identity up by username or fiscal code (with or without
// the TINIT- prefix). Every lookup is audited: it reads personal data.
func (d *Desk) Find(ctx context.Context, by Actor, q string) (Lookup, error) {
	q = strings.TrimSpace(q)
	if !by.has(deskRoles...) {
		_ = d.record(ctx, by.ID, "care.identity.lookup", "", audit.Denied, nil)
		return Lookup{}, ErrForbidden
	}
	if err := checkText("query", q, MaxShort, true); err != nil {
		return Lookup{}, err
	}
	id, err := d.Identities.GetIdentityByUsername(ctx, strings.ToLower(q))
	if err != nil {
		id, err = d.byFiscal(ctx, q)
	}
	if err != nil {
		_ = d.record(ctx, by.ID, "care.identity.lookup", "", audit.Failure, map[string]string{"found": "false"})
		return Lookup{}, fmt.Errorf("care: identity: %w", storage.ErrNotFound)
	}
	l := Lookup{ID: id.ID, Username: id.Username, State: id.Status,
		Name:         strings.TrimSpace(id.Attributes["name"] + " " + id.Attributes["familyName"]),
		FiscalNumber: MaskFiscal(id.Attributes["fiscalNumber"]), Email: MaskEmail(id.Attributes["email"]),
		Mobile: MaskMobile(id.Attributes["mobilePhone"])}
	if d.Lifecycle != nil {
		if lc, err := d.Lifecycle.Get(ctx, id.ID); err == nil {
			l.Lifecycle, l.State = lc, lc.State
		}
	}
	return l, d.record(ctx, by.ID, "care.identity.lookup", id.ID, audit.Success, map[string]string{"found": "true"})
}

func (d *Desk) byFiscal(ctx context.Context, q string) (storage.Identity, error) {
	cf := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(q), "TINIT-"))
	if len(cf) != 16 {
		return storage.Identity{}, storage.ErrNotFound
	}
	all, err := d.Identities.ListIdentities(ctx)
	if err != nil {
		return storage.Identity{}, err
	}
	for _, id := range all {
		if strings.TrimPrefix(strings.ToUpper(id.Attributes["fiscalNumber"]), "TINIT-") == cf {
			return id, nil
		}
	}
	return storage.Identity{}, storage.ErrNotFound
}

// Suspend suspends an identity on the holder's request received by phone,
// PEC or signed e-mail (§8.2–8.3, E074). A phone request needs code: the
// one-time code SendCallerCode sent to the registered mobile, as the
// caller read it out, checked here (single use, 5 minutes, 3 tries); the
// agent's word is never enough. PEC and signed e-mail carry their own
// proof of origin.
func (d *Desk) Suspend(ctx context.Context, by Actor, identityID, channel, code string) (storage.IdentityLifecycle, error) {
	role, ok := d.role(by, lifecycle.RoleCareAgent, lifecycle.RoleSupervisor)
	if !ok {
		_ = d.record(ctx, by.ID, "care.identity.suspend", identityID, audit.Denied, map[string]string{"channel": channel})
		return storage.IdentityLifecycle{}, ErrForbidden
	}
	ch := lifecycle.Channel(channel)
	if ch != lifecycle.ChannelPhone && ch != lifecycle.ChannelPEC && ch != lifecycle.ChannelSignedEmail {
		return storage.IdentityLifecycle{}, fmt.Errorf("%w: channel %q", ErrInvalid, channel)
	}
	verified := false
	if ch == lifecycle.ChannelPhone {
		if err := d.verifyCaller(ctx, by, identityID, code); err != nil {
			_ = d.record(ctx, by.ID, "care.identity.suspend", identityID, audit.Denied, map[string]string{"channel": channel, "reason": "caller not verified"})
			return storage.IdentityLifecycle{}, err
		}
		verified = true
	}
	return d.Lifecycle.Suspend(ctx, identityID, lifecycle.SuspendRequest{
		Actor: lifecycle.Actor{ID: by.ID, Role: role}, Cause: lifecycle.CauseHolderRequest,
		Channel: ch, OriginVerified: verified})
}

// ProposeReactivation is the first half of a reactivation (the holder
// withdrew the request through care): a supervisor other than the
// proposer approves it.
func (d *Desk) ProposeReactivation(ctx context.Context, by Actor, identityID string) (storage.IdentityLifecycle, error) {
	role, ok := d.role(by, lifecycle.RoleCareAgent, lifecycle.RoleSupervisor)
	if !ok {
		_ = d.record(ctx, by.ID, "care.identity.propose", identityID, audit.Denied, nil)
		return storage.IdentityLifecycle{}, ErrForbidden
	}
	return d.Lifecycle.Propose(ctx, identityID, lifecycle.ProposalRequest{
		Actor: lifecycle.Actor{ID: by.ID, Role: role}, Event: lifecycle.EventReactivate, Channel: lifecycle.ChannelDesk})
}

// Approve completes a waiting proposal; only a supervisor, never the
// proposer (the lifecycle enforces both and audits the refusal).
func (d *Desk) Approve(ctx context.Context, by Actor, identityID string) (storage.IdentityLifecycle, error) {
	role := lifecycle.Role("care_agent")
	if by.has("supervisor") {
		role = lifecycle.RoleSupervisor
	}
	return d.Lifecycle.Approve(ctx, identityID, lifecycle.Actor{ID: by.ID, Role: role})
}

// role is the first of want the actor holds.
func (d *Desk) role(by Actor, want ...lifecycle.Role) (lifecycle.Role, bool) {
	for _, r := range want {
		if by.has(string(r)) {
			return r, true
		}
	}
	return "", false
}
