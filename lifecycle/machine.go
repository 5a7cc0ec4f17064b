// Package lifecycle runs the life of a SPID identity after issue
// (enrolment-lifecycle.md §8): suspension, reactivation, revocation,
// expiry and renewal, inactivity, with the causes of §8.2, the timings of
// §8.3–8.4, four eyes where security.md E.2 asks for them, an audit record
// for every transition and for every refusal, and the holder notified
// through a Notifier. Scheduler applies the timed transitions.
//
// The state lives in storage.IdentityLifecycle; the store mirrors it into
// Identity.Status in the same transaction, and the IdP refuses any identity
// whose status is not active (nr23, no SSO session reuse), so a transition
// takes effect on the next request that reaches any node.
package lifecycle

import (
	"errors"
	"fmt"

	"github.com/spid-idp/spid-idp/storage"
)

// Event is what moves an identity between states (§8.1).
type Event string

const (
	EventActivate   Event = "activate"   // pending_activation → active
	EventSuspend    Event = "suspend"    // active → suspended
	EventReactivate Event = "reactivate" // suspended → active
	EventRevoke     Event = "revoke"     // any but revoked → revoked
	EventRenew      Event = "renew"      // active, suspended → same, valid_until extended
)

// Refusals. Every one leaves the lifecycle as it was and is audited.
var (
	// ErrTransition: the event is not possible from the current state
	// (revoked is final, only an active identity is suspended, ...).
	ErrTransition = errors.New("lifecycle: transition not allowed")
	// ErrForbidden: the actor's role may not do this.
	ErrForbidden = errors.New("lifecycle: not allowed for this role")
	// ErrFourEyes: the approver is the proposer.
	ErrFourEyes = errors.New("lifecycle: a second, different person must approve")
	// ErrProposalExpired: the proposal is older than ProposalTTL.
	ErrProposalExpired = errors.New("lifecycle: proposal expired")
	// ErrNoProposal: nothing waits for approval (or something else does).
	ErrNoProposal = errors.New("lifecycle: no matching proposal")
	// ErrOriginNotVerified: a care agent asked to suspend without having
	// verified the caller through a registered contact (E074).
	ErrOriginNotVerified = errors.New("lifecycle: the caller's identity was not verified")
	// ErrRenewalWindow: renewal is possible only in the 90 days before
	// valid_until (§8.4).
	ErrRenewalWindow = errors.New("lifecycle: outside the renewal window")
	// ErrInvalid: a malformed request (unknown cause, missing reference).
	ErrInvalid = errors.New("lifecycle: invalid request")
)

// transitions is the table of §8.1: for each event, the states it leaves
// from. Renewal keeps the state.
var transitions = map[Event]struct {
	from []storage.IdentityStatus
	to   storage.IdentityStatus // "" keeps the state
}{
	EventActivate:   {[]storage.IdentityStatus{storage.IdentityPending}, storage.IdentityActive},
	EventSuspend:    {[]storage.IdentityStatus{storage.IdentityActive}, storage.IdentitySuspended},
	EventReactivate: {[]storage.IdentityStatus{storage.IdentitySuspended}, storage.IdentityActive},
	EventRevoke: {[]storage.IdentityStatus{storage.IdentityPending, storage.IdentityActive,
		storage.IdentitySuspended, storage.IdentityExpired}, storage.IdentityRevoked},
	EventRenew: {[]storage.IdentityStatus{storage.IdentityActive, storage.IdentitySuspended}, ""},
}

// Next returns the state event leads to from from, or ErrTransition.
func Next(from storage.IdentityStatus, ev Event) (storage.IdentityStatus, error) {
	t, ok := transitions[ev]
	if !ok {
		return "", fmt.Errorf("%w: unknown event %q", ErrTransition, ev)
	}
	for _, f := range t.from {
		if f == from {
			if t.to == "" {
				return from, nil
			}
			return t.to, nil
		}
	}
	return "", fmt.Errorf("%w: cannot %s an identity that is %s", ErrTransition, ev, from)
}
