package idp

import (
	"net/http"

	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/templates"
)

// sessionPage is P10: who is signed in and which services got their data.
func (p *IdP) sessionPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	browser, err := p.flow.BrowserID(w, r)
	if err != nil {
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	page := templates.SessionPage{CSRF: csrf.Token(p.csrfKey, browser+"|session"), Action: PathLogout}
	if s, id, ok := p.flow.CurrentSession(ctx, r); ok {
		page.Name = id.Attributes["name"] + " " + id.Attributes["familyName"]
		page.Level, page.Since = spid.Level(s.Level), s.AuthnInstant
		var slo []string
		for _, part := range s.Participants { // one per SP
			name := part.SPEntityID
			if sp, err := p.o.SPs.LookupSP(ctx, part.SPEntityID); err == nil {
				name = authflow.SPName(sp, templates.Lang(r))
				if ep, ok := sloEndpoint(sp, spid.BindingRedirect); ok && ep.Binding == spid.BindingRedirect {
					slo = append(slo, ep.Location)
				}
			}
			page.Services = append(page.Services, name)
		}
		// "Sign out of every service" answers with a redirect to the
		// first SP's SingleLogoutService, and browsers hold the redirect
		// of a form post to the form-action of the page that posted:
		// this page may reach exactly the SLO services of its session.
		csp.AllowFormTo(w.Header(), slo...)
	}
	p.render(w, r, http.StatusOK, templates.PageSession, page)
}
