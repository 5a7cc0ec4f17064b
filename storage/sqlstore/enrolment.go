package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var (
	_ storage.Enrolments = (*Store)(nil)
	_ storage.Operators  = (*Store)(nil)
	_ storage.Tokens     = (*Store)(nil)
)

var enrolments = table[storage.Enrolment]{
	name: "enrolments",
	what: "enrolment",
	cols: []string{"id", "code", "state", "path", "identity_type", "fiscal_number", "data",
		"queued_at", "deadline_at", "created_at", "updated_at"},
	fixed:   1, // code: printed on receipts and e-mailed, so it never changes
	orderBy: "created_at NULLS FIRST, id",
	check: func(v storage.Enrolment) error {
		if v.Code == "" {
			return errors.New("empty code")
		}
		if v.State == "" {
			return errors.New("empty state")
		}
		return nil
	},
	args: func(s *Store, v storage.Enrolment) []any {
		return []any{v.ID, v.Code, v.State, v.Path, v.IdentityType, v.FiscalNumber, bytesArg(v.Data),
			s.timeArg(v.QueuedAt), s.timeArg(v.DeadlineAt), s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt)}
	},
	dests: func(v *storage.Enrolment) []any {
		return []any{&v.ID, &v.Code, &v.State, &v.Path, &v.IdentityType, &v.FiscalNumber, &v.Data,
			timeDest{&v.QueuedAt}, timeDest{&v.DeadlineAt}, timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}}
	},
}

// CreateEnrolment stores a new request; ErrAlreadyExists if its ID or code
// is taken.
func (s *Store) CreateEnrolment(ctx context.Context, e storage.Enrolment) error {
	return enrolments.create(ctx, s, e)
}

// GetEnrolment returns the request with the given internal ID.
func (s *Store) GetEnrolment(ctx context.Context, id string) (storage.Enrolment, error) {
	return enrolments.get(ctx, s, "id", id, quote(id))
}

// GetEnrolmentByCode returns the request with the given public code.
func (s *Store) GetEnrolmentByCode(ctx context.Context, code string) (storage.Enrolment, error) {
	return enrolments.get(ctx, s, "code", code, "by code")
}

// ListEnrolments returns the requests in any of states, every request when
// states is empty, oldest first.
func (s *Store) ListEnrolments(ctx context.Context, states []string) ([]storage.Enrolment, error) {
	if len(states) == 0 {
		return enrolments.list(ctx, s, "", "")
	}
	args := make([]any, 0, len(states))
	for _, st := range states {
		if storable(st) {
			args = append(args, st)
		}
	}
	if len(args) == 0 {
		return nil, nil // nothing stored can match, and PostgreSQL would fail the query
	}
	where := "state IN (?" + strings.Repeat(", ?", len(args)-1) + ")"
	return listWhere(ctx, s, &enrolments, where, args...)
}

// ListEnrolmentsByFiscalNumber returns every request for one codice fiscale,
// oldest first.
func (s *Store) ListEnrolmentsByFiscalNumber(ctx context.Context, fiscalNumber string) ([]storage.Enrolment, error) {
	return enrolments.list(ctx, s, "fiscal_number", fiscalNumber)
}

// UpdateEnrolment is a read-modify-write of one request; its ID and code are
// kept whatever fn returns.
func (s *Store) UpdateEnrolment(ctx context.Context, id string, fn func(storage.Enrolment) (storage.Enrolment, error)) error {
	return enrolments.update(ctx, s, id, fn)
}

// listWhere is table.list with an arbitrary condition (placeholders as ?).
func listWhere[T any](ctx context.Context, s *Store, t *table[T], where string, args ...any) ([]T, error) {
	return t.query(ctx, s, t.selectFrom()+" WHERE "+where+" ORDER BY "+t.orderBy, args...)
}

var operators = table[storage.Operator]{
	name: "operators",
	what: "operator",
	cols: []string{"id", "username", "name", "roles", "password_hash", "shop_id", "status",
		"created_at", "updated_at", "second_factor"},
	orderBy: "username",
	check:   checkOperator,
	args: func(s *Store, v storage.Operator) []any {
		return []any{v.ID, v.Username, v.Name, strings.Join(v.Roles, ","), v.PasswordHash, v.ShopID, v.Status,
			s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt), factorsArg(v.SecondFactor)}
	},
	dests: func(v *storage.Operator) []any {
		return []any{&v.ID, &v.Username, &v.Name, rolesDest{&v.Roles}, &v.PasswordHash, &v.ShopID, &v.Status,
			timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}, factorsDest{&v.SecondFactor}}
	},
}

// factorsArg is the second_factor column: a JSON document, NULL when the
// operator has neither a factor nor an enrolment code.
func factorsArg(f storage.OperatorFactors) any {
	if len(f.Factors) == 0 && f.EnrolCodeHash == "" {
		return nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil // cannot happen: plain fields only
	}
	return b
}

// factorsDest scans the second_factor column.
type factorsDest struct{ f *storage.OperatorFactors }

func (d factorsDest) Scan(src any) error {
	*d.f = storage.OperatorFactors{}
	var b []byte
	switch x := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into an operator's second factor", src)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, d.f); err != nil {
		return fmt.Errorf("sqlstore: operator second factor: %w", err)
	}
	return nil
}

// checkOperator refuses what would not read back the same: a role with a
// comma (the separator) or an empty role, and statuses nobody checks for.
func checkOperator(o storage.Operator) error {
	if o.Username == "" {
		return errors.New("empty username")
	}
	for _, r := range o.Roles {
		if r == "" || strings.Contains(r, ",") {
			return fmt.Errorf("role %q: empty or containing a comma", r)
		}
	}
	switch o.Status {
	case storage.OperatorActive, storage.OperatorDisabled:
	default:
		return fmt.Errorf("unknown operator status %q", o.Status)
	}
	return nil
}

// rolesDest scans the comma-separated roles column; "" is no role.
type rolesDest struct{ r *[]string }

func (d rolesDest) Scan(src any) error {
	var v string
	switch x := src.(type) {
	case nil:
	case string:
		v = x
	case []byte:
		v = string(x)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into roles", src)
	}
	*d.r = nil
	if v != "" {
		*d.r = strings.Split(v, ",")
	}
	return nil
}

// CreateOperator stores a new operator; ErrAlreadyExists if the ID or
// username is taken.
func (s *Store) CreateOperator(ctx context.Context, o storage.Operator) error {
	return operators.create(ctx, s, o)
}

// GetOperator returns the operator with the given ID.
func (s *Store) GetOperator(ctx context.Context, id string) (storage.Operator, error) {
	return operators.get(ctx, s, "id", id, quote(id))
}

// GetOperatorByUsername returns the operator with the given login name.
func (s *Store) GetOperatorByUsername(ctx context.Context, username string) (storage.Operator, error) {
	return operators.get(ctx, s, "username", username, "by username")
}

// ListOperators returns every operator, ordered by username.
func (s *Store) ListOperators(ctx context.Context) ([]storage.Operator, error) {
	return operators.list(ctx, s, "", "")
}

// UpdateOperator is a read-modify-write of one operator (its ID is kept).
func (s *Store) UpdateOperator(ctx context.Context, id string, fn func(storage.Operator) (storage.Operator, error)) error {
	return operators.update(ctx, s, id, fn)
}

var tokens = table[storage.Token]{
	name:    "tokens",
	what:    "token",
	cols:    []string{"hash", "purpose", "subject", "expires_at", "created_at"},
	orderBy: "hash",
	check: func(v storage.Token) error {
		if v.Purpose == "" {
			return errors.New("empty purpose")
		}
		if v.ExpiresAt.IsZero() {
			return errors.New("no expiry")
		}
		return nil
	},
	args: func(s *Store, v storage.Token) []any {
		return []any{v.Hash, v.Purpose, v.Subject, s.timeArg(v.ExpiresAt), s.timeArg(v.CreatedAt)}
	},
	dests: func(v *storage.Token) []any {
		return []any{&v.Hash, &v.Purpose, &v.Subject, timeDest{&v.ExpiresAt}, timeDest{&v.CreatedAt}}
	},
}

// CreateToken stores a single-use token; ErrAlreadyExists if its hash is
// taken. Errors never name the hash.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	if err := tokens.create(ctx, s, t); err != nil {
		return fmt.Errorf("create token for %s: %w", t.Purpose, errors.Unwrap(err))
	}
	return nil
}

// GetToken returns the unexpired token with hash and purpose, leaving it in
// place.
func (s *Store) GetToken(ctx context.Context, hash, purpose string, now time.Time) (storage.Token, error) {
	t, err := tokens.get(ctx, s, "hash", hash, "for "+purpose)
	if err == nil && (t.Purpose != purpose || !t.ExpiresAt.After(now)) {
		err = fmt.Errorf("get token for %s: %w", purpose, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Token{}, err
	}
	return t, nil
}

// ConsumeToken deletes and returns the unexpired token with hash and
// purpose in one statement, so of two concurrent consumers exactly one gets
// it; the other, like any later one, gets ErrNotFound.
func (s *Store) ConsumeToken(ctx context.Context, hash, purpose string, now time.Time) (storage.Token, error) {
	var t storage.Token
	if !storable(hash) || !storable(purpose) {
		return t, fmt.Errorf("consume %s token: %w", purpose, storage.ErrNotFound)
	}
	query := s.q("DELETE FROM tokens WHERE hash = ? AND purpose = ? AND expires_at > ? RETURNING " +
		strings.Join(tokens.cols, ", "))
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, query, hash, purpose, s.timeArg(now)).Scan(tokens.dests(&t)...)
	})
	if err != nil {
		return storage.Token{}, fmt.Errorf("consume %s token: %w", purpose, notFoundIfNoRows(err))
	}
	return t, nil
}

// DeleteExpiredTokens removes the tokens that expired at or before now.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM tokens WHERE expires_at <= ?"), s.timeArg(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired tokens: %w", err)
	}
	return n, nil
}
