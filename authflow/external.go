package authflow

import (
	"net/http"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// External front ends (the OpenID Provider) hand the IdP a login to run on
// the same pages as SAML: credentials, level 2, consent, lockout, audit.
// The flow carries an opaque handle; at its end the IdP calls back the
// front end, which answers its relying party. This is the narrow seam
// until the flow engine leaves idp/ (issue 16, item 6).

// ExternalLogin is a login asked for by an external front end.
type ExternalLogin struct {
	// Handle names the front end's pending request; it comes back in the
	// outcome.
	Handle string
	// Client is the relying party's id and Name what the pages show.
	Client, Name string
	// Level is the minimum level (performed may be higher).
	Level spid.Level
	// ForceAuthn: never reuse the SpidL1 session.
	ForceAuthn bool
	// Attributes are the SAML attributes whose values will be released,
	// listed on the consent page.
	Attributes []metadata.RequestedAttribute
	// Offline asks the consent page for the separate opt-in to a long
	// revocable session (OIDC offline_access).
	Offline bool
	// AttributeAuthorities are the AA entity ids the relying party asked
	// for (authorization_details); those in the registry are offered after
	// consent (aa.go).
	AttributeAuthorities []string
}

// ExternalAuthentication is a completed, consented login.
type ExternalAuthentication struct {
	Identity     storage.Identity
	Level        spid.Level
	AuthnInstant time.Time
	// SessionReused is true when an SpidL1 SSO session answered.
	SessionReused bool
	// Session is the SSO session that answered ("" when none): revoking
	// the front end's tokens may end it (oidc-federation.md §7).
	Session string
	// Offline is true when the citizen opted in to a long revocable
	// session on the consent page.
	Offline bool
	// AttributeAuthorities are the AAs the citizen chose and authorised:
	// the front end issues a grant token for each (attrauth.Service.Issue).
	AttributeAuthorities []string
}

// ExternalFinisher is the front end's side of the seam.
type ExternalFinisher interface {
	// ExternalDone answers the relying party after consent.
	ExternalDone(w http.ResponseWriter, r *http.Request, handle string, a ExternalAuthentication)
	// ExternalRefused answers it after a refusal, with the SPID anomaly the
	// SAML side would have sent (nr19–nr25) and a reason for the log.
	ExternalRefused(w http.ResponseWriter, r *http.Request, handle string, code spid.Anomaly, reason string)
}

// SetExternal installs the external front end; call it before serving.
func (p *Engine) SetExternal(f ExternalFinisher) { p.external = f }

// StartExternal begins a login for an external front end: the SpidL1
// session when the level allows it, else the login page.
func (p *Engine) StartExternal(w http.ResponseWriter, r *http.Request, req ExternalLogin) {
	ctx := r.Context()
	browser, err := p.cookies.browserID(w, r)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "browser cookie", "err", err)
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	zero := 0
	f := &State{
		ID: randomHex(16), Browser: browser, Created: p.now().UnixMilli(),
		SP: req.Client, RequestID: req.Handle, RequestIssueInstant: p.now().UnixMilli(),
		Level: int(req.Level), Comparison: "minimum", ForceAuthn: req.ForceAuthn,
		AttrIndex: &zero, Ext: req.Handle, ExtName: req.Name, ExtAttrs: attributeNames(req.Attributes),
		ExtOffline: req.Offline,
	}
	f.AAs = p.RequestedAAs(r.Context(), req.AttributeAuthorities)
	p.Begin(w, r, externalSP(f), f)
}

func attributeNames(as []metadata.RequestedAttribute) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}

// externalSP describes the relying party of an external flow in the shape
// the pages use: its name and one attribute service with the attributes
// to be released.
func externalSP(f *State) *metadata.SP {
	as := metadata.AttributeService{Index: 0, IsDefault: true, ServiceName: map[string]string{"it": f.ExtName}}
	for _, a := range f.ExtAttrs {
		as.Attributes = append(as.Attributes, metadata.RequestedAttribute{Name: a})
	}
	return &metadata.SP{EntityID: f.SP, DisplayName: map[string]string{"it": f.ExtName},
		AttributeServices: []metadata.AttributeService{as}}
}

// externalRefused ends an external flow with an anomaly.
func (p *Engine) externalRefused(w http.ResponseWriter, r *http.Request, f *State, code spid.Anomaly, reason string) {
	actor := f.Identity
	if actor == "" {
		actor = "anonymous"
	}
	if err := p.o.Audit.Record(r.Context(), storageEvent(actor, "oidc.authorization", f.SP, audit.Failure, map[string]string{
		"anomaly": code.String(), "reason": reason, "flow": f.ID})); err != nil {
		p.o.Log.ErrorContext(r.Context(), "audit of an external anomaly", "err", err)
	}
	if p.external == nil {
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	p.external.ExternalRefused(w, r, f.Ext, code, reason)
}

// externalDone hands a consented external flow to its front end. SSO
// sessions are reused but not opened or joined by external flows yet:
// Single Logout would otherwise look for a SAML SP of that id.
func (p *Engine) externalDone(w http.ResponseWriter, r *http.Request, f *State, id storage.Identity) {
	if p.external == nil {
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	if p.o.OnAuthenticated != nil {
		p.o.OnAuthenticated(r.Context(), id.ID, p.now())
	}
	p.external.ExternalDone(w, r, f.Ext, ExternalAuthentication{Identity: id, Level: spid.Level(f.Performed),
		AuthnInstant: time.UnixMilli(f.AuthnInstant).UTC(), SessionReused: f.Session != "", Session: f.Session, Offline: f.ExtOffline && f.ExtOfflineGranted,
		AttributeAuthorities: f.AAChosen})
}
