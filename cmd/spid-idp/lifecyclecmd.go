package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
)

func init() {
	register("lifecycle run", "run the lifecycle scheduler once (--now): reactivations, expiry, inactivity, notices", runLifecycleRun)
	register("lifecycle show", "show an identity's lifecycle: state, validity, suspension, revocation, notices", runLifecycleShow)
}

// lifecycleStore is what the lifecycle commands need of the configured
// store; both SQL backends have it.
type lifecycleStore interface {
	lifecycle.Store
	storage.Leases
}

func (a *admin) lifecycleStore() (lifecycleStore, error) {
	ls, ok := a.store.(lifecycleStore)
	if !ok {
		return nil, fmt.Errorf("the configured store (%T) keeps no identity lifecycles", a.store)
	}
	return ls, nil
}

// lifecycleNotifier sends notices through the durable queue in the shared
// store (§9): tried at once, and retried by the servers' workers when the
// gateway fails, so a run never loses a notice for want of a gateway.
func lifecycleNotifier(e env, cfg *config.Config, store storage.Store) lifecycle.Notifier {
	n, err := app.LifecycleNotifier(cfg, &app.Backends{Store: store}, quietLogger(e))
	if err != nil {
		// The configuration was validated; a sender that cannot be built
		// here is reported and the notices wait for the server's run.
		fmt.Fprintf(e.stderr, "spid-idp: notices not sent: %v\n", err)
		return noSender{err}
	}
	return n
}

// noSender fails every notice, so the scheduler keeps it for a later run.
type noSender struct{ err error }

func (n noSender) Notify(context.Context, lifecycle.Notice) error { return n.err }

// lifecycleService is the service the user commands act through, as the
// operator running the command. A shell operator has a supervisor's powers,
// and four eyes still need a second person (another Unix user).
func (a *admin) lifecycleService() (*lifecycle.Service, lifecycle.Actor, error) {
	ls, err := a.lifecycleStore()
	if err != nil {
		return nil, lifecycle.Actor{}, err
	}
	return &lifecycle.Service{Store: ls, Audit: a.audit, Notifier: lifecycleNotifier(a.e, a.cfg, a.store)},
		lifecycle.Actor{ID: a.actor, Role: lifecycle.RoleSupervisor}, nil
}

func runLifecycleRun(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("lifecycle run", e)
	path := configFlag(fs, e)
	now := fs.Bool("now", false, "run one pass now (required: the server runs the scheduler on its own)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 0 || !*now {
		fmt.Fprintln(e.stderr, "usage: spid-idp lifecycle run --now [-c FILE]")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	ls, err := a.lifecycleStore()
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp lifecycle run: %v\n", err)
		return exitFailure
	}
	host, _ := os.Hostname()
	sc := &lifecycle.Scheduler{Store: ls, Leases: ls, Audit: a.audit, Notifier: lifecycleNotifier(a.e, a.cfg, a.store),
		Holder: fmt.Sprintf("%s:%d:cli", host, os.Getpid())}
	rep, err := sc.RunOnce(ctx)
	fmt.Fprintln(e.stdout, rep)
	if err != nil {
		if len(rep.Errors) == 0 {
			fmt.Fprintf(e.stderr, "spid-idp lifecycle run: %v\n", err)
		}
		return exitFailure
	}
	return exitOK
}

func runLifecycleShow(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("lifecycle show", e)
	path := configFlag(fs, e)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(e.stderr, "usage: spid-idp lifecycle show [-c FILE] USERNAME")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	id, ok := lookupUser(ctx, a, "lifecycle show", rest[0])
	if !ok {
		return exitFailure
	}
	svc, _, err := a.lifecycleService()
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp lifecycle show: %v\n", err)
		return exitFailure
	}
	l, err := svc.Get(ctx, id.ID)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp lifecycle show: %v\n", err)
		return exitFailure
	}
	printLifecycle(e, id, l, time.Now())
	return exitOK
}

func printLifecycle(e env, id storage.Identity, l storage.IdentityLifecycle, now time.Time) {
	w := e.stdout
	date := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	p := lifecycle.DefaultPolicy()
	state := string(l.State)
	if p.Expiring(l, now) {
		state += " (expiring: ATTIVO – IN SCADENZA)"
	}
	fmt.Fprintf(w, "identity     %s (%s)\n", oneLine(id.Username), id.ID)
	fmt.Fprintf(w, "state        %s\n", state)
	fmt.Fprintf(w, "valid from   %s\n", date(l.ValidFrom))
	fmt.Fprintf(w, "valid until  %s\n", date(l.ValidUntil))
	fmt.Fprintf(w, "last auth    %s\n", date(l.LastAuthAt))
	fmt.Fprintf(w, "inactivity   %s (revocation if no authentication before)\n", date(p.InactivityDeadline(l)))
	if s := l.Suspension; s != nil {
		fmt.Fprintf(w, "suspension   %s by %s via %s since %s", s.Cause, oneLine(s.RequestedBy), s.Channel, date(s.StartedAt))
		if !s.Until.IsZero() {
			fmt.Fprintf(w, ", until %s", date(s.Until))
		}
		fmt.Fprintln(w)
		if s.PoliceReportID != "" {
			fmt.Fprintf(w, "police report %s (under review: no automatic reactivation)\n", oneLine(s.PoliceReportID))
		}
		if s.Blocked != "" {
			fmt.Fprintf(w, "reactivation blocked: %s\n", s.Blocked)
		}
	}
	if r := l.Revocation; r != nil {
		fmt.Fprintf(w, "revocation   %s, requested %s, effective %s, approved by %s\n", r.Cause, date(r.RequestedAt),
			date(r.EffectiveAt), oneLine(strings.Join(r.ApprovedBy, ", ")))
	}
	if pr := l.Pending; pr != nil {
		fmt.Fprintf(w, "waiting      %s (%s) proposed by %s at %s; a different supervisor approves before %s\n", pr.Action,
			orDash(pr.Cause), oneLine(pr.ProposedBy), date(pr.ProposedAt), date(pr.ProposedAt.Add(p.ProposalTTL)))
	}
	if len(l.NoticesSent) > 0 {
		fmt.Fprintf(w, "notices sent %s\n", oneLine(strings.Join(l.NoticesSent, ", ")))
	}
	next := date(l.NextDueAt)
	if l.NextDueAt.Equal(lifecycle.Never) {
		next = "never"
	}
	fmt.Fprintf(w, "next check   %s\n", next)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runUserStatus routes `user suspend|revoke|activate` through the
// lifecycle: suspension is immediate; revocation and reactivation are
// proposed by one operator and approved by another within 72 hours
// (security.md E.2), except the end of a document_expired suspension once
// the new document is in.
func runUserStatus(ctx context.Context, e env, args []string, op string) int {
	fs := newFlagSet("user "+op, e)
	path := configFlag(fs, e)
	var cause *string
	yes, approve, reject := new(bool), new(bool), new(bool)
	switch op {
	case "suspend":
		cause = fs.String("cause", "", "why: "+causeList(lifecycle.SuspensionCauses())+" (required)")
	case "revoke":
		cause = fs.String("cause", "", "why: "+causeList(lifecycle.RevocationCauses())+" (required to propose)")
		yes = fs.Bool("yes", false, "confirm the proposal: once approved, revocation is final and the username and spidCode are never usable again")
	}
	if op != "suspend" {
		approve = fs.Bool("approve", false, "approve the waiting proposal (a different operator from the proposer)")
		reject = fs.Bool("reject", false, "drop the waiting proposal")
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	usage := map[string]string{
		"suspend":  "usage: spid-idp user suspend [-c FILE] --cause CAUSE USERNAME",
		"revoke":   "usage: spid-idp user revoke [-c FILE] (--cause CAUSE --yes | --approve | --reject) USERNAME",
		"activate": "usage: spid-idp user activate [-c FILE] [--approve | --reject] USERNAME",
	}[op]
	proposing := !*approve && !*reject
	switch {
	case len(rest) != 1, *approve && *reject, !proposing && cause != nil && *cause != "":
		fmt.Fprintln(e.stderr, usage)
		return exitUsage
	case proposing && cause != nil && *cause == "":
		fmt.Fprintf(e.stderr, "spid-idp user %s: --cause is required\n%s\n", op, usage)
		return exitUsage
	case op == "revoke" && proposing && !*yes:
		fmt.Fprintln(e.stderr, "spid-idp user revoke: revocation is final once approved; add --yes to propose it")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	id, ok := lookupUser(ctx, a, "user "+op, rest[0])
	if !ok {
		return a.fail(ctx, "user."+op, "", map[string]string{"username": strings.ToLower(rest[0]), "error": "not found"})
	}
	svc, actor, err := a.lifecycleService()
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user %s: %v\n", op, err)
		return exitFailure
	}
	var l storage.IdentityLifecycle
	switch {
	case *approve:
		l, err = svc.Approve(ctx, id.ID, actor)
	case *reject:
		l, err = svc.RejectProposal(ctx, id.ID, actor)
	case op == "suspend":
		l, err = svc.Suspend(ctx, id.ID, lifecycle.SuspendRequest{Actor: actor, Cause: lifecycle.Cause(*cause), Channel: lifecycle.ChannelCLI})
	case op == "revoke":
		l, err = svc.Propose(ctx, id.ID, lifecycle.ProposalRequest{Actor: actor, Event: lifecycle.EventRevoke,
			Cause: lifecycle.Cause(*cause), Channel: lifecycle.ChannelCLI})
	default: // activate
		var cur storage.IdentityLifecycle
		if cur, err = svc.Get(ctx, id.ID); err == nil {
			if s := cur.Suspension; cur.State == storage.IdentitySuspended && s != nil && s.Cause == string(lifecycle.CauseDocumentExpired) {
				l, err = svc.ReactivateWithDocument(ctx, id.ID, actor)
			} else {
				l, err = svc.Propose(ctx, id.ID, lifecycle.ProposalRequest{Actor: actor, Event: lifecycle.EventReactivate,
					Channel: lifecycle.ChannelCLI})
			}
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user %s: %s\n", op, userMessage(err))
		if errors.Is(err, lifecycle.ErrInvalid) {
			return exitUsage
		}
		return exitFailure
	}
	switch {
	case l.Pending != nil && proposing:
		fmt.Fprintf(e.stdout, "%s: %s proposed (state still %s); another operator approves within 72 hours with: spid-idp user %s --approve %s\n",
			id.Username, l.Pending.Action, l.State, op, id.Username)
	case *reject:
		fmt.Fprintf(e.stdout, "%s: proposal dropped (state %s)\n", id.Username, l.State)
	default:
		fmt.Fprintf(e.stdout, "%s: %s -> %s\n", id.Username, id.Status, l.State)
	}
	return exitOK
}

func causeList(cs []lifecycle.Cause) string {
	var s []string
	for _, c := range cs {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

// userMessage explains a refusal in the operator's terms.
func userMessage(err error) string {
	switch {
	case errors.Is(err, lifecycle.ErrFourEyes):
		return "you proposed this: a different operator must approve it (four eyes)"
	case errors.Is(err, lifecycle.ErrNoProposal):
		return "nothing is waiting for approval on this identity"
	case errors.Is(err, lifecycle.ErrProposalExpired):
		return "the proposal is older than 72 hours: propose it again"
	}
	return err.Error()
}
