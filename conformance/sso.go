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
func (e *env) stopAtLogin(ctx context.Context, b *browser, sp *SimSP, s authnSpec) (*outcome, error) {
	msg, err := e.request(sp, s)
	if err != nil {
		return nil, err
	}
	return b.send(ctx, msg, choiceNoLogin)
}

func (e *env) expectErrorWith(ctx context.Context, id string, b *browser, sp *SimSP, s authnSpec, code int, choice consentChoice) []Row {
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
func (e *env) logoutAnswer(out *outcome, sp *SimSP) (raw []byte, dest, rawQuery string, err error) {
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
	if st, why, ok := e.needLogin(); !ok {
		return []Row{row(st, why)}
	}
	b := e.browser()
	lr, _ := e.login(ctx, b, e.spA, authnSpec{}, e.spA.ACS[0])
	if lr == nil || !lr.ok {
		return []Row{row(Skip, "the SpidL1 login before logout did not succeed")}
	}
	msg, err := logoutRequest(e.spA, e.md, logoutSpec{Binding: bindingPOST, NameID: lr.nameID, SessionIndex: lr.sessionIndex, IssuerFormat: omit})
	if err != nil {
		return []Row{row(Fail, err.Error())}
	}
	out, err := b.send(ctx, msg, choiceNoLogin)
	if err != nil {
		return rowsFor([]string{"C169"}, Fail, err.Error(), out)
	}
	raw, dest, rq, err := e.logoutAnswer(out, e.spA)
	if err != nil {
		return rowsFor([]string{"C169"}, Fail, err.Error(), out)
	}
	v := ValidateLogoutResponse(raw, LogoutExpect{IdPEntityID: e.md.EntityID, IdPCerts: e.md.Certs, Destination: dest,
		RequestID: msg.ID, Top: statusRequester, RawQuery: rq, Now: time.Now(), Skew: e.opt.ClockSkew, Strict: e.opt.Strict})
	st, why := v.Summary()
	r := Row{ID: "C169", Status: st, Reason: why}
	if st != Pass {
		r.Evidence, r.Trace = string(raw), out.Trace
	} else {
		r.Reason = "LogoutResponse Requester"
	}
	return []Row{r}
}
