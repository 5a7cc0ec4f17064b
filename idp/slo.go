package idp

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/logoutmsg"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Single Logout (spec saml-profile.md §6). An SP's LogoutRequest, or the
// citizen's button on the session page, closes the IdP session at once;
// the other SPs of the session are then told one after another through the
// browser (front channel), and the outcome goes back to the SP that asked
// (a LogoutResponse) or to the citizen (the logout page). The state of that
// walk between browser hops is the chain of slo_chain.go.

// logoutChecker validates incoming logout messages with the same limits,
// clock, skews and replay cache as AuthnRequests.
func (p *IdP) newLogoutChecker() *logoutmsg.Checker {
	return &logoutmsg.Checker{
		IdPEntityID: p.o.EntityID,
		SLOURLs:     []string{p.o.BaseURL + PathSLORedirect, p.o.BaseURL + PathSLOPOST},
		SPs:         p.o.SPs,
		Replay:      p.o.Eph,
		Now:         p.now,
		PastSkew:    p.o.Checker.PastSkew, FutureSkew: p.o.Checker.FutureSkew,
		MaxRelayState: p.o.Checker.MaxRelayState,
		Limits:        p.o.Checker.Limits,
	}
}

// slo receives, on either binding, a LogoutRequest that starts an
// SP-initiated logout or the LogoutResponse of an SP we asked to log out.
// A GET on the Redirect endpoint without a message, from a browser in the
// middle of a logout, resumes the chain (the SP we sent it to never sent
// it back).
func (p *IdP) slo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	bindingName, method := spid.BindingRedirect, http.MethodGet
	if r.URL.Path == PathSLOPOST {
		bindingName, method = spid.BindingPOST, http.MethodPost
	}
	if r.Method != method {
		p.userAnomaly(w, r, spid.NrWrongMethod, "slo.request", "binding "+bindingName+" used with method "+r.Method)
		return
	}
	param, err := p.sloParam(r)
	if err != nil {
		p.userAnomaly(w, r, spid.NrBindingFormat, "slo.request", err.Error())
		return
	}
	if param == "" && bindingName == spid.BindingRedirect {
		if c, ok := p.openChain(r); ok {
			p.resumeChain(w, r, c)
			return
		}
	}
	msg, err := p.logout.Check(ctx, r, bindingName)
	var le *logoutmsg.Error
	if err != nil && !errors.As(err, &le) {
		p.o.Log.ErrorContext(ctx, "checking logout message", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	switch {
	case param == binding.ParamResponse:
		var res *logoutmsg.Response
		if msg != nil {
			res = msg.Response
		}
		p.sloResponse(w, r, res, le)
	case le != nil:
		p.logoutRefused(w, r, bindingName, le)
	case msg.Request == nil:
		p.userAnomaly(w, r, spid.NrBindingFormat, "slo.request", "SAMLResponse where a SAMLRequest was announced")
	default:
		p.sloRequest(w, r, msg.Request)
	}
}

// sloParam tells which SAML parameter the request carries ("" for none),
// without consuming the body the checker will read.
func (p *IdP) sloParam(r *http.Request) (string, error) {
	var q url.Values
	if r.Method == http.MethodGet {
		q, _ = url.ParseQuery(r.URL.RawQuery)
	} else {
		max := p.o.Checker.Limits.MaxBody
		if max <= 0 {
			max = binding.DefaultMaxBody
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		if err != nil {
			return "", fmt.Errorf("reading the form body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		q, _ = url.ParseQuery(string(body))
	}
	switch {
	case q.Has(binding.ParamResponse) && !q.Has(binding.ParamRequest):
		return binding.ParamResponse, nil
	case q.Has(binding.ParamRequest):
		return binding.ParamRequest, nil
	}
	return "", nil
}

// sloRequest handles an SP-initiated logout.
func (p *IdP) sloRequest(w http.ResponseWriter, r *http.Request, req *logoutmsg.Request) {
	ctx := r.Context()
	sp := req.SP
	p.received(ctx, register.KindLogoutRequest, req.Binding, sp.EntityID, req.ID, req.ID, req.XML)
	details := map[string]string{"in_response_to": req.ID, "name_id": req.NameID, "binding": req.Binding}
	p.warnLongRelayState(ctx, sp.EntityID, req.RelayState)
	answer := func(top, sub, outcome, why string) {
		details["status"], details["reason"] = statusText(top, sub), why
		p.record(ctx, "slo.request", sp.EntityID, outcome, details)
		p.answerLogout(w, r, sp, req.Binding, req.ID, req.RelayState, top, sub, nil)
	}

	// SpidL2/L3 assertions carry no SessionIndex and join no session:
	// there is nothing to close (spec §6.3, C177). The NameIDs of such
	// assertions are not kept, so they cannot be matched either; the answer
	// changes nothing at the IdP.
	switch len(req.SessionIndexes) {
	case 0:
		answer(spid.StatusSuccess, "", audit.Success, "no SessionIndex: no IdP session to close")
		return
	case 1:
	default:
		// Each assertion we issue names one session and carries one NameID,
		// which the request has only one of.
		answer(spid.StatusRequester, spid.StatusRequestUnsupported, audit.Denied, "more than one SessionIndex")
		return
	}
	index := req.SessionIndexes[0]
	// A SessionIndex we cannot open was sealed under a retired key or never
	// by us: either way no live session of ours answers to it, which the
	// rule treats like an ended session (C176).
	sid, err := p.flow.SessionOfIndex(index)
	if err != nil {
		answer(spid.StatusRequester, spid.StatusPartialLogout, audit.Failure, "SessionIndex does not name a session of this IdP")
		return
	}
	sess, err := p.o.Eph.GetSession(ctx, sid)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !p.now().Before(sess.ExpiresAt)) {
		answer(spid.StatusRequester, spid.StatusPartialLogout, audit.Failure, "the IdP session has already ended")
		return
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "reading session for logout", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	// The NameID and SessionIndex must be those we gave this very SP, so
	// that an SP cannot end someone else's session (security.md A.20).
	if !issuedTo(sess, sp.EntityID, req.NameID, index) {
		answer(spid.StatusRequester, spid.StatusRequestUnsupported, audit.Denied,
			"NameID and SessionIndex do not match an assertion issued to this SP")
		return
	}
	details["status"] = "accepted"
	if err := p.o.Audit.Record(ctx, authflow.Event(sess.IdentityID, "slo.request", sp.EntityID, audit.Success, details)); err != nil {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	claimed, ok := p.closeSession(w, r, sess)
	if !ok {
		return
	}
	if !claimed {
		answer(spid.StatusRequester, spid.StatusPartialLogout, audit.Failure, "the IdP session ended meanwhile")
		return
	}
	var others []storage.SessionParticipant
	for _, part := range sess.Participants {
		// The initiator ends its own session; every other SP of the session
		// gets one request, for the latest assertion it was given (the
		// session keeps one entry per SP).
		if part.SPEntityID != sp.EntityID {
			others = append(others, part)
		}
	}
	c := p.newChain(sess.IdentityID, &sloInitiator{SP: sp.EntityID, RequestID: req.ID, Binding: req.Binding, RelayState: req.RelayState})
	p.startChain(w, r, c, samlOnly(others))
}

// issuedTo reports whether sess holds an assertion to sp with this NameID
// and SessionIndex.
func issuedTo(sess storage.Session, sp, nameID, index string) bool {
	found := false
	for _, part := range sess.Participants {
		if part.Protocol == storage.ProtocolSAML && part.SPEntityID == sp && part.NameID == nameID &&
			subtle.ConstantTimeCompare([]byte(part.SessionIndex), []byte(index)) == 1 {
			found = true
		}
	}
	return found
}

// logoutRefused answers a logout message that failed a check: a courtesy
// page when it is not an authentic LogoutRequest (nothing is logged out,
// nothing is sent), else a LogoutResponse with the error status to its SP.
func (p *IdP) logoutRefused(w http.ResponseWriter, r *http.Request, bindingName string, e *logoutmsg.Error) {
	ctx := r.Context()
	sp := ""
	if e.SP != nil {
		sp = e.SP.EntityID
	}
	p.o.Log.InfoContext(ctx, "LogoutRequest refused", "step", e.Step, "reason", e.Reason, "sp", sp)
	details := map[string]string{"step": e.Step, "reason": e.Reason, "in_response_to": e.InResponseTo, "binding": bindingName}
	if !e.Respond || e.SP == nil {
		code := pageAnomaly(e, bindingName)
		details["anomaly"] = code.String()
		p.record(ctx, "slo.request", sp, audit.Denied, details)
		p.renderAnomalyPage(w, r, code)
		return
	}
	details["status"] = statusText(e.Status, e.SubStatus)
	p.record(ctx, "slo.request", sp, audit.Denied, details)
	p.answerLogout(w, r, e.SP, bindingName, e.InResponseTo, e.RelayState, e.Status, e.SubStatus, nil)
}

// pageAnomaly maps a user-bound logout failure to the courtesy page of the
// same failure on an AuthnRequest (spec §3.3 steps 1–5).
func pageAnomaly(e *logoutmsg.Error, bindingName string) spid.Anomaly {
	switch e.Step {
	case logoutmsg.StepMethod:
		return spid.NrWrongMethod
	case logoutmsg.StepParameters, logoutmsg.StepDecode:
		return spid.NrBindingFormat
	case logoutmsg.StepIssuer:
		if e.Err != nil && !errors.Is(e.Err, storage.ErrNotFound) {
			return spid.NrSystemError // the registry failed, not the SP
		}
		return spid.NrIssuer
	case logoutmsg.StepSignature:
		if bindingName == spid.BindingRedirect {
			return spid.NrRedirectSignature
		}
		return spid.NrPOSTSignature
	}
	return spid.NrSystemError
}

func statusText(top, sub string) string {
	if sub != "" {
		return top + " / " + sub
	}
	return top
}

// closeSession ends the IdP session now, before any SP is told, so that
// whatever happens to the chain the citizen is no longer signed in here.
// The delete is the claim: of two concurrent logouts of one session only
// the one whose delete found it goes on to tell the SPs (claimed false:
// the session had already ended). On a storage failure it has answered.
func (p *IdP) closeSession(w http.ResponseWriter, r *http.Request, sess storage.Session) (claimed, ok bool) {
	if cur := p.flow.SSOCookie(r); cur != "" && subtle.ConstantTimeCompare([]byte(cur), []byte(sess.ID)) == 1 {
		p.flow.ClearSSOCookie(w)
	}
	err := p.o.Eph.DeleteSession(r.Context(), sess.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, true
	case err != nil:
		p.o.Log.ErrorContext(r.Context(), "closing session", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
		return false, false
	}
	p.flow.SessionEnded(r.Context(), sess)
	return true, true
}

// idpLogout is the session page's "sign out of every service" button:
// IdP-initiated logout of the browser's session, then the logout page.
func (p *IdP) idpLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	if err := csrf.CheckOrigin(r, p.origin); err != nil {
		p.o.Log.InfoContext(ctx, "cross-site logout post refused", "err", err)
		p.fail(w, r, templates.ReasonForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, templates.ReasonBadRequest)
		return
	}
	browser := p.flow.BrowserCookie(r)
	if browser == "" || !csrf.Valid(p.csrfKey, browser+"|session", r.PostForm.Get(templates.FieldCSRF)) {
		p.o.Log.InfoContext(ctx, "logout post without its browser cookie or CSRF token")
		p.fail(w, r, templates.ReasonForbidden)
		return
	}
	sess, _, ok := p.flow.CurrentSession(ctx, r)
	if !ok {
		// Nothing to end (already logged out, or expired): say so plainly.
		p.flow.ClearSSOCookie(w)
		p.render(w, r, http.StatusOK, templates.PageLogout, templates.LogoutPage{})
		return
	}
	if err := p.o.Audit.Record(ctx, authflow.Event(sess.IdentityID, "slo.idp", "", audit.Success, map[string]string{
		"participants": strconv.Itoa(len(sess.Participants))})); err != nil {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	claimed, ok := p.closeSession(w, r, sess)
	if !ok {
		return
	}
	if !claimed {
		// Another logout of this session is telling the SPs.
		p.render(w, r, http.StatusOK, templates.PageLogout, templates.LogoutPage{})
		return
	}
	p.startChain(w, r, p.newChain(sess.IdentityID, nil), samlOnly(sess.Participants))
}

// samlOnly keeps the SAML SPs of a session: the others (OpenID Connect
// relying parties) get no LogoutRequest, their front end ended their
// tokens when the session closed (closeSession).
func samlOnly(parts []storage.SessionParticipant) []storage.SessionParticipant {
	var out []storage.SessionParticipant
	for _, part := range parts {
		if part.Protocol == storage.ProtocolSAML {
			out = append(out, part)
		}
	}
	return out
}

// answerLogout sends the initiating SP its signed LogoutResponse, on the
// binding its request came on when its metadata has that binding, else on
// its first usable SLO endpoint, at ResponseLocation if set (spec §6.2).
// Without any usable endpoint the citizen sees the logout page (results may
// be nil).
func (p *IdP) answerLogout(w http.ResponseWriter, r *http.Request, sp *metadata.SP, bindingName, inResponseTo, relayState, top, sub string, results []templates.LogoutResult) {
	ctx := r.Context()
	ep, ok := sloEndpoint(sp, bindingName)
	if !ok {
		p.o.Log.WarnContext(ctx, "SP has no usable SingleLogoutService for the LogoutResponse", "sp", sp.EntityID)
		p.render(w, r, http.StatusOK, templates.PageLogout, templates.LogoutPage{Results: results})
		return
	}
	dest := ep.Location
	if ep.ResponseLocation != "" {
		dest = ep.ResponseLocation
	}
	if top == spid.StatusSuccess {
		top = ""
	}
	xml, err := p.o.Builder.LogoutResponse(response.LogoutResponse{InResponseTo: inResponseTo, Destination: dest,
		Status: top, SubStatus: sub, Unsigned: ep.Binding == spid.BindingRedirect})
	if err != nil {
		p.o.Log.ErrorContext(ctx, "building LogoutResponse", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	p.sentQueued(ctx, register.KindLogoutResponse, ep.Binding, sp.EntityID, inResponseTo, xml)
	p.deliver(w, r, sp, ep.Binding, dest, binding.ParamResponse, xml, relayState)
}

// deliver hands a message to the browser for an SP: a redirect carrying the
// signed query, or the auto-submitting form page.
func (p *IdP) deliver(w http.ResponseWriter, r *http.Request, sp *metadata.SP, bindingName, dest, param string, xml []byte, relayState string) {
	if bindingName == spid.BindingRedirect {
		u, err := p.o.Builder.RedirectURL(dest, xml, param, relayState)
		if err != nil {
			p.o.Log.ErrorContext(r.Context(), "building redirect", "err", err)
			p.fail(w, r, templates.ReasonInternal)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	form := response.PostForm(dest, param, xml, relayState)
	csp.AllowFormTo(w.Header(), form.Action)
	p.render(w, r, http.StatusOK, templates.PageTransfer, templates.TransferPage{
		SPName: authflow.SPName(sp, templates.Lang(r)), Action: form.Action, Fields: fields(form)})
}

// sloEndpoint picks the SP's SingleLogoutService on the preferred binding,
// else its first one on a binding we speak (SOAP is not used).
func sloEndpoint(sp *metadata.SP, preferred string) (metadata.Endpoint, bool) {
	for _, ep := range sp.SLO {
		if ep.Binding == preferred {
			return ep, true
		}
	}
	for _, ep := range sp.SLO {
		if ep.Binding == spid.BindingRedirect || ep.Binding == spid.BindingPOST {
			return ep, true
		}
	}
	return metadata.Endpoint{}, false
}
