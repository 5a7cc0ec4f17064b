package authflow

import (
	"errors"
	"net/http"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Requested returns the attributes the flow's AttributeConsumingService
// asks for (nil when the request named none).
func Requested(sp *metadata.SP, f *State) []metadata.RequestedAttribute {
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
func (p *Engine) showConsent(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity) {
	if p.o.OwnService != nil && p.o.OwnService(sp.EntityID) {
		// The IdP's own personal area: the citizen's data stay with the
		// provider that holds them, so there is nothing to authorise.
		if p.markAnswered(w, r, f) {
			p.answer(w, r, sp, f)
		}
		return
	}
	attrs, err := response.AttributesFor(id, Requested(sp, f))
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "attributes of identity", "identity", id.ID, "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	sealed, err := p.flows.seal(f)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "sealing flow", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	page := templates.ConsentPage{
		Service:   p.service(sp, f, templates.Lang(r)),
		CSRF:      p.csrfToken(f),
		Action:    PathConsent + "?" + fieldFlow + "=" + sealed,
		Performed: spid.Level(f.Performed),
		// ui.md P05: two buttons only; "Annulla" (nr25) lives on the login page.
		AllowCancel: false,
		Offline:     f.Offline,
	}
	page.Self = PathLogin + "?" + fieldFlow + "=" + sealed
	for _, a := range attrs {
		page.Attributes = append(page.Attributes, templates.Attribute{Name: a.Name, Value: a.Value})
	}
	p.Render(w, r, http.StatusOK, templates.PageConsent, page)
}

// consent handles P05: accept sends the Response, deny nr22, cancel nr25.
func (p *Engine) consent(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.openFlow(w, r)
	if !ok {
		return
	}
	if !f.authenticated() {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	if r.PostForm.Get(templates.FieldOp) == templates.OpAccept && p.aaPending(f) {
		// The AA choice comes next (aa.go); the flow is answered there.
		f.OfflineGranted = f.Offline && r.PostForm.Get(templates.FieldOffline) == "1"
		f.Step = stepAA
		p.showAA(w, r, sp, f)
		return
	}
	if !p.markAnswered(w, r, f) {
		return
	}
	switch r.PostForm.Get(templates.FieldOp) {
	case templates.OpAccept:
		f.OfflineGranted = f.Offline && r.PostForm.Get(templates.FieldOffline) == "1"
	case templates.OpDeny:
		p.spAnomaly(w, r, sp, f, spid.NrConsentDenied, "consent refused")
		return
	case templates.OpCancel:
		p.spAnomaly(w, r, sp, f, spid.NrCancelled, "cancelled on the consent page")
		return
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	p.answer(w, r, sp, f)
}

// markAnswered marks the flow answered; false (with the page sent) when it
// was already: a form posted twice, or an old copy of it replayed, stops
// here, since a flow answers the SP once.
func (p *Engine) markAnswered(w http.ResponseWriter, r *http.Request, f *State) bool {
	ctx := r.Context()
	// The mark need not be on disk before the answer is built, only before
	// it leaves: every answer is recorded by a synced commit after this one
	// (the Response's register record and audit event), which makes the
	// mark durable too; a crash before that sent nothing, and the form may
	// be posted again.
	err := p.o.Eph.InsertRequestID(storage.SyncLater(ctx), "flowdone:"+f.ID, f.created().Add(p.o.ConsentTimeout+2*time.Hour))
	if errors.Is(err, storage.ErrAlreadyExists) {
		p.o.Log.InfoContext(ctx, "flow already answered", "flow", f.ID)
		p.Fail(w, r, templates.ReasonFlowExpired)
		return false
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "marking flow", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return false
	}
	return true
}

// answer sends the success Response of an authenticated, consented flow.
func (p *Engine) answer(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	ctx := r.Context()
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
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
		if err := p.o.Audit.Record(ctx, Event(id.ID, "sso.consent", f.SP, audit.Denied,
			map[string]string{"flow": f.ID, "reason": "sessions of the identity ended during the flow"})); err != nil {
			p.o.Log.ErrorContext(ctx, "audit", "err", err)
		}
		p.Fail(w, r, templates.ReasonFlowExpired)
		return
	}
	p.front(f).Answer(w, r, sp, f, id)
}
