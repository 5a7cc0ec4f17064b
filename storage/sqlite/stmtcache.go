package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// The driver prepares every statement it is given anew: SQLite parses and
// plans the SQL text on each call, which cost about a tenth of the storage
// time of an SSO Response (parser and planner in the profile). A connection
// here keeps the statements it prepared, by text, and runs them again with
// new arguments; SQLite re-prepares a kept statement itself should the
// schema change under it.

// maxCachedStmts bounds the statements one connection keeps. The store
// runs a few dozen distinct texts; multi-row inserts (a batch of n audit
// records is its own text) come and go through the least recently used end.
const maxCachedStmts = 128

// cachingConnector opens driver connections that keep their statements.
type cachingConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// driverConn is what database/sql uses of the SQLite driver's connection.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachingConn struct {
	driverConn
	stmts  map[string]*list.Element // of *cachedStmt
	lru    list.List                // front: most recently used
	closed bool
}

type cachedStmt struct {
	query string
	stmt  interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	// busy: rows read from the statement are still open, so a second
	// query of the same text (nested) must not reset it under them.
	busy bool
}

func newCachingConn(c driver.Conn) (driver.Conn, error) {
	dc, ok := c.(driverConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("sqlite driver connection lacks a method the store needs")
	}
	return &cachingConn{driverConn: dc, stmts: map[string]*list.Element{}}, nil
}

// stmt returns the kept statement for query, preparing it on first use;
// nil (and no error) when it is busy, and the caller runs query uncached.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.stmts[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		return cs, nil
	}
	ds, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		_ = ds.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > maxCachedStmts {
		c.evict(c.lru.Back())
	}
	return cs, nil
}

// evict forgets e's statement, closing it unless rows still read from it
// (their Close closes it then).
func (c *cachingConn) evict(e *list.Element) {
	cs := e.Value.(*cachedStmt)
	c.lru.Remove(e)
	delete(c.stmts, cs.query)
	if !cs.busy {
		_ = cs.stmt.Close()
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.driverConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.driverConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, c: c, cs: cs}, nil
}

// Close closes the kept statements, then the connection.
func (c *cachingConn) Close() error {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if cs := e.Value.(*cachedStmt); !cs.busy {
			_ = cs.stmt.Close()
		}
	}
	c.stmts, c.lru, c.closed = nil, list.List{}, true
	return c.driverConn.Close()
}

// cachedRows hands its statement back when closed.
type cachedRows struct {
	driver.Rows
	c  *cachingConn
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	if e, ok := r.c.stmts[r.cs.query]; !r.c.closed && (!ok || e.Value != r.cs) {
		// Evicted while the rows were open.
		_ = r.cs.stmt.Close()
	}
	return err
}
