package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
)

// Store is what the lifecycle needs of the durable store (*sqlstore.Store
// has it all).
type Store interface {
	storage.Lifecycles
	GetIdentity(ctx context.Context, id string) (storage.Identity, error)
	ListDevices(ctx context.Context, identityID string) ([]storage.Device, error)
	UpdateDevice(ctx context.Context, id string, fn func(storage.Device) (storage.Device, error)) error
	UpdateCredential(ctx context.Context, identityID string, fn func(storage.Credential) (storage.Credential, error)) error
}

// Service applies lifecycle events requested by people (portal, care desk,
// console, command line). Scheduler applies the timed ones.
type Service struct {
	Store    Store
	Audit    *audit.Logger
	Notifier Notifier // nil: nobody is told (tests, tools)
	Now      func() time.Time
	Policy   Policy

	// recorded remembers, per identity, the last authentication this
	// node knows to be stored, so RecordAuth within AuthResolution of it
	// reads nothing (an SSO Response each time a citizen moves between
	// services). Only a hint: at worst an hour of another node's writes
	// goes unnoticed, far below what inactivity can tell apart.
	mu       sync.Mutex
	recorded map[string]time.Time
}

// maxRecorded bounds Service.recorded; past it the map starts afresh.
const maxRecorded = 4096

// recentlyRecorded reports whether at is within AuthResolution of the last
// authentication known to be stored for the identity.
func (s *Service) recentlyRecorded(identityID string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.recorded[identityID]
	return ok && !at.After(last.Add(AuthResolution))
}

func (s *Service) noteRecorded(identityID string, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recorded == nil || len(s.recorded) >= maxRecorded {
		s.recorded = make(map[string]time.Time)
	}
	s.recorded[identityID] = last
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) policy() Policy { return s.Policy.withDefaults() }

// effect is something done after the change is stored: the audit record,
// a notice, destroying credentials.
type effect struct {
	action  string
	details map[string]string
	notice  *Notice
	// unmark is the notice key to forget when the notice cannot be
	// delivered, so the next run tries again.
	unmark             string
	destroyCredentials bool
	deletePassword     bool
	// staged: the notice's messages were written in the change's own
	// transaction (storage.Outbox); only its audit record is left to do.
	staged bool
}

// Get returns the lifecycle of an identity, creating it from the identity
// when it has none yet (identities issued before the lifecycle existed, or
// by `spid-idp user add`).
func (s *Service) Get(ctx context.Context, identityID string) (storage.IdentityLifecycle, error) {
	l, err := s.Store.GetLifecycle(ctx, identityID)
	if err == nil || !errors.Is(err, storage.ErrNotFound) {
		return l, err
	}
	id, err := s.Store.GetIdentity(ctx, identityID)
	if err != nil {
		return storage.IdentityLifecycle{}, err
	}
	return s.adopt(ctx, id)
}

// adopt gives an existing identity its lifecycle: valid from its creation,
// until the day after its expirationDate attribute (none when absent). Its
// past use is unknown, so inactivity counts from now: adopting an old
// identity never revokes it on the spot.
func (s *Service) adopt(ctx context.Context, id storage.Identity) (storage.IdentityLifecycle, error) {
	if id.Status == storage.IdentityPending {
		return storage.IdentityLifecycle{}, fmt.Errorf("%w: identity %s is not activated yet", ErrTransition, id.ID)
	}
	var until time.Time
	if d, err := time.ParseInLocation("2006-01-02", id.Attributes["expirationDate"], rome()); err == nil {
		until = d.AddDate(0, 0, 1) // valid through the whole expiry date
	}
	return s.start(ctx, id, id.CreatedAt, until, s.now())
}

// Start creates the lifecycle of an identity that has just been activated,
// with its validity (valid_until zero when the contract has no end).
// Enrolment calls it after activation; ErrAlreadyExists if it exists.
func (s *Service) Start(ctx context.Context, identityID string, validFrom, validUntil time.Time) (storage.IdentityLifecycle, error) {
	id, err := s.Store.GetIdentity(ctx, identityID)
	if err != nil {
		return storage.IdentityLifecycle{}, err
	}
	return s.start(ctx, id, validFrom, validUntil, time.Time{})
}

func (s *Service) start(ctx context.Context, id storage.Identity, validFrom, validUntil, lastAuth time.Time) (storage.IdentityLifecycle, error) {
	now := s.now()
	if validFrom.IsZero() {
		validFrom = now
	}
	l := storage.IdentityLifecycle{IdentityID: id.ID, State: id.Status, ValidFrom: validFrom, ValidUntil: validUntil,
		LastAuthAt: lastAuth, CreatedAt: now, UpdatedAt: now}
	l.NextDueAt = s.policy().nextDue(l, id)
	err := s.Store.CreateLifecycle(ctx, l)
	if errors.Is(err, storage.ErrAlreadyExists) {
		// Created meanwhile by another request: use that one.
		if got, gerr := s.Store.GetLifecycle(ctx, id.ID); gerr == nil {
			return got, nil
		}
	}
	if err != nil {
		return storage.IdentityLifecycle{}, fmt.Errorf("lifecycle of %s: %w", id.ID, err)
	}
	return l, nil
}

// change runs fn on the lifecycle and identity inside one store update,
// then records the audit event and carries out the effects. A refusal
// (any error of fn) is audited as denied and nothing is stored.
func (s *Service) change(ctx context.Context, identityID string, a Actor, action string, details map[string]string,
	fn func(l *storage.IdentityLifecycle, id *storage.Identity, now time.Time) ([]effect, error)) (storage.IdentityLifecycle, error) {
	if details == nil {
		details = map[string]string{}
	}
	details["role"] = string(a.Role)
	if !a.valid() {
		return storage.IdentityLifecycle{}, s.refuse(ctx, identityID, a, action, details, fmt.Errorf("%w: no actor", ErrInvalid))
	}
	if _, err := s.Get(ctx, identityID); err != nil {
		return storage.IdentityLifecycle{}, s.refuse(ctx, identityID, a, action, details, err)
	}
	var effects []effect
	var out storage.IdentityLifecycle
	var from storage.IdentityStatus
	now := s.now()
	uctx, ob := s.outbox(ctx)
	err := s.Store.UpdateLifecycle(uctx, identityID, func(l storage.IdentityLifecycle, id storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		reconcile(&l, id)
		from = l.State
		var err error
		if effects, err = fn(&l, &id, now); err != nil {
			return l, id, err
		}
		endSessionsOnTransition(from, l, &id)
		l.UpdatedAt = now
		l.NextDueAt = s.policy().nextDue(l, id)
		out = l
		return l, id, s.stage(uctx, ob, identityID, id, effects)
	})
	if ob != nil {
		ob.Deliver(ctx)
	}
	if err != nil {
		details["from"] = string(from)
		return storage.IdentityLifecycle{}, s.refuse(ctx, identityID, a, action, details, err)
	}
	details["from"], details["to"] = string(from), string(out.State)
	if err := s.record(ctx, a, action, identityID, audit.Success, details); err != nil {
		return out, err
	}
	return out, s.apply(ctx, identityID, a, effects)
}

// endSessionsOnTransition ends every session of the identity when its state
// changes (suspension, revocation, expiry, and reactivation too: sessions
// from before a suspension must not come back with it), in the same
// transaction as the change, so no node sees the new state with the old
// sessions still good. Both the requested changes and the scheduler's go
// through here.
func endSessionsOnTransition(from storage.IdentityStatus, l storage.IdentityLifecycle, id *storage.Identity) {
	if l.State != from {
		sessions.Advance(id)
	}
}

// reconcile adopts an activation done outside the lifecycle (enrolment
// flips pending_activation to active): the one status change that does
// not go through this package.
func reconcile(l *storage.IdentityLifecycle, id storage.Identity) {
	if l.State == storage.IdentityPending && id.Status == storage.IdentityActive {
		l.State = storage.IdentityActive
	}
}

func (s *Service) refuse(ctx context.Context, identityID string, a Actor, action string, details map[string]string, err error) error {
	outcome := audit.Failure
	for _, e := range []error{ErrTransition, ErrForbidden, ErrFourEyes, ErrProposalExpired, ErrNoProposal,
		ErrOriginNotVerified, ErrRenewalWindow, ErrInvalid} {
		if errors.Is(err, e) {
			outcome = audit.Denied
		}
	}
	d := make(map[string]string, len(details)+1)
	for k, v := range details {
		d[k] = v
	}
	d["error"] = err.Error()
	if rerr := s.record(ctx, a, action, identityID, outcome, d); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func (s *Service) record(ctx context.Context, a Actor, action, target, outcome string, details map[string]string) error {
	if s.Audit == nil {
		return nil
	}
	actor := a.ID
	if actor == "" {
		actor = "unknown"
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details})
}

// apply carries out the effects of a stored change. Failures are returned
// joined; the change itself stays (it is what happened).
func (s *Service) apply(ctx context.Context, identityID string, a Actor, effects []effect) error {
	var errs []error
	for _, e := range effects {
		if e.action != "" {
			if err := s.record(ctx, a, e.action, identityID, audit.Success, e.details); err != nil {
				errs = append(errs, err)
			}
		}
		if e.destroyCredentials {
			if err := s.destroyDevices(ctx, identityID); err != nil {
				errs = append(errs, err)
			}
		}
		if e.deletePassword {
			err := s.Store.UpdateCredential(ctx, identityID, func(c storage.Credential) (storage.Credential, error) {
				c.PasswordHash, c.UpdatedAt = "", s.now()
				return c, nil
			})
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				errs = append(errs, fmt.Errorf("delete password hash: %w", err))
			}
		}
		if e.notice != nil && e.staged {
			details := map[string]string{"kind": string(e.notice.Kind), "days_left": fmt.Sprint(e.notice.DaysLeft), "queued": "with the change"}
			if err := s.record(ctx, a, "lifecycle.notice", identityID, audit.Success, details); err != nil {
				errs = append(errs, err)
			}
		} else if e.notice != nil {
			if err := s.notify(ctx, identityID, a, *e.notice, e.unmark); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// destroyDevices revokes every app device and wipes its sealed secrets at
// once (§8.6, E086).
func (s *Service) destroyDevices(ctx context.Context, identityID string) error {
	devs, err := s.Store.ListDevices(ctx, identityID)
	if err != nil {
		return fmt.Errorf("list devices: %w", err)
	}
	now := s.now()
	for _, d := range devs {
		if d.Status == storage.DeviceRevoked && len(d.Secret) == 0 && len(d.PublicKey) == 0 {
			continue
		}
		err := s.Store.UpdateDevice(ctx, d.ID, func(d storage.Device) (storage.Device, error) {
			d.Status, d.Secret, d.PublicKey, d.UpdatedAt = storage.DeviceRevoked, nil, nil, now
			return d, nil
		})
		if err != nil {
			return fmt.Errorf("destroy device %s: %w", d.ID, err)
		}
	}
	return nil
}

func (s *Service) notify(ctx context.Context, identityID string, a Actor, n Notice, unmark string) error {
	if s.Notifier == nil {
		return nil
	}
	id, err := s.Store.GetIdentity(ctx, identityID)
	if err != nil {
		return fmt.Errorf("notice %s: %w", n.Kind, err)
	}
	fillNotice(&n, identityID, id)
	details := map[string]string{"kind": string(n.Kind), "days_left": fmt.Sprint(n.DaysLeft)}
	if err := s.Notifier.Notify(ctx, n); err != nil {
		details["error"] = err.Error()
		_ = s.record(ctx, a, "lifecycle.notice", identityID, audit.Failure, details)
		if unmark != "" {
			_ = s.Store.UpdateLifecycle(ctx, identityID, func(l storage.IdentityLifecycle, id storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
				l.NoticesSent = slices.DeleteFunc(l.NoticesSent, func(k string) bool { return k == unmark })
				l.NextDueAt = time.Time{} // look again next run
				return l, id, nil
			})
		}
		return fmt.Errorf("notice %s to %s: %w", n.Kind, identityID, err)
	}
	return s.record(ctx, a, "lifecycle.notice", identityID, audit.Success, details)
}

// SuspendRequest asks for a suspension.
type SuspendRequest struct {
	Actor   Actor
	Cause   Cause
	Channel Channel
	// OriginVerified: a care agent checked the caller with an OTP sent to a
	// registered contact (§8.3, E074). Not needed for the holder at the
	// portal, PEC, a signed e-mail, or back-office causes.
	OriginVerified bool
}

// Suspend suspends an active identity at once (§8.2–8.3). A holder's
// request lasts SuspensionPeriod, then the scheduler reactivates it if the
// AVV10 checks pass. The holder is notified by e-mail and SMS (the receipt).
func (s *Service) Suspend(ctx context.Context, identityID string, r SuspendRequest) (storage.IdentityLifecycle, error) {
	details := map[string]string{"cause": string(r.Cause), "channel": string(r.Channel)}
	return s.change(ctx, identityID, r.Actor, "lifecycle.suspend", details, func(l *storage.IdentityLifecycle, id *storage.Identity, now time.Time) ([]effect, error) {
		rule, err := checkCause("suspension", suspensionCauses, r.Cause, r.Actor)
		if err != nil {
			return nil, err
		}
		if r.Actor.Role == RoleHolder && (r.Actor.ID != identityID || r.Channel != ChannelPortal) {
			return nil, fmt.Errorf("%w: a holder suspends only their own identity, at the portal", ErrForbidden)
		}
		if r.Actor.Role == RoleCareAgent && !r.OriginVerified && r.Channel != ChannelPEC && r.Channel != ChannelSignedEmail {
			return nil, ErrOriginNotVerified
		}
		to, err := Next(l.State, EventSuspend)
		if err != nil {
			return nil, err
		}
		susp := &storage.Suspension{Cause: string(r.Cause), Channel: string(r.Channel), RequestedBy: r.Actor.ID,
			StartedAt: now, ContactsDigest: contactsDigest(*id)}
		if rule.timed {
			susp.Until = now.Add(s.policy().SuspensionPeriod)
		}
		l.State, l.Suspension = to, susp
		return []effect{{notice: &Notice{Kind: NoticeSuspended, Cause: r.Cause, Date: now, Until: susp.Until, SMS: true}}}, nil
	})
}

// AttachPoliceReport records the complaint to the judicial authority
// (an evidence item) for a holder's suspension: the automatic reactivation
// is then blocked until a verifier reviews it and a supervisor approves the
// revocation for illicit_use (§8.3, E078).
func (s *Service) AttachPoliceReport(ctx context.Context, identityID string, a Actor, evidenceID string) (storage.IdentityLifecycle, error) {
	details := map[string]string{"evidence": evidenceID}
	return s.change(ctx, identityID, a, "lifecycle.police_report", details, func(l *storage.IdentityLifecycle, _ *storage.Identity, _ time.Time) ([]effect, error) {
		switch {
		case evidenceID == "":
			return nil, fmt.Errorf("%w: no evidence item", ErrInvalid)
		case !slices.Contains([]Role{RoleHolder, RoleCareAgent, RoleVerifier, RoleSupervisor}, a.Role):
			return nil, fmt.Errorf("%w: a %s cannot file a police report", ErrForbidden, a.Role)
		case a.Role == RoleHolder && a.ID != identityID:
			return nil, fmt.Errorf("%w: a holder files reports only for their own identity", ErrForbidden)
		case l.State != storage.IdentitySuspended || l.Suspension == nil || Cause(l.Suspension.Cause) != CauseHolderRequest:
			return nil, fmt.Errorf("%w: a police report goes with a holder's suspension, and the identity is %s", ErrTransition, l.State)
		case l.Suspension.PoliceReportID != "":
			return nil, fmt.Errorf("%w: a report is already under review", ErrTransition)
		}
		l.Suspension.PoliceReportID = evidenceID
		return nil, nil
	})
}

// ProposalRequest opens a four-eyes action: revocation (any human cause)
// or reactivation of a suspended identity (withdrawal through customer
// care, end of a suspicious-activity or lockout suspension).
type ProposalRequest struct {
	Actor   Actor
	Event   Event // EventRevoke or EventReactivate
	Cause   Cause // revocation cause; for a reactivation, optional note
	Channel Channel
}

// Propose records the first half of a four-eyes action. Nothing changes
// state until a different supervisor approves within ProposalTTL.
func (s *Service) Propose(ctx context.Context, identityID string, r ProposalRequest) (storage.IdentityLifecycle, error) {
	details := map[string]string{"event": string(r.Event), "cause": string(r.Cause), "channel": string(r.Channel)}
	return s.change(ctx, identityID, r.Actor, "lifecycle.propose", details, func(l *storage.IdentityLifecycle, _ *storage.Identity, now time.Time) ([]effect, error) {
		if l.Pending != nil && now.Before(l.Pending.ProposedAt.Add(s.policy().ProposalTTL)) {
			return nil, fmt.Errorf("%w: a %s proposal by %s is already waiting", ErrTransition, l.Pending.Action, l.Pending.ProposedBy)
		}
		if r.Actor.Role == RoleHolder && r.Actor.ID != identityID {
			return nil, fmt.Errorf("%w: a holder acts only on their own identity", ErrForbidden)
		}
		var fx []effect
		switch r.Event {
		case EventRevoke:
			if _, err := checkCause("revocation", revocationCauses, r.Cause, r.Actor); err != nil {
				return nil, err
			}
			if r.Actor.Role == RoleHolder && r.Channel != ChannelPortal {
				return nil, fmt.Errorf("%w: a holder asks at the portal", ErrForbidden)
			}
			if r.Cause == CauseIllicitUse && (l.Suspension == nil || l.Suspension.PoliceReportID == "") {
				return nil, fmt.Errorf("%w: illicit_use needs a police report filed during a suspension", ErrInvalid)
			}
			fx = append(fx, effect{notice: &Notice{Kind: NoticeRevocationProposed, Cause: r.Cause, Date: now}})
		case EventReactivate:
			if !slices.Contains([]Role{RoleCareAgent, RoleVerifier, RoleSupervisor}, r.Actor.Role) {
				return nil, fmt.Errorf("%w: a %s cannot propose a reactivation", ErrForbidden, r.Actor.Role)
			}
			if l.Suspension != nil && l.Suspension.PoliceReportID != "" {
				return nil, fmt.Errorf("%w: a police report is under review", ErrTransition)
			}
		default:
			return nil, fmt.Errorf("%w: only revocation and reactivation take a second approval", ErrInvalid)
		}
		if _, err := Next(l.State, r.Event); err != nil {
			return nil, err
		}
		l.Pending = &storage.Proposal{Action: string(r.Event), Cause: string(r.Cause), Channel: string(r.Channel),
			ProposedBy: r.Actor.ID, ProposedAt: now}
		return fx, nil
	})
}

// Approve completes the waiting proposal: the approver must be a
// supervisor other than the proposer, within ProposalTTL (E.2, E084). The
// audit record names both people.
func (s *Service) Approve(ctx context.Context, identityID string, approver Actor) (storage.IdentityLifecycle, error) {
	details := map[string]string{"approver": approver.ID}
	return s.change(ctx, identityID, approver, "lifecycle.approve", details, func(l *storage.IdentityLifecycle, id *storage.Identity, now time.Time) ([]effect, error) {
		p := l.Pending
		switch {
		case p == nil:
			return nil, ErrNoProposal
		case approver.Role != RoleSupervisor:
			return nil, fmt.Errorf("%w: only a supervisor approves", ErrForbidden)
		case approver.ID == p.ProposedBy:
			return nil, ErrFourEyes
		case !now.Before(p.ProposedAt.Add(s.policy().ProposalTTL)):
			return nil, fmt.Errorf("%w: proposed %s", ErrProposalExpired, p.ProposedAt.Format(time.RFC3339))
		}
		details["proposer"], details["event"], details["cause"] = p.ProposedBy, p.Action, p.Cause
		to, err := Next(l.State, Event(p.Action))
		if err != nil {
			return nil, err
		}
		l.Pending = nil
		switch Event(p.Action) {
		case EventRevoke:
			return s.revoke(l, to, Cause(p.Cause), p.ProposedAt, now, []string{p.ProposedBy, approver.ID}), nil
		default:
			l.State, l.Suspension = to, nil
			return []effect{{notice: &Notice{Kind: NoticeReactivated, Date: now, SMS: true}}}, nil
		}
	})
}

// RejectProposal drops the waiting proposal (a supervisor who disagrees,
// or the proposer withdrawing it).
func (s *Service) RejectProposal(ctx context.Context, identityID string, a Actor) (storage.IdentityLifecycle, error) {
	return s.change(ctx, identityID, a, "lifecycle.reject_proposal", nil, func(l *storage.IdentityLifecycle, _ *storage.Identity, _ time.Time) ([]effect, error) {
		switch {
		case l.Pending == nil:
			return nil, ErrNoProposal
		case a.Role != RoleSupervisor && a.ID != l.Pending.ProposedBy:
			return nil, fmt.Errorf("%w: only a supervisor or the proposer drops a proposal", ErrForbidden)
		}
		l.Pending = nil
		return nil, nil
	})
}

func (s *Service) revoke(l *storage.IdentityLifecycle, to storage.IdentityStatus, c Cause, requested, now time.Time, by []string) []effect {
	l.State, l.Pending = to, nil
	l.Revocation = &storage.Revocation{Cause: string(c), RequestedAt: requested, EffectiveAt: now, ApprovedBy: by}
	return []effect{{destroyCredentials: true, notice: &Notice{Kind: NoticeRevoked, Cause: c, Date: now, SMS: true}}}
}

// ReactivateWithDocument ends a document_expired suspension once a
// verifier has checked the new document, now in the idCard attribute
// (E080). One person suffices: the verification is the check.
func (s *Service) ReactivateWithDocument(ctx context.Context, identityID string, a Actor) (storage.IdentityLifecycle, error) {
	return s.change(ctx, identityID, a, "lifecycle.reactivate", map[string]string{"cause": string(CauseDocumentExpired)},
		func(l *storage.IdentityLifecycle, id *storage.Identity, now time.Time) ([]effect, error) {
			if a.Role != RoleVerifier && a.Role != RoleSupervisor {
				return nil, fmt.Errorf("%w: a new document is checked by a verifier", ErrForbidden)
			}
			if l.State != storage.IdentitySuspended || l.Suspension == nil || Cause(l.Suspension.Cause) != CauseDocumentExpired {
				return nil, fmt.Errorf("%w: the identity is not suspended for an expired document", ErrTransition)
			}
			if exp, ok := DocumentExpiry(*id); !ok || !now.Before(exp) {
				return nil, fmt.Errorf("%w: the identity's document (idCard) is missing or still expired", ErrInvalid)
			}
			to, err := Next(l.State, EventReactivate)
			if err != nil {
				return nil, err
			}
			l.State, l.Suspension = to, nil
			return []effect{{notice: &Notice{Kind: NoticeReactivated, Date: now, SMS: true}}}, nil
		})
}

// Renew extends valid_until by the identity type's period (2 years for a
// citizen, 1 for professional types) counted from the old valid_until; it
// is possible in the RenewalWindow before valid_until (§8.4, E083). The
// expirationDate attribute follows.
func (s *Service) Renew(ctx context.Context, identityID string, a Actor) (storage.IdentityLifecycle, error) {
	return s.change(ctx, identityID, a, "lifecycle.renew", nil, func(l *storage.IdentityLifecycle, id *storage.Identity, now time.Time) ([]effect, error) {
		if !slices.Contains([]Role{RoleHolder, RoleSupervisor, RoleSystem}, a.Role) || (a.Role == RoleHolder && a.ID != identityID) {
			return nil, fmt.Errorf("%w: renewal is the holder's (after payment)", ErrForbidden)
		}
		if _, err := Next(l.State, EventRenew); err != nil {
			return nil, err
		}
		if l.ValidUntil.IsZero() {
			return nil, fmt.Errorf("%w: the identity has no end of validity", ErrInvalid)
		}
		if now.Before(l.ValidUntil.Add(-s.policy().RenewalWindow)) || !now.Before(l.ValidUntil) {
			return nil, fmt.Errorf("%w: renewal opens %s and closes %s", ErrRenewalWindow,
				l.ValidUntil.Add(-s.policy().RenewalWindow).Format(time.DateOnly), l.ValidUntil.Format(time.DateOnly))
		}
		l.ValidUntil = addYears(l.ValidUntil, renewalYears(id.Type))
		if id.Attributes == nil {
			id.Attributes = map[string]string{}
		}
		// valid_until is the first instant after the expiry date.
		id.Attributes["expirationDate"] = l.ValidUntil.In(rome()).AddDate(0, 0, -1).Format(time.DateOnly)
		return []effect{{notice: &Notice{Kind: NoticeRenewed, Date: l.ValidUntil.Add(-time.Second)}}}, nil
	})
}

func renewalYears(t storage.IdentityType) int {
	if t == storage.IdentityCitizen || t == 0 {
		return 2
	}
	return 1
}

// addYears keeps the wall-clock date in Rome; 29 February becomes 28
// February (E056's rule, applied to renewals).
func addYears(t time.Time, years int) time.Time {
	r := t.In(rome())
	y, m, d := r.Date()
	if m == time.February && d == 29 {
		d = 28
	}
	return time.Date(y+years, m, d, r.Hour(), r.Minute(), r.Second(), r.Nanosecond(), rome()).UTC()
}

// AuthResolution is how far apart two authentications must be for the
// later one to be written as the last authentication. Inactivity is
// counted in months and its notices in days, so an hour is far below what
// it can tell apart, and a citizen moving between services (one SSO
// Response each) costs one read per login instead of rewriting two rows.
const AuthResolution = time.Hour

// RecordAuth notes a successful authentication (SAML at any level or the
// portal), which moves the inactivity deadline (§8.4). Only later instants
// count, and only when at least AuthResolution after the recorded one. Not
// audited: the transaction register has the login.
func (s *Service) RecordAuth(ctx context.Context, identityID string, at time.Time) error {
	if s.recentlyRecorded(identityID, at) {
		return nil
	}
	l, err := s.Get(ctx, identityID)
	if err != nil {
		return err
	}
	if l.State != storage.IdentityPending && !at.After(l.LastAuthAt.Add(AuthResolution)) {
		s.noteRecorded(identityID, l.LastAuthAt)
		return nil // nothing would change but the instant, by less than the resolution
	}
	var last time.Time
	pending := true
	err = s.Store.UpdateLifecycle(ctx, identityID, func(l storage.IdentityLifecycle, id storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		reconcile(&l, id)
		if at.After(l.LastAuthAt) {
			l.LastAuthAt = at.UTC()
			l.NextDueAt = s.policy().nextDue(l, id)
		}
		last, pending = l.LastAuthAt, l.State == storage.IdentityPending
		return l, id, nil
	})
	if err == nil && !pending {
		s.noteRecorded(identityID, last)
	}
	return err
}

// fillNotice addresses n to the identity's registered contacts.
func fillNotice(n *Notice, identityID string, id storage.Identity) {
	n.IdentityID = identityID
	n.Email, n.Mobile = id.Attributes["email"], id.Attributes["mobilePhone"]
	if code := id.Attributes["spidCode"]; len(code) >= 4 {
		n.SPIDSuffix = code[len(code)-4:]
	}
}

// outbox gives a change its transactional outbox when the notifier writes
// its messages into one (the durable queue): then the notices commit with
// the change or not at all. Otherwise (a gateway without queue: tests,
// tools) ob is nil and the notices are sent after the change.
func (s *Service) outbox(ctx context.Context) (context.Context, *storage.Outbox) {
	st, ok := s.Notifier.(Staging)
	if !ok || !st.Stages() {
		return ctx, nil
	}
	ob := &storage.Outbox{}
	return storage.WithOutbox(ctx, ob), ob
}

// stage writes the notices of effects into ob, inside the change's
// transaction, addressed from the identity as the transaction reads it. A
// notice that cannot be staged fails the change: it must not happen
// unannounced.
func (s *Service) stage(ctx context.Context, ob *storage.Outbox, identityID string, id storage.Identity, effects []effect) error {
	if ob == nil {
		return nil
	}
	for i := range effects {
		e := &effects[i]
		if e.notice == nil {
			continue
		}
		n := *e.notice
		fillNotice(&n, identityID, id)
		if err := s.Notifier.Notify(ctx, n); err != nil {
			return fmt.Errorf("notice %s: queueing it with the change: %w", n.Kind, err)
		}
		e.staged = true
	}
	return nil
}
