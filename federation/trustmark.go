package federation

import (
	"encoding/json"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TrustMark is the payload of a trust mark JWT. Registry trust marks carry
// more (federation_url, entity_role, profile, id_code as a string): those
// are informational and never fail a mark (spec §2.4).
type TrustMark struct {
	ID       string `json:"id"`
	Type     string `json:"trust_mark_type"`
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
}

// MarkID is id, or trust_mark_type for issuers following newer drafts.
func (m TrustMark) MarkID() string {
	if m.ID != "" {
		return m.ID
	}
	return m.Type
}

// PeekTrustMark reads a trust mark without verifying it, to learn its
// issuer before choosing the keys.
func PeekTrustMark(compact string) (TrustMark, error) {
	raw, err := UnverifiedPayload(compact)
	if err != nil {
		return TrustMark{}, refused("trust mark: %v", err)
	}
	var m TrustMark
	if err := json.Unmarshal(raw, &m); err != nil {
		return TrustMark{}, refused("trust mark payload: %v", err)
	}
	return m, nil
}

// VerifyTrustMark applies the static checks of spec §2.4 to one entry of a
// statement's trust_marks: typ, signature by issuerKeys, the wrapper id,
// the subject, iat and exp. The caller has already decided that the issuer
// may issue this id.
func VerifyTrustMark(ref TrustMarkRef, subject string, issuerKeys jose.JSONWebKeySet, now time.Time) (TrustMark, error) {
	h, err := Header(ref.TrustMark)
	if err != nil {
		return TrustMark{}, refused("trust mark: %v", err)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != TypeTrustMark {
		return TrustMark{}, refused("trust mark typ is %q, want %q", clip(typ), TypeTrustMark)
	}
	v, err := Verify(ref.TrustMark, issuerKeys)
	if err != nil {
		return TrustMark{}, refused("trust mark: %v", err)
	}
	var m TrustMark
	if err := json.Unmarshal(v.Payload, &m); err != nil {
		return TrustMark{}, refused("trust mark payload: %v", err)
	}
	switch {
	case m.MarkID() != ref.ID:
		return TrustMark{}, refused("trust mark id %q differs from its entry %q", clip(m.MarkID()), clip(ref.ID))
	case m.Subject != subject:
		return TrustMark{}, refused("trust mark is about %q, not %q", clip(m.Subject), clip(subject))
	case m.IssuedAt == 0 || time.Unix(m.IssuedAt, 0).After(now.Add(Skew)):
		return TrustMark{}, refused("trust mark iat missing or in the future")
	case m.Expires != 0 && !now.Before(time.Unix(m.Expires, 0)):
		return TrustMark{}, refused("trust mark expired at %s", time.Unix(m.Expires, 0).UTC().Format(time.RFC3339))
	}
	return m, nil
}
