// Package postgres opens the durable store in PostgreSQL, for IdPs that run
// several nodes or want the database managed apart from the binary.
//
// Least privilege (security.md E.3): let a schema-owning role open the store
// once, which creates or upgrades the tables, then run the IdP as a role that
// owns nothing, with
//
//	GRANT USAGE ON SCHEMA <schema> TO <app>;
//	GRANT SELECT ON migrations TO <app>;
//	GRANT SELECT, INSERT, UPDATE, DELETE ON identities, credentials, devices, service_providers, enrolments, operators, tokens, lifecycles, leases, tickets, shared_values, revisions, blobs, blob_chunks TO <app>;
//	GRANT SELECT, INSERT ON audit_events TO <app>;
//
// Open only reads the migrations table when the schema is up to date. The
// audit table also refuses UPDATE, DELETE and TRUNCATE by trigger, even to
// its owner.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// DefaultMaxConns is the pool size when Open is given maxConns <= 0.
const DefaultMaxConns = 10

// defaultConnectTimeout bounds a connection attempt when the DSN sets no
// connect_timeout, so an unreachable server fails start-up promptly.
const defaultConnectTimeout = 10 * time.Second

// Concurrent migrators serialise on a transaction-scoped advisory lock,
// keyed by the schema so independent schemas in one database do not
// contend. Audit appenders batch their records (sqlstore) and chain each
// batch in the database, in audit_append (migration 0030), under a
// transaction-scoped advisory lock that the statement's commit releases: no
// lock is held across round trips.
const migrationLock = "SELECT pg_advisory_xact_lock(hashtextextended('spid-idp/migrations/' || COALESCE(current_schema(), ''), 0))"

// flavor is the PostgreSQL dialect of sqlstore.
var flavor = sqlstore.Flavor{
	Name:      "postgres",
	Numbered:  true,
	Types:     sqlstore.Types{Time: "TIMESTAMPTZ", JSON: "JSONB", Blob: "BYTEA", Int64: "BIGINT"},
	ForUpdate: " FOR UPDATE",
	// One partition per month (register_ensure_month).
	PartitionedRegister: true,
	AuditAppendFunc:     true,
	// The write-ahead log is flushed in order: a synced commit makes every
	// earlier one durable too.
	LocalSyncOff:  "set_config('synchronous_commit', 'off', true) = 'off'",
	MigrationLock: migrationLock,
	Classify:      classify,
}

func classify(err error) sqlstore.ErrorClass {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return sqlstore.ErrOther
	}
	switch pe.Code {
	case "23505": // unique_violation
		return sqlstore.ErrUnique
	case "23503": // foreign_key_violation
		return sqlstore.ErrForeignKey
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return sqlstore.ErrRetry
	}
	return sqlstore.ErrOther
}

// Options tune the pool.
type Options struct {
	// MaxConns is the pool size; DefaultMaxConns when <= 0.
	MaxConns int
	// Timeout, when positive, bounds every wait on the server once the
	// schema is up to date: connecting (unless the DSN sets
	// connect_timeout), taking a usable connection from the pool, and each
	// wait for the server's next bytes during a statement. A server that
	// stops answering (frozen, partitioned) then fails an operation within
	// about Timeout, and the IdP answers 503, instead of after TCP's
	// minutes. Migrations at Open are not bounded: they may be long.
	Timeout time.Duration
}

// Open connects to the PostgreSQL database named by dsn (URL or key=value
// form; a search_path parameter selects the schema), with at most maxConns
// connections (DefaultMaxConns when maxConns <= 0), and brings the schema up
// to date. Errors name the server and database but never the password.
func Open(ctx context.Context, dsn string, maxConns int) (*sqlstore.Store, error) {
	return OpenWith(ctx, dsn, Options{MaxConns: maxConns})
}

// OpenWith is Open with every pool option.
func OpenWith(ctx context.Context, dsn string, o Options) (*sqlstore.Store, error) {
	maxConns := o.MaxConns
	secrets := dsnSecrets(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// Not wrapped: the parse error carries the DSN, redacted only on a
		// best-effort basis by pgx.
		return nil, fmt.Errorf("postgres: invalid DSN: %s", scrub(err.Error(), secrets))
	}
	secrets = append(secrets, cfg.Password)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
		if o.Timeout > 0 {
			cfg.ConnectTimeout = o.Timeout
		}
	}
	// Every connection's reads and writes get a deadline of o.Timeout,
	// switched on once the migrations are done.
	bounded := new(atomic.Bool)
	if o.Timeout > 0 {
		dial := cfg.DialFunc
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &deadlineConn{Conn: c, d: o.Timeout, on: bounded}, nil
		}
	}
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	// Recycle connections so a failover or a changed DNS name is picked up.
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)

	where := fmt.Sprintf("%s, database %q, user %q", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database, cfg.User)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, &openError{msg: "postgres: cannot connect to " + where + ": " + scrub(err.Error(), secrets), err: err}
	}
	s, err := sqlstore.New(ctx, db, flavor)
	if err != nil {
		_ = db.Close()
		return nil, &openError{msg: "postgres: " + where + ": " + scrub(err.Error(), secrets), err: err}
	}
	if o.Timeout > 0 {
		bounded.Store(true)
		s.SetCheckoutTimeout(o.Timeout)
	}
	return s, nil
}

// deadlineConn gives each read and write on the server connection a
// deadline of d from its start, while on is set: the wait for one reply
// (or for room to send) is bounded, however long a transaction lasts in
// all. A deadline pgx sets itself (its cancellation when the caller's
// context ends: the request's deadline, a deadline in the past) is kept
// when sooner, so a statement started just as the context ended does not
// wait d again.
type deadlineConn struct {
	net.Conn
	d  time.Duration
	on *atomic.Bool
	// set is the deadline pgx last set (unix nanoseconds), 0 for none.
	set atomic.Int64
}

func (c *deadlineConn) bound() time.Time {
	t := time.Now().Add(c.d)
	if s := c.set.Load(); s != 0 && s < t.UnixNano() {
		return time.Unix(0, s)
	}
	return t
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if c.on.Load() {
		_ = c.Conn.SetReadDeadline(c.bound())
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if c.on.Load() {
		_ = c.Conn.SetWriteDeadline(c.bound())
	}
	return c.Conn.Write(b)
}

func (c *deadlineConn) remember(t time.Time) {
	if t.IsZero() {
		c.set.Store(0)
		return
	}
	c.set.Store(t.UnixNano())
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetReadDeadline(t)
}

// openError shows a message with secrets removed and still lets callers test
// the cause with errors.Is (a cancelled context, for instance).
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

var kvPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// dsnSecrets returns the passwords written in dsn, as they appear there and
// decoded, so that they can be cut from error messages.
func dsnSecrets(dsn string) []string {
	var out []string
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		for _, k := range []string{"password", "sslpassword"} {
			if v := u.Query().Get(k); v != "" {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		out = append(out, m[1], strings.Trim(m[1], "'"))
	}
	return out
}

func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}
