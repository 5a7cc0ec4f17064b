package idp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// requested returns the attributes the flow's AttributeConsumingService
// asks for (nil when the request named none).
func requested(sp *metadata.SP, f *flowState) []metadata.RequestedAttribute {
	if f.AttrIndex == nil {
		return nil
	}
	as, ok := sp.AttributeService(*f.AttrIndex)
	if !ok {
		return nil
	}
	return as.Attributes
}

// showConsent renders P05 with exactly the attributes the Response will carry.
func (p *IdP) showConsent(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *flowState, id storage.Identity) {
	if p.o.OwnService != nil && p.o.OwnService(sp.EntityID) {
		// The IdP's own personal area: the citizen's data stay with the
		// provider that holds them, so there is nothing to authorise.
		if p.markAnswered(w, r, f) {
			p.answer(w, r, sp, f)
		}
		return
	}
	attrs, err := response.AttributesFor(id, requested(sp, f))
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "attributes of identity", "identity", id.ID, "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	sealed, err := p.flows.seal(f)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "sealing flow", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	page := templates.ConsentPage{
		Service:   p.service(sp, f, templates.Lang(r)),
		CSRF:      p.csrfToken(f),
		Action:    PathConsent + "?" + fieldFlow + "=" + sealed,
		Performed: spid.Level(f.Performed),
		// ui.md P05: two buttons only; "Annulla" (nr25) lives on the login page.
		AllowCancel: false,
		Offline:     f.ExtOffline,
	}
	page.Self = PathLogin + "?" + fieldFlow + "=" + sealed
	for _, a := range attrs {
		page.Attributes = append(page.Attributes, templates.Attribute{Name: a.Name, Value: a.Value})
	}
	p.render(w, r, http.StatusOK, templates.PageConsent, page)
}

// consent handles P05: accept sends the Response, deny nr22, cancel nr25.
func (p *IdP) consent(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.openFlow(w, r)
	if !ok {
		return
	}
	if !f.authenticated() {
		p.fail(w, r, templates.ReasonBadRequest)
		return
	}
	if !p.markAnswered(w, r, f) {
		return
	}
	switch r.PostForm.Get(templates.FieldOp) {
	case templates.OpAccept:
		f.ExtOfflineGranted = f.ExtOffline && r.PostForm.Get(templates.FieldOffline) == "1"
	case templates.OpDeny:
		p.spAnomaly(w, r, sp, f, spid.NrConsentDenied, "consent refused")
		return
	case templates.OpCancel:
		p.spAnomaly(w, r, sp, f, spid.NrCancelled, "cancelled on the consent page")
		return
	default:
		p.fail(w, r, templates.ReasonBadRequest)
		return
	}
	p.answer(w, r, sp, f)
}

// markAnswered marks the flow answered; false (with the page sent) when it
// was already: a form posted twice, or an old copy of it replayed, stops
// here, since a flow answers the SP once.
func (p *IdP) markAnswered(w http.ResponseWriter, r *http.Request, f *flowState) bool {
	ctx := r.Context()
	err := p.o.Eph.InsertRequestID(ctx, "flowdone:"+f.ID, f.created().Add(p.o.ConsentTimeout+2*time.Hour))
	if errors.Is(err, storage.ErrAlreadyExists) {
		p.o.Log.InfoContext(ctx, "flow already answered", "flow", f.ID)
		p.fail(w, r, templates.ReasonFlowExpired)
		return false
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "marking flow", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
		return false
	}
	return true
}

// answer sends the success Response of an authenticated, consented flow.
func (p *IdP) answer(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *flowState) {
	ctx := r.Context()
	id, err := p.o.Store.GetIdentity(ctx, f.Identity)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "identity of flow", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	if id.Status != storage.IdentityActive {
		p.spAnomaly(w, r, sp, f, spid.NrSuspendedRevoked, "identity is "+string(id.Status))
		return
	}
	if id.SessionEpoch != f.Epoch {
		// The identity's sessions were ended after this flow checked its
		// credentials (password changed, device revoked, suspended and
		// reactivated): what it proved no longer holds, so it answers
		// nothing and opens no session. The citizen starts again.
		p.o.Log.InfoContext(ctx, "flow outlived the end of the identity's sessions", "flow", f.ID)
		if err := p.o.Audit.Record(ctx, storageEvent(id.ID, "sso.consent", f.SP, audit.Denied,
			map[string]string{"flow": f.ID, "reason": "sessions of the identity ended during the flow"})); err != nil {
			p.o.Log.ErrorContext(ctx, "audit", "err", err)
		}
		p.fail(w, r, templates.ReasonFlowExpired)
		return
	}
	if f.Ext != "" {
		p.externalDone(w, r, f, id)
		return
	}
	attrs, err := response.AttributesFor(id, requested(sp, f))
	if err != nil {
		p.o.Log.ErrorContext(ctx, "attributes of identity", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}

	nameID := response.RandomID()
	authnInstant := time.UnixMilli(f.AuthnInstant).UTC()
	s := response.Success{
		InResponseTo: f.RequestID, RequestIssueInstant: time.UnixMilli(f.RequestIssueInstant).UTC(),
		Destination: f.ACS, Audience: sp.EntityID, NameID: nameID, Level: spid.Level(f.Performed),
		AuthnInstant: authnInstant, IncludeAttributeStatement: f.AttrIndex != nil, Attributes: attrs,
	}
	// Only SpidL1 requests join (or open) the SSO session (spec §6.1, §7.1).
	if spid.Level(f.Level) == spid.L1 && spid.Level(f.Performed) == spid.L1 {
		index, err := p.joinSession(w, r, f, authnInstant, sp.EntityID, nameID)
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
	ev := storageEvent(id.ID, "sso.response", sp.EntityID, audit.Success, map[string]string{
		"spid_code": id.Attributes["spidCode"], "in_response_to": f.RequestID, "name_id": nameID,
		"level": strconv.Itoa(f.Performed), "reused_session": strconv.FormatBool(f.Session != ""), "flow": f.ID,
	})
	if err := p.responseSent(ctx, &ev, sp.EntityID, id.Attributes["spidCode"], f.RequestID, xml); err != nil {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	if p.o.OnAuthenticated != nil {
		p.o.OnAuthenticated(ctx, id.ID, p.now())
	}
	form := response.PostForm(f.ACS, "SAMLResponse", xml, f.RelayState)
	csp.AllowFormTo(w.Header(), form.Action)
	p.render(w, r, http.StatusOK, templates.PageTransfer, templates.TransferPage{
		SPName: spName(sp, templates.Lang(r)), Action: form.Action, Fields: fields(form)})
}
