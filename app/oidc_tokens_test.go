package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/register"
)

// The OP's long revocable sessions (refresh tokens), introspection,
// revocation and logout (oidc-federation.md §3.7, §4.3, §6, §7), through
// the HTTP server with the demo relying parties' keys.

const day = 24 * time.Hour

// offlineLogin runs an authorization with offline_access through login and
// consent (ticking the long-session box when optIn) and exchanges the code.
// change, if set, edits the request object before it is signed.
func offlineLogin(t *testing.T, a *App, br *browser, rp *fedtest.RP, info DemoInfo, optIn bool, change func(ro map[string]any)) (map[string]any, map[string]any) {
	t.Helper()
	issuer := a.Config.OIDC.Issuer
	ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
	ro["scope"] = "openid offline_access"
	if change != nil {
		change(ro)
	}
	p := authorize(br, issuer, rp, ro)
	if strings.Contains(p.body, `name="password"`) {
		p = br.submit(p, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	}
	if p.status != 200 || !strings.Contains(p.body, `action="/consent`) {
		t.Fatalf("consent page: %d %s\n%s", p.status, p.url, p.body)
	}
	extra := url.Values{"op": {"accept"}}
	if optIn {
		if !strings.Contains(p.body, `name="offline"`) {
			t.Fatalf("O035: the consent page has no long-session opt-in:\n%s", p.body)
		}
		extra.Set("offline", "1")
	}
	back := br.submit(p, "/consent", extra)
	code := back.url.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", back.url)
	}
	return redeem(t, rp, issuer, code, pend), ro
}

// clientForm is a request of rp to the endpoint at u with private_key_jwt.
func clientForm(t *testing.T, rp *fedtest.RP, u string, v url.Values) url.Values {
	t.Helper()
	assertion, err := rp.ClientAssertion(u)
	if err != nil {
		t.Fatal(err)
	}
	out := url.Values{"client_id": {rp.ID}, "client_assertion": {assertion}, "client_assertion_type": {oidc.ClientAssertionType}}
	for k, vs := range v {
		out[k] = vs
	}
	return out
}

func refreshWith(t *testing.T, a *App, rp *fedtest.RP, rt string) (*http.Response, map[string]any) {
	t.Helper()
	u := a.Config.OIDC.Issuer + "/token"
	return postForm(t, u, clientForm(t, rp, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}))
}

func introspectWith(t *testing.T, a *App, rp *fedtest.RP, token string) (*http.Response, map[string]any) {
	t.Helper()
	u := a.Config.OIDC.Issuer + "/introspection"
	return postForm(t, u, clientForm(t, rp, u, url.Values{"token": {token}}))
}

func revokeWith(t *testing.T, a *App, rp *fedtest.RP, token string) (*http.Response, map[string]any) {
	t.Helper()
	u := a.Config.OIDC.Issuer + "/revocation"
	return postForm(t, u, clientForm(t, rp, u, url.Values{"token": {token}}))
}

// userinfoStatus is the status of a userinfo call with at.
func userinfoStatus(t *testing.T, a *App, at string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.Config.OIDC.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func claimsOf(t *testing.T, token string, keys jose.JSONWebKeySet) (federation.Verified, map[string]any) {
	t.Helper()
	v, err := federation.Verify(token, keys)
	if err != nil {
		t.Fatalf("token does not verify with openid_provider.jwks: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(v.Payload, &c); err != nil {
		t.Fatal(err)
	}
	return v, c
}

func wantError(t *testing.T, what string, res *http.Response, body map[string]any, status int, code string) {
	t.Helper()
	if res.StatusCode != status || body["error"] != code || body["error_description"] != oidc.Description(code) {
		t.Fatalf("%s: %d %v, want %d %s %q", what, res.StatusCode, body, status, code, oidc.Description(code))
	}
}

// TestOIDCRefreshEndToEnd: a refresh token only after the opt-in, its
// claims and lifetime (CU2), rotation, and reuse revoking the family
// (O063–O070).
func TestOIDCRefreshEndToEnd(t *testing.T) {
	a, _, info := testApp(t)
	keys := opKeys(t, a, "")
	rp := a.demoFed.RP1
	tok, ro := offlineLogin(t, a, newBrowser(t), rp, info, true, nil)
	rt, _ := tok["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("O063: no refresh token after offline_access, consent and opt-in: %v", tok)
	}
	v, c := claimsOf(t, rt, keys)
	_, at := claimsOf(t, tok["access_token"].(string), keys)
	start := int64(ro["iat"].(int64))
	iat, exp := int64(c["iat"].(float64)), int64(c["exp"].(float64))
	if v.KID != keys.Keys[0].KeyID || c["iss"] != a.Config.OIDC.Issuer || c["aud"] != rp.ID || c["client_id"] != rp.ID ||
		c["sub"] != at["sub"] || len(c["jti"].(string)) != 36 {
		t.Fatalf("O064: refresh token kid %s claims %v", v.KID, c)
	}
	if exp-iat >= int64(30*day/time.Second) || exp != min(start+int64(30*day/time.Second), iat+int64(30*day/time.Second)-1) {
		t.Fatalf("O065/O066: CU2 refresh token exp %d, iat %d, session start %d", exp, iat, start)
	}

	res, next := refreshWith(t, a, rp, rt)
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" || next["token_type"] != "Bearer" || next["expires_in"] != float64(900) {
		t.Fatalf("O068: refresh %d %v", res.StatusCode, next)
	}
	rt2, _ := next["refresh_token"].(string)
	if rt2 == "" || rt2 == rt || next["access_token"] == tok["access_token"] {
		t.Fatal("O068: the refresh did not rotate the tokens")
	}
	_, idc := claimsOf(t, next["id_token"].(string), keys)
	if idc["acr"] != testAcrL1 || idc["aud"] != rp.ID || idc["sub"] != at["sub"] ||
		idc["exp"].(float64)-idc["iat"].(float64) > 300 || int64(idc["exp"].(float64)) > start+int64(30*day/time.Second) {
		t.Fatalf("O068: refreshed ID token %v", idc)
	}
	// The family ends at session start + 30 days; only a token issued in
	// the session's first second ends a second earlier (exp − iat < 30 d).
	if _, c2 := claimsOf(t, rt2, keys); int64(c2["exp"].(float64)) != min(start+int64(30*day/time.Second), int64(c2["iat"].(float64))+int64(30*day/time.Second)-1) {
		t.Fatalf("O066: the rotated CU2 token expires at %v, session start %d", c2["exp"], start)
	}
	if st := userinfoStatus(t, a, next["access_token"].(string)); st != 200 {
		t.Fatalf("userinfo with the refreshed access token: %d", st)
	}
	if st := userinfoStatus(t, a, tok["access_token"].(string)); st != 401 {
		t.Fatalf("the access token before the refresh still answers userinfo: %d", st)
	}

	// O069: the spent token again → invalid_grant, and the family ends.
	res, out := refreshWith(t, a, rp, rt)
	wantError(t, "O069: spent refresh token", res, out, 400, oidc.ErrInvalidGrant)
	res, out = refreshWith(t, a, rp, rt2)
	wantError(t, "O069: newest token of a revoked family", res, out, 400, oidc.ErrInvalidGrant)
	if st := userinfoStatus(t, a, next["access_token"].(string)); st != 401 {
		t.Fatalf("O069: the family's access token survives the reuse: %d", st)
	}
}

// TestOIDCRefreshNotIssued: no refresh token unless every condition of
// O063 holds; the login succeeds all the same (O035).
func TestOIDCRefreshNotIssued(t *testing.T) {
	a, _, info := testApp(t)
	rp := a.demoFed.RP1
	for _, tc := range []struct {
		name   string
		optIn  bool
		change func(ro map[string]any)
		offer  bool // the consent page offers the opt-in
	}{
		{"box not ticked", false, nil, true},
		{"no offline_access", false, func(ro map[string]any) { ro["scope"] = "openid" }, false},
		{"SpidL2 only", false, func(ro map[string]any) { ro["acr_values"] = testAcrL2 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := newBrowser(t)
			issuer := a.Config.OIDC.Issuer
			ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
			ro["scope"] = "openid offline_access"
			if tc.change != nil {
				tc.change(ro)
			}
			p := authorize(br, issuer, rp, ro)
			p = br.submit(p, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
			if strings.Contains(p.body, `name="offline"`) != tc.offer {
				t.Fatalf("consent page offers the opt-in: %v, want %v", !tc.offer, tc.offer)
			}
			if strings.Contains(p.body, `name="otp"`) {
				t.Skip("SpidL2 needs the second factor; the opt-in is absent before it")
			}
			back := br.submit(p, "/consent", url.Values{"op": {"accept"}})
			form, _ := rp.TokenForm(issuer+"/token", back.url.Query().Get("code"), pend)
			res, tok := postForm(t, issuer+"/token", form)
			if res.StatusCode != 200 || tok["access_token"] == nil {
				t.Fatalf("O035: login failed: %d %v", res.StatusCode, tok)
			}
			if _, ok := tok["refresh_token"]; ok {
				t.Fatalf("O063: refresh token issued: %v", tok)
			}
		})
	}
}

// TestOIDCRefreshErrors: every refresh refusal with the exact §4.5 code,
// status and description (O049, O070).
func TestOIDCRefreshErrors(t *testing.T) {
	a, _, info := testApp(t)
	rp1, rp2 := a.demoFed.RP1, a.demoFed.RP2
	issuer := a.Config.OIDC.Issuer
	tok, _ := offlineLogin(t, a, newBrowser(t), rp1, info, true, nil)
	rt := tok["refresh_token"].(string)
	// A session whose 30 days are over: the request object's iat is the
	// session start.
	old, _ := offlineLogin(t, a, newBrowser(t), rp1, info, true, func(ro map[string]any) {
		ro["iat"] = time.Now().Add(-30*day - time.Minute).Unix()
	})
	revoked, _ := offlineLogin(t, a, newBrowser(t), rp1, info, true, nil)
	if res, _ := revokeWith(t, a, rp1, revoked["refresh_token"].(string)); res.StatusCode != 200 {
		t.Fatalf("revocation: %d", res.StatusCode)
	}
	u := issuer + "/token"
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no client_id", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, 400, oidc.ErrInvalidRequest},
		{"unknown grant type", clientForm(t, rp1, u, url.Values{"grant_type": {"password"}, "refresh_token": {rt}}), 400, oidc.ErrUnsupportedGrantType},
		{"no grant type", clientForm(t, rp1, u, url.Values{"refresh_token": {rt}}), 400, oidc.ErrInvalidRequest},
		{"no refresh_token", clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}}), 400, oidc.ErrInvalidRequest},
		{"garbage", clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-token"}}), 400, oidc.ErrInvalidGrant},
		{"access token instead", clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["access_token"].(string)}}), 400, oidc.ErrInvalidGrant},
		{"ID token instead", clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["id_token"].(string)}}), 400, oidc.ErrInvalidGrant},
		{"another client's token", clientForm(t, rp2, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), 400, oidc.ErrInvalidGrant},
		{"expired", clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old["refresh_token"].(string)}}), 400, oidc.ErrInvalidGrant},
		{"revoked", clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {revoked["refresh_token"].(string)}}), 400, oidc.ErrInvalidGrant},
		{"assertion for another endpoint", clientForm(t, rp1, issuer+"/revocation", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), 401, oidc.ErrInvalidClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := postForm(t, u, tc.form)
			wantError(t, tc.name, res, out, tc.status, tc.code)
		})
	}
	// None of the refusals spent RP1's token, and O071: a redirect_uri
	// beside it is tolerated.
	res, out := postForm(t, u, clientForm(t, rp1, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"redirect_uri": {rp1.RedirectURI}}))
	if res.StatusCode != 200 || out["refresh_token"] == nil {
		t.Fatalf("O071: refresh after the refusals: %d %v", res.StatusCode, out)
	}
}

// TestOIDCRefreshUseCase3: a CU3 client's tokens expire 30 days less a
// second after their own iat (O067).
func TestOIDCRefreshUseCase3(t *testing.T) {
	var rp1 string
	a, _, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		rp1 = cfg.Server.BaseURL + "/demo-rp"
		cfg.OIDC.RefreshUseCaseClients = []string{rp1 + "|CU3"}
	}})
	rp := a.demoFed.RP1
	if rp.ID != rp1 {
		t.Fatalf("demo RP1 is %s, configured %s", rp.ID, rp1)
	}
	keys := opKeys(t, a, "")
	tok, _ := offlineLogin(t, a, newBrowser(t), rp, info, true, func(ro map[string]any) {
		ro["iat"] = time.Now().Add(-time.Hour).Unix() // a CU2 token would expire an hour earlier
	})
	for i := 0; i < 2; i++ {
		_, c := claimsOf(t, tok["refresh_token"].(string), keys)
		if d := int64(c["exp"].(float64) - c["iat"].(float64)); d != int64((30*day-time.Second)/time.Second) {
			t.Fatalf("O067: CU3 token %d lasts %d s", i, d)
		}
		var res *http.Response
		if res, tok = refreshWith(t, a, rp, tok["refresh_token"].(string)); res.StatusCode != 200 {
			t.Fatalf("refresh: %d %v", res.StatusCode, tok)
		}
	}
}

// TestOIDCIntrospection: POST only, every other error 401; active access
// and refresh tokens describe themselves to their client only (O080–O082).
func TestOIDCIntrospection(t *testing.T) {
	a, _, info := testApp(t)
	rp1, rp2 := a.demoFed.RP1, a.demoFed.RP2
	issuer := a.Config.OIDC.Issuer
	u := issuer + "/introspection"
	tok, _ := offlineLogin(t, a, newBrowser(t), rp1, info, true, nil)
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)

	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 {
		t.Fatalf("O080: GET answered %d", res.StatusCode)
	}
	assertion := func(aud string, claims map[string]any) string {
		now := time.Now()
		c := map[string]any{"iss": rp1.ID, "sub": rp1.ID, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
			"jti": "jti-" + now.Format("150405.000000000")}
		for k, v := range claims {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		s, err := rp1.Sig.Sign("", c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	form := func(a string, token string) url.Values {
		return url.Values{"client_id": {rp1.ID}, "client_assertion": {a}, "client_assertion_type": {oidc.ClientAssertionType}, "token": {token}}
	}
	for _, tc := range []struct {
		name string
		form url.Values
		code string
	}{
		{"no client_id", url.Values{"token": {at}}, oidc.ErrInvalidRequest},
		{"no token", clientForm(t, rp1, u, nil), oidc.ErrInvalidRequest},
		{"aud of the token endpoint", form(assertion(issuer+"/token", nil), at), oidc.ErrInvalidClient},
		{"no aud", form(assertion("", map[string]any{"aud": nil}), at), oidc.ErrInvalidClient},
		{"iat 10 minutes ahead", form(assertion(u, map[string]any{"iat": time.Now().Add(10 * time.Minute).Unix()}), at), oidc.ErrInvalidClient},
		{"expired", form(assertion(u, map[string]any{"exp": time.Now().Add(-2 * time.Minute).Unix()}), at), oidc.ErrInvalidClient},
		{"short jti", form(assertion(u, map[string]any{"jti": "short"}), at), oidc.ErrInvalidClient},
		{"iss of another", form(assertion(u, map[string]any{"iss": rp2.ID}), at), oidc.ErrInvalidClient},
		{"sub of another", form(assertion(u, map[string]any{"sub": rp2.ID}), at), oidc.ErrInvalidClient},
		{"no assertion type", url.Values{"client_id": {rp1.ID}, "client_assertion": {assertion(u, nil)}, "token": {at}}, oidc.ErrInvalidClient},
		{"untrusted client", url.Values{"client_id": {a.demoFed.TA.ID}, "client_assertion": {assertion(u, nil)},
			"client_assertion_type": {oidc.ClientAssertionType}, "token": {at}}, oidc.ErrInvalidClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := postForm(t, u, tc.form)
			wantError(t, "O080/O081", res, out, 401, tc.code)
		})
	}

	_, sub := claimsOf(t, at, opKeys(t, a, ""))
	for _, tc := range []struct {
		name  string
		token string
	}{{"access token", at}, {"refresh token", rt}} {
		res, out := introspectWith(t, a, rp1, tc.token)
		if res.StatusCode != 200 || out["active"] != true || out["client_id"] != rp1.ID || out["aud"] != rp1.ID ||
			out["iss"] != issuer || out["sub"] != sub["sub"] || out["scope"] != "openid offline_access" || out["exp"] == nil {
			t.Fatalf("O082: %s introspected %d %v", tc.name, res.StatusCode, out)
		}
		if _, out := introspectWith(t, a, rp2, tc.token); len(out) != 1 || out["active"] != false {
			t.Fatalf("O082: another client learns about a %s: %v", tc.name, out)
		}
	}
	if _, out := introspectWith(t, a, rp1, "garbage"); len(out) != 1 || out["active"] != false {
		t.Fatalf("unknown token: %v", out)
	}
	if res, _ := revokeWith(t, a, rp1, at); res.StatusCode != 200 {
		t.Fatal("revocation failed")
	}
	for _, tok := range []string{at, rt} {
		if _, out := introspectWith(t, a, rp1, tok); out["active"] != false {
			t.Fatalf("O085: a revoked token is active: %v", out)
		}
	}
}

// TestOIDCRevocationAndLogout: revocation's errors, 200 for what is not the
// caller's to revoke, and an access token's revocation ending its refresh
// tokens and the SSO session it came from while other tokens live
// (O083–O085).
func TestOIDCRevocationAndLogout(t *testing.T) {
	a, ts, info := testApp(t)
	rp1, rp2 := a.demoFed.RP1, a.demoFed.RP2
	issuer := a.Config.OIDC.Issuer
	u := issuer + "/revocation"

	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 {
		t.Fatalf("GET answered %d", res.StatusCode)
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no client_id", url.Values{"token": {"x"}}, 400, oidc.ErrInvalidRequest},
		{"no token", clientForm(t, rp1, u, nil), 400, oidc.ErrInvalidRequest},
		{"aud of the introspection endpoint", clientForm(t, rp1, issuer+"/introspection", url.Values{"token": {"x"}}), 401, oidc.ErrInvalidClient},
		{"no assertion", url.Values{"client_id": {rp1.ID}, "client_assertion_type": {oidc.ClientAssertionType}, "token": {"x"}}, 401, oidc.ErrInvalidClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := postForm(t, u, tc.form)
			wantError(t, "O083", res, out, tc.status, tc.code)
		})
	}
	if res, _ := revokeWith(t, a, rp1, "never-issued"); res.StatusCode != 200 {
		t.Fatalf("O083: unknown token answered %d", res.StatusCode)
	}

	// The browser opens an SpidL1 SSO session at the demo SAML SP, then
	// logs in to RP1 by OIDC with prompt=consent: the session answers.
	br := newBrowser(t)
	home := br.get(ts.URL + "/demo-sp/")
	login := br.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	sso := func(ro map[string]any) { ro["prompt"] = "consent" }
	tok, _ := offlineLogin(t, a, br, rp1, info, true, sso)
	other, _ := offlineLogin(t, a, newBrowser(t), rp1, info, true, nil)
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)

	// Another client cannot revoke it: 200, and nothing happens.
	if res, _ := revokeWith(t, a, rp2, at); res.StatusCode != 200 {
		t.Fatalf("O083: another client's token answered %d", res.StatusCode)
	}
	if st := userinfoStatus(t, a, at); st != 200 {
		t.Fatalf("another client revoked the token: userinfo %d", st)
	}
	for i := 0; i < 2; i++ { // the second time: already revoked, still 200
		if res, out := revokeWith(t, a, rp1, at); res.StatusCode != 200 || len(out) != 0 {
			t.Fatalf("O083: revocation %d: %d %v", i, res.StatusCode, out)
		}
	}
	if st := userinfoStatus(t, a, at); st != 401 {
		t.Fatalf("O085: revoked access token answers userinfo: %d", st)
	}
	if res, out := refreshWith(t, a, rp1, rt); res.StatusCode != 400 || out["error"] != oidc.ErrInvalidGrant {
		t.Fatalf("O084: the refresh token of a revoked access token still works: %d %v", res.StatusCode, out)
	}
	if st := userinfoStatus(t, a, other["access_token"].(string)); st != 200 {
		t.Fatalf("O084: the citizen's other access token died: %d", st)
	}
	if res, out := refreshWith(t, a, rp1, other["refresh_token"].(string)); res.StatusCode != 200 {
		t.Fatalf("O084: the citizen's other refresh token died: %d %v", res.StatusCode, out)
	}
	// The SSO session is over: the same browser must log in again.
	ro, _ := rp1.Request(issuer, []string{testAcrL1}, testClaims)
	sso(ro)
	if p := authorize(br, issuer, rp1, ro); !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("O084: the SSO session survived the revocation: %d %s", p.status, p.url)
	}
}

// TestOIDCRegister: an OIDC login, its refresh, userinfo and revocation are
// in the transaction register under the protocol's kinds, found from the
// citizen's spidCode like a SAML login (O086), with no live token in them.
func TestOIDCRegister(t *testing.T) {
	a, _, info := testApp(t)
	ctx := t.Context()
	rp := a.demoFed.RP1
	tok, _ := offlineLogin(t, a, newBrowser(t), rp, info, true, nil)
	res, next := refreshWith(t, a, rp, tok["refresh_token"].(string))
	if res.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", res.StatusCode, next)
	}
	if st := userinfoStatus(t, a, next["access_token"].(string)); st != 200 {
		t.Fatalf("userinfo: %d", st)
	}
	if res, _ := revokeWith(t, a, rp, next["refresh_token"].(string)); res.StatusCode != 200 {
		t.Fatal("revocation failed")
	}
	if err := a.RegisterQueue.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := a.Register.Search(ctx, register.Query{SPIDCodes: []string{"DEMO0000000001"}, SP: rp.ID})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	handle := ""
	for _, m := range msgs {
		if !strings.HasPrefix(m.Kind, "oidc.") || m.SPEntityID != rp.ID {
			t.Fatalf("record %+v", m.RegisterRecord)
		}
		if handle == "" {
			handle = m.RequestID
		}
		if m.RequestID != handle {
			t.Fatalf("%s has request id %q, the login's is %q", m.Kind, m.RequestID, handle)
		}
		for _, secret := range []string{tok["refresh_token"].(string), next["refresh_token"].(string), tok["access_token"].(string), next["access_token"].(string)} {
			if strings.Contains(string(m.XML), secret) {
				t.Fatalf("%s holds a live token", m.Kind)
			}
		}
		kinds = append(kinds, m.Kind)
	}
	want := []string{oidc.KindAuthorizationRequest, oidc.KindAuthorizationResponse, oidc.KindTokenRequest, oidc.KindTokenResponse,
		oidc.KindTokenRequest, oidc.KindTokenResponse, oidc.KindUserinfoResponse, oidc.KindRevocationRequest}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("O086: register holds %v, want %v", kinds, want)
	}
	if !strings.Contains(string(msgs[0].XML), "request=") || !strings.Contains(string(msgs[4].XML), "refresh_token=sha256%3A") {
		t.Fatalf("request records: %s / %s", msgs[0].XML, msgs[4].XML)
	}
}

// TestOIDCDemoRPRefreshAndLogout clicks through the demo RP as a person
// would: login asking for offline access, the opt-in ticked, a refresh
// without logging in again, then logout by revocation (F036).
func TestOIDCDemoRPRefreshAndLogout(t *testing.T) {
	a, _, info := testApp(t)
	rp := a.demoFed.RP1
	br := newBrowser(t)
	home := br.get(rp.ID + "/")
	login := br.submit(home, "/login", url.Values{"level": {"1"}, "offline": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if !strings.Contains(consent.body, `name="offline"`) {
		t.Fatalf("no opt-in on the consent page:\n%s", consent.body)
	}
	done := br.submit(consent, "/consent", url.Values{"op": {"accept"}, "offline": {"1"}})
	if !strings.Contains(done.body, "refresh_token") || !strings.Contains(done.body, "Mario") {
		t.Fatalf("RP page after login: %d\n%s", done.status, done.body)
	}
	refreshed := br.submit(done, "/refresh", nil)
	if refreshed.status != 200 || !strings.Contains(refreshed.body, "Token aggiornati") || !strings.Contains(refreshed.body, "Mario") {
		t.Fatalf("refresh: %d\n%s", refreshed.status, refreshed.body)
	}
	out := br.submit(refreshed, "/revoke", nil)
	if out.status != 200 || !strings.Contains(out.body, "Sei uscito") {
		t.Fatalf("logout: %d\n%s", out.status, out.body)
	}
	if again := br.submit(done, "/refresh", nil); again.status != 400 {
		t.Fatalf("refresh after logout: %d\n%s", again.status, again.body)
	}
}
