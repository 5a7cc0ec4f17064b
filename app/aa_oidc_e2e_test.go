package app

import (
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/oidc"
)

// TestAttributeAuthoritiesOIDC drives spec §9.6 through the HTTP server:
// authorization_details with the demo AA → choice and consent → the ID
// Token's tokens claim → introspection and revocation of the grant token
// by the relying party (A035–A041); malformed details → a plain login.
func TestAttributeAuthoritiesOIDC(t *testing.T) {
	a, ts, info := testApp(t)
	issuer := a.Config.OIDC.Issuer
	keys := opKeys(t, a, ts.URL)
	rp := a.demoFed.RP1
	aaID := a.demoFed.AA.ID

	// login runs one authorization with details in the request object and
	// returns the ID Token claims; choose nil skips the AA pages.
	login := func(t *testing.T, details any, choose func(br *browser, p page) page) map[string]any {
		t.Helper()
		br := newBrowser(t)
		ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
		if details != nil {
			ro["authorization_details"] = details
		}
		lp := authorize(br, issuer, rp, ro)
		consent := br.submit(lp, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		next := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
		if choose != nil {
			next = choose(br, next)
		} else if strings.Contains(next.body, `name="aa"`) {
			t.Fatal("A036: AA choice shown")
		}
		code := next.url.Query().Get("code")
		if code == "" {
			t.Fatalf("no code: %d %s\n%s", next.status, next.url, next.body)
		}
		return idTokenClaims(t, redeem(t, rp, issuer, code, pend), keys)
	}
	required := func(locs ...any) []any {
		return []any{map[string]any{"type": attrauth.DetailsType, "locations": locs}}
	}

	for name, details := range map[string]any{
		"no locations":         []any{map[string]any{"type": attrauth.DetailsType}},
		"locations a string":   []any{map[string]any{"type": attrauth.DetailsType, "locations": aaID}},
		"not an array":         map[string]any{"type": attrauth.DetailsType, "locations": []any{aaID}},
		"other type":           []any{map[string]any{"type": "payment", "locations": []any{aaID}}},
		"untrusted location":   required("https://aa.example.it"),
		"empty locations":      required(),
		"number as a location": required(7),
	} {
		t.Run("A036 "+name, func(t *testing.T) {
			if id := login(t, details, nil); id["tokens"] != nil {
				t.Errorf("tokens claim %v", id["tokens"])
			}
		})
	}

	// English pages name the RP and the AA by their organization_name#en
	// (issue 12); Italian ones keep the untagged names (checked below).
	t.Run("English names", func(t *testing.T) {
		if rp.NameEN == "" || a.demoFed.AA.NameEN == "" {
			t.Fatal("the demo federation has no English names")
		}
		br := newBrowser(t)
		br.get(ts.URL + "/recover?lang=en")
		ro, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
		ro["authorization_details"] = required(aaID)
		lp := authorize(br, issuer, rp, ro)
		consent := br.submit(lp, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		if !strings.Contains(consent.body, rp.NameEN) || strings.Contains(consent.body, rp.Name) {
			t.Errorf("English consent page does not name the RP %q:\n%s", rp.NameEN, consent.body)
		}
		choice := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
		confirm := br.submit(choice, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
		for what, p := range map[string]page{"choice": choice, "consent": confirm} {
			if !strings.Contains(p.body, a.demoFed.AA.NameEN) || strings.Contains(p.body, a.demoFed.AA.Name) {
				t.Errorf("English AA %s page does not name the AA %q:\n%s", what, a.demoFed.AA.NameEN, p.body)
			}
		}
		if !strings.Contains(confirm.body, rp.NameEN) {
			t.Errorf("English AA consent does not name the RP %q", rp.NameEN)
		}
	})

	t.Run("A016 none chosen", func(t *testing.T) {
		id := login(t, required(aaID), func(br *browser, p page) page {
			return br.submit(p, "/aa", url.Values{"op": {"continue"}})
		})
		if id["tokens"] != nil {
			t.Errorf("A037: tokens claim with no AA chosen: %v", id["tokens"])
		}
	})

	t.Run("A035 A037 A038 A039 A040", func(t *testing.T) {
		id := login(t, required(aaID), func(br *browser, p page) page {
			if !strings.Contains(p.body, "Attribute Authority dimostrativa") {
				t.Fatalf("A035: no AA choice:\n%s", p.body)
			}
			confirm := br.submit(p, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
			if !strings.Contains(confirm.body, rp.Name) {
				t.Errorf("A015: the AA consent does not name the RP")
			}
			return br.submit(confirm, "/aa", url.Values{"op": {"authorise"}})
		})
		toks, _ := id["tokens"].([]any)
		if len(toks) != 1 {
			t.Fatalf("A037: tokens = %v", id["tokens"])
		}
		tk := toks[0].(map[string]any)
		if tk["type"] != attrauth.TokenType || tk["aud"] != aaID {
			t.Fatalf("A037: %v", tk)
		}
		grant := tk["token"].(string)
		// A025: verifiable with openid_provider.jwks.keys[0].
		o, err := attrauth.Open(grant, a.demoFed.AA.Enc, keys)
		if err != nil {
			t.Fatal(err)
		}
		c := o.Claims
		if o.SigHeader.KeyID != keys.Keys[0].KeyID || c["iss"] != issuer || c["aud"] != aaID || c["sid"] != "oidc:"+id["jti"].(string) ||
			c["acr"] != testAcrL1 || c["sub"] != info.Username || c[oidc.ClaimPrefix+"fiscal_number"] != "TINIT-RSSMRA80A01H501U" {
			t.Errorf("grant claims %v (kid %s)", c, o.SigHeader.KeyID)
		}
		if act, _ := c["act"].(map[string]any); act["sub"] != rp.ID {
			t.Errorf("A032: act %v", c["act"])
		}

		introspect := func(t *testing.T, caller *fedtest.RP) map[string]any {
			t.Helper()
			assertion, err := caller.ClientAssertion(issuer + "/introspection")
			if err != nil {
				t.Fatal(err)
			}
			res, out := postForm(t, issuer+"/introspection", url.Values{"client_id": {caller.ID}, "token": {grant},
				"client_assertion": {assertion}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}})
			if res.StatusCode != 200 {
				t.Fatalf("introspection %d %v", res.StatusCode, out)
			}
			return out
		}
		in := introspect(t, rp)
		act, _ := in["act"].(map[string]any)
		if in["active"] != true || in["sub"] != info.Username || in["iss"] != issuer || in["aud"] != aaID || act["sub"] != rp.ID || in["exp"] != c["exp"] {
			t.Errorf("A038: %v", in)
		}
		if other := introspect(t, a.demoFed.RP2); other["active"] != false || len(other) != 1 {
			t.Errorf("another RP sees the grant: %v", other)
		}
		// A041: the demo AA accepts the OIDC grant too.
		if attrs, err := a.demoExchange(t.Context(), aaID, grant); err != nil || attrs[0].Value != info.Username {
			t.Errorf("demo AA exchange: %v %v", attrs, err)
		}
		// A040: revoked by the RP that received it → inactive.
		assertion, _ := rp.ClientAssertion(issuer + "/revocation")
		res, _ := postForm(t, issuer+"/revocation", url.Values{"client_id": {rp.ID}, "token": {grant},
			"client_assertion": {assertion}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}})
		if res.StatusCode != 200 {
			t.Fatalf("revocation %d", res.StatusCode)
		}
		if in := introspect(t, rp); in["active"] != false {
			t.Errorf("A039: revoked grant still active: %v", in)
		}
	})
}
