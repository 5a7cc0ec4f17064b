package storage

import (
	"context"
	"time"
)

// Suspension says why and until when an identity is suspended
// (enrolment-lifecycle.md §3.5, §8.3).
type Suspension struct {
	Cause       string
	Channel     string // portal, care, pec, signed_email, system, cli
	RequestedBy string // actor who asked
	StartedAt   time.Time
	Until       time.Time // zero: no automatic end (§8.2 causes without one)
	// PoliceReportID names the evidence item holding the complaint to the
	// judicial authority; set, it blocks the automatic reactivation (§8.3).
	PoliceReportID string
	// ContactsDigest fingerprints e-mail and mobile at StartedAt: the day-30
	// reactivation needs them unchanged (AVV10).
	ContactsDigest string
	// Blocked is why the automatic reactivation did not happen; "" when it
	// has not been tried.
	Blocked string
}

// Revocation records how an identity ended.
type Revocation struct {
	Cause       string
	RequestedAt time.Time
	EffectiveAt time.Time
	ApprovedBy  []string // proposer then approver (four eyes), or the scheduler
}

// Proposal is a four-eyes action waiting for its second person
// (security.md E.2): one person proposes, a different one approves.
type Proposal struct {
	Action     string // "revoke" or "reactivate"
	Cause      string
	Channel    string
	ProposedBy string
	ProposedAt time.Time
}

// IdentityLifecycle is the lifecycle of one identity (§8): its state, the
// current suspension, the revocation, validity and usage dates, and which
// notices went out. State is mirrored into Identity.Status by
// UpdateLifecycle, in the same transaction.
type IdentityLifecycle struct {
	IdentityID  string
	State       IdentityStatus
	ValidFrom   time.Time
	ValidUntil  time.Time // zero: no contract end known
	Suspension  *Suspension
	Revocation  *Revocation
	Pending     *Proposal
	LastAuthAt  time.Time // last successful authentication; zero when never
	NoticesSent []string  // keys of notices sent, e.g. "expiry-90:2028-11-25"
	// NextDueAt is when the scheduler must look at the record next; zero
	// means as soon as possible. Writers set it from the rules; a value too
	// early only costs the scheduler a look, never a missed deadline.
	NextDueAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Lifecycles stores identity lifecycles, with Store's conventions
// (ErrNotFound / ErrAlreadyExists, read-modify-write, UTC times).
type Lifecycles interface {
	// CreateLifecycle stores the lifecycle of an existing identity and sets
	// the identity's status to l.State; ErrNotFound when the identity does
	// not exist, ErrAlreadyExists when it has a lifecycle.
	CreateLifecycle(ctx context.Context, l IdentityLifecycle) error
	GetLifecycle(ctx context.Context, identityID string) (IdentityLifecycle, error)
	// UpdateLifecycle is read-modify-write of the lifecycle and its identity
	// in one transaction, both rows locked: fn may change either (the
	// identity's ID is kept), and the identity's Status is then set to the
	// lifecycle's State, so the two never disagree.
	UpdateLifecycle(ctx context.Context, identityID string,
		fn func(IdentityLifecycle, Identity) (IdentityLifecycle, Identity, error)) error
	// ListDueLifecycles returns up to limit lifecycles whose NextDueAt is
	// zero or not after now and whose IdentityID sorts after after, ordered
	// by IdentityID (a scheduler pages through with after = the last ID).
	ListDueLifecycles(ctx context.Context, now time.Time, after string, limit int) ([]IdentityLifecycle, error)
	// ListIdentitiesWithoutLifecycle returns up to limit identities, other
	// than pending_activation ones, that have no lifecycle yet and whose ID
	// sorts after after, ordered by ID: the scheduler gives them one.
	ListIdentitiesWithoutLifecycle(ctx context.Context, after string, limit int) ([]Identity, error)
}

// Leases are named, time-limited locks shared by every process using the
// same database: two scheduler nodes take the same lease and exactly one
// gets it.
type Leases interface {
	// TryAcquire takes the lease name for holder for ttl when it is free,
	// expired, or already held by holder (which extends it). It reports
	// whether holder now holds it; it never waits.
	TryAcquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Release gives the lease up if holder holds it; no error otherwise.
	Release(ctx context.Context, name, holder string) error
}
