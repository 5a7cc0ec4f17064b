package authflow

import (
	"context"
	"net/http"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/templates"
)

// Attribute Authorities (oidc-federation.md §9): when the relying party
// asked for registry AAs, accepting P05 leads to the AA choice (attrauth
// decides what is offered) and, when some are chosen, to their consent;
// the front end then issues a grant token per consented AA (State.AAChosen).
// The AA logic lives in attrauth; this is the flow's step.

// PathAA receives the AA choice and consent forms.
const PathAA = "/aa"

// SetAttributeAuthorities installs the AA service; call it before serving.
// Without it AA requests are served as if no AA had been asked for.
func (p *Engine) SetAttributeAuthorities(s *attrauth.Service) { p.aa = s }

// AttributeAuthorities is the AA service (nil when none): front ends issue
// the grant tokens of a flow with it.
func (p *Engine) AttributeAuthorities() *attrauth.Service { return p.aa }

// RequestedAAs keeps the requested AA entity ids that name registry AAs;
// a front end puts them in State.AAs before Begin. None: the flow runs as
// if no AA had been asked for (spec §9.2, §9.6).
func (p *Engine) RequestedAAs(ctx context.Context, ids []string) []string {
	if p.aa == nil || len(ids) == 0 {
		return nil
	}
	return p.aa.Requested(ctx, ids)
}

// AAPending reports whether the flow asks for AAs the citizen may choose.
func (p *Engine) AAPending(f *State) bool { return p.aaPending(f) }

func (p *Engine) aaPending(f *State) bool { return p.aa != nil && len(f.AAs) > 0 }

// showAA renders the choice of AAs after P05 was accepted.
func (p *Engine) showAA(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	ctx := r.Context()
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
		return
	}
	opts, err := p.aa.Options(ctx, f.AAs, id)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "attribute authorities of flow", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	if len(opts) == 0 {
		// The AAs left the registry during the login: nothing to choose.
		p.aaFinish(w, r, sp, f, nil)
		return
	}
	p.renderAA(w, r, sp, f, opts, false)
}

// viewAA shows the AA step again (the language switch): the choice, or
// the consent to the AAs already chosen.
func (p *Engine) viewAA(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	if !f.AAConfirm {
		p.showAA(w, r, sp, f)
		return
	}
	ctx := r.Context()
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
		return
	}
	conf, err := p.aa.Confirmation(ctx, f.AAChosen, id)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "attribute authorities consent", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	p.renderAA(w, r, sp, f, conf, true)
}

func (p *Engine) renderAA(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, opts []templates.AAOption, confirm bool) {
	sealed, err := p.flows.seal(f)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "sealing flow", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	page := templates.AASelectPage{Service: p.service(sp, f, templates.Lang(r)), CSRF: p.csrfToken(f),
		Action: PathAA + "?" + fieldFlow + "=" + sealed, Confirm: confirm, AAs: opts}
	page.Self = PathLogin + "?" + fieldFlow + "=" + sealed
	attrauth.AllowLogos(w.Header(), opts)
	p.Render(w, r, http.StatusOK, templates.PageAASelect, page)
}

// aaStep handles the choice (continue, with zero or more AAs) and the AA
// consent (authorise or refuse; a refusal goes on without grant tokens).
func (p *Engine) aaStep(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.openFlow(w, r)
	if !ok {
		return
	}
	// Only a flow whose P05 was accepted (stepAA) reaches the AA step.
	if !f.authenticated() || !p.aaPending(f) || f.Step != stepAA {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	ctx := r.Context()
	switch op := r.PostForm.Get(templates.FieldOp); {
	case op == templates.OpContinue && !f.AAConfirm:
		id, ok := p.flowIdentity(w, r, f)
		if !ok {
			return
		}
		chosen, err := p.aa.Chosen(ctx, f.AAs, r.PostForm[templates.FieldAA], id)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "attribute authorities chosen", "err", err)
			p.Fail(w, r, templates.ReasonInternal)
			return
		}
		if len(chosen) == 0 {
			p.aaFinish(w, r, sp, f, nil) // none chosen: no AA consent (A016)
			return
		}
		conf, err := p.aa.Confirmation(ctx, chosen, id)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "attribute authorities consent", "err", err)
			p.Fail(w, r, templates.ReasonInternal)
			return
		}
		f.AAChosen, f.AAConfirm = chosen, true
		p.renderAA(w, r, sp, f, conf, true)
	case op == templates.OpAuthorise && f.AAConfirm:
		p.aaFinish(w, r, sp, f, f.AAChosen)
	case op == templates.OpRefuse && f.AAConfirm:
		p.aaFinish(w, r, sp, f, nil)
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
	}
}

// aaFinish answers the flow with grant tokens for chosen (none: a plain
// Response, A022), once.
func (p *Engine) aaFinish(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, chosen []string) {
	f.AAChosen = chosen
	if !p.markAnswered(w, r, f) {
		return
	}
	p.answer(w, r, sp, f)
}
