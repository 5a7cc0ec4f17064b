// Package audit writes the append-only, hash-chained audit log and verifies
// it. Every authentication and operator action goes through Logger.Record;
// `spid-idp audit verify` runs Verify.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
)

// Outcomes used across the code base.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Appender is the part of storage.Store the logger needs.
type Appender interface {
	AppendAudit(ctx context.Context, ev storage.AuditEvent) (storage.AuditEvent, error)
}

// Logger records audit events.
type Logger struct {
	Store Appender
	Log   *slog.Logger
	Now   func() time.Time
}

// secretWords mark detail keys that must never reach the log: a caller's
// mistake must not turn the audit trail into a password store.
var secretWords = []string{"password", "passwd", "otp", "secret", "token", "cookie", "session_key", "samlresponse", "key"}

// Prepare completes ev as Record stores it (time, request ID, client IP,
// secrets scrubbed from the details), for callers that store records
// themselves in a transaction with other writes
// (storage.Imports.ImportIdentities).
func (l *Logger) Prepare(ctx context.Context, ev storage.AuditEvent) storage.AuditEvent {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	if ev.Time.IsZero() {
		ev.Time = now()
	}
	if ev.RequestID == "" {
		ev.RequestID = requestctx.ID(ctx)
	}
	if ip := requestctx.ClientIP(ctx); ip != "" {
		if ev.Details == nil {
			ev.Details = map[string]string{}
		}
		if _, ok := ev.Details["client_ip"]; !ok {
			ev.Details["client_ip"] = ip
		}
	}
	ev.Details = scrub(ev.Details)
	return ev
}

// Record appends ev, filling Time and RequestID from the context when unset
// and dropping any detail whose key looks like a secret. A failure to write
// the audit log is returned: callers treat it as a failure of the action.
func (l *Logger) Record(ctx context.Context, ev storage.AuditEvent) error {
	ev = l.Prepare(ctx, ev)
	stored, err := l.Store.AppendAudit(ctx, ev)
	if err != nil {
		if l.Log != nil {
			l.Log.ErrorContext(ctx, "audit append failed", "action", ev.Action, "err", err)
		}
		return fmt.Errorf("audit: append %s: %w", ev.Action, err)
	}
	if l.Log != nil {
		l.Log.InfoContext(ctx, "audit", "seq", stored.Seq, "actor", ev.Actor, "action", ev.Action,
			"target", ev.Target, "outcome", ev.Outcome)
	}
	return nil
}

func scrub(d map[string]string) map[string]string {
	if len(d) == 0 {
		return d
	}
	out := make(map[string]string, len(d))
	for k, v := range d {
		lk := strings.ToLower(k)
		secret := false
		for _, w := range secretWords {
			if strings.Contains(lk, w) {
				secret = true
				break
			}
		}
		if !secret {
			out[k] = v
		}
	}
	return out
}
