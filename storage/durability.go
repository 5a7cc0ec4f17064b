package storage

import "context"

type syncLaterKey struct{}

// SyncLater marks the writes made with ctx as ones that need not be on
// disk when they return, only by the time a later write made without the
// mark has committed: what such a write guards is always followed by a
// synced commit before anything leaves the IdP (a consent form's
// answered-mark precedes the Response's register record, whose commit is
// synced; the register's incoming messages are not waited for at all). A
// store whose commits are ordered on one log (SQLite's write-ahead log,
// PostgreSQL's) then skips the mark's own fsync: a later synced commit
// makes it durable too, and a process crash loses nothing either way. Stores without that ordering
// ignore the mark and sync as always.
func SyncLater(ctx context.Context) context.Context {
	return context.WithValue(ctx, syncLaterKey{}, true)
}

// SyncsLater reports whether ctx carries SyncLater's mark.
func SyncsLater(ctx context.Context) bool {
	v, _ := ctx.Value(syncLaterKey{}).(bool)
	return v
}
