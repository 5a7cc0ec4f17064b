package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// caseDef is one conformance case: it runs a flow and reports one row per
// checklist item it evidences.
type caseDef struct {
	name  string
	ids   []string // checklist IDs (for --only)
	title string
	// dec marks a case that checks a team decision ([DEC] in the spec):
	// its failures are warnings unless Options.Strict.
	dec bool
	run func(ctx context.Context, e *env) []Row
	// oidc runs a case of the OpenID Connect part (oidc_cases.go).
	oidc func(ctx context.Context, e *oidcEnv) []Row
}

// env is what cases share during a run.
type env struct {
	opt       Options
	md        *IdPMetadata
	mdVerdict *Verdict
	spA, spB  *simSP
	otp       *otpClock
	spBase    string
	nameIDs   []string   // NameIDs seen in successful logins of SP A (C119)
	driverErr *PageError // first login page the driver could not handle
	respIDs   map[string]bool
}

func (e *env) progress(format string, args ...any) {
	if e.opt.Progress != nil {
		fmt.Fprintf(e.opt.Progress, format+"\n", args...)
	}
}

func (e *env) browser() *browser {
	return newBrowser(e.opt.HTTPClient, e.spBase, e.opt.Fields, e.opt.Credentials, e.otp, e.opt.StepTimeout)
}

func (e *env) runCase(ctx context.Context, c caseDef) (rows []Row) {
	defer func() {
		if p := recover(); p != nil { // a bug in a case must not hide the others
			rows = append(rows, Row{ID: first(c.ids), Case: c.name, Title: c.title, Status: Fail, Reason: fmt.Sprintf("internal error in the suite: %v", p)})
		}
	}()
	rows = c.run(ctx, e)
	for i := range rows {
		if rows[i].Case == "" {
			rows[i].Case = c.name
		}
		if rows[i].Title == "" {
			rows[i].Title = c.title
		}
		if rows[i].ID == "" {
			rows[i].ID = first(c.ids)
		}
		if c.dec && !e.opt.Strict && rows[i].Status == Fail {
			rows[i].Status = Warn
			rows[i].Reason = "[team decision] " + rows[i].Reason
		}
	}
	return rows
}

func decided(c caseDef) caseDef {
	c.dec = true
	return c
}

func first(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return s[0]
}

func row(st Status, reason string) Row { return Row{Status: st, Reason: reason} }

func rowsFor(ids []string, st Status, reason string, o *outcome) []Row {
	var rows []Row
	for _, id := range ids {
		r := Row{ID: id, Status: st, Reason: reason}
		if o != nil && st != Pass {
			r.Trace = o.Trace
			r.Evidence = excerpt(o)
		}
		rows = append(rows, r)
	}
	return rows
}

func excerpt(o *outcome) string {
	if o == nil {
		return ""
	}
	if x := o.samlXML(); x != "" {
		return x
	}
	b := string(o.Body)
	if len(b) > 4000 {
		b = b[:4000] + "…"
	}
	return b
}

// samlXML decodes the SAML message the flow ended with, if any.
func (o *outcome) samlXML() string {
	for _, p := range []string{"SAMLResponse", "SAMLRequest"} {
		v := o.value(p)
		if v == "" {
			continue
		}
		if o.Kind == "redirect" {
			if x, err := decodeRedirectPayload(v); err == nil {
				return string(x)
			}
			continue
		}
		if x, err := base64.StdEncoding.DecodeString(v); err == nil {
			return string(x)
		}
	}
	return ""
}

func (e *env) needLogin() (Status, string, bool) {
	if e.opt.Credentials.User == "" {
		return Skip, "no test identity given (--user/--password)", false
	}
	return Pass, "", true
}

func (e *env) needOTP() (Status, string, bool) {
	if st, why, ok := e.needLogin(); !ok {
		return st, why, false
	}
	if e.opt.Credentials.TOTPSecret == "" && e.opt.Credentials.OTPCode == nil {
		return Skip, "SpidL2 needs --totp-secret", false
	}
	return Pass, "", true
}

// expectFor builds the expectation for an answer to msg from sp.
func (e *env) expect(sp *simSP, msg *outMsg, s authnSpec, dest string) ResponseExpect {
	lvl := s.Level
	if lvl == 0 {
		lvl = 1
	}
	var attrs []string
	if s.AttrIndex != omit {
		idx := 0
		fmt.Sscan(or(s.AttrIndex, "0"), &idx)
		attrs = sp.Attrs[idx]
	}
	cmp := or(s.Comparison, "minimum")
	if cmp == omit {
		cmp = "exact"
	}
	return ResponseExpect{
		IdPEntityID: e.md.EntityID, IdPCerts: e.md.Certs, SPEntityID: sp.EntityID, Destination: dest,
		RequestID: msg.ID, RequestIssueInstant: msg.IssueInstant, Level: lvl, Comparison: cmp,
		RequestedAttrs: attrs, AllowMissingAttrs: e.opt.AllowMissingAttrs, Skew: e.opt.ClockSkew, Strict: e.opt.Strict,
	}
}

// login runs a full login for s with b and judges the Response. It returns
// the rows of the response checks plus transport checks, and the parsed
// NameID/SessionIndex for later steps.
type loginResult struct {
	out          *outcome
	verdict      *Verdict
	nameID       string
	sessionIndex string
	authnInstant string
	classRef     string
	ok           bool
}

func (e *env) login(ctx context.Context, b *browser, sp *simSP, s authnSpec, dest string) (*loginResult, []Row) {
	s = e.resolve(sp, s)
	msg, err := authnRequest(sp, e.md, s)
	if err != nil {
		return nil, []Row{row(Fail, "building the request: "+err.Error())}
	}
	out, err := b.send(ctx, msg, choiceAccept)
	lr := &loginResult{out: out}
	if err != nil {
		var pe *PageError
		if errors.As(err, &pe) && e.driverErr == nil {
			e.driverErr = pe
		}
		return lr, rowsFor([]string{""}, Fail, "login flow: "+err.Error(), out)
	}
	if out.Kind != "form" || out.Form.input("SAMLResponse") == nil {
		return lr, rowsFor([]string{""}, Fail, fmt.Sprintf("no Response form after login (ended on %s, HTTP %d)", out.Kind, out.Status), out)
	}
	raw, err := base64.StdEncoding.DecodeString(out.Form.value("SAMLResponse"))
	if err != nil {
		return lr, rowsFor([]string{"C102"}, Fail, "SAMLResponse is not standard base64 without line breaks: "+err.Error(), out)
	}
	exp := e.expect(sp, msg, s, dest)
	exp.Now = time.Now()
	if !out.SawOTP {
		exp.PerformedMax = 1
	}
	v := ValidateResponse(raw, exp)
	lr.verdict = v
	rows := rowsFromVerdict("", "", v)
	// Transport (C102, C103).
	tr := Row{ID: "C102", Status: Pass, Reason: "ok"}
	switch {
	case out.Form.Method != http.MethodPost:
		tr = Row{ID: "C102", Status: Fail, Reason: "Response form method " + out.Form.Method}
	case out.Form.Action != dest:
		tr = Row{ID: "C102", Status: Fail, Reason: fmt.Sprintf("form action %q, want ACS %q", out.Form.Action, dest)}
	case strings.ContainsAny(out.Form.value("SAMLResponse"), "\r\n"):
		tr = Row{ID: "C102", Status: Fail, Reason: "SAMLResponse contains line breaks"}
	case s.RelayState != "" && out.Form.value("RelayState") != s.RelayState:
		tr = Row{ID: "C102", Status: Fail, Reason: fmt.Sprintf("RelayState %q, sent %q", out.Form.value("RelayState"), s.RelayState)}
	}
	rows = append(rows, tr)
	if s.RelayState == "" {
		r := Row{ID: "C103", Status: Pass, Reason: "ok"}
		if out.Form.value("RelayState") != "" {
			r = Row{ID: "C103", Status: Fail, Reason: "RelayState field present although none was sent"}
		}
		rows = append(rows, r)
	}
	rows = append(rows, e.consentRows(out, raw)...)
	for i := range rows {
		if rows[i].Status != Pass {
			rows[i].Trace = out.Trace
		}
	}
	if doc, err := parseXML(raw); err == nil {
		a := doc.Root().SelectElement("Assertion")
		if a != nil {
			if n := a.FindElement("Subject/NameID"); n != nil {
				lr.nameID = n.Text()
			}
			if st := a.SelectElement("AuthnStatement"); st != nil {
				lr.sessionIndex, _ = attr(st, "SessionIndex")
				lr.authnInstant, _ = attr(st, "AuthnInstant")
				if c := st.FindElement("AuthnContext/AuthnContextClassRef"); c != nil {
					lr.classRef = strings.TrimSpace(c.Text())
				}
			}
		}
	}
	lr.ok = !v.Failed() && tr.Status != Fail
	return lr, rows
}

// loginCase is a full successful login; extra IDs are marked by the result.
func loginCase(name, title string, otp bool, s authnSpec, acs int, extra ...string) caseDef {
	// Every successful Response evidences C102–C140, so --only C115 selects
	// the login cases too.
	ids := append([]string{}, extra...)
	for i := 102; i <= 140; i++ {
		ids = append(ids, fmt.Sprintf("C%03d", i))
	}
	return caseDef{name: name, ids: ids, title: title, run: func(ctx context.Context, e *env) []Row {
		check := e.needLogin
		if otp {
			check = e.needOTP
		}
		if st, why, ok := check(); !ok {
			return rowsFor(append([]string{"C102"}, extra...), st, why, nil)
		}
		sp := e.spA
		lr, rows := e.login(ctx, e.browser(), sp, s, sp.ACS[acs])
		if lr != nil && lr.nameID != "" {
			e.nameIDs = append(e.nameIDs, lr.nameID)
		}
		st, reason := Pass, "request accepted and answered correctly"
		if lr == nil || !lr.ok {
			st, reason = Fail, "see the other rows of this case"
			if lr != nil && lr.verdict != nil {
				_, reason = lr.verdict.Summary()
			} else if len(rows) > 0 {
				reason = rows[0].Reason
			}
		}
		if strings.HasPrefix(name, "accept-") {
			// Variants of a valid login: keep only what went wrong, the
			// full per-item rows come from the login-* cases.
			kept := rows[:0]
			for _, r := range rows {
				if r.Status != Pass {
					kept = append(kept, r)
				}
			}
			rows = kept
		}
		for _, id := range extra {
			rows = append(rows, Row{ID: id, Status: st, Reason: reason})
		}
		return rows
	}}
}

// errorCase sends a signed, malformed request and expects the SP-bound
// anomaly code as a signed error Response at the default ACS.
func errorCase(id, name, title string, code int, s authnSpec) caseDef {
	return caseDef{name: name, ids: []string{id}, title: title, run: func(ctx context.Context, e *env) []Row {
		return e.expectError(ctx, id, e.spA, s, code, choiceNoLogin)
	}}
}

func (e *env) expectError(ctx context.Context, id string, sp *simSP, s authnSpec, code int, choice consentChoice) []Row {
	s = e.resolve(sp, s)
	msg, err := authnRequest(sp, e.md, s)
	if err != nil {
		return []Row{{ID: id, Status: Fail, Reason: "building the request: " + err.Error()}}
	}
	return e.judgeError(ctx, id, e.browser(), sp, msg, s, code, choice)
}

func (e *env) judgeError(ctx context.Context, id string, b *browser, sp *simSP, msg *outMsg, s authnSpec, code int, choice consentChoice) []Row {
	out, err := b.send(ctx, msg, choice)
	want := fmt.Sprintf("nr%02d", code)
	switch {
	case err != nil:
		return rowsFor([]string{id}, Fail, "flow failed before "+want+": "+err.Error(), out)
	case out.Kind == "login":
		return rowsFor([]string{id}, Fail, "the IdP accepted the request and asked for credentials instead of answering "+want, out)
	case out.Kind != "form" || out.Form.input("SAMLResponse") == nil:
		return rowsFor([]string{id}, Fail, fmt.Sprintf("no error Response posted to the SP (ended on %s, HTTP %d); want %s", out.Kind, out.Status, want), out)
	}
	raw, err := base64.StdEncoding.DecodeString(out.Form.value("SAMLResponse"))
	if err != nil {
		return rowsFor([]string{id}, Fail, "SAMLResponse not base64: "+err.Error(), out)
	}
	exp := e.expect(sp, msg, s, sp.ACS[0])
	exp.Error = code
	if !reNCName.MatchString(msg.ID) || s.ID == omit {
		exp.RequestID = ""
	}
	exp.Now = time.Now()
	v := ValidateResponse(raw, exp)
	st, reason := v.Summary()
	if st == Pass {
		reason = want + " returned as required"
	}
	r := Row{ID: id, Status: st, Reason: reason}
	if out.Form.Action != sp.ACS[0] && st == Pass {
		r.Status, r.Reason = Fail, fmt.Sprintf("error form posts to %q, not the default ACS %q", out.Form.Action, sp.ACS[0])
	}
	if r.Status != Pass {
		r.Evidence, r.Trace = string(raw), out.Trace
	}
	rows := []Row{r}
	// Error-format rows (C141, C142) ride along with the first cases only.
	for _, cr := range v.Results {
		if cr.Status == Fail && (cr.Check == "status.uri" || cr.Check == "error.signature") {
			rows = append(rows, Row{ID: cr.Checklist[0], Status: Fail, Reason: cr.Message, Evidence: string(raw)})
		}
	}
	return rows
}

// pageCase expects a user-bound anomaly: an IdP page with an HTTP 4xx
// status (403 per the table) and no SAML message towards the SP.
func pageCase(id, name, title string, code int, build func(e *env) (*outMsg, error)) caseDef {
	return caseDef{name: name, ids: []string{id}, title: title, run: func(ctx context.Context, e *env) []Row {
		msg, err := build(e)
		if err != nil {
			return []Row{{ID: id, Status: Fail, Reason: "building the request: " + err.Error()}}
		}
		out, err := e.browser().send(ctx, msg, choiceNoLogin)
		return judgePage(id, code, out, err)
	}}
}

func judgePage(id string, code int, out *outcome, err error) []Row {
	want := fmt.Sprintf("page nr%02d (HTTP 403)", code)
	switch {
	case err != nil && (out == nil || out.Status == 0):
		return rowsFor([]string{id}, Fail, "flow failed: "+err.Error(), out)
	case out.Kind == "form":
		return rowsFor([]string{id}, Fail, "the IdP sent a SAML message to the SP; want "+want, out)
	case out.Kind == "login":
		return rowsFor([]string{id}, Fail, "the IdP accepted the request and asked for credentials; want "+want, out)
	case out.Kind == "redirect":
		return rowsFor([]string{id}, Fail, "the IdP redirected to the SP; want "+want, out)
	case out.Status == http.StatusForbidden:
		return rowsFor([]string{id}, Pass, fmt.Sprintf("HTTP 403 page, nothing sent to the SP (nr%02d)", code), nil)
	case out.Status >= 400 && out.Status < 500:
		return rowsFor([]string{id}, Warn, fmt.Sprintf("HTTP %d page instead of 403; nothing sent to the SP", out.Status), out)
	}
	return rowsFor([]string{id}, Fail, fmt.Sprintf("HTTP %d; want %s", out.Status, want), out)
}

// rawRedirect builds a Redirect message by hand (for transport faults).
func rawRedirect(e *env, query string) *outMsg {
	u := e.md.SSO[bindingRedirect]
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	if query == "" {
		return &outMsg{Binding: bindingRedirect, URL: u}
	}
	return &outMsg{Binding: bindingRedirect, URL: u + sep + query}
}

func mutate(f func(r *etree.Element)) func(*etree.Element) { return f }

func insertAfter(root *etree.Element, after string, el *etree.Element) {
	pos := 0
	for i, t := range root.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == after {
			pos = i + 1
		}
	}
	root.InsertChildAt(pos, el)
}

func allCases() []caseDef {
	past := func(d time.Duration) string { return formatInstant(time.Now().Add(d)) }
	cs := []caseDef{
		{name: "metadata", ids: []string{"C001", "C002", "C003", "C004", "C005", "C006", "C007", "C008", "C009", "C010", "C011", "C012", "C013", "C014", "C015"},
			title: "IdP metadata is complete, signed and SPID-shaped", run: func(ctx context.Context, e *env) []Row {
				return rowsFromVerdict("", "", e.mdVerdict)
			}},
		{name: "metadata-tls", ids: []string{"C016"}, title: "IdP endpoints refuse TLS below 1.2", run: tlsCase},

		// Valid logins.
		loginCase("login-l1-redirect", "SpidL1 login over HTTP-Redirect with RelayState", false,
			authnSpec{Binding: bindingRedirect, Level: 1, RelayState: "rs-" + randomID()[1:13]}, 0, "C039", "C084"),
		loginCase("login-l1-post", "SpidL1 login over HTTP-POST, ACS index 1 and attribute set 1", false,
			authnSpec{Binding: bindingPOST, Level: 1, ACSIndex: "1", AttrIndex: "1"}, 1, "C084"),
		loginCase("login-l2-redirect", "SpidL2 login over HTTP-Redirect (exact)", true,
			authnSpec{Binding: bindingRedirect, Level: 2, Comparison: "exact"}, 0, "C100"),
		loginCase("login-l2-post", "SpidL2 login over HTTP-POST (exact)", true,
			authnSpec{Binding: bindingPOST, Level: 2, Comparison: "exact", RelayState: "post-rs"}, 0),
		loginCase("login-l1-exact", "SpidL1 login over HTTP-Redirect (exact)", false,
			authnSpec{Binding: bindingRedirect, Level: 1, Comparison: "exact"}, 0, "C133"),
		loginCase("login-acs-url", "ACS chosen by URL + HTTP-POST ProtocolBinding", false,
			authnSpec{Binding: bindingPOST, ACSIndex: omit, ACSURL: "acs1", ProtoBinding: bindingPOST}, 1, "C085"),
		loginCase("login-no-attr-index", "no AttributeConsumingServiceIndex: no AttributeStatement", false,
			authnSpec{AttrIndex: omit}, 0, "C091"),
		loginCase("accept-destination-entityid", "Destination = IdP entityID is accepted", false,
			authnSpec{Destination: "entityid"}, 0, "C066"),
		loginCase("accept-ispassive-false", "IsPassive=\"false\" is accepted", false, authnSpec{IsPassive: "false"}, 0, "C069"),
		loginCase("accept-allowcreate", "NameIDPolicy AllowCreate is not an error", false, authnSpec{AllowCreate: "true"}, 0, "C088"),
		loginCase("accept-issueinstant-5s", "IssueInstant 5 s in the past is accepted", false, authnSpec{IssueInstant: "past5s"}, 0, "C063"),
		loginCase("accept-scoping-proxycount-0", "Scoping ProxyCount=\"0\" with RequesterID is accepted", false, authnSpec{Mutate: func(r *etree.Element) {
			sc := etree.NewElement("samlp:Scoping")
			sc.CreateAttr("ProxyCount", "0")
			sc.CreateElement("samlp:RequesterID").SetText("https://requester.invalid")
			r.AddChild(sc)
		}}, 0, "C093"),
		loginCase("accept-subject-unspecified", "Subject NameID unspecified with NameQualifier is accepted", false, authnSpec{Mutate: func(r *etree.Element) {
			s := etree.NewElement("saml:Subject")
			n := s.CreateElement("saml:NameID")
			n.CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
			n.CreateAttr("NameQualifier", "https://sp.invalid")
			n.SetText("someone")
			insertAfter(r, "Issuer", s)
		}}, 0, "C094"),
		loginCase("accept-conditions", "Conditions with both dates in UTC is accepted", false, authnSpec{Mutate: func(r *etree.Element) {
			c := etree.NewElement("saml:Conditions")
			c.CreateAttr("NotBefore", formatInstant(time.Now().Add(-time.Minute)))
			c.CreateAttr("NotOnOrAfter", formatInstant(time.Now().Add(10*time.Minute)))
			insertAfter(r, "NameIDPolicy", c)
		}}, 0, "C096"),
		decided(loginCase("accept-issuer-padded", "Issuer text with surrounding whitespace is accepted", false, authnSpec{Issuer: "padded"}, 0, "C053")),
		decided(loginCase("accept-lowercase-hex", "Redirect signed over lower-case percent-encoding is accepted", false, authnSpec{Sig: sigLowerHex, RelayState: "a/b+c"}, 0, "C040")),
		decided(loginCase("accept-embedded-signature", "Redirect with an embedded (invalid) ds:Signature is judged on the query signature", false, authnSpec{Mutate: func(r *etree.Element) {
			sig := etree.NewElement("ds:Signature")
			sig.CreateAttr("xmlns:ds", nsDS)
			sig.CreateElement("ds:SignatureValue").SetText("AAAA")
			insertAfter(r, "Issuer", sig)
		}}, 0, "C048")),
		{name: "nameid-transient", ids: []string{"C119"}, title: "two logins of the same user get different NameIDs", run: func(ctx context.Context, e *env) []Row {
			if len(e.nameIDs) < 2 {
				return []Row{row(Skip, "needs two successful logins earlier in the run")}
			}
			seen := map[string]bool{}
			for _, n := range e.nameIDs {
				if seen[n] {
					return []Row{row(Fail, "NameID "+n+" was issued twice")}
				}
				seen[n] = true
			}
			return []Row{row(Pass, fmt.Sprintf("%d distinct NameIDs", len(e.nameIDs)))}
		}},

		// Transport and signature faults: user pages.
		pageCase("C027", "redirect-no-samlrequest", "Redirect without SAMLRequest → page nr04", 4, func(e *env) (*outMsg, error) { return rawRedirect(e, "RelayState=x"), nil }),
		pageCase("C028", "redirect-no-sigalg", "Redirect without SigAlg → page nr04", 4, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Sig: sigNoSigAlg})
		}),
		pageCase("C029", "redirect-no-signature", "Redirect with SigAlg but no Signature → page nr04", 4, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Sig: sigNoSignature})
		}),
		pageCase("C030", "post-no-samlrequest", "POST without SAMLRequest → page nr04", 4, func(e *env) (*outMsg, error) {
			return &outMsg{Binding: bindingPOST, URL: e.md.SSO[bindingPOST], Form: url.Values{"RelayState": {"x"}}}, nil
		}),
		pageCase("C031", "redirect-garbage", "SAMLRequest that is not base64/DEFLATE/XML → page nr04", 4, func(e *env) (*outMsg, error) {
			return rawRedirect(e, "SAMLRequest=%%%not-base64&SigAlg="+url.QueryEscape(algRSASHA256)+"&Signature=AAAA"), nil
		}),
		pageCase("C032", "post-doctype", "AuthnRequest with a DOCTYPE → page nr04, no entity expanded", 4, func(e *env) (*outMsg, error) {
			m, err := e.request(e.spA, authnSpec{Binding: bindingPOST})
			if err != nil {
				return nil, err
			}
			x := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "x">]>` + string(m.XML)
			m.Form.Set("SAMLRequest", base64.StdEncoding.EncodeToString([]byte(x)))
			return m, nil
		}),
		decided(pageCase("C033", "post-oversize", "AuthnRequest larger than 64 KiB → page nr04", 4, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, Mutate: func(r *etree.Element) {
				x := etree.NewElement("samlp:Extensions")
				x.CreateElement("spid:Padding").CreateAttr("xmlns:spid", nsSPID)
				// 70 KiB: over the 64 KiB message limit, while the form body
				// (about 100 KiB) stays under a 128 KiB body limit, which
				// would rightly answer 413 instead (security.md A.9).
				x.SelectElement("Padding").SetText(strings.Repeat("A", 70<<10))
				insertAfter(r, "Issuer", x)
			}})
		})),
		pageCase("C034", "wrong-method", "POST binding on the Redirect endpoint → page nr06", 6, func(e *env) (*outMsg, error) {
			if e.md.SSO[bindingRedirect] == e.md.SSO[bindingPOST] {
				return nil, fmt.Errorf("the IdP uses one Location for both bindings; nr06 is not testable")
			}
			m, err := e.request(e.spA, authnSpec{Binding: bindingPOST})
			if err == nil {
				m.URL = e.md.SSO[bindingRedirect]
			}
			return m, err
		}),
		pageCase("C035", "redirect-sha1", "Redirect SigAlg rsa-sha1 → page nr05", 5, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Sig: sigSHA1})
		}),
		pageCase("C036", "redirect-hmac", "Redirect SigAlg hmac-sha256 → page nr05", 5, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Sig: sigHMAC})
		}),
		pageCase("C037", "redirect-other-key", "Redirect signed with a key not in the SP metadata → page nr05", 5, func(e *env) (*outMsg, error) {
			k, err := newSPKey("https://intruder.invalid", "intruder", 2048)
			if err != nil {
				return nil, err
			}
			return e.request(e.spA, authnSpec{SignWith: &k})
		}),
		pageCase("C038", "redirect-relaystate-changed", "RelayState changed after signing → page nr05", 5, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{RelayState: "abc", Sig: sigRelayChanged})
		}),
		pageCase("C041", "post-unsigned", "unsigned POST AuthnRequest → page nr07", 7, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, Sig: sigNone})
		}),
		pageCase("C042", "post-sha1", "POST AuthnRequest signed with rsa-sha1 → page nr07", 7, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, Sig: sigSHA1})
		}),
		pageCase("C043", "post-tampered", "POST AuthnRequest changed after signing → page nr07", 7, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, Sig: sigTamper})
		}),
		pageCase("C044", "post-wrong-reference", "signature Reference not pointing to the root → page nr07", 7, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, Sig: sigWrongRefURI})
		}),
		pageCase("C045", "post-keyinfo-other-cert", "KeyInfo certificate differs from the SP metadata → page nr07", 7, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, Sig: sigOtherKeyInfo})
		}),
		pageCase("C047", "redirect-signed-by-other-sp", "signed with SP B's key, Issuer SP A → page nr05", 5, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{SignWith: &e.spB.key})
		}),
		pageCase("C047", "post-signed-by-other-sp", "POST signed with SP B's key, Issuer SP A → page nr07", 7, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Binding: bindingPOST, SignWith: &e.spB.key})
		}),
		pageCase("C049", "issuer-missing", "AuthnRequest without Issuer → page nr10", 10, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Issuer: omit})
		}),
		pageCase("C049", "issuer-empty", "empty Issuer → page nr10", 10, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Mutate: func(r *etree.Element) { r.SelectElement("Issuer").SetText("") }})
		}),
		pageCase("C050", "issuer-unknown", "Issuer is an unknown entity → page nr10", 10, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{Issuer: "https://unknown-sp.invalid"})
		}),
		pageCase("C051", "issuer-no-format", "Issuer without Format → page nr10", 10, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{IssuerFormat: omit})
		}),
		pageCase("C051", "issuer-format-space", "Issuer Format with a trailing space → page nr10", 10, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{IssuerFormat: fmtEntity + " "})
		}),
		pageCase("C052", "issuer-no-namequalifier", "Issuer without NameQualifier → page nr10", 10, func(e *env) (*outMsg, error) {
			return e.request(e.spA, authnSpec{IssuerNQ: omit})
		}),

		// Content faults: signed error Responses to the SP.
		errorCase("C054", "version-1.1", "Version=\"1.1\" → nr09 VersionMismatch", 9, authnSpec{Version: "1.1"}),
		errorCase("C055", "version-missing", "Version missing → nr09", 9, authnSpec{Version: omit}),
		errorCase("C056", "id-missing", "ID missing → nr11 without InResponseTo", 11, authnSpec{ID: omit}),
		errorCase("C057", "id-not-ncname", "ID starting with a digit → nr11", 11, authnSpec{ID: "1" + randomID()[1:]}),
		{name: "id-replay", ids: []string{"C058"}, title: "the same request ID twice → nr11", run: func(ctx context.Context, e *env) []Row {
			id := randomID()
			first, err := e.request(e.spA, authnSpec{ID: id})
			if err != nil {
				return []Row{row(Fail, err.Error())}
			}
			if _, err := e.browser().send(ctx, first, choiceNoLogin); err != nil {
				return []Row{row(Fail, "first request: "+err.Error())}
			}
			s := authnSpec{ID: id}
			second, err := e.request(e.spA, s)
			if err != nil {
				return []Row{row(Fail, err.Error())}
			}
			return e.judgeError(ctx, "C058", e.browser(), e.spA, second, s, 11, choiceNoLogin)
		}},
		errorCase("C059", "issueinstant-missing", "IssueInstant missing → nr13", 13, authnSpec{IssueInstant: omit}),
		errorCase("C060", "issueinstant-no-z", "IssueInstant without Z → nr13", 13, authnSpec{IssueInstant: "localtime"}),
		errorCase("C061", "issueinstant-stale", "IssueInstant 10 min in the past → nr13", 13, authnSpec{IssueInstant: past(-10 * time.Minute)}),
		errorCase("C062", "issueinstant-future", "IssueInstant 10 min in the future → nr13", 13, authnSpec{IssueInstant: past(10 * time.Minute)}),
		errorCase("C064", "destination-missing", "Destination missing → nr14", 14, authnSpec{Destination: omit}),
		errorCase("C065", "destination-wrong", "Destination is another URL → nr14", 14, authnSpec{Destination: "https://other-idp.invalid/sso"}),
		errorCase("C068", "ispassive-true", "IsPassive=\"true\" → nr15", 15, authnSpec{IsPassive: "true"}),
		errorCase("C070", "authncontext-missing", "no RequestedAuthnContext → nr12", 12, authnSpec{NoAuthnCtx: true}),
		errorCase("C071", "classref-obsolete", "obsolete urn:…:ac:classes:SpidL2 → nr12", 12, authnSpec{ClassRefs: []string{obsoleteClassL2}}),
		errorCase("C071", "classref-empty", "empty AuthnContextClassRef → nr12", 12, authnSpec{ClassRefs: []string{""}}),
		errorCase("C072", "classref-unknown", "PasswordProtectedTransport class → nr12", 12, authnSpec{ClassRefs: []string{classPasswordProtT}}),
		errorCase("C073", "classref-several", "two AuthnContextClassRef → nr12", 12, authnSpec{ClassRefs: []string{classL1, classL2}}),
		// C074 follows AgID's IdP test tool (spid-saml-check-idp 2.10.2, a
		// RequestedAuthnContext defect), not SAML core's default of exact.
		errorCase("C074", "comparison-missing", "Comparison absent → nr12", 12, authnSpec{Comparison: omit}),
		errorCase("C075", "better-l3", "Comparison better with SpidL3 → nr12", 12, authnSpec{Level: 3, Comparison: "better"}),
		errorCase("C096", "conditions-malformed", "Conditions with a malformed date → nr08", 8, authnSpec{Mutate: func(r *etree.Element) {
			c := etree.NewElement("saml:Conditions")
			c.CreateAttr("NotBefore", "yesterday")
			c.CreateAttr("NotOnOrAfter", formatInstant(time.Now().Add(10*time.Minute)))
			insertAfter(r, "NameIDPolicy", c)
		}}),
		decided(errorCase("C101", "two-anomalies", "Version 1.1 and wrong Destination → the earlier check (nr09) wins", 9, authnSpec{Version: "1.1", Destination: "https://other-idp.invalid/sso"})),
		errorCase("C099", "comparison-other", "Comparison=\"strongest\" → nr08", 8, authnSpec{Comparison: "strongest"}),
		errorCase("C099", "comparison-empty", "Comparison=\"\" → nr08", 8, authnSpec{Mutate: func(r *etree.Element) { r.SelectElement("RequestedAuthnContext").CreateAttr("Comparison", "") }}),
		errorCase("C076", "acs-index-unknown", "ACS index not in SP metadata → nr16 at the default ACS", 16, authnSpec{ACSIndex: "7"}),
		errorCase("C077", "acs-index-and-url", "ACS index together with URL → nr16", 16, authnSpec{ACSURL: "acs0", ProtoBinding: bindingPOST}),
		errorCase("C078", "acs-index-and-binding", "ACS index together with ProtocolBinding → nr16", 16, authnSpec{ProtoBinding: bindingPOST}),
		errorCase("C079", "acs-url-no-binding", "ACS URL without ProtocolBinding → nr16", 16, authnSpec{ACSIndex: omit, ACSURL: "acs0"}),
		errorCase("C080", "acs-binding-no-url", "ProtocolBinding without ACS URL → nr16", 16, authnSpec{ACSIndex: omit, ProtoBinding: bindingPOST}),
		errorCase("C081", "acs-none", "neither ACS index nor URL → nr16", 16, authnSpec{ACSIndex: omit}),
		errorCase("C082", "acs-url-unknown", "ACS URL not in metadata → nr16 at the default ACS", 16, authnSpec{ACSIndex: omit, ACSURL: "https://evil.invalid/acs", ProtoBinding: bindingPOST}),
		errorCase("C083", "acs-binding-redirect", "ProtocolBinding HTTP-Redirect → nr16", 16, authnSpec{ACSIndex: omit, ACSURL: "acs0", ProtoBinding: bindingRedirect}),
		errorCase("C086", "nameidpolicy-missing", "no NameIDPolicy → nr17", 17, authnSpec{NoNameIDPol: true}),
		errorCase("C087", "nameidpolicy-persistent", "NameIDPolicy Format persistent → nr17", 17, authnSpec{NameIDFormat: fmtPersistent}),
		errorCase("C087", "nameidpolicy-no-format", "NameIDPolicy without Format → nr17", 17, authnSpec{NameIDFormat: omit}),
		errorCase("C089", "attr-index-not-number", "AttributeConsumingServiceIndex=\"abc\" → nr18", 18, authnSpec{AttrIndex: "abc"}),
		errorCase("C089", "attr-index-negative", "AttributeConsumingServiceIndex=\"-1\" → nr18", 18, authnSpec{AttrIndex: "-1"}),
		errorCase("C090", "attr-index-unknown", "AttributeConsumingServiceIndex not in metadata → nr18", 18, authnSpec{AttrIndex: "9"}),
		errorCase("C092", "scoping-proxycount", "Scoping ProxyCount=\"1\" → nr08", 8, authnSpec{Mutate: func(r *etree.Element) {
			s := etree.NewElement("samlp:Scoping")
			s.CreateAttr("ProxyCount", "1")
			r.AddChild(s)
		}}),
		errorCase("C095", "subject-no-namequalifier", "Subject NameID without NameQualifier → nr08", 8, authnSpec{Mutate: func(r *etree.Element) {
			s := etree.NewElement("saml:Subject")
			n := s.CreateElement("saml:NameID")
			n.CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
			n.SetText("someone")
			insertAfter(r, "Issuer", s)
		}}),
		errorCase("C097", "purpose-unknown", "spid:Purpose=\"ZZ\" → nr08", 8, authnSpec{Mutate: func(r *etree.Element) {
			x := etree.NewElement("samlp:Extensions")
			p := x.CreateElement("spid:Purpose")
			p.CreateAttr("xmlns:spid", nsSPID)
			p.SetText("ZZ")
			insertAfter(r, "Issuer", x)
		}}),
		errorCase("C098", "unknown-element", "unknown samlp element → nr08", 8, authnSpec{Mutate: func(r *etree.Element) {
			r.AddChild(etree.NewElement("samlp:NotInTheSchema"))
		}}),
		{name: "level-l3", ids: []string{"C145"}, title: "SpidL3 request → nr20 (no L3 credentials)", run: func(ctx context.Context, e *env) []Row {
			if st, why, ok := e.needLogin(); !ok {
				return []Row{row(st, why)}
			}
			return e.expectError(ctx, "C145", e.spA, authnSpec{Level: 3, Comparison: "exact"}, 20, choiceAccept)
		}},

		// User outcomes.
		{name: "consent-refused", ids: []string{"C147"}, title: "deny on the consent page → nr22", run: func(ctx context.Context, e *env) []Row {
			if st, why, ok := e.needLogin(); !ok {
				return []Row{row(st, why)}
			}
			return e.expectError(ctx, "C147", e.spA, authnSpec{}, 22, choiceRefuse)
		}},
		{name: "login-cancelled", ids: []string{"C151"}, title: "cancel on the login page → nr25", run: func(ctx context.Context, e *env) []Row {
			if st, why, ok := e.needLogin(); !ok {
				return []Row{row(st, why)}
			}
			return e.expectError(ctx, "C151", e.spA, authnSpec{}, 25, choiceCancel)
		}},
		{name: "wrong-password", ids: []string{"C143"}, title: "repeated wrong passwords → nr19", run: func(ctx context.Context, e *env) []Row {
			if st, why, ok := e.needLogin(); !ok {
				return []Row{row(st, why)}
			}
			msg, err := e.request(e.spA, authnSpec{})
			if err != nil {
				return []Row{row(Fail, err.Error())}
			}
			b := e.browser()
			b.creds.Password += "-wrong"
			return e.judgeError(ctx, "C143", b, e.spA, msg, authnSpec{}, 19, choiceAccept)
		}},
		{name: "sso", ids: []string{"C157", "C148", "C158", "C159", "C161"}, title: "SpidL1 session reuse rules", run: ssoCase},
		{name: "sso-l2-no-session", ids: []string{"C160"}, title: "SpidL2 login creates no session", run: ssoL2Case},
		{name: "slo-redirect", ids: []string{"C166", "C173", "C178", "C180"}, title: "SP-initiated logout over HTTP-Redirect", run: func(ctx context.Context, e *env) []Row {
			return sloCase(ctx, e, bindingRedirect)
		}},
		{name: "slo-post", ids: []string{"C167", "C173"}, title: "SP-initiated logout over HTTP-POST", run: func(ctx context.Context, e *env) []Row {
			return sloCase(ctx, e, bindingPOST)
		}},
		{name: "slo-unsigned", ids: []string{"C168"}, title: "unsigned LogoutRequest → error page, session kept", run: sloUnsignedCase},
		{name: "slo-issuer-no-format", ids: []string{"C169"}, title: "LogoutRequest Issuer without Format → Requester", run: sloIssuerCase},
		{name: "slo-nameid-persistent", ids: []string{"C170"}, title: "LogoutRequest NameID not transient → Requester", run: func(ctx context.Context, e *env) []Row {
			return e.sloVariant(ctx, "C170", logoutSpec{Binding: bindingPOST, NameIDFormat: fmtPersistent}, statusRequester, "")
		}},
		decided(caseDef{name: "slo-stale", ids: []string{"C171"}, title: "LogoutRequest IssueInstant 10 min old → Requester / RequestDenied", run: func(ctx context.Context, e *env) []Row {
			return e.sloVariant(ctx, "C171", logoutSpec{Binding: bindingPOST, IssueInstant: formatInstant(time.Now().Add(-10 * time.Minute))}, statusRequester, statusReqDenied)
		}}),
		{name: "slo-destination-entityid", ids: []string{"C172"}, title: "LogoutRequest Destination = IdP entityID is accepted", run: func(ctx context.Context, e *env) []Row {
			return e.sloVariant(ctx, "C172", logoutSpec{Binding: bindingPOST, Destination: "entityid"}, "", "")
		}},
		{name: "slo-two-sps", ids: []string{"C174"}, title: "logout at SP A propagates a signed LogoutRequest to SP B", run: sloTwoSPsCase},
		{name: "slo-twice", ids: []string{"C176"}, title: "LogoutRequest for a closed session → Requester / PartialLogout", run: sloTwiceCase},
		decided(caseDef{name: "slo-l2", ids: []string{"C177"}, title: "logout of a SpidL2 assertion without SessionIndex → Success", run: sloL2Case}),
	}
	return append(cs, aaCases()...)
}

// request builds an AuthnRequest from sp after resolving symbolic values.
func (e *env) request(sp *simSP, s authnSpec) (*outMsg, error) {
	return authnRequest(sp, e.md, e.resolve(sp, s))
}

// resolve replaces symbolic values used in the case table by values
// known only at run time.
func (e *env) resolve(sp *simSP, s authnSpec) authnSpec {
	switch s.ACSURL {
	case "acs0":
		s.ACSURL = sp.ACS[0]
	case "acs1":
		s.ACSURL = sp.ACS[1]
	}
	switch s.Destination {
	case "entityid":
		s.Destination = e.md.EntityID
	}
	if s.Issuer == "padded" {
		s.Issuer = "\n  " + sp.EntityID + "  \n"
	}
	switch s.IssueInstant {
	case "past5s":
		s.IssueInstant = time.Now().Add(-5 * time.Second).UTC().Format("2006-01-02T15:04:05Z")
	case "localtime":
		s.IssueInstant = time.Now().In(time.FixedZone("CET", 3600)).Format("2006-01-02T15:04:05.000-07:00")
	}
	return s
}

func tlsCase(ctx context.Context, e *env) []Row {
	u, err := url.Parse(e.md.SSO[bindingPOST])
	if err != nil || u.Scheme != "https" {
		return []Row{row(Skip, "SSO endpoint is not HTTPS; TLS versions not testable")}
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	d := &tls.Dialer{Config: &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}} //nolint:gosec // probing the protocol floor only
	dctx, cancel := context.WithTimeout(ctx, e.opt.StepTimeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", host)
	if err == nil {
		c.Close()
		return []Row{row(Fail, "a TLS 1.1 handshake with "+host+" succeeded")}
	}
	return []Row{row(Pass, "TLS 1.1 refused: "+err.Error())}
}

// consentRows checks what can be seen of the consent step: the Response is
// built when the user consents (C139, a team decision: within 5 s), the
// consent page names the SP (C163, by its OrganizationDisplayName), and
// Response IDs never repeat within the run (C105).
func (e *env) consentRows(out *outcome, raw []byte) []Row {
	var rows []Row
	doc, err := parseXML(raw)
	if err != nil {
		return nil
	}
	id, _ := attr(doc.Root(), "ID")
	if e.respIDs == nil {
		e.respIDs = map[string]bool{}
	}
	if id != "" && e.respIDs[id] {
		rows = append(rows, Row{ID: "C105", Status: Fail, Reason: "Response ID " + id + " was already used in this run"})
	}
	e.respIDs[id] = true
	if ii, _ := attr(doc.Root(), "IssueInstant"); ii != "" {
		if t, err := parseInstant(ii); err == nil {
			lag := out.Received.Sub(t)
			r := Row{ID: "C139", Status: Pass, Reason: fmt.Sprintf("Response issued %s before it reached the SP", lag.Round(time.Millisecond))}
			if lag > 5*time.Second+e.opt.ClockSkew {
				r.Status = Fail
				if !e.opt.Strict {
					r.Status = Warn
				}
				r.Reason = fmt.Sprintf("Response issued %s before the consent answer: not built at consent time", lag.Round(time.Second))
			}
			rows = append(rows, r)
		}
	}
	if out.SawConsent {
		r := Row{ID: "C163", Status: Pass, Reason: "the consent page names the SP"}
		if !bytes.Contains(out.Consent, []byte(spDisplayName)) {
			r = Row{ID: "C163", Status: Warn, Reason: "the consent page does not show the SP's OrganizationDisplayName \"" + spDisplayName + "\""}
		}
		rows = append(rows, r)
	}
	return rows
}
