package app

import (
	"context"
	"encoding/base64"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/internal/spclient"
)

var aaSAMLResponseRE = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

// aaFlow logs the demo citizen in through a demo SP AuthnRequest carrying
// ext in its Extensions, accepts P05 and returns the page that follows
// with the request ID.
func aaFlow(t *testing.T, a *App, ts string, br *browser, user, pw, ext string) (page, string) {
	t.Helper()
	id := response.RandomID()
	u, err := a.demoSP.RequestURLFor(id, spid.L1, ext)
	if err != nil {
		t.Fatal(err)
	}
	login := br.get(u)
	consent := br.submit(login, "/login", url.Values{"username": {user}, "password": {pw}, "op": {"submit"}})
	if consent.status != 200 || !strings.Contains(consent.body, `value="accept"`) {
		t.Fatalf("consent page: %d\n%s", consent.status, consent.body)
	}
	return br.submit(consent, "/consent", url.Values{"op": {"accept"}}), id
}

// samlResult checks the Response on a transfer page as the demo SP does,
// and that the whole Response is signed by the IdP.
func samlResult(t *testing.T, a *App, p page, id string) (spclient.Result, *etree.Element) {
	t.Helper()
	m := aaSAMLResponseRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no SAMLResponse on the page (%d):\n%s", p.status, p.body)
	}
	b64 := html.UnescapeString(m[1])
	res, err := spclient.Check(b64, spclient.Expect{InResponseTo: id, Destination: a.demoSP.EntityID + "/acs",
		Audience: a.demoSP.EntityID, IdPCerts: a.IdPCerts()})
	if err != nil || !res.Success {
		t.Fatalf("Response: %+v %v", res, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(b64)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	if _, err := responsetest.Verify(doc.Root().Copy(), a.IdPCerts()[0], time.Now()); err != nil {
		t.Errorf("A021: Response signature: %v", err)
	}
	return res, doc.Root()
}

// TestAttributeAuthoritiesSAML drives the SSC AA cases and the four
// "authenticate normally" cases of spec §9.2 through the HTTP server.
func TestAttributeAuthoritiesSAML(t *testing.T) {
	a, ts, info := testApp(t)
	if a.AA == nil || a.demoFed == nil {
		t.Fatal("demo mode has no attribute authority registry")
	}
	aaID := a.demoFed.AA.ID
	user, pw := info.Username, info.Password

	// A004–A007, A009 (SSC AA1–AA4): served as if no AA had been asked.
	for name, ext := range map[string]string{
		"AA1 RequiredAttributeAuthorities": `<spid:RequiredAttributeAuthorities xmlns:spid="` + spid.NSSPID + `"><Location>` + aaID + `</Location></spid:RequiredAttributeAuthorities>`,
		"AA2 no Location":                  `<spid:RequiredAttributeAuthority xmlns:spid="` + spid.NSSPID + `"></spid:RequiredAttributeAuthority>`,
		"AA3 empty Locations":              demo.RequiredAA("", "  "),
		"AA4 Location not in the registry": demo.RequiredAA("https://aa.example.it"),
	} {
		t.Run(name, func(t *testing.T) {
			br := newBrowser(t)
			next, id := aaFlow(t, a, ts.URL, br, user, pw, ext)
			if strings.Contains(next.body, `name="aa"`) {
				t.Fatalf("AA choice shown:\n%s", next.body)
			}
			res, root := samlResult(t, a, next, id)
			if len(res.GrantTokens) != 0 || root.FindElement("./Extensions") != nil {
				t.Errorf("A022: Extensions in the Response")
			}
		})
	}

	t.Run("AA6 none chosen: no AA consent, no grant", func(t *testing.T) {
		br := newBrowser(t)
		choice, id := aaFlow(t, a, ts.URL, br, user, pw, demo.RequiredAA("", aaID, " "))
		// A008, A012–A014: the AA with its logo and name, unchecked.
		for _, want := range []string{`src="` + a.demoFed.AA.ID + `/logo.svg"`, "Attribute Authority dimostrativa",
			`type="checkbox" id="aa-0" name="aa" value="` + aaID + `"`} {
			if !strings.Contains(choice.body, want) {
				t.Errorf("choice page lacks %s", want)
			}
		}
		if strings.Contains(choice.body, "checked") {
			t.Error("an AA is preselected")
		}
		next := br.submit(choice, "/aa", url.Values{"op": {"continue"}})
		if strings.Contains(next.body, `value="authorise"`) {
			t.Fatal("A016: AA consent asked with no AA chosen")
		}
		res, _ := samlResult(t, a, next, id)
		if len(res.GrantTokens) != 0 {
			t.Error("grant token with no AA chosen")
		}
	})

	t.Run("AA5 chosen, consent refused: no grant", func(t *testing.T) {
		br := newBrowser(t)
		choice, id := aaFlow(t, a, ts.URL, br, user, pw, demo.RequiredAA(aaID))
		confirm := br.submit(choice, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
		// A015: the consent names the SP, the AA and the data it receives.
		for _, want := range []string{demo.SPName, "Attribute Authority dimostrativa", "TINIT-RSSMRA80A01H501U", user, "refuse"} {
			if !strings.Contains(confirm.body, html.EscapeString(want)) {
				t.Errorf("AA consent page lacks %q", want)
			}
		}
		next := br.submit(confirm, "/aa", url.Values{"op": {"refuse"}})
		res, root := samlResult(t, a, next, id)
		if len(res.GrantTokens) != 0 || root.FindElement("./Extensions") != nil {
			t.Error("grant token after the AA consent was refused")
		}
	})

	t.Run("AA7 chosen and authorised: one grant token", func(t *testing.T) {
		br := newBrowser(t)
		choice, id := aaFlow(t, a, ts.URL, br, user, pw, demo.RequiredAA(aaID, aaID, "https://aa.example.it"))
		// An id that was not offered is ignored.
		confirm := br.submit(choice, "/aa", url.Values{"op": {"continue"}, "aa": {aaID, "https://aa.example.it"}})
		next := br.submit(confirm, "/aa", url.Values{"op": {"authorise"}})
		res, root := samlResult(t, a, next, id)
		if len(res.GrantTokens) != 1 || res.GrantTokens[0].Destination != aaID {
			t.Fatalf("A020: grant tokens %+v", res.GrantTokens)
		}
		// A018, A019: Extensions right after the signature, before Status.
		var tags []string
		for _, c := range root.ChildElements() {
			tags = append(tags, c.Tag)
		}
		if strings.Join(tags, " ") != "Issuer Signature Extensions Status Assertion" {
			t.Errorf("Response children %v", tags)
		}
		g := root.FindElement("./Extensions/GrantedAttributeAuthority")
		if g == nil || g.NamespaceURI() != spid.NSSPID || g.ChildElements()[0].NamespaceURI() != "" {
			t.Fatal("A019: GrantedAttributeAuthority or GrantToken in the wrong namespace")
		}
		// A023–A034: the token opens with the AA key and verifies with the
		// certificate of our SAML metadata.
		cert := a.IdPCerts()[0]
		kid, _ := federation.Thumbprint(cert.PublicKey)
		o, err := attrauth.Open(res.GrantTokens[0].Token, a.demoFed.AA.Enc,
			jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: cert.PublicKey, KeyID: kid}}})
		if err != nil {
			t.Fatal(err)
		}
		c := o.Claims
		act, _ := c["act"].(map[string]any)
		for k, want := range map[string]any{"iss": a.Config.IdP.EntityID, "aud": aaID, "sid": "saml:" + root.SelectAttrValue("ID", ""),
			"acr": spid.ClassSpidL1, "sub": user, "email": user, "https://attributes.eid.gov.it/fiscal_number": "TINIT-RSSMRA80A01H501U"} {
			if c[k] != want {
				t.Errorf("grant claim %s = %v, want %v", k, c[k], want)
			}
		}
		if act["sub"] != a.demoSP.EntityID {
			t.Errorf("act = %v", c["act"])
		}
		// A041: the demo AA accepts it and answers; the demo SP shows it.
		attrs, err := a.demoExchange(context.Background(), aaID, res.GrantTokens[0].Token)
		if err != nil || len(attrs) < 2 || attrs[0].Value != user {
			t.Errorf("demo AA exchange: %v %v", attrs, err)
		}
		// The AA consent posted again answers nothing more.
		if again := br.submit(confirm, "/aa", url.Values{"op": {"authorise"}}); strings.Contains(again.body, "SAMLResponse") {
			t.Error("a second Response for the same flow")
		}
	})

	t.Run("AA whose attributes the citizen lacks is disabled", func(t *testing.T) {
		addCitizen(t, a, "senza.email@example.org", "Senza-Email-2026", map[string]string{
			"spidCode": "DEMO0000000077", "name": "Lucia", "familyName": "Bianchi", "fiscalNumber": "TINIT-RSSMRA80A01H501U"})
		br := newBrowser(t)
		choice, id := aaFlow(t, a, ts.URL, br, "senza.email@example.org", "Senza-Email-2026", demo.RequiredAA(aaID))
		if !strings.Contains(choice.body, `disabled aria-describedby="aa-0-why"`) {
			t.Fatalf("AA not disabled:\n%s", choice.body)
		}
		next := br.submit(choice, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
		res, _ := samlResult(t, a, next, id)
		if len(res.GrantTokens) != 0 {
			t.Error("grant token for an AA the citizen could not choose")
		}
	})

	t.Run("demo SP button", func(t *testing.T) {
		br := newBrowser(t)
		home := br.get(ts.URL + "/demo-sp/")
		if !strings.Contains(home.body, `value="1aa"`) {
			t.Fatal("demo SP offers no AA login")
		}
		login := br.submit(home, "/demo-sp/login", url.Values{"level": {"1aa"}})
		consent := br.submit(login, "/login", url.Values{"username": {user}, "password": {pw}, "op": {"submit"}})
		choice := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
		confirm := br.submit(choice, "/aa", url.Values{"op": {"continue"}, "aa": {aaID}})
		transfer := br.submit(confirm, "/aa", url.Values{"op": {"authorise"}})
		result := br.submit(transfer, "/demo-sp/acs", nil)
		for _, want := range []string{aaID, "Iscritto all&#39;albo dimostrativo n. 1234", user} {
			if !strings.Contains(result.body, want) {
				t.Errorf("demo SP result lacks %q", want)
			}
		}
		if t.Failed() {
			t.Log(result.body)
		}
	})
}
