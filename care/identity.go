package care

import (
	"context"
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/audit"
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

// Desk adds identity actions to the ticket service.
type Desk struct {
	*Service
	Identities Identities
	Lifecycle  *lifecycle.Service
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

// Suspend suspends an identity on the holder's request received by phone
// (verified caller), PEC or signed e-mail (§8.2–8.3, E074). verified is
// the agent's statement that the caller passed the OTP check on a
// registered contact; the lifecycle refuses a phone request without it.
func (d *Desk) Suspend(ctx context.Context, by Actor, identityID, channel string, verified bool) (storage.IdentityLifecycle, error) {
	role, ok := d.role(by, lifecycle.RoleCareAgent, lifecycle.RoleSupervisor)
	if !ok {
		_ = d.record(ctx, by.ID, "care.identity.suspend", identityID, audit.Denied, map[string]string{"channel": channel})
		return storage.IdentityLifecycle{}, ErrForbidden
	}
	ch := lifecycle.Channel(channel)
	if ch != lifecycle.ChannelPhone && ch != lifecycle.ChannelPEC && ch != lifecycle.ChannelSignedEmail {
		return storage.IdentityLifecycle{}, fmt.Errorf("%w: channel %q", ErrInvalid, channel)
	}
	return d.Lifecycle.Suspend(ctx, identityID, lifecycle.SuspendRequest{
		Actor: lifecycle.Actor{ID: by.ID, Role: role}, Cause: lifecycle.CauseHolderRequest,
		Channel: ch, OriginVerified: verified && ch == lifecycle.ChannelPhone})
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
