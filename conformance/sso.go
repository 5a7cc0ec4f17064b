package conformance

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ssoCase walks the SpidL1 session rules (spec §7.1) in one browser.
func ssoCase(ctx context.Context, e *env) []Row {
	ids := []string{"C157", "C148", "C158", "C159", "C161"}
	if st, why, ok := e.needLogin(); !ok {
		return rowsFor(ids, st, why, nil)
	}
	b := e.browser()
	first, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	if first == nil || !first.ok {
		return rowsFor(ids, Skip, "the initial SpidL1 login did not succeed (see the login cases)", nil)
	}
	var rows []Row

	// C157: SP B in the same browser gets consent only, SpidL1, same AuthnInstant.
	lrB, _ := e.login(ctx, b, e.spB, authnSpec{}, e.spB.ACS[0])
	switch {
	case lrB == nil || lrB.out == nil:
		rows = append(rows, Row{ID: "C157", Status: Fail, Reason: "second SP flow failed"})
	case lrB.out.SawLogin:
		rows = append(rows, Row{ID: "C157", Status: Fail, Reason: "credentials asked again for SP B despite an active SpidL1 session", Trace: lrB.out.Trace})
	case !lrB.out.SawConsent:
		rows = append(rows, Row{ID: "C157", Status: Fail, Reason: "no consent page on session reuse", Trace: lrB.out.Trace})
	case !lrB.ok:
		_, why := lrB.verdict.Summary()
		rows = append(rows, Row{ID: "C157", Status: Fail, Reason: "reuse Response invalid: " + why, Evidence: lrB.verdict.Evidence})
	case lrB.classRef != classL1:
		rows = append(rows, Row{ID: "C157", Status: Fail, Reason: "reused session asserted " + lrB.classRef + ", want SpidL1"})
	case lrB.authnInstant != first.authnInstant:
		rows = append(rows, Row{ID: "C157", Status: Fail, Reason: fmt.Sprintf("AuthnInstant %s, want the original %s", lrB.authnInstant, first.authnInstant)})
	default:
		rows = append(rows, Row{ID: "C157", Status: Pass, Reason: "consent only, SpidL1, original AuthnInstant"})
	}

	// C148: refusing consent on reuse → nr22, and the session survives.
	r22 := e.expectErrorWith(ctx, "C148", b, e.spB, authnSpec{}, 22, choiceRefuse)
	if r22[0].Status == Pass {
		again, err := e.stopAtLogin(ctx, b, e.spA, authnSpec{})
		switch {
		case err != nil:
			r22[0] = Row{ID: "C148", Status: Fail, Reason: "after refusal: " + err.Error()}
		case again.Kind == "login":
			r22[0] = Row{ID: "C148", Status: Fail, Reason: "after refusing consent the SpidL1 session was gone (credentials asked)", Trace: again.Trace}
		default:
			r22[0].Reason = "nr22 on refusal and the session is still valid"
		}
	}
	rows = append(rows, r22...)

	// C158, C159, C161: these must ask for credentials again.
	for _, c := range []struct {
		id   string
		s    authnSpec
		what string
	}{
		{"C158", authnSpec{ForceAuthn: "true"}, "SpidL1 with ForceAuthn=\"true\""},
		{"C159", authnSpec{Level: 2, Comparison: "exact"}, "SpidL2 during a SpidL1 session"},
		{"C161", authnSpec{Comparison: "better"}, "SpidL1 with Comparison=\"better\""},
	} {
		out, err := e.stopAtLogin(ctx, b, e.spA, c.s)
		switch {
		case err != nil:
			rows = append(rows, rowsFor([]string{c.id}, Fail, c.what+": "+err.Error(), out)...)
		case out.Kind == "login":
			rows = append(rows, Row{ID: c.id, Status: Pass, Reason: c.what + " asks for credentials"})
		default:
			rows = append(rows, rowsFor([]string{c.id}, Fail, c.what+" was answered from the session without credentials", out)...)
		}
	}
	return rows
}

// stopAtLogin sends s and stops at the credentials page if one appears.
func (e *env) stopAtLogin(ctx context.Context, b *browser, sp *simSP, s authnSpec) (*outcome, error) {
	msg, err := e.request(sp, s)
	if err != nil {
		return nil, err
	}
	return b.send(ctx, msg, choiceNoLogin)
}

func (e *env) expectErrorWith(ctx context.Context, id string, b *browser, sp *simSP, s authnSpec, code int, choice consentChoice) []Row {
	s = e.resolve(sp, s)
	msg, err := authnRequest(sp, e.md, s)
	if err != nil {
		return []Row{{ID: id, Status: Fail, Reason: err.Error()}}
	}
	return e.judgeError(ctx, id, b, sp, msg, s, code, choice)
}

// ssoL2Case: a SpidL2 login creates no session (C160).
func ssoL2Case(ctx context.Context, e *env) []Row {
	if st, why, ok := e.needOTP(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{Level: 2, Comparison: "exact"}, e.spA.ACS[0])
	if lr == nil || !lr.ok {
		return []Row{row(Skip, "the SpidL2 login did not succeed (see login-l2-*)")}
	}
	out, err := e.stopAtLogin(ctx, b, e.spA, authnSpec{})
	switch {
	case err != nil:
		return rowsFor([]string{"C160"}, Fail, err.Error(), out)
	case out.Kind != "login":
		return rowsFor([]string{"C160"}, Fail, "a SpidL1 request after a SpidL2 login was answered without credentials", out)
	}
	return []Row{row(Pass, "SpidL1 after SpidL2 asks for credentials")}
}

// logoutAnswer extracts the LogoutResponse the flow ended with.
func (e *env) logoutAnswer(out *outcome, sp *simSP) (raw []byte, dest, rawQuery string, err error) {
	switch {
	case out.Kind == "redirect" && strings.HasPrefix(out.URL, sp.SLO[bindingRedirect]):
		raw, rawQuery, err = redirectXML(out.URL, "SAMLResponse")
		return raw, sp.SLO[bindingRedirect], rawQuery, err
	case out.Kind == "form" && out.Form.input("SAMLResponse") != nil:
		raw, err = base64.StdEncoding.DecodeString(out.Form.value("SAMLResponse"))
		return raw, out.Form.Action, "", err
	}
	return nil, "", "", fmt.Errorf("no LogoutResponse reached the SP (ended on %s %s, HTTP %d)", out.Kind, out.URL, out.Status)
}

// sloCase: login at SpidL1, logout on binding, then the session is gone.
func sloCase(ctx context.Context, e *env, binding string) []Row {
	ids := []string{"C166", "C173", "C178"}
	if binding == bindingPOST {
		ids = []string{"C167", "C173", "C178"}
	}
	if st, why, ok := e.needLogin(); !ok {
		return rowsFor(ids, st, why, nil)
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	if lr == nil || !lr.ok || lr.nameID == "" {
		return rowsFor(ids, Skip, "the SpidL1 login before logout did not succeed", nil)
	}
	msg, err := logoutRequest(e.spA, e.md, logoutSpec{Binding: binding, NameID: lr.nameID, SessionIndex: lr.sessionIndex})
	if err != nil {
		return rowsFor(ids, Fail, err.Error(), nil)
	}
	out, err := b.send(ctx, msg, choiceAccept)
	if err != nil {
		return rowsFor(ids[:2], Fail, "logout flow: "+err.Error(), out)
	}
	raw, dest, rq, err := e.logoutAnswer(out, e.spA)
	if err != nil {
		return rowsFor(ids[:2], Fail, err.Error(), out)
	}
	if dest != e.spA.SLO[bindingRedirect] && dest != e.spA.SLO[bindingPOST] {
		return rowsFor(ids[:2], Fail, "LogoutResponse sent to "+dest+", not to an SLO endpoint of the SP", out)
	}
	v := ValidateLogoutResponse(raw, LogoutExpect{
		IdPEntityID: e.md.EntityID, IdPCerts: e.md.Certs, Destination: dest, RequestID: msg.ID,
		RawQuery: rq, Now: time.Now(), Skew: e.opt.ClockSkew, Strict: e.opt.Strict,
	})
	keep := append([]string{}, ids...)
	if rq != "" {
		keep = append(keep, "C180")
	}
	var rows []Row
	for _, r := range rowsFromVerdict("", "", v) {
		if slices.Contains(keep, r.ID) {
			if r.Status != Pass {
				r.Trace = out.Trace
			}
			rows = append(rows, r)
		}
	}
	after, err := e.stopAtLogin(ctx, b, e.spA, authnSpec{})
	switch {
	case err != nil:
		rows = append(rows, rowsFor([]string{"C178"}, Fail, "after logout: "+err.Error(), after)...)
	case after.Kind != "login":
		rows = append(rows, rowsFor([]string{"C178"}, Fail, "after logout a SpidL1 request was answered without credentials", after)...)
	default:
		rows = append(rows, Row{ID: "C178", Status: Pass, Reason: "credentials asked after logout"})
	}
	return rows
}

func sloUnsignedCase(ctx context.Context, e *env) []Row {
	if st, why, ok := e.needLogin(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	if lr == nil || !lr.ok {
		return []Row{row(Skip, "the SpidL1 login before logout did not succeed")}
	}
	msg, err := logoutRequest(e.spA, e.md, logoutSpec{Binding: bindingRedirect, NameID: lr.nameID, SessionIndex: lr.sessionIndex, Sig: sigNone})
	if err != nil {
		return []Row{row(Fail, err.Error())}
	}
	out, err := b.send(ctx, msg, choiceNoLogin)
	rows := judgePage("C168", 5, out, err)
	if rows[0].Status == Fail {
		return rows
	}
	after, err := e.stopAtLogin(ctx, b, e.spA, authnSpec{})
	if err == nil && after.Kind == "login" {
		return rowsFor([]string{"C168"}, Fail, "the unsigned LogoutRequest closed the session", after)
	}
	return rows
}

func sloIssuerCase(ctx context.Context, e *env) []Row {
	return e.sloVariant(ctx, "C169", logoutSpec{Binding: bindingPOST, IssuerFormat: omit}, statusRequester, "")
}

// sloVariant logs in at SpidL1, sends a LogoutRequest built from ls (NameID
// and SessionIndex filled in) and expects the status pair top/sub.
func (e *env) sloVariant(ctx context.Context, id string, ls logoutSpec, top, sub string) []Row {
	if st, why, ok := e.needLogin(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	if lr == nil || !lr.ok {
		return []Row{row(Skip, "the SpidL1 login before logout did not succeed")}
	}
	ls.NameID, ls.SessionIndex = lr.nameID, lr.sessionIndex
	return []Row{e.logoutAndJudge(ctx, id, b, ls, top, sub)}
}

func (e *env) logoutAndJudge(ctx context.Context, id string, b *browser, ls logoutSpec, top, sub string) Row {
	msg, err := logoutRequest(e.spA, e.md, ls)
	if err != nil {
		return Row{ID: id, Status: Fail, Reason: err.Error()}
	}
	out, err := b.send(ctx, msg, choiceNoLogin)
	if err != nil {
		r := rowsFor([]string{id}, Fail, err.Error(), out)
		return r[0]
	}
	raw, dest, rq, err := e.logoutAnswer(out, e.spA)
	if err != nil {
		r := rowsFor([]string{id}, Fail, err.Error(), out)
		return r[0]
	}
	v := ValidateLogoutResponse(raw, LogoutExpect{IdPEntityID: e.md.EntityID, IdPCerts: e.md.Certs, Destination: dest,
		RequestID: msg.ID, Top: top, Sub: sub, RawQuery: rq, Now: time.Now(), Skew: e.opt.ClockSkew, Strict: e.opt.Strict})
	st, why := v.Summary()
	r := Row{ID: id, Status: st, Reason: why}
	if st != Pass {
		r.Evidence, r.Trace = string(raw), out.Trace
	} else {
		r.Reason = "LogoutResponse " + short(or(top, statusSuccess))
		if sub != "" {
			r.Reason += " / " + short(sub)
		}
	}
	return r
}

// sloTwiceCase: a LogoutRequest for a session already closed → partial logout (C176).
func sloTwiceCase(ctx context.Context, e *env) []Row {
	if st, why, ok := e.needLogin(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	if lr == nil || !lr.ok {
		return []Row{row(Skip, "the SpidL1 login before logout did not succeed")}
	}
	ls := logoutSpec{Binding: bindingRedirect, NameID: lr.nameID, SessionIndex: lr.sessionIndex}
	if r := e.logoutAndJudge(ctx, "C176", b, ls, "", ""); r.Status != Pass {
		return []Row{{ID: "C176", Status: Skip, Reason: "the first logout did not succeed: " + r.Reason}}
	}
	return []Row{e.logoutAndJudge(ctx, "C176", b, ls, statusRequester, statusPartial)}
}

// sloL2Case: logout for a SpidL2 assertion without SessionIndex → Success (C177).
func sloL2Case(ctx context.Context, e *env) []Row {
	if st, why, ok := e.needOTP(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{Level: 2, Comparison: "exact"}, e.spA.ACS[0])
	if lr == nil || !lr.ok {
		return []Row{row(Skip, "the SpidL2 login before logout did not succeed")}
	}
	return []Row{e.logoutAndJudge(ctx, "C177", b, logoutSpec{Binding: bindingPOST, NameID: lr.nameID}, "", "")}
}

// sloTwoSPsCase: with SP A and SP B in the session, logout at A makes the
// IdP send B a signed LogoutRequest with B's NameID and SessionIndex; after
// B answers, A gets Success (C174).
func sloTwoSPsCase(ctx context.Context, e *env) []Row {
	if st, why, ok := e.needLogin(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lrA, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	lrB, _ := e.login(ctx, b, e.spB, authnSpec{}, e.spB.ACS[0])
	if lrA == nil || !lrA.ok || lrB == nil || !lrB.ok {
		return []Row{row(Skip, "the SpidL1 logins at SP A and SP B did not both succeed")}
	}
	msg, err := logoutRequest(e.spA, e.md, logoutSpec{Binding: bindingRedirect, NameID: lrA.nameID, SessionIndex: lrA.sessionIndex})
	if err != nil {
		return []Row{row(Fail, err.Error())}
	}
	out, err := b.send(ctx, msg, choiceNoLogin)
	if err != nil {
		return rowsFor([]string{"C174"}, Fail, "logout flow: "+err.Error(), out)
	}
	var raw []byte
	var binding string
	switch {
	case out.Kind == "redirect" && strings.HasPrefix(out.URL, e.spB.SLO[bindingRedirect]):
		var rq string
		raw, rq, err = redirectXML(out.URL, "SAMLRequest")
		if err == nil {
			_, err = verifyRedirect(rq, "SAMLRequest", e.md.Certs)
		}
		binding = bindingRedirect
	case out.Kind == "form" && out.Form.input("SAMLRequest") != nil && out.Form.Action == e.spB.SLO[bindingPOST]:
		raw, err = base64.StdEncoding.DecodeString(out.Form.value("SAMLRequest"))
		binding = bindingPOST
	default:
		return rowsFor([]string{"C174"}, Fail, "the IdP did not send SP B a LogoutRequest (flow ended on "+out.Kind+" "+out.URL+")", out)
	}
	if err != nil {
		return rowsFor([]string{"C174"}, Fail, "LogoutRequest to SP B: "+err.Error(), out)
	}
	reqID, problem := e.checkIdPLogoutRequest(raw, binding, lrB)
	if problem != "" {
		return []Row{{ID: "C174", Status: Fail, Reason: problem, Evidence: string(raw), Trace: out.Trace}}
	}
	answer, err := logoutResponse(e.spB, e.md, binding, reqID)
	if err != nil {
		return []Row{row(Fail, err.Error())}
	}
	answer.RelayState = out.value("RelayState")
	if answer.RelayState != "" && binding == bindingPOST {
		answer.Form.Set("RelayState", answer.RelayState)
	} else if answer.RelayState != "" {
		// rebuild the query with the RelayState the IdP sent
		if answer, err = logoutResponseWithRelay(e.spB, e.md, binding, reqID, answer.RelayState); err != nil {
			return []Row{row(Fail, err.Error())}
		}
	}
	final, err := b.send(ctx, answer, choiceNoLogin)
	if err != nil {
		return rowsFor([]string{"C174"}, Fail, "after SP B answered: "+err.Error(), final)
	}
	lraw, dest, rq, err := e.logoutAnswer(final, e.spA)
	if err != nil {
		return rowsFor([]string{"C174"}, Fail, "SP A got no LogoutResponse after SP B answered: "+err.Error(), final)
	}
	v := ValidateLogoutResponse(lraw, LogoutExpect{IdPEntityID: e.md.EntityID, IdPCerts: e.md.Certs, Destination: dest,
		RequestID: msg.ID, RawQuery: rq, Now: time.Now(), Skew: e.opt.ClockSkew, Strict: e.opt.Strict})
	if st, why := v.Summary(); st != Pass {
		return []Row{{ID: "C174", Status: st, Reason: "LogoutResponse to SP A: " + why, Evidence: string(lraw), Trace: final.Trace}}
	}
	return []Row{row(Pass, "SP B got a signed LogoutRequest with its NameID and SessionIndex; SP A got Success")}
}

func logoutResponseWithRelay(sp *simSP, md *IdPMetadata, binding, reqID, relay string) (*outMsg, error) {
	m, err := logoutResponse(sp, md, binding, reqID)
	if err != nil || relay == "" {
		return m, err
	}
	// Re-encode with the RelayState included in the signed query.
	doc, err := parseXML(m.XML)
	if err != nil {
		return nil, err
	}
	msg := &outMsg{Binding: binding, URL: or(md.SLO[binding].ResponseLocation, md.SLO[binding].Location), ID: m.ID, RelayState: relay}
	return encode(msg, doc.Root(), "SAMLResponse", sp, sigOK, nil)
}

// checkIdPLogoutRequest judges the LogoutRequest the IdP sent to SP B.
func (e *env) checkIdPLogoutRequest(raw []byte, binding string, lrB *loginResult) (id, problem string) {
	doc, err := parseXML(raw)
	if err != nil {
		return "", err.Error()
	}
	root := doc.Root()
	if !is(root, nsSAMLP, "LogoutRequest") {
		return "", "SP B received " + root.Tag + ", want LogoutRequest"
	}
	id, _ = attr(root, "ID")
	var issues []string
	if binding == bindingPOST {
		if si := inspectSignature(root, e.md.Certs); si.Err != nil {
			issues = append(issues, "signature: "+si.Err.Error())
		}
	}
	if iss := root.SelectElement("Issuer"); iss == nil || strings.TrimSpace(iss.Text()) != e.md.EntityID {
		issues = append(issues, "Issuer is not the IdP entityID")
	}
	nid := root.SelectElement("NameID")
	switch {
	case nid == nil:
		issues = append(issues, "no NameID")
	case strings.TrimSpace(nid.Text()) != lrB.nameID:
		issues = append(issues, fmt.Sprintf("NameID %q, want SP B's %q", nid.Text(), lrB.nameID))
	default:
		if nq, _ := attr(nid, "NameQualifier"); nq == "" {
			issues = append(issues, "NameID without NameQualifier")
		}
	}
	si := ""
	if s := root.SelectElement("SessionIndex"); s != nil {
		si = strings.TrimSpace(s.Text())
	}
	if lrB.sessionIndex != "" && si != lrB.sessionIndex {
		issues = append(issues, fmt.Sprintf("SessionIndex %q, want SP B's %q", si, lrB.sessionIndex))
	}
	if d, _ := attr(root, "Destination"); d != e.spB.SLO[binding] {
		issues = append(issues, fmt.Sprintf("Destination %q, want %q", d, e.spB.SLO[binding]))
	}
	return id, strings.Join(issues, "; ")
}
