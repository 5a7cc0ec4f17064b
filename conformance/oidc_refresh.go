package conformance

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Long revocable sessions (spec oidc-federation.md §4.3): offline_access
// with prompt=consent at SpidL1, the citizen ticking the consent page's
// opt-in, refresh tokens, their rotation and revocation.

// refreshWindow is the 30 days of a long revocable session, in seconds.
const refreshWindow = 30 * 24 * 3600

// offlineAuthz is rp's SpidL1 request with offline_access and
// prompt=consent, the only shape that may end in a refresh token.
func (e *oidcEnv) offlineAuthz(rp *simRP) *authz {
	a := e.newAuthz(rp, acrL1)
	a.ro["scope"] = "openid offline_access"
	a.ro["prompt"] = "consent"
	a.http.Set("scope", "openid offline_access")
	return a
}

// offlineLogin logs in with a (in browser b, or a fresh one when nil),
// answering the opt-in as optIn says, and redeems the code.
func (e *oidcEnv) offlineLogin(ctx context.Context, j *judge, b *browser, a *authz, optIn bool) *flow {
	choice := choiceAccept
	if optIn {
		choice = choiceOffline
	}
	f := e.loginIn(ctx, j, b, a, choice)
	if f == nil || !e.exchange(ctx, j, f, e.tokenForm(a, f.code)) {
		return nil
	}
	return f
}

// refreshForm is a refresh request of rp.
func (e *oidcEnv) refreshForm(rp *simRP, token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {rp.ID}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {rp.assertion(e.ec.endpoint("token_endpoint"), nil)}, "refresh_token": {token}}
}

func (e *oidcEnv) refresh(ctx context.Context, rp *simRP, token string, extra url.Values) (*backResp, error) {
	form := e.refreshForm(rp, token)
	for k, v := range extra {
		form[k] = v
	}
	return e.back(ctx, http.MethodPost, e.ec.endpoint("token_endpoint"), form, "")
}

// judgeRefreshToken applies O064 and O065 to a refresh token and returns
// its iat and exp.
func (e *oidcEnv) judgeRefreshToken(j *judge, rp *simRP, rt string) (iat, exp int64, ok bool) {
	h, c, err := verifyJWS(rt, e.ec.coreKeys)
	if !j.ensure("O064", err == nil, "refresh token: %v", err) {
		return 0, 0, false
	}
	j.ensure("O064", h.Algorithm != "" && h.KeyID != "", "refresh token header alg %q kid %q", h.Algorithm, h.KeyID)
	j.ensure("O064", claimStr(c, "iss") == e.opt.Issuer, "refresh token iss %v, want %s", c["iss"], e.opt.Issuer)
	j.ensure("O064", claimStr(c, "aud") == rp.ID || slices.Contains(strSlice(c["aud"]), rp.ID), "refresh token aud %v, want the client_id", c["aud"])
	j.ensure("O064", claimStr(c, "client_id") == rp.ID, "refresh token client_id %v", c["client_id"])
	j.ensure("O064", claimStr(c, "jti") != "", "refresh token without jti")
	iat, ok1 := claimInt(c, "iat")
	exp, ok2 := claimInt(c, "exp")
	if !j.ensure("O064", ok1 && ok2, "refresh token iat %v exp %v", c["iat"], c["exp"]) {
		return 0, 0, false
	}
	j.ensure("O065", exp-iat < refreshWindow && exp > iat, "refresh token exp − iat = %d s, want less than 30 days", exp-iat)
	return iat, exp, true
}

// caseRefresh: declining the opt-in gives a login without refresh token;
// ticking it gives one, which rotates, keeps its family inside the 30
// days, and, once spent, revokes the family when presented again.
func caseRefresh(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	tokenURL := e.ec.endpoint("token_endpoint")

	// Declined: a successful login, no refresh token (O035, O063).
	if f := e.offlineLogin(ctx, j, nil, e.offlineAuthz(e.rp), false); f != nil {
		j.ensure("O035", f.out.OfflineOffered, "the consent page of an offline_access request has no %q opt-in checkbox", e.opt.Fields.Offline)
		j.ensure("O035", f.tok.json["refresh_token"] == nil, "a refresh token although the opt-in was not ticked")
		j.ensure("O063", f.tok.json["refresh_token"] == nil, "a refresh token although the opt-in was not ticked")
	}
	if j.rows["O035"] != nil && j.rows["O035"].Status != Pass {
		return j.result()
	}

	// Ticked.
	a := e.offlineAuthz(e.rp)
	start, _ := a.ro["iat"].(int64)
	f := e.offlineLogin(ctx, j, nil, a, true)
	if f == nil {
		return j.result()
	}
	rt1 := f.tok.str("refresh_token")
	if !j.ensure("O063", rt1 != "", "no refresh token after offline_access, prompt=consent, SpidL1 and the opt-in") {
		return j.result()
	}
	j.ok("O035")
	iat1, exp1, ok := e.judgeRefreshToken(j, e.rp, rt1)
	if !ok {
		return j.result()
	}
	loggedIn := time.Now().Unix()

	// Refusals that must not spend the token (O070).
	for _, tc := range []struct {
		what  string
		rp    *simRP
		token string
	}{
		{"an unknown refresh token", e.rp, "unknown-" + randomString(40)},
		{"an access token as refresh token", e.rp, f.accessJWT},
		{"the ID token as refresh token", e.rp, f.tok.str("id_token")},
		{"another client's refresh token", e.rp2, rt1},
	} {
		res, err := e.refresh(ctx, tc.rp, tc.token, nil)
		if err != nil {
			j.fail("O070", "%s: %v", tc.what, err)
			continue
		}
		j.ensure("O070", res.status == 400 && res.str("error") == "invalid_grant", "%s: HTTP %d %s, want 400 invalid_grant", tc.what, res.status, clip(string(res.body), 200))
		judgeTokenError(j, "O053", res, "invalid_grant", 400)
	}

	// A refresh carrying redirect_uri (O071): new tokens (O068). It waits
	// until two seconds after the first token, so that CU1/CU2 (an end
	// fixed at session start) and CU3 (an end moving with each iat) give
	// different expiries.
	select {
	case <-ctx.Done():
		return j.result()
	case <-time.After(time.Until(time.Unix(iat1+2, 0))):
	}
	res, err := e.refresh(ctx, e.rp, rt1, url.Values{"redirect_uri": {a.rp.RedirectURI}})
	if err != nil {
		j.fail("O068", "%v", err)
		return j.result()
	}
	j.evidence = string(res.body)
	if !j.ensure("O071", res.status == http.StatusOK, "refresh with redirect_uri: HTTP %d %s", res.status, clip(string(res.body), 300)) {
		return j.result()
	}
	j.ensure("O054", res.header.Get("Cache-Control") == "no-store" && res.header.Get("Pragma") == "no-cache",
		"refresh answer Cache-Control %q Pragma %q", res.header.Get("Cache-Control"), res.header.Get("Pragma"))
	rt2, at2, idt2 := res.str("refresh_token"), res.str("access_token"), res.str("id_token")
	j.ensure("O068", rt2 != "" && rt2 != rt1, "the refresh gave no new refresh token")
	j.ensure("O068", at2 != "" && at2 != f.accessJWT, "the refresh gave no new access token")
	j.ensure("O068", res.str("token_type") == "Bearer" && res.json["expires_in"] == float64(accessTokenLifetime), "token_type %v expires_in %v", res.json["token_type"], res.json["expires_in"])
	_, atc, errA := verifyJWS(at2, e.ec.coreKeys)
	j.ensure("O068", errA == nil && claimStr(atc, "sub") == claimStr(f.idt, "sub"), "refreshed access token: %v sub %v", errA, atc["sub"])
	_, idc, errI := verifyJWS(idt2, e.ec.coreKeys)
	if j.ensure("O068", errI == nil, "refreshed ID token: %v", errI) {
		j.ensure("O068", claimStr(idc, "acr") == acrL1, "refreshed ID token acr %v, want SpidL1", idc["acr"])
		j.ensure("O068", claimStr(idc, "sub") == claimStr(f.idt, "sub") && (claimStr(idc, "aud") == e.rp.ID || slices.Contains(strSlice(idc["aud"]), e.rp.ID)),
			"refreshed ID token sub %v aud %v", idc["sub"], idc["aud"])
		iexp, _ := claimInt(idc, "exp")
		j.ensure("O068", iexp > 0 && iexp <= loggedIn+refreshWindow, "refreshed ID token exp %d after the session's 30 days (login at %d)", iexp, loggedIn)
	}
	if iat2, exp2, ok := e.judgeRefreshToken(j, e.rp, rt2); ok {
		judgeUseCase(j, start, loggedIn, iat1, exp1, iat2, exp2)
	}
	if ui, err := e.back(ctx, http.MethodGet, e.ec.endpoint("userinfo_endpoint"), nil, at2); err == nil {
		j.ensure("O068", ui.status == http.StatusOK, "userinfo with the refreshed access token: HTTP %d", ui.status)
	}

	// O069: the spent token again → invalid_grant, and the family ends.
	if res, err := e.back(ctx, http.MethodPost, tokenURL, e.refreshForm(e.rp, rt1), ""); err == nil {
		judgeTokenError(j, "O069", res, "invalid_grant", 400)
	}
	if res, err := e.back(ctx, http.MethodPost, tokenURL, e.refreshForm(e.rp, rt2), ""); err == nil {
		j.ensure("O069", res.status == 400 && res.str("error") == "invalid_grant", "the family's newest token after a reuse: HTTP %d %s, want 400 invalid_grant", res.status, clip(string(res.body), 200))
		j.ensure("O070", res.status == 400 && res.str("error") == "invalid_grant", "a revoked refresh token: HTTP %d %s", res.status, clip(string(res.body), 200))
	}
	if ui, err := e.back(ctx, http.MethodGet, e.ec.endpoint("userinfo_endpoint"), nil, at2); err == nil {
		j.ensure("O069", ui.status == http.StatusUnauthorized, "the revoked family's access token still opens userinfo (HTTP %d)", ui.status)
	}
	return j.result()
}

// caseRevokeSession (O084): revoking an access token of a long session
// opened inside an SSO session revokes its refresh token and ends that SSO
// session; the citizen's other long session lives on.
func caseRevokeSession(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	revo := e.ec.endpoint("revocation_endpoint")
	if revo == "" {
		return []Row{row(Skip, "the OP publishes no revocation endpoint")}
	}
	j := newJudge()
	b := e.newBrowser()
	f := e.offlineLogin(ctx, j, b, e.offlineAuthz(e.rp), true)
	other := e.offlineLogin(ctx, j, nil, e.offlineAuthz(e.rp), true)
	if f == nil || other == nil {
		return j.result()
	}
	rt, ort := f.tok.str("refresh_token"), other.tok.str("refresh_token")
	if !j.ensure("O063", rt != "" && ort != "", "no refresh token after the opt-in") {
		return j.result()
	}
	// The browser now holds an SSO session: prompt=consent at SpidL1 asks
	// for no credentials (O034).
	o, err := e.sendIn(ctx, b, e.offlineAuthz(e.rp), choiceNoLogin)
	if err != nil {
		j.fail("O084", "%v", err)
		return j.result()
	}
	sso := o.Kind != "login"
	if !sso {
		j.evidence = "the OP opened no SSO session at the OIDC login: only the refresh tokens are checked"
	}
	res, err := e.back(ctx, http.MethodPost, revo, url.Values{"client_id": {e.rp.ID}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {e.rp.assertion(revo, nil)}, "token": {f.accessJWT}}, "")
	if err != nil || !j.ensure("O083", res.status == 200, "revoking the access token: HTTP %d", res.status) {
		return j.result()
	}
	if res, err := e.refresh(ctx, e.rp, rt, nil); err == nil {
		judgeTokenError(j, "O084", res, "invalid_grant", 400)
		j.ensure("O070", res.status == 400 && res.str("error") == "invalid_grant", "a revoked refresh token: HTTP %d %s", res.status, clip(string(res.body), 200))
	}
	if ui, err := e.back(ctx, http.MethodGet, e.ec.endpoint("userinfo_endpoint"), nil, other.accessJWT); err == nil {
		j.ensure("O084", ui.status == http.StatusOK, "the citizen's other access token died with the revoked one (userinfo HTTP %d)", ui.status)
	}
	if res, err := e.refresh(ctx, e.rp, ort, nil); err == nil {
		j.ensure("O084", res.status == http.StatusOK && res.str("refresh_token") != "", "the citizen's other refresh token died with the revoked one: HTTP %d %s", res.status, clip(string(res.body), 200))
	}
	if sso {
		o, err := e.sendIn(ctx, b, e.offlineAuthz(e.rp), choiceNoLogin)
		if err == nil {
			j.ensure("O084", o.Kind == "login", "after the revocation the browser's SSO session still answers (the flow ended as %q at %s)", o.Kind, o.URL)
		}
	}
	return j.result()
}

// expiredRefreshMargin is how long after the login the refresh token of
// caseRefreshExpired should expire.
const expiredRefreshMargin = 10 * time.Second

// caseRefreshExpired (O070): an expired refresh token → 400 invalid_grant.
// Refresh tokens live up to 30 days; under CU1/CU2 they end at the
// session start, the request object's iat (spec §4.3 [DEC]), so a request
// object issued 30 days ago less a few seconds yields a token that expires
// seconds after the login. An OP applying CU3 to the simulated RP, or
// refusing so old a request object, leaves the check not done.
func caseRefreshExpired(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	a := e.offlineAuthz(e.rp)
	iat := time.Now().Add(-refreshWindow*time.Second + expiredRefreshMargin).Unix()
	a.ro["iat"] = iat
	lj := newJudge() // the login's own items are judged by the other cases
	f := e.offlineLogin(ctx, lj, nil, a, true)
	if f == nil {
		why := "the login failed"
		for _, r := range lj.result() {
			if r.Status != Pass {
				why = r.Reason
				break
			}
		}
		return rowsFor([]string{"O070"}, Skip, "not checked: a login whose request object was issued 30 days ago did not end in tokens ("+clip(why, 200)+")", nil)
	}
	j := newJudge()
	j.evidence = string(f.tok.body)
	rt := f.tok.str("refresh_token")
	if !j.ensure("O063", rt != "", "no refresh token after offline_access, prompt=consent, SpidL1 and the opt-in") {
		return j.result()
	}
	_, c, err := verifyJWS(rt, e.ec.coreKeys)
	exp, ok := claimInt(c, "exp")
	if !j.ensure("O064", err == nil && ok, "refresh token: %v, exp %v", err, c["exp"]) {
		return j.result()
	}
	until := time.Unix(exp+2, 0) // a second for the OP's clock
	if wait := time.Until(until); wait > expiredRefreshMargin+time.Minute {
		j.set("O070", Skip, "not checked: the refresh token of a session started 30 days ago (request object iat %d) expires at %d, not at iat + 30 days: the OP applies CU3 to this RP, and an expired token would take 30 days", iat, exp)
		return j.result()
	}
	select {
	case <-ctx.Done():
		j.set("O070", Skip, "not checked: interrupted while waiting for the refresh token to expire")
		return j.result()
	case <-time.After(time.Until(until)):
	}
	res, err := e.refresh(ctx, e.rp, rt, nil)
	if err != nil {
		j.fail("O070", "refresh with an expired token: %v", err)
		return j.result()
	}
	j.evidence = string(res.body)
	j.ensure("O070", res.status == 400 && res.str("error") == "invalid_grant", "an expired refresh token (exp %d, now %d): HTTP %d %s, want 400 invalid_grant",
		exp, time.Now().Unix(), res.status, clip(string(res.body), 200))
	return j.result()
}

// judgeUseCase judges a family's first two refresh tokens (issued at iat1
// and, after a rotation, iat2) against the Avviso 41 use case they show;
// the session started between start and loggedIn. The use case is the
// OP's choice per RP: CU1/CU2 keep the family's end at session start + 30
// days (O066), CU3 gives each token 30 days less a second from its own iat
// (O067).
func judgeUseCase(j *judge, start, loggedIn, iat1, exp1, iat2, exp2 int64) {
	switch {
	case exp2 == iat2+refreshWindow-1 && iat2 > iat1:
		j.ensure("O067", exp1 == iat1+refreshWindow-1, "CU3 family: first token exp − iat = %d s, rotated %d s; want 30 days less a second each", exp1-iat1, exp2-iat2)
	default:
		// The session started between the request object's iat and the
		// code exchange; the first token may end a second earlier when
		// issued in the session's first second.
		j.ensure("O066", exp2 >= exp1 && exp2 <= exp1+1 && exp2 >= start+refreshWindow && exp2 <= loggedIn+refreshWindow,
			"CU1/CU2 family: tokens expire at %d then %d, session start %d–%d; want session start + 30 days for every token", exp1, exp2, start, loggedIn)
	}
}

// caseRefreshOtherRP (O066/O067): the use case the OP applies to the
// second relying party, which an operator may configure differently from
// the first (e.g. CU3 for RP B), so that one run evidences both.
func caseRefreshOtherRP(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	a := e.offlineAuthz(e.rp2)
	start, _ := a.ro["iat"].(int64)
	f := e.offlineLogin(ctx, j, nil, a, true)
	if f == nil {
		return j.result()
	}
	loggedIn := time.Now().Unix()
	rt1 := f.tok.str("refresh_token")
	if !j.ensure("O063", rt1 != "", "no refresh token after offline_access, prompt=consent, SpidL1 and the opt-in") {
		return j.result()
	}
	iat1, exp1, ok := e.judgeRefreshToken(j, e.rp2, rt1)
	if !ok {
		return j.result()
	}
	// Two seconds after the first token, as in caseRefresh.
	select {
	case <-ctx.Done():
		return j.result()
	case <-time.After(time.Until(time.Unix(iat1+2, 0))):
	}
	res, err := e.refresh(ctx, e.rp2, rt1, nil)
	if err != nil {
		j.fail("O068", "%v", err)
		return j.result()
	}
	j.evidence = string(res.body)
	if !j.ensure("O068", res.status == http.StatusOK && res.str("refresh_token") != "", "refresh: HTTP %d %s", res.status, clip(string(res.body), 300)) {
		return j.result()
	}
	if iat2, exp2, ok := e.judgeRefreshToken(j, e.rp2, res.str("refresh_token")); ok {
		judgeUseCase(j, start, loggedIn, iat1, exp1, iat2, exp2)
	}
	return j.result()
}
