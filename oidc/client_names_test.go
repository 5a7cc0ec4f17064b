package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// A client's localised names come from organization_name#<lang> of its
// federation_entity, else from client_name#<lang>; the untagged name
// stays the fallback.
func TestClientNames(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}}})
	var jwks any
	_ = json.Unmarshal(raw, &jwks)
	const id = "https://rp.example.it"
	for _, tc := range []struct {
		name     string
		md, fe   map[string]any
		wantName string
		want     map[string]string
	}{
		{"untagged only", map[string]any{"client_name": "Servizio"}, map[string]any{"organization_name": "Ente"}, "Ente", nil},
		{"organization_name#en", map[string]any{"client_name#en": "Service"},
			map[string]any{"organization_name": "Ente", "organization_name#en": "Agency"}, "Ente", map[string]string{"en": "Agency"}},
		{"client_name#en when the organization has none", map[string]any{"client_name": "Servizio", "client_name#en": "Service"},
			map[string]any{}, "Servizio", map[string]string{"en": "Service"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := map[string]any{"redirect_uris": []any{id + "/cb"}, "jwks": jwks, "response_types": []any{"code"},
				"grant_types": []any{"authorization_code"}, "token_endpoint_auth_method": "private_key_jwt",
				"client_registration_types": []any{"automatic"}}
			maps.Copy(md, tc.md)
			cl, err := ClientFromChain(&federation.Chain{Subject: id, Metadata: md, FederationEntity: tc.fe}, false)
			if err != nil {
				t.Fatal(err)
			}
			if cl.Name != tc.wantName || !maps.Equal(cl.Names, tc.want) {
				t.Errorf("Name %q Names %v, want %q %v", cl.Name, cl.Names, tc.wantName, tc.want)
			}
		})
	}
}
