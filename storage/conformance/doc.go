// Package conformance holds the test suites every storage backend runs, so
// that SQLite, PostgreSQL, the in-process store and Redis honour one
// contract: RunStore for storage.Store and RunEphemeral for
// storage.Ephemeral. Each takes a factory returning an empty store for one
// subtest; the factory registers its own cleanup on the subtest's t.
package conformance
