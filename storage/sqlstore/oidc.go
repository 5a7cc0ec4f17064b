package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.OIDCSessions = (*Store)(nil)

var oidcSessions = table[storage.OIDCSession]{
	name: "oidc_sessions",
	what: "OIDC session",
	cols: []string{"id", "client_id", "identity_id", "subject", "scope", "claims", "nonce", "use_case",
		"session_start", "expires_at", "access_jti", "sso_session", "revoked_at", "revoke_reason", "created_at", "updated_at", "epoch"},
	orderBy: "created_at, id",
	args: func(s *Store, v storage.OIDCSession) []any {
		return []any{v.ID, v.ClientID, v.IdentityID, v.Subject, strings.Join(v.Scope, " "), strings.Join(v.Claims, " "),
			v.Nonce, v.UseCase, s.timeArg(v.SessionStart), s.timeArg(v.ExpiresAt), v.AccessJTI, v.SSOSession,
			s.timeArg(v.RevokedAt), v.RevokeReason, s.timeArg(v.CreatedAt), s.timeArg(v.UpdatedAt), v.Epoch}
	},
	dests: func(v *storage.OIDCSession) []any {
		return []any{&v.ID, &v.ClientID, &v.IdentityID, &v.Subject, fieldsDest{&v.Scope}, fieldsDest{&v.Claims},
			&v.Nonce, &v.UseCase, timeDest{&v.SessionStart}, timeDest{&v.ExpiresAt}, &v.AccessJTI, &v.SSOSession,
			timeDest{&v.RevokedAt}, &v.RevokeReason, timeDest{&v.CreatedAt}, timeDest{&v.UpdatedAt}, &v.Epoch}
	},
	check: func(v storage.OIDCSession) error {
		switch {
		case v.ClientID == "" || v.IdentityID == "":
			return errors.New("no client or identity")
		case v.SessionStart.IsZero() || v.ExpiresAt.IsZero() || v.CreatedAt.IsZero():
			return errors.New("no session start, expiry or creation time")
		}
		for _, s := range append(append([]string(nil), v.Scope...), v.Claims...) {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				return fmt.Errorf("scope or claim %q is empty or has spaces", s)
			}
		}
		return nil
	},
}

var oidcRefreshTokens = table[storage.OIDCRefreshToken]{
	name:    "oidc_refresh_tokens",
	what:    "refresh token",
	cols:    []string{"hash", "session_id", "issued_at", "expires_at", "used_at"},
	orderBy: "issued_at, hash",
	args: func(s *Store, v storage.OIDCRefreshToken) []any {
		return []any{v.Hash, v.SessionID, s.timeArg(v.IssuedAt), s.timeArg(v.ExpiresAt), s.timeArg(v.UsedAt)}
	},
	dests: func(v *storage.OIDCRefreshToken) []any {
		return []any{&v.Hash, &v.SessionID, timeDest{&v.IssuedAt}, timeDest{&v.ExpiresAt}, timeDest{&v.UsedAt}}
	},
	check: func(v storage.OIDCRefreshToken) error {
		if v.SessionID == "" || v.IssuedAt.IsZero() || v.ExpiresAt.IsZero() {
			return errors.New("no session, issue or expiry time")
		}
		return nil
	},
}

// fieldsDest scans a space-separated list; "" is an empty list.
type fieldsDest struct{ s *[]string }

func (d fieldsDest) Scan(src any) error {
	var v sql.NullString
	if err := v.Scan(src); err != nil {
		return fmt.Errorf("sqlstore: cannot scan %T into a list: %w", src, err)
	}
	*d.s = strings.Fields(v.String)
	return nil
}

// CreateOIDCSession stores a session and its first refresh token together.
func (s *Store) CreateOIDCSession(ctx context.Context, sess storage.OIDCSession, t storage.OIDCRefreshToken) error {
	if t.SessionID != sess.ID {
		return fmt.Errorf("create OIDC session %q: its first token belongs to %q", sess.ID, t.SessionID)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := oidcSessions.insert(ctx, s, tx, sess); err != nil {
			return err
		}
		return oidcRefreshTokens.insert(ctx, s, tx, t)
	})
	if err != nil {
		return fmt.Errorf("create OIDC session: %w", err)
	}
	return nil
}

// GetOIDCSession returns one session.
func (s *Store) GetOIDCSession(ctx context.Context, id string) (storage.OIDCSession, error) {
	return oidcSessions.get(ctx, s, "id", id, fmt.Sprintf("%q", id))
}

// GetOIDCRefreshToken returns a token and its session.
func (s *Store) GetOIDCRefreshToken(ctx context.Context, hash string) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
	t, err := oidcRefreshTokens.get(ctx, s, "hash", hash, "by hash")
	if err != nil {
		return t, storage.OIDCSession{}, err
	}
	sess, err := s.GetOIDCSession(ctx, t.SessionID)
	return t, sess, err
}

// RotateOIDCRefreshToken implements storage.OIDCSessions. The session row is
// locked first (PostgreSQL FOR UPDATE; SQLite has one writer), so two
// rotations of one family never both see the token unused.
func (s *Store) RotateOIDCRefreshToken(ctx context.Context, hash string, now time.Time,
	fn func(storage.OIDCRefreshToken, storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error)) error {
	if !storable(hash) {
		return fmt.Errorf("rotate refresh token: %w", storage.ErrNotFound)
	}
	tokSQL := s.q(oidcRefreshTokens.selectFrom() + " WHERE hash = ?")
	sessSQL := s.q(oidcSessions.selectFrom() + " WHERE id = ?" + s.f.ForUpdate)
	lockTokSQL := s.q(oidcRefreshTokens.selectFrom() + " WHERE hash = ?" + s.f.ForUpdate)
	revokeSQL := s.q("UPDATE oidc_sessions SET revoked_at = ?, revoke_reason = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL")
	useSQL := s.q("UPDATE oidc_refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL")
	sessUpdate := strings.Join(oidcSessions.cols[1:], " = ?, ") + " = ?"
	updateSQL := s.q("UPDATE oidc_sessions SET " + sessUpdate + " WHERE id = ?")
	var fnErr, outcome error
	err := s.write(ctx, func(tx *sql.Tx) error {
		fnErr, outcome = nil, nil
		var t storage.OIDCRefreshToken
		if err := tx.QueryRowContext(ctx, tokSQL, hash).Scan(oidcRefreshTokens.dests(&t)...); err != nil {
			return notFoundIfNoRows(err)
		}
		var sess storage.OIDCSession
		if err := tx.QueryRowContext(ctx, sessSQL, t.SessionID).Scan(oidcSessions.dests(&sess)...); err != nil {
			return notFoundIfNoRows(err)
		}
		// Read again under the session's lock: a rotation that committed
		// meanwhile has marked it used.
		if err := tx.QueryRowContext(ctx, lockTokSQL, hash).Scan(oidcRefreshTokens.dests(&t)...); err != nil {
			return notFoundIfNoRows(err)
		}
		switch {
		case !t.UsedAt.IsZero():
			if _, err := tx.ExecContext(ctx, revokeSQL, s.timeArg(now), storage.OIDCRevokedReuse, s.timeArg(now), sess.ID); err != nil {
				return err
			}
			outcome = storage.ErrRefreshReused
			return nil
		case !sess.RevokedAt.IsZero() || !now.Before(t.ExpiresAt):
			outcome = storage.ErrNotFound
			return nil
		}
		next, upd, err := fn(t, sess)
		if err != nil {
			fnErr = err
			return err
		}
		if next.SessionID != sess.ID {
			return fmt.Errorf("the next token belongs to session %q, not %q", next.SessionID, sess.ID)
		}
		if _, err := tx.ExecContext(ctx, useSQL, s.timeArg(now), hash); err != nil {
			return err
		}
		if err := oidcRefreshTokens.insert(ctx, s, tx, next); err != nil {
			return err
		}
		args := oidcSessions.args(s, upd)
		if err := oidcSessions.validate(upd, args); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, updateSQL, append(args[1:], sess.ID)...)
		return err
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("rotate refresh token: %w", err)
	case outcome != nil:
		return fmt.Errorf("rotate refresh token: %w", outcome)
	}
	return nil
}

// RevokeOIDCSession ends a session, keeping its first revocation.
func (s *Store) RevokeOIDCSession(ctx context.Context, id string, now time.Time, reason string) (storage.OIDCSession, error) {
	var out storage.OIDCSession
	err := oidcSessions.update(ctx, s, id, func(v storage.OIDCSession) (storage.OIDCSession, error) {
		if v.RevokedAt.IsZero() {
			v.RevokedAt, v.RevokeReason, v.UpdatedAt = now, reason, now
		}
		out = v
		return v, nil
	})
	return out, err
}

// SetOIDCSessionAccess records the newest access token of a session.
func (s *Store) SetOIDCSessionAccess(ctx context.Context, id, accessJTI string) error {
	return oidcSessions.update(ctx, s, id, func(v storage.OIDCSession) (storage.OIDCSession, error) {
		v.AccessJTI = accessJTI
		return v, nil
	})
}

// ListOIDCSessions returns an identity's sessions, oldest first.
func (s *Store) ListOIDCSessions(ctx context.Context, identityID string) ([]storage.OIDCSession, error) {
	return oidcSessions.list(ctx, s, "identity_id", identityID)
}

// DeleteExpiredOIDCSessions removes ended sessions and their tokens.
func (s *Store) DeleteExpiredOIDCSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		at := s.timeArg(now.UTC())
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM oidc_refresh_tokens WHERE session_id IN "+
			"(SELECT id FROM oidc_sessions WHERE expires_at < ?)"), at); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM oidc_sessions WHERE expires_at < ?"), at)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired OIDC sessions: %w", err)
	}
	return n, nil
}
