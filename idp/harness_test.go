package idp

// A reusable test harness: a real IdP (SQLite store, in-memory ephemeral
// store, real SP registry with signed metadata) on a loopback server, two
// test SPs whose keys the test holds, a citizen, and a cookie-keeping
// browser that stops at the first hop leaving the IdP, so the test plays
// the SP's part.

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/flowtest"
	"github.com/spid-idp/spid-idp/internal/testbrowser"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/templates"
)

// testSP is a service provider the test impersonates.
type testSP struct {
	EntityID string
	Pair     keys.Pair
	SP       *metadata.SP
}

type harness struct {
	*flowtest.Env
	t       testing.TB
	IdP     *IdP
	Flow    *authflow.Engine
	SPs     *metadata.Registry
	Signing keys.Pair // the IdP's key
	A, B    *testSP
}

type registryLookup struct{ r *metadata.Registry }

func (l registryLookup) LookupSP(ctx context.Context, entityID string) (*metadata.SP, error) {
	return l.r.Get(ctx, entityID)
}

const (
	testEntityID = "https://idp.test.example.it"
	spAEntity    = "https://sp-a.example.it"
	spBEntity    = "https://sp-b.example.it"
)

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{Env: flowtest.New(t), t: t}
	h.SPs = metadata.NewRegistry(h.Store, metadata.RegistryOptions{Logger: flowtest.DiscardLog()})
	h.A = h.addSP(spAEntity, "Servizio A")
	h.B = h.addSP(spBEntity, "Servizio B")

	h.Signing = metadatatest.NewPair(t, testEntityID)
	lookup := registryLookup{h.SPs}
	var err error
	h.Flow, err = authflow.New(authflow.Options{
		BaseURL: h.Base, Store: h.Store, Eph: h.Eph, Pages: h.Pages, Audit: h.Audit(), Log: flowtest.DiscardLog(),
		Regulator: h.Regulator(), Argon2: flowtest.FastArgon2, CookieKeys: [][]byte{h.CookieKey}, Now: h.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.IdP, err = New(Options{
		EntityID: testEntityID, BaseURL: h.Base,
		Store: h.Store, Eph: h.Eph, SPs: lookup,
		Checker: &authnrequest.Checker{IdPEntityID: testEntityID,
			SSOURLs: []string{h.Base + PathSSORedirect, h.Base + PathSSOPOST},
			SPs:     lookup, Replay: h.Eph, Now: h.Clock.Now},
		Builder:    &response.Builder{EntityID: testEntityID, Signing: h.Signing, Now: h.Clock.Now},
		Pages:      h.Pages,
		Audit:      h.Audit(),
		Log:        flowtest.DiscardLog(),
		Flow:       h.Flow,
		CookieKeys: [][]byte{h.CookieKey},
		Metadata:   func() ([]byte, error) { return []byte("<md/>"), nil },
		Now:        h.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Flow.Register(mux)
	h.IdP.Register(mux)
	h.Srv.Config.Handler = mux
	h.Start(t)
	return h
}

func (h *harness) addSP(entityID, name string) *testSP {
	h.t.Helper()
	return h.addSPWith(metadatatest.Options{EntityID: entityID, DisplayName: name})
}

// addSPWith registers an SP built from opts.
func (h *harness) addSPWith(opts metadatatest.Options) *testSP {
	h.t.Helper()
	entityID := opts.EntityID
	xml, pair := metadatatest.NewSP(h.t, opts)
	sp, err := h.SPs.Add(context.Background(), xml, "test")
	if err != nil {
		h.t.Fatal(err)
	}
	return &testSP{EntityID: entityID, Pair: pair, SP: sp}
}

// ---- browser ----

type browser struct {
	*testbrowser.Browser
	t testing.TB
	h *harness
}

// page is what the browser ended on (testbrowser.Page).
type page = testbrowser.Page

func (h *harness) browser() *browser {
	return &browser{Browser: testbrowser.New(h.t, h.Base), t: h.t, h: h}
}

// ---- SP side ----

func (h *harness) instant() string { return h.Clock.Now().Format("2006-01-02T15:04:05.000Z") }

var idSeq struct {
	sync.Mutex
	n int
}

func nextID(prefix string) string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("_%s%d_%d", prefix, idSeq.n, time.Now().UnixNano())
}

// authnRequest is a SpidL<level> AuthnRequest from sp.
func (h *harness) authnRequest(sp *testSP, level int) []byte {
	return []byte(`<samlp:AuthnRequest xmlns:samlp="` + spid.NSProtocol + `" xmlns:saml="` + spid.NSAssertion + `"` +
		` ID="` + nextID("ar") + `" Version="2.0" IssueInstant="` + h.instant() + `" Destination="` + h.Base + PathSSORedirect + `"` +
		` AssertionConsumerServiceIndex="0" AttributeConsumingServiceIndex="0">` +
		`<saml:Issuer Format="` + spid.NameIDEntity + `" NameQualifier="` + sp.EntityID + `">` + sp.EntityID + `</saml:Issuer>` +
		`<samlp:NameIDPolicy Format="` + spid.NameIDTransient + `"/>` +
		`<samlp:RequestedAuthnContext Comparison="exact"><saml:AuthnContextClassRef>` + spid.Level(level).ClassRef() +
		`</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>`)
}

// assertion is what an SP got from a successful login.
type assertion struct {
	NameID, SessionIndex string
}

// login signs in at sp with SpidL<level>: credentials when the browser
// has no reusable session, then consent. It returns what the SP received.
func (b *browser) login(sp *testSP, level int) assertion {
	b.t.Helper()
	q := bindingtest.Redirect{XML: b.h.authnRequest(sp, level), Key: sp.Pair.Key}.Query()
	p := b.Get(b.h.Base + PathSSORedirect + "?" + q)
	if strings.Contains(p.Body, `name="password"`) {
		p = b.Submit(p, authflow.PathLogin, url.Values{templates.FieldUsername: {b.h.Username}, templates.FieldPassword: {b.h.Password},
			templates.FieldOp: {templates.OpSubmit}})
	}
	p = b.Submit(p, authflow.PathConsent, url.Values{templates.FieldOp: {templates.OpAccept}})
	_, v := b.Form(p, sp.EntityID)
	xml, err := base64.StdEncoding.DecodeString(v.Get("SAMLResponse"))
	if err != nil {
		b.t.Fatalf("SAMLResponse: %v\n%s", err, p.Body)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		b.t.Fatal(err)
	}
	var a assertion
	if n := doc.FindElement("//NameID"); n != nil {
		a.NameID = n.Text()
	}
	if s := doc.FindElement("//AuthnStatement"); s != nil {
		a.SessionIndex = s.SelectAttrValue("SessionIndex", "")
	}
	if a.NameID == "" {
		b.t.Fatalf("no NameID in the Response:\n%s", xml)
	}
	return a
}

// logoutRequest is a LogoutRequest from sp; edit may change it before
// signing.
func (h *harness) logoutRequest(sp *testSP, a assertion, dest string, edit func(*etree.Element)) []byte {
	h.t.Helper()
	si := ""
	if a.SessionIndex != "" {
		si = `<samlp:SessionIndex>` + a.SessionIndex + `</samlp:SessionIndex>`
	}
	x := `<samlp:LogoutRequest xmlns:samlp="` + spid.NSProtocol + `" xmlns:saml="` + spid.NSAssertion + `"` +
		` ID="` + nextID("lr") + `" Version="2.0" IssueInstant="` + h.instant() + `" Destination="` + dest + `">` +
		`<saml:Issuer Format="` + spid.NameIDEntity + `" NameQualifier="` + sp.EntityID + `">` + sp.EntityID + `</saml:Issuer>` +
		`<saml:NameID Format="` + spid.NameIDTransient + `" NameQualifier="` + testEntityID + `">` + a.NameID + `</saml:NameID>` +
		si + `</samlp:LogoutRequest>`
	if edit == nil {
		return []byte(x)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(x); err != nil {
		h.t.Fatal(err)
	}
	edit(doc.Root())
	out, err := doc.WriteToBytes()
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// sendSAML delivers an SP message to the IdP's SLO endpoint on a binding,
// signed with signer (nil: unsigned).
func (b *browser) sendSAML(bind, param string, xml []byte, relay string, signer *keys.Pair) page {
	b.t.Helper()
	if bind == spid.BindingRedirect {
		r := bindingtest.Redirect{Param: param, XML: xml, RelayState: relay}
		if signer != nil {
			r.Key = signer.Key
		}
		return b.Get(b.h.Base + PathSLORedirect + "?" + r.Query())
	}
	if signer != nil {
		xml = bindingtest.Sign(b.t, xml, *signer)
	}
	return b.Post(b.h.Base+PathSLOPOST, bindingtest.Form(param, xml, relay))
}

// received is a SAML message the IdP handed the browser for an SP.
type received struct {
	Binding    string
	Dest       string // URL without query
	Param      string
	XML        []byte
	Root       *etree.Element
	RelayState string
}

// receive extracts the message p carries for an SP (a redirect off the
// IdP, or an auto-submitting form) and checks the IdP's signature on it.
func (b *browser) receive(p page) received {
	b.t.Helper()
	var req *http.Request
	var bind string
	switch {
	case p.Status == http.StatusFound && p.Location != "":
		bind = spid.BindingRedirect
		req = httptest.NewRequest(http.MethodGet, p.Location, nil)
	case strings.Contains(p.Body, `name="SAMLRequest"`) || strings.Contains(p.Body, `name="SAMLResponse"`):
		bind = spid.BindingPOST
		action, v := b.Form(p, "")
		req = httptest.NewRequest(http.MethodPost, action, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		b.t.Fatalf("no SAML message for an SP (status %d, Location %q):\n%s", p.Status, p.Location, p.Body)
	}
	m, err := binding.Decode(req, bind, binding.Limits{})
	if err != nil {
		b.t.Fatalf("decoding the IdP's message: %v", err)
	}
	if err := m.Verify([]*x509.Certificate{b.h.Signing.Cert}, b.h.Clock.Now()); err != nil {
		b.t.Fatalf("IdP's signature: %v", err)
	}
	u := *req.URL
	u.RawQuery = ""
	return received{Binding: bind, Dest: u.String(), Param: m.Param, XML: m.XML, Root: m.Root, RelayState: m.RelayState}
}

// logoutResponseFrom is sp's signed answer to the LogoutRequest in r.
func (b *browser) answer(sp *testSP, r received, status, bind string) page {
	b.t.Helper()
	if r.Param != binding.ParamRequest || r.Root.Tag != "LogoutRequest" {
		b.t.Fatalf("expected a LogoutRequest, got %s %s", r.Param, r.Root.Tag)
	}
	id := r.Root.SelectAttrValue("ID", "")
	dest := b.h.Base + PathSLORedirect
	if bind == spid.BindingPOST {
		dest = b.h.Base + PathSLOPOST
	}
	x := `<samlp:LogoutResponse xmlns:samlp="` + spid.NSProtocol + `" xmlns:saml="` + spid.NSAssertion + `"` +
		` ID="` + nextID("ls") + `" InResponseTo="` + id + `" Version="2.0" IssueInstant="` + b.h.instant() + `" Destination="` + dest + `">` +
		`<saml:Issuer Format="` + spid.NameIDEntity + `" NameQualifier="` + sp.EntityID + `">` + sp.EntityID + `</saml:Issuer>` +
		`<samlp:Status><samlp:StatusCode Value="` + status + `"/></samlp:Status></samlp:LogoutResponse>`
	return b.sendSAML(bind, binding.ParamResponse, []byte(x), r.RelayState, &sp.Pair)
}

// signedQuery is the Redirect-binding query for an SP's request.
func signedQuery(sp *testSP, xml []byte) string {
	return bindingtest.Redirect{XML: xml, Key: sp.Pair.Key}.Query()
}
