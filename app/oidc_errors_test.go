package app

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/oidc"
)

// authzCase changes a standard authorization request and says what the OP
// must answer: a page on the OP (nothing sent to the RP) or an error
// redirected to the RP with state (unless noState) and iss.
type authzCase struct {
	name string
	// ro changes the request object; http changes the HTTP parameters;
	// raw, if set, replaces the signed request object.
	ro   func(ro map[string]any)
	http func(q url.Values)
	raw  func(rp *fedtest.RP, signed string) string
	// page: refused on the OP with this HTTP status.
	page int
	// err: redirected with this error.
	err      string
	noState  bool
	formPost bool
}

func TestOIDCAuthorizationErrors(t *testing.T) {
	a, _, _ := testApp(t)
	issuer := a.Config.OIDC.Issuer
	rp, rp2 := a.demoFed.RP1, a.demoFed.RP2
	del := func(k string) func(map[string]any) { return func(ro map[string]any) { delete(ro, k) } }
	set := func(k string, v any) func(map[string]any) { return func(ro map[string]any) { ro[k] = v } }
	delHTTP := func(k string) func(url.Values) { return func(q url.Values) { q.Del(k) } }
	setHTTP := func(k, v string) func(url.Values) { return func(q url.Values) { q.Set(k, v) } }
	cases := []authzCase{
		{name: "O002 no request", http: delHTTP("request"), page: 400},
		{name: "O003 request not a JWT", raw: func(*fedtest.RP, string) string { return "not-a-jwt" }, page: 400},
		{name: "O003 request is a JWE", raw: func(*fedtest.RP, string) string { return "a.b.c.d.e" }, page: 400},
		{name: "O004 signed by a key not in the RP's jwks", raw: func(_ *fedtest.RP, _ string) string { return "" }, page: 400},
		{name: "O005 alg none", raw: func(_ *fedtest.RP, signed string) string {
			parts := strings.Split(signed, ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
		}, page: 400},
		{name: "O006 no HTTP client_id", http: delHTTP("client_id"), page: 400},
		{name: "O007 no client_id in the request object", ro: del("client_id"), page: 400},
		{name: "O008 client_id differs", ro: set("client_id", rp2.ID), page: 400},
		{name: "O009 untrusted client_id", http: setHTTP("client_id", strings.TrimSuffix(rp.ID, "/demo-rp")+"/nobody"), page: 400},
		{name: "O010 iss differs from client_id", ro: set("iss", rp2.ID), page: 400},
		{name: "O011 no redirect_uri", ro: del("redirect_uri"), page: 400},
		{name: "O011 redirect_uri not registered", ro: set("redirect_uri", rp.RedirectURI+"/other"), page: 400},
		{name: "O012 aud not the issuer", ro: set("aud", "https://other.example.it"), err: oidc.ErrInvalidRequestObject},
		{name: "O012 exp past", ro: set("exp", time.Now().Add(-time.Minute).Unix()), err: oidc.ErrInvalidRequestObject},
		{name: "O012 iat in the future", ro: set("iat", time.Now().Add(5*time.Minute).Unix()), err: oidc.ErrInvalidRequestObject},
		{name: "O013 response_type missing in HTTP", http: delHTTP("response_type"), err: oidc.ErrInvalidRequest},
		{name: "O013 response_type missing in the request object", ro: del("response_type"), err: oidc.ErrInvalidRequest},
		{name: "O013 response_type different", http: setHTTP("response_type", "code id_token"), err: oidc.ErrInvalidRequest},
		{name: "O013 response_type not code", ro: set("response_type", "token"), http: setHTTP("response_type", "token"), err: oidc.ErrInvalidRequest},
		{name: "O014 scope missing in HTTP", http: delHTTP("scope"), err: oidc.ErrInvalidRequest},
		{name: "O014 scope missing in the request object", ro: del("scope"), err: oidc.ErrInvalidRequest},
		{name: "O014 scope different", http: setHTTP("scope", "openid offline_access"), err: oidc.ErrInvalidRequest},
		{name: "O015 scope without openid", ro: set("scope", "offline_access"), http: setHTTP("scope", "offline_access"), err: oidc.ErrInvalidScope},
		{name: "O015 scope with profile", ro: set("scope", "openid profile"), http: setHTTP("scope", "openid profile"), err: oidc.ErrInvalidScope},
		{name: "O016 code_challenge missing", ro: del("code_challenge"), err: oidc.ErrInvalidRequest},
		{name: "O016 code_challenge_method missing", ro: del("code_challenge_method"), err: oidc.ErrInvalidRequest},
		{name: "O016 code_challenge_method plain", ro: set("code_challenge_method", "plain"), err: oidc.ErrInvalidRequest},
		{name: "O018 nonce missing", ro: del("nonce"), err: oidc.ErrInvalidRequest},
		{name: "O018 nonce shorter than 32", ro: set("nonce", "short"), err: oidc.ErrInvalidRequest},
		{name: "O019 prompt missing", ro: del("prompt"), err: oidc.ErrInvalidRequest},
		{name: "O019 prompt login alone", ro: set("prompt", "login"), err: oidc.ErrInvalidRequest},
		{name: "O020 acr_values missing", ro: del("acr_values"), err: oidc.ErrInvalidRequest},
		{name: "O020 acr_values not a string", ro: set("acr_values", []string{testAcrL1}), err: oidc.ErrInvalidRequest},
		{name: "O020 acr_values unknown", ro: set("acr_values", "https://www.spid.gov.it/SpidL9"), err: oidc.ErrInvalidRequest},
		{name: "O021 claims missing", ro: del("claims"), err: oidc.ErrInvalidRequest},
		{name: "O021 claims without userinfo", ro: set("claims", map[string]any{}), err: oidc.ErrInvalidRequest},
		{name: "O021 claims for the id_token", ro: set("claims", map[string]any{"userinfo": map[string]any{"email": nil}, "id_token": map[string]any{"email": nil}}), err: oidc.ErrInvalidRequest},
		{name: "O021 claim not of SPID", ro: set("claims", map[string]any{"userinfo": map[string]any{"email_verified": nil}}), err: oidc.ErrInvalidRequest},
		{name: "O022 state missing", ro: del("state"), err: oidc.ErrInvalidRequest, noState: true},
		{name: "O022 state shorter than 32", ro: set("state", "short"), err: oidc.ErrInvalidRequest},
		{name: "O023 response_mode fragment", ro: set("response_mode", "fragment"), err: oidc.ErrInvalidRequest},
		{name: "O024 request_uri", http: setHTTP("request_uri", "https://rp.example.it/ro"), err: oidc.ErrRequestURINotSupported},
		{name: "O024 registration", http: setHTTP("registration", "{}"), err: oidc.ErrRegistrationUnsupported},
		{name: "O025 offline_access with SpidL1 first", ro: func(ro map[string]any) {
			ro["scope"], ro["acr_values"] = "openid offline_access", testAcrL1+" "+testAcrL2
		}, http: setHTTP("scope", "openid offline_access"), err: oidc.ErrInvalidRequest},
		{name: "O028 form_post error", ro: func(ro map[string]any) { ro["response_mode"], ro["nonce"] = "form_post", "short" }, err: oidc.ErrInvalidRequest, formPost: true},
		{name: "O030 level not offered", ro: set("acr_values", "https://www.spid.gov.it/SpidL3"), err: oidc.ErrAccessDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := newBrowser(t)
			ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
			if tc.ro != nil {
				tc.ro(ro)
			}
			signed, err := rp.SignRequest(ro)
			if err != nil {
				t.Fatal(err)
			}
			if tc.raw != nil {
				if signed = tc.raw(rp, signed); signed == "" {
					signed, _ = rp2.SignRequest(ro) // O004: another RP's key
				}
			}
			q := url.Values{"request": {signed}, "client_id": {rp.ID}, "response_type": {"code"}, "scope": {"openid"}}
			if s, ok := ro["scope"].(string); ok {
				q.Set("scope", s)
			}
			if tc.http != nil {
				tc.http(q)
			}
			res := br.get(issuer + "/authorization?" + q.Encode())
			onRP := res.url.Path == "/demo-rp/callback"
			if tc.page != 0 {
				if onRP || res.status != tc.page || strings.Contains(res.body, "password") {
					t.Fatalf("want a page error %d on the OP, got %d at %s", tc.page, res.status, res.url)
				}
				return
			}
			var got url.Values
			if tc.formPost {
				if onRP || !strings.Contains(res.body, `action="`+rp.RedirectURI+`"`) {
					t.Fatalf("O028: no auto-submitting form to the RP: %d %s", res.status, res.url)
				}
				got = url.Values{}
				for _, m := range inputRE.FindAllStringSubmatch(res.body, -1) {
					got.Set(m[1], strings.ReplaceAll(m[2], "&#39;", "'"))
				}
			} else {
				if !onRP {
					t.Fatalf("want redirect error %s, got %d at %s\n%.300s", tc.err, res.status, res.url, res.body)
				}
				got = res.url.Query()
			}
			if got.Get("error") != tc.err || got.Get("error_description") != oidc.Description(tc.err) || got.Get("iss") != issuer {
				t.Fatalf("O026: got %v, want error %s", got, tc.err)
			}
			wantState := pend.State
			if s, ok := ro["state"].(string); ok {
				wantState = s
			}
			if tc.noState {
				wantState = ""
			}
			if got.Get("state") != wantState || got.Has("code") {
				t.Fatalf("O022/O026: state %q (want %q), code %q", got.Get("state"), wantState, got.Get("code"))
			}
		})
	}
}

// TestOIDCTokenErrors: the token endpoint's checks and their exact errors
// (spec §4.1, §4.2, §4.5).
func TestOIDCTokenErrors(t *testing.T) {
	a, _, info := testApp(t)
	issuer := a.Config.OIDC.Issuer
	tokenURL := issuer + "/token"
	rp, rp2 := a.demoFed.RP1, a.demoFed.RP2
	login := func(t *testing.T) (string, fedtest.Pending) {
		br := newBrowser(t)
		ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
		p := authorize(br, issuer, rp, ro)
		p = br.submit(p, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		p = br.submit(p, "/consent", url.Values{"op": {"accept"}})
		code := p.url.Query().Get("code")
		if code == "" {
			t.Fatalf("no code: %s", p.url)
		}
		return code, pend
	}
	assertion := func(change func(c map[string]any)) string {
		now := time.Now()
		c := map[string]any{"iss": rp.ID, "sub": rp.ID, "aud": tokenURL, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
			"jti": strings.Repeat("j", 8) + base64.RawURLEncoding.EncodeToString([]byte(now.String()))}
		if change != nil {
			change(c)
		}
		s, _ := rp.Sig.Sign("", c)
		return s
	}
	form := func(change func(v url.Values)) url.Values {
		v := url.Values{"grant_type": {"authorization_code"}, "client_id": {rp.ID}, "client_assertion": {assertion(nil)},
			"client_assertion_type": {oidc.ClientAssertionType}, "code": {"0b6f9ae0-6f51-4d54-9f5d-6d1e1f6a8a1e"},
			"code_verifier": {strings.Repeat("v", 43)}, "redirect_uri": {rp.RedirectURI}}
		if change != nil {
			change(v)
		}
		return v
	}
	withAssertion := func(change func(c map[string]any)) func(url.Values) {
		return func(v url.Values) { v.Set("client_assertion", assertion(change)) }
	}
	replayed := assertion(nil)
	postForm(t, tokenURL, form(func(v url.Values) { v.Set("client_assertion", replayed) }))
	cases := []struct {
		name   string
		change func(v url.Values)
		status int
		err    string
	}{
		{"O038 no client_id", func(v url.Values) { v.Del("client_id") }, 400, oidc.ErrInvalidRequest},
		{"O039 untrusted client_id", func(v url.Values) { v.Set("client_id", strings.TrimSuffix(rp.ID, "/demo-rp")+"/nobody") }, 401, oidc.ErrInvalidClient},
		{"O039 untrusted client_id without refresh_token", func(v url.Values) {
			v.Set("client_id", strings.TrimSuffix(rp.ID, "/demo-rp")+"/nobody")
			v.Set("grant_type", "refresh_token")
		}, 401, oidc.ErrInvalidClient},
		{"O041 no client_assertion", func(v url.Values) { v.Del("client_assertion") }, 401, oidc.ErrInvalidClient},
		{"O041 client_assertion not a JWT", func(v url.Values) { v.Set("client_assertion", "abc") }, 401, oidc.ErrInvalidClient},
		{"O041 signed by another client's key", func(v url.Values) { s, _ := rp2.ClientAssertion(tokenURL); v.Set("client_assertion", s) }, 401, oidc.ErrInvalidClient},
		{"O043 iss missing", withAssertion(func(c map[string]any) { delete(c, "iss") }), 401, oidc.ErrInvalidClient},
		{"O043 sub differs", withAssertion(func(c map[string]any) { c["sub"] = rp2.ID }), 401, oidc.ErrInvalidClient},
		{"O044 aud missing", withAssertion(func(c map[string]any) { delete(c, "aud") }), 401, oidc.ErrInvalidClient},
		{"O044 aud another endpoint", withAssertion(func(c map[string]any) { c["aud"] = issuer + "/userinfo" }), 401, oidc.ErrInvalidClient},
		{"O045 iat in five minutes", withAssertion(func(c map[string]any) { c["iat"] = time.Now().Add(5 * time.Minute).Unix() }), 401, oidc.ErrInvalidClient},
		{"O045 iat a string", withAssertion(func(c map[string]any) { c["iat"] = "now" }), 401, oidc.ErrInvalidClient},
		{"O046 exp two minutes ago", withAssertion(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), 401, oidc.ErrInvalidClient},
		{"O046 exp missing", withAssertion(func(c map[string]any) { delete(c, "exp") }), 401, oidc.ErrInvalidClient},
		{"O047 jti missing", withAssertion(func(c map[string]any) { delete(c, "jti") }), 401, oidc.ErrInvalidClient},
		{"O047 jti shorter than 16", withAssertion(func(c map[string]any) { c["jti"] = "short" }), 401, oidc.ErrInvalidClient},
		{"O047 jti replayed", func(v url.Values) { v.Set("client_assertion", replayed) }, 401, oidc.ErrInvalidClient},
		{"O048 client_assertion_type missing", func(v url.Values) { v.Del("client_assertion_type") }, 401, oidc.ErrInvalidClient},
		{"O048 client_assertion_type wrong", func(v url.Values) { v.Set("client_assertion_type", "urn:other") }, 401, oidc.ErrInvalidClient},
		{"O049 grant_type missing", func(v url.Values) { v.Del("grant_type") }, 400, oidc.ErrInvalidRequest},
		{"O049 grant_type unknown", func(v url.Values) { v.Set("grant_type", "password") }, 400, oidc.ErrUnsupportedGrantType},
		{"O050 code missing", func(v url.Values) { v.Del("code") }, 400, oidc.ErrInvalidRequest},
		{"O050 code unknown", nil, 400, oidc.ErrInvalidGrant},
		{"O051 code_verifier missing", func(v url.Values) { v.Del("code_verifier") }, 400, oidc.ErrInvalidRequest},
		{"O052 redirect_uri missing", func(v url.Values) { v.Del("redirect_uri") }, 400, oidc.ErrInvalidRequest},
		{"O070 refresh_token unknown", func(v url.Values) { v.Set("grant_type", "refresh_token"); v.Set("refresh_token", "x") }, 400, oidc.ErrInvalidGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, out := postForm(t, tokenURL, form(tc.change))
			if res.StatusCode != tc.status || out["error"] != tc.err || out["error_description"] != oidc.Description(tc.err) {
				t.Fatalf("O053: got %d %v, want %d %s", res.StatusCode, out, tc.status, tc.err)
			}
		})
	}
	t.Run("O037 GET refused", func(t *testing.T) {
		res, err := http.Get(tokenURL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	// Grant checks need a real code each (a failed exchange uses it up).
	grant := []struct {
		name   string
		change func(v url.Values, code string, p fedtest.Pending)
	}{
		{"O040 code of another client", func(v url.Values, code string, p fedtest.Pending) {
			f, _ := rp2.TokenForm(tokenURL, code, p)
			for k := range v {
				delete(v, k)
			}
			for k, x := range f {
				v[k] = x
			}
		}},
		{"O051 wrong code_verifier", func(v url.Values, code string, p fedtest.Pending) { v.Set("code_verifier", strings.Repeat("w", 43)) }},
		{"O052 redirect_uri different", func(v url.Values, code string, p fedtest.Pending) { v.Set("redirect_uri", rp.RedirectURI+"/x") }},
	}
	for _, tc := range grant {
		t.Run(tc.name, func(t *testing.T) {
			code, pend := login(t)
			v, _ := rp.TokenForm(tokenURL, code, pend)
			tc.change(v, code, pend)
			res, out := postForm(t, tokenURL, v)
			if res.StatusCode != 400 || out["error"] != oidc.ErrInvalidGrant || out["error_description"] != oidc.Description(oidc.ErrInvalidGrant) {
				t.Fatalf("got %d %v", res.StatusCode, out)
			}
		})
	}
}
