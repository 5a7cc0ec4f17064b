package idp

import (
	"net/http"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// secondFactor continues a flow whose password step succeeded and which
// needs SpidL2. Until second factors exist, no identity has one: nr20.
func (p *IdP) secondFactor(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *flowState, id storage.Identity) {
	p.spAnomaly(w, r, sp, f, spid.NrLevelUnavailable, "no second-factor device")
}

// showSecondFactor shows the current second-factor step of f again (the
// language switch links here).
func (p *IdP) showSecondFactor(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *flowState) {
	p.spAnomaly(w, r, sp, f, spid.NrLevelUnavailable, "no second-factor device")
}
