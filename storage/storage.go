// Package storage defines what the IdP keeps and the contract every backend
// honours. Durable data (identities, credentials, second-factor devices,
// service providers, the audit log) lives in a Store (SQLite by default,
// PostgreSQL at scale); short-lived data (SSO sessions, the request-ID replay
// cache, rate-limit counters, shared values such as one-time codes) lives in
// an Ephemeral store (in-process by default, Redis when several nodes share it).
//
// Every backend runs the same suite in storage/conformance.
package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sentinel errors every backend returns (wrapped or not) so callers can use
// errors.Is regardless of the backend.
var (
	ErrNotFound      = errors.New("storage: not found")
	ErrAlreadyExists = errors.New("storage: already exists")
)

// IdentityStatus is where an identity is in its lifecycle.
type IdentityStatus string

const (
	IdentityActive    IdentityStatus = "active"
	IdentitySuspended IdentityStatus = "suspended"
	IdentityRevoked   IdentityStatus = "revoked"
	IdentityExpired   IdentityStatus = "expired"
)

// IdentityType is the SPID identity type (Avviso 18 v2).
type IdentityType int

const (
	IdentityCitizen              IdentityType = 1 // natural person
	IdentityLegalPerson          IdentityType = 2
	IdentityProfessional         IdentityType = 3 // professional use of a natural person
	IdentityProfessionalForLegal IdentityType = 4
)

// Identity is one SPID digital identity.
type Identity struct {
	ID       string // internal, opaque, stable
	Username string // login identifier, unique (lower-cased e-mail or fiscal number)
	Type     IdentityType
	Status   IdentityStatus
	// Attributes are keyed by SPID attribute name (spidCode, name, familyName,
	// fiscalNumber, email, ...) and hold the value exactly as it is asserted.
	Attributes map[string]string
	// SessionEpoch advances each time every session of the identity must
	// end at once: a lifecycle transition (suspension, revocation, expiry,
	// reactivation), a password change or reset, a device revoked. A
	// session records the epoch it was opened at and is void once the
	// identity's differs. It lives with the identity in the durable store,
	// so a change made by any node, or by the command line while the server
	// keeps its sessions in process memory, takes effect at once everywhere.
	SessionEpoch int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Credential is the password of an identity and the counters that protect it.
type Credential struct {
	IdentityID     string
	PasswordHash   string // PHC string, argon2id
	FailedAttempts int
	// FactorFailures is how many of FailedAttempts were wrong second-factor
	// answers (app codes, push denials, wrong numbers): a right password
	// alone must not wipe them (security.md C.4), only a completed level-2
	// authentication does.
	FactorFailures int
	LastFailureAt  time.Time // zero when never failed
	LockedUntil    time.Time // zero when not locked
	// PasswordSetAt is when the current password was chosen; its maximum
	// age counts from here (enrolment-lifecycle.md §3.6). Zero for a
	// credential stored before the date was kept: the age rule then
	// counts from UpdatedAt.
	PasswordSetAt time.Time
	// PasswordHistory holds earlier passwords, newest first, as argon2id
	// PHC strings (never the password), so a new password can be checked
	// against them (§7.2: not the last 5, nor one used in 15 months).
	PasswordHistory []PasswordUse
	UpdatedAt       time.Time
}

// PasswordUse is one earlier password of a credential: its hash, when it
// was chosen and when it was replaced.
type PasswordUse struct {
	Hash      string    `json:"hash"`
	SetAt     time.Time `json:"set_at"`
	RetiredAt time.Time `json:"retired_at"`
}

// SPStatus says whether a registered service provider may use the IdP.
type SPStatus string

const (
	SPActive   SPStatus = "active"
	SPDisabled SPStatus = "disabled"
	// SPWithdrawn is disabled by a federation sync because the SP left the
	// federation's list; unlike SPDisabled (an operator's decision) the
	// sync re-activates it when it comes back.
	SPWithdrawn SPStatus = "withdrawn"
)

// ServiceProvider is a registered SP. The metadata XML is kept verbatim
// (signed), so it can be re-verified and re-parsed after an upgrade.
type ServiceProvider struct {
	EntityID    string
	MetadataXML []byte
	Status      SPStatus
	Source      string // "cli", "directory", "demo"
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AuditEvent is one record of the append-only, hash-chained audit log. The
// backend assigns Seq, PrevHash and Hash inside the append transaction.
// Details must never carry a password, OTP, session key or other secret.
type AuditEvent struct {
	Seq       int64
	Time      time.Time
	Actor     string // who: identity ID, operator, "system", SP entityID
	Action    string // what: "login", "sp.add", ...
	Target    string // what it acted on (identity ID, SP entityID, ...)
	Outcome   string // "success", "failure", "denied", ...
	RequestID string
	Details   map[string]string
	PrevHash  string // hex SHA-256 of the previous record, "" for the first
	Hash      string // hex SHA-256 of this record (see AuditHash)
}

// Store is the durable store.
//
// Update methods are read-modify-write: the backend calls fn with the current
// value inside a transaction and stores what it returns; fn may be called more
// than once and must change fields of the value it receives rather than build
// a new struct, so fields added later are kept. An error from fn aborts the
// update and is returned as is.
type Store interface {
	Devices
	Enrolments
	Operators
	Tokens
	Lifecycles
	Leases
	SharedValues
	Revisions
	Imports
	Blobs
	Register
	SigningKeys
	OIDCSessions

	CreateIdentity(ctx context.Context, id Identity) error
	GetIdentity(ctx context.Context, id string) (Identity, error)
	GetIdentityByUsername(ctx context.Context, username string) (Identity, error)
	ListIdentities(ctx context.Context) ([]Identity, error)
	UpdateIdentity(ctx context.Context, id string, fn func(Identity) (Identity, error)) error
	DeleteIdentity(ctx context.Context, id string) error

	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, identityID string) (Credential, error)
	UpdateCredential(ctx context.Context, identityID string, fn func(Credential) (Credential, error)) error

	CreateServiceProvider(ctx context.Context, sp ServiceProvider) error
	GetServiceProvider(ctx context.Context, entityID string) (ServiceProvider, error)
	ListServiceProviders(ctx context.Context) ([]ServiceProvider, error)
	UpdateServiceProvider(ctx context.Context, entityID string, fn func(ServiceProvider) (ServiceProvider, error)) error
	DeleteServiceProvider(ctx context.Context, entityID string) error
	// SyncServiceProviders applies a federation sync in one transaction:
	// fn gets every registered SP and returns the rows to write, each
	// created or, when its entityID exists, replacing metadata, status,
	// source and UpdatedAt (CreatedAt is kept). Either every row is written
	// or none; an error from fn aborts the sync and is returned as is.
	SyncServiceProviders(ctx context.Context, fn func(current []ServiceProvider) ([]ServiceProvider, error)) error

	// AppendAudit stores ev as the next record of the chain, setting Seq,
	// PrevHash and Hash atomically, and returns the stored record.
	AppendAudit(ctx context.Context, ev AuditEvent) (AuditEvent, error)
	// ListAudit returns up to limit records with Seq > afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error)

	// Ping makes a real round trip (used by /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// SessionParticipant is an SP that received an assertion in an SSO session;
// Single Logout has to reach each of them. A session holds one participant
// per SP, the latest assertion to it: SLO sends each SP one LogoutRequest
// naming the NameID and SessionIndex it was last given, so older entries
// would only make the session grow with every Response (issue 14).
//
// OpenID Connect relying parties join the same sessions: Protocol tells
// them apart, and SLO ends their tokens instead of sending them a
// LogoutRequest.
type SessionParticipant struct {
	SPEntityID   string // the SP's entityID, or the RP's client_id
	NameID       string // the transient NameID sent to that SP (OIDC: the sub)
	SessionIndex string
	IssuedAt     time.Time
	// Protocol is ProtocolSAML ("") or ProtocolOIDC.
	Protocol string
}

// Protocols of a session participant.
const (
	ProtocolSAML = ""
	ProtocolOIDC = "oidc"
)

// Key names the participant within its session: an SP and an RP of the
// same entity id are two participants.
func (p SessionParticipant) Key() string {
	if p.Protocol == ProtocolSAML {
		return p.SPEntityID
	}
	return p.Protocol + " " + p.SPEntityID
}

// Session is an SSO session at the IdP.
type Session struct {
	ID           string // random, opaque; the cookie holds it
	IdentityID   string
	Level        int // SPID level of the authentication performed (1, 2)
	AuthnInstant time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time
	// Epoch is the identity's SessionEpoch when the citizen authenticated;
	// the session is void once the identity's has moved on (the caller
	// compares, the store only keeps it).
	Epoch int64
	// Participants come back ordered by SPEntityID, at most one per SP and
	// at most MaxSessionParticipants.
	Participants []SessionParticipant
}

// MaxSessionParticipants caps the SPs of one SSO session. A citizen uses a
// handful of services in a session's hours; 64 leaves ample room while
// bounding a session at a few tens of kilobytes, so that nobody can inflate
// their own session (each entry is a few hundred bytes) into something every
// read of it pays for.
const MaxSessionParticipants = 64

// ErrSessionFull is returned when an SP would join a session that already
// holds MaxSessionParticipants others.
var ErrSessionFull = errors.New("storage: session has the most participants it may hold")

// SortParticipants puts ps in the order every backend returns them: by
// SPEntityID.
func SortParticipants(ps []SessionParticipant) {
	slices.SortFunc(ps, func(a, b SessionParticipant) int {
		if c := strings.Compare(a.SPEntityID, b.SPEntityID); c != 0 {
			return c
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
}

// CheckParticipants reports a participant list a session may not hold:
// two entries for one SP, an empty SP, or more than MaxSessionParticipants.
func CheckParticipants(ps []SessionParticipant) error {
	if len(ps) > MaxSessionParticipants {
		return fmt.Errorf("%d participants: %w", len(ps), ErrSessionFull)
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if p.SPEntityID == "" {
			return errors.New("participant without an SP entityID")
		}
		if seen[p.Key()] {
			return fmt.Errorf("two participants for SP %q", p.Key())
		}
		seen[p.Key()] = true
	}
	return nil
}

// Ephemeral keeps short-lived data that expires by itself.
type Ephemeral interface {
	Values

	// CreateSession stores s until s.ExpiresAt; ErrAlreadyExists if the ID is taken.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNotFound for an unknown or expired session.
	GetSession(ctx context.Context, id string) (Session, error)
	// UpdateSession rewrites the whole session; the result must pass
	// CheckParticipants. Per-Response joins use AddParticipant instead.
	UpdateSession(ctx context.Context, id string, fn func(Session) (Session, error)) error
	// AddParticipant records an assertion to p.SPEntityID in the session,
	// replacing that SP's previous entry, and moves the session's expiry to
	// expiresAt (which must be in the future). It writes only that entry
	// and the expiry, so its cost does not grow with the session.
	// ErrNotFound for an unknown or expired session; ErrSessionFull when a
	// new SP would exceed MaxSessionParticipants (the session is unchanged).
	AddParticipant(ctx context.Context, id string, p SessionParticipant, expiresAt time.Time) error
	DeleteSession(ctx context.Context, id string) error

	// InsertRequestID remembers key until expiresAt. Exactly one of several
	// concurrent callers with the same unexpired key succeeds; the others get
	// ErrAlreadyExists. It is the replay cache for AuthnRequest/LogoutRequest IDs.
	InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error

	// Incr adds one to the counter key, creating it with the given window if
	// absent or expired, and returns the new value. Rate limits and lockouts
	// use it.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// ResetCounter deletes the counter key; no error if it does not exist.
	ResetCounter(ctx context.Context, key string) error

	Ping(ctx context.Context) error
	Close() error
}
