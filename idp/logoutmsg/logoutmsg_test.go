package logoutmsg

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
)

const (
	idpEntity   = "https://idp.example.it"
	sloRedirect = "https://idp.example.it/slo/redirect"
	sloPOST     = "https://idp.example.it/slo/post"
	spA         = "https://sp.example.it"
	spB         = "https://other-sp.example.it"
)

type spMap map[string]*metadata.SP

func (m spMap) LookupSP(_ context.Context, id string) (*metadata.SP, error) {
	if sp, ok := m[id]; ok {
		return sp, nil
	}
	return nil, fmt.Errorf("%q: %w", id, storage.ErrNotFound)
}

type fixture struct {
	now          time.Time
	checker      *Checker
	pairA, pairB keys.Pair
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{now: time.Now().UTC(), pairA: bindingtest.FixedPair(t, 1), pairB: bindingtest.FixedPair(t, 2)}
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	sp := func(id string, c *x509.Certificate) *metadata.SP {
		return &metadata.SP{EntityID: id, Certificates: []*x509.Certificate{c},
			SLO: []metadata.Endpoint{{Binding: spid.BindingRedirect, Location: id + "/slo"}}}
	}
	f.checker = &Checker{
		IdPEntityID: idpEntity,
		SLOURLs:     []string{sloRedirect, sloPOST},
		SPs:         spMap{spA: sp(spA, f.pairA.Cert), spB: sp(spB, f.pairB.Cert)},
		Replay:      store,
		Now:         func() time.Time { return f.now },
	}
	return f
}

var n atomic.Int64

func (f *fixture) build(t testing.TB, body string, mutate func(*etree.Element)) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(doc.Root())
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) logoutRequest(t testing.TB, mutate func(*etree.Element)) []byte {
	return f.build(t, `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`+
		fmt.Sprintf(` ID="_lr%d" Version="2.0" IssueInstant="%s" Destination="%s">`, n.Add(1), f.now.Add(-3*time.Second).Format(time.RFC3339), idpEntity)+
		`<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="`+spA+`">`+spA+`</saml:Issuer>`+
		`<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" NameQualifier="`+idpEntity+`">_nid1</saml:NameID>`+
		`<samlp:SessionIndex>_sess1</samlp:SessionIndex></samlp:LogoutRequest>`, mutate)
}

func (f *fixture) logoutResponse(t testing.TB, mutate func(*etree.Element)) []byte {
	return f.build(t, `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`+
		fmt.Sprintf(` ID="_ls%d" InResponseTo="_ours1" Version="2.0" IssueInstant="%s" Destination="%s">`, n.Add(1), f.now.Format(time.RFC3339), sloPOST)+
		`<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="`+spA+`">`+spA+`</saml:Issuer>`+
		`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`, mutate)
}

func send(t testing.TB, bind, param string, xml []byte, relay string, pair *keys.Pair) *http.Request {
	t.Helper()
	if bind == spid.BindingRedirect {
		r := bindingtest.Redirect{Param: param, XML: xml, RelayState: relay}
		if pair != nil {
			r.Key = pair.Key
		}
		return bindingtest.GET(sloRedirect, r.Query())
	}
	if pair != nil {
		xml = bindingtest.Sign(t, xml, *pair)
	}
	return bindingtest.POST(sloPOST, bindingtest.Form(param, xml, relay))
}

func find(r *etree.Element, local string) *etree.Element {
	for _, e := range r.FindElements(".//*") {
		if e.Tag == local {
			return e
		}
	}
	return nil
}

func setAttr(k, v string) func(*etree.Element) { return func(r *etree.Element) { r.CreateAttr(k, v) } }

func on(local string, f func(*etree.Element)) func(*etree.Element) {
	return func(r *etree.Element) { f(find(r, local)) }
}

var bindings = []string{spid.BindingRedirect, spid.BindingPOST}

func short(b string) string { return b[strings.LastIndex(b, ":")+1:] }

func TestLogoutRequestAccepted(t *testing.T) {
	f := newFixture(t)
	cases := map[string]struct {
		mutate func(*etree.Element)
		check  func(t *testing.T, r *Request)
	}{
		"default (C166, C167)": {check: func(t *testing.T, r *Request) {
			if r.SP.EntityID != spA || r.NameID != "_nid1" || r.NameQualifier != idpEntity ||
				len(r.SessionIndexes) != 1 || r.SessionIndexes[0] != "_sess1" || r.RelayState != "rs" {
				t.Errorf("request = %+v", r)
			}
		}},
		"pretty-printed values are trimmed": {mutate: func(r *etree.Element) {
			find(r, "Issuer").SetText("\n   " + spA + "\n")
			find(r, "NameID").SetText("\n   _nid1\n")
			find(r, "SessionIndex").SetText("\n  _sess1 \n")
		}, check: func(t *testing.T, r *Request) {
			if r.NameID != "_nid1" || r.SessionIndexes[0] != "_sess1" {
				t.Errorf("request = %+v", r)
			}
		}},
		"no SessionIndex (L2/L3 assertion)": {mutate: func(r *etree.Element) { r.RemoveChild(find(r, "SessionIndex")) },
			check: func(t *testing.T, r *Request) {
				if len(r.SessionIndexes) != 0 {
					t.Errorf("SessionIndexes = %v", r.SessionIndexes)
				}
			}},
		"empty SessionIndex":         {mutate: on("SessionIndex", func(e *etree.Element) { e.SetText("") })},
		"Destination is the SLO URL": {mutate: setAttr("Destination", sloPOST)},
		"NotOnOrAfter in the future": {mutate: setAttr("NotOnOrAfter", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))},
		"Reason": {mutate: setAttr("Reason", "urn:oasis:names:tc:SAML:2.0:logout:user"), check: func(t *testing.T, r *Request) {
			if r.Reason != "urn:oasis:names:tc:SAML:2.0:logout:user" {
				t.Errorf("Reason = %q", r.Reason)
			}
		}},
	}
	for name, c := range cases {
		for _, b := range bindings {
			t.Run(short(b)+"/"+name, func(t *testing.T) {
				m, err := f.checker.Check(context.Background(), send(t, b, "SAMLRequest", f.logoutRequest(t, c.mutate), "rs", &f.pairA), b)
				if err != nil {
					t.Fatal(err)
				}
				if m.Request == nil || m.Response != nil {
					t.Fatalf("message = %+v", m)
				}
				if c.check != nil {
					c.check(t, m.Request)
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

func TestLogoutRequestRefused(t *testing.T) {
	f := newFixture(t)
	unsigned := &keys.Pair{}
	cases := map[string]struct {
		mutate  func(*etree.Element)
		signer  *keys.Pair
		only    string
		respond bool
		sub     string
		step    string
	}{
		// Courtesy page, nothing closed.
		"unsigned Redirect (S058)":         {signer: unsigned, only: spid.BindingRedirect, step: StepParameters},
		"unsigned POST (S058, C168)":       {signer: unsigned, only: spid.BindingPOST, step: StepSignature},
		"signed by another SP (A.20)":      {signer: &f.pairB, step: StepSignature},
		"unknown Issuer":                   {mutate: on("Issuer", func(e *etree.Element) { e.SetText("https://unknown.example.it") }), step: StepIssuer},
		"no Issuer":                        {mutate: func(r *etree.Element) { r.RemoveChild(find(r, "Issuer")) }, step: StepIssuer},
		"PI inside NameID (S018, A.3)":     {mutate: on("NameID", func(e *etree.Element) { e.CreateProcInst("x", "y") }), only: spid.BindingRedirect, step: StepDecode},
		"AuthnRequest on the SLO endpoint": {mutate: func(r *etree.Element) { r.Tag = "AuthnRequest" }, step: StepDecode},

		// Authentic but wrong: LogoutResponse Requester, nothing closed.
		"Issuer without Format (C169)": {mutate: on("Issuer", func(e *etree.Element) { e.RemoveAttr("Format") }),
			respond: true, sub: spid.StatusRequestUnsupported, step: StepIssuerFormat},
		"Issuer without NameQualifier (C169)": {mutate: on("Issuer", func(e *etree.Element) { e.RemoveAttr("NameQualifier") }),
			respond: true, sub: spid.StatusRequestUnsupported, step: StepIssuerFormat},
		"NameID persistent (C170)": {mutate: on("NameID", func(e *etree.Element) {
			e.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
		}), respond: true, sub: spid.StatusRequestUnsupported, step: StepNameID},
		"NameID without NameQualifier (C170)": {mutate: on("NameID", func(e *etree.Element) { e.RemoveAttr("NameQualifier") }),
			respond: true, sub: spid.StatusRequestUnsupported, step: StepNameID},
		"NameID qualified by another IdP": {mutate: on("NameID", func(e *etree.Element) { e.CreateAttr("NameQualifier", "https://other-idp.example.it") }),
			respond: true, sub: spid.StatusRequestUnsupported, step: StepNameID},
		"no NameID": {mutate: func(r *etree.Element) { r.RemoveChild(find(r, "NameID")) },
			respond: true, sub: spid.StatusRequestUnsupported, step: StepNameID},
		"IssueInstant 10 min ago (C171)": {mutate: setAttr("IssueInstant", time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339)),
			respond: true, sub: spid.StatusRequestDenied, step: StepIssueInstant},
		"IssueInstant not UTC": {mutate: setAttr("IssueInstant", "2026-01-01T00:00:00+01:00"),
			respond: true, sub: spid.StatusRequestDenied, step: StepIssueInstant},
		"NotOnOrAfter expired (C171)": {mutate: setAttr("NotOnOrAfter", time.Now().Add(-time.Second).UTC().Format(time.RFC3339)),
			respond: true, sub: spid.StatusRequestDenied, step: StepNotOnOrAfter},
		"Destination of another IdP (A.18)": {mutate: setAttr("Destination", "https://other-idp.example.it/slo"),
			respond: true, sub: spid.StatusRequestUnsupported, step: StepDestination},
		"Version 1.1": {mutate: setAttr("Version", "1.1"), respond: true, sub: spid.StatusRequestUnsupported, step: StepVersion},
		"unknown element": {mutate: func(r *etree.Element) { r.CreateElement("samlp:Foo") },
			respond: true, sub: spid.StatusRequestUnsupported, step: StepSchema},
		"SessionIndex before NameID": {mutate: func(r *etree.Element) {
			s := find(r, "SessionIndex")
			r.RemoveChild(s)
			r.InsertChildAt(1, s)
		}, respond: true, sub: spid.StatusRequestUnsupported, step: StepSchema},
	}
	for name, c := range cases {
		for _, b := range bindings {
			if c.only != "" && c.only != b {
				continue
			}
			t.Run(short(b)+"/"+name, func(t *testing.T) {
				signer := c.signer
				if signer == nil {
					signer = &f.pairA
				} else if signer == unsigned {
					signer = nil
				}
				_, err := f.checker.Check(context.Background(), send(t, b, "SAMLRequest", f.logoutRequest(t, c.mutate), "rs", signer), b)
				e := asError(t, err)
				if e.Respond != c.respond || e.Step != c.step || (c.respond && (e.Status != spid.StatusRequester || e.SubStatus != c.sub)) {
					t.Fatalf("got %+v", e)
				}
				if c.respond && (e.SP == nil || e.InResponseTo == "" || e.RelayState != "rs") {
					t.Errorf("response data missing: %+v", e)
				}
			})
		}
	}
}

// TestLogoutRequestXSW: S006, wrapping shapes on a POST LogoutRequest.
func TestLogoutRequestXSW(t *testing.T) {
	f := newFixture(t)
	signed := bindingtest.Sign(t, f.logoutRequest(t, nil), f.pairA)
	parse := func() *etree.Element {
		d := etree.NewDocument()
		if err := d.ReadFromBytes(signed); err != nil {
			t.Fatal(err)
		}
		return d.Root()
	}
	evil := func() *etree.Element {
		e := parse()
		e.RemoveChild(find(e, "Signature"))
		e.CreateAttr("ID", "_evil")
		find(e, "NameID").SetText("_victim")
		return e
	}
	shapes := map[string]func() *etree.Element{
		"evil root, original inside ds:Signature": func() *etree.Element {
			e, o := evil(), parse()
			s := find(o, "Signature")
			o.RemoveChild(s)
			s.AddChild(o)
			e.InsertChildAt(1, s)
			return e
		},
		"evil root wrapping the original": func() *etree.Element {
			e := evil()
			e.AddChild(parse())
			return e
		},
		"original under Extensions": func() *etree.Element {
			e := evil()
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(parse())
			e.InsertChildAt(1, ext)
			return e
		},
	}
	for name, mk := range shapes {
		t.Run(name, func(t *testing.T) {
			d := etree.NewDocument()
			d.SetRoot(mk())
			x, _ := d.WriteToBytes()
			_, err := f.checker.Check(context.Background(), bindingtest.POST(sloPOST, bindingtest.Form("SAMLRequest", x, "")), spid.BindingPOST)
			e := asError(t, err)
			if e.Respond || (e.Step != StepSignature && e.Step != StepDecode) {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func TestLogoutRequestReplay(t *testing.T) { // S060
	f := newFixture(t)
	x := f.logoutRequest(t, nil)
	if _, err := f.checker.Check(context.Background(), send(t, spid.BindingRedirect, "SAMLRequest", x, "", &f.pairA), spid.BindingRedirect); err != nil {
		t.Fatal(err)
	}
	_, err := f.checker.Check(context.Background(), send(t, spid.BindingRedirect, "SAMLRequest", x, "", &f.pairA), spid.BindingRedirect)
	if e := asError(t, err); !e.Respond || e.Step != StepID || e.SubStatus != spid.StatusRequestDenied {
		t.Fatalf("replay: %+v", e)
	}
}

func TestLogoutResponse(t *testing.T) {
	f := newFixture(t)
	for _, b := range bindings {
		t.Run(short(b)+"/success", func(t *testing.T) {
			m, err := f.checker.Check(context.Background(), send(t, b, "SAMLResponse", f.logoutResponse(t, nil), "rs", &f.pairA), b)
			if err != nil {
				t.Fatal(err)
			}
			r := m.Response
			if r == nil || !r.Success() || r.InResponseTo != "_ours1" || r.SP.EntityID != spA || r.RelayState != "rs" {
				t.Fatalf("response = %+v", r)
			}
		})
		t.Run(short(b)+"/partial", func(t *testing.T) {
			x := f.logoutResponse(t, on("StatusCode", func(e *etree.Element) {
				e.CreateAttr("Value", spid.StatusRequester)
				e.CreateElement("samlp:StatusCode").CreateAttr("Value", spid.StatusPartialLogout)
			}))
			m, err := f.checker.Check(context.Background(), send(t, b, "SAMLResponse", x, "", &f.pairA), b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Response.Success() || m.Response.SubStatus != spid.StatusPartialLogout {
				t.Fatalf("response = %+v", m.Response)
			}
		})
	}
	bad := map[string]struct {
		mutate func(*etree.Element)
		signer *keys.Pair
		step   string
	}{
		"signed by another SP":  {signer: &f.pairB, step: StepSignature},
		"no InResponseTo":       {mutate: func(r *etree.Element) { r.RemoveAttr("InResponseTo") }, step: StepInResponseTo},
		"no Status":             {mutate: func(r *etree.Element) { r.RemoveChild(find(r, "Status")) }, step: StepStatus},
		"StatusCode not SAML":   {mutate: on("StatusCode", func(e *etree.Element) { e.CreateAttr("Value", "ok") }), step: StepStatus},
		"IssueInstant too old":  {mutate: setAttr("IssueInstant", "2020-01-01T00:00:00Z"), step: StepIssueInstant},
		"Destination elsewhere": {mutate: setAttr("Destination", "https://x.example"), step: StepDestination},
		"unknown attribute":     {mutate: setAttr("Foo", "1"), step: StepSchema},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			signer := c.signer
			if signer == nil {
				signer = &f.pairA
			}
			_, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, "SAMLResponse", f.logoutResponse(t, c.mutate), "", signer), spid.BindingPOST)
			e := asError(t, err)
			if e.Respond || e.Step != c.step {
				t.Fatalf("got %+v", e)
			}
		})
	}
	t.Run("replayed response", func(t *testing.T) {
		x := f.logoutResponse(t, nil)
		if _, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, "SAMLResponse", x, "", &f.pairA), spid.BindingPOST); err != nil {
			t.Fatal(err)
		}
		_, err := f.checker.Check(context.Background(), send(t, spid.BindingPOST, "SAMLResponse", x, "", &f.pairA), spid.BindingPOST)
		if e := asError(t, err); e.Respond || e.Step != StepID {
			t.Fatalf("got %+v", e)
		}
	})
}

func FuzzLogout(f *testing.F) {
	fx := newFixture(f)
	f.Add(string(fx.logoutRequest(f, nil)), true)
	f.Add(string(fx.logoutResponse(f, nil)), false)
	f.Fuzz(func(t *testing.T, x string, req bool) {
		param := "SAMLResponse"
		if req {
			param = "SAMLRequest"
		}
		q := bindingtest.Redirect{Param: param, XML: []byte(x), Key: fx.pairA.Key}.Query()
		m, err := fx.checker.Check(context.Background(), bindingtest.GET(sloRedirect, q), spid.BindingRedirect)
		if err == nil && (m.Request == nil) == (m.Response == nil) {
			t.Fatalf("message = %+v", m)
		}
	})
}
