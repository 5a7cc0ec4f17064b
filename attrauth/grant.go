package attrauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/spid-idp/spid-idp/federation"
)

// DefaultLifetime of a grant token [DEC 300 s, configurable] (spec §10).
const DefaultLifetime = 5 * time.Minute

// Grant algorithms [DEC defaults of spec §9.4].
const (
	KeyAlg     = jose.RSA_OAEP_256
	ContentEnc = jose.A256CBC_HS512
)

// Signer signs grant tokens: the SAML signing key for SAML (verifiable
// with the certificate of our metadata, A025) or the current OIDC core key.
type Signer struct {
	Key crypto.Signer
	KID string
	Alg jose.SignatureAlgorithm // RS256 when empty
}

// SignerFor names key by its RFC 7638 thumbprint, as every key we publish.
func SignerFor(key crypto.Signer) (Signer, error) {
	kid, err := federation.Thumbprint(key.Public())
	if err != nil {
		return Signer{}, err
	}
	return Signer{Key: key, KID: kid, Alg: jose.RS256}, nil
}

// Grant is what one grant token says (spec §9.4).
type Grant struct {
	Issuer string // SAML entityID, or the OP issuer
	AA     AA
	// SID is "saml:" + Response ID or "oidc:" + ID Token jti (A028).
	SID string
	// ACR is the level of this authentication (A029).
	ACR string
	// Actor is the SP entityID or the RP client_id (act.sub, A032).
	Actor string
	// Claims are the user's claims, OIDC names and format (spec §8); the
	// token carries the AA's required ones and its sub is the lookup one.
	Claims   map[string]any
	Lifetime time.Duration
}

// Minted is an issued grant token and what is kept of it.
type Minted struct {
	JWE     string
	JTI     string
	Subject string
	IssuedAt,
	Expires time.Time
}

// Digest names a grant token in storage: SHA-256 of the compact JWE, hex.
func Digest(jwe string) string {
	h := sha256.Sum256([]byte(jwe))
	return hex.EncodeToString(h[:])
}

// ErrMissingAttribute is returned when the user lacks an attribute the AA
// requires (A034): such an AA is not offered to them.
var ErrMissingAttribute = errors.New("attrauth: user lacks an attribute the AA requires")

// Missing lists the AA's required claims (and lookup claim) the user does
// not hold.
func Missing(aa AA, claims map[string]any) []string {
	var out []string
	for _, c := range append([]string{aa.Lookup}, aa.Required...) {
		if _, ok := claims[c]; !ok && !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Mint signs the grant claims with s and encrypts them for the AA: a
// compact JWE (typ aa-grant+jwt, cty JWT, kid of the AA key) around a
// compact JWS (typ aa-grant+jwt, kid of s) (spec §9.4, A023–A034).
func Mint(s Signer, g Grant, now time.Time) (Minted, error) {
	if missing := Missing(g.AA, g.Claims); len(missing) > 0 {
		return Minted{}, fmt.Errorf("%w: %v", ErrMissingAttribute, missing)
	}
	sub, ok := g.Claims[g.AA.Lookup].(string)
	if !ok || sub == "" {
		return Minted{}, fmt.Errorf("%w: lookup claim %s is not a string", ErrMissingAttribute, g.AA.Lookup)
	}
	life := g.Lifetime
	if life <= 0 {
		life = DefaultLifetime
	}
	iat := now.Unix()
	exp := iat + int64(life/time.Second)
	jti, err := uuid4()
	if err != nil {
		return Minted{}, err
	}
	claims := map[string]any{}
	for _, c := range g.AA.Required {
		claims[c] = g.Claims[c]
	}
	// The protocol claims are set last: an attribute never overrides them.
	for k, v := range map[string]any{
		"iss": g.Issuer, "aud": g.AA.ID, "sid": g.SID, "acr": g.ACR, "iat": iat, "nbf": iat,
		"exp": exp, "sub": sub, "act": map[string]string{"sub": g.Actor}, "jti": jti,
	} {
		claims[k] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: encoding grant: %w", err)
	}
	alg := s.Alg
	if alg == "" {
		alg = jose.RS256
	}
	var key any = s.Key
	if _, isRSA := s.Key.(*rsa.PrivateKey); !isRSA {
		key = cryptosigner.Opaque(s.Key) // a key held in an HSM
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: s.KID}},
		(&jose.SignerOptions{}).WithType(JOSEType))
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: grant signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: signing grant: %w", err)
	}
	inner, err := jws.CompactSerialize()
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: signing grant: %w", err)
	}
	enc, err := jose.NewEncrypter(ContentEnc, jose.Recipient{Algorithm: KeyAlg, Key: g.AA.EncKey.Key, KeyID: g.AA.EncKey.KeyID},
		(&jose.EncrypterOptions{}).WithType(JOSEType).WithContentType("JWT"))
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: grant encrypter for %s: %w", g.AA.ID, err)
	}
	obj, err := enc.Encrypt([]byte(inner))
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: encrypting grant: %w", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return Minted{}, fmt.Errorf("attrauth: encrypting grant: %w", err)
	}
	return Minted{JWE: out, JTI: jti, Subject: sub, IssuedAt: time.Unix(iat, 0), Expires: time.Unix(exp, 0)}, nil
}

// Opened is a decrypted and verified grant token (what an AA sees).
type Opened struct {
	EncHeader, SigHeader jose.Header
	Claims               map[string]any
	Raw                  []byte
}

// Open decrypts a grant token with the AA's key and verifies its signature
// with issuerKeys: what the demo AA does and what tests check.
func Open(jwe string, aaKey *rsa.PrivateKey, issuerKeys jose.JSONWebKeySet) (Opened, error) {
	obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256},
		[]jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512})
	if err != nil {
		return Opened{}, fmt.Errorf("attrauth: grant token is not a JWE: %w", err)
	}
	inner, err := obj.Decrypt(aaKey)
	if err != nil {
		return Opened{}, fmt.Errorf("attrauth: grant token does not decrypt: %w", err)
	}
	if typ, _ := obj.Header.ExtraHeaders[jose.HeaderType].(string); typ != JOSEType {
		return Opened{}, fmt.Errorf("attrauth: grant JWE typ %q", typ)
	}
	v, err := federation.Verify(string(inner), issuerKeys)
	if err != nil {
		return Opened{}, fmt.Errorf("attrauth: grant token signature: %w", err)
	}
	h, _ := federation.Header(string(inner))
	var claims map[string]any
	if err := json.Unmarshal(v.Payload, &claims); err != nil {
		return Opened{}, fmt.Errorf("attrauth: grant claims: %w", err)
	}
	return Opened{EncHeader: obj.Header, SigHeader: h, Claims: claims, Raw: v.Payload}, nil
}

// uuid4 is a random RFC 9562 version 4 UUID.
func uuid4() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("attrauth: random: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
