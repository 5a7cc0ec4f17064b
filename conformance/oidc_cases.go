package conformance

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// oidcCase makes a case of the OIDC part.
func oidcCase(name, title string, ids []string, run func(ctx context.Context, e *oidcEnv) []Row) caseDef {
	return caseDef{name: name, title: title, ids: ids, oidc: run}
}

// oidcCases lists the OIDC cases in run order: the entity configuration
// first (every other case needs its endpoints), then logins, then the
// wrong requests.
func oidcCases() []caseDef {
	cs := []caseDef{
		oidcCase("oidc-entity-configuration", "OP entity configuration and metadata",
			[]string{"F001", "F002", "F003", "F004", "F005", "F006", "F007", "F009", "F010", "F011", "F012", "F013"}, caseEntityConfiguration),
		oidcCase("oidc-login-l1", "SpidL1 code flow: query response, token, ID token, access token, userinfo, code reuse",
			[]string{"O001", "O017", "O026", "O027", "O029", "O033", "O036", "O054", "O055", "O056", "O057", "O058", "O059", "O060", "O061", "O062", "O063", "O072", "O073", "O074", "O075", "O076", "O077", "O088", "F014"}, caseLoginL1),
		oidcCase("oidc-login-l2-post", "SpidL2 code flow by POST with form_post",
			[]string{"O001", "O028", "O029", "O034", "O058"}, caseLoginL2),
		oidcCase("oidc-pairwise", "same sub at the same RP, another at another RP; client assertion without kid",
			[]string{"O079", "O042"}, casePairwise),
		oidcCase("oidc-consent-refused", "consent refused → access_denied", []string{"O033", "O026"}, caseConsentRefused),
		oidcCase("oidc-level-not-offered", "a level the OP does not offer → access_denied", []string{"O030", "O026"}, caseLevelNotOffered),
		oidcCase("oidc-wrong-password", "wrong passwords: the login page again, then access_denied", []string{"O031", "O026"}, caseWrongPassword),
		oidcCase("oidc-resolve", "resolve endpoint for a cached RP and an unknown one", []string{"F031", "F032"}, caseResolve),
		oidcCase("oidc-rp-without-mark", "RP without trust mark: page error, no chain climbed", []string{"F016"}, caseNoMark),
		oidcCase("oidc-rp-foreign-mark", "RP showing another RP's trust mark: refused", []string{"F017"}, caseForeignMark),
	}
	for _, pc := range pageCases() {
		pc := pc
		cs = append(cs, oidcCase("oidc-authz-"+pc.name, pc.title, []string{pc.id}, func(ctx context.Context, e *oidcEnv) []Row { return e.expectPage(ctx, pc) }))
	}
	for _, rc := range redirectCases() {
		rc := rc
		cs = append(cs, oidcCase("oidc-authz-"+rc.name, rc.title, []string{rc.id, "O026"}, func(ctx context.Context, e *oidcEnv) []Row { return e.expectRedirect(ctx, rc) }))
	}
	for _, tc := range tokenCases() {
		tc := tc
		cs = append(cs, oidcCase("oidc-token-"+tc.name, tc.title, []string{tc.id, "O053"}, func(ctx context.Context, e *oidcEnv) []Row { return e.expectTokenError(ctx, tc) }))
	}
	cs = append(cs,
		oidcCase("oidc-token-code-errors", "code exchange with the wrong client, verifier or redirect_uri", []string{"O040", "O051", "O052", "O053"}, caseCodeErrors),
		oidcCase("oidc-userinfo-errors", "userinfo by POST and with a bad token", []string{"O072", "O073"}, caseUserinfoErrors),
		oidcCase("oidc-introspection-revocation", "introspection and revocation of an access token", []string{"O080", "O081", "O082", "O083", "O085"}, caseIntrospectRevoke),
		oidcCase("oidc-refresh", "offline_access: the consent opt-in, refresh tokens, rotation, reuse, refusals",
			[]string{"O035", "O063", "O064", "O065", "O066", "O067", "O068", "O069", "O070", "O071"}, caseRefresh),
		oidcCase("oidc-refresh-rp-b", "the Avviso 41 use case the OP applies to the second relying party",
			[]string{"O063", "O064", "O065", "O066", "O067", "O068"}, caseRefreshOtherRP),
		oidcCase("oidc-refresh-expired", "an expired refresh token is refused", []string{"O070", "O063", "O064"}, caseRefreshExpired),
		oidcCase("oidc-revocation-session", "revoking an access token ends its refresh tokens and SSO session, not the citizen's others",
			[]string{"O084", "O070", "O083"}, caseRevokeSession),
		oidcCase("oidc-aa", "authorization_details naming an AA: selection, tokens claim, grant content, introspection, revocation",
			append([]string{"A035", "A036", "A037", "A038", "A039", "A040"}, oidcGrantContentIDs...), caseOIDCAA),
		oidcCase("oidc-aa-expiry", "a grant token introspects inactive once expired", []string{"A039", "A035", "A037", "A038"}, caseOIDCAAExpiry),
	)
	return cs
}

// oidcNotCheckable lists what the OIDC part cannot verify from outside.
var oidcNotCheckable = []string{
	"F008, F015, F018–F030, F033–F037: the OP's configuration checks, chain resolution limits (path length, hints, policy operators, caching, key-rotation refresh, SSRF rules, fetch limits), trust-mark status calls, signed_jwks_uri and the transaction log are checked by the project's unit and end-to-end tests; a relying party sees only their effect, covered by F016, F017 and every successful login.",
	"O032 (suspended or revoked identities): needs such an identity, which a generic run does not have; the OP's own tests cover it. O030 is checked when the OP does not offer every level.",
	"O066/O067 (Avviso 41 use cases): a run evidences the use cases the OP applies to the two simulated RPs (CU1/CU2 or CU3); configure another use case for RP B (<base>/rp/b) to see both. An expired refresh token (O070) is obtained only under CU1/CU2, from a request object issued 30 days ago.",
	"A001–A003, A041 (Attribute Authorities): the registry's contents (which AAs the trust anchor lists, their keys, the unusable ones left out) and the AA's own exchange are not visible to a relying party and are checked by the project's tests; the SAML part runs A004–A034, the OIDC part A023–A040 (A031 and A034 with the required and lookup attributes of the AA's published OpenAPI document). A039's expiry part waits for the grant token to expire only up to --grant-expiry-wait.",
	"O078, O086, O087 (mapping unit tests, transaction log, replay sets) are internal to the OP.",
}

// ---- the entity configuration ----

func caseEntityConfiguration(ctx context.Context, e *oidcEnv) []Row {
	c, rows := e.fetchOPConfig(ctx)
	if c != nil {
		e.ec = c
	}
	return rows
}

// needEC makes a case skip when the entity configuration could not be read.
func (e *oidcEnv) needEC(ctx context.Context) []Row {
	if e.ec == nil {
		c, _ := e.fetchOPConfig(ctx)
		e.ec = c
	}
	if e.ec == nil || e.ec.endpoint("authorization_endpoint") == "" {
		return []Row{row(Skip, "the OP entity configuration could not be read (see oidc-entity-configuration)")}
	}
	return nil
}

// ---- logins ----

// flow is a completed code flow as the RP sees it.
type flow struct {
	a         *authz
	out       *outcome
	cb        url.Values
	code      string
	tok       *backResp
	idt, at   map[string]any
	idh, ath  jose.Header
	accessJWT string
}

var reUUID4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// login runs a to the authorization response; it fails j and returns nil
// when no code came back.
func (e *oidcEnv) login(ctx context.Context, j *judge, a *authz) *flow {
	return e.loginIn(ctx, j, nil, a, choiceAccept)
}

// loginIn is login in browser b (nil: a fresh one) answering the pages as
// choice says.
func (e *oidcEnv) loginIn(ctx context.Context, j *judge, b *browser, a *authz, choice consentChoice) *flow {
	o, err := e.sendIn(ctx, b, a, choice)
	if err != nil {
		if pe, ok := err.(*PageError); ok && e.driver == nil {
			e.driver = pe
		}
		j.fail("O027", "the flow did not reach the RP: %v", err)
		return nil
	}
	j.evidence = strings.Join(o.Trace, "\n")
	cb := callback(o)
	if o.Kind != "redirect" && o.Kind != "form" {
		j.fail("O027", "the flow ended on an OP page (HTTP %d %s): %s", o.Status, o.URL, clip(oneLine(string(o.Body)), 300))
		return nil
	}
	if !strings.HasPrefix(o.URL, a.rp.RedirectURI) && (o.Form == nil || o.Form.Action != a.rp.RedirectURI) {
		j.fail("O027", "the response went to %s, not the redirect_uri %s", o.URL, a.rp.RedirectURI)
		return nil
	}
	if cb.Get("error") != "" {
		j.fail("O027", "error %s (%s) instead of a code", cb.Get("error"), cb.Get("error_description"))
		return nil
	}
	j.ensure("O033", o.SawConsent, "no consent page was shown")
	j.ensure("O027", reUUID4.MatchString(cb.Get("code")), "code %q is not a UUID v4 (OPT 2.4.1)", cb.Get("code"))
	j.ensure("O027", cb.Get("state") == a.ro["state"], "state %q, want %q", cb.Get("state"), a.ro["state"])
	j.ensure("O027", cb.Get("iss") == e.opt.Issuer, "iss %q, want %q", cb.Get("iss"), e.opt.Issuer)
	return &flow{a: a, out: o, cb: cb, code: cb.Get("code")}
}

// exchange redeems the code and judges the token response and tokens.
func (e *oidcEnv) exchange(ctx context.Context, j *judge, f *flow, form url.Values) bool {
	res, err := e.back(ctx, http.MethodPost, e.ec.endpoint("token_endpoint"), form, "")
	if err != nil {
		j.fail("O054", "%v", err)
		return false
	}
	f.tok = res
	if !j.ensure("O054", res.status == http.StatusOK, "token endpoint HTTP %d: %s", res.status, clip(string(res.body), 300)) {
		return false
	}
	j.ensure("O054", res.header.Get("Content-Type") == "application/json" || strings.HasPrefix(res.header.Get("Content-Type"), "application/json;"),
		"Content-Type %q", res.header.Get("Content-Type"))
	j.ensure("O054", res.header.Get("Cache-Control") == "no-store", "Cache-Control %q, want exactly no-store", res.header.Get("Cache-Control"))
	j.ensure("O054", res.header.Get("Pragma") == "no-cache", "Pragma %q, want exactly no-cache", res.header.Get("Pragma"))
	j.ensure("O055", res.str("token_type") == "Bearer", "token_type %v", res.json["token_type"])
	j.ensure("O055", res.json["expires_in"] == float64(accessTokenLifetime), "expires_in %v, want 900", res.json["expires_in"])
	keys := e.ec.coreKeys
	idt, at := res.str("id_token"), res.str("access_token")
	var err1, err2 error
	f.idh, f.idt, err1 = verifyJWS(idt, keys)
	f.ath, f.at, err2 = verifyJWS(at, keys)
	f.accessJWT = at
	j.ensure("O055", err1 == nil, "id_token: %v", err1)
	j.ensure("O055", err2 == nil, "access_token: %v", err2)
	if err1 != nil || err2 != nil {
		return false
	}
	now := time.Now().Unix()
	rp := f.a.rp
	// ID token (O056–O061).
	j.ensure("O056", f.idh.Algorithm == "RS256" || f.idh.Algorithm == "RS512", "ID token alg %s", f.idh.Algorithm)
	j.ensure("O056", f.idh.KeyID != "", "ID token without kid")
	j.ensure("O056", strings.Count(idt, ".") == 2, "ID token is not a JWS (encrypted?)")
	j.ensure("F014", f.idh.KeyID == keyKID(keys) && f.ath.KeyID == keyKID(keys), "tokens signed with kid %s/%s, the current key openid_provider.jwks.keys[0] is %s", f.idh.KeyID, f.ath.KeyID, keyKID(keys))
	j.ensure("O057", claimStr(f.idt, "iss") == e.opt.Issuer, "iss %v", f.idt["iss"])
	j.ensure("O057", len(claimStr(f.idt, "sub")) >= 16, "sub %v does not look pairwise", f.idt["sub"])
	j.ensure("O057", claimStr(f.idt, "aud") == rp.ID, "aud %v, want the client_id as a string", f.idt["aud"])
	j.ensure("O057", reUUID4.MatchString(claimStr(f.idt, "jti")), "jti %v is not a UUID v4", f.idt["jti"])
	j.ensure("O057", f.idt["nonce"] == f.a.ro["nonce"], "nonce %v, want the request object's", f.idt["nonce"])
	j.ensure("O059", atHash(at, f.idh.Algorithm) == claimStr(f.idt, "at_hash"), "at_hash %v does not match the access token", f.idt["at_hash"])
	iat, okI := claimInt(f.idt, "iat")
	nbf, okN := claimInt(f.idt, "nbf")
	exp, okE := claimInt(f.idt, "exp")
	j.ensure("O060", okI && okN && okE && nbf == iat && exp == iat+idTokenLifetime, "iat %v nbf %v exp %v: want nbf = iat, exp = iat + 300", f.idt["iat"], f.idt["nbf"], f.idt["exp"])
	j.ensure("O060", okI && iat <= now+60 && now < exp+60, "ID token not valid now")
	for k := range f.idt {
		j.ensure("O061", slices.Contains([]string{"iss", "sub", "aud", "acr", "at_hash", "iat", "nbf", "exp", "jti", "nonce", "tokens", "sid", "auth_time", "c_hash"}, k),
			"ID token carries %q", k)
	}
	// Access token (O062).
	j.ensure("O062", f.ath.Algorithm == "RS256" || f.ath.Algorithm == "RS512", "access token alg %s", f.ath.Algorithm)
	j.ensure("O062", f.ath.KeyID != "", "access token without kid")
	j.ensure("O062", fmt.Sprint(f.ath.ExtraHeaders["typ"]) == typAccessToken, "access token typ %v, want at+jwt", f.ath.ExtraHeaders["typ"])
	j.ensure("O062", claimStr(f.at, "iss") == e.opt.Issuer && claimStr(f.at, "sub") == claimStr(f.idt, "sub"), "access token iss/sub %v/%v", f.at["iss"], f.at["sub"])
	j.ensure("O062", claimStr(f.at, "aud") == rp.ID || slices.Contains(strSlice(f.at["aud"]), rp.ID), "access token aud %v, want the client_id", f.at["aud"])
	j.ensure("O062", claimStr(f.at, "client_id") == rp.ID, "access token client_id %v", f.at["client_id"])
	j.ensure("O062", claimStr(f.at, "scope") != "", "access token without scope")
	j.ensure("O062", claimStr(f.at, "jti") != "", "access token without jti")
	aiat, ok1 := claimInt(f.at, "iat")
	aexp, ok2 := claimInt(f.at, "exp")
	j.ensure("O062", ok1 && ok2 && aexp == aiat+accessTokenLifetime, "access token iat %v exp %v: want exp = iat + 900", f.at["iat"], f.at["exp"])
	return true
}

// atHash is the OIDC at_hash for a token signed with alg.
func atHash(token, alg string) string {
	var sum []byte
	switch alg {
	case "RS512", "PS512", "ES512":
		s := sha512.Sum512([]byte(token))
		sum = s[:32]
	case "RS384", "PS384", "ES384":
		s := sha512.Sum384([]byte(token))
		sum = s[:24]
	default:
		s := sha256.Sum256([]byte(token))
		sum = s[:16]
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// userinfo fetches, decrypts and verifies the claims (O074–O077).
func (e *oidcEnv) userinfo(ctx context.Context, j *judge, f *flow) map[string]any {
	res, err := e.back(ctx, http.MethodGet, e.ec.endpoint("userinfo_endpoint"), nil, f.accessJWT)
	if err != nil {
		j.fail("O074", "%v", err)
		return nil
	}
	j.ensure("O072", res.status == http.StatusOK, "GET userinfo with a valid token: HTTP %d %s", res.status, clip(string(res.body), 200))
	if !j.ensure("O074", res.status == http.StatusOK && res.header.Get("Content-Type") == "application/jwt", "HTTP %d Content-Type %q, want 200 application/jwt", res.status, res.header.Get("Content-Type")) {
		return nil
	}
	body := strings.TrimSpace(string(res.body))
	if !j.ensure("O074", strings.Count(body, ".") == 4, "userinfo is not a compact JWE") {
		return nil
	}
	jwe, err := jose.ParseEncryptedCompact(body, []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512})
	if !j.ensure("O075", err == nil, "JWE not readable with the SPID algorithms: %v", err) {
		return nil
	}
	rp := f.a.rp
	h := jwe.Header
	j.ensure("O075", h.Algorithm == "RSA-OAEP", "JWE alg %s, want the RP's RSA-OAEP", h.Algorithm)
	j.ensure("O075", fmt.Sprint(h.ExtraHeaders["enc"]) == "A256CBC-HS512", "JWE enc %v, want the RP's A256CBC-HS512", h.ExtraHeaders["enc"])
	j.ensure("O075", h.KeyID == rp.enc.kid, "JWE kid %q, want the RP encryption key %q", h.KeyID, rp.enc.kid)
	j.ensure("O075", fmt.Sprint(h.ExtraHeaders["cty"]) == "JWT", "JWE cty %v, want JWT", h.ExtraHeaders["cty"])
	inner, err := jwe.Decrypt(rp.enc.priv)
	if !j.ensure("O075", err == nil, "does not decrypt with the RP key: %v", err) {
		return nil
	}
	ih, c, err := verifyJWS(string(inner), e.ec.coreKeys)
	if !j.ensure("O076", err == nil, "inner JWS: %v", err) {
		return nil
	}
	j.ensure("O076", ih.Algorithm == "RS256", "inner alg %s, want the RP's RS256", ih.Algorithm)
	j.ensure("O076", ih.KeyID != "", "inner JWS without kid")
	j.ensure("O076", claimStr(c, "iss") == e.opt.Issuer && claimStr(c, "aud") == rp.ID, "iss %v aud %v", c["iss"], c["aud"])
	j.ensure("O076", claimStr(c, "sub") == claimStr(f.idt, "sub"), "sub %v differs from the ID token's", c["sub"])
	_, okI := claimInt(c, "iat")
	_, okE := claimInt(c, "exp")
	j.ensure("O076", okI && okE && claimStr(c, "jti") != "", "iat/exp/jti missing")
	std := []string{"iss", "aud", "sub", "iat", "nbf", "exp", "jti"}
	for _, want := range oidcRequested {
		j.ensure("O088", c[want] != nil, "the test identity lacks the requested claim %s", want)
	}
	for k := range c {
		j.ensure("O077", slices.Contains(std, k) || slices.Contains(oidcRequested, k), "claim %s released but not requested", k)
	}
	j.ensure("O077", strings.HasPrefix(claimStr(c, claimFiscal), "TINIT-"), "%s = %v, want TINIT-<CF>", claimFiscal, c[claimFiscal])
	return c
}

func caseLoginL1(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	a := e.newAuthz(e.rp, acrL1)
	j.ok("O001")
	j.ok("O017") // code_challenge only in the request object
	f := e.login(ctx, j, a)
	if f == nil {
		return j.result()
	}
	j.ok("O026")
	if !e.exchange(ctx, j, f, e.tokenForm(a, f.code)) {
		return j.result()
	}
	e.subs = append(e.subs, claimStr(f.idt, "sub"))
	j.ensure("O029", rank(claimStr(f.idt, "acr")) >= 1, "acr %v, want at least SpidL1", f.idt["acr"])
	j.ensure("O058", rank(claimStr(f.idt, "acr")) >= 1, "acr %v is not a SPID level ≥ SpidL1", f.idt["acr"])
	j.ensure("O063", f.tok.json["refresh_token"] == nil, "a refresh token without offline_access")
	e.userinfo(ctx, j, f)

	// O036: the code again → invalid_grant, and the access token it gave
	// no longer opens userinfo.
	res, err := e.back(ctx, http.MethodPost, e.ec.endpoint("token_endpoint"), e.tokenForm(a, f.code), "")
	if err == nil {
		j.ensure("O036", res.status == 400 && res.str("error") == "invalid_grant", "code redeemed twice: HTTP %d %s", res.status, clip(string(res.body), 200))
		ui, err := e.back(ctx, http.MethodGet, e.ec.endpoint("userinfo_endpoint"), nil, f.accessJWT)
		if err == nil {
			j.ensure("O036", ui.status == 401, "the access token of a reused code still opens userinfo (HTTP %d)", ui.status)
			j.ensure("O073", ui.status == 401 && strings.Contains(ui.header.Get("WWW-Authenticate"), "invalid_token"),
				"revoked token: HTTP %d WWW-Authenticate %q", ui.status, ui.header.Get("WWW-Authenticate"))
		}
	}
	return j.result()
}

func rank(acr string) int {
	switch acr {
	case acrL1:
		return 1
	case acrL2:
		return 2
	case acrL3:
		return 3
	}
	return 0
}

func caseLoginL2(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	if e.opt.Credentials.TOTPSecret == "" && e.opt.Credentials.OTPCode == nil {
		return []Row{row(Skip, "no TOTP seed for the test identity (--totp-secret)")}
	}
	j := newJudge()
	a := e.newAuthz(e.rp, acrL1+" "+acrL2)
	a.ro["response_mode"] = "form_post"
	a.post = true
	f := e.login(ctx, j, a)
	if f == nil {
		return j.result()
	}
	j.ok("O001")
	j.ensure("O028", f.out.Kind == "form" && f.out.Form != nil && strings.EqualFold(f.out.Form.Method, http.MethodPost) && f.out.Form.Action == a.rp.RedirectURI,
		"form_post: the response came as %s to %s", f.out.Kind, f.out.URL)
	j.ensure("O034", f.out.SawLogin && f.out.SawOTP, "SpidL2 without a fresh login and second factor (login %v, otp %v)", f.out.SawLogin, f.out.SawOTP)
	if !e.exchange(ctx, j, f, e.tokenForm(a, f.code)) {
		return j.result()
	}
	j.ensure("O029", rank(claimStr(f.idt, "acr")) >= 2, "acr %v, want at least SpidL2 (the highest requested)", f.idt["acr"])
	j.ensure("O058", rank(claimStr(f.idt, "acr")) >= 2, "acr %v", f.idt["acr"])
	return j.result()
}

func casePairwise(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	sub := func(rp *simRP, nokid bool) string {
		a := e.newAuthz(rp, acrL1)
		f := e.login(ctx, j, a)
		if f == nil {
			return ""
		}
		form := e.tokenForm(a, f.code)
		if nokid {
			form.Set("client_assertion", rp.assertionNoKID(e.ec.endpoint("token_endpoint")))
		}
		if !e.exchange(ctx, j, f, form) {
			if nokid {
				j.fail("O042", "a client assertion without kid was refused: %s", clip(string(f.tok.body), 200))
			}
			return ""
		}
		if nokid {
			j.ok("O042")
		}
		return claimStr(f.idt, "sub")
	}
	s1 := sub(e.rp, true)
	if len(e.subs) > 0 && s1 != "" {
		j.ensure("O079", s1 == e.subs[0], "the same identity got sub %s then %s at the same RP", e.subs[0], s1)
	}
	s2 := sub(e.rp2, false)
	if s1 != "" && s2 != "" {
		j.ensure("O079", s1 != s2, "the same sub %s at two RPs", s1)
	}
	return j.result()
}

func caseConsentRefused(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	a := e.newAuthz(e.rp, acrL1)
	o, err := e.send(ctx, a, choiceRefuse)
	if err != nil {
		j.fail("O033", "%v", err)
		return j.result()
	}
	j.evidence = strings.Join(o.Trace, "\n")
	cb := callback(o)
	j.ensure("O033", o.SawConsent, "no consent page")
	j.ensure("O033", cb.Get("error") == "access_denied", "refused consent gave %q (%s), want access_denied", cb.Get("error"), o.URL)
	e.judgeRedirectError(j, "O026", a, cb, true)
	return j.result()
}

// judgeRedirectError applies O026 to an error response.
func (e *oidcEnv) judgeRedirectError(j *judge, id string, a *authz, cb url.Values, wantState bool) {
	j.ensure(id, slices.Contains(authzErrors, cb.Get("error")), "error %q is not one of §3.8", cb.Get("error"))
	j.ensure(id, cb.Get("error_description") != "", "no error_description")
	j.ensure(id, cb.Get("iss") == e.opt.Issuer, "iss %q, want %q", cb.Get("iss"), e.opt.Issuer)
	if wantState {
		j.ensure(id, cb.Get("state") == a.ro["state"], "state %q, want the request's %q", cb.Get("state"), a.ro["state"])
	} else {
		j.ensure(id, !cb.Has("state"), "state %q returned though none was sent", cb.Get("state"))
	}
}

var authzErrors = []string{"access_denied", "unauthorized_client", "invalid_request", "invalid_scope", "server_error", "temporarily_unavailable",
	"unsupported_response_type", "login_required", "consent_required", "request_uri_not_supported", "registration_not_supported", "invalid_request_object"}

func caseResolve(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	ep := claimStr(e.ec.fe, "federation_resolve_endpoint")
	if ep == "" {
		j.fail("F031", "no federation_resolve_endpoint")
		return j.result()
	}
	anchor := e.rp.hints[0]
	res, err := e.back(ctx, http.MethodGet, ep+"?"+url.Values{"sub": {e.rp.ID}, "anchor": {anchor}}.Encode(), nil, "")
	if err != nil {
		j.fail("F031", "%v", err)
		return j.result()
	}
	j.evidence = string(res.body)
	if j.ensure("F031", res.status == 200 && res.header.Get("Content-Type") == mediaEntityStatement, "resolve of a cached RP: HTTP %d %q", res.status, res.header.Get("Content-Type")) {
		_, c, err := verifyJWS(strings.TrimSpace(string(res.body)), e.ec.fedKeys)
		if j.ensure("F031", err == nil, "resolve response does not verify with the OP federation keys: %v", err) {
			md, _ := c["metadata"].(map[string]any)
			rpm, _ := md["openid_relying_party"].(map[string]any)
			j.ensure("F031", claimStr(c, "iss") == e.opt.Issuer && claimStr(c, "sub") == e.rp.ID, "iss %v sub %v", c["iss"], c["sub"])
			j.ensure("F031", rpm != nil && sameStrings(strSlice(rpm["redirect_uris"]), []string{e.rp.RedirectURI}), "metadata.openid_relying_party %v", md)
			chain := strSlice(c["trust_chain"])
			j.ensure("F031", len(chain) >= 2, "trust_chain has %d statements", len(chain))
			_, hasMarks := c["trust_marks"]
			j.ensure("F031", hasMarks, "no trust_marks")
		}
	}
	before := e.ta.fetches(e.untruted)
	res, err = e.back(ctx, http.MethodGet, ep+"?"+url.Values{"sub": {e.untruted}, "anchor": {anchor}}.Encode(), nil, "")
	if err == nil {
		j.ensure("F031", res.status == 404 && res.str("error") == "not_found", "resolve of an unknown subject: HTTP %d %s, want 404 not_found", res.status, clip(string(res.body), 200))
		j.ensure("F031", e.ta.fetches(e.untruted) == before, "resolving an unknown subject fetched from the anchor")
		j.ensure("F032", res.header.Get("Content-Type") == "application/json" && res.str("error_description") != "", "federation error body %q (%s)", clip(string(res.body), 200), res.header.Get("Content-Type"))
	}
	res, err = e.back(ctx, http.MethodGet, ep, nil, "")
	if err == nil {
		j.ensure("F032", res.status == 400 && res.str("error") == "invalid_request", "resolve without sub: HTTP %d %s, want 400 invalid_request", res.status, clip(string(res.body), 200))
	}
	return j.result()
}

func caseNoMark(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	a := e.newAuthz(e.nomark, acrL1)
	o, err := e.send(ctx, a, choiceNoLogin)
	if err != nil {
		j.fail("F016", "%v", err)
		return j.result()
	}
	j.evidence = strings.Join(o.Trace, "\n")
	j.ensure("F016", o.Kind == "page" && o.Status >= 400, "an RP without trust mark got %s (HTTP %d %s), want an error page on the OP", o.Kind, o.Status, o.URL)
	j.ensure("F016", e.ta.fetches(e.nomark.ID) == 0, "the OP fetched the subordinate statement of an RP without trust mark (%d times)", e.ta.fetches(e.nomark.ID))
	return j.result()
}

func caseForeignMark(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	a := e.newAuthz(e.badmark, acrL1)
	o, err := e.send(ctx, a, choiceNoLogin)
	if err != nil {
		j.fail("F017", "%v", err)
		return j.result()
	}
	j.evidence = strings.Join(o.Trace, "\n")
	j.ensure("F017", o.Kind == "page" && o.Status >= 400, "an RP with another RP's trust mark got %s (HTTP %d %s), want an error page", o.Kind, o.Status, o.URL)
	return j.result()
}

// ---- wrong authorization requests answered on the OP ----

type opPageCase struct {
	name, id, title string
	mutate          func(e *oidcEnv, a *authz)
}

func pageCases() []opPageCase {
	jwe := "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIifQ.a2V5.aXY.Y2lwaGVy.dGFn"
	return []opPageCase{
		{"no-request", "O002", "no request parameter → page error", func(e *oidcEnv, a *authz) { a.omit = true }},
		{"request-not-jwt", "O003", "request not a JWT → page error", func(e *oidcEnv, a *authz) { a.raw = "not-a-jwt" }},
		{"request-jwe", "O003", "request object encrypted (JWE) → page error", func(e *oidcEnv, a *authz) { a.raw = jwe }},
		{"request-foreign-key", "O004", "request object signed by a key the RP does not publish → page error", func(e *oidcEnv, a *authz) { a.signWith = &e.other }},
		{"request-alg-none", "O005", "request object with alg none → page error", func(e *oidcEnv, a *authz) { a.alg = "none" }},
		{"request-alg-hs256", "O005", "request object with alg HS256 → page error", func(e *oidcEnv, a *authz) { a.alg = "HS256" }},
		{"no-http-client-id", "O006", "no HTTP client_id → page error", func(e *oidcEnv, a *authz) { a.http.Del("client_id") }},
		{"no-ro-client-id", "O007", "no client_id in the request object → page error", func(e *oidcEnv, a *authz) { delete(a.ro, "client_id") }},
		{"client-id-differs", "O008", "HTTP and request-object client_id differ → page error", func(e *oidcEnv, a *authz) { a.ro["client_id"] = e.rp2.ID }},
		{"untrusted-client", "O009", "untrusted client_id → page error", func(e *oidcEnv, a *authz) {
			a.http.Set("client_id", e.untruted)
			a.ro["client_id"] = e.untruted
			a.ro["iss"] = e.untruted
		}},
		{"iss-differs", "O010", "request object iss ≠ client_id → page error", func(e *oidcEnv, a *authz) { a.ro["iss"] = e.rp2.ID }},
		{"no-redirect-uri", "O011", "no redirect_uri → page error", func(e *oidcEnv, a *authz) { delete(a.ro, "redirect_uri") }},
		{"redirect-uri-unregistered", "O011", "redirect_uri not registered → page error", func(e *oidcEnv, a *authz) { a.ro["redirect_uri"] = a.rp.RedirectURI + "/other" }},
	}
}

// expectPage sends a wrong request and wants an HTML error page on the OP
// with HTTP 400 and nothing sent to the RP.
func (e *oidcEnv) expectPage(ctx context.Context, pc opPageCase) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	a := e.newAuthz(e.rp, acrL1)
	pc.mutate(e, a)
	before := e.srv.callbacks
	o, err := e.send(ctx, a, choiceNoLogin)
	if err != nil {
		return []Row{{Status: Fail, Reason: err.Error()}}
	}
	switch {
	case o.Kind == "login":
		return []Row{{Status: Fail, Reason: "the OP accepted the request and asked for credentials", Trace: o.Trace}}
	case o.Kind == "redirect" || o.Kind == "form":
		cb := callback(o)
		return []Row{{Status: Fail, Reason: fmt.Sprintf("the OP answered the RP (%s error %q) instead of showing an error page", o.URL, cb.Get("error")), Trace: o.Trace}}
	case o.Status != http.StatusBadRequest:
		return []Row{{Status: Fail, Reason: fmt.Sprintf("error page with HTTP %d, want 400", o.Status), Evidence: clip(string(o.Body), 2000), Trace: o.Trace}}
	case e.srv.callbacks != before:
		return []Row{{Status: Fail, Reason: "something reached the RP's redirect URI", Trace: o.Trace}}
	}
	return []Row{{Status: Pass, Reason: "error page, HTTP 400"}}
}

// ---- wrong authorization requests answered to the RP ----

type opRedirectCase struct {
	name, id, title string
	code            string
	noState         bool
	mutate          func(e *oidcEnv, a *authz)
}

func redirectCases() []opRedirectCase {
	ir, iro, isc := "invalid_request", "invalid_request_object", "invalid_scope"
	past := func(a *authz, k string, d time.Duration) { a.ro[k] = time.Now().Add(d).Unix() }
	both := func(a *authz, k, v string) { a.ro[k] = v; a.http.Set(k, v) }
	return []opRedirectCase{
		{"aud-wrong", "O012", "request object aud ≠ issuer → invalid_request_object", iro, false, func(e *oidcEnv, a *authz) { a.ro["aud"] = e.base }},
		{"exp-past", "O012", "request object expired → invalid_request_object", iro, false, func(e *oidcEnv, a *authz) { past(a, "exp", -2*time.Minute) }},
		{"iat-future", "O012", "request object iat 5 minutes ahead → invalid_request_object", iro, false, func(e *oidcEnv, a *authz) { past(a, "iat", 5*time.Minute) }},
		{"no-http-response-type", "O013", "no HTTP response_type → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.http.Del("response_type") }},
		{"no-ro-response-type", "O013", "no response_type in the request object → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "response_type") }},
		{"response-type-differs", "O013", "HTTP and request-object response_type differ → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.http.Set("response_type", "id_token") }},
		{"response-type-not-code", "O013", "response_type id_token → invalid_request", ir, false, func(e *oidcEnv, a *authz) { both(a, "response_type", "id_token") }},
		{"no-http-scope", "O014", "no HTTP scope → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.http.Del("scope") }},
		{"no-ro-scope", "O014", "no scope in the request object → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "scope") }},
		{"scope-differs", "O014", "HTTP and request-object scope differ → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.http.Set("scope", "openid offline_access") }},
		{"scope-without-openid", "O015", "scope without openid → invalid_scope", isc, false, func(e *oidcEnv, a *authz) { both(a, "scope", "offline_access") }},
		{"scope-profile", "O015", "scope with profile → invalid_scope", isc, false, func(e *oidcEnv, a *authz) { both(a, "scope", "openid profile") }},
		{"no-code-challenge", "O016", "no code_challenge → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "code_challenge") }},
		{"no-code-challenge-method", "O016", "no code_challenge_method → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "code_challenge_method") }},
		{"code-challenge-plain", "O016", "code_challenge_method plain → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["code_challenge_method"] = "plain" }},
		{"no-nonce", "O018", "no nonce → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "nonce") }},
		{"short-nonce", "O018", "nonce of 31 characters → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["nonce"] = strings.Repeat("n", 31) }},
		{"no-prompt", "O019", "no prompt → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "prompt") }},
		{"prompt-login", "O019", "prompt login alone → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["prompt"] = "login" }},
		{"prompt-none", "O019", "prompt none → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["prompt"] = "none" }},
		{"no-acr-values", "O020", "no acr_values → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "acr_values") }},
		{"acr-values-array", "O020", "acr_values as an array → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["acr_values"] = []string{acrL1} }},
		{"acr-values-unknown", "O020", "acr_values outside the SPID levels → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["acr_values"] = "https://www.spid.gov.it/SpidL9" }},
		{"no-claims", "O021", "no claims → invalid_request", ir, false, func(e *oidcEnv, a *authz) { delete(a.ro, "claims") }},
		{"claims-without-userinfo", "O021", "claims without userinfo → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["claims"] = map[string]any{} }},
		{"claims-id-token", "O021", "claims with id_token → invalid_request", ir, false, func(e *oidcEnv, a *authz) {
			a.ro["claims"] = map[string]any{"userinfo": map[string]any{"email": nil}, "id_token": map[string]any{"email": nil}}
		}},
		{"claims-not-spid", "O021", "claims naming email_verified (not SPID) → invalid_request", ir, false, func(e *oidcEnv, a *authz) {
			a.ro["claims"] = map[string]any{"userinfo": map[string]any{"email_verified": nil}}
		}},
		{"no-state", "O022", "no state → invalid_request without state", ir, true, func(e *oidcEnv, a *authz) { delete(a.ro, "state") }},
		{"short-state", "O022", "state of 31 characters → invalid_request echoing it", ir, false, func(e *oidcEnv, a *authz) { a.ro["state"] = strings.Repeat("s", 31) }},
		{"response-mode-fragment", "O023", "response_mode fragment → invalid_request", ir, false, func(e *oidcEnv, a *authz) { a.ro["response_mode"] = "fragment" }},
		{"request-uri", "O024", "request_uri → request_uri_not_supported", "request_uri_not_supported", false, func(e *oidcEnv, a *authz) { a.http.Set("request_uri", a.rp.ID+"/ro") }},
		{"registration", "O024", "registration → registration_not_supported", "registration_not_supported", false, func(e *oidcEnv, a *authz) { a.http.Set("registration", "{}") }},
		{"offline-l1-first", "O025", "offline_access with SpidL1 SpidL2 → invalid_request", ir, false, func(e *oidcEnv, a *authz) {
			both(a, "scope", "openid offline_access")
			a.ro["acr_values"] = acrL1 + " " + acrL2
		}},
	}
}

// expectRedirect sends a wrong request and wants the error code at the
// RP's redirect URI, before any login (O026 for the response's shape).
func (e *oidcEnv) expectRedirect(ctx context.Context, rc opRedirectCase) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	a := e.newAuthz(e.rp, acrL1)
	rc.mutate(e, a)
	o, err := e.send(ctx, a, choiceNoLogin)
	if err != nil {
		return []Row{{Status: Fail, Reason: err.Error()}}
	}
	j := newJudge()
	j.evidence = strings.Join(o.Trace, "\n")
	if o.Kind != "redirect" || !strings.HasPrefix(o.URL, a.rp.RedirectURI) {
		j.fail(rc.id, "want error %s at the redirect URI, got %s (HTTP %d %s)", rc.code, o.Kind, o.Status, o.URL)
		j.fail("O026", "no error response reached the RP")
		return j.result()
	}
	cb := callback(o)
	j.ensure(rc.id, cb.Get("error") == rc.code, "error %q (%s), want %s", cb.Get("error"), cb.Get("error_description"), rc.code)
	e.judgeRedirectError(j, "O026", a, cb, !rc.noState)
	return j.result()
}

// ---- token endpoint errors ----

type opTokenCase struct {
	name, id, title string
	method          string // "" = POST
	code            string // expected error ("" with status 405)
	status          int    // 0 = per the §4.5 table
	mutate          func(e *oidcEnv, f url.Values)
	twice           bool // send the same form twice, judge the second answer
}

func tokenCases() []opTokenCase {
	ic, ir := "invalid_client", "invalid_request"
	assert := func(mut func(map[string]any)) func(e *oidcEnv, f url.Values) {
		return func(e *oidcEnv, f url.Values) {
			f.Set("client_assertion", e.rp.assertion(e.ec.endpoint("token_endpoint"), mut))
		}
	}
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	return []opTokenCase{
		{"get", "O037", "GET on the token endpoint → 405", http.MethodGet, "", 405, nil, false},
		{"no-client-id", "O038", "no client_id → invalid_request", "", ir, 0, func(e *oidcEnv, f url.Values) { f.Del("client_id") }, false},
		{"untrusted-client", "O039", "untrusted client_id → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) { f.Set("client_id", e.untruted) }, false},
		{"no-assertion", "O041", "no client_assertion → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) { f.Del("client_assertion") }, false},
		{"assertion-not-jwt", "O041", "client_assertion not a JWT → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) { f.Set("client_assertion", "not-a-jwt") }, false},
		{"assertion-foreign-key", "O041", "client_assertion signed by an unknown key → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) {
			now := time.Now()
			s, _ := e.other.sign("", map[string]any{"iss": e.rp.ID, "sub": e.rp.ID, "aud": e.ec.endpoint("token_endpoint"), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": randomString(24)})
			f.Set("client_assertion", s)
		}, false},
		{"assertion-no-iss", "O043", "assertion without iss → invalid_client", "", ic, 0, assert(del("iss")), false},
		{"assertion-iss-differs", "O043", "assertion iss ≠ client_id → invalid_client", "", ic, 0, assert(set("iss", "https://other.example.invalid")), false},
		{"assertion-no-sub", "O043", "assertion without sub → invalid_client", "", ic, 0, assert(del("sub")), false},
		{"assertion-sub-differs", "O043", "assertion sub ≠ iss → invalid_client", "", ic, 0, assert(set("sub", "https://other.example.invalid")), false},
		{"assertion-no-aud", "O044", "assertion without aud → invalid_client", "", ic, 0, assert(del("aud")), false},
		{"assertion-aud-other", "O044", "assertion aud = the userinfo endpoint → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) {
			f.Set("client_assertion", e.rp.assertion(e.ec.endpoint("userinfo_endpoint"), nil))
		}, false},
		{"assertion-no-iat", "O045", "assertion without iat → invalid_client", "", ic, 0, assert(del("iat")), false},
		{"assertion-iat-string", "O045", "assertion iat as a string → invalid_client", "", ic, 0, assert(set("iat", fmt.Sprint(time.Now().Unix()))), false},
		{"assertion-iat-future", "O045", "assertion iat 5 minutes ahead → invalid_client", "", ic, 0, assert(set("iat", time.Now().Add(5*time.Minute).Unix())), false},
		{"assertion-no-exp", "O046", "assertion without exp → invalid_client", "", ic, 0, assert(del("exp")), false},
		{"assertion-exp-string", "O046", "assertion exp as a string → invalid_client", "", ic, 0, assert(set("exp", fmt.Sprint(time.Now().Add(time.Minute).Unix()))), false},
		{"assertion-expired", "O046", "assertion expired 2 minutes ago → invalid_client", "", ic, 0, assert(set("exp", time.Now().Add(-2*time.Minute).Unix())), false},
		{"assertion-no-jti", "O047", "assertion without jti → invalid_client", "", ic, 0, assert(del("jti")), false},
		{"assertion-short-jti", "O047", "assertion jti of 15 characters → invalid_client", "", ic, 0, assert(set("jti", "abcdefghijklmno")), false},
		{"assertion-replayed", "O047", "assertion replayed → invalid_client", "", ic, 0, nil, true},
		{"no-assertion-type", "O048", "no client_assertion_type → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) { f.Del("client_assertion_type") }, false},
		{"assertion-type-wrong", "O048", "client_assertion_type saml2-bearer → invalid_client", "", ic, 0, func(e *oidcEnv, f url.Values) {
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		}, false},
		{"no-grant-type", "O049", "no grant_type → invalid_request", "", ir, 0, func(e *oidcEnv, f url.Values) { f.Del("grant_type") }, false},
		{"grant-type-unknown", "O049", "grant_type password → unsupported_grant_type", "", "unsupported_grant_type", 0, func(e *oidcEnv, f url.Values) { f.Set("grant_type", "password") }, false},
		{"no-code", "O050", "no code → invalid_request", "", ir, 0, func(e *oidcEnv, f url.Values) { f.Del("code") }, false},
		{"unknown-code", "O050", "unknown code → invalid_grant", "", "invalid_grant", 0, nil, false},
	}
}

// tokenDescriptions are the exact texts of spec §4.5 (O053).
var tokenDescriptions = map[string]string{
	"invalid_client": descInvalidClient, "unsupported_grant_type": descUnsupportedGrant,
	"invalid_grant": descInvalidGrant, "invalid_request": descInvalidRequest,
}

// judgeTokenError applies O053 to an error answer.
func judgeTokenError(j *judge, id string, res *backResp, code string, status int) {
	if status == 0 {
		status = 400
	}
	okStatus := res.status == status || (code == "invalid_client" && (res.status == 401 || res.status == 400))
	j.ensure(id, okStatus && res.str("error") == code, "HTTP %d error %q, want %d %s", res.status, res.str("error"), status, code)
	if want, ok := tokenDescriptions[code]; ok {
		j.ensure("O053", res.str("error_description") == want, "error_description %q, want exactly %q", res.str("error_description"), want)
	}
	j.ensure("O053", strings.HasPrefix(res.header.Get("Content-Type"), "application/json"), "Content-Type %q", res.header.Get("Content-Type"))
}

func (e *oidcEnv) expectTokenError(ctx context.Context, tc opTokenCase) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	// A well-formed exchange of a code the OP never issued: only the
	// defect under test (or the unknown code) can make it fail first.
	a := e.newAuthz(e.rp, acrL1)
	form := e.tokenForm(a, "0b4f5b1e-8d3c-4a59-9a1f-"+randomHex(12))
	if tc.mutate != nil {
		tc.mutate(e, form)
	}
	j := newJudge()
	method := or(tc.method, http.MethodPost)
	var body url.Values
	target := e.ec.endpoint("token_endpoint")
	if method == http.MethodPost {
		body = form
	} else {
		target += "?" + form.Encode()
	}
	res, err := e.back(ctx, method, target, body, "")
	if err == nil && tc.twice {
		res, err = e.back(ctx, method, target, body, "")
	}
	if err != nil {
		j.fail(tc.id, "%v", err)
		return j.result()
	}
	j.evidence = string(res.body)
	if tc.code == "" {
		j.ensure(tc.id, res.status == tc.status, "HTTP %d, want %d", res.status, tc.status)
		return j.result()
	}
	judgeTokenError(j, tc.id, res, tc.code, tc.status)
	return j.result()
}

func randomHex(n int) string {
	const hexd = "0123456789abcdef"
	b := []byte(randomString(n))
	for i := range b {
		b[i] = hexd[int(b[i])%16]
	}
	return string(b)
}

// caseCodeErrors redeems fresh codes wrongly, one login each (a failed
// exchange may burn the code).
func caseCodeErrors(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	type sub struct {
		id, code string
		mutate   func(a *authz, f url.Values)
	}
	for _, s := range []sub{
		{"O040", "invalid_grant", func(a *authz, f url.Values) {
			f.Set("client_id", e.rp2.ID)
			f.Set("client_assertion", e.rp2.assertion(e.ec.endpoint("token_endpoint"), nil))
		}},
		{"O051", "invalid_request", func(a *authz, f url.Values) { f.Del("code_verifier") }},
		{"O051", "invalid_grant", func(a *authz, f url.Values) { f.Set("code_verifier", randomString(64)) }},
		{"O052", "invalid_request", func(a *authz, f url.Values) { f.Del("redirect_uri") }},
		{"O052", "invalid_grant", func(a *authz, f url.Values) { f.Set("redirect_uri", a.rp.RedirectURI+"/other") }},
	} {
		a := e.newAuthz(e.rp, acrL1)
		f := e.login(ctx, j, a)
		if f == nil {
			j.fail(s.id, "no code to redeem")
			continue
		}
		form := e.tokenForm(a, f.code)
		s.mutate(a, form)
		res, err := e.back(ctx, http.MethodPost, e.ec.endpoint("token_endpoint"), form, "")
		if err != nil {
			j.fail(s.id, "%v", err)
			continue
		}
		judgeTokenError(j, s.id, res, s.code, 0)
	}
	return j.result()
}

func caseUserinfoErrors(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	j := newJudge()
	ep := e.ec.endpoint("userinfo_endpoint")
	// A token of the right shape signed by a stranger.
	now := time.Now()
	forged, _ := e.other.sign(typAccessToken, map[string]any{"iss": e.opt.Issuer, "sub": "x", "aud": e.rp.ID, "client_id": e.rp.ID,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": randomString(24), "scope": "openid"})
	for _, tc := range []struct {
		method, token, why string
	}{
		{http.MethodGet, "", "no token"},
		{http.MethodGet, "not-a-token", "a token that is not a JWT"},
		{http.MethodGet, forged, "a token signed by another key"},
	} {
		res, err := e.back(ctx, tc.method, ep, nil, tc.token)
		if err != nil {
			j.fail("O073", "%v", err)
			continue
		}
		j.ensure("O073", res.status == 401 && strings.Contains(res.header.Get("WWW-Authenticate"), "invalid_token"),
			"%s: HTTP %d WWW-Authenticate %q, want 401 with error=\"invalid_token\"", tc.why, res.status, res.header.Get("WWW-Authenticate"))
	}
	res, err := e.back(ctx, http.MethodPost, ep, url.Values{"access_token": {forged}}, "")
	if err == nil {
		j.ensure("O072", res.status == 405, "POST userinfo: HTTP %d, want 405", res.status)
	}
	return j.result()
}

// caseIntrospectRevoke logs in, introspects the access token, revokes it
// and introspects it again (O080–O083, O085); skipped when the OP
// publishes no such endpoints.
func caseIntrospectRevoke(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	intro, revo := e.ec.endpoint("introspection_endpoint"), e.ec.endpoint("revocation_endpoint")
	if intro == "" || revo == "" {
		return []Row{row(Skip, "the OP publishes no introspection or revocation endpoint")}
	}
	j := newJudge()
	a := e.newAuthz(e.rp, acrL1)
	f := e.login(ctx, j, a)
	if f == nil || !e.exchange(ctx, j, f, e.tokenForm(a, f.code)) {
		return j.result()
	}
	auth := func(aud string, extra url.Values) url.Values {
		v := url.Values{"client_id": {e.rp.ID}, "client_assertion_type": {clientAssertionType}, "client_assertion": {e.rp.assertion(aud, nil)}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	if res, err := e.back(ctx, http.MethodGet, intro, nil, ""); err == nil {
		j.ensure("O080", res.status == 405, "GET introspection: HTTP %d, want 405", res.status)
	}
	if res, err := e.back(ctx, http.MethodPost, intro, auth(intro, nil), ""); err == nil {
		j.ensure("O080", res.status == 401 && res.str("error") != "" && res.str("error_description") != "", "introspection without token: HTTP %d %s, want 401 with error and description", res.status, clip(string(res.body), 200))
	}
	if res, err := e.back(ctx, http.MethodPost, intro, auth(e.ec.endpoint("token_endpoint"), url.Values{"token": {f.accessJWT}}), ""); err == nil {
		j.ensure("O081", res.status == 401, "introspection with an assertion for the token endpoint: HTTP %d, want 401", res.status)
	}
	res, err := e.back(ctx, http.MethodPost, intro, auth(intro, url.Values{"token": {f.accessJWT}}), "")
	if err != nil {
		j.fail("O082", "%v", err)
		return j.result()
	}
	j.ensure("O081", res.status == 200, "introspection with a valid assertion: HTTP %d %s", res.status, clip(string(res.body), 200))
	j.ensure("O082", res.json["active"] == true, "active %v for a fresh access token", res.json["active"])
	for _, k := range []string{"scope", "exp", "sub", "client_id", "iss", "aud"} {
		j.ensure("O082", res.json[k] != nil, "an active access token's introspection lacks %s", k)
	}
	j.ensure("O082", res.str("client_id") == e.rp.ID && res.str("iss") == e.opt.Issuer, "client_id %v iss %v", res.json["client_id"], res.json["iss"])
	// Another client asks about it: not its token.
	if res, err := e.back(ctx, http.MethodPost, intro, url.Values{"client_id": {e.rp2.ID}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {e.rp2.assertion(intro, nil)}, "token": {f.accessJWT}}, ""); err == nil {
		j.ensure("O082", res.status == 200 && res.json["active"] == false, "another client's introspection: HTTP %d active %v, want 200 false", res.status, res.json["active"])
	}
	if res, err := e.back(ctx, http.MethodPost, revo, auth(revo, url.Values{"token": {"unknown-" + randomString(20)}}), ""); err == nil {
		j.ensure("O083", res.status == 200, "revoking an unknown token: HTTP %d, want 200", res.status)
	}
	if res, err := e.back(ctx, http.MethodPost, revo, auth(revo, url.Values{"token": {f.accessJWT}}), ""); err == nil {
		j.ensure("O083", res.status == 200, "revoking the access token: HTTP %d %s, want 200", res.status, clip(string(res.body), 200))
	}
	if res, err := e.back(ctx, http.MethodPost, revo, auth(revo, url.Values{"token": {f.accessJWT}}), ""); err == nil {
		j.ensure("O083", res.status == 200, "revoking it again: HTTP %d, want 200", res.status)
	}
	if res, err := e.back(ctx, http.MethodPost, intro, auth(intro, url.Values{"token": {f.accessJWT}}), ""); err == nil {
		j.ensure("O085", res.status == 200 && res.json["active"] == false, "a revoked access token introspects HTTP %d active %v, want false", res.status, res.json["active"])
	}
	if res, err := e.back(ctx, http.MethodGet, e.ec.endpoint("userinfo_endpoint"), nil, f.accessJWT); err == nil {
		j.ensure("O085", res.status == 401, "a revoked access token opens userinfo (HTTP %d)", res.status)
	}
	return j.result()
}

// caseLevelNotOffered (O030): acr_values naming only a level the OP does
// not list in acr_values_supported → redirect access_denied, with or
// without a login first, never a code.
func caseLevelNotOffered(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	offered := strSlice(e.ec.op["acr_values_supported"])
	var missing string
	for _, l := range []string{acrL3, acrL2, acrL1} {
		if !slices.Contains(offered, l) {
			missing = l
			break
		}
	}
	if missing == "" {
		return rowsFor([]string{"O030"}, Skip, "not checked: the OP offers every SPID level", nil)
	}
	a := e.newAuthz(e.rp, missing)
	o, err := e.send(ctx, a, choiceAccept)
	if err != nil {
		return []Row{{ID: "O030", Status: Fail, Reason: err.Error()}}
	}
	j := newJudge()
	j.evidence = strings.Join(o.Trace, "\n")
	cb := callback(o)
	if (o.Kind != "redirect" && o.Kind != "form") || !strings.HasPrefix(o.URL, a.rp.RedirectURI) && (o.Form == nil || o.Form.Action != a.rp.RedirectURI) {
		j.fail("O030", "acr_values %s (not in acr_values_supported %v): want access_denied at the redirect URI, got %s (HTTP %d %s)", missing, offered, o.Kind, o.Status, o.URL)
		return j.result()
	}
	j.ensure("O030", cb.Get("error") == "access_denied" && cb.Get("code") == "", "acr_values %s (not offered): error %q code %q, want access_denied and no code", missing, cb.Get("error"), cb.Get("code"))
	e.judgeRedirectError(j, "O026", a, cb, true)
	return j.result()
}

// caseWrongPassword (O031): a wrong password keeps the citizen on the OP's
// login page, and after the attempts the OP allows the flow ends in
// access_denied at the RP, with no code.
func caseWrongPassword(ctx context.Context, e *oidcEnv) []Row {
	if r := e.needEC(ctx); r != nil {
		return r
	}
	if e.opt.Credentials.Password == "" {
		return rowsFor([]string{"O031"}, Skip, "not checked: no test identity given", nil)
	}
	a := e.newAuthz(e.rp, acrL1)
	b := e.newBrowser()
	b.creds.Password += "-wrong"
	o, err := e.sendIn(ctx, b, a, choiceAccept)
	if err != nil {
		return []Row{{ID: "O031", Status: Fail, Reason: err.Error()}}
	}
	j := newJudge()
	j.evidence = strings.Join(o.Trace, "\n")
	// Each password sent is a POST answered with the login form again
	// (any status) until the last, answered towards the RP.
	tries := 0
	for _, t := range o.Trace {
		if strings.HasPrefix(t, "POST ") && !strings.Contains(t, a.rp.RedirectURI) {
			tries++
		}
	}
	cb := callback(o)
	if (o.Kind != "redirect" && o.Kind != "form") || !strings.HasPrefix(o.URL, a.rp.RedirectURI) && (o.Form == nil || o.Form.Action != a.rp.RedirectURI) {
		j.fail("O031", "repeated wrong passwords: want access_denied at the redirect URI once the attempts are spent, got %s (HTTP %d %s)", o.Kind, o.Status, o.URL)
		return j.result()
	}
	j.ensure("O031", tries >= 2, "the flow ended after %d password(s): a wrong password must leave the citizen on the login page to try again", tries)
	j.ensure("O031", cb.Get("error") == "access_denied" && cb.Get("code") == "", "repeated wrong passwords: error %q code %q, want access_denied and no code", cb.Get("error"), cb.Get("code"))
	e.judgeRedirectError(j, "O026", a, cb, true)
	return j.result()
}
