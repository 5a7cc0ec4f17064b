package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/storage"
)

// table maps one entity type to one SQL table keyed by a text column, so the
// create/get/list/update/delete logic exists once for every entity.
type table[T any] struct {
	name string   // SQL table
	what string   // noun used in errors
	cols []string // key column first
	// fixed is how many columns after the key an update never writes: they
	// name the owner of the row (a device's identity), which fn cannot move.
	fixed   int
	orderBy string
	// parent names the referenced entity when an insert breaks a foreign
	// key; empty when the table has none.
	parent string
	args   func(s *Store, v T) []any // values in cols order; args[0] is the key
	dests  func(v *T) []any          // scan destinations in cols order
	// check, when set, refuses values that must never be stored.
	check func(v T) error
	// changed, when set, runs in the transaction of every create, update
	// and delete (the SP registry bumps its revision there).
	changed func(ctx context.Context, s *Store, tx *sql.Tx) error
}

// insert adds v inside tx; the caller maps the error (constraintErr).
func (t *table[T]) insert(ctx context.Context, s *Store, tx *sql.Tx, v T) error {
	args := t.args(s, v)
	if err := t.validate(v, args); err != nil {
		return fmt.Errorf("create %s %q: %w", t.what, args[0], err)
	}
	query := "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(t.cols)-1) + ")"
	if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
		return fmt.Errorf("create %s %q: %w", t.what, args[0], s.constraintErr(err, t.parent))
	}
	return t.afterChange(ctx, s, tx)
}

func (t *table[T]) afterChange(ctx context.Context, s *Store, tx *sql.Tx) error {
	if t.changed == nil {
		return nil
	}
	return t.changed(ctx, s, tx)
}

func (t *table[T]) selectFrom() string {
	return "SELECT " + strings.Join(t.cols, ", ") + " FROM " + t.name
}

// validate refuses what must not be stored: an empty key, text that not
// every database can hold (NUL, invalid UTF-8: PostgreSQL rejects both, SQLite
// would keep them, and the backends must agree), and what t.check refuses.
func (t *table[T]) validate(v T, args []any) error {
	if args[0] == "" {
		return fmt.Errorf("empty %s", t.cols[0])
	}
	for i, a := range args {
		if str, ok := a.(string); ok && !storable(str) {
			return fmt.Errorf("%s contains NUL or invalid UTF-8", t.cols[i])
		}
	}
	if t.check != nil {
		return t.check(v)
	}
	return nil
}

func (t *table[T]) create(ctx context.Context, s *Store, v T) error {
	args := t.args(s, v)
	key := args[0]
	if err := t.validate(v, args); err != nil {
		return fmt.Errorf("create %s %q: %w", t.what, key, err)
	}
	query := "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(t.cols)-1) + ")"
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
			return err
		}
		return t.afterChange(ctx, s, tx)
	})
	if err != nil {
		return fmt.Errorf("create %s %q: %w", t.what, key, s.constraintErr(err, t.parent))
	}
	return nil
}

// get returns the row whose col equals val; label describes the lookup in
// errors without repeating personal data such as a username.
func (t *table[T]) get(ctx context.Context, s *Store, col, val, label string) (T, error) {
	var v T
	if !storable(val) {
		// Nothing stored can match, and PostgreSQL would fail the query.
		return v, fmt.Errorf("get %s %s: %w", t.what, label, storage.ErrNotFound)
	}
	c, err := s.conn(ctx)
	if err != nil {
		return v, fmt.Errorf("get %s %s: %w", t.what, label, err)
	}
	defer c.Close()
	row := c.QueryRowContext(ctx, s.q(t.selectFrom()+" WHERE "+col+" = ?"), val)
	if err := row.Scan(t.dests(&v)...); err != nil {
		return v, fmt.Errorf("get %s %s: %w", t.what, label, notFoundIfNoRows(err))
	}
	return v, nil
}

// list returns the rows in orderBy order: every row when col is empty,
// otherwise those whose col equals val.
func (t *table[T]) list(ctx context.Context, s *Store, col, val string) ([]T, error) {
	query, args := t.selectFrom(), []any(nil)
	if col != "" {
		if !storable(val) {
			return nil, nil // nothing stored can match, and PostgreSQL would fail the query
		}
		query, args = query+" WHERE "+col+" = ?", []any{val}
	}
	return t.query(ctx, s, query+" ORDER BY "+t.orderBy, args...)
}

// query returns the rows of t that query (a SELECT of t's columns, with
// placeholders as ?) finds.
func (t *table[T]) query(ctx context.Context, s *Store, query string, args ...any) ([]T, error) {
	return scanRows(ctx, s, "list "+t.name, t.dests, s.q(query), args...)
}

// scanRows runs query (already rewritten by s.q) and scans every row it
// returns with dests; label opens every error.
func scanRows[T any](ctx context.Context, s *Store, label string, dests func(*T) []any, query string, args ...any) ([]T, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(dests(&v)...); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return out, nil
}

// update is the read-modify-write of storage.Store: the row is read under a
// write lock, fn changes it and every column but the key and the fixed ones
// is written back. An error from fn is returned unwrapped.
func (t *table[T]) update(ctx context.Context, s *Store, key string, fn func(T) (T, error)) error {
	written := 1 + t.fixed
	sets := strings.Join(t.cols[written:], " = ?, ") + " = ?"
	updateSQL := s.q("UPDATE " + t.name + " SET " + sets + " WHERE " + t.cols[0] + " = ?")
	selectSQL := s.q(t.selectFrom() + " WHERE " + t.cols[0] + " = ?" + s.f.ForUpdate)
	if !storable(key) {
		return fmt.Errorf("update %s %q: %w", t.what, key, storage.ErrNotFound)
	}
	var fnErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		fnErr = nil
		var v T
		if err := tx.QueryRowContext(ctx, selectSQL, key).Scan(t.dests(&v)...); err != nil {
			return notFoundIfNoRows(err)
		}
		kept := t.args(s, v)[:written]
		v, fnErr = fn(v)
		if fnErr != nil {
			return fnErr
		}
		args := t.args(s, v)
		copy(args, kept) // the key and fixed columns name the row and its owner; fn cannot move them
		if err := t.validate(v, args); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, updateSQL, append(args[written:], key)...); err != nil {
			return err
		}
		return t.afterChange(ctx, s, tx)
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("update %s %q: %w", t.what, key, s.constraintErr(err, ""))
	}
}

func (t *table[T]) delete(ctx context.Context, s *Store, key string) error {
	if !storable(key) {
		return fmt.Errorf("delete %s %q: %w", t.what, key, storage.ErrNotFound)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM "+t.name+" WHERE "+t.cols[0]+" = ?"), key)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return t.afterChange(ctx, s, tx)
	})
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", t.what, key, err)
	}
	return nil
}

// constraintErr maps constraint violations to the storage sentinels while
// keeping the driver's message for the operator.
func (s *Store) constraintErr(err error, parent string) error {
	switch s.f.classify(err) {
	case ErrUnique:
		return fmt.Errorf("%w (%v)", storage.ErrAlreadyExists, err)
	case ErrForeignKey:
		if parent == "" {
			parent = "referenced row"
		}
		return fmt.Errorf("%s: %w (%v)", parent, storage.ErrNotFound, err)
	}
	return err
}
