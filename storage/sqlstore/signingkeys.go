package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.SigningKeys = (*Store)(nil)

// revisionSigningKeys is the row every signing-key update locks first.
const revisionSigningKeys = "signing_keys"

var signingKeys = table[storage.SigningKey]{
	name: "signing_keys",
	what: "signing key",
	cols: []string{"id", "cert", "private", "hsm_label", "configured", "publish_at", "activate_at",
		"retire_at", "switch_recorded", "retire_recorded", "created_at"},
	orderBy: "created_at, id",
	args: func(s *Store, v storage.SigningKey) []any {
		configured := 0
		if v.Configured {
			configured = 1
		}
		return []any{v.ID, bytesArg(v.Cert), bytesArg(v.Private), v.HSMLabel, configured,
			s.timeArg(v.PublishAt), s.timeArg(v.ActivateAt), s.timeArg(v.RetireAt),
			s.timeArg(v.SwitchRecorded), s.timeArg(v.RetireRecorded), s.timeArg(v.CreatedAt)}
	},
	dests: func(v *storage.SigningKey) []any {
		return []any{&v.ID, &v.Cert, &v.Private, &v.HSMLabel, boolDest{&v.Configured},
			timeDest{&v.PublishAt}, timeDest{&v.ActivateAt}, timeDest{&v.RetireAt},
			timeDest{&v.SwitchRecorded}, timeDest{&v.RetireRecorded}, timeDest{&v.CreatedAt}}
	},
	check: func(v storage.SigningKey) error {
		if len(v.Cert) == 0 {
			return fmt.Errorf("no certificate")
		}
		if v.CreatedAt.IsZero() {
			return fmt.Errorf("no creation time")
		}
		return nil
	},
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	return signingKeys.list(ctx, s, "", "")
}

// UpdateSigningKeys replaces the set of signing keys with what fn returns.
func (s *Store) UpdateSigningKeys(ctx context.Context, fn func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	t := &signingKeys
	selectSQL := s.q(t.selectFrom() + " ORDER BY " + t.orderBy)
	upsertSQL := s.q("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(t.cols)-1) + ") ON CONFLICT (id) DO UPDATE SET " + excludedSet(t.cols[1:]))
	deleteSQL := s.q("DELETE FROM " + t.name + " WHERE id = ?")
	var fnErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		fnErr = nil
		// The revision row's lock serialises updates even when the table
		// is empty and there is no key row to lock.
		if err := s.bumpRevision(ctx, tx, revisionSigningKeys); err != nil {
			return err
		}
		cur, err := scanTx(ctx, tx, selectSQL, t.dests)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		keep := make(map[string]bool, len(next))
		for _, v := range next {
			args := t.args(s, v)
			if err := t.validate(v, args); err != nil {
				return fmt.Errorf("%s %q: %w", t.what, v.ID, err)
			}
			if keep[v.ID] {
				return fmt.Errorf("%s %q listed twice", t.what, v.ID)
			}
			keep[v.ID] = true
			if _, err := tx.ExecContext(ctx, upsertSQL, args...); err != nil {
				return fmt.Errorf("%s %q: %w", t.what, v.ID, err)
			}
		}
		for _, v := range cur {
			if !keep[v.ID] {
				if _, err := tx.ExecContext(ctx, deleteSQL, v.ID); err != nil {
					return fmt.Errorf("%s %q: %w", t.what, v.ID, err)
				}
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("update signing keys: %w", err)
	}
}

// excludedSet is "c1 = excluded.c1, c2 = excluded.c2, ..." for an upsert.
func excludedSet(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + " = excluded." + c
	}
	return strings.Join(parts, ", ")
}

// boolDest scans an INTEGER 0/1 column into a bool.
type boolDest struct{ b *bool }

func (d boolDest) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return fmt.Errorf("sqlstore: cannot scan %T into a bool: %w", src, err)
	}
	*d.b = n.Int64 != 0
	return nil
}
