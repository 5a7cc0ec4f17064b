package conformance

import (
	"context"
	"net/http"
	"net/url"
)

// OIDC Attribute Authority items (spec §9.6, A035–A038): the AA is named
// by OIDCOptions.AAEntityID, as in the SAML part.

const (
	aaRequiredType = "https://spid.gov.it/attribute-authority/required-aa"
	aaGrantType    = "https://spid.gov.it/attribute-authority/grant-token"
)

func caseOIDCAA(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	aa := e.opt.AAEntityID
	if aa == "" {
		return rowsFor([]string{"A035", "A036", "A037", "A038"}, Skip, "not checked: no AA entity id given (--aa-entity-id)", nil)
	}
	j := newJudge()
	// A036: authorization_details without locations → a normal login,
	// no selection, no tokens claim.
	a := e.newAuthz(e.rp, acrL1)
	a.ro["authorization_details"] = []any{map[string]any{"type": aaRequiredType}}
	b := e.newBrowser()
	b.aa = &aaAnswer{pick: []string{aa}}
	if f := e.loginIn(ctx, j, b, a, choiceAccept); f != nil && e.exchange(ctx, j, f, e.tokenForm(a, f.code)) {
		j.ensure("A036", !f.out.SawAAChoice, "AA choice shown for authorization_details without locations")
		j.ensure("A036", f.idt["tokens"] == nil, "ID token has tokens %v with no AA requested", f.idt["tokens"])
	}
	// A035, A037: the AA chosen and authorised → one grant token for it.
	a = e.newAuthz(e.rp, acrL1)
	a.ro["authorization_details"] = []any{map[string]any{"type": aaRequiredType, "locations": []string{aa, unlistedAA}}}
	b = e.newBrowser()
	b.aa = &aaAnswer{pick: []string{aa}}
	f := e.loginIn(ctx, j, b, a, choiceAccept)
	if f == nil || !e.exchange(ctx, j, f, e.tokenForm(a, f.code)) {
		return j.result()
	}
	offered := false
	for _, v := range f.out.AAOffered {
		offered = offered || v == aa
	}
	j.ensure("A035", f.out.SawAAChoice && offered, "no AA choice offering %s (offered %v)", aa, f.out.AAOffered)
	toks, _ := f.idt["tokens"].([]any)
	var grant string
	if len(toks) != 1 {
		j.fail("A037", "ID token tokens = %v, want one grant token", f.idt["tokens"])
		return j.result()
	}
	t, _ := toks[0].(map[string]any)
	grant, _ = t["token"].(string)
	j.ensure("A037", t["type"] == aaGrantType && t["aud"] == aa && grant != "", "tokens[0] = %v, want type %s, aud %s and a token", t, aaGrantType, aa)
	if grant == "" {
		return j.result()
	}
	// A038: the RP that received it sees it active; another RP does not.
	intro := e.ec.endpoint("introspection_endpoint")
	if intro == "" {
		return j.result()
	}
	ask := func(rp *simRP) *backResp {
		res, err := e.back(ctx, http.MethodPost, intro, url.Values{"client_id": {rp.ID}, "client_assertion_type": {clientAssertionType},
			"client_assertion": {rp.assertion(intro, nil)}, "token": {grant}}, "")
		if err != nil {
			j.fail("A038", "introspection: %v", err)
			return nil
		}
		return res
	}
	if res := ask(e.rp); res != nil {
		act, _ := res.json["act"].(map[string]any)
		j.ensure("A038", res.status == 200 && res.json["active"] == true, "grant introspection: HTTP %d active %v, want 200 true", res.status, res.json["active"])
		j.ensure("A038", res.str("token_type") == aaGrantType, "token_type %v, want %s", res.json["token_type"], aaGrantType)
		j.ensure("A038", res.str("iss") == e.opt.Issuer && res.str("aud") == aa && act["sub"] == e.rp.ID && res.json["exp"] != nil && res.json["sub"] != nil,
			"introspection claims iss %v aud %v act %v exp %v sub %v", res.json["iss"], res.json["aud"], res.json["act"], res.json["exp"], res.json["sub"])
	}
	if res := ask(e.rp2); res != nil {
		j.ensure("A038", res.status == 200 && res.json["active"] == false, "another RP's introspection of the grant: HTTP %d active %v, want 200 false", res.status, res.json["active"])
	}
	return j.result()
}
