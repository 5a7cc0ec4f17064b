package conformance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// OIDCOptions configures the OpenID Connect part of a run: a simulated SPID
// relying party (with its own entity configuration served on Listen) that
// logs in at the OP and sends it every wrong request of the checklist
// (spec oidc-federation.md §13, items F and O).
type OIDCOptions struct {
	Issuer      string       // the OP's entity id (required)
	HTTPClient  *http.Client // for the OP; nil = a default client
	Credentials Credentials  // test identity; its TOTP seed runs the SpidL2 case
	Fields      Fields
	Only        []string // run only cases whose name or checklist IDs match

	// Listen is where the simulator serves its trust anchor and relying
	// parties (default 127.0.0.1:0); BaseURL their public base (default
	// http://<Listen>). The OP must be able to fetch from there.
	Listen, BaseURL string
	KeyDir          string // keep the simulator's keys between runs
	KeyBits         int    // RSA size of the simulator's keys (default 2048)

	// Register enrols a simulated RP at an authority the OP already trusts
	// (the demo trust anchor, a test registry). Nil: the RPs hang under the
	// simulator's own trust anchor, which the OP must then trust: it is
	// announced through OnTrustAnchor before the cases run.
	Register      func(ctx context.Context, r RPRegistration) (RPEnrolment, error)
	OnTrustAnchor func(entityID string, jwks []byte) error

	Strict      bool // fail team decisions ([DEC]) instead of warning
	Production  bool // production rules (both AgID registries in authority_hints)
	StepTimeout time.Duration
	Progress    io.Writer

	// AAEntityID is an Attribute Authority of the OP's registry (A023–A040
	// skip without it); AAKey its decryption key, to open the grant tokens
	// (A023–A033 skip without it).
	AAEntityID string
	AAKey      *rsa.PrivateKey
	// GrantExpiryWait is how long the suite may wait for a grant token to
	// expire (A039); grants living longer leave the check not done.
	GrantExpiryWait time.Duration

	otp *otpClock // shared with the SAML part of the same run
}

// oidcEnv is what the OIDC cases share.
type oidcEnv struct {
	opt      OIDCOptions
	base     string
	srv      *fedServer
	ta       *simTA
	rp, rp2  *simRP // trusted relying parties (rp2: another client, O040)
	nomark   *simRP // no trust mark (F016)
	badmark  *simRP // the trust mark of rp, so sub ≠ client_id (F017)
	other    fedKey // a key no RP publishes (O004)
	otp      *otpClock
	ec       *opConfig
	driver   *PageError
	subs     []string // ID token subjects of rp's logins (O079)
	client   *http.Client
	untruted string // a client id nobody vouches for (O009)
}

// opConfig is the OP entity configuration as read (and judged) by the
// simulator.
type opConfig struct {
	raw      string
	claims   map[string]any
	op       map[string]any // metadata.openid_provider
	fe       map[string]any // metadata.federation_entity
	fedKeys  jose.JSONWebKeySet
	coreKeys jose.JSONWebKeySet
}

func (c *opConfig) endpoint(name string) string { s, _ := c.op[name].(string); return s }

// RunOIDC runs the OIDC cases against the OP at opt.Issuer.
func RunOIDC(ctx context.Context, opt OIDCOptions) (*Report, error) {
	if opt.Issuer == "" {
		return nil, &StepError{"options", errors.New("no OP issuer")}
	}
	opt.Issuer = strings.TrimSuffix(opt.Issuer, "/")
	if opt.StepTimeout == 0 {
		opt.StepTimeout = 15 * time.Second
	}
	if opt.KeyBits == 0 {
		opt.KeyBits = 2048
	}
	if opt.otp == nil {
		opt.otp = &otpClock{}
	}
	opt.Fields.defaults()
	rep := &Report{IdPMetadata: opt.Issuer + wellKnownFederation, IdPEntityID: opt.Issuer, Started: time.Now().UTC(), Strict: opt.Strict, Counts: map[Status]int{}}

	listen := opt.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, &StepError{"listening on " + listen, err}
	}
	base := strings.TrimSuffix(or(opt.BaseURL, "http://"+ln.Addr().String()), "/")
	e := &oidcEnv{opt: opt, base: base, otp: opt.otp, untruted: base + "/rp/nobody"}
	e.client = opt.HTTPClient
	if e.client == nil {
		e.client = &http.Client{}
	}
	if err := e.setup(ctx); err != nil {
		ln.Close()
		return nil, err
	}
	hs := &http.Server{Handler: e.srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	for _, rp := range []*simRP{e.rp, e.rp2} {
		ec, _ := rp.entityConfiguration()
		rep.SPs = append(rep.SPs, SPInfo{EntityID: rp.ID, MetadataURL: rp.ID + wellKnownFederation, Metadata: ec})
	}

	if err := e.preflight(ctx); err != nil {
		return rep, err
	}
	for _, c := range oidcCases() {
		if !selected(c, opt.Only) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "conformance: oidc case %s\n", c.name)
		}
		rows := e.runCase(ctx, c)
		rep.Rows = append(rep.Rows, rows...)
		if e.driver != nil {
			break
		}
	}
	for _, r := range rep.Rows {
		rep.Counts[r.Status]++
	}
	rep.Checklist = summarise(rep.Rows)
	rep.Notes = oidcNotCheckable
	rep.Finished = time.Now().UTC()
	if e.driver != nil {
		return rep, &StepError{"logging in at the OP", e.driver}
	}
	return rep, ctx.Err()
}

// preflight checks that the OP reads our entity configuration and trusts
// our relying party: otherwise every case would fail for that one reason.
func (e *oidcEnv) preflight(ctx context.Context) error {
	c, _ := e.fetchOPConfig(ctx)
	if c == nil || c.endpoint("authorization_endpoint") == "" {
		return nil // the entity-configuration case reports why
	}
	e.ec = c
	o, err := e.send(ctx, e.newAuthz(e.rp, acrL1), choiceNoLogin)
	if err != nil {
		return &StepError{"first authorization request", err}
	}
	if o.Kind == "page" {
		return &StepError{"first authorization request", fmt.Errorf("the OP refused the simulated relying party %s with an error page (HTTP %d): it does not trust its chain through %s; "+
			"configure that trust anchor at the OP (oidc.federation.trust_anchors), and make sure the OP can reach %s", e.rp.ID, o.Status, strings.Join(e.rp.hints, ", "), e.base)}
	}
	return nil
}

// setup makes the keys, the anchor and the relying parties, and enrols the
// trusted ones.
func (e *oidcEnv) setup(ctx context.Context) error {
	ks := &keyStore{dir: e.opt.KeyDir, bits: e.opt.KeyBits}
	k := func(name string) fedKey {
		key, err := ks.key(name)
		if err != nil {
			panic(err) // turned into a StepError below
		}
		return key
	}
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("making the simulator's keys: %v", p)
			}
		}()
		e.ta = &simTA{ID: e.base + "/ta", key: k("ta"), subs: map[string]*simRP{}, hits: map[string]int{}}
		mk := func(name, display string) *simRP {
			id := e.base + rpPath(name)
			return &simRP{ID: id, Name: display, RedirectURI: id + "/callback", fed: k(name + "-fed"), sig: k(name + "-sig"), enc: k(name + "-enc"),
				hints: []string{e.ta.ID}}
		}
		e.rp = mk("a", "SPID conformance RP")
		e.rp2 = mk("b", "SPID conformance RP B")
		e.nomark = mk("nomark", "SPID conformance RP without trust mark")
		e.badmark = mk("badmark", "SPID conformance RP with another RP's trust mark")
		e.other = k("other")
	}()
	if err != nil {
		return &StepError{"setup", err}
	}
	e.srv = &fedServer{base: e.base, ta: e.ta, rps: map[string]*simRP{}}
	for _, rp := range []*simRP{e.rp, e.rp2, e.nomark, e.badmark} {
		e.srv.addRP(strings.TrimPrefix(rp.ID, e.base), rp)
	}
	for _, rp := range []*simRP{e.rp, e.rp2} {
		if e.opt.Register != nil {
			en, err := e.opt.Register(ctx, RPRegistration{EntityID: rp.ID, FederationJWKS: rp.fedJWKS(), CoreJWKS: rp.coreJWKS()})
			if err != nil {
				return &StepError{"registering " + rp.ID, err}
			}
			rp.hints, rp.marks = []string{en.AuthorityHint}, en.TrustMarks
			continue
		}
		e.ta.add(rp)
		m, err := e.ta.mark(rp.ID)
		if err != nil {
			return &StepError{"trust mark for " + rp.ID, err}
		}
		rp.marks = []TrustMark{m}
	}
	// badmark carries rp's mark: issued by a trusted issuer, but for
	// another subject. It is registered under our anchor so that only the
	// mark can stop it.
	e.badmark.marks = e.rp.marks
	e.ta.add(e.badmark)
	e.ta.add(e.nomark)
	if e.opt.Register == nil && e.opt.OnTrustAnchor != nil {
		b, _ := json.Marshal(e.ta.jwks())
		if err := e.opt.OnTrustAnchor(e.ta.ID, b); err != nil {
			return &StepError{"announcing the trust anchor", err}
		}
	}
	return nil
}

func (e *oidcEnv) runCase(ctx context.Context, c caseDef) (rows []Row) {
	defer func() {
		if p := recover(); p != nil {
			rows = append(rows, Row{ID: first(c.ids), Case: c.name, Title: c.title, Status: Fail, Reason: fmt.Sprintf("internal error in the suite: %v", p)})
		}
	}()
	rows = c.oidc(ctx, e)
	for i := range rows {
		if rows[i].Case == "" {
			rows[i].Case = c.name
		}
		if rows[i].Title == "" {
			rows[i].Title = c.title
		}
		if rows[i].ID == "" {
			rows[i].ID = first(c.ids)
		}
		if c.dec && !e.opt.Strict && rows[i].Status == Fail {
			rows[i].Status = Warn
			rows[i].Reason = "[team decision] " + rows[i].Reason
		}
	}
	return rows
}

// ---- the relying party's messages ----

const (
	acrL1 = "https://www.spid.gov.it/SpidL1"
	acrL2 = "https://www.spid.gov.it/SpidL2"
	acrL3 = "https://www.spid.gov.it/SpidL3"
	// claimFiscal is the SPID fiscal number claim (spec §8).
	claimFiscal          = "https://attributes.eid.gov.it/fiscal_number"
	clientAssertionType  = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	descInvalidClient    = "Il client_id indicato nella richiesta non è riconosciuto."
	descUnsupportedGrant = "Il parametro grant_type contiene un valore non corretto."
	descInvalidGrant     = "I parametri grant_type, code, code_verifier, access_token non sono validi."
	descInvalidRequest   = "La richiesta non è valida a causa della mancanza o della non correttezza di uno o più parametri."
	typAccessToken       = "at+jwt"
	accessTokenLifetime  = 900
	idTokenLifetime      = 300
	maxOIDCBody          = 1 << 20
)

// oidcRequested are the userinfo claims the simulator asks for (O088: the
// test identity must hold them).
var oidcRequested = []string{"given_name", "family_name", claimFiscal, "email"}

// authz is one authorization request in the making.
type authz struct {
	rp       *simRP
	ro       map[string]any
	http     url.Values // HTTP parameters besides request
	verifier string
	signWith *fedKey // nil: the RP's signing key
	alg      string  // "" = RS256; "none", "HS256" for the refusal cases
	raw      string  // if set, the request parameter as is
	omit     bool    // send no request parameter at all
	post     bool
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// newAuthz is a valid SPID authorization request of rp at level acr.
func (e *oidcEnv) newAuthz(rp *simRP, acr string) *authz {
	verifier := randomString(64)
	sum := sha256.Sum256([]byte(verifier))
	ui := map[string]any{}
	for _, c := range oidcRequested {
		ui[c] = nil
	}
	now := time.Now()
	ro := map[string]any{
		"iss": rp.ID, "sub": rp.ID, "aud": []string{e.opt.Issuer}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": uuid.NewString(), "client_id": rp.ID, "response_type": "code", "scope": "openid",
		"redirect_uri": rp.RedirectURI, "state": randomString(40), "nonce": randomString(40),
		"code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]), "code_challenge_method": "S256",
		"prompt": "consent login", "acr_values": acr, "claims": map[string]any{"userinfo": ui},
	}
	return &authz{rp: rp, ro: ro, verifier: verifier,
		http: url.Values{"client_id": {rp.ID}, "response_type": {"code"}, "scope": {"openid"}}}
}

// request is the request parameter: the RO signed as configured.
func (a *authz) request() (string, error) {
	if a.omit {
		return "", nil
	}
	if a.raw != "" {
		return a.raw, nil
	}
	b, err := json.Marshal(a.ro)
	if err != nil {
		return "", err
	}
	switch a.alg {
	case "none":
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".", nil
	case "HS256":
		// Keyed with the RP's public modulus: what an attacker knows.
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: a.rp.sig.priv.PublicKey.N.Bytes()}, nil)
		if err != nil {
			return "", err
		}
		obj, err := s.Sign(b)
		if err != nil {
			return "", err
		}
		return obj.CompactSerialize()
	}
	k := a.rp.sig
	if a.signWith != nil {
		k = *a.signWith
	}
	return k.sign("", a.ro)
}

func (e *oidcEnv) authorizationURL(a *authz) (string, url.Values, error) {
	req, err := a.request()
	if err != nil {
		return "", nil, err
	}
	q := url.Values{}
	for k, v := range a.http {
		q[k] = v
	}
	if req != "" {
		q.Set("request", req)
	}
	return e.ec.endpoint("authorization_endpoint"), q, nil
}

// send plays the browser from the authorization request on: it logs in
// and consents (choice) and returns where the flow ended.
func (e *oidcEnv) send(ctx context.Context, a *authz, choice consentChoice) (*outcome, error) {
	return e.sendIn(ctx, nil, a, choice)
}

// newBrowser is a browser with its own cookies (its own SSO session).
func (e *oidcEnv) newBrowser() *browser {
	return newBrowser(e.opt.HTTPClient, e.base, e.opt.Fields, e.opt.Credentials, e.otp, e.opt.StepTimeout)
}

// sendIn is send in browser b, keeping its cookies; nil: a fresh browser.
func (e *oidcEnv) sendIn(ctx context.Context, b *browser, a *authz, choice consentChoice) (*outcome, error) {
	ep, q, err := e.authorizationURL(a)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = e.newBrowser()
	}
	if a.post {
		return b.follow(ctx, http.MethodPost, ep, q, choice)
	}
	return b.follow(ctx, http.MethodGet, ep+"?"+q.Encode(), nil, choice)
}

// callback reads the authorization response from a redirect or a
// form_post page.
func callback(o *outcome) url.Values {
	if o.Form != nil {
		return o.Form.values()
	}
	if u, err := url.Parse(o.URL); err == nil {
		return u.Query()
	}
	return url.Values{}
}

// assertion is a private_key_jwt client assertion for aud; mutate changes
// its claims before signing.
func (rp *simRP) assertion(aud string, mutate func(map[string]any)) string {
	now := time.Now()
	c := map[string]any{"iss": rp.ID, "sub": rp.ID, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": uuid.NewString()}
	if mutate != nil {
		mutate(c)
	}
	s, err := rp.sig.sign("", c)
	if err != nil {
		panic(err)
	}
	return s
}

// tokenForm is a valid code exchange.
func (e *oidcEnv) tokenForm(a *authz, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {a.rp.ID}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {a.rp.assertion(e.ec.endpoint("token_endpoint"), nil)},
		"code":             {code}, "code_verifier": {a.verifier}, "redirect_uri": {a.rp.RedirectURI}}
}

// backResp is a back-channel answer.
type backResp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (e *oidcEnv) back(ctx context.Context, method, target string, form url.Values, bearer string) (*backResp, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opt.StepTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxOIDCBody))
	if err != nil {
		return nil, err
	}
	out := &backResp{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &out.json)
	return out, nil
}

func (r *backResp) str(k string) string { s, _ := r.json[k].(string); return s }

// ---- JOSE, independently of the OP's code ----

var jwsAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512}

// verifyJWS checks a compact JWS with a key of set (by kid, or each when
// the header has none) and returns its header and claims.
func verifyJWS(token string, set jose.JSONWebKeySet) (jose.Header, map[string]any, error) {
	obj, err := jose.ParseSigned(token, jwsAlgs)
	if err != nil {
		return jose.Header{}, nil, fmt.Errorf("not a compact JWS: %w", err)
	}
	if len(obj.Signatures) != 1 {
		return jose.Header{}, nil, errors.New("not exactly one signature")
	}
	h := obj.Signatures[0].Protected
	var payload []byte
	for _, k := range set.Keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if p, err := obj.Verify(k.Key); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return h, nil, fmt.Errorf("signature (kid %q) does not verify with any of %d keys", h.KeyID, len(set.Keys))
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return h, nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	return h, c, nil
}

// peekJWS reads a JWS's header and claims without verifying it.
func peekJWS(token string) (jose.Header, map[string]any, error) {
	obj, err := jose.ParseSigned(token, jwsAlgs)
	if err != nil {
		return jose.Header{}, nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(obj.UnsafePayloadWithoutVerification(), &c); err != nil {
		return jose.Header{}, nil, err
	}
	return obj.Signatures[0].Protected, c, nil
}

func jwksOf(v any) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	b, err := json.Marshal(v)
	if err != nil {
		return set, err
	}
	err = json.Unmarshal(b, &set)
	return set, err
}

func claimInt(c map[string]any, k string) (int64, bool) {
	f, ok := c[k].(float64)
	if !ok || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

func claimStr(c map[string]any, k string) string { s, _ := c[k].(string); return s }
