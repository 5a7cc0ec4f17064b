package storage

import (
	"context"
	"errors"
	"time"
)

// OIDCSession is a long revocable session of the OpenID Provider (Avviso
// 41, oidc-federation.md §4.3): a citizen's opt-in to one relying party's
// offline access, and the family of refresh tokens rotated under it. It
// lives in the durable store because it outlasts every ephemeral record
// (30 days) and every node must see a rotation at once.
type OIDCSession struct {
	ID         string // random UUID
	ClientID   string // the relying party
	IdentityID string
	Subject    string // the pairwise sub given to the relying party
	// Scope and Claims are what the citizen consented to: a refresh never
	// releases more (spec §5).
	Scope  []string
	Claims []string
	Nonce  string
	// UseCase is the Avviso 41 use case ("CU1", "CU2", "CU3") fixing how a
	// rotated token's exp is computed.
	UseCase string
	// SessionStart is the request object's iat; CU1/CU2 tokens all expire
	// 30 days after it.
	SessionStart time.Time
	// ExpiresAt is the exp of the newest refresh token: after it the
	// session is over and the retention job may delete it.
	ExpiresAt time.Time
	// AccessJTI is the jti of the newest access token, revoked with the
	// session.
	AccessJTI string
	// SSOSession is the IdP session the authorization came from ("" when
	// none), ended when an access token of the session is revoked.
	SSOSession string
	// Epoch is the identity's SessionEpoch when the citizen authenticated:
	// the session ends with the identity's other sessions (password change
	// or reset, lifecycle transition, device revoked) once they differ.
	Epoch int64
	// RevokedAt is zero while the session is active; RevokeReason says
	// why it ended (revocation, reuse of a rotated token, logout).
	RevokedAt    time.Time
	RevokeReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OIDCRefreshToken is one refresh token of a session. Only the SHA-256 of
// the token is kept, so the table cannot be replayed from a copy.
type OIDCRefreshToken struct {
	Hash      string // lower-case hex SHA-256 of the token as issued
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// UsedAt is when it was exchanged for its successor; zero while it
	// may still be presented.
	UsedAt time.Time
}

// ErrRefreshReused is returned by RotateOIDCRefreshToken for a token that
// was already exchanged: its session is revoked in the same transaction.
var ErrRefreshReused = errors.New("storage: refresh token already used")

// OIDCSessions keep the long revocable sessions and their refresh tokens.
type OIDCSessions interface {
	// CreateOIDCSession stores s with its first refresh token t (t's
	// SessionID must be s.ID) in one transaction; ErrAlreadyExists when
	// the session id or token hash is taken.
	CreateOIDCSession(ctx context.Context, s OIDCSession, t OIDCRefreshToken) error
	// GetOIDCSession returns the session with id; ErrNotFound when unknown.
	GetOIDCSession(ctx context.Context, id string) (OIDCSession, error)
	// GetOIDCRefreshToken returns the token with hash and its session, used,
	// expired or revoked alike (the caller judges); ErrNotFound when unknown.
	GetOIDCRefreshToken(ctx context.Context, hash string) (OIDCRefreshToken, OIDCSession, error)
	// RotateOIDCRefreshToken exchanges the token with hash, in one
	// transaction that no other rotation of the session interleaves with:
	//   - unknown hash: ErrNotFound;
	//   - the token was already used: the session is revoked at now with
	//     reason "reuse" and ErrRefreshReused returned (fn is not called);
	//   - the session is revoked or the token expired at now: ErrNotFound;
	//   - otherwise fn gets the token and the session and returns the next
	//     token (for the same session) and the session with its fields
	//     changed; the presented token is marked used at now and both are
	//     stored. An error from fn aborts and is returned as is.
	// Of concurrent rotations of one token exactly one reaches fn.
	RotateOIDCRefreshToken(ctx context.Context, hash string, now time.Time,
		fn func(OIDCRefreshToken, OIDCSession) (OIDCRefreshToken, OIDCSession, error)) error
	// RevokeOIDCSession ends the session at now with reason and returns it;
	// revoking a revoked session keeps its first revocation. ErrNotFound
	// when unknown.
	RevokeOIDCSession(ctx context.Context, id string, now time.Time, reason string) (OIDCSession, error)
	// SetOIDCSessionAccess records the newest access token of the session.
	SetOIDCSessionAccess(ctx context.Context, id, accessJTI string) error
	// ListOIDCSessions returns the sessions of an identity, oldest first.
	ListOIDCSessions(ctx context.Context, identityID string) ([]OIDCSession, error)
	// DeleteExpiredOIDCSessions removes the sessions (and their tokens)
	// whose ExpiresAt is before now and returns how many.
	DeleteExpiredOIDCSessions(ctx context.Context, now time.Time) (int64, error)
}

// Revoke reasons of an OIDC session.
const (
	OIDCRevokedByClient = "revocation"
	OIDCRevokedReuse    = "reuse"
	OIDCRevokedLogout   = "logout"
)
