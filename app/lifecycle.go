package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
)

// LifecycleNotifier sends lifecycle notices (suspension, expiry, ...) through
// the configured mail and SMS senders.
func LifecycleNotifier(cfg *config.Config, b *Backends, log *slog.Logger) (lifecycle.Notifier, error) {
	m, err := MailSender(cfg, b, log)
	if err != nil {
		return nil, err
	}
	s, err := SMSSender(cfg, b, log)
	if err != nil {
		return nil, err
	}
	return lifecycle.MailSMS{Mail: m, SMS: s}, nil
}

// recordAuth keeps the lifecycle's last authentication (inactivity) up to
// date; an identity the scheduler has not adopted yet is skipped quietly.
func (a *App) recordAuth(ctx context.Context, identityID string, at time.Time) {
	if err := a.Lifecycle.RecordAuth(ctx, identityID, at); err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.Log.WarnContext(ctx, "recording last authentication", "identity", identityID, "err", err)
	}
}

// Scheduler runs the timed duties — lifecycle transitions and notices,
// enrolment timers, evidence retention, expired tokens — on one node at a
// time (a lease in the database).
func (a *App) Scheduler() *lifecycle.Scheduler {
	host, _ := os.Hostname()
	st := a.Backends.Store
	return &lifecycle.Scheduler{
		Store: st, Leases: st, Audit: a.Audit, Notifier: a.Lifecycle.Notifier,
		Holder: fmt.Sprintf("%s:%d", host, os.Getpid()),
		Jobs: []lifecycle.Job{
			{Name: "enrolment-timers", Run: func(ctx context.Context, _ time.Time) (string, error) {
				n, err := a.Enrolment.RunTimers(ctx)
				return fmt.Sprintf("%d requests moved by their timers", n), err
			}},
			{Name: "evidence-retention", Run: func(ctx context.Context, _ time.Time) (string, error) {
				n, err := a.Enrolment.SweepEvidence(ctx)
				return fmt.Sprintf("%d evidence items deleted", n), err
			}},
			{Name: "expired-tokens", Run: func(ctx context.Context, now time.Time) (string, error) {
				n, err := st.DeleteExpiredTokens(ctx, now)
				return fmt.Sprintf("%d expired tokens deleted", n), err
			}},
			{Name: "expired-oidc-sessions", Run: func(ctx context.Context, now time.Time) (string, error) {
				// Long revocable sessions whose last refresh token expired.
				n, err := st.DeleteExpiredOIDCSessions(ctx, now)
				return fmt.Sprintf("%d ended OIDC sessions deleted", n), err
			}},
			a.careJob(),
			a.videoRetentionJob(),
			{Name: "register-retention", Run: func(ctx context.Context, now time.Time) (string, error) {
				n, err := a.Register.Sweep(ctx, now)
				if err == nil && n > 0 {
					err = a.Audit.Record(ctx, storage.AuditEvent{Actor: "system", Action: "register.retention", Outcome: "success",
						Details: map[string]string{"deleted": strconv.FormatInt(n, 10), "months": strconv.Itoa(register.RetentionMonths)}})
				}
				return fmt.Sprintf("%d transaction register records older than %d months deleted", n, register.RetentionMonths), err
			}},
			{Name: "password-reminders", Run: a.remindPasswords},
			{Name: "expired-single-use", Run: func(ctx context.Context, _ time.Time) (string, error) {
				su, ok := st.(storage.SingleUse)
				if !ok {
					return "no durable single-use marks", nil
				}
				n, err := su.DeleteExpiredRequestIDs(ctx, time.Now()) // marks expire on the wall clock
				return fmt.Sprintf("%d expired single-use marks deleted", n), err
			}},
		},
	}
}

// RunScheduler runs the scheduler every interval until ctx ends.
func (a *App) RunScheduler(ctx context.Context, interval time.Duration) {
	a.Scheduler().Loop(ctx, interval, func(r lifecycle.Report, err error) {
		if err != nil {
			a.Log.Error("scheduler run", "err", err, "report", r.String())
			return
		}
		a.Log.Info("scheduler run", "report", r.String())
	})
}

// remindPasswords e-mails the reminders before a password's maximum age
// (E063), through the mail queue; once each, across runs and nodes.
func (a *App) remindPasswords(ctx context.Context, now time.Time) (string, error) {
	st := a.Backends.Store
	marks, ok := st.(storage.SingleUse)
	if !ok {
		return "no durable single-use marks to send reminders once", nil
	}
	m, err := MailSender(a.Config, a.Backends, a.Log.With("component", "password-reminders"))
	if err != nil {
		return "", err
	}
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	account := strings.TrimRight(a.Config.Server.BaseURL, "/") + portal.Prefix + "/"
	n, err := PasswordRules(a.Config).Remind(ctx, st, marks, now, func(ctx context.Context, r pwrules.Reminder) error {
		subject, body := pwrules.ReminderText(r, account, loc)
		return m.Send(ctx, mail.Message{To: r.Email, Subject: subject, Text: body})
	})
	return fmt.Sprintf("%d password expiry reminders sent", n), err
}
