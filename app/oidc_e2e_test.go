package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/storage"
)

const (
	testAcrL1 = "https://www.spid.gov.it/SpidL1"
	testAcrL2 = "https://www.spid.gov.it/SpidL2"
)

var testClaims = []string{"given_name", "family_name", oidc.ClaimPrefix + "fiscal_number", "email"}

// opKeys fetches our entity configuration as a relying party would and
// returns openid_provider.jwks.
func opKeys(t *testing.T, a *App, ts string) jose.JSONWebKeySet {
	t.Helper()
	res, err := http.Get(a.Config.OIDC.Issuer + federation.WellKnownPath)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != federation.ContentTypeEntityStatement {
		t.Fatalf("F001: entity configuration %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	keys, md, err := fedtest.OPKeys(string(body))
	if err != nil {
		t.Fatal(err)
	}
	if md["token_endpoint"] != a.Config.OIDC.Issuer+"/token" {
		t.Fatalf("token_endpoint %v", md["token_endpoint"])
	}
	return keys
}

// authorize sends the browser to the authorization endpoint with ro.
func authorize(br *browser, issuer string, rp *fedtest.RP, ro map[string]any) page {
	br.t.Helper()
	signed, err := rp.SignRequest(ro)
	if err != nil {
		br.t.Fatal(err)
	}
	return br.get(fedtest.AuthorizationURL(issuer+"/authorization", ro, signed))
}

func postForm(t *testing.T, u string, v url.Values) (*http.Response, map[string]any) {
	t.Helper()
	res, err := http.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

// redeem trades code for tokens at the token endpoint as rp and fails t
// unless the OP answers 200; it returns the token response.
func redeem(t *testing.T, rp *fedtest.RP, issuer, code string, pend fedtest.Pending) map[string]any {
	t.Helper()
	form, err := rp.TokenForm(issuer+"/token", code, pend)
	if err != nil {
		t.Fatal(err)
	}
	res, tok := postForm(t, issuer+"/token", form)
	if res.StatusCode != 200 {
		t.Fatalf("token: %d %v", res.StatusCode, tok)
	}
	return tok
}

// idTokenClaims verifies the ID Token of tok with the OP's keys and
// returns its claims.
func idTokenClaims(t *testing.T, tok map[string]any, keys jose.JSONWebKeySet) map[string]any {
	t.Helper()
	raw, _ := tok["id_token"].(string)
	v, err := federation.Verify(raw, keys)
	if err != nil {
		t.Fatal(err)
	}
	var id map[string]any
	if err := json.Unmarshal(v.Payload, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOIDCCodeFlowEndToEnd plays the demo relying party through the HTTP
// server: signed request object → login → consent → code → token (private
// key JWT) → userinfo decrypted and verified.
func TestOIDCCodeFlowEndToEnd(t *testing.T) {
	a, ts, info := testApp(t)
	issuer := a.Config.OIDC.Issuer
	keys := opKeys(t, a, ts.URL)
	rp := a.demoFed.RP1
	br := newBrowser(t)

	ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
	login := authorize(br, issuer, rp, ro)
	if login.status != 200 || !strings.Contains(login.body, "password") {
		t.Fatalf("login page: %d %s\n%s", login.status, login.url, login.body)
	}
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if consent.status != 200 || !strings.Contains(consent.body, "Mario") || !strings.Contains(consent.body, rp.Name) {
		t.Fatalf("consent page: %d\n%s", consent.status, consent.body)
	}
	back := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	q := back.url.Query()
	if back.url.Path != "/demo-rp/callback" || q.Get("state") != pend.State || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("O027: authorization response %s", back.url)
	}
	code := q.Get("code")

	form, err := rp.TokenForm(issuer+"/token", code, pend)
	if err != nil {
		t.Fatal(err)
	}
	res, tok := postForm(t, issuer+"/token", form)
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Pragma") != "no-cache" ||
		res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("O054: token response %d %v %v", res.StatusCode, res.Header, tok)
	}
	if tok["token_type"] != "Bearer" || tok["expires_in"] != float64(900) {
		t.Fatalf("O055: %v", tok)
	}
	at, _ := tok["access_token"].(string)
	idt, _ := tok["id_token"].(string)
	v, err := federation.Verify(idt, keys)
	if err != nil {
		t.Fatalf("O055: ID token does not verify with openid_provider.jwks: %v", err)
	}
	var id map[string]any
	_ = json.Unmarshal(v.Payload, &id)
	if id["iss"] != issuer || id["aud"] != rp.ID || id["acr"] != testAcrL1 || id["nonce"] != pend.Nonce ||
		id["exp"].(float64)-id["iat"].(float64) != 300 || id["nbf"] != id["iat"] || id["at_hash"] == nil {
		t.Fatalf("O057–O060: ID token claims %v", id)
	}
	if _, ok := id["given_name"]; ok {
		t.Fatal("O061: the ID token carries user attributes")
	}
	if v.KID != keys.Keys[0].KeyID {
		t.Fatalf("F014: ID token signed with kid %s, the current key is %s", v.KID, keys.Keys[0].KeyID)
	}

	req, _ := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	ures, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(ures.Body)
	ures.Body.Close()
	if ures.StatusCode != 200 || ures.Header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("O074: userinfo %d %q %s", ures.StatusCode, ures.Header.Get("Content-Type"), body)
	}
	claims, err := rp.OpenUserinfo(string(body), keys)
	if err != nil {
		t.Fatalf("O075/O076: %v", err)
	}
	if claims["sub"] != id["sub"] || claims["aud"] != rp.ID || claims["given_name"] != "Mario" ||
		claims[oidc.ClaimPrefix+"fiscal_number"] != "TINIT-RSSMRA80A01H501U" {
		t.Fatalf("O076/O077: userinfo claims %v", claims)
	}
	if _, ok := claims["birthdate"]; ok {
		t.Fatal("O077: a claim that was not requested was released")
	}

	// O036: the code again → invalid_grant, and its access token revoked.
	form, _ = rp.TokenForm(issuer+"/token", code, pend)
	if res, out := postForm(t, issuer+"/token", form); res.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("O036: code reused: %d %v", res.StatusCode, out)
	}
	ures, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ures.Body.Close()
	if ures.StatusCode != 401 || !strings.Contains(ures.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("O036/O073: access token of a reused code still works: %d", ures.StatusCode)
	}
}

// TestOIDCDemoRPEndToEnd clicks through the demo relying parties as a
// person would after `make run`: RP1 under the trust anchor, RP2 under the
// intermediate (F036 in part: login and userinfo).
func TestOIDCDemoRPEndToEnd(t *testing.T) {
	a, _, info := testApp(t)
	for _, rp := range []*fedtest.RP{a.demoFed.RP1, a.demoFed.RP2} {
		t.Run(rp.Name, func(t *testing.T) {
			br := newBrowser(t)
			home := br.get(rp.ID + "/")
			login := br.submit(home, "/login", url.Values{"level": {"1"}})
			if !strings.Contains(login.url.Path, "/oidc/op/authorization") || !strings.Contains(login.body, "password") {
				t.Fatalf("login page: %d %s", login.status, login.url)
			}
			consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
			done := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
			for _, want := range []string{"TINIT-RSSMRA80A01H501U", "Mario", "Rossi", "SpidL1", "DEMO0000000001"} {
				if !strings.Contains(done.body, want) {
					t.Fatalf("RP page lacks %q: %d %s\n%s", want, done.status, done.url, done.body)
				}
			}
		})
	}
}

// TestOIDCEntityConfiguration checks what our entity configuration
// publishes (spec §2.1).
func TestOIDCEntityConfiguration(t *testing.T) {
	a, _, _ := testApp(t)
	issuer := a.Config.OIDC.Issuer
	res, err := http.Get(issuer + federation.WellKnownPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ec := string(body)
	st, err := federation.ParseStatement(ec, nil, time.Now())
	if err != nil {
		t.Fatalf("F004: %v", err)
	}
	if st.Issuer != issuer || st.Subject != issuer || st.Expires-st.IssuedAt != 48*3600 {
		t.Fatalf("F003: iss %s sub %s lifetime %d", st.Issuer, st.Subject, st.Expires-st.IssuedAt)
	}
	keys, op, err := fedtest.OPKeys(ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := federation.Verify(ec, keys); err != nil {
		t.Fatalf("F005: the configuration does not verify with openid_provider.jwks: %v", err)
	}
	if last := keys.Keys[len(keys.Keys)-1]; last.KeyID != st.JWKS.Keys[0].KeyID {
		t.Fatal("F005: the federation key is not last in openid_provider.jwks")
	}
	if len(st.TrustMarks) != 1 || st.TrustMarks[0].ID != a.demoFed.TA.ID+fedtest.MarkOP {
		t.Fatalf("F007: trust marks %v", st.TrustMarks)
	}
	if _, err := federation.VerifyTrustMark(st.TrustMarks[0], issuer, a.demoFed.TA.JWKS(), time.Now()); err != nil {
		t.Fatalf("F007: %v", err)
	}
	fe := st.Metadata[federation.TypeFederationEntity]
	for _, k := range []string{"organization_name", "homepage_uri", "policy_uri", "logo_uri", "contacts", "federation_resolve_endpoint"} {
		if fe[k] == nil {
			t.Errorf("F009: federation_entity lacks %s", k)
		}
	}
	if logo, _ := fe["logo_uri"].(string); !strings.HasSuffix(logo, ".svg") {
		t.Errorf("F009: logo_uri %q", logo)
	}
	want := map[string]any{
		"issuer": issuer, "authorization_endpoint": issuer + "/authorization", "token_endpoint": issuer + "/token",
		"userinfo_endpoint": issuer + "/userinfo", "response_types_supported": []any{"code"},
		"introspection_endpoint": issuer + "/introspection", "revocation_endpoint": issuer + "/revocation",
		"revocation_endpoint_auth_methods_supported": []any{"private_key_jwt"},
		"response_modes_supported":                   []any{"form_post", "query"}, "grant_types_supported": []any{"authorization_code", "refresh_token"},
		"scopes_supported": []any{"openid", "offline_access"}, "subject_types_supported": []any{"pairwise"},
		"id_token_signing_alg_values_supported": []any{"RS256", "RS512"}, "userinfo_signing_alg_values_supported": []any{"RS256", "RS512"},
		"request_object_signing_alg_values_supported": []any{"RS256", "RS512"}, "token_endpoint_auth_signing_alg_values_supported": []any{"RS256", "RS512"},
		"userinfo_encryption_alg_values_supported": []any{"RSA-OAEP", "RSA-OAEP-256"}, "userinfo_encryption_enc_values_supported": []any{"A128CBC-HS256", "A256CBC-HS512"},
		"token_endpoint_auth_methods_supported": []any{"private_key_jwt"}, "code_challenge_methods_supported": []any{"S256"},
		"claims_parameter_supported": true, "request_parameter_supported": true, "authorization_response_iss_parameter_supported": true,
		"client_registration_types_supported": []any{"automatic"}, "acr_values_supported": []any{testAcrL1, testAcrL2},
		"request_authentication_methods_supported": map[string]any{"authorization_endpoint": []any{"request_object"}},
	}
	for k, w := range want {
		got, _ := json.Marshal(op[k])
		exp, _ := json.Marshal(w)
		if string(got) != string(exp) {
			t.Errorf("F010: %s = %s, want %s", k, got, exp)
		}
	}
	if c, _ := op["claims_supported"].([]any); len(c) != 17 {
		t.Errorf("F012: %d claims_supported", len(c))
	}
	for _, k := range []string{"id_token_encryption_alg_values_supported", "id_token_encryption_enc_values_supported",
		"request_object_encryption_alg_values_supported", "request_object_encryption_enc_values_supported",
		"op_policy_uri", "op_tos_uri", "jwks_uri", "request_uri_parameter_supported"} {
		if _, ok := op[k]; ok {
			t.Errorf("F011: %s published", k)
		}
	}
	for k, v := range op {
		if s, _ := json.Marshal(v); strings.Contains(string(s), `"none"`) || strings.Contains(string(s), `"HS256"`) || strings.Contains(string(s), `"RSA1_5"`) {
			t.Errorf("F013: %s lists a forbidden algorithm", k)
		}
	}
}

// TestOIDCResolveEndpoint: /resolve answers for cached chains only (F031).
func TestOIDCResolveEndpoint(t *testing.T) {
	a, _, _ := testApp(t)
	issuer := a.Config.OIDC.Issuer
	rp, ta := a.demoFed.RP1, a.demoFed.TA.ID
	resolve := func() *http.Response {
		res, err := http.Get(issuer + "/resolve?" + url.Values{"sub": {rp.ID}, "anchor": {ta}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := resolve()
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("F031: an uncached subject answered %d", res.StatusCode)
	}
	// An authorization request makes the OP resolve RP1.
	ro, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
	authorize(newBrowser(t), issuer, rp, ro)
	res = resolve()
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != federation.ContentTypeEntityStatement {
		t.Fatalf("F031: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	p, _ := federation.UnverifiedPayload(string(body))
	var c struct {
		Iss        string                    `json:"iss"`
		Sub        string                    `json:"sub"`
		Metadata   map[string]map[string]any `json:"metadata"`
		TrustChain []string                  `json:"trust_chain"`
	}
	_ = json.Unmarshal(p, &c)
	if c.Iss != issuer || c.Sub != rp.ID || len(c.TrustChain) != 3 || c.Metadata[federation.TypeRelyingParty]["client_id"] != rp.ID {
		t.Fatalf("F031: resolve answer %+v", c)
	}
	bad, _ := http.Get(issuer + "/resolve?sub=" + url.QueryEscape(rp.ID))
	bad.Body.Close()
	if bad.StatusCode != 400 {
		t.Fatalf("F032: resolve without anchor answered %d", bad.StatusCode)
	}
}

// TestOIDCLevel2 runs an SpidL2 authorization through the second factor:
// the ID token says SpidL2 (O029, O058) and the pairwise sub is the same
// at the same RP and different at another (O079).
func TestOIDCLevel2(t *testing.T) {
	a, _, info := testApp(t)
	ctx := context.Background()
	if err := a.EnsureDemoDevice(ctx); err != nil {
		t.Fatal(err)
	}
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	issuer := a.Config.OIDC.Issuer
	keys := opKeys(t, a, "")
	subOf := func(rp *fedtest.RP, level string) map[string]any {
		br := newBrowser(t)
		ro, pend := rp.Request(issuer, []string{level}, testClaims)
		p := authorize(br, issuer, rp, ro)
		p = br.submit(p, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		if level == testAcrL2 {
			if err := a.Backends.Store.UpdateDevice(ctx, demoDeviceID, func(d storage.Device) (storage.Device, error) {
				d.LastStep = 0
				return d, nil
			}); err != nil {
				t.Fatal(err)
			}
			p = br.submit(p, "/login/otp", url.Values{"otp": {otp.Code(seed, time.Now())}, "op": {"submit"}})
		}
		p = br.submit(p, "/consent", url.Values{"op": {"accept"}})
		return idTokenClaims(t, redeem(t, rp, issuer, p.url.Query().Get("code"), pend), keys)
	}
	l2 := subOf(a.demoFed.RP1, testAcrL2)
	if l2["acr"] != testAcrL2 {
		t.Fatalf("O029/O058: acr %v after an SpidL2 request", l2["acr"])
	}
	l1 := subOf(a.demoFed.RP1, testAcrL1)
	other := subOf(a.demoFed.RP2, testAcrL1)
	if l1["sub"] != l2["sub"] || l1["sub"] == other["sub"] || len(l1["sub"].(string)) != 43 {
		t.Fatalf("O079: sub %v, %v at RP1, %v at RP2", l1["sub"], l2["sub"], other["sub"])
	}
}
