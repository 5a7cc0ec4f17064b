package idp

import (
	"context"
	"errors"
	"net/http"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/templates"
)

// sso receives an AuthnRequest on either binding.
func (p *IdP) sso(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	binding, method := spid.BindingRedirect, http.MethodGet
	if r.URL.Path == PathSSOPOST {
		binding, method = spid.BindingPOST, http.MethodPost
	}
	if r.Method != method {
		p.userAnomaly(w, r, spid.NrWrongMethod, "sso", "binding "+binding+" used with method "+r.Method)
		return
	}
	req, err := p.o.Checker.Check(ctx, r, binding)
	if err != nil {
		var ae *authnrequest.Error
		if !errors.As(err, &ae) {
			p.o.Log.ErrorContext(ctx, "checking AuthnRequest", "err", err)
			p.userAnomaly(w, r, spid.NrSystemError, "sso", "internal error")
			return
		}
		p.requestRefused(w, r, ae)
		return
	}
	if !p.received(ctx, register.KindAuthnRequest, req.Binding, req.SP.EntityID, req.ID, req.ID, req.XML) {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	f, err := p.flow.NewState(w, r)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "browser cookie", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	f.SP, f.RequestID, f.RequestIssueInstant = req.SP.EntityID, req.ID, req.IssueInstant.UnixMilli()
	f.ACS, f.AttrIndex, f.Level, f.Comparison = req.ACS.Location, req.AttributeIndex, int(req.Level), req.Comparison
	f.ForceAuthn, f.Purpose, f.RelayState = req.ForceAuthn, req.Purpose, req.RelayState
	// Debug: the Response's audit record (info) names the same request.
	p.o.Log.DebugContext(ctx, "AuthnRequest accepted", "sp", req.SP.EntityID, "request_id", req.ID,
		"level", int(req.Level), "comparison", req.Comparison, "binding", binding, "flow", f.ID)
	p.warnLongRelayState(ctx, req.SP.EntityID, req.RelayState)
	f.AAs = p.flow.RequestedAAs(ctx, req.AttributeAuthorities)
	p.flow.Begin(w, r, req.SP, f)
}

// bindingRelayState is the RelayState length the SAML bindings allow (SAML
// 2.0 Bindings §3.4.3, §3.5.3).
const bindingRelayState = 80

// warnLongRelayState logs, with the SP, a RelayState over the bindings'
// 80 bytes: SPID lets it through up to idp.request.max_relay_state (S056,
// security.md A.14), but the SP's operator should hear that it breaks the
// rule. The value itself is never logged.
func (p *IdP) warnLongRelayState(ctx context.Context, sp, relayState string) {
	if n := len(relayState); n > bindingRelayState {
		p.o.Log.WarnContext(ctx, "RelayState longer than the 80 bytes the SAML bindings allow: accepted and returned unchanged",
			"sp", sp, "bytes", n)
	}
}

// requestRefused answers a request that failed a check: to the SP when the
// anomaly is SP-bound and the SP is trusted, otherwise on a page.
func (p *IdP) requestRefused(w http.ResponseWriter, r *http.Request, e *authnrequest.Error) {
	ctx := r.Context()
	sp := ""
	if e.SP != nil {
		sp = e.SP.EntityID
	}
	p.o.Log.InfoContext(ctx, "AuthnRequest refused", "anomaly", e.Anomaly.String(), "step", e.Step, "reason", e.Reason, "sp", sp)
	p.record(ctx, "sso.request", sp, audit.Denied, map[string]string{
		"anomaly": e.Anomaly.String(), "step": e.Step, "reason": e.Reason, "in_response_to": e.InResponseTo})
	if !e.Anomaly.ForSP() || e.SP == nil || e.ACS.Location == "" {
		p.renderAnomalyPage(w, r, e.Anomaly)
		return
	}
	// Authentic but refused: the request and its error Response are both
	// transactions of the register.
	p.received(ctx, register.KindAuthnRequest, e.Binding, e.SP.EntityID, e.InResponseTo, e.InResponseTo, e.XML)
	p.deliverError(w, r, e.SP, e.ACS.Location, e.InResponseTo, e.RelayState, e.Anomaly, 0, "")
}

// userAnomaly shows a user-bound anomaly page and records it.
func (p *IdP) userAnomaly(w http.ResponseWriter, r *http.Request, code spid.Anomaly, action, reason string) {
	p.o.Log.InfoContext(r.Context(), "request refused", "anomaly", code.String(), "reason", reason)
	p.record(r.Context(), action, "", audit.Denied, map[string]string{"anomaly": code.String(), "reason": reason})
	p.renderAnomalyPage(w, r, code)
}

func (p *IdP) renderAnomalyPage(w http.ResponseWriter, r *http.Request, code spid.Anomaly) {
	if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Code: code}); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering anomaly page", "err", err)
	}
}

// deliverError signs an error Response and hands it to the browser for the
// SP: an explanation page with a button for the anomalies the citizen should
// read about (nr19–nr23, nr30), an auto-submitting interstitial otherwise.
// level is the requested level, quoted by the nr20 page (0 when unknown).
// spidCode names the citizen when the flow knows who it was ("" otherwise).
func (p *IdP) deliverError(w http.ResponseWriter, r *http.Request, sp *metadata.SP, acs, inResponseTo, relayState string, code spid.Anomaly, level spid.Level, spidCode string) {
	xml, err := p.o.Builder.Error(response.ErrorResponse{InResponseTo: inResponseTo, Destination: acs, Anomaly: code})
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "building error Response", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	if err := p.responseSent(r.Context(), nil, sp.EntityID, spidCode, inResponseTo, xml); err != nil {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	form := response.PostForm(acs, "SAMLResponse", xml, relayState)
	csp.AllowFormTo(w.Header(), form.Action)
	name := authflow.SPName(sp, templates.Lang(r))
	switch code {
	case spid.NrCredentialsExhausted, spid.NrLevelUnavailable, spid.NrTimeout, spid.NrSuspendedRevoked, spid.NrIdentityType:
		p.render(w, r, http.StatusOK, templates.PageAnomaly, templates.AnomalyPage{
			SPName: name, Code: code, Level: level, Action: form.Action, Fields: fields(form)})
	default:
		p.render(w, r, http.StatusOK, templates.PageTransfer, templates.TransferPage{
			SPName: name, Action: form.Action, Fields: fields(form), Code: code})
	}
}

func fields(f response.Form) []templates.Field {
	out := make([]templates.Field, len(f.Fields))
	for i, x := range f.Fields {
		out[i] = templates.Field{Name: x.Name, Value: x.Value}
	}
	return out
}

// record writes an audit event whose actor is not yet known.
func (p *IdP) record(ctx context.Context, action, target, outcome string, details map[string]string) {
	p.flow.Record(ctx, action, target, outcome, details)
}
