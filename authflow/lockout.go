package authflow

// The identity's lockout seen from the login pages (security.md C.2, C.4,
// C.10): wrong passwords and wrong second-factor answers (app codes, push
// requests refused in the app or approved with another number) count
// toward one lock of the credentials, across login flows. Only a completed
// authentication resets the count, and a right password alone never clears
// second-factor failures (regulation.Regulator). A new lock is audited and
// e-mailed to the owner; so is a push request the owner refused.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/templates"
)

// Alerter sends a security notice to an identity's owner (alert.Mailer).
type Alerter interface {
	Send(ctx context.Context, e alert.Event) error
}

// alertTimeout bounds the delivery of one notice.
const alertTimeout = time.Minute

// Audit actions of this file.
const (
	auditLockout = "login.lockout" // the credentials locked now
	auditAlert   = "alert.email"   // a notice to the owner, sent or not
)

// tellOwner e-mails e to the owner of identityID in the background: the
// page must not wait for a mail relay, nor take longer when a lock happens
// (that would tell a guesser the identifier exists). The attempt is
// audited either way.
func (p *Engine) tellOwner(ctx context.Context, identityID string, e alert.Event) {
	if p.o.Alerts == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	p.alerts.Add(1)
	go func() {
		defer p.alerts.Done()
		ctx, cancel := context.WithTimeout(ctx, alertTimeout)
		defer cancel()
		details := map[string]string{"kind": string(e.Kind)}
		id, err := p.o.Store.GetIdentity(ctx, identityID)
		if err == nil {
			e.Email = id.Attributes["email"]
			err = p.o.Alerts.Send(ctx, e)
		}
		outcome := audit.Success
		switch {
		case errors.Is(err, alert.ErrNoAddress):
			outcome, details["reason"] = audit.Failure, "no e-mail address"
		case err != nil:
			outcome, details["reason"] = audit.Failure, "not sent"
			p.o.Log.ErrorContext(ctx, "security notice to the owner not sent", "identity", identityID, "kind", e.Kind, "err", err)
		}
		if err := p.o.Audit.Record(ctx, Event(identityID, auditAlert, identityID, outcome, details)); err != nil {
			p.o.Log.ErrorContext(ctx, "audit", "err", err)
		}
	}()
}

// waitAlerts waits for the notices being sent (tests, shutdown).
func (p *Engine) waitAlerts() { p.alerts.Wait() }

// lockedNow records a lock that the failure just recorded caused, and
// tells the owner. Nothing happens for a failure that did not lock.
func (p *Engine) lockedNow(ctx context.Context, identityID string, kind alert.Kind, fl regulation.Failure, flowID, sp string) error {
	if !fl.LockedNow {
		return nil
	}
	cause := "password"
	if kind == alert.FactorLock {
		cause = "second factor"
	}
	err := p.o.Audit.Record(ctx, Event(identityID, auditLockout, sp, audit.Success, map[string]string{
		"flow": flowID, "cause": cause, "failures": strconv.Itoa(fl.Failures),
		"locked_until": fl.LockedUntil.UTC().Format(time.RFC3339)}))
	p.tellOwner(ctx, identityID, alert.Event{Kind: kind, At: p.now(), Until: fl.LockedUntil})
	return err
}

// refuseLocked ends a flow past the password whose credentials are locked
// (by failures in another flow, or a refusal in the app): nr23, as for a
// right password during a lock (security.md C.2). On a store error it has
// answered 503. It reports whether it answered.
func (p *Engine) refuseLocked(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) bool {
	ctx := r.Context()
	locked, _, err := p.o.Regulator.Check(ctx, f.Identity)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "lockout check", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return true
	}
	if !locked {
		return false
	}
	p.cancelChallenge(ctx, f)
	p.spAnomaly(w, r, sp, f, spid.NrSuspendedRevoked, "credentials locked after repeated failures")
	return true
}

// pushRefused is push.Service.OnRefused: a request refused in the app
// ("Non sono stato io", or approved with a number other than the page's)
// counts toward the lock when it is decided, whether or not the login page
// asks again, and is audited where the owner's access history finds it
// (action login.push, reason user_denied). A denial is e-mailed to the
// owner at once.
func (p *Engine) pushRefused(ctx context.Context, c push.Challenge) error {
	details := map[string]string{"flow": c.FlowID, "method": "push", "challenge": c.ID, "reason": c.Reason,
		"device": c.DecidedBy, "level": strconv.Itoa(c.Level)}
	if c.ClientIP != "" {
		// The login's browser, not the phone that answered.
		details["client_ip"] = c.ClientIP
	}
	var errs []error
	if err := p.o.Audit.Record(ctx, Event(c.IdentityID, "login.push", c.SP, audit.Failure, details)); err != nil {
		errs = append(errs, err)
	}
	fl, err := p.o.Regulator.FailFactor(ctx, c.IdentityID)
	if err != nil {
		errs = append(errs, err)
	} else if err := p.lockedNow(ctx, c.IdentityID, alert.FactorLock, fl, c.FlowID, c.SP); err != nil {
		errs = append(errs, err)
	}
	if c.Reason == push.ReasonUserDenied {
		p.tellOwner(ctx, c.IdentityID, alert.Event{Kind: alert.PushDenied, At: p.now(), SP: c.SPName})
	}
	return errors.Join(errs...)
}
