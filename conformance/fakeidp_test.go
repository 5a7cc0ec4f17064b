package conformance

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/pquerna/otp/totp"
)

// fakeIdP is a deliberately small SPID IdP used to exercise the suite end to
// end: it implements the happy paths, signature and Issuer pages, a few
// request anomalies, consent, cancel, SpidL1 sessions and SLO. defect names
// one fault to inject.
type fakeIdP struct {
	t      *testing.T
	srv    *httptest.Server
	key    signer
	defect string
	secret string

	mu       sync.Mutex
	sps      map[string]*fakeSP
	txs      map[string]*fakeTx
	sessions map[string]*fakeSession // cookie → session
	seenIDs  map[string]bool
	// pendingLogout is the SP-initiated logout waiting for another SP's answer.
	pendingLogout *fakePending
}

type fakeSP struct {
	entityID string
	cert     *x509.Certificate
	acs      map[string]string
	attrs    map[string][]string
	slo      map[string]string
}

type fakeTx struct {
	sp                                  *fakeSP
	reqID, acs, relay, acsIndex, attrIx string
	level                               int
	reqInstant                          time.Time
	noAttrIx                            bool
	reuse                               bool
	authnInstant                        string
	failures                            int
}

type fakeSession struct {
	authnInstant string
	nameIDs      map[string]string // SP → NameID
}

func newFakeIdP(t *testing.T, defect string) *fakeIdP {
	key, _ := testSigners(t)
	secret, _ := totp.Generate(totp.GenerateOpts{Issuer: "fake", AccountName: "maria"})
	f := &fakeIdP{t: t, key: key, defect: defect, secret: secret.Secret(),
		sps: map[string]*fakeSP{}, txs: map[string]*fakeTx{}, sessions: map[string]*fakeSession{}, seenIDs: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metadata", f.metadata)
	mux.HandleFunc("/sso/redirect", f.sso(bindingRedirect))
	mux.HandleFunc("/sso/post", f.sso(bindingPOST))
	mux.HandleFunc("POST /login", f.login)
	mux.HandleFunc("POST /otp", f.otpStep)
	mux.HandleFunc("POST /consent", f.consent)
	mux.HandleFunc("/slo/redirect", f.slo(bindingRedirect))
	mux.HandleFunc("/slo/post", f.slo(bindingPOST))
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) metadata(w http.ResponseWriter, r *http.Request) {
	spec := mdSpec{}
	if f.defect == "metadata-no-slo-post" {
		spec.mutate = removeChildren("IDPSSODescriptor/SingleLogoutService[@Binding='" + bindingPOST + "']")
	}
	_, _ = w.Write(buildIdPMetadata(f.t, f.srv.URL, spec))
}

// register parses SP metadata the way an operator's tooling would.
func (f *fakeIdP) register(raw []byte) error {
	doc, err := parseXML(raw)
	if err != nil {
		return err
	}
	root := doc.Root()
	sp := &fakeSP{acs: map[string]string{}, attrs: map[string][]string{}, slo: map[string]string{}}
	sp.entityID, _ = attr(root, "entityID")
	c := root.FindElement(".//X509Certificate")
	der, _ := base64.StdEncoding.DecodeString(c.Text())
	if sp.cert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	if si := inspectSignature(root, []*x509.Certificate{sp.cert}); si.Err != nil {
		return fmt.Errorf("SP metadata signature: %w", si.Err)
	}
	for _, a := range root.FindElements(".//AssertionConsumerService") {
		i, _ := attr(a, "index")
		sp.acs[i], _ = attr(a, "Location")
	}
	for _, a := range root.FindElements(".//AttributeConsumingService") {
		i, _ := attr(a, "index")
		for _, ra := range a.SelectElements("RequestedAttribute") {
			n, _ := attr(ra, "Name")
			sp.attrs[i] = append(sp.attrs[i], n)
		}
	}
	for _, s := range root.FindElements(".//SingleLogoutService") {
		b, _ := attr(s, "Binding")
		sp.slo[b], _ = attr(s, "Location")
	}
	f.mu.Lock()
	f.sps[sp.entityID] = sp
	f.mu.Unlock()
	return nil
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html><body><h1>Errore</h1><p>%s</p></body></html>", template.HTMLEscapeString(msg))
}

// decode reads a SAML message on binding and verifies its signature
// against the registered SPs. It writes a page and returns nil on failure.
func (f *fakeIdP) decode(w http.ResponseWriter, r *http.Request, binding, param string, sigCode int) (*etree.Element, *fakeSP, string) {
	if (binding == bindingRedirect) != (r.Method == http.MethodGet) {
		page(w, 403, "nr06")
		return nil, nil, ""
	}
	var raw []byte
	var err error
	relay := ""
	if binding == bindingRedirect {
		q := r.URL.Query()
		if q.Get(param) == "" || q.Get("SigAlg") == "" || q.Get("Signature") == "" {
			page(w, 403, "nr04")
			return nil, nil, ""
		}
		raw, err = decodeRedirectPayload(q.Get(param))
		relay = q.Get("RelayState")
	} else {
		if err := r.ParseForm(); err != nil || r.PostForm.Get(param) == "" {
			page(w, 403, "nr04")
			return nil, nil, ""
		}
		raw, err = base64.StdEncoding.DecodeString(r.PostForm.Get(param))
		relay = r.PostForm.Get("RelayState")
	}
	if err != nil {
		page(w, 403, "nr04")
		return nil, nil, ""
	}
	doc, err := parseXML(raw)
	if err != nil {
		page(w, 403, "nr04")
		return nil, nil, ""
	}
	root := doc.Root()
	iss := root.SelectElement("Issuer")
	if iss == nil {
		page(w, 403, "nr10")
		return nil, nil, ""
	}
	format, _ := attr(iss, "Format")
	_, hasNQ := attr(iss, "NameQualifier")
	f.mu.Lock()
	sp := f.sps[strings.TrimSpace(iss.Text())]
	f.mu.Unlock()
	if sp == nil || (param == "SAMLRequest" && root.Tag == "AuthnRequest" && (format != fmtEntity || !hasNQ)) {
		page(w, 403, "nr10")
		return nil, nil, ""
	}
	certs := []*x509.Certificate{sp.cert}
	if binding == bindingRedirect {
		alg, err := verifyRedirect(r.URL.RawQuery, param, certs)
		if err != nil || !strongSigAlg(alg) {
			page(w, 403, fmt.Sprintf("nr%02d", sigCode))
			return nil, nil, ""
		}
	} else {
		si := inspectSignature(root, certs)
		if si.Err != nil || !strongSigAlg(si.SigMethod) || !si.HasCert {
			page(w, 403, fmt.Sprintf("nr%02d", sigCode+2))
			return nil, nil, ""
		}
		if c := root.FindElement("Signature/KeyInfo/X509Data/X509Certificate"); c != nil {
			if der, _ := base64.StdEncoding.DecodeString(c.Text()); !bytes.Equal(der, sp.cert.Raw) {
				page(w, 403, "nr07")
				return nil, nil, ""
			}
		}
	}
	return root, sp, relay
}

func (f *fakeIdP) sso(binding string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		root, sp, relay := f.decode(w, r, binding, "SAMLRequest", 5)
		if root == nil {
			return
		}
		id, _ := attr(root, "ID")
		tx := &fakeTx{sp: sp, reqID: id, relay: relay, acs: sp.acs["0"]}
		ii, _ := attr(root, "IssueInstant")
		tx.reqInstant, _ = time.Parse(time.RFC3339Nano, ii)
		fail := func(code int) { f.answerError(w, tx, code) }
		if v, _ := attr(root, "Version"); v != "2.0" {
			code := 9
			if f.defect == "wrong-error-code" {
				code = 8
			}
			fail(code)
			return
		}
		f.mu.Lock()
		replay := f.seenIDs[id]
		f.seenIDs[id] = true
		f.mu.Unlock()
		if !reNCName.MatchString(id) || replay {
			tx.reqID = map[bool]string{true: id}[replay]
			fail(11)
			return
		}
		if dest, _ := attr(root, "Destination"); dest != f.srv.URL+"/sso/"+map[string]string{bindingRedirect: "redirect", bindingPOST: "post"}[binding] && dest != f.srv.URL {
			fail(14)
			return
		}
		ix, hasIx := attr(root, "AssertionConsumerServiceIndex")
		u, hasURL := attr(root, "AssertionConsumerServiceURL")
		pb, hasPB := attr(root, "ProtocolBinding")
		switch {
		case hasIx && !hasURL && !hasPB && sp.acs[ix] != "":
			tx.acs = sp.acs[ix]
		case !hasIx && hasURL && pb == bindingPOST && hasPB:
			found := false
			for _, l := range sp.acs {
				found = found || l == u
			}
			if !found {
				fail(16)
				return
			}
			tx.acs = u
		default:
			fail(16)
			return
		}
		ai, hasAI := attr(root, "AttributeConsumingServiceIndex")
		if hasAI && sp.attrs[ai] == nil {
			fail(18)
			return
		}
		tx.attrIx, tx.noAttrIx = ai, !hasAI
		refs := root.FindElements("RequestedAuthnContext/AuthnContextClassRef")
		if len(refs) != 1 || levelOf(refs[0].Text()) == 0 {
			fail(12)
			return
		}
		tx.level = levelOf(refs[0].Text())
		cmp, hasCmp := attr(root.SelectElement("RequestedAuthnContext"), "Comparison")
		if !hasCmp && f.defect != "comparison-default" {
			fail(12)
			return
		}
		force, _ := attr(root, "ForceAuthn")
		txID := randomID()
		f.mu.Lock()
		f.txs[txID] = tx
		sess := f.session(r)
		f.mu.Unlock()
		if f.defect == "force-ignored" {
			force = ""
		}
		if sess != nil && tx.level == 1 && cmp != "better" && force != "true" && f.defect != "sso-no-reuse" {
			tx.reuse, tx.authnInstant = true, sess.authnInstant
			f.consentPage(w, txID)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><form method="post" action="/login">
<input type="hidden" name="tx" value="%s"><label>Nome utente <input name="username"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit" name="action" value="login">Entra con SPID</button>
<button type="submit" name="action" value="cancel" formnovalidate>Annulla</button></form></body></html>`, txID)
	}
}

func (f *fakeIdP) session(r *http.Request) *fakeSession {
	c, err := r.Cookie("fakesess")
	if err != nil {
		return nil
	}
	return f.sessions[c.Value]
}

func (f *fakeIdP) tx(r *http.Request) (string, *fakeTx) {
	_ = r.ParseForm()
	id := r.PostForm.Get("tx")
	f.mu.Lock()
	defer f.mu.Unlock()
	return id, f.txs[id]
}

func (f *fakeIdP) login(w http.ResponseWriter, r *http.Request) {
	id, tx := f.tx(r)
	if tx == nil {
		page(w, 400, "unknown transaction")
		return
	}
	if r.PostForm.Get("action") == "cancel" {
		f.answerError(w, tx, map[bool]int{true: 22, false: 25}[f.defect == "cancel-wrong-code"])
		return
	}
	if r.PostForm.Get("username") != "maria" || r.PostForm.Get("password") != "secret" {
		f.mu.Lock()
		tx.failures++
		n := tx.failures
		f.mu.Unlock()
		if n >= 3 {
			f.answerError(w, tx, 19)
			return
		}
		// Like the UI spec's P01: stay on the login page, 401, error shown.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `<html><body><p role="alert">Credenziali errate. Tentativi rimasti: %d</p><form method="post" action="/login">
<input type="hidden" name="tx" value="%s"><input name="username" value="maria"><input type="password" name="password">
<button type="submit" name="action" value="login">Entra con SPID</button></form></body></html>`, 3-n, id)
		return
	}
	if tx.level == 3 {
		f.answerError(w, tx, 20)
		return
	}
	if tx.level == 2 {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><body><form method="post" action="/otp"><input type="hidden" name="tx" value="%s">
<input name="otp" inputmode="numeric"><input type="submit" value="Verifica"></form></body></html>`, id)
		return
	}
	f.consentPage(w, id)
}

func (f *fakeIdP) otpStep(w http.ResponseWriter, r *http.Request) {
	id, tx := f.tx(r)
	if tx == nil || !totp.Validate(r.PostForm.Get("otp"), f.secret) {
		page(w, 400, "bad code")
		return
	}
	f.consentPage(w, id)
}

func (f *fakeIdP) consentPage(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<html><head><script>if (1 < 2) { console.log("x & y"); }</script></head><body><h1>Autorizzi l'invio dei dati?</h1><p>Stai per inviare i tuoi dati a <strong>SPID Conformance</strong>.</p>
<form method="post" action="/consent"><input type="hidden" name="tx" value="%s"><input type="hidden" name="csrf" value="tok&amp;1">
<button type="submit" name="decision" value="yes">Acconsento</button>
<button type="submit" name="decision" value="no">Non acconsento</button></form></body></html>`, id)
}

func (f *fakeIdP) consent(w http.ResponseWriter, r *http.Request) {
	_, tx := f.tx(r)
	if tx == nil || r.PostForm.Get("csrf") != "tok&1" {
		page(w, 400, "unknown transaction or CSRF token")
		return
	}
	if r.PostForm.Get("decision") != "yes" && f.defect != "consent-ignored" {
		f.answerError(w, tx, 22)
		return
	}
	now := time.Now()
	level := []string{"", classL1, classL2, classL3}[tx.level]
	attrs := map[string]string{}
	if !tx.noAttrIx {
		for _, n := range tx.sp.attrs[tx.attrIx] {
			attrs[n] = tAttrs[n]
		}
	}
	if f.defect == "extra-attribute" {
		attrs["gender"] = "F"
	}
	authnInst := tx.authnInstant
	if !tx.reuse {
		authnInst = formatInstant(now)
	}
	spec := respSpec{now: now, level: level, attrs: attrs, idp: f.srv.URL, sp: tx.sp.entityID, acs: tx.acs,
		reqID: tx.reqID, sessionIdx: tx.level == 1, authnInst: authnInst, noSignAss: f.defect == "unsigned-assertion"}
	relay := tx.relay
	f.injectResponseDefect(&spec, tx, &relay)
	raw := buildResponse(f.t, spec)
	if tx.level == 1 {
		doc, _ := parseXML(raw)
		nameID := doc.Root().FindElement("Assertion/Subject/NameID").Text()
		f.mu.Lock()
		sess := f.session(r)
		if sess == nil {
			sess = &fakeSession{authnInstant: authnInst, nameIDs: map[string]string{}}
			sid := randomID()
			f.sessions[sid] = sess
			http.SetCookie(w, &http.Cookie{Name: "fakesess", Value: sid, Path: "/", Secure: true, HttpOnly: true})
		}
		sess.nameIDs[tx.sp.entityID] = nameID
		f.mu.Unlock()
	}
	postForm(w, tx.acs, raw, relay)
}

// injectResponseDefect applies f.defect to a success Response.
func (f *fakeIdP) injectResponseDefect(spec *respSpec, tx *fakeTx, relay *string) {
	_, other := testSigners(f.t)
	past := formatInstant(time.Now().Add(-time.Minute))
	switch f.defect {
	case "wrong-destination":
		spec.mutateResp = func(r *etree.Element) { r.CreateAttr("Destination", "https://elsewhere.invalid/acs") }
	case "sha1":
		spec.alg = algRSASHA1
	case "missing-inresponseto":
		spec.mutateResp = removeAttr("", "InResponseTo")
	case "issuer-wrong-format":
		spec.mutateResp = func(r *etree.Element) {
			r.SelectElement("Issuer").CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
		}
	case "missing-attribute":
		delete(spec.attrs, "email")
	case "fiscalnumber-prefix":
		if _, ok := spec.attrs["fiscalNumber"]; ok {
			spec.attrs["fiscalNumber"] = "RSSMRA80A41H501X"
		}
	case "level-lower":
		spec.level = classL1
	case "notonorafter-past":
		spec.mutateAss = func(a *etree.Element) {
			setAttr(a, "Subject/SubjectConfirmation/SubjectConfirmationData", "NotOnOrAfter", past)
		}
	case "audience-wrong":
		spec.mutateAss = func(a *etree.Element) {
			a.FindElement("Conditions/AudienceRestriction/Audience").SetText("https://other.invalid")
		}
	case "unsigned-response":
		spec.noSignResp = true
	case "foreign-key":
		spec.signWith = &other
	case "nameid-persistent":
		spec.mutateAss = func(a *etree.Element) { setAttr(a, "Subject/NameID", "Format", fmtPersistent) }
	case "recipient-wrong":
		spec.mutateAss = func(a *etree.Element) {
			setAttr(a, "Subject/SubjectConfirmation/SubjectConfirmationData", "Recipient", "https://elsewhere.invalid/acs")
		}
	case "sessionindex-l2":
		spec.sessionIdx = true
	case "no-sessionindex-l1":
		spec.mutateAss = removeAttr("AuthnStatement", "SessionIndex")
	case "notbefore-future":
		spec.mutateAss = func(a *etree.Element) {
			setAttr(a, "Conditions", "NotBefore", formatInstant(time.Now().Add(10*time.Minute)))
		}
	case "obsolete-classref":
		spec.level = obsoleteClassL2
	case "relaystate-dropped":
		*relay = ""
	case "millisecond-digits":
		spec.mutateAss = func(a *etree.Element) { a.CreateAttr("IssueInstant", time.Now().UTC().Format(time.RFC3339Nano)) }
	}
}

func postForm(w http.ResponseWriter, action string, raw []byte, relay string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	rs := ""
	if relay != "" {
		rs = `<input type="hidden" name="RelayState" value="` + template.HTMLEscapeString(relay) + `">`
	}
	fmt.Fprintf(w, `<!DOCTYPE html><html><body><form method="post" action="%s"><input type="hidden" name="SAMLResponse" value="%s">%s<noscript><input type="submit" value="Continua"></noscript></form><script src="/auto.js"></script></body></html>`,
		template.HTMLEscapeString(action), base64.StdEncoding.EncodeToString(raw), rs)
}

func (f *fakeIdP) answerError(w http.ResponseWriter, tx *fakeTx, code int) {
	raw := buildResponse(f.t, respSpec{errorCode: code, idp: f.srv.URL, acs: tx.sp.acs["0"], reqID: tx.reqID, noSignResp: f.defect == "error-unsigned",
		mutateResp: func(r *etree.Element) {
			if tx.reqID == "" {
				r.RemoveAttr("InResponseTo")
			}
		}})
	postForm(w, tx.sp.acs["0"], raw, tx.relay)
}

func (f *fakeIdP) slo(binding string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		param := "SAMLRequest"
		if r.URL.Query().Get("SAMLResponse") != "" || (r.Method == http.MethodPost && r.FormValue("SAMLResponse") != "") {
			param = "SAMLResponse"
		}
		root, sp, relay := f.decode(w, r, binding, param, 5)
		if root == nil {
			return
		}
		c, _ := r.Cookie("fakesess")
		if param == "SAMLResponse" { // SP B answered our propagation: finish with SP A
			f.mu.Lock()
			p := f.pendingLogout
			f.pendingLogout = nil
			if c != nil {
				delete(f.sessions, c.Value)
			}
			f.mu.Unlock()
			if p == nil {
				page(w, 400, "unexpected LogoutResponse")
				return
			}
			f.sendLogoutResponse(w, r, p.sp, p.binding, p.reqID, p.relay, statusSuccess, "")
			return
		}
		id, _ := attr(root, "ID")
		top, sub := statusSuccess, ""
		nid := root.SelectElement("NameID")
		nidFormat, _ := attr(nid, "Format")
		ii, _ := attr(root, "IssueInstant")
		t, _ := time.Parse(time.RFC3339Nano, ii)
		dest, _ := attr(root, "Destination")
		f.mu.Lock()
		var sess *fakeSession
		if c != nil {
			sess = f.sessions[c.Value]
		}
		f.mu.Unlock()
		switch format, _ := attr(root.SelectElement("Issuer"), "Format"); {
		case format != fmtEntity || nidFormat != fmtTransient:
			top = statusRequester
		case time.Since(t) > 2*time.Minute:
			top, sub = statusRequester, statusReqDenied
		case dest != f.srv.URL+"/slo/"+map[string]string{bindingRedirect: "redirect", bindingPOST: "post"}[binding] && dest != f.srv.URL:
			top = statusRequester
		case root.SelectElement("SessionIndex") == nil:
			// SpidL2 assertion: nothing to close.
		case sess == nil:
			top, sub = statusRequester, statusPartial
		default:
			for other, otherNID := range sess.nameIDs {
				if other == sp.entityID {
					continue
				}
				f.mu.Lock()
				osp := f.sps[other]
				f.pendingLogout = &fakePending{sp: sp, binding: binding, reqID: id, relay: relay}
				f.mu.Unlock()
				f.propagate(w, r, osp, otherNID)
				return
			}
			f.mu.Lock()
			delete(f.sessions, c.Value)
			f.mu.Unlock()
		}
		f.sendLogoutResponse(w, r, sp, binding, id, relay, top, sub)
	}
}

type fakePending struct {
	sp                    *fakeSP
	binding, reqID, relay string
}

// propagate sends other a signed Redirect LogoutRequest for its NameID.
func (f *fakeIdP) propagate(w http.ResponseWriter, r *http.Request, other *fakeSP, nameID string) {
	lr := etree.NewElement("samlp:LogoutRequest")
	lr.CreateAttr("xmlns:samlp", nsSAMLP)
	lr.CreateAttr("xmlns:saml", nsSAML)
	lr.CreateAttr("ID", randomID())
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", formatInstant(time.Now()))
	lr.CreateAttr("Destination", other.slo[bindingRedirect])
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.CreateAttr("NameQualifier", f.srv.URL)
	iss.SetText(f.srv.URL)
	n := lr.CreateElement("saml:NameID")
	n.CreateAttr("Format", fmtTransient)
	n.CreateAttr("NameQualifier", f.srv.URL)
	n.SetText(nameID)
	lr.CreateElement("samlp:SessionIndex").SetText("_sess-1")
	out, err := encode(&outMsg{Binding: bindingRedirect, URL: other.slo[bindingRedirect], RelayState: "prop"}, lr, "SAMLRequest", &simSP{key: f.key}, sigOK, nil)
	if err != nil {
		page(w, 500, err.Error())
		return
	}
	http.Redirect(w, r, out.URL, http.StatusFound)
}

func (f *fakeIdP) sendLogoutResponse(w http.ResponseWriter, r *http.Request, sp *fakeSP, binding, inResponseTo, relay, top, sub string) {
	lr := etree.NewElement("samlp:LogoutResponse")
	lr.CreateAttr("xmlns:samlp", nsSAMLP)
	lr.CreateAttr("xmlns:saml", nsSAML)
	lr.CreateAttr("ID", randomID())
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", formatInstant(time.Now()))
	lr.CreateAttr("InResponseTo", inResponseTo)
	lr.CreateAttr("Destination", sp.slo[binding])
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.CreateAttr("NameQualifier", f.srv.URL)
	iss.SetText(f.srv.URL)
	sc := lr.CreateElement("samlp:Status").CreateElement("samlp:StatusCode")
	sc.CreateAttr("Value", top)
	if sub != "" {
		sc.CreateElement("samlp:StatusCode").CreateAttr("Value", sub)
	}
	if binding == bindingPOST {
		if err := signEnveloped(lr, f.key, algRSASHA256, "Issuer"); err != nil {
			page(w, 500, err.Error())
			return
		}
		raw, _ := serialize(lr)
		postForm(w, sp.slo[binding], raw, relay)
		return
	}
	msg := &outMsg{Binding: bindingRedirect, URL: sp.slo[binding], RelayState: relay}
	out, err := encode(msg, lr, "SAMLResponse", &simSP{key: f.key}, sigOK, nil)
	if err != nil {
		page(w, 500, err.Error())
		return
	}
	http.Redirect(w, r, out.URL, http.StatusFound)
}

// runAgainst runs the suite against a fake IdP with the given defect.
func runAgainst(t *testing.T, defect string, only ...string) (*Report, *fakeIdP) {
	t.Helper()
	f := newFakeIdP(t, defect)
	rep, err := Run(t.Context(), Options{
		IdPMetadata:  f.srv.URL + "/metadata",
		HTTPClient:   f.srv.Client(),
		Credentials:  Credentials{User: "maria", Password: "secret", TOTPSecret: f.secret},
		Only:         only,
		OnSPMetadata: f.register,
		StepTimeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep, f
}

func rowStatus(rep *Report, caseName, id string) (Status, string) {
	for _, r := range rep.Rows {
		if r.Case == caseName && r.ID == id {
			return r.Status, r.Reason
		}
	}
	return "", "row not found"
}
