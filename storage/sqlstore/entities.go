package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spid-idp/spid-idp/storage"
)

var identities = table[storage.Identity]{
	name:    "identities",
	what:    "identity",
	cols:    []string{"id", "username", "identity_type", "status", "attributes", "session_epoch", "created_at", "updated_at"},
	orderBy: "username",
	check: func(v storage.Identity) error {
		if v.Username == "" {
			return errors.New("empty username")
		}
		for k, a := range v.Attributes {
			if !storable(k) || !storable(a) {
				return fmt.Errorf("attribute %q contains NUL or invalid UTF-8", k)
			}
		}
		return nil
	},
	args: func(s *Store, v storage.Identity) []any {
		return []any{v.ID, v.Username, int64(v.Type), string(v.Status), jsonArg(v.Attributes), v.SessionEpoch,
			s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt)}
	},
	dests: func(v *storage.Identity) []any {
		return []any{&v.ID, &v.Username, &v.Type, &v.Status, mapDest{&v.Attributes}, &v.SessionEpoch,
			timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}}
	},
}

var credentials = table[storage.Credential]{
	name: "credentials",
	what: "credential",
	cols: []string{"identity_id", "password_hash", "failed_attempts", "last_failure_at", "locked_until", "updated_at", "factor_failures",
		"password_set_at", "password_history"},
	orderBy: "identity_id",
	parent:  "identity",
	args: func(s *Store, v storage.Credential) []any {
		return []any{v.IdentityID, v.PasswordHash, int64(v.FailedAttempts),
			s.timeArg(v.LastFailureAt), s.timeArg(v.LockedUntil), s.timeArg(v.UpdatedAt), int64(v.FactorFailures),
			s.timeArg(v.PasswordSetAt), historyArg(v.PasswordHistory)}
	},
	dests: func(v *storage.Credential) []any {
		return []any{&v.IdentityID, &v.PasswordHash, &v.FailedAttempts,
			timeDest{&v.LastFailureAt}, timeDest{&v.LockedUntil}, timeDest{&v.UpdatedAt}, &v.FactorFailures,
			timeDest{&v.PasswordSetAt}, historyDest{&v.PasswordHistory}}
	},
}

var serviceProviders = table[storage.ServiceProvider]{
	name:    "service_providers",
	what:    "service provider",
	cols:    []string{"entity_id", "metadata_xml", "status", "source", "created_at", "updated_at"},
	orderBy: "entity_id",
	changed: func(ctx context.Context, s *Store, tx *sql.Tx) error {
		return s.bumpRevision(ctx, tx, revisionSPs)
	},
	args: func(s *Store, v storage.ServiceProvider) []any {
		return []any{v.EntityID, bytesArg(v.MetadataXML), string(v.Status), v.Source,
			s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt)}
	},
	dests: func(v *storage.ServiceProvider) []any {
		return []any{&v.EntityID, &v.MetadataXML, &v.Status, &v.Source,
			timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}}
	},
}

// CreateIdentity stores a new identity; ErrAlreadyExists if its ID or
// username is taken.
func (s *Store) CreateIdentity(ctx context.Context, id storage.Identity) error {
	return identities.create(ctx, s, id)
}

// GetIdentity returns the identity with the given internal ID.
func (s *Store) GetIdentity(ctx context.Context, id string) (storage.Identity, error) {
	return identities.get(ctx, s, "id", id, "with ID "+quote(id))
}

// GetIdentityByUsername returns the identity with the given login name.
func (s *Store) GetIdentityByUsername(ctx context.Context, username string) (storage.Identity, error) {
	return identities.get(ctx, s, "username", username, "by username")
}

// ListIdentities returns every identity, ordered by username.
func (s *Store) ListIdentities(ctx context.Context) ([]storage.Identity, error) {
	return identities.list(ctx, s, "", "")
}

// UpdateIdentity is a read-modify-write of one identity (its ID is kept).
func (s *Store) UpdateIdentity(ctx context.Context, id string, fn func(storage.Identity) (storage.Identity, error)) error {
	return identities.update(ctx, s, id, fn)
}

// DeleteIdentity deletes an identity and, by cascade, its credential and
// devices.
func (s *Store) DeleteIdentity(ctx context.Context, id string) error {
	return identities.delete(ctx, s, id)
}

// CreateCredential stores the credential of an existing identity;
// ErrNotFound if the identity does not exist, ErrAlreadyExists if it already
// has one.
func (s *Store) CreateCredential(ctx context.Context, c storage.Credential) error {
	return credentials.create(ctx, s, c)
}

// GetCredential returns the credential of an identity.
func (s *Store) GetCredential(ctx context.Context, identityID string) (storage.Credential, error) {
	return credentials.get(ctx, s, "identity_id", identityID, "of identity "+quote(identityID))
}

// UpdateCredential is a read-modify-write of one credential.
func (s *Store) UpdateCredential(ctx context.Context, identityID string, fn func(storage.Credential) (storage.Credential, error)) error {
	return credentials.update(ctx, s, identityID, fn)
}

// CreateServiceProvider registers an SP; ErrAlreadyExists if its entityID is
// taken.
func (s *Store) CreateServiceProvider(ctx context.Context, sp storage.ServiceProvider) error {
	return serviceProviders.create(ctx, s, sp)
}

// GetServiceProvider returns the SP with the given entityID.
func (s *Store) GetServiceProvider(ctx context.Context, entityID string) (storage.ServiceProvider, error) {
	return serviceProviders.get(ctx, s, "entity_id", entityID, quote(entityID))
}

// ListServiceProviders returns every SP, ordered by entityID.
func (s *Store) ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error) {
	return serviceProviders.list(ctx, s, "", "")
}

// UpdateServiceProvider is a read-modify-write of one SP (its entityID is
// kept).
func (s *Store) UpdateServiceProvider(ctx context.Context, entityID string, fn func(storage.ServiceProvider) (storage.ServiceProvider, error)) error {
	return serviceProviders.update(ctx, s, entityID, fn)
}

// DeleteServiceProvider removes an SP registration.
func (s *Store) DeleteServiceProvider(ctx context.Context, entityID string) error {
	return serviceProviders.delete(ctx, s, entityID)
}

// SyncServiceProviders reads every SP under a write lock, lets fn decide
// and upserts what it returns, all in one transaction.
func (s *Store) SyncServiceProviders(ctx context.Context, fn func([]storage.ServiceProvider) ([]storage.ServiceProvider, error)) error {
	t := &serviceProviders
	selectSQL := s.q(t.selectFrom() + " ORDER BY " + t.orderBy + s.f.ForUpdate)
	upsertSQL := s.q("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(t.cols)-1) + ") ON CONFLICT (entity_id) DO UPDATE SET " +
		"metadata_xml = excluded.metadata_xml, status = excluded.status, source = excluded.source, updated_at = excluded.updated_at")
	var fnErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		fnErr = nil
		cur, err := scanTx(ctx, tx, selectSQL, t.dests)
		if err != nil {
			return err
		}
		rows, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		for _, v := range rows {
			args := t.args(s, v)
			if err := t.validate(v, args); err != nil {
				return fmt.Errorf("%s %q: %w", t.what, v.EntityID, err)
			}
			if _, err := tx.ExecContext(ctx, upsertSQL, args...); err != nil {
				return fmt.Errorf("%s %q: %w", t.what, v.EntityID, err)
			}
		}
		if len(rows) > 0 && t.changed != nil {
			// Every node drops its cached SPs (metadata.WatchRevision).
			return t.changed(ctx, s, tx)
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("sync service providers: %w", err)
	}
}

// scanTx is scanRows inside a transaction.
func scanTx[T any](ctx context.Context, tx *sql.Tx, query string, dests func(*T) []any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(dests(&v)...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func quote(s string) string { return strconv.Quote(s) }

// historyArg encodes the password history as JSON text, times in UTC to
// the microsecond like every other column; nil becomes [].
func historyArg(h []storage.PasswordUse) string {
	out := make([]storage.PasswordUse, len(h))
	for i, u := range h {
		out[i] = storage.PasswordUse{Hash: u.Hash, SetAt: utcMicro(u.SetAt), RetiredAt: utcMicro(u.RetiredAt)}
	}
	b, _ := json.Marshal(out) // strings and times always marshal
	return string(b)
}

type historyDest struct{ h *[]storage.PasswordUse }

func (d historyDest) Scan(src any) error {
	var h []storage.PasswordUse
	if _, err := scanJSON(src, &h, "password history"); err != nil {
		return err
	}
	for i := range h {
		h[i].SetAt, h[i].RetiredAt = utcMicro(h[i].SetAt), utcMicro(h[i].RetiredAt)
	}
	if len(h) == 0 { // NULL or []
		h = nil
	}
	*d.h = h
	return nil
}
