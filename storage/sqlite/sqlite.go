// Package sqlite opens the durable store in a SQLite file (pure Go driver,
// no cgo), the default for a single-node IdP.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// busyTimeoutMS is how long a connection waits for another process's write
// lock before giving up; writers of this process queue in Go instead.
const busyTimeoutMS = 10000

// maxConns bounds the pool: readers run in parallel under WAL, writers one at
// a time.
const maxConns = 8

// flavor is the SQLite dialect of sqlstore.
var flavor = sqlstore.Flavor{
	Name:       "sqlite",
	Types:      sqlstore.Types{Time: "TEXT", JSON: "TEXT", Blob: "BLOB", Int64: "INTEGER"},
	TimeAsText: true,
	// Every write transaction is BEGIN IMMEDIATE (see Open) and this process
	// runs one at a time, so reads inside it need no row locks and appenders
	// need no extra lock.
	SingleWriter: true,
	// In WAL mode, synchronous=NORMAL commits without an fsync and a FULL
	// commit's fsync of the log covers every frame before it (the log is
	// appended in commit order and replayed up to its last valid frame).
	SyncLater: "PRAGMA synchronous = NORMAL",
	SyncNow:   "PRAGMA synchronous = FULL",
	Classify:  classify,
}

func classify(err error) sqlstore.ErrorClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return sqlstore.ErrOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.ErrUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ErrForeignKey
	}
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return sqlstore.ErrRetry
	}
	return sqlstore.ErrOther
}

// Open opens (creating it and its directory if needed) the SQLite database
// at path, in WAL mode with foreign keys on, and brings its schema up to
// date. Commits are fsynced (synchronous=FULL): an audit record acknowledged
// is on disk. A new file is readable by its owner only: it holds password hashes
// and personal data.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	switch {
	case path == "" || path == ":memory:":
		return nil, fmt.Errorf("sqlite: need a file path, got %q (an in-memory database would be lost and not shared between connections)", path)
	case strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite: path %q: give a plain file path, without '?' or a file: URI", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	_ = f.Close()

	dsn := path + fmt.Sprintf("?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)", busyTimeoutMS)
	db := sql.OpenDB(cachingConnector{dsn: dsn, drv: &sqlite.Driver{}})
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s, err := sqlstore.New(ctx, db, flavor)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}
