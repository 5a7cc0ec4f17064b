package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Entity types (metadata keys).
const (
	TypeFederationEntity = "federation_entity"
	TypeOpenIDProvider   = "openid_provider"
	TypeRelyingParty     = "openid_relying_party"
	TypeOAuthResource    = "oauth_resource"
)

// Statement is an entity configuration (iss = sub) or a subordinate
// statement (iss = the superior). Claims SPID says to ignore (crit, aud,
// naming_constraints, policy_language_crit, trust_anchor_id) have no field
// and are dropped when decoding, so they can never fail a chain (F029).
type Statement struct {
	Issuer           string                               `json:"iss"`
	Subject          string                               `json:"sub"`
	IssuedAt         int64                                `json:"iat"`
	Expires          int64                                `json:"exp"`
	JWKS             jose.JSONWebKeySet                   `json:"jwks"`
	AuthorityHints   []string                             `json:"authority_hints,omitempty"`
	Metadata         map[string]map[string]any            `json:"metadata,omitempty"`
	MetadataPolicy   map[string]map[string]map[string]any `json:"metadata_policy,omitempty"`
	TrustMarks       []TrustMarkRef                       `json:"trust_marks,omitempty"`
	TrustMarkIssuers map[string][]string                  `json:"trust_mark_issuers,omitempty"`
	Constraints      *Constraints                         `json:"constraints,omitempty"`

	// Raw is the compact JWS it was read from (kept for the chain and the
	// transaction log).
	Raw string `json:"-"`
}

// TrustMarkRef is one entry of a statement's trust_marks.
type TrustMarkRef struct {
	ID        string `json:"id"`
	TrustMark string `json:"trust_mark"`
}

// UnmarshalJSON accepts trust_mark_type as an alias of id (spec §2.4).
func (t *TrustMarkRef) UnmarshalJSON(b []byte) error {
	var v struct {
		ID        string `json:"id"`
		Type      string `json:"trust_mark_type"`
		TrustMark string `json:"trust_mark"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.ID, t.TrustMark = v.ID, v.TrustMark
	if t.ID == "" {
		t.ID = v.Type
	}
	return nil
}

// Constraints limit the chains a trust anchor accepts.
type Constraints struct {
	MaxPathLength *int `json:"max_path_length,omitempty"`
}

// ExpiresAt is exp as a time.
func (s *Statement) ExpiresAt() time.Time { return time.Unix(s.Expires, 0) }

// StatementError is a statement refused for what it says (not for a
// transport problem).
type StatementError struct{ Reason string }

func (e *StatementError) Error() string { return "federation: entity statement refused: " + e.Reason }

func refused(format string, args ...any) error {
	return &StatementError{Reason: fmt.Sprintf(format, args...)}
}

// Skew is the clock difference tolerated on received statements.
const Skew = 60 * time.Second

// ParseStatement verifies compact against keys and checks its shape and
// time window. keys nil means "its own jwks" (an entity configuration is
// self-signed; trust in those keys comes from the superior's statement).
func ParseStatement(compact string, keys *jose.JSONWebKeySet, now time.Time) (*Statement, error) {
	h, err := Header(compact)
	if err != nil {
		return nil, refused("%v", err)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != TypeEntityStatement {
		return nil, refused("typ is %q, want %q", clip(typ), TypeEntityStatement)
	}
	var set jose.JSONWebKeySet
	if keys != nil {
		set = *keys
	} else {
		raw, err := UnverifiedPayload(compact)
		if err != nil {
			return nil, refused("%v", err)
		}
		var self struct {
			JWKS jose.JSONWebKeySet `json:"jwks"`
		}
		if err := json.Unmarshal(raw, &self); err != nil {
			return nil, refused("payload is not a JSON object with jwks: %v", err)
		}
		set = self.JWKS
	}
	v, err := Verify(compact, set)
	if err != nil {
		return nil, refused("%v", err)
	}
	var s Statement
	if err := json.Unmarshal(v.Payload, &s); err != nil {
		return nil, refused("payload: %v", err)
	}
	s.Raw = compact
	if s.Issuer == "" || s.Subject == "" {
		return nil, refused("iss or sub missing")
	}
	if s.IssuedAt == 0 || s.Expires == 0 {
		return nil, refused("iat or exp missing")
	}
	if time.Unix(s.IssuedAt, 0).After(now.Add(Skew)) {
		return nil, refused("iat of %s is in the future", s.Subject)
	}
	if !now.Before(s.ExpiresAt()) {
		return nil, refused("statement about %s expired at %s", clip(s.Subject), s.ExpiresAt().UTC().Format(time.RFC3339))
	}
	if len(s.JWKS.Keys) == 0 {
		return nil, refused("jwks is empty")
	}
	return &s, nil
}

// errSelf is returned when an entity configuration is not about its issuer.
var errSelf = errors.New("entity configuration iss differs from sub")
