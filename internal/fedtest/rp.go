package fedtest

import (
	"crypto/rsa"
	"net/http"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// RP is a relying party of the test federation: its entity configuration
// and the core keys it signs requests and decrypts userinfo with.
type RP struct {
	*federation.Entity
	Name string
	// NameEN, when set, is published as client_name#en and
	// organization_name#en (the demo's English pages use it).
	NameEN      string
	RedirectURI string
	Sig         federation.Signer
	Enc         *rsa.PrivateKey
	EncKID      string
	// Extra claims merged into openid_relying_party (tests: defects).
	Extra map[string]any
	// web, once EnableWeb is called, serves the demo RP's pages.
	web *WebOptions
}

// NewRP makes a relying party whose keys are name-fed, name-sig and
// name-enc of ks, below superior.
func NewRP(ks *KeySource, name, id, display, superior string) (*RP, error) {
	k, err := ks.member(name)
	if err != nil {
		return nil, err
	}
	rp := &RP{Name: display, RedirectURI: id + "/callback", Sig: k.sig, Enc: k.enc, EncKID: k.encKID}
	rp.Entity = &federation.Entity{ID: id, Keys: []federation.Signer{k.fed}, AuthorityHints: []string{superior}}
	rp.Entity.Metadata = rp.metadata
	return rp, nil
}

// CoreJWKS are the RP's signing and encryption public keys.
func (rp *RP) CoreJWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		rp.Sig.Public(),
		{Key: &rp.Enc.PublicKey, KeyID: rp.EncKID, Use: "enc", Algorithm: string(jose.RSA_OAEP)},
	}}
}

func (rp *RP) metadata() map[string]map[string]any {
	m := map[string]any{
		"client_id":                       rp.ID,
		"client_registration_types":       []any{"automatic"},
		"client_name":                     rp.Name,
		"redirect_uris":                   []any{rp.RedirectURI},
		"response_types":                  []any{"code"},
		"grant_types":                     []any{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method":      "private_key_jwt",
		"id_token_signed_response_alg":    "RS256",
		"userinfo_signed_response_alg":    "RS256",
		"userinfo_encrypted_response_alg": "RSA-OAEP",
		"userinfo_encrypted_response_enc": "A256CBC-HS512",
		"jwks":                            rp.CoreJWKS(),
		"contacts":                        []any{"rp@example.invalid"},
	}
	fe := map[string]any{"organization_name": rp.Name, "homepage_uri": rp.ID, "contacts": "rp@example.invalid"}
	if rp.NameEN != "" {
		m["client_name#en"], fe["organization_name#en"] = rp.NameEN, rp.NameEN
	}
	for k, v := range rp.Extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return map[string]map[string]any{
		federation.TypeFederationEntity: fe,
		federation.TypeRelyingParty:     m,
	}
}

// Handler serves the RP's entity configuration and callback.
func (rp *RP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+federation.WellKnownPath, rp.ServeConfiguration)
	mux.HandleFunc("GET /{$}", rp.home)
	mux.HandleFunc("POST /login", rp.start)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("POST /refresh", rp.refresh)
	mux.HandleFunc("POST /revoke", rp.revoke)
	return mux
}
