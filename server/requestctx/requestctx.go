// Package requestctx carries per-request facts (request ID, client address)
// through a context, so logs and audit records can name the request they
// belong to without every function taking extra arguments.
package requestctx

import (
	"context"
	"log/slog"
)

type key int

const (
	idKey key = iota
	ipKey
)

// WithID returns a context carrying the request ID.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey, id)
}

// ID returns the request ID in ctx, or "".
func ID(ctx context.Context) string {
	s, _ := ctx.Value(idKey).(string)
	return s
}

// WithClientIP returns a context carrying the client address (after
// trusted-proxy resolution).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey, ip)
}

// ClientIP returns the client address in ctx, or "".
func ClientIP(ctx context.Context) string {
	s, _ := ctx.Value(ipKey).(string)
	return s
}

// LogHandler adds the request ID of the record's context to every log line.
type LogHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h LogHandler) WithGroup(name string) slog.Handler {
	return LogHandler{h.Handler.WithGroup(name)}
}
