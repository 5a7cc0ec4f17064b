package idp

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The SAML front end of the authentication flow (authflow.FrontEnd): the
// service provider comes from the registry, and the flow ends with a
// signed Response, success or anomaly, posted to its ACS.

// RelyingParty is the flow's SP as the registry knows it now.
func (p *IdP) RelyingParty(ctx context.Context, f *authflow.State) (*metadata.SP, error) {
	return p.o.SPs.LookupSP(ctx, f.SP)
}

// Refuse ends a flow with an SP-bound anomaly (an error Response) and
// records it.
func (p *IdP) Refuse(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *authflow.State, code spid.Anomaly, reason string) {
	ctx := r.Context()
	if err := p.o.Audit.Record(ctx, authflow.Event(f.Actor(), "sso.response", sp.EntityID, audit.Failure, map[string]string{
		"anomaly": code.String(), "reason": reason, "in_response_to": f.RequestID, "flow": f.ID})); err != nil {
		// The SP still gets its answer: refusing it would not undo anything.
		p.o.Log.ErrorContext(ctx, "audit of an SP-bound anomaly", "err", err)
	}
	spidCode := ""
	if f.Identity != "" {
		if id, err := p.o.Store.GetIdentity(ctx, f.Identity); err == nil {
			spidCode = id.Attributes["spidCode"]
		}
	}
	p.deliverError(w, r, sp, f.ACS, f.RequestID, f.RelayState, code, spid.Level(f.Level), spidCode)
}

// RefusalForm is the signed error Response for code, as the form that
// posts it to the SP's ACS.
func (p *IdP) RefusalForm(ctx context.Context, sp *metadata.SP, f *authflow.State, code spid.Anomaly) (string, []templates.Field, error) {
	xml, err := p.o.Builder.Error(response.ErrorResponse{InResponseTo: f.RequestID, Destination: f.ACS, Anomaly: code})
	if err != nil {
		return "", nil, err
	}
	form := response.PostForm(f.ACS, "SAMLResponse", xml, f.RelayState)
	return form.Action, fields(form), nil
}

// SessionEnded has nothing to do: SAML participants learn of the end of a
// session from Single Logout's LogoutRequests (slo.go).
func (p *IdP) SessionEnded(context.Context, storage.Session, []storage.SessionParticipant) {}

// Answer sends the success Response of an authenticated, consented flow.
func (p *IdP) Answer(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *authflow.State, id storage.Identity) {
	ctx := r.Context()
	attrs, err := response.AttributesFor(id, authflow.Requested(sp, f))
	if err != nil {
		p.o.Log.ErrorContext(ctx, "attributes of identity", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}

	nameID := response.RandomID()
	s := response.Success{
		InResponseTo: f.RequestID, RequestIssueInstant: time.UnixMilli(f.RequestIssueInstant).UTC(),
		Destination: f.ACS, Audience: sp.EntityID, NameID: nameID, Level: spid.Level(f.Performed),
		AuthnInstant: f.AuthnTime(), IncludeAttributeStatement: f.AttrIndex != nil, Attributes: attrs,
	}
	var grants []string
	if p.flow.AAPending(f) && len(f.AAChosen) > 0 {
		s.Grants = p.samlGrants(r, sp, f, &grants)
	}
	if f.JoinsSession() {
		index, _, err := p.flow.JoinSession(w, r, f, sp.EntityID, nameID, "")
		if err != nil {
			p.o.Log.ErrorContext(ctx, "SSO session", "err", err)
			p.fail(w, r, templates.ReasonUnavailable)
			return
		}
		s.SessionIndex = index
	}
	xml, err := p.o.Builder.Success(s)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "building Response", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	// The audit event (who, which request, which assertion) and the
	// register record of the Response exactly as sent (spec §7.5), in one
	// commit; the Response leaves only once both are durable.
	ev := authflow.Event(id.ID, "sso.response", sp.EntityID, audit.Success, map[string]string{
		"spid_code": id.Attributes["spidCode"], "in_response_to": f.RequestID, "name_id": nameID,
		"level": strconv.Itoa(f.Performed), "reused_session": strconv.FormatBool(f.Session != ""), "flow": f.ID,
	})
	if len(grants) > 0 {
		ev.Details["grant_tokens"] = joinGrants(grants)
	}
	if err := p.responseSent(ctx, &ev, sp.EntityID, id.Attributes["spidCode"], f.RequestID, xml); err != nil {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	p.flow.Authenticated(ctx, id.ID)
	form := response.PostForm(f.ACS, "SAMLResponse", xml, f.RelayState)
	csp.AllowFormTo(w.Header(), form.Action)
	p.render(w, r, http.StatusOK, templates.PageTransfer, templates.TransferPage{
		SPName: authflow.SPName(sp, templates.Lang(r)), Action: form.Action, Fields: fields(form)})
}
