package storage

import (
	"context"
	"time"
)

// IdentityPending is an identity issued by an approved enrolment whose holder
// has not yet opened the activation link and chosen a password: it cannot
// log in (enrolment-lifecycle.md §3.5, §7.1).
const IdentityPending IdentityStatus = "pending_activation"

// Enrolment is one request for an identity (the "order" of
// enrolment-lifecycle.md §3.1). The columns are what the store must search
// or order on; the rest of the request (applicant, document, consents,
// recognition, claim, outcome) is the JSON document in Data, owned by the
// enrolment package, so adding a field there needs no migration.
type Enrolment struct {
	ID           string    // internal UUID
	Code         string    // public request code: 10 Crockford base32 characters, unique
	State        string    // §6.5 state machine
	Path         string    // cns, cie, signature, video, shop, counter, counter_public_official
	IdentityType string    // personal, professional, professional_legal
	FiscalNumber string    // 16 characters, upper case; indexed to find duplicates (E023)
	Data         []byte    // JSON, kept byte for byte
	QueuedAt     time.Time // zero until the request enters awaiting_processing
	DeadlineAt   time.Time // zero while not queued
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Enrolments stores enrolment requests. It follows Store's conventions:
// ErrNotFound / ErrAlreadyExists (an ID or Code taken), read-modify-write
// updates whose fn re-checks the state (so two concurrent transitions from
// the same state cannot both succeed), UTC times.
type Enrolments interface {
	CreateEnrolment(ctx context.Context, e Enrolment) error
	GetEnrolment(ctx context.Context, id string) (Enrolment, error)
	GetEnrolmentByCode(ctx context.Context, code string) (Enrolment, error)
	// ListEnrolments returns the requests in any of states (every request
	// when states is empty), oldest first.
	ListEnrolments(ctx context.Context, states []string) ([]Enrolment, error)
	// ListEnrolmentsByFiscalNumber returns every request for one codice
	// fiscale, oldest first.
	ListEnrolmentsByFiscalNumber(ctx context.Context, fiscalNumber string) ([]Enrolment, error)
	// UpdateEnrolment is read-modify-write; ID and Code are kept whatever fn
	// returns.
	UpdateEnrolment(ctx context.Context, id string, fn func(Enrolment) (Enrolment, error)) error
}

// Operator statuses.
const (
	OperatorActive   = "active"
	OperatorDisabled = "disabled"
)

// Operator is a back-office account (enrolment-lifecycle.md §2): shop agent,
// counter operator, video operator, verifier, supervisor, care agent,
// auditor. Operators are not SPID identities and never log in at SPs.
type Operator struct {
	ID           string
	Username     string // unique, lower case
	Name         string
	Roles        []string // role names of §2; none contains a comma
	PasswordHash string   // PHC string, argon2id
	ShopID       string   // the shop or counter of an agent; empty otherwise
	Status       string   // OperatorActive or OperatorDisabled
	// SecondFactor holds the operator's passkeys and TOTP authenticators
	// and the one-time code a supervisor issued to enrol the first one
	// (security.md E.1).
	SecondFactor OperatorFactors
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Kinds of operator second factor.
const (
	FactorWebAuthn = "webauthn" // a passkey or security key
	FactorTOTP     = "totp"     // an authenticator app, for operators without a passkey
)

// OperatorFactor is one registered second factor. Secret is sealed with the
// data key, bound to the operator and the factor (keys/datakey): the TOTP
// seed, or the WebAuthn credential with its public key and sign count, so
// a database writer can neither read a seed nor plant a key of their own.
type OperatorFactor struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // FactorWebAuthn or FactorTOTP
	Name       string    `json:"name"`
	Secret     []byte    `json:"secret"`
	KeyVersion int64     `json:"key_version"`        // data-key ID that sealed Secret
	LastStep   int64     `json:"last_step,omitzero"` // TOTP: last accepted time step (no replay)
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// OperatorFactors is an operator's second-factor state. The enrolment code
// is stored as the hex SHA-256 of the code, never the code itself.
type OperatorFactors struct {
	Factors          []OperatorFactor `json:"factors,omitempty"`
	EnrolCodeHash    string           `json:"enrol_code_hash,omitempty"`
	EnrolCodeExpires time.Time        `json:"enrol_code_expires,omitzero"`
	EnrolCodeTries   int              `json:"enrol_code_tries,omitempty"`
	EnrolCodeBy      string           `json:"enrol_code_by,omitempty"` // who issued it, for the audit trail
}

// Operators stores back-office accounts, with Store's conventions.
type Operators interface {
	CreateOperator(ctx context.Context, o Operator) error
	GetOperator(ctx context.Context, id string) (Operator, error)
	GetOperatorByUsername(ctx context.Context, username string) (Operator, error)
	// ListOperators returns every operator, ordered by username.
	ListOperators(ctx context.Context) ([]Operator, error)
	// UpdateOperator is read-modify-write; the ID is kept.
	UpdateOperator(ctx context.Context, id string, fn func(Operator) (Operator, error)) error
}

// Token is a single-use secret sent to someone (an activation link, an
// e-mail verification link). Only the hash of the secret is stored, so a
// copy of the database opens nothing.
type Token struct {
	Hash      string // hex SHA-256 of the secret
	Purpose   string // e.g. "activate_identity", "verify_email"
	Subject   string // what the token acts on (an enrolment or identity ID)
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Tokens stores single-use tokens.
type Tokens interface {
	// CreateToken stores t; ErrAlreadyExists if its hash is taken.
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns the unexpired token with hash and purpose without
	// using it (a link page looks up what it is for before asking for an
	// SMS code); ErrNotFound as ConsumeToken.
	GetToken(ctx context.Context, hash, purpose string, now time.Time) (Token, error)
	// ConsumeToken atomically removes and returns the token with the given
	// hash and purpose if it has not expired at now. ErrNotFound when it is
	// absent, already used, of another purpose or expired: exactly one of
	// several concurrent consumers gets it.
	ConsumeToken(ctx context.Context, hash, purpose string, now time.Time) (Token, error)
	// DeleteExpiredTokens removes tokens that expired before now and returns
	// how many (the retention job calls it).
	DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error)
}
