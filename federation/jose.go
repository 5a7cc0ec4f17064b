// Package federation is the SPID/CIE OpenID Connect Federation as the IdP
// needs it (spec oidc-federation.md §2): signed entity statements, our own
// entity configuration, trust chains from a relying party up to a pinned
// trust anchor with trust marks and metadata policy, and the federation
// error responses. JOSE is go-jose; the federation rules are written here
// because SPID's dialect (trust mark "id", automatic registration only)
// differs from the general-purpose libraries (spec §12).
package federation

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Media and JOSE types (spec §0).
const (
	ContentTypeEntityStatement = "application/entity-statement+jwt"
	TypeEntityStatement        = "entity-statement+jwt"
	TypeTrustMark              = "trust-mark+jwt"
	WellKnownPath              = "/.well-known/openid-federation"
)

// SigningAlgs are the signature algorithms accepted on anything received:
// the two SPID requires and the recommended ones. none, HS* and RSA1_5 are
// never accepted (spec §0, F013); go-jose refuses anything not listed.
var SigningAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS512, jose.PS256, jose.PS512, jose.ES256, jose.ES512}

// MinRSABits is the smallest RSA key accepted or used (spec §0).
const MinRSABits = 2048

// Signer is one private key with its published identity.
type Signer struct {
	Key crypto.Signer
	KID string
	Alg jose.SignatureAlgorithm
}

// NewSigner wraps an RSA key, naming it by its RFC 7638 thumbprint.
func NewSigner(k *rsa.PrivateKey, alg jose.SignatureAlgorithm) (Signer, error) {
	if k.N.BitLen() < MinRSABits {
		return Signer{}, fmt.Errorf("federation: RSA key of %d bits, at least %d required", k.N.BitLen(), MinRSABits)
	}
	if alg == "" {
		alg = jose.RS256
	}
	kid, err := Thumbprint(&k.PublicKey)
	if err != nil {
		return Signer{}, err
	}
	return Signer{Key: k, KID: kid, Alg: alg}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, base64url:
// the kid of every key we publish (spec §1.3).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("federation: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// Public is the signer's public JWK (use "sig").
func (s Signer) Public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.Key.Public(), KeyID: s.KID, Algorithm: string(s.Alg), Use: "sig"}
}

// Sign serialises claims as a compact JWS with the given typ ("" for none).
func (s Signer) Sign(typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("federation: encoding claims: %w", err)
	}
	return s.SignBytes(typ, payload)
}

// SignBytes signs an already encoded payload.
func (s Signer) SignBytes(typ string, payload []byte) (string, error) {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: s.Alg, Key: jose.JSONWebKey{Key: s.Key, KeyID: s.KID}}, opts)
	if err != nil {
		return "", fmt.Errorf("federation: signer: %w", err)
	}
	obj, err := sg.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("federation: signing: %w", err)
	}
	return obj.CompactSerialize()
}

// Verified is a compact JWS whose signature checked out.
type Verified struct {
	Payload []byte
	KID     string
	Alg     string
	Typ     string
	Key     jose.JSONWebKey // the key that verified it
}

// ErrSignature is wrapped by every verification failure.
var ErrSignature = errors.New("signature not valid")

// Header reads the protected header of a compact JWS without verifying it:
// kid and typ choose the keys to try, nothing in it is trusted.
func Header(compact string) (jose.Header, error) {
	obj, err := jose.ParseSignedCompact(compact, SigningAlgs)
	if err != nil {
		return jose.Header{}, fmt.Errorf("not a compact JWS: %w", err)
	}
	if len(obj.Signatures) != 1 {
		return jose.Header{}, errors.New("not a single-signature JWS")
	}
	return obj.Signatures[0].Protected, nil
}

// UnverifiedPayload returns the payload of a compact JWS without checking
// the signature: only to learn which keys to look for (an entity
// configuration names its own keys).
func UnverifiedPayload(compact string) ([]byte, error) {
	obj, err := jose.ParseSignedCompact(compact, SigningAlgs)
	if err != nil {
		return nil, fmt.Errorf("not a compact JWS: %w", err)
	}
	return obj.UnsafePayloadWithoutVerification(), nil
}

// Verify checks a compact JWS against keys. With a kid in the header only
// the keys with that kid are tried; without one every signing key is
// (spec §14 item 24). An x5c header is never used for trust. Only RSA keys
// of at least MinRSABits and EC keys are accepted.
func Verify(compact string, keys jose.JSONWebKeySet) (Verified, error) {
	obj, err := jose.ParseSignedCompact(compact, SigningAlgs)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: not a compact JWS with an accepted algorithm: %v", ErrSignature, err)
	}
	if len(obj.Signatures) != 1 {
		return Verified{}, fmt.Errorf("%w: not a single-signature JWS", ErrSignature)
	}
	h := obj.Signatures[0].Protected
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	candidates := keys.Keys
	if h.KeyID != "" {
		candidates = keys.Key(h.KeyID)
	}
	for _, k := range candidates {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !strongKey(k.Key) {
			continue
		}
		if payload, err := obj.Verify(k.Key); err == nil {
			return Verified{Payload: payload, KID: h.KeyID, Alg: h.Algorithm, Typ: typ, Key: k}, nil
		}
	}
	if h.KeyID != "" && len(candidates) == 0 {
		return Verified{}, fmt.Errorf("%w: no key with kid %q", ErrSignature, clip(h.KeyID))
	}
	return Verified{}, fmt.Errorf("%w: no trusted key verifies it", ErrSignature)
}

func strongKey(k any) bool {
	switch pk := k.(type) {
	case *rsa.PublicKey:
		return pk.N.BitLen() >= MinRSABits
	case *rsa.PrivateKey:
		return pk.N.BitLen() >= MinRSABits
	case nil:
		return false
	default:
		return true // EC keys: go-jose checks the curve against the alg
	}
}

// PublicSet keeps only the public halves of a key set.
func PublicSet(keys ...jose.JSONWebKey) jose.JSONWebKeySet {
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, k.Public())
	}
	return out
}

// clip bounds what an untrusted value contributes to an error or a log.
func clip(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
