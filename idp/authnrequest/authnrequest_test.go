package authnrequest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
)

const (
	idpEntity   = "https://idp.example.it"
	ssoRedirect = "https://idp.example.it/sso/redirect"
	ssoPOST     = "https://idp.example.it/sso/post"
	spA         = "https://sp.example.it"
	spBEntity   = "https://other-sp.example.it"
	acs0        = "https://sp.example.it/acs"
	acs1        = "https://sp.example.it/acs1"
	acsRedirect = "https://sp.example.it/acs-redirect"
)

var (
	keysOnce     sync.Once
	pairA, pairB keys.Pair
)

func testKeys(t testing.TB) {
	keysOnce.Do(func() {
		pairA = bindingtest.FixedPair(t, 1)
		pairB = bindingtest.FixedPair(t, 2)
	})
}

func newSP(entityID string, cert *x509.Certificate) *metadata.SP {
	return &metadata.SP{
		EntityID:     entityID,
		Certificates: []*x509.Certificate{cert},
		ACS: []metadata.Endpoint{
			{Binding: spid.BindingPOST, Location: entityID + "/acs", Index: 0, IsDefault: true},
			{Binding: spid.BindingPOST, Location: entityID + "/acs1", Index: 1},
			{Binding: spid.BindingRedirect, Location: entityID + "/acs-redirect", Index: 2},
		},
		AttributeServices: []metadata.AttributeService{
			{Index: 0, IsDefault: true, ServiceName: map[string]string{"it": "Servizio"}, Attributes: []metadata.RequestedAttribute{
				{Name: "name", IsRequired: true}, {Name: "familyName", IsRequired: true}, {Name: "fiscalNumber"},
			}},
			{Index: 1, ServiceName: map[string]string{"it": "Email"}, Attributes: []metadata.RequestedAttribute{{Name: "email"}}},
		},
		DisplayName: map[string]string{"it": "Servizio di prova"},
	}
}

type spMap map[string]*metadata.SP

func (m spMap) LookupSP(_ context.Context, id string) (*metadata.SP, error) {
	if sp, ok := m[id]; ok {
		return sp, nil
	}
	return nil, fmt.Errorf("lookup %q: %w", id, storage.ErrNotFound)
}

type failingLookup struct{}

func (failingLookup) LookupSP(context.Context, string) (*metadata.SP, error) {
	return nil, errors.New("registry down")
}

type failingReplay struct{}

func (failingReplay) InsertRequestID(context.Context, string, time.Time) error {
	return errors.New("redis down")
}

type fixture struct {
	now     time.Time
	checker *Checker
	store   *memory.Store
}

func newFixture(t testing.TB) *fixture {
	testKeys(t)
	now := time.Now().UTC()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	return &fixture{
		now:   now,
		store: store,
		checker: &Checker{
			IdPEntityID: idpEntity,
			SSOURLs:     []string{ssoRedirect, ssoPOST},
			SPs:         spMap{spA: newSP(spA, pairA.Cert), spBEntity: newSP(spBEntity, pairB.Cert)},
			Replay:      store,
			Now:         func() time.Time { return now },
		},
	}
}

var idCounter atomic.Int64

// request builds the default valid AuthnRequest, applies mutate and
// returns the XML.
func (f *fixture) request(t testing.TB, mutate func(r *etree.Element)) []byte {
	t.Helper()
	id := fmt.Sprintf("_req%d_%d", time.Now().UnixNano(), idCounter.Add(1))
	s := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
		` ID="` + id + `" Version="2.0" IssueInstant="` + f.now.Add(-5*time.Second).Format("2006-01-02T15:04:05.000Z") + `"` +
		` Destination="` + idpEntity + `" ForceAuthn="true" AssertionConsumerServiceIndex="0" AttributeConsumingServiceIndex="0">` +
		`<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="` + spA + `">` + spA + `</saml:Issuer>` +
		`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/>` +
		`<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>https://www.spid.gov.it/SpidL2</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>` +
		`</samlp:AuthnRequest>`
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(doc.Root())
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// send wraps xml for the binding, signed with pair (nil: unsigned).
func send(t testing.TB, bind string, xml []byte, relay string, pair *keys.Pair) *http.Request {
	t.Helper()
	if bind == spid.BindingRedirect {
		r := bindingtest.Redirect{XML: xml, RelayState: relay}
		if pair != nil {
			r.Key = pair.Key
		}
		return bindingtest.GET(ssoRedirect, r.Query())
	}
	if pair != nil {
		xml = bindingtest.Sign(t, xml, *pair)
	}
	return bindingtest.POST(ssoPOST, bindingtest.Form("SAMLRequest", xml, relay))
}

func setAttr(k, v string) func(*etree.Element) {
	return func(r *etree.Element) { r.CreateAttr(k, v) }
}

func delAttr(k string) func(*etree.Element) {
	return func(r *etree.Element) { r.RemoveAttr(k) }
}

func find(r *etree.Element, local string) *etree.Element {
	for _, e := range r.FindElements(".//*") {
		if e.Tag == local {
			return e
		}
	}
	return nil
}

func onChild(local string, f func(*etree.Element)) func(*etree.Element) {
	return func(r *etree.Element) { f(find(r, local)) }
}

func removeChild(local string) func(*etree.Element) {
	return func(r *etree.Element) {
		c := find(r, local)
		c.Parent().RemoveChild(c)
	}
}

// insertXML parses frag (with the usual prefixes declared) and inserts its
// root as child number pos of r (-1: append).
func insertXML(pos int, frag string) func(*etree.Element) {
	return func(r *etree.Element) {
		d := etree.NewDocument()
		wrapped := `<w xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:spid="https://spid.gov.it/saml-extensions">` + frag + `</w>`
		if err := d.ReadFromString(wrapped); err != nil {
			panic(err)
		}
		el := d.Root().ChildElements()[0]
		d.Root().RemoveChild(el)
		if strings.Contains(frag, "spid:") {
			el.CreateAttr("xmlns:spid", spid.NSSPID)
		}
		if pos < 0 {
			r.AddChild(el)
		} else {
			r.InsertChildAt(pos, el)
		}
	}
}

func all(fs ...func(*etree.Element)) func(*etree.Element) {
	return func(r *etree.Element) {
		for _, f := range fs {
			f(r)
		}
	}
}

var bothBindings = []string{spid.BindingRedirect, spid.BindingPOST}

func short(b string) string {
	if b == spid.BindingRedirect {
		return "Redirect"
	}
	return "POST"
}

func TestCheckAccepts(t *testing.T) {
	f := newFixture(t)
	type tc struct {
		mutate func(*etree.Element)
		relay  string
		check  func(t *testing.T, r *Request)
	}
	cases := map[string]tc{
		"default request": {relay: "opaque-state", check: func(t *testing.T, r *Request) {
			if r.SP.EntityID != spA || r.Level != spid.L2 || r.Comparison != spid.ComparisonMinimum || !r.ForceAuthn {
				t.Errorf("request = %+v", r)
			}
			if r.ACS.Location != acs0 || r.ACS.Binding != spid.BindingPOST {
				t.Errorf("ACS = %+v", r.ACS)
			}
			if r.AttributeIndex == nil || *r.AttributeIndex != 0 || len(r.Attributes) != 3 {
				t.Errorf("attributes = %v %v", r.AttributeIndex, r.Attributes)
			}
			if r.RelayState != "opaque-state" || !r.HasRelayState || r.Destination != idpEntity || r.Purpose != "" {
				t.Errorf("request = %+v", r)
			}
			if r.IssueInstant.IsZero() || r.ID == "" || len(r.XML) == 0 {
				t.Errorf("request = %+v", r)
			}
		}},
		"Issuer padded with whitespace (C053)": {mutate: onChild("Issuer", func(e *etree.Element) { e.SetText("\n  " + spA + "  \n") })},
		"Issuer split by CDATA (S019)": {mutate: onChild("Issuer", func(e *etree.Element) {
			e.SetText("https://sp.")
			e.CreateCData("example.it")
		})},
		"SpidL1 maximum": {mutate: all(onChild("RequestedAuthnContext", func(e *etree.Element) { e.CreateAttr("Comparison", "maximum") }),
			onChild("AuthnContextClassRef", func(e *etree.Element) { e.SetText(spid.ClassSpidL1) })),
			check: func(t *testing.T, r *Request) {
				if r.Level != spid.L1 || r.Comparison != spid.ComparisonMaximum {
					t.Errorf("level = %v %q", r.Level, r.Comparison)
				}
			}},
		"IsPassive false (C069)":             {mutate: setAttr("IsPassive", "false")},
		"Destination is the SSO URL (C067)":  {mutate: setAttr("Destination", ssoPOST)},
		"Destination is the entityID (C066)": {mutate: setAttr("Destination", idpEntity)},
		"ACS URL and HTTP-POST binding (C085)": {
			mutate: all(delAttr("AssertionConsumerServiceIndex"), setAttr("AssertionConsumerServiceURL", acs1), setAttr("ProtocolBinding", spid.BindingPOST)),
			check: func(t *testing.T, r *Request) {
				if r.ACS.Location != acs1 || r.ACS.Index != 1 {
					t.Errorf("ACS = %+v", r.ACS)
				}
			}},
		"ACS index 1 (C084)": {mutate: setAttr("AssertionConsumerServiceIndex", "1"), check: func(t *testing.T, r *Request) {
			if r.ACS.Location != acs1 {
				t.Errorf("ACS = %+v", r.ACS)
			}
		}},
		"AllowCreate true (C088)":   {mutate: onChild("NameIDPolicy", func(e *etree.Element) { e.CreateAttr("AllowCreate", "true") })},
		"AllowCreate false (C088)":  {mutate: onChild("NameIDPolicy", func(e *etree.Element) { e.CreateAttr("AllowCreate", "false") })},
		"SPNameQualifier tolerated": {mutate: onChild("NameIDPolicy", func(e *etree.Element) { e.CreateAttr("SPNameQualifier", spA) })},
		"no AttributeConsumingServiceIndex (C091)": {mutate: delAttr("AttributeConsumingServiceIndex"), check: func(t *testing.T, r *Request) {
			if r.AttributeIndex != nil || r.Attributes != nil {
				t.Errorf("attributes = %v %v", r.AttributeIndex, r.Attributes)
			}
		}},
		"AttributeConsumingServiceIndex 1": {mutate: setAttr("AttributeConsumingServiceIndex", "1"), check: func(t *testing.T, r *Request) {
			if *r.AttributeIndex != 1 || len(r.Attributes) != 1 || r.Attributes[0].Name != "email" {
				t.Errorf("attributes = %v", r.Attributes)
			}
		}},
		"Scoping ProxyCount 0 with RequesterID (C093)": {mutate: insertXML(-1,
			`<samlp:Scoping ProxyCount="0"><samlp:RequesterID>urn:x</samlp:RequesterID></samlp:Scoping>`)},
		"Subject NameID unspecified 1.1 (C094)": {mutate: insertXML(1,
			`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" NameQualifier="`+spA+`">abc</saml:NameID></saml:Subject>`),
			check: func(t *testing.T, r *Request) {
				if r.SubjectNameID != "abc" {
					t.Errorf("SubjectNameID = %q", r.SubjectNameID)
				}
			}},
		"Subject NameID unspecified 2.0 spelling (C094)": {mutate: insertXML(1,
			`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified" NameQualifier="`+spA+`">abc</saml:NameID></saml:Subject>`)},
		"Conditions in UTC (C096)": {mutate: insertXML(2,
			`<saml:Conditions NotBefore="2026-01-01T00:00:00Z" NotOnOrAfter="2026-01-01T00:05:00.000Z"/>`)},
		"spid:Purpose PX": {mutate: insertXML(1, `<samlp:Extensions><spid:Purpose>PX</spid:Purpose></samlp:Extensions>`),
			check: func(t *testing.T, r *Request) {
				if r.Purpose != "PX" {
					t.Errorf("Purpose = %q", r.Purpose)
				}
			}},
		// oidc-federation.md §9.2: the AA extension never makes an anomaly.
		"AA1 RequiredAttributeAuthorities (wrong name)": {mutate: insertXML(1, `<samlp:Extensions><spid:RequiredAttributeAuthorities><Location>https://aa.example.it</Location></spid:RequiredAttributeAuthorities></samlp:Extensions>`),
			check: wantAAs()},
		"AA2 RequiredAttributeAuthority without Location": {mutate: insertXML(1, `<samlp:Extensions><spid:RequiredAttributeAuthority></spid:RequiredAttributeAuthority></samlp:Extensions>`),
			check: wantAAs()},
		"AA3 only empty Locations": {mutate: insertXML(1, `<samlp:Extensions><spid:RequiredAttributeAuthority><Location></Location><Location>  </Location><spid:Location/></spid:RequiredAttributeAuthority></samlp:Extensions>`),
			check: wantAAs()},
		"AA one Location among empty ones, trimmed": {mutate: insertXML(1, `<samlp:Extensions><spid:RequiredAttributeAuthority><Location/><Location> https://aa.example.it
</Location></spid:RequiredAttributeAuthority></samlp:Extensions>`),
			check: wantAAs("https://aa.example.it")},
		"AA qualified and unqualified Locations, with Purpose": {mutate: insertXML(1, `<samlp:Extensions><spid:Purpose>P</spid:Purpose><spid:RequiredAttributeAuthority><spid:Location>https://a.example.it</spid:Location><Location>https://b.example.it</Location><x:Location xmlns:x="urn:x">https://c.example.it</x:Location><Location>bad<b/></Location></spid:RequiredAttributeAuthority></samlp:Extensions>`),
			check: wantAAs("https://a.example.it", "https://b.example.it")},
		"unknown extension ignored (spid:AgeLimit)":        {mutate: insertXML(1, `<samlp:Extensions><spid:AgeLimit><spid:MinAge>18</spid:MinAge></spid:AgeLimit></samlp:Extensions>`)},
		"IssueInstant 5 s ago without milliseconds (C063)": {mutate: setAttr("IssueInstant", f.now.Add(-5*time.Second).Format("2006-01-02T15:04:05Z"))},
		"IssueInstant 20 s ahead (S052)":                   {mutate: setAttr("IssueInstant", f.now.Add(20*time.Second).Format(time.RFC3339Nano))},
		"SpidL2 without ForceAuthn (C100)": {mutate: delAttr("ForceAuthn"), check: func(t *testing.T, r *Request) {
			if r.ForceAuthn {
				t.Error("ForceAuthn set")
			}
		}},
		"ForceAuthn 1":        {mutate: setAttr("ForceAuthn", "1")},
		"foreign attribute":   {mutate: all(setAttr("xmlns:x", "urn:x"), setAttr("x:foo", "bar"))},
		"ProviderName":        {mutate: setAttr("ProviderName", "Ente")},
		"pretty-printed XML":  {mutate: func(r *etree.Element) { r.InsertChildAt(0, etree.NewText("\n  ")) }},
		"RelayState 81 bytes": {relay: strings.Repeat("r", 81)},
	}
	for name, c := range cases {
		for _, b := range bothBindings {
			t.Run(short(b)+"/"+name, func(t *testing.T) {
				r, err := f.checker.Check(context.Background(), send(t, b, f.request(t, c.mutate), c.relay, &pairA), b)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if r.Binding != b {
					t.Errorf("Binding = %q", r.Binding)
				}
				if c.check != nil {
					c.check(t, r)
				}
			})
		}
	}
}

func TestCheckPOSTWithoutKeyInfo(t *testing.T) { // S027
	f := newFixture(t)
	signed := bindingtest.Sign(t, f.request(t, nil), pairA)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(signed); err != nil {
		t.Fatal(err)
	}
	ki := find(doc.Root(), "KeyInfo")
	ki.Parent().RemoveChild(ki)
	x, _ := doc.WriteToBytes()
	if _, err := f.checker.Check(context.Background(), bindingtest.POST(ssoPOST, bindingtest.Form("SAMLRequest", x, "")), spid.BindingPOST); err != nil {
		t.Fatal(err)
	}
}

type rejectCase struct {
	mutate  func(*etree.Element)
	relay   string
	signer  *keys.Pair // default pairA; use unsigned for none
	only    string     // restrict to one binding
	anomaly spid.Anomaly
	step    string
	check   func(t *testing.T, e *Error)
}

var unsigned = &keys.Pair{}

func TestCheckRejects(t *testing.T) {
	f := newFixture(t)
	defaultACS := func(t *testing.T, e *Error) {
		if e.ACS.Location != acs0 || !e.ACS.IsDefault {
			t.Errorf("error ACS = %+v, want the default ACS", e.ACS)
		}
	}
	cases := map[string]rejectCase{
		// Step 4: nr10, user page.
		"no Issuer (C049)":                      {mutate: removeChild("Issuer"), anomaly: spid.NrIssuer, step: StepIssuer},
		"unknown Issuer (C050, S030)":           {mutate: onChild("Issuer", func(e *etree.Element) { e.SetText("https://unknown.example.it") }), anomaly: spid.NrIssuer, step: StepIssuer},
		"Issuer Format missing (C051)":          {mutate: onChild("Issuer", func(e *etree.Element) { e.RemoveAttr("Format") }), anomaly: spid.NrIssuer, step: StepIssuer},
		"Issuer Format trailing space (C051)":   {mutate: onChild("Issuer", func(e *etree.Element) { e.CreateAttr("Format", spid.NameIDEntity+" ") }), anomaly: spid.NrIssuer, step: StepIssuer},
		"Issuer NameQualifier missing (C052)":   {mutate: onChild("Issuer", func(e *etree.Element) { e.RemoveAttr("NameQualifier") }), anomaly: spid.NrIssuer, step: StepIssuer},
		"Issuer NameQualifier not a URI (C052)": {mutate: onChild("Issuer", func(e *etree.Element) { e.CreateAttr("NameQualifier", "not a uri") }), anomaly: spid.NrIssuer, step: StepIssuer},
		"Issuer with a child element":           {mutate: onChild("Issuer", func(e *etree.Element) { e.CreateElement("saml:X") }), anomaly: spid.NrIssuer, step: StepIssuer},
		"two Issuers":                           {mutate: insertXML(1, `<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="https://x">`+spA+`</saml:Issuer>`), anomaly: spid.NrIssuer, step: StepIssuer},
		"empty Issuer":                          {mutate: onChild("Issuer", func(e *etree.Element) { e.SetText("  ") }), anomaly: spid.NrIssuer, step: StepIssuer},

		// Step 5: signature.
		"signed by SP B, Issuer SP A (C047, S029)": {signer: &pairB, anomaly: -1, step: StepSignature},
		"unsigned (C041, S058)":                    {signer: unsigned, only: spid.BindingPOST, anomaly: spid.NrPOSTSignature, step: StepSignature},

		// Step 3: decoding and parsing.
		"root is not AuthnRequest": {mutate: func(r *etree.Element) { r.Tag = "LogoutRequest" }, anomaly: spid.NrBindingFormat, step: StepDecode},
		"samlp prefix bound to a wrong URI (S032)": {mutate: setAttr("xmlns:samlp", "urn:oasis:names:tc:SAML:2.0:protocolX"),
			anomaly: spid.NrBindingFormat, step: StepDecode},
		"comment inside Issuer (S017)": {mutate: onChild("Issuer", func(e *etree.Element) {
			e.SetText(spA)
			e.CreateComment("")
			e.CreateCharData(".evil.example")
		}), only: spid.BindingRedirect, anomaly: spid.NrBindingFormat, step: StepDecode},
		"processing instruction in NameIDPolicy (S018)": {mutate: onChild("NameIDPolicy", func(e *etree.Element) { e.CreateProcInst("x", "y") }),
			anomaly: spid.NrBindingFormat, step: StepDecode},
		"RelayState 1025 bytes (S056)": {relay: strings.Repeat("r", 1025), anomaly: spid.NrBindingFormat, step: StepDecode},
		"duplicate ID on a descendant (S015)": {mutate: func(r *etree.Element) {
			find(r, "NameIDPolicy").CreateAttr("ID", r.SelectAttrValue("ID", ""))
		}, anomaly: spid.NrBindingFormat, step: StepDecode},

		// Step 6: nr09.
		"Version 1.1 (C054)": {mutate: setAttr("Version", "1.1"), anomaly: spid.NrVersion, step: StepVersion, check: func(t *testing.T, e *Error) {
			if top, _ := e.Anomaly.Status(); top != spid.StatusVersionMismatch {
				t.Errorf("status %s", top)
			}
		}},
		"Version missing (C055)": {mutate: delAttr("Version"), anomaly: spid.NrVersion, step: StepVersion},

		// Step 7: nr11.
		"ID missing (C056)": {mutate: delAttr("ID"), only: spid.BindingRedirect, anomaly: spid.NrID, step: StepID, check: func(t *testing.T, e *Error) {
			if e.InResponseTo != "" {
				t.Errorf("InResponseTo = %q for a missing ID", e.InResponseTo)
			}
		}},
		"ID starting with a digit (C057)": {mutate: setAttr("ID", "1abc"), anomaly: spid.NrID, step: StepID, check: func(t *testing.T, e *Error) {
			if e.InResponseTo != "" {
				t.Errorf("InResponseTo = %q for an invalid ID", e.InResponseTo)
			}
		}},
		"ID with a colon": {mutate: setAttr("ID", "_a:b"), anomaly: spid.NrID, step: StepID},
		"ID too long":     {mutate: setAttr("ID", "_"+strings.Repeat("a", MaxIDLength)), anomaly: spid.NrID, step: StepID},

		// Step 8: nr13.
		"IssueInstant missing (C059)":   {mutate: delAttr("IssueInstant"), anomaly: spid.NrIssueInstant, step: StepIssueInstant},
		"IssueInstant without Z (C060)": {mutate: setAttr("IssueInstant", f.now.Format("2006-01-02T15:04:05")), anomaly: spid.NrIssueInstant, step: StepIssueInstant},
		"IssueInstant +01:00 (C060)": {mutate: setAttr("IssueInstant", f.now.In(time.FixedZone("CET", 3600)).Format("2006-01-02T15:04:05+01:00")),
			anomaly: spid.NrIssueInstant, step: StepIssueInstant},
		"IssueInstant 10 min ago (C061)": {mutate: setAttr("IssueInstant", f.now.Add(-10*time.Minute).Format(time.RFC3339)), anomaly: spid.NrIssueInstant, step: StepIssueInstant,
			check: func(t *testing.T, e *Error) {
				if top, sub := e.Anomaly.Status(); top != spid.StatusRequester || sub != spid.StatusRequestDenied {
					t.Errorf("status %s %s", top, sub)
				}
				if e.InResponseTo == "" || e.SP == nil || e.ACS.Location != acs0 {
					t.Errorf("error = %+v", e)
				}
			}},
		"IssueInstant 10 min ahead (C062)": {mutate: setAttr("IssueInstant", f.now.Add(10*time.Minute).Format(time.RFC3339)), anomaly: spid.NrIssueInstant, step: StepIssueInstant},
		"IssueInstant garbage":             {mutate: setAttr("IssueInstant", "yesterday"), anomaly: spid.NrIssueInstant, step: StepIssueInstant},
		"IssueInstant error goes to the requested ACS": {mutate: all(setAttr("IssueInstant", "x"), setAttr("AssertionConsumerServiceIndex", "1")),
			anomaly: spid.NrIssueInstant, step: StepIssueInstant, check: func(t *testing.T, e *Error) {
				if e.ACS.Location != acs1 {
					t.Errorf("ACS = %+v, want the resolved one", e.ACS)
				}
			}},

		// Step 9: nr14.
		"Destination missing (C064)":           {mutate: delAttr("Destination"), anomaly: spid.NrDestination, step: StepDestination},
		"Destination another IdP (C065, S055)": {mutate: setAttr("Destination", "https://other-idp.example.it"), anomaly: spid.NrDestination, step: StepDestination},
		"Destination with a trailing slash":    {mutate: setAttr("Destination", idpEntity+"/"), anomaly: spid.NrDestination, step: StepDestination},

		// Step 10: nr15.
		"IsPassive true (C068)": {mutate: setAttr("IsPassive", "true"), anomaly: spid.NrIsPassive, step: StepIsPassive},
		"IsPassive 1":           {mutate: setAttr("IsPassive", "1"), anomaly: spid.NrIsPassive, step: StepIsPassive},

		// Step 11: nr12.
		"no RequestedAuthnContext (C070)": {mutate: removeChild("RequestedAuthnContext"), anomaly: spid.NrAuthnContext, step: StepAuthnContext, check: func(t *testing.T, e *Error) {
			if _, sub := e.Anomaly.Status(); sub != spid.StatusNoAuthnContext {
				t.Errorf("sub-status %s", sub)
			}
		}},
		"obsolete SpidL2 URI (C071)": {mutate: onChild("AuthnContextClassRef", func(e *etree.Element) {
			e.SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL2")
		}), anomaly: spid.NrAuthnContext, step: StepAuthnContext},
		"PasswordProtectedTransport (C072)": {mutate: onChild("AuthnContextClassRef", func(e *etree.Element) {
			e.SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
		}), anomaly: spid.NrAuthnContext, step: StepAuthnContext},
		"two AuthnContextClassRef (C073)": {mutate: onChild("RequestedAuthnContext", func(e *etree.Element) {
			e.AddChild(find(e, "AuthnContextClassRef").Copy())
		}), anomaly: spid.NrAuthnContext, step: StepAuthnContext},
		"AuthnContextDeclRef": {mutate: onChild("RequestedAuthnContext", func(e *etree.Element) {
			e.RemoveChild(find(e, "AuthnContextClassRef"))
			e.CreateElement("saml:AuthnContextDeclRef").SetText("urn:x")
		}), anomaly: spid.NrAuthnContext, step: StepAuthnContext},
		"empty RequestedAuthnContext": {mutate: onChild("RequestedAuthnContext", func(e *etree.Element) {
			e.RemoveChild(find(e, "AuthnContextClassRef"))
		}), anomaly: spid.NrAuthnContext, step: StepAuthnContext},
		// AgID's IdP test tool (spid-saml-check-idp 2.10.2) expects this refused.
		"Comparison absent (C074)": {mutate: onChild("RequestedAuthnContext", func(e *etree.Element) { e.RemoveAttr("Comparison") }),
			anomaly: spid.NrAuthnContext, step: StepAuthnContext, check: func(t *testing.T, e *Error) {
				if _, sub := e.Anomaly.Status(); sub != spid.StatusNoAuthnContext {
					t.Errorf("sub-status %s", sub)
				}
			}},
		"SpidL3 better (C075)": {mutate: all(onChild("AuthnContextClassRef", func(e *etree.Element) { e.SetText(spid.ClassSpidL3) }),
			onChild("RequestedAuthnContext", func(e *etree.Element) { e.CreateAttr("Comparison", "better") })),
			anomaly: spid.NrAuthnContext, step: StepAuthnContext},

		// Step 12: nr16, always to the default ACS.
		"ACS index not in metadata (C076)":      {mutate: setAttr("AssertionConsumerServiceIndex", "7"), anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS index with URL (C077)":             {mutate: setAttr("AssertionConsumerServiceURL", acs1), anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS index with ProtocolBinding (C078)": {mutate: setAttr("ProtocolBinding", spid.BindingPOST), anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS URL without ProtocolBinding (C079)": {mutate: all(delAttr("AssertionConsumerServiceIndex"), setAttr("AssertionConsumerServiceURL", acs1)),
			anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ProtocolBinding without ACS URL (C080)": {mutate: all(delAttr("AssertionConsumerServiceIndex"), setAttr("ProtocolBinding", spid.BindingPOST)),
			anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"neither index nor URL (C081)": {mutate: delAttr("AssertionConsumerServiceIndex"), anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS URL not in metadata (C082, S053)": {mutate: all(delAttr("AssertionConsumerServiceIndex"),
			setAttr("AssertionConsumerServiceURL", "https://evil.example/acs"), setAttr("ProtocolBinding", spid.BindingPOST)),
			anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS URL with a trailing slash (A.17)": {mutate: all(delAttr("AssertionConsumerServiceIndex"),
			setAttr("AssertionConsumerServiceURL", acs1+"/"), setAttr("ProtocolBinding", spid.BindingPOST)),
			anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ProtocolBinding HTTP-Redirect (C083)": {mutate: all(delAttr("AssertionConsumerServiceIndex"),
			setAttr("AssertionConsumerServiceURL", acsRedirect), setAttr("ProtocolBinding", spid.BindingRedirect)),
			anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS index of a Redirect ACS": {mutate: setAttr("AssertionConsumerServiceIndex", "2"), anomaly: spid.NrACS, step: StepACS, check: defaultACS},
		"ACS index not a number":      {mutate: setAttr("AssertionConsumerServiceIndex", "zero"), anomaly: spid.NrACS, step: StepACS, check: defaultACS},

		// Step 13: nr17.
		"no NameIDPolicy (C086)": {mutate: removeChild("NameIDPolicy"), anomaly: spid.NrNameIDPolicy, step: StepNameIDPolicy},
		"NameIDPolicy persistent (C087)": {mutate: onChild("NameIDPolicy", func(e *etree.Element) {
			e.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
		}), anomaly: spid.NrNameIDPolicy, step: StepNameIDPolicy},
		"NameIDPolicy without Format (C087)": {mutate: onChild("NameIDPolicy", func(e *etree.Element) { e.RemoveAttr("Format") }),
			anomaly: spid.NrNameIDPolicy, step: StepNameIDPolicy},

		// Step 14: nr18.
		"AttributeConsumingServiceIndex abc (C089)":             {mutate: setAttr("AttributeConsumingServiceIndex", "abc"), anomaly: spid.NrAttrConsumingIndex, step: StepAttributeIndex},
		"AttributeConsumingServiceIndex -1 (C089)":              {mutate: setAttr("AttributeConsumingServiceIndex", "-1"), anomaly: spid.NrAttrConsumingIndex, step: StepAttributeIndex},
		"AttributeConsumingServiceIndex 70000":                  {mutate: setAttr("AttributeConsumingServiceIndex", "70000"), anomaly: spid.NrAttrConsumingIndex, step: StepAttributeIndex},
		"AttributeConsumingServiceIndex not in metadata (C090)": {mutate: setAttr("AttributeConsumingServiceIndex", "5"), anomaly: spid.NrAttrConsumingIndex, step: StepAttributeIndex},

		// Step 15: nr08.
		"Scoping ProxyCount 1 (C092)": {mutate: insertXML(-1, `<samlp:Scoping ProxyCount="1"/>`), anomaly: spid.NrNotCompliant, step: StepSchema},
		"Scoping without ProxyCount":  {mutate: insertXML(-1, `<samlp:Scoping/>`), anomaly: spid.NrNotCompliant, step: StepSchema},
		"Subject NameID without NameQualifier (C095)": {mutate: insertXML(1,
			`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">abc</saml:NameID></saml:Subject>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"Subject NameID transient": {mutate: insertXML(1,
			`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" NameQualifier="x">abc</saml:NameID></saml:Subject>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"Conditions with a malformed date (C096)": {mutate: insertXML(2, `<saml:Conditions NotBefore="2026-01-01" NotOnOrAfter="2026-01-01T00:05:00Z"/>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"Conditions without NotOnOrAfter": {mutate: insertXML(2, `<saml:Conditions NotBefore="2026-01-01T00:00:00Z"/>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"spid:Purpose ZZ (C097)": {mutate: insertXML(1, `<samlp:Extensions><spid:Purpose>ZZ</spid:Purpose></samlp:Extensions>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"two spid:Purpose": {mutate: insertXML(1, `<samlp:Extensions><spid:Purpose>P</spid:Purpose><spid:Purpose>PX</spid:Purpose></samlp:Extensions>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"empty Extensions": {mutate: insertXML(1, `<samlp:Extensions/>`), anomaly: spid.NrNotCompliant, step: StepSchema},
		"samlp element inside Extensions": {mutate: insertXML(1, `<samlp:Extensions><samlp:Foo/></samlp:Extensions>`),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"unknown samlp element (C098)": {mutate: insertXML(-1, `<samlp:Unknown/>`), anomaly: spid.NrNotCompliant, step: StepSchema},
		"Comparison strongest (C099)": {mutate: onChild("RequestedAuthnContext", func(e *etree.Element) { e.CreateAttr("Comparison", "strongest") }),
			anomaly: spid.NrNotCompliant, step: StepSchema},
		"IsPassive yes":                {mutate: setAttr("IsPassive", "yes"), anomaly: spid.NrNotCompliant, step: StepSchema},
		"ForceAuthn maybe":             {mutate: setAttr("ForceAuthn", "maybe"), anomaly: spid.NrNotCompliant, step: StepSchema},
		"unknown root attribute":       {mutate: setAttr("Foo", "bar"), anomaly: spid.NrNotCompliant, step: StepSchema},
		"protocol-namespace attribute": {mutate: setAttr("samlp:Foo", "bar"), anomaly: spid.NrNotCompliant, step: StepSchema},
		"elements out of order": {mutate: func(r *etree.Element) {
			p := find(r, "NameIDPolicy")
			r.RemoveChild(p)
			r.AddChild(p)
		}, anomaly: spid.NrNotCompliant, step: StepSchema},
		"text inside AuthnRequest": {mutate: func(r *etree.Element) { r.CreateCharData("junk") }, anomaly: spid.NrNotCompliant, step: StepSchema},
		"NameIDPolicy with a child": {mutate: onChild("NameIDPolicy", func(e *etree.Element) { e.CreateElement("samlp:X") }),
			anomaly: spid.NrNotCompliant, step: StepSchema},

		// C101: the earlier anomaly of the pipeline wins.
		"Version and Destination both wrong (C101)": {mutate: all(setAttr("Version", "1.1"), setAttr("Destination", "https://x")),
			anomaly: spid.NrVersion, step: StepVersion},
		"ACS and NameIDPolicy both wrong (C101)": {mutate: all(setAttr("AssertionConsumerServiceIndex", "9"), removeChild("NameIDPolicy")),
			anomaly: spid.NrACS, step: StepACS},
	}
	for name, c := range cases {
		for _, b := range bothBindings {
			if c.only != "" && c.only != b {
				continue
			}
			t.Run(short(b)+"/"+name, func(t *testing.T) {
				signer := c.signer
				if signer == nil {
					signer = &pairA
				} else if signer == unsigned {
					signer = nil
				}
				want := c.anomaly
				if want == -1 {
					want = spid.NrPOSTSignature
					if b == spid.BindingRedirect {
						want = spid.NrRedirectSignature
					}
				}
				_, err := f.checker.Check(context.Background(), send(t, b, f.request(t, c.mutate), c.relay, signer), b)
				e := asError(t, err)
				if e.Anomaly != want || e.Step != c.step {
					t.Fatalf("got %s at %s (%s), want %s at %s", e.Anomaly, e.Step, e.Reason, want, c.step)
				}
				if e.Reason == "" {
					t.Error("empty Reason")
				}
				if want.ForSP() {
					if e.SP == nil || e.SP.EntityID != spA || e.ACS.Location == "" {
						t.Errorf("SP-bound error without SP/ACS: %+v", e)
					}
					if e.RelayState != c.relay {
						t.Errorf("RelayState = %q", e.RelayState)
					}
				} else if e.SP != nil {
					t.Errorf("user-bound error carries SP %s", e.SP.EntityID)
				}
				if c.check != nil {
					c.check(t, e)
				}
			})
		}
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not *Error", err)
	}
	return e
}

// TestCheckCommentAfterSigning: a comment spliced into a signed POST
// request leaves exc-c14n's digest intact (CVE-2017-11427 family) and must
// still be refused, as nr04 (S017).
func TestCheckCommentAfterSigning(t *testing.T) {
	f := newFixture(t)
	signed := string(bindingtest.Sign(t, f.request(t, nil), pairA))
	x := strings.Replace(signed, spA+"</saml:Issuer>", spA+"<!---->.evil.example</saml:Issuer>", 1)
	if x == signed {
		t.Fatal("no splice")
	}
	_, err := f.checker.Check(context.Background(), bindingtest.POST(ssoPOST, bindingtest.Form("SAMLRequest", []byte(x), "")), spid.BindingPOST)
	if e := asError(t, err); e.Anomaly != spid.NrBindingFormat || e.Step != StepDecode {
		t.Fatalf("got %+v", e)
	}
}

// TestCheckTampered: POST content changed after signing → nr07 (C043).
func TestCheckTampered(t *testing.T) {
	f := newFixture(t)
	signed := bindingtest.Sign(t, f.request(t, nil), pairA)
	x := []byte(strings.Replace(string(signed), `AttributeConsumingServiceIndex="0"`, `AttributeConsumingServiceIndex="1"`, 1))
	_, err := f.checker.Check(context.Background(), bindingtest.POST(ssoPOST, bindingtest.Form("SAMLRequest", x, "")), spid.BindingPOST)
	if e := asError(t, err); e.Anomaly != spid.NrPOSTSignature {
		t.Fatalf("got %v", e)
	}
}

func TestCheckTransport(t *testing.T) {
	f := newFixture(t)
	good := bindingtest.Redirect{XML: f.request(t, nil), Key: pairA.Key}
	with := func(m func(*bindingtest.Redirect)) string { r := good; m(&r); return r.Query() }
	cases := map[string]struct {
		r       *http.Request
		binding string
		anomaly spid.Anomaly
		step    string
	}{
		"POST on the Redirect endpoint (C034)": {r: bindingtest.POST(ssoRedirect, url.Values{"SAMLRequest": {"x"}}), binding: spid.BindingRedirect,
			anomaly: spid.NrWrongMethod, step: StepMethod},
		"GET on the POST endpoint (C034)": {r: bindingtest.GET(ssoPOST, good.Query()), binding: spid.BindingPOST,
			anomaly: spid.NrWrongMethod, step: StepMethod},
		"no SAMLRequest (C027)": {r: bindingtest.GET(ssoRedirect, "RelayState=x"), binding: spid.BindingRedirect,
			anomaly: spid.NrBindingFormat, step: StepParameters},
		"no SigAlg (C028)": {r: bindingtest.GET(ssoRedirect, with(func(r *bindingtest.Redirect) { r.SigAlg = "-" })), binding: spid.BindingRedirect,
			anomaly: spid.NrBindingFormat, step: StepParameters},
		"no Signature (C029)": {r: bindingtest.GET(ssoRedirect, with(func(r *bindingtest.Redirect) { r.Key = nil })), binding: spid.BindingRedirect,
			anomaly: spid.NrBindingFormat, step: StepParameters},
		"POST without SAMLRequest (C030)": {r: bindingtest.POST(ssoPOST, url.Values{"RelayState": {"x"}}), binding: spid.BindingPOST,
			anomaly: spid.NrBindingFormat, step: StepParameters},
		"SAMLResponse on the SSO endpoint": {r: bindingtest.GET(ssoRedirect, with(func(r *bindingtest.Redirect) { r.Param = "SAMLResponse" })),
			binding: spid.BindingRedirect, anomaly: spid.NrBindingFormat, step: StepParameters},
		"not base64 (C031)": {r: bindingtest.GET(ssoRedirect, with(func(r *bindingtest.Redirect) { r.Encoded = "@@" })), binding: spid.BindingRedirect,
			anomaly: spid.NrBindingFormat, step: StepDecode},
		"DOCTYPE (C032)": {r: bindingtest.POST(ssoPOST, bindingtest.Form("SAMLRequest", []byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`), "")),
			binding: spid.BindingPOST, anomaly: spid.NrBindingFormat, step: StepDecode},
		"rsa-sha1 SigAlg (C035)": {r: bindingtest.GET(ssoRedirect, with(func(r *bindingtest.Redirect) { r.SigAlg = spid.AlgRSASHA1 })),
			binding: spid.BindingRedirect, anomaly: spid.NrRedirectSignature, step: StepSignature},
		"HMAC SigAlg (C036)": {r: bindingtest.GET(ssoRedirect, with(func(r *bindingtest.Redirect) { r.SigAlg = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256" })),
			binding: spid.BindingRedirect, anomaly: spid.NrRedirectSignature, step: StepSignature},
		"RelayState changed after signing (C038)": {r: bindingtest.GET(ssoRedirect,
			strings.Replace(with(func(r *bindingtest.Redirect) { r.RelayState = "a" }), "RelayState=a", "RelayState=b", 1)),
			binding: spid.BindingRedirect, anomaly: spid.NrRedirectSignature, step: StepSignature},
		"oversized body (S033)": {r: bindingtest.POST(ssoPOST, url.Values{"SAMLRequest": {strings.Repeat("A", 1<<20)}}), binding: spid.BindingPOST,
			anomaly: spid.NrBindingFormat, step: StepDecode},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.checker.Check(context.Background(), c.r, c.binding)
			e := asError(t, err)
			if e.Anomaly != c.anomaly || e.Step != c.step {
				t.Fatalf("got %s at %s (%s), want %s at %s", e.Anomaly, e.Step, e.Reason, c.anomaly, c.step)
			}
			if e.SP != nil {
				t.Error("user-bound error carries an SP")
			}
		})
	}
	t.Run("oversized body is recognisable for a 413", func(t *testing.T) {
		_, err := f.checker.Check(context.Background(), bindingtest.POST(ssoPOST, url.Values{"SAMLRequest": {strings.Repeat("A", 1<<20)}}), spid.BindingPOST)
		if !errors.Is(err, binding.ErrTooLarge) {
			t.Fatalf("err = %v does not wrap binding.ErrTooLarge", err)
		}
	})
	t.Run("unsupported binding is our own error", func(t *testing.T) {
		_, err := f.checker.Check(context.Background(), bindingtest.GET(ssoRedirect, good.Query()), "urn:oasis:names:tc:SAML:2.0:bindings:SOAP")
		if e := asError(t, err); e.Anomaly != spid.NrSystemError {
			t.Fatalf("got %+v", e)
		}
	})
}

// TestCheckRedirectEmbeddedSignature: on Redirect only the query signature
// counts (A.2, C048): a valid embedded ds:Signature cannot rescue a query
// signed by someone else.
func TestCheckRedirectEmbeddedSignature(t *testing.T) {
	f := newFixture(t)
	x := bindingtest.Sign(t, f.request(t, nil), pairA)
	q := bindingtest.Redirect{XML: x, Key: pairB.Key}.Query()
	_, err := f.checker.Check(context.Background(), bindingtest.GET(ssoRedirect, q), spid.BindingRedirect)
	if e := asError(t, err); e.Anomaly != spid.NrRedirectSignature {
		t.Fatalf("got %+v", e)
	}
	q = bindingtest.Redirect{XML: x, Key: pairA.Key}.Query()
	if _, err := f.checker.Check(context.Background(), bindingtest.GET(ssoRedirect, q), spid.BindingRedirect); err != nil {
		t.Fatalf("valid query signature with an embedded one: %v", err)
	}
}

func TestCheckReplay(t *testing.T) { // C058, S050
	f := newFixture(t)
	for _, b := range bothBindings {
		t.Run(short(b), func(t *testing.T) {
			x := f.request(t, nil)
			if _, err := f.checker.Check(context.Background(), send(t, b, x, "", &pairA), b); err != nil {
				t.Fatal(err)
			}
			_, err := f.checker.Check(context.Background(), send(t, b, x, "", &pairA), b)
			e := asError(t, err)
			if e.Anomaly != spid.NrID || e.Step != StepID || e.InResponseTo == "" {
				t.Fatalf("replay: %+v", e)
			}
		})
	}
	t.Run("same ID from two SPs is not a replay", func(t *testing.T) {
		x := f.request(t, nil)
		if _, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, x, "", &pairA), spid.BindingPOST); err != nil {
			t.Fatal(err)
		}
		xb := []byte(strings.ReplaceAll(string(x), spA, spBEntity))
		if _, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, xb, "", &pairB), spid.BindingPOST); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a badly signed request does not burn the ID", func(t *testing.T) {
		x := f.request(t, nil)
		if _, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, x, "", &pairB), spid.BindingPOST); err == nil {
			t.Fatal("accepted")
		}
		if _, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, x, "", &pairA), spid.BindingPOST); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCheckConcurrentReplay: S051, 50 submissions of one request → one success.
func TestCheckConcurrentReplay(t *testing.T) {
	f := newFixture(t)
	x := bindingtest.Sign(t, f.request(t, nil), pairA)
	form := bindingtest.Form("SAMLRequest", x, "")
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.checker.Check(context.Background(), bindingtest.POST(ssoPOST, form), spid.BindingPOST)
			var e *Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &e) && e.Anomaly == spid.NrID:
				replayed.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 49 {
		t.Fatalf("%d accepted, %d replays", ok.Load(), replayed.Load())
	}
}

func TestCheckSystemErrors(t *testing.T) {
	f := newFixture(t)
	c := *f.checker
	c.SPs = failingLookup{}
	_, err := c.Check(context.Background(), send(t, spid.BindingPOST, f.request(t, nil), "", &pairA), spid.BindingPOST)
	if e := asError(t, err); e.Anomaly != spid.NrSystemError || e.Step != StepIssuer {
		t.Fatalf("lookup failure: %+v", e)
	}
	c = *f.checker
	c.Replay = failingReplay{}
	_, err = c.Check(context.Background(), send(t, spid.BindingPOST, f.request(t, nil), "", &pairA), spid.BindingPOST)
	if e := asError(t, err); e.Anomaly != spid.NrSystemError || e.Step != StepID || e.SP != nil {
		t.Fatalf("replay failure: %+v", e)
	}
}

func TestCheckCustomSkew(t *testing.T) {
	f := newFixture(t)
	c := *f.checker
	c.PastSkew, c.FutureSkew = 20*time.Minute, 20*time.Minute
	x := f.request(t, setAttr("IssueInstant", f.now.Add(-10*time.Minute).Format(time.RFC3339)))
	if _, err := c.Check(context.Background(), send(t, spid.BindingPOST, x, "", &pairA), spid.BindingPOST); err != nil {
		t.Fatal(err)
	}
}

func TestCheckExpiredSPCertificate(t *testing.T) { // C046
	f := newFixture(t)
	old := bindingtest.NewPairValid(t, 2048, f.now.Add(-48*time.Hour), f.now.Add(-time.Hour))
	c := *f.checker
	c.SPs = spMap{spA: newSP(spA, old.Cert)}
	for _, b := range bothBindings {
		_, err := c.Check(context.Background(), send(t, b, f.request(t, nil), "", &old), b)
		e := asError(t, err)
		if e.Step != StepSignature {
			t.Fatalf("%s: %+v", short(b), e)
		}
	}
}

func TestErrorWraps(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest(http.MethodPost, ssoPOST, strings.NewReader(strings.Repeat("a", 200<<10)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := f.checker.Check(context.Background(), r, spid.BindingPOST)
	if err == nil || !strings.Contains(err.Error(), "nr04") {
		t.Fatalf("err = %v", err)
	}
}

// wantAAs checks the Locations read from spid:RequiredAttributeAuthority.
func wantAAs(want ...string) func(*testing.T, *Request) {
	return func(t *testing.T, r *Request) {
		t.Helper()
		if strings.Join(r.AttributeAuthorities, " ") != strings.Join(want, " ") {
			t.Errorf("AttributeAuthorities = %q, want %q", r.AttributeAuthorities, want)
		}
	}
}
