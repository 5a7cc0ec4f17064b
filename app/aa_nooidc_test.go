package app

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// TestAttributeAuthoritiesWithoutOIDC: with the OP off, SAML's
// spid:RequiredAttributeAuthority still finds the federation's AAs through
// the trust anchor (oidc.federation.attribute_authorities) and answers with
// a grant token; with the discovery off too, the request is served as if
// no AA had been asked for.
func TestAttributeAuthoritiesWithoutOIDC(t *testing.T) {
	t.Run("discovery on", func(t *testing.T) {
		a, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) { cfg.OIDC.Enabled = false }})
		if a.OIDC != nil {
			t.Fatal("the OP runs with oidc.enabled false")
		}
		if res, err := http.Get(a.Config.OIDC.Issuer + "/.well-known/openid-federation"); err != nil || res.StatusCode != http.StatusNotFound {
			t.Fatalf("the OP's entity configuration is served: %v %v", res, err)
		} else {
			res.Body.Close()
		}
		if a.AA == nil || a.demoFed == nil {
			t.Fatal("no attribute authority registry without the OP")
		}
		aaID := a.demoFed.AA.ID
		br := newBrowser(t)
		choice, id := aaFlow(t, a, ts.URL, br, info.Username, info.Password, demo.RequiredAA(aaID))
		if !strings.Contains(choice.body, `value="`+aaID+`"`) {
			t.Fatalf("no AA choice: %d\n%s", choice.status, choice.body)
		}
		confirm := br.submit(choice, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
		res, _ := samlResult(t, a, br.submit(confirm, "/aa", url.Values{"op": {"authorise"}}), id)
		if len(res.GrantTokens) != 1 || res.GrantTokens[0].Destination != aaID {
			t.Fatalf("grant tokens %+v", res.GrantTokens)
		}
	})
	t.Run("discovery off", func(t *testing.T) {
		a, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
			cfg.OIDC.Enabled, cfg.OIDC.Federation.AttributeAuthorities = false, false
		}})
		if a.AA != nil || a.OIDC != nil {
			t.Fatal("AA registry or OP running with both off")
		}
		next, id := aaFlow(t, a, ts.URL, newBrowser(t), info.Username, info.Password, demo.RequiredAA("http://127.0.0.1/demo-aa"))
		if strings.Contains(next.body, `name="aa"`) {
			t.Fatal("AA choice without a registry")
		}
		samlResult(t, a, next, id)
	})
}

// switchLang follows p's language link to lang.
func switchLang(t *testing.T, br *browser, p page, lang string) page {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]*lang=` + lang + `)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no link to %s on the page:\n%s", lang, p.body)
	}
	ref, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	out := br.get(p.url.ResolveReference(ref).String())
	if out.status != http.StatusOK || !strings.Contains(out.body, `<html lang="`+lang+`">`) {
		t.Fatalf("language switch: %d %s\n%s", out.status, out.url, out.body)
	}
	return out
}

// TestAAPagesLanguageSwitch: switching language on the AA choice and on
// the AA consent shows the same step again, and the flow goes on from the
// English page, in the SAML and in the OIDC front end.
func TestAAPagesLanguageSwitch(t *testing.T) {
	a, ts, info := testApp(t)
	aaID := a.demoFed.AA.ID
	// through runs the choice (switched to English) and the consent
	// (switched back to Italian) and returns the page that follows.
	through := func(t *testing.T, br *browser, choice page) page {
		t.Helper()
		if !strings.Contains(choice.body, `value="`+aaID+`"`) {
			t.Fatalf("no AA choice: %d\n%s", choice.status, choice.body)
		}
		en := switchLang(t, br, choice, "en")
		if !strings.Contains(en.body, `name="aa" value="`+aaID+`"`) || !strings.Contains(en.body, "Have other details of yours certified?") {
			t.Fatalf("the switch left the AA choice:\n%s", en.body)
		}
		confirm := br.submit(en, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
		it := switchLang(t, br, confirm, "it")
		if !strings.Contains(it.body, `value="authorise"`) || !strings.Contains(it.body, "Autorizzi gli enti certificatori?") {
			t.Fatalf("the switch left the AA consent:\n%s", it.body)
		}
		return br.submit(it, "/aa", url.Values{"op": {"authorise"}})
	}

	t.Run("SAML", func(t *testing.T) {
		br := newBrowser(t)
		choice, id := aaFlow(t, a, ts.URL, br, info.Username, info.Password, demo.RequiredAA(aaID))
		res, _ := samlResult(t, a, through(t, br, choice), id)
		if len(res.GrantTokens) != 1 {
			t.Fatalf("grant tokens %+v", res.GrantTokens)
		}
	})
	t.Run("OIDC", func(t *testing.T) {
		issuer, rp := a.Config.OIDC.Issuer, a.demoFed.RP1
		br := newBrowser(t)
		ro, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
		ro["authorization_details"] = []any{map[string]any{"type": attrauth.DetailsType, "locations": []any{aaID}}}
		lp := authorize(br, issuer, rp, ro)
		consent := br.submit(lp, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		next := through(t, br, br.submit(consent, "/consent", url.Values{"op": {"accept"}}))
		if next.url.Query().Get("code") == "" {
			t.Fatalf("no code after the AA consent: %d %s\n%s", next.status, next.url, next.body)
		}
	})
	t.Run("AA step not reached by skipping P05", func(t *testing.T) {
		// The consent page's own flow, posted to the AA step, is refused:
		// P05 must be accepted first.
		br := newBrowser(t)
		u, err := a.demoSP.RequestURLFor(response.RandomID(), spid.L1, demo.RequiredAA(aaID))
		if err != nil {
			t.Fatal(err)
		}
		consent := br.submit(br.get(u), "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		m := regexp.MustCompile(`action="/consent\?([^"]*)"`).FindStringSubmatch(consent.body)
		if m == nil {
			t.Fatalf("consent page:\n%s", consent.body)
		}
		consent.body = strings.Replace(consent.body, `action="/consent?`, `action="/aa?`, 1)
		skip := br.submit(consent, "/aa", url.Values{"op": {"continue"}})
		if strings.Contains(skip.body, "SAMLResponse") || skip.status == http.StatusOK {
			t.Fatalf("AA step without P05: %d\n%s", skip.status, skip.body)
		}
	})
}
