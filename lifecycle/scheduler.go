package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/storage"
)

// LeaseName is the lease every scheduler node takes before a run.
const LeaseName = "lifecycle-scheduler"

// DefaultLeaseTTL bounds how long a crashed node keeps others from running.
// A live node renews the lease every third of it while it runs (the
// heartbeat), so a long run never outlives its lease, and a node that dies
// is replaced once the TTL has passed: the other nodes' loops, skipped
// meanwhile, try again every half TTL. With Loop's one-minute interval a
// dead holder is replaced within a minute (max(interval, 1.5 × TTL)).
const DefaultLeaseTTL = 30 * time.Second

const batchSize = 200

// schedulerActor is the actor of timed transitions in the audit log.
var schedulerActor = Actor{ID: "system:scheduler", Role: RoleSystem}

// ErrLeaseLost: another node took the lease during a run (this node
// stalled longer than the TTL); the run stops at once.
var ErrLeaseLost = errors.New("lifecycle: scheduler lease lost")

// Scheduler applies the timed transitions of §8: reactivation at day 30,
// expiry and inactivity revocation, document-expiry suspension, the
// 90/30/10/1-day notices, expired four-eyes proposals, deletion of the
// disabled password hash 90 days after revocation.
//
// RunOnce is idempotent and catches up: it handles everything due at Now
// whenever it last ran. Two nodes are kept apart twice: the lease lets one
// run at a time, and each record is re-checked and changed inside its own
// locked read-modify-write, so even a node that lost its lease mid-run
// cannot apply a transition or mark a notice twice.
type Scheduler struct {
	Store    Store
	Leases   storage.Leases
	Audit    *audit.Logger
	Notifier Notifier
	Now      func() time.Time
	Holder   string // this node's name in the lease (host:pid)
	Policy   Policy
	LeaseTTL time.Duration // 0: DefaultLeaseTTL
	// Jobs are other timed duties (evidence retention, token clean-up) run
	// after the lifecycle pass under the same lease, so they too run on
	// one node at a time.
	Jobs []Job
}

// Job is a timed duty run by the scheduler. Run returns a one-line summary
// for the report; it must be idempotent, like the lifecycle pass.
type Job struct {
	Name string
	Run  func(ctx context.Context, now time.Time) (string, error)
}

// Report says what a run did.
type Report struct {
	Skipped          bool   // another node holds the lease
	Holder           string // this node
	Adopted          int    // identities that got their lifecycle in this run
	Examined         int
	Reactivated      int
	Blocked          int // reactivations refused by the AVV10 checks
	Suspended        int // document expired
	Revoked          int // contract expired or inactivity
	Notices          int
	ProposalsExpired int
	PasswordsDeleted int
	Jobs             []string // "name: summary" of each Job
	Errors           []string
}

// String is the one-paragraph summary `spid-idp lifecycle run` prints.
func (r Report) String() string {
	if r.Skipped {
		return "skipped: another node holds the scheduler lease"
	}
	s := fmt.Sprintf("adopted %d, examined %d; reactivated %d, reactivation blocked %d, suspended %d, revoked %d; notices %d; proposals expired %d; password hashes deleted %d",
		r.Adopted, r.Examined, r.Reactivated, r.Blocked, r.Suspended, r.Revoked, r.Notices, r.ProposalsExpired, r.PasswordsDeleted)
	for _, j := range r.Jobs {
		s += "\n" + j
	}
	if len(r.Errors) > 0 {
		s += fmt.Sprintf("; %d error(s):\n  %s", len(r.Errors), strings.Join(r.Errors, "\n  "))
	}
	return s
}

func (sc *Scheduler) service() *Service {
	return &Service{Store: sc.Store, Audit: sc.Audit, Notifier: sc.Notifier, Now: sc.Now, Policy: sc.Policy}
}

// RunOnce takes the lease and handles every record due now. It returns a
// Skipped report, without error, when another node holds the lease. Errors
// on single records are collected in the report (and returned joined) and
// do not stop the run.
func (sc *Scheduler) RunOnce(ctx context.Context) (Report, error) {
	rep := Report{Holder: sc.Holder}
	if sc.Holder == "" {
		return rep, errors.New("lifecycle: scheduler without a holder name")
	}
	ttl := sc.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	ok, err := sc.Leases.TryAcquire(ctx, LeaseName, sc.Holder, ttl)
	if err != nil {
		return rep, err
	}
	if !ok {
		rep.Skipped = true
		return rep, nil
	}
	defer func() { _ = sc.Leases.Release(context.WithoutCancel(ctx), LeaseName, sc.Holder) }()
	// The heartbeat stops (deferred after Release, so it runs before it)
	// before the lease is given up, so it cannot take it back afterwards.
	ctx, lost := context.WithCancelCause(ctx)
	beat := make(chan struct{})
	go sc.heartbeat(ctx, lost, ttl, beat)
	defer func() { lost(nil); <-beat }()
	rep, err = sc.run(ctx, rep, ttl)
	if errors.Is(context.Cause(ctx), ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
		err = errors.Join(err, ErrLeaseLost)
	}
	return rep, err
}

// heartbeat renews the lease every third of ttl until ctx ends. When the
// lease is taken by another node, or cannot be renewed before it would
// expire (database unreachable), it cancels the run with ErrLeaseLost:
// past that point another node may be running too.
func (sc *Scheduler) heartbeat(ctx context.Context, lost context.CancelCauseFunc, ttl time.Duration, done chan<- struct{}) {
	defer close(done)
	every := max(ttl/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	held := time.Now() // the lease was just taken
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		ok, err := sc.Leases.TryAcquire(rctx, LeaseName, sc.Holder, ttl)
		cancel()
		switch {
		case err == nil && ok:
			held = time.Now()
		case err == nil && !ok:
			lost(ErrLeaseLost)
			return
		case time.Since(held) >= ttl-every:
			// Renewals keep failing and the next could come too late.
			lost(fmt.Errorf("%w: renewing: %w", ErrLeaseLost, err))
			return
		}
	}
}

// run is the body of RunOnce, under the lease.
func (sc *Scheduler) run(ctx context.Context, rep Report, ttl time.Duration) (Report, error) {

	svc := sc.service()
	now := svc.now()
	var errs []error
	// Identities issued without a lifecycle (older versions, user add,
	// enrolment) get one first, so their deadlines are watched too.
	for after := ""; ; {
		ids, err := sc.Store.ListIdentitiesWithoutLifecycle(ctx, after, batchSize)
		if err != nil {
			return rep, err
		}
		for _, id := range ids {
			after = id.ID
			if _, err := svc.adopt(ctx, id); err != nil {
				errs = append(errs, err)
				rep.Errors = append(rep.Errors, err.Error())
				continue
			}
			rep.Adopted++
		}
		if len(ids) < batchSize {
			break
		}
	}
	after := ""
	for {
		batch, err := sc.Store.ListDueLifecycles(ctx, now, after, batchSize)
		if err != nil {
			return rep, errors.Join(append(errs, err)...)
		}
		for _, l := range batch {
			after = l.IdentityID
			rep.Examined++
			if err := svc.tick(ctx, l.IdentityID, now, &rep); err != nil {
				errs = append(errs, err)
				rep.Errors = append(rep.Errors, err.Error())
			}
		}
		if len(batch) < batchSize {
			break
		}
		if ok, err := sc.Leases.TryAcquire(ctx, LeaseName, sc.Holder, ttl); err != nil || !ok {
			return rep, errors.Join(append(errs, ErrLeaseLost, err)...)
		}
	}
	for _, j := range sc.Jobs {
		if ok, err := sc.Leases.TryAcquire(ctx, LeaseName, sc.Holder, ttl); err != nil || !ok {
			return rep, errors.Join(append(errs, ErrLeaseLost, err)...)
		}
		sum, err := j.Run(ctx, now)
		if err != nil {
			err = fmt.Errorf("job %s: %w", j.Name, err)
			errs = append(errs, err)
			rep.Errors = append(rep.Errors, err.Error())
		}
		rep.Jobs = append(rep.Jobs, j.Name+": "+sum)
	}
	return rep, errors.Join(errs...)
}

// Loop runs RunOnce at once and then every interval until ctx ends,
// handing each report to report (which may be nil). Every node of a
// cluster can run it: the lease keeps the runs apart, and a node that
// was down catches up on its first pass.
func (sc *Scheduler) Loop(ctx context.Context, interval time.Duration, report func(Report, error)) {
	if interval <= 0 {
		interval = time.Minute
	}
	ttl := sc.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	// A skipped run comes back after half a TTL rather than a whole
	// interval: if the holder died, its lease runs out within a TTL and
	// this node takes over soon after, not an interval later.
	retry := min(interval, max(ttl/2, time.Millisecond))
	for {
		rep, err := sc.RunOnce(ctx)
		if report != nil && ctx.Err() == nil {
			report(rep, err)
		}
		wait := interval
		if rep.Skipped && err == nil {
			wait = retry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// tick applies to one record whatever is due at now, in one locked
// read-modify-write; the record's conditions are re-read there, so a
// second scheduler finds nothing left to do.
func (s *Service) tick(ctx context.Context, identityID string, now time.Time, rep *Report) error {
	p := s.policy()
	var effects []effect
	var counts Report
	uctx, ob := s.outbox(ctx)
	err := s.Store.UpdateLifecycle(uctx, identityID, func(l storage.IdentityLifecycle, id storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		effects, counts = nil, Report{}
		reconcile(&l, id)
		add := func(e effect) { effects = append(effects, e) }
		from := l.State
		transition := func(action string, details map[string]string) {
			details["from"], details["to"], details["role"] = string(from), string(l.State), string(RoleSystem)
			add(effect{action: action, details: details})
		}

		if pr := l.Pending; pr != nil && !now.Before(pr.ProposedAt.Add(p.ProposalTTL)) {
			l.Pending = nil
			counts.ProposalsExpired++
			add(effect{action: "lifecycle.proposal_expired", details: map[string]string{
				"event": pr.Action, "cause": pr.Cause, "proposer": pr.ProposedBy, "proposed_at": pr.ProposedAt.Format(time.RFC3339)}})
		}

		switch l.State {
		case storage.IdentityRevoked:
			if r := l.Revocation; r != nil && !now.Before(r.EffectiveAt.Add(p.PasswordKeep)) && !containsKey(l.NoticesSent, keyPasswordDeleted) {
				l.NoticesSent = append(l.NoticesSent, keyPasswordDeleted)
				counts.PasswordsDeleted++
				add(effect{action: "lifecycle.password_deleted", deletePassword: true, details: map[string]string{"revoked_at": r.EffectiveAt.Format(time.RFC3339)}})
			}
		case storage.IdentityActive, storage.IdentitySuspended:
			inact := p.InactivityDeadline(l)
			doc, hasDoc := DocumentExpiry(id)
			pruneNotices(&l, map[string]time.Time{prefixExpiry: l.ValidUntil, prefixInactivity: inact,
				prefixDocument: docTarget(doc, hasDoc)})

			// Revocation deadlines first: nothing else matters after them.
			cause, deadline := Cause(""), time.Time{}
			if !l.ValidUntil.IsZero() && !now.Before(l.ValidUntil) {
				cause, deadline = CauseContractExpired, l.ValidUntil
			}
			if !inact.IsZero() && !now.Before(inact) && (cause == "" || inact.Before(deadline)) {
				cause, deadline = CauseInactivity, inact
			}
			if cause != "" {
				fx := s.revoke(&l, storage.IdentityRevoked, cause, deadline, now, []string{schedulerActor.ID})
				counts.Revoked++
				transition("lifecycle.revoke", map[string]string{"cause": string(cause), "channel": string(ChannelSystem),
					"deadline": deadline.Format(time.RFC3339)})
				effects = append(effects, fx...)
				break
			}

			if susp := l.Suspension; l.State == storage.IdentitySuspended && susp != nil && susp.Blocked == "" && timedSuspension(susp) && !now.Before(susp.Until) {
				if reason := reactivationBlock(l, id, now); reason != "" {
					susp.Blocked = reason
					counts.Blocked++
					add(effect{action: "lifecycle.reactivation_blocked", details: map[string]string{"reason": reason, "cause": susp.Cause},
						notice: &Notice{Kind: NoticeReactivationBlocked, Reason: reason, Date: now, SMS: true}})
				} else {
					l.State, l.Suspension = storage.IdentityActive, nil
					counts.Reactivated++
					transition("lifecycle.reactivate", map[string]string{"cause": string(CauseHolderRequest),
						"channel": string(ChannelSystem), "checks": "document,contacts,complaint,proposal"})
					add(effect{notice: &Notice{Kind: NoticeReactivated, Date: now, SMS: true}})
				}
			}

			if l.State == storage.IdentityActive && hasDoc && !now.Before(doc) {
				l.State = storage.IdentitySuspended
				l.Suspension = &storage.Suspension{Cause: string(CauseDocumentExpired), Channel: string(ChannelSystem),
					RequestedBy: schedulerActor.ID, StartedAt: now, ContactsDigest: contactsDigest(id)}
				counts.Suspended++
				transition("lifecycle.suspend", map[string]string{"cause": string(CauseDocumentExpired), "channel": string(ChannelSystem),
					"document_expiry": doc.AddDate(0, 0, -1).Format(time.DateOnly)})
				add(effect{notice: &Notice{Kind: NoticeSuspended, Cause: CauseDocumentExpired, Date: doc.AddDate(0, 0, -1), SMS: true}})
			}

			notice := func(kind NoticeKind, prefix string, days []int, target time.Time, sms bool) {
				if n := dueNotice(&l, prefix, days, target, now); n > 0 {
					counts.Notices++
					add(effect{notice: &Notice{Kind: kind, Date: target, DaysLeft: n, SMS: sms}, unmark: noticeKey(prefix, n, target)})
				}
			}
			notice(NoticeExpiry, prefixExpiry, p.NoticeDays, l.ValidUntil, true)
			notice(NoticeInactivity, prefixInactivity, p.NoticeDays, inact, true)
			if l.State == storage.IdentityActive && hasDoc {
				notice(NoticeDocumentExpiry, prefixDocument, p.DocumentNoticeDays, doc.AddDate(0, 0, -1), false)
			}
		}
		l.NextDueAt = p.nextDue(l, id)
		if !l.NextDueAt.After(now) {
			// Never hand the record back as due at the same instant: the
			// next run looks again.
			l.NextDueAt = now.Add(time.Minute)
		}
		if len(effects) > 0 {
			l.UpdatedAt = now
		}
		endSessionsOnTransition(from, l, &id)
		return l, id, s.stage(uctx, ob, identityID, id, effects)
	})
	if ob != nil {
		ob.Deliver(ctx)
	}
	if err != nil {
		return fmt.Errorf("lifecycle of %s: %w", identityID, err)
	}
	rep.Reactivated += counts.Reactivated
	rep.Blocked += counts.Blocked
	rep.Suspended += counts.Suspended
	rep.Revoked += counts.Revoked
	rep.Notices += counts.Notices
	rep.ProposalsExpired += counts.ProposalsExpired
	rep.PasswordsDeleted += counts.PasswordsDeleted
	return s.apply(ctx, identityID, schedulerActor, effects)
}

func docTarget(doc time.Time, ok bool) time.Time {
	if !ok {
		return time.Time{}
	}
	return doc.AddDate(0, 0, -1)
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// reactivationBlock applies the AVV10 checks of §8.3 before the day-30
// reactivation and returns why it cannot happen, "" when it can.
func reactivationBlock(l storage.IdentityLifecycle, id storage.Identity, now time.Time) string {
	s := l.Suspension
	switch {
	case s.PoliceReportID != "":
		return "complaint_under_review"
	case l.Pending != nil && Event(l.Pending.Action) == EventRevoke:
		return "revocation_pending"
	case s.ContactsDigest != "" && s.ContactsDigest != contactsDigest(id):
		return "contacts_changed"
	}
	if exp, ok := DocumentExpiry(id); ok && !now.Before(exp) {
		return "document_expired"
	}
	return ""
}
