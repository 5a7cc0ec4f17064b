package oidc

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// Client is a relying party as its resolved trust chain describes it
// (automatic registration: nothing about it is stored by hand).
type Client struct {
	ID   string
	Name string
	// Names are its name per language (organization_name#en, else
	// client_name#en, …); Name is the untagged one.
	Names        map[string]string
	RedirectURIs []string
	// SigKeys verify its request objects and client assertions.
	SigKeys jose.JSONWebKeySet
	// EncKey encrypts its userinfo.
	EncKey         jose.JSONWebKey
	GrantTypes     []string
	IDTokenAlg     jose.SignatureAlgorithm
	UserinfoSigAlg jose.SignatureAlgorithm
	UserinfoEncAlg jose.KeyAlgorithm
	UserinfoEncEnc jose.ContentEncryption
	Chain          *federation.Chain
}

var (
	sigAlgs = []string{"RS256", "RS512"}
	encAlgs = []string{"RSA-OAEP", "RSA-OAEP-256"}
	encEncs = []string{"A128CBC-HS256", "A256CBC-HS512"}
)

// ClientFromChain checks the final metadata of spec §2.6 (F024) and builds
// the client. allowHTTP admits http:// ids and redirect URIs (demo, tests).
func ClientFromChain(c *federation.Chain, allowHTTP bool) (*Client, error) {
	md := c.Metadata
	cl := &Client{ID: c.Subject, Chain: c}
	str := func(k, def string) string {
		if s, ok := md[k].(string); ok && s != "" {
			return s
		}
		return def
	}
	list := func(k string) []string {
		var out []string
		if arr, ok := md[k].([]any); ok {
			for _, x := range arr {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	if id := str("client_id", c.Subject); id != c.Subject {
		return nil, fmt.Errorf("client_id %q differs from the entity id", id)
	}
	if err := checkScheme(c.Subject, allowHTTP, false); err != nil {
		return nil, fmt.Errorf("client_id: %w", err)
	}
	cl.RedirectURIs = list("redirect_uris")
	if len(cl.RedirectURIs) == 0 {
		return nil, errors.New("no redirect_uris")
	}
	for _, u := range cl.RedirectURIs {
		if err := checkScheme(u, allowHTTP, true); err != nil {
			return nil, fmt.Errorf("redirect_uris: %w", err)
		}
	}
	if !slices.Contains(list("response_types"), "code") {
		return nil, errors.New("response_types lacks code")
	}
	cl.GrantTypes = list("grant_types")
	if !slices.Contains(cl.GrantTypes, "authorization_code") {
		return nil, errors.New("grant_types lacks authorization_code")
	}
	for _, g := range cl.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, fmt.Errorf("grant_types has %q", g)
		}
	}
	if str("token_endpoint_auth_method", "") != "private_key_jwt" {
		return nil, errors.New("token_endpoint_auth_method is not private_key_jwt")
	}
	if !slices.Contains(list("client_registration_types"), "automatic") {
		return nil, errors.New("client_registration_types lacks automatic")
	}
	for _, a := range []struct {
		key, def string
		allowed  []string
		dst      func(string)
	}{
		{"id_token_signed_response_alg", "RS256", sigAlgs, func(s string) { cl.IDTokenAlg = jose.SignatureAlgorithm(s) }},
		{"userinfo_signed_response_alg", "RS256", sigAlgs, func(s string) { cl.UserinfoSigAlg = jose.SignatureAlgorithm(s) }},
		{"userinfo_encrypted_response_alg", "RSA-OAEP", encAlgs, func(s string) { cl.UserinfoEncAlg = jose.KeyAlgorithm(s) }},
		{"userinfo_encrypted_response_enc", "A256CBC-HS512", encEncs, func(s string) { cl.UserinfoEncEnc = jose.ContentEncryption(s) }},
	} {
		v := str(a.key, a.def)
		if !slices.Contains(a.allowed, v) {
			return nil, fmt.Errorf("%s %q is not allowed", a.key, v)
		}
		a.dst(v)
	}
	var set jose.JSONWebKeySet
	raw, err := json.Marshal(md["jwks"])
	if err == nil {
		err = json.Unmarshal(raw, &set)
	}
	if err != nil || len(set.Keys) == 0 {
		return nil, errors.New("no usable jwks")
	}
	for _, k := range set.Keys {
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < federation.MinRSABits {
			continue
		}
		if k.Use == "" || k.Use == "sig" {
			cl.SigKeys.Keys = append(cl.SigKeys.Keys, k)
		}
		if (k.Use == "" || k.Use == "enc") && cl.EncKey.Key == nil {
			cl.EncKey = k
		}
	}
	if len(cl.SigKeys.Keys) == 0 {
		return nil, errors.New("jwks has no RSA signing key of at least 2048 bits")
	}
	if cl.EncKey.Key == nil {
		return nil, errors.New("jwks has no RSA encryption key of at least 2048 bits")
	}
	cl.Name = str("client_name", "")
	cl.Names = federation.LocalNames(md, "client_name")
	if n, ok := c.FederationEntity["organization_name"].(string); ok && n != "" {
		cl.Name = n
	}
	if names := federation.LocalNames(c.FederationEntity, "organization_name"); names != nil {
		cl.Names = names
	}
	if cl.Name == "" {
		cl.Name = c.Subject
	}
	return cl, nil
}

// checkScheme: https (http in demo/test); a redirect URI may also use a
// custom scheme (mobile apps, spec §2.6).
func checkScheme(raw string, allowHTTP, redirect bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URI", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP {
			return nil
		}
		return fmt.Errorf("%q is not https", raw)
	}
	if redirect {
		return nil
	}
	return fmt.Errorf("%q is not https", raw)
}

// Refresh keeps allowed grant types in mind (refresh tokens come later).
func (c *Client) allowsRefresh() bool { return slices.Contains(c.GrantTypes, "refresh_token") }

// NameIn is the client's name in lang, else its untagged name.
func (c *Client) NameIn(lang string) string {
	if n := c.Names[lang]; n != "" {
		return n
	}
	return c.Name
}
