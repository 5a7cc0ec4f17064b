package fedtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/federation"
)

// The relying party's side of the code flow, as the SPID conformance tool
// plays it: signed request objects with PKCE, private_key_jwt, userinfo
// decrypted and verified. The demo RP and the end-to-end tests use it.

// Pending is what the RP keeps between the authorization request and the
// callback.
type Pending struct {
	State, Nonce, Verifier string
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Request is the request object of a standard SPID authorization: the
// caller may change any claim before signing it with SignRequest.
func (rp *RP) Request(issuer string, acr []string, claims []string) (map[string]any, Pending) {
	p := Pending{State: random(32), Nonce: random(32), Verifier: random(48)}
	sum := sha256.Sum256([]byte(p.Verifier))
	ui := map[string]any{}
	for _, c := range claims {
		ui[c] = nil
	}
	now := time.Now()
	return map[string]any{
		"iss": rp.ID, "sub": rp.ID, "aud": []string{issuer}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": uuid.NewString(), "client_id": rp.ID, "response_type": "code", "scope": "openid",
		"redirect_uri": rp.RedirectURI, "state": p.State, "nonce": p.Nonce,
		"code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]), "code_challenge_method": "S256",
		"prompt": "consent login", "acr_values": strings.Join(acr, " "),
		"claims": map[string]any{"userinfo": ui},
	}, p
}

// SignRequest signs a request object with the RP's core key.
func (rp *RP) SignRequest(ro map[string]any) (string, error) {
	return rp.Sig.Sign("", ro)
}

// AuthorizationURL is the URL the browser goes to: the HTTP parameters
// equal to the request object's, and the request object itself.
func AuthorizationURL(endpoint string, ro map[string]any, signed string) string {
	q := url.Values{"request": {signed}}
	for _, k := range []string{"client_id", "response_type", "scope"} {
		if s, ok := ro[k].(string); ok {
			q.Set(k, s)
		}
	}
	return endpoint + "?" + q.Encode()
}

// ClientAssertion is a private_key_jwt assertion for the endpoint aud.
func (rp *RP) ClientAssertion(aud string) (string, error) {
	now := time.Now()
	return rp.Sig.Sign("", map[string]any{"iss": rp.ID, "sub": rp.ID, "aud": aud, "iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(), "jti": uuid.NewString()})
}

// TokenForm is the code exchange for the token endpoint.
func (rp *RP) TokenForm(tokenEndpoint, code string, p Pending) (url.Values, error) {
	a, err := rp.ClientAssertion(tokenEndpoint)
	if err != nil {
		return nil, err
	}
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {rp.ID}, "client_assertion": {a},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"code":                  {code}, "code_verifier": {p.Verifier}, "redirect_uri": {rp.RedirectURI}}, nil
}

// OpenUserinfo decrypts the userinfo JWE with the RP's key and verifies the
// inner JWS with the OP's keys.
func (rp *RP) OpenUserinfo(jwe string, opKeys jose.JSONWebKeySet) (map[string]any, error) {
	obj, err := jose.ParseEncryptedCompact(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256},
		[]jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512})
	if err != nil {
		return nil, fmt.Errorf("userinfo is not a JWE: %w", err)
	}
	if obj.Header.KeyID != rp.EncKID {
		return nil, fmt.Errorf("userinfo encrypted for kid %q, ours is %q", obj.Header.KeyID, rp.EncKID)
	}
	inner, err := obj.Decrypt(rp.Enc)
	if err != nil {
		return nil, fmt.Errorf("userinfo does not decrypt: %w", err)
	}
	v, err := federation.Verify(string(inner), opKeys)
	if err != nil {
		return nil, fmt.Errorf("inner userinfo JWS: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(v.Payload, &claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// OPKeys reads openid_provider.jwks from an OP entity configuration (the
// RP trusts it as the federation does; here: the statement self-signed).
func OPKeys(ec string) (jose.JSONWebKeySet, map[string]any, error) {
	s, err := federation.ParseStatement(ec, nil, time.Now())
	if err != nil {
		return jose.JSONWebKeySet{}, nil, err
	}
	md := s.Metadata[federation.TypeOpenIDProvider]
	var set jose.JSONWebKeySet
	b, _ := json.Marshal(md["jwks"])
	if err := json.Unmarshal(b, &set); err != nil {
		return jose.JSONWebKeySet{}, nil, err
	}
	return set, md, nil
}
