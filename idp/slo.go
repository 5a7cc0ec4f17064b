package idp

import (
	"net/http"

	"github.com/spid-idp/spid-idp/templates"
)

// idpLogout closes the browser's SSO session (IdP-initiated logout).
// TODO(slo): propagate LogoutRequests to the session's SPs.
func (p *IdP) idpLogout(w http.ResponseWriter, r *http.Request) {
	p.fail(w, r, templates.ReasonNotFound)
}

// slo receives LogoutRequests and LogoutResponses from SPs.
// TODO(slo): implement.
func (p *IdP) slo(w http.ResponseWriter, r *http.Request) {
	p.fail(w, r, templates.ReasonNotFound)
}
