package idp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

var bindings = []string{spid.BindingRedirect, spid.BindingPOST}

func short(b string) string { return b[strings.LastIndex(b, "-")+1:] }

func sloURL(h *harness, bind string) string {
	if bind == spid.BindingPOST {
		return h.Base + PathSLOPOST
	}
	return h.Base + PathSLORedirect
}

// statusOf returns the top and nested status codes of a LogoutResponse.
func statusOf(t *testing.T, r received) (string, string) {
	t.Helper()
	if r.Param != binding.ParamResponse || r.Root.Tag != "LogoutResponse" {
		t.Fatalf("expected a LogoutResponse, got %s %s", r.Param, r.Root.Tag)
	}
	top := r.Root.FindElement("./Status/StatusCode")
	if top == nil {
		t.Fatal("LogoutResponse without StatusCode")
	}
	sub := ""
	if s := top.FindElement("./StatusCode"); s != nil {
		sub = s.SelectAttrValue("Value", "")
	}
	return top.SelectAttrValue("Value", ""), sub
}

// checkLogoutResponse asserts C173 and the answer's routing.
func checkLogoutResponse(t *testing.T, r received, to *testSP, bind, inResponseTo, relay, wantTop, wantSub string) {
	t.Helper()
	top, sub := statusOf(t, r)
	if top != wantTop || sub != wantSub {
		t.Errorf("status = %s / %s, want %s / %s", top, sub, wantTop, wantSub)
	}
	wantDest := to.EntityID + "/slo/" + map[string]string{spid.BindingRedirect: "redirect", spid.BindingPOST: "post"}[bind]
	if r.Binding != bind || r.Dest != wantDest {
		t.Errorf("delivered on %s to %s, want %s to %s", short(r.Binding), r.Dest, short(bind), wantDest)
	}
	root := r.Root
	for k, want := range map[string]string{"InResponseTo": inResponseTo, "Destination": wantDest, "Version": "2.0"} {
		if got := root.SelectAttrValue(k, ""); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if root.SelectAttrValue("ID", "") == "" || root.SelectAttrValue("IssueInstant", "") == "" {
		t.Error("ID or IssueInstant missing")
	}
	iss := root.FindElement("./Issuer")
	if iss == nil || iss.Text() != testEntityID || iss.SelectAttrValue("Format", "") != spid.NameIDEntity ||
		iss.SelectAttrValue("NameQualifier", "") != testEntityID {
		t.Errorf("Issuer not as C173 wants: %v", iss)
	}
	if r.RelayState != relay {
		t.Errorf("RelayState = %q, want %q", r.RelayState, relay)
	}
}

// sessionAlive reports whether the browser still has an IdP session.
func (b *browser) sessionAlive() bool {
	p := b.Get(b.h.Base + PathSession)
	return strings.Contains(p.Body, "Mario")
}

// sessionOf returns the IdP session an assertion's SessionIndex names.
func (h *harness) sessionOf(a assertion) (storage.Session, bool) {
	sid, err := h.Flow.SessionOfIndex(a.SessionIndex)
	if err != nil {
		return storage.Session{}, false
	}
	s, err := h.Eph.GetSession(context.Background(), sid)
	return s, err == nil
}

func idOf(t *testing.T, xml []byte) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatal(err)
	}
	return doc.Root().SelectAttrValue("ID", "")
}

// TestSLOPropagation: A starts logout on each binding; the IdP closes the
// session at once, sends B a signed LogoutRequest with B's own NameID and
// SessionIndex (C174), and, once B confirms, answers A Success on A's
// binding with A's RelayState (C166, C167, C173). Afterwards SpidL1 asks
// for credentials again (C178).
func TestSLOPropagation(t *testing.T) {
	for _, bind := range bindings {
		for _, answerOn := range bindings {
			t.Run(short(bind)+"/B-answers-"+short(answerOn), func(t *testing.T) {
				h := newHarness(t)
				br := h.browser()
				a := br.login(h.A, 1)
				bAssert := br.login(h.B, 1)
				if a.SessionIndex == "" || bAssert.SessionIndex == "" {
					t.Fatal("SpidL1 assertions without SessionIndex")
				}
				req := h.logoutRequest(h.A, a, sloURL(h, bind), nil)
				p := br.sendSAML(bind, binding.ParamRequest, req, "rs-a", &h.A.Pair)

				if _, ok := h.sessionOf(a); ok {
					t.Error("the IdP session is still open while B is being told")
				}
				if br.Cookie("/", "spid_sso") != "" {
					t.Error("SSO cookie not cleared")
				}
				toB := br.receive(p)
				if toB.Binding != spid.BindingRedirect || toB.Dest != spBEntity+"/slo/redirect" {
					t.Fatalf("LogoutRequest to B went on %s to %s", short(toB.Binding), toB.Dest)
				}
				root := toB.Root
				nid := root.FindElement("./NameID")
				if root.Tag != "LogoutRequest" || nid == nil || nid.Text() != bAssert.NameID ||
					nid.SelectAttrValue("NameQualifier", "") != testEntityID || nid.SelectAttrValue("Format", "") != spid.NameIDTransient {
					t.Fatalf("LogoutRequest to B does not carry B's NameID:\n%s", toB.XML)
				}
				if si := root.FindElement("./SessionIndex"); si == nil || si.Text() != bAssert.SessionIndex {
					t.Fatalf("LogoutRequest to B does not carry B's SessionIndex:\n%s", toB.XML)
				}
				if root.SelectAttrValue("Destination", "") != spBEntity+"/slo/redirect" {
					t.Errorf("Destination = %q", root.SelectAttrValue("Destination", ""))
				}
				if q, _ := url.ParseQuery(strings.SplitN(p.Location, "?", 2)[1]); q.Get("SigAlg") != spid.AlgRSASHA256 {
					t.Errorf("SigAlg = %q (C180)", q.Get("SigAlg"))
				}

				final := br.receive(br.answer(h.B, toB, spid.StatusSuccess, answerOn))
				checkLogoutResponse(t, final, h.A, bind, idOf(t, req), "rs-a", spid.StatusSuccess, "")
				if br.Cookie("/slo/", sloCookie) != "" {
					t.Error("chain cookie left behind")
				}

				// C178: SpidL1 at A now asks for credentials.
				q := h.authnRequest(h.A, 1)
				lp := br.Get(h.Base + PathSSORedirect + "?" + signedQuery(h.A, q))
				if !strings.Contains(lp.Body, `name="password"`) {
					t.Errorf("after SLO, SpidL1 did not ask for credentials (status %d)", lp.Status)
				}
			})
		}
	}
}

// TestSLOOnlySP: the only SP of the session gets Success at once (C166).
func TestSLOOnlySP(t *testing.T) {
	for _, bind := range bindings {
		t.Run(short(bind), func(t *testing.T) {
			h := newHarness(t)
			br := h.browser()
			a := br.login(h.A, 1)
			req := h.logoutRequest(h.A, a, sloURL(h, bind), nil)
			res := br.receive(br.sendSAML(bind, binding.ParamRequest, req, "", &h.A.Pair))
			checkLogoutResponse(t, res, h.A, bind, idOf(t, req), "", spid.StatusSuccess, "")
			if br.sessionAlive() {
				t.Error("session survived the logout")
			}
		})
	}
}

// TestSLOPartial: B answers with an error, or never answers before the
// deadline: A gets Requester + PartialLogout and the IdP session is closed
// anyway (C175).
func TestSLOPartial(t *testing.T) {
	cases := map[string]func(t *testing.T, h *harness, br *browser, toB received) page{
		"B answers Responder": func(t *testing.T, h *harness, br *browser, toB received) page {
			return br.answer(h.B, toB, spid.StatusResponder, spid.BindingRedirect)
		},
		"B answers after the deadline": func(t *testing.T, h *harness, br *browser, toB received) page {
			h.Clock.Advance(sloDeadline + time.Second)
			return br.answer(h.B, toB, spid.StatusSuccess, spid.BindingRedirect)
		},
		"B never answers, browser comes back after the deadline": func(t *testing.T, h *harness, br *browser, toB received) page {
			h.Clock.Advance(sloDeadline + time.Second)
			return br.Get(h.Base + PathSLORedirect)
		},
		"B sends the browser back without an answer": func(t *testing.T, h *harness, br *browser, toB received) page {
			return br.Get(h.Base + PathSLORedirect)
		},
		"B's answer is signed with A's key": func(t *testing.T, h *harness, br *browser, toB received) page {
			forged := *h.B
			forged.Pair = h.A.Pair
			return br.answer(&forged, toB, spid.StatusSuccess, spid.BindingPOST)
		},
		"the answer comes from A instead of B": func(t *testing.T, h *harness, br *browser, toB received) page {
			return br.answer(h.A, toB, spid.StatusSuccess, spid.BindingRedirect)
		},
		"B answers another request": func(t *testing.T, h *harness, br *browser, toB received) page {
			toB.Root.CreateAttr("ID", "_someOtherRequest")
			return br.answer(h.B, toB, spid.StatusSuccess, spid.BindingRedirect)
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			br := h.browser()
			a := br.login(h.A, 1)
			br.login(h.B, 1)
			req := h.logoutRequest(h.A, a, sloURL(h, spid.BindingPOST), nil)
			toB := br.receive(br.sendSAML(spid.BindingPOST, binding.ParamRequest, req, "rs", &h.A.Pair))
			final := br.receive(answer(t, h, br, toB))
			checkLogoutResponse(t, final, h.A, spid.BindingPOST, idOf(t, req), "rs", spid.StatusRequester, spid.StatusPartialLogout)
			if br.sessionAlive() {
				t.Error("session survived a partial logout")
			}
		})
	}
}

// TestSLOEndedSession: an unknown SessionIndex, or that of a session
// already closed, is answered PartialLogout at once (C176).
func TestSLOEndedSession(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	a := br.login(h.A, 1)
	first := h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), nil)
	checkLogoutResponse(t, br.receive(br.sendSAML(spid.BindingRedirect, binding.ParamRequest, first, "", &h.A.Pair)),
		h.A, spid.BindingRedirect, idOf(t, first), "", spid.StatusSuccess, "")

	again := h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), nil)
	checkLogoutResponse(t, br.receive(br.sendSAML(spid.BindingRedirect, binding.ParamRequest, again, "", &h.A.Pair)),
		h.A, spid.BindingRedirect, idOf(t, again), "", spid.StatusRequester, spid.StatusPartialLogout)

	unknown := h.logoutRequest(h.A, assertion{NameID: a.NameID, SessionIndex: "_not-one-of-ours"}, sloURL(h, spid.BindingRedirect), nil)
	checkLogoutResponse(t, br.receive(br.sendSAML(spid.BindingRedirect, binding.ParamRequest, unknown, "", &h.A.Pair)),
		h.A, spid.BindingRedirect, idOf(t, unknown), "", spid.StatusRequester, spid.StatusPartialLogout)

	// A session that timed out.
	b := br.login(h.B, 1)
	h.Clock.Advance(9 * time.Hour)
	expired := h.logoutRequest(h.B, b, sloURL(h, spid.BindingPOST), nil)
	checkLogoutResponse(t, br.receive(br.sendSAML(spid.BindingPOST, binding.ParamRequest, expired, "", &h.B.Pair)),
		h.B, spid.BindingPOST, idOf(t, expired), "", spid.StatusRequester, spid.StatusPartialLogout)
}

// TestSLONoSessionIndex: a SpidL2 assertion has no SessionIndex; its
// logout is Success and leaves the L1 session alone (C177).
func TestSLONoSessionIndex(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	a := br.login(h.A, 1)
	req := h.logoutRequest(h.A, assertion{NameID: a.NameID}, sloURL(h, spid.BindingPOST), nil)
	checkLogoutResponse(t, br.receive(br.sendSAML(spid.BindingPOST, binding.ParamRequest, req, "", &h.A.Pair)),
		h.A, spid.BindingPOST, idOf(t, req), "", spid.StatusSuccess, "")
	if !br.sessionAlive() {
		t.Error("a logout without SessionIndex closed the SpidL1 session")
	}
}

// TestSLOUnauthentic: unsigned, wrongly signed or unknown-issuer requests
// get a courtesy page and close nothing (C168, A.20, A.21).
func TestSLOUnauthentic(t *testing.T) {
	cases := []struct {
		name   string
		bind   string
		signer func(h *harness) *testSP // nil: unsigned
		issuer string
		code   spid.Anomaly
	}{
		{"unsigned Redirect", spid.BindingRedirect, nil, "", spid.NrBindingFormat},
		{"unsigned POST", spid.BindingPOST, nil, "", spid.NrPOSTSignature},
		{"Redirect signed by B for A", spid.BindingRedirect, func(h *harness) *testSP { return h.B }, "", spid.NrRedirectSignature},
		{"POST signed by B for A", spid.BindingPOST, func(h *harness) *testSP { return h.B }, "", spid.NrPOSTSignature},
		{"unknown issuer", spid.BindingRedirect, func(h *harness) *testSP { return h.A }, "https://stranger.example.it", spid.NrIssuer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			br := h.browser()
			a := br.login(h.A, 1)
			req := h.logoutRequest(h.A, a, sloURL(h, c.bind), func(r *etree.Element) {
				if c.issuer != "" {
					r.FindElement("./Issuer").SetText(c.issuer)
				}
			})
			var signer *testSP
			if c.signer != nil {
				signer = c.signer(h)
			}
			var p page
			if signer == nil {
				p = br.sendSAML(c.bind, binding.ParamRequest, req, "", nil)
			} else {
				p = br.sendSAML(c.bind, binding.ParamRequest, req, "", &signer.Pair)
			}
			if p.Status != http.StatusForbidden || p.Location != "" || strings.Contains(p.Body, "SAMLResponse") {
				t.Fatalf("status %d, Location %q: want a 403 courtesy page", p.Status, p.Location)
			}
			if !strings.Contains(p.Body, c.code.String()) && !strings.Contains(p.Body, strings.TrimPrefix(c.code.String(), "nr")) {
				t.Errorf("page does not show %s", c.code)
			}
			if _, ok := h.sessionOf(a); !ok || !br.sessionAlive() {
				t.Error("an unauthentic LogoutRequest closed the session")
			}
		})
	}
}

// TestSLORefused: authentic requests that break a rule get a LogoutResponse
// with the error status and close nothing (C169–C171, A.15, A.20); the
// entityID as Destination is fine (C172).
func TestSLORefused(t *testing.T) {
	old := func(d time.Duration) func(h *harness) func(*etree.Element) {
		return func(h *harness) func(*etree.Element) {
			return func(r *etree.Element) {
				r.CreateAttr("IssueInstant", h.Clock.Now().Add(d).Format("2006-01-02T15:04:05.000Z"))
			}
		}
	}
	cases := []struct {
		name     string
		edit     func(h *harness) func(*etree.Element)
		foreign  bool // use B's NameID and SessionIndex
		top, sub string
	}{
		{"Issuer without Format", func(*harness) func(*etree.Element) {
			return func(r *etree.Element) { r.FindElement("./Issuer").RemoveAttr("Format") }
		}, false, spid.StatusRequester, spid.StatusRequestUnsupported},
		{"Issuer without NameQualifier", func(*harness) func(*etree.Element) {
			return func(r *etree.Element) { r.FindElement("./Issuer").RemoveAttr("NameQualifier") }
		}, false, spid.StatusRequester, spid.StatusRequestUnsupported},
		{"NameID not transient", func(*harness) func(*etree.Element) {
			return func(r *etree.Element) {
				r.FindElement("./NameID").CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
			}
		}, false, spid.StatusRequester, spid.StatusRequestUnsupported},
		{"NameID without NameQualifier", func(*harness) func(*etree.Element) {
			return func(r *etree.Element) { r.FindElement("./NameID").RemoveAttr("NameQualifier") }
		}, false, spid.StatusRequester, spid.StatusRequestUnsupported},
		{"IssueInstant 10 minutes old", old(-10 * time.Minute), false, spid.StatusRequester, spid.StatusRequestDenied},
		{"IssueInstant 10 minutes ahead", old(10 * time.Minute), false, spid.StatusRequester, spid.StatusRequestDenied},
		{"NotOnOrAfter passed", func(h *harness) func(*etree.Element) {
			return func(r *etree.Element) {
				r.CreateAttr("NotOnOrAfter", h.Clock.Now().Add(-time.Second).Format("2006-01-02T15:04:05.000Z"))
			}
		}, false, spid.StatusRequester, spid.StatusRequestDenied},
		{"Destination of another IdP", func(*harness) func(*etree.Element) {
			return func(r *etree.Element) { r.CreateAttr("Destination", "https://other-idp.example.it/slo") }
		}, false, spid.StatusRequester, spid.StatusRequestUnsupported},
		{"A names B's NameID and SessionIndex", nil, true, spid.StatusRequester, spid.StatusRequestUnsupported},
		{"Destination is the entityID", func(*harness) func(*etree.Element) {
			return func(r *etree.Element) { r.CreateAttr("Destination", testEntityID) }
		}, false, spid.StatusSuccess, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			br := h.browser()
			a := br.login(h.A, 1)
			if c.foreign {
				a = br.login(h.B, 1)
			}
			var edit func(*etree.Element)
			if c.edit != nil {
				edit = c.edit(h)
			}
			req := h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), edit)
			res := br.receive(br.sendSAML(spid.BindingRedirect, binding.ParamRequest, req, "r", &h.A.Pair))
			if c.top == spid.StatusSuccess {
				checkLogoutResponse(t, res, h.A, spid.BindingRedirect, idOf(t, req), "r", c.top, c.sub)
				return
			}
			checkLogoutResponse(t, res, h.A, spid.BindingRedirect, idOf(t, req), "r", c.top, c.sub)
			if !br.sessionAlive() {
				t.Error("a refused LogoutRequest closed the session")
			}
		})
	}
}

// TestSLOReplay: the same signed LogoutRequest twice: the second is
// refused (A.15), even though the first closed the session.
func TestSLOReplay(t *testing.T) {
	for _, bind := range bindings {
		t.Run(short(bind), func(t *testing.T) {
			h := newHarness(t)
			br := h.browser()
			a := br.login(h.A, 1)
			req := h.logoutRequest(h.A, a, sloURL(h, bind), nil)
			checkLogoutResponse(t, br.receive(br.sendSAML(bind, binding.ParamRequest, req, "", &h.A.Pair)),
				h.A, bind, idOf(t, req), "", spid.StatusSuccess, "")

			// Log in again so a replay would have something to close.
			br.login(h.A, 1)
			res := br.receive(br.sendSAML(bind, binding.ParamRequest, req, "", &h.A.Pair))
			checkLogoutResponse(t, res, h.A, bind, idOf(t, req), "", spid.StatusRequester, spid.StatusRequestDenied)
			if !br.sessionAlive() {
				t.Error("a replayed LogoutRequest closed the new session")
			}
		})
	}
}

// TestSLOWrongMethod: each endpoint accepts only its binding's method (nr06).
func TestSLOWrongMethod(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	for _, p := range []page{br.Post(h.Base+PathSLORedirect, url.Values{"SAMLRequest": {"x"}}), br.Get(h.Base + PathSLOPOST + "?SAMLRequest=x")} {
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "06") {
			t.Errorf("%s: status %d, want the nr06 page", p.URL, p.Status)
		}
	}
	// A LogoutResponse with no logout in progress changes nothing.
	p := br.Get(h.Base + PathSLORedirect + "?SAMLResponse=x&SigAlg=y&Signature=z")
	if p.Status < 400 {
		t.Errorf("stray LogoutResponse: status %d", p.Status)
	}
}

// TestIdPInitiatedLogout: the session page's button closes the session and
// sends every SP a signed LogoutRequest (C179), then lists who confirmed.
func TestIdPInitiatedLogout(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	a := br.login(h.A, 1)
	bAssert := br.login(h.B, 1)

	sess := br.Get(h.Base + PathSession)
	if !strings.Contains(sess.Body, "Servizio A") || !strings.Contains(sess.Body, "Servizio B") {
		t.Fatalf("session page does not list both SPs:\n%s", sess.Body)
	}
	p := br.Submit(sess, PathLogout, nil)
	if br.sessionAlive() {
		t.Fatal("session still open after the logout button")
	}
	seen := map[string]assertion{}
	for i := 0; i < 2; i++ {
		r := br.receive(p)
		nid := r.Root.FindElement("./NameID").Text()
		si := r.Root.FindElement("./SessionIndex").Text()
		sp, status := h.A, spid.StatusSuccess
		if strings.HasPrefix(r.Dest, spBEntity) {
			sp, status = h.B, spid.StatusRequester
		}
		seen[sp.EntityID] = assertion{NameID: nid, SessionIndex: si}
		p = br.answer(sp, r, status, spid.BindingPOST)
	}
	if seen[spAEntity] != a || seen[spBEntity] != bAssert {
		t.Errorf("LogoutRequests carried %+v, want A %+v and B %+v", seen, a, bAssert)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Servizio A") || !strings.Contains(p.Body, "Servizio B") ||
		!strings.Contains(p.Body, "result-ko") || !strings.Contains(p.Body, "result-ok") {
		t.Fatalf("logout page does not report A confirmed and B not:\n%s", p.Body)
	}
}

// TestIdPLogoutForgery: the logout button needs its CSRF token and a
// same-origin post.
func TestIdPLogoutForgery(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	br.login(h.A, 1)
	sess := br.Get(h.Base + PathSession)
	target, form := br.Form(sess, PathLogout)

	bad := url.Values{templates.FieldCSRF: {"forged"}}
	if p := br.Post(target, bad); p.Status != http.StatusForbidden {
		t.Errorf("forged token: status %d", p.Status)
	}
	other := url.Values{templates.FieldCSRF: {csrf.Token(h.IdP.csrfKey, "another-browser|session")}}
	if p := br.Post(target, other); p.Status != http.StatusForbidden {
		t.Errorf("another browser's token: status %d", p.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if p := br.Do(req); p.Status != http.StatusForbidden {
		t.Errorf("cross-origin post: status %d", p.Status)
	}
	if !br.sessionAlive() {
		t.Fatal("a refused logout post closed the session")
	}
	if p := br.Post(target, form); p.Status != http.StatusFound && p.Status != http.StatusOK {
		t.Errorf("genuine logout: status %d", p.Status)
	}
	if br.sessionAlive() {
		t.Error("genuine logout left the session open")
	}
}

// TestSLOPropagationPOST: an SP without an HTTP-Redirect SLO endpoint gets
// its LogoutRequest by HTTP-POST, with an enveloped signature.
func TestSLOPropagationPOST(t *testing.T) {
	h := newHarness(t)
	c := h.addSPWith(metadatatest.Options{EntityID: "https://sp-c.example.it", DisplayName: "Servizio C",
		Mutate: func(root *etree.Element) {
			for _, el := range root.FindElements(".//SingleLogoutService") {
				if el.SelectAttrValue("Binding", "") == spid.BindingRedirect {
					el.Parent().RemoveChild(el)
				}
			}
		}})
	br := h.browser()
	a := br.login(h.A, 1)
	cAssert := br.login(c, 1)
	req := h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), nil)
	p := br.sendSAML(spid.BindingRedirect, binding.ParamRequest, req, "", &h.A.Pair)
	if !strings.Contains(p.Body, "Servizio C") {
		t.Errorf("transfer page does not name the SP")
	}
	toC := br.receive(p)
	if toC.Binding != spid.BindingPOST || toC.Dest != "https://sp-c.example.it/slo/post" {
		t.Fatalf("LogoutRequest to C went on %s to %s", short(toC.Binding), toC.Dest)
	}
	if toC.Root.FindElement("./Signature") == nil {
		t.Error("POST LogoutRequest without an enveloped signature")
	}
	if got := toC.Root.FindElement("./NameID").Text(); got != cAssert.NameID {
		t.Errorf("NameID = %q, want C's %q", got, cAssert.NameID)
	}
	final := br.receive(br.answer(c, toC, spid.StatusSuccess, spid.BindingPOST))
	checkLogoutResponse(t, final, h.A, spid.BindingRedirect, idOf(t, req), "", spid.StatusSuccess, "")
}

// TestSLOAudit: the transaction log records the request and the outcome.
func TestSLOAudit(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	a := br.login(h.A, 1)
	br.login(h.B, 1)
	req := h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), nil)
	toB := br.receive(br.sendSAML(spid.BindingRedirect, binding.ParamRequest, req, "", &h.A.Pair))
	br.receive(br.answer(h.B, toB, spid.StatusResponder, spid.BindingRedirect))

	evs, err := h.Store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var sawRequest, sawOutcome bool
	for _, ev := range evs {
		switch ev.Action {
		case "slo.request":
			sawRequest = ev.Outcome == "success" && ev.Target == spAEntity && ev.Details["in_response_to"] == idOf(t, req) &&
				ev.Details["name_id"] == a.NameID
		case "slo.response":
			sawOutcome = ev.Outcome == "failure" && ev.Target == spAEntity && ev.Details["not_confirmed"] == spBEntity
		}
	}
	if !sawRequest || !sawOutcome {
		t.Errorf("audit log lacks the logout request or its partial outcome: %+v", evs)
	}
}

// TestSLOConcurrent: two LogoutRequests for one session at once: one
// closes it, the other is told the session had ended.
func TestSLOConcurrent(t *testing.T) {
	h := newHarness(t)
	a := h.browser().login(h.A, 1)
	reqs := [][]byte{h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), nil), h.logoutRequest(h.A, a, sloURL(h, spid.BindingRedirect), nil)}
	// Both requests are sent by raw HTTP from goroutines; only the test
	// goroutine may fail the test, so the pages come back over a channel.
	pages := make(chan page, len(reqs))
	for _, req := range reqs {
		u := h.Base + PathSLORedirect + "?" + signedQuery(h.A, req)
		go func() {
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := c.Get(u)
			if err != nil {
				pages <- page{Body: err.Error()}
				return
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			pages <- page{Status: res.StatusCode, URL: res.Request.URL, Location: res.Header.Get("Location"), Body: string(body)}
		}()
	}
	br := h.browser()
	results := make(chan string, len(reqs))
	for range reqs {
		top, _ := statusOf(t, br.receive(<-pages))
		results <- top
	}
	got := map[string]int{}
	for range reqs {
		got[<-results]++
	}
	if got[spid.StatusSuccess] != 1 || got[spid.StatusRequester] != 1 {
		t.Errorf("outcomes %v, want one Success and one Requester", got)
	}
}

// TestChainCookieTooLarge: a chain that cannot fit a cookie is refused by
// saveChain, and the walk ends as partial rather than breaking.
func TestChainCookieTooLarge(t *testing.T) {
	h := newHarness(t)
	c := h.IdP.newChain("id", nil)
	for i := 0; i < 200; i++ {
		c.SPs = append(c.SPs, "https://a-rather-long-service-provider-name.example.it/spid/metadata")
	}
	c.St = strings.Repeat("p", len(c.SPs))
	if err := h.IdP.saveChain(httptest.NewRecorder(), c); err == nil {
		t.Fatal("a 200-SP chain fit in a cookie")
	}
	small := h.IdP.newChain("id", &sloInitiator{SP: spAEntity, RequestID: "_r", Binding: spid.BindingPOST, RelayState: strings.Repeat("x", 1024)})
	for i := 0; i < 10; i++ {
		small.SPs = append(small.SPs, "https://service-"+strings.Repeat("s", 40)+".example.it")
	}
	small.St = strings.Repeat("p", len(small.SPs))
	if err := h.IdP.saveChain(httptest.NewRecorder(), small); err != nil {
		t.Errorf("a 10-SP chain with a 1 KiB RelayState does not fit: %v", err)
	}
}
