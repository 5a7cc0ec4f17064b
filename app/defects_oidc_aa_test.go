package app

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// The OIDC Attribute Authority defects: a grant token whose content is
// wrong one way (A023–A033, judged by the checks the SAML part shares), a
// grant that cannot be revoked or stays active (A039, A040), and an
// expired refresh token accepted (O070). The grant is rewritten inside the
// token response and the ID token signed again with the OP's key, so only
// the grant is wrong.

// grantParts is a grant token taken apart: what a defect may change
// before it is sealed again.
type grantParts struct {
	keyAlg jose.KeyAlgorithm
	enc    jose.ContentEncryption
	typ    string // of the JWE and of the inner JWS
	sigKey *rsa.PrivateKey
	sigKID string // "" = no kid in the inner JWS header
	claims map[string]any
}

// payloadOf decodes the payload of a compact JWS without verifying it.
func payloadOf(compact string) (map[string]any, error) {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return nil, errNotJWS
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // numeric dates come back as they were
	var m map[string]any
	return m, d.Decode(&m)
}

var errNotJWS = errors.New("not a compact JWS")

// regrant returns a change of the token response that rewrites the grant
// token of the ID token's tokens claim as edit says.
func regrant(t *testing.T, a *App, edit func(g *grantParts)) func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
	key, err := a.oidcKey(a.Config.OIDC.SigningKeyFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	core, err := federation.NewSigner(key, jose.RS256)
	if err != nil {
		t.Fatal(err)
	}
	aa := a.demoFed.AA
	return func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
		return rewriteJSON(rec, func(m map[string]any) bool {
			idt, _ := m["id_token"].(string)
			claims, err := payloadOf(idt)
			if err != nil {
				return false
			}
			toks, _ := claims["tokens"].([]any)
			if len(toks) != 1 {
				return false
			}
			tok, _ := toks[0].(map[string]any)
			jwe, _ := tok["token"].(string)
			obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256CBC_HS512})
			if err != nil {
				t.Errorf("regrant: %v", err)
				return false
			}
			inner, err := obj.Decrypt(aa.Enc)
			if err != nil {
				t.Errorf("regrant: %v", err)
				return false
			}
			gc, err := payloadOf(string(inner))
			if err != nil {
				t.Errorf("regrant: %v", err)
				return false
			}
			g := &grantParts{keyAlg: jose.RSA_OAEP_256, enc: jose.A256CBC_HS512, typ: "aa-grant+jwt", sigKey: key, sigKID: core.KID, claims: gc}
			edit(g)
			payload, _ := json.Marshal(g.claims)
			var sk any = g.sigKey
			if g.sigKID != "" {
				sk = jose.JSONWebKey{Key: g.sigKey, KeyID: g.sigKID}
			}
			sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: sk}, (&jose.SignerOptions{}).WithType(jose.ContentType(g.typ)))
			if err != nil {
				t.Errorf("regrant: %v", err)
				return false
			}
			jws, _ := sg.Sign(payload)
			signed, _ := jws.CompactSerialize()
			en, err := jose.NewEncrypter(g.enc, jose.Recipient{Algorithm: g.keyAlg, Key: &aa.Enc.PublicKey, KeyID: aa.EncKID},
				(&jose.EncrypterOptions{}).WithType(jose.ContentType(g.typ)).WithContentType("JWT"))
			if err != nil {
				t.Errorf("regrant: %v", err)
				return false
			}
			eo, _ := en.Encrypt([]byte(signed))
			tok["token"], _ = eo.CompactSerialize()
			h, err := federation.Header(idt)
			if err != nil {
				return false
			}
			idSigner := core
			idSigner.Alg = jose.SignatureAlgorithm(h.Algorithm)
			if m["id_token"], err = idSigner.Sign("", claims); err != nil {
				t.Errorf("regrant: %v", err)
				return false
			}
			return true
		})
	}
}

// isGrantForm reports whether r carries a grant token (a compact JWE).
func isGrantForm(r *http.Request) bool {
	return r.ParseForm() == nil && strings.Count(r.PostForm.Get("token"), ".") == 4
}

func oidcAADefects(t *testing.T, a *App) []oidcDefect {
	aaCase := []string{"oidc-aa"}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	grant := func(name, id, check string, edit func(g *grantParts)) oidcDefect {
		return oidcDefect{name: name, only: aaCase, wantID: id, wantCheck: check, path: "/token", change: regrant(t, a, edit)}
	}
	return []oidcDefect{
		grant("grant encrypted with RSA1_5", "A023", "JWE alg", func(g *grantParts) { g.keyAlg = jose.RSA1_5 }),
		grant("grant typ JWT", "A023", "JWE typ", func(g *grantParts) { g.typ = "JWT" }),
		grant("grant JWS without kid", "A024", "inner JWS without kid", func(g *grantParts) { g.sigKID = "" }),
		grant("grant signed with a key the OP does not publish", "A025", "openid_provider.jwks.keys[0]", func(g *grantParts) { g.sigKey = other }),
		grant("grant iss the SAML entityID", "A026", "grant iss", func(g *grantParts) { g.claims["iss"] = a.Config.IdP.EntityID }),
		grant("grant aud another AA", "A027", "grant aud", func(g *grantParts) { g.claims["aud"] = "https://aa.elsewhere.invalid" }),
		grant("grant sid in the SAML form", "A028", "grant sid", func(g *grantParts) {
			g.claims["sid"] = strings.Replace(g.claims["sid"].(string), "oidc:", "saml:", 1)
		}),
		grant("grant acr above the level delivered", "A029", "grant acr", func(g *grantParts) { g.claims["acr"] = "https://www.spid.gov.it/SpidL3" }),
		grant("grant nbf after iat", "A030", "nbf", func(g *grantParts) {
			iat, _ := g.claims["iat"].(json.Number).Int64()
			g.claims["nbf"] = iat + 1
		}),
		grant("grant sub the fiscal number, not the AA's lookup email", "A031", "grant sub", func(g *grantParts) {
			g.claims["sub"] = g.claims["https://attributes.eid.gov.it/fiscal_number"]
		}),
		grant("grant without an attribute the AA requires", "A034", "email missing", func(g *grantParts) { delete(g.claims, "email") }),
		grant("grant with another fiscal number", "A034", "released as", func(g *grantParts) {
			g.claims["https://attributes.eid.gov.it/fiscal_number"] = "TINIT-RSSMRA80A01H501X"
		}),
		grant("grant act naming another client", "A032", "act", func(g *grantParts) { g.claims["act"] = map[string]any{"sub": "https://rp.elsewhere.invalid"} }),
		grant("grant jti not a uuid4", "A033", "not a uuid4", func(g *grantParts) { g.claims["jti"] = strings.Repeat("a", 32) }),
		{name: "grant revocation refused", only: aaCase, wantID: "A040", wantCheck: "revocation of the grant",
			intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/revocation") || !isGrantForm(r) {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"token"}`))
				return true
			}},
		{name: "grant revocation ignored", only: aaCase, wantID: "A039", wantCheck: "a revoked grant token introspects",
			intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/revocation") || !isGrantForm(r) {
					return false
				}
				w.WriteHeader(http.StatusOK)
				return true
			}},
		{name: "expired grant still active", only: []string{"oidc-aa-expiry"}, wantID: "A039", wantCheck: "an expired grant token",
			path: "/introspection", change: swapJSON("active", false, true)},
		{name: "level not offered answered with another error", only: []string{"oidc-level-not-offered"}, wantID: "O030", wantCheck: "want access_denied",
			anyPath: true, change: swapQuery("error", "access_denied", "login_required")},
		{name: "spent password attempts answered with another error", only: []string{"oidc-wrong-password"}, wantID: "O031", wantCheck: "want access_denied",
			anyPath: true, change: swapQuery("error", "access_denied", "login_required")},
		{name: "expired refresh token accepted as a bad request", only: []string{"oidc-refresh-expired"}, wantID: "O070", wantCheck: "an expired refresh token",
			path: "/token", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				// The case's only invalid_grant is the expired token's.
				return rewriteJSON(rec, func(m map[string]any) bool {
					if m["error"] != "invalid_grant" {
						return false
					}
					m["error"] = "invalid_request"
					return true
				})
			}},
	}
}
