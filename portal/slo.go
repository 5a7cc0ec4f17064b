package portal

import (
	"net/http"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// PathSLO is the portal's SingleLogoutService (HTTP-Redirect), named in its
// metadata: the IdP propagates a logout started elsewhere, the portal ends
// this browser's session and confirms.
const PathSLO = Prefix + "/slo"

func (p *Portal) slo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	msg, err := binding.Decode(r, spid.BindingRedirect, binding.Limits{})
	if err == nil {
		err = msg.Verify(p.idpCerts(), p.o.Now())
	}
	if err == nil && msg.Param != binding.ParamRequest {
		// The portal never starts a SAML logout, so no LogoutResponse is due.
		http.Redirect(w, r, PathHome, http.StatusSeeOther)
		return
	}
	if err != nil {
		_ = p.record(ctx, "anonymous", "portal.slo", p.entityID, audit.Failure, map[string]string{"reason": err.Error()})
		http.Error(w, "logout message refused", http.StatusBadRequest)
		return
	}
	if s, ok := p.session(r); ok {
		_ = p.record(ctx, s.IdentityID, "portal.logout", s.IdentityID, audit.Success, map[string]string{"via": "slo"})
		p.endSession(w, r, s)
	}
	idpSLO := p.o.IdPSLO
	xml, err := p.signer.LogoutResponse(response.LogoutResponse{
		InResponseTo: msg.Root.SelectAttrValue("ID", ""), Destination: idpSLO, Unsigned: true})
	if err == nil {
		var u string
		if u, err = p.signer.RedirectURL(idpSLO, xml, "SAMLResponse", msg.RelayState); err == nil {
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
	}
	p.o.Log.ErrorContext(ctx, "portal logout response", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
