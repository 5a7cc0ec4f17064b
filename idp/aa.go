package idp

import (
	"net/http"
	"strings"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
)

// samlGrants mints the grant tokens of a SAML Response once its ID is
// known (sid = "saml:" + ID), signed with the SAML signing key (A025). An
// AA whose token cannot be made is left out and logged: the citizen still
// logs in. issued collects what was sent, for the audit record.
func (p *IdP) samlGrants(r *http.Request, sp *metadata.SP, f *authflow.State, issued *[]string) func(string) ([]response.GrantToken, error) {
	return func(respID string) ([]response.GrantToken, error) {
		ctx := r.Context()
		id, err := p.o.Store.GetIdentity(ctx, f.Identity)
		if err != nil {
			return nil, err
		}
		pair := p.o.Builder.Signing
		if p.o.Builder.Keys != nil {
			pair = p.o.Builder.Keys()
		}
		signer, err := attrauth.SignerFor(pair.Key)
		if err != nil {
			return nil, err
		}
		got, err := p.flow.AttributeAuthorities().Issue(ctx, signer, p.o.EntityID, sp.EntityID, "saml:"+respID, spid.Level(f.Performed).ClassRef(), f.AAChosen, id)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "grant tokens", "flow", f.ID, "err", err)
		}
		out := make([]response.GrantToken, 0, len(got))
		for _, g := range got {
			out = append(out, response.GrantToken{Destination: g.AA, Token: g.Token})
			*issued = append(*issued, g.AA+" "+g.JTI)
		}
		return out, nil
	}
}

func joinGrants(issued []string) string { return strings.Join(issued, ", ") }
