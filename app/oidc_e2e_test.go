package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/oidc"
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
