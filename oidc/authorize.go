package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// SPID levels as acr values (spec §0).
const (
	acrL1 = "https://www.spid.gov.it/SpidL1"
	acrL2 = "https://www.spid.gov.it/SpidL2"
	acrL3 = "https://www.spid.gov.it/SpidL3"
)

var acrLevel = map[string]spid.Level{acrL1: spid.L1, acrL2: spid.L2, acrL3: spid.L3}

func acrOf(l spid.Level) string {
	for k, v := range acrLevel {
		if v == l {
			return k
		}
	}
	return acrL1
}

// authzRequest is a validated authorization request waiting for the
// citizen, kept in the shared cache under its handle.
type authzRequest struct {
	ClientID      string   `json:"c"`
	RedirectURI   string   `json:"r"`
	State         string   `json:"s"`
	Nonce         string   `json:"n"`
	Scope         []string `json:"sc"`
	CodeChallenge string   `json:"cc"`
	ResponseMode  string   `json:"rm"`
	Level         int      `json:"l"`
	Claims        []string `json:"cl"`
	IssuedAt      int64    `json:"iat"` // request object iat: the session start of spec §4.3
	// AAs are the AA entity ids of authorization_details (spec §9.6).
	AAs []string `json:"aa,omitempty"`
	// Offline: the request may end in a refresh token if the citizen opts
	// in (spec §4.3: offline_access, prompt consent, SpidL1 last, the
	// client's grant types).
	Offline bool `json:"o,omitempty"`
	// Handle names the authorization in the register and is the id of
	// the long revocable session it may open.
	Handle string `json:"h,omitempty"`
}

// codeGrant is what an authorization code stands for.
type codeGrant struct {
	Req       authzRequest `json:"q"`
	Identity  string       `json:"i"`
	Level     int          `json:"l"`
	AuthTime  int64        `json:"at"`
	Used      bool         `json:"u,omitempty"`
	AccessJTI string       `json:"aj,omitempty"`
	// Offline: the citizen opted in to a long revocable session;
	// SessionID names it once the code is exchanged.
	Offline    bool   `json:"o,omitempty"`
	SessionID  string `json:"ls,omitempty"`
	SSOSession string `json:"sso,omitempty"`
	// Epoch is the identity's SessionEpoch at authentication: the long
	// session it opens ends with the identity's other sessions.
	Epoch int64 `json:"ep,omitempty"`
	// AAs the citizen chose and authorised: a grant token each (aa.go).
	AAs []string `json:"aa,omitempty"`
}

// authzError is a refusal to deliver to the validated redirect_uri.
type authzError struct {
	code, reason string
	noState      bool // state was missing: do not echo one
}

func redirectErr(code, format string, args ...any) *authzError {
	return &authzError{code: code, reason: fmt.Sprintf(format, args...)}
}

// authorize is the authorization endpoint (spec §3), in the order of §3.4.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var params url.Values
	switch r.Method {
	case http.MethodGet:
		params = r.URL.Query()
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			p.refuseOnPage(w, r, r.URL.Query(), "", federation.CodeInvalidRequest, "form not readable")
			return
		}
		params = r.PostForm
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// 1. request and client_id.
	ro, clientID := params.Get("request"), params.Get("client_id")
	if ro == "" || clientID == "" {
		p.refuseOnPage(w, r, params, "", federation.CodeInvalidRequest, "request or client_id missing")
		return
	}
	if len(ro) > maxRequestObject {
		p.refuseOnPage(w, r, params, "", federation.CodeInvalidRequest, "request object too large")
		return
	}
	// 2. The client's trust chain.
	cl, fe := p.client(ctx, clientID)
	if fe != nil {
		p.refuseOnPage(w, r, params, "", fe.Code, fe.Error())
		return
	}
	// 3. The request object: a JWS (never a JWE) by a key of the client.
	if strings.Count(ro, ".") != 2 {
		p.refuseOnPage(w, r, params, "", ErrInvalidRequestObject, "request object is not a compact JWS")
		return
	}
	v, err := federation.Verify(ro, cl.SigKeys)
	if err != nil {
		if fresh := p.refreshClient(ctx, clientID); fresh != nil {
			cl = fresh
			v, err = federation.Verify(ro, cl.SigKeys)
		}
	}
	if err != nil || (v.Alg != "RS256" && v.Alg != "RS512") {
		p.refuseOnPage(w, r, params, "", ErrInvalidRequestObject, fmt.Sprintf("request object signature: %v (alg %s)", err, v.Alg))
		return
	}
	var claims map[string]any
	if err := json.Unmarshal(v.Payload, &claims); err != nil {
		p.refuseOnPage(w, r, params, "", ErrInvalidRequestObject, "request object payload is not a JSON object")
		return
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	if str("iss") != clientID {
		p.refuseOnPage(w, r, params, "", ErrInvalidRequestObject, "request object iss differs from client_id")
		return
	}
	if str("client_id") != clientID {
		p.refuseOnPage(w, r, params, "", ErrInvalidRequestObject, "request object client_id missing or different")
		return
	}
	// 4. redirect_uri: exact match of a registered one.
	redirect := str("redirect_uri")
	if redirect == "" || !slices.Contains(cl.RedirectURIs, redirect) {
		p.refuseOnPage(w, r, params, "", ErrInvalidRequest, "redirect_uri missing or not registered")
		return
	}
	// 5. From here errors go back to the client.
	state, hasState := claims["state"].(string)
	mode := str("response_mode")
	if mode != "form_post" {
		mode = "query"
	}
	req, aerr := p.checkRequest(r, params, claims, cl)
	if aerr != nil {
		p.o.Log.InfoContext(ctx, "authorization request refused", "client", clientID, "error", aerr.code, "reason", aerr.reason)
		p.audit(ctx, "anonymous", "oidc.authorization", clientID, audit.Denied, map[string]string{"error": aerr.code, "reason": aerr.reason})
		if aerr.noState || !hasState {
			state = ""
		}
		id := uuid.NewString()
		p.record(ctx, register.Entry{Kind: KindAuthorizationRequest, Direction: register.Received, Binding: bindingFront,
			SP: clientID, RequestID: id, MessageID: str("jti"), Message: formOf(params)})
		p.deliver(w, r, federation.LocalName(cl.Names, templates.Lang(r), cl.Name), redirect, mode, errorValues(aerr.code), state)
		p.record(ctx, register.Entry{Kind: KindAuthorizationResponse, Direction: register.Sent, Binding: bindingFront,
			SP: clientID, RequestID: id, Message: formOf(url.Values{"error": {aerr.code}, "state": {state}, "redirect_uri": {redirect}})})
		return
	}
	handle := uuid.NewString()
	req.ClientID, req.RedirectURI, req.State, req.ResponseMode, req.Handle = clientID, redirect, state, mode, handle
	req.AAs = requiredAAs(claims["authorization_details"])
	p.record(ctx, register.Entry{Kind: KindAuthorizationRequest, Direction: register.Received, Binding: bindingFront,
		SP: clientID, RequestID: handle, MessageID: str("jti"), Message: formOf(params)})
	b, _ := json.Marshal(req)
	if err := p.o.Eph.CreateValue(ctx, "oidc:ar:"+handle, b, p.now().Add(requestLifetime)); err != nil {
		p.o.Log.ErrorContext(ctx, "storing authorization request", "err", err)
		p.refuseOnPage(w, r, params, handle, federation.CodeTemporarilyUnavailable, "cache unavailable")
		return
	}
	p.o.Log.DebugContext(ctx, "authorization request accepted", "client", clientID, "handle", handle, "level", req.Level)
	f, err := p.o.Flow.NewState(w, r)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "browser cookie", "err", err)
		p.refuseOnPage(w, r, params, handle, federation.CodeTemporarilyUnavailable, "browser cookie")
		return
	}
	zero := 0
	f.Proto, f.SP, f.RequestID, f.RequestIssueInstant = storage.ProtocolOIDC, clientID, handle, f.Created
	f.Level, f.Comparison, f.AttrIndex = req.Level, spid.ComparisonMinimum, &zero
	// prompt=login never reuses the SpidL1 session (spec §3.3).
	f.ForceAuthn = slices.Contains(strings.Fields(str("prompt")), "login")
	f.RPName, f.Offline = cl.Name, req.Offline
	// Only the pages' languages travel with the sealed flow.
	for _, l := range templates.Languages {
		if n := cl.Names[l]; n != "" {
			if f.RPNames == nil {
				f.RPNames = map[string]string{}
			}
			f.RPNames[l] = n
		}
	}
	for _, a := range SAMLAttributes(req.Claims) {
		f.RPAttrs = append(f.RPAttrs, a.Name)
	}
	f.AAs = p.o.Flow.RequestedAAs(ctx, req.AAs)
	p.o.Flow.Begin(w, r, rpOf(f), f)
}

// checkRequest applies §3.2 (aud, iat, exp, jti) and §3.3 in table order.
func (p *Provider) checkRequest(r *http.Request, params url.Values, c map[string]any, cl *Client) (*authzRequest, *authzError) {
	now := p.now()
	if !audHas(c["aud"], p.o.Issuer) {
		return nil, redirectErr(ErrInvalidRequestObject, "aud does not name the issuer")
	}
	iat, okIat := numeric(c["iat"])
	if !okIat || time.Unix(iat, 0).After(now.Add(federation.Skew)) {
		return nil, redirectErr(ErrInvalidRequestObject, "iat missing or in the future")
	}
	exp, okExp := numeric(c["exp"])
	if !okExp || !now.Before(time.Unix(exp, 0)) {
		return nil, redirectErr(ErrInvalidRequestObject, "exp missing or past")
	}
	if jti, ok := c["jti"].(string); ok && jti != "" {
		err := p.o.Eph.InsertRequestID(r.Context(), "oidc:ro:"+cl.ID+":"+jti, time.Unix(exp, 0))
		if errors.Is(err, storage.ErrAlreadyExists) {
			return nil, redirectErr(ErrInvalidRequestObject, "request object replayed")
		} else if err != nil {
			return nil, redirectErr(ErrTemporarilyUnavailable, "replay cache: %v", err)
		}
	}
	if params.Get("request_uri") != "" {
		return nil, redirectErr(ErrRequestURINotSupported, "request_uri sent")
	}
	if params.Get("registration") != "" || c["registration"] != nil {
		return nil, redirectErr(ErrRegistrationUnsupported, "registration sent")
	}
	str := func(k string) (string, bool) { s, ok := c[k].(string); return s, ok }
	// response_type: HTTP and request object, equal, "code".
	rt, _ := str("response_type")
	if rt == "" || params.Get("response_type") != rt || rt != "code" {
		return nil, redirectErr(ErrInvalidRequest, "response_type missing, different or not code")
	}
	// scope: both, equal as sets; openid; only openid and offline_access.
	sc, _ := str("scope")
	scope := strings.Fields(sc)
	if len(scope) == 0 || params.Get("scope") == "" || !sameSet(scope, strings.Fields(params.Get("scope"))) {
		return nil, redirectErr(ErrInvalidRequest, "scope missing or different")
	}
	if !slices.Contains(scope, "openid") {
		return nil, redirectErr(ErrInvalidScope, "scope lacks openid")
	}
	for _, s := range scope {
		if s != "openid" && s != "offline_access" {
			return nil, redirectErr(ErrInvalidScope, "scope %q not supported", s)
		}
	}
	cc, _ := str("code_challenge")
	if len(cc) != 43 || !base64url(cc) {
		return nil, redirectErr(ErrInvalidRequest, "code_challenge missing or not an S256 value")
	}
	if m, _ := str("code_challenge_method"); m != "S256" {
		return nil, redirectErr(ErrInvalidRequest, "code_challenge_method missing or not S256")
	}
	nonce, _ := str("nonce")
	if len(nonce) < 32 || len(nonce) > 512 || !printable(nonce) {
		return nil, redirectErr(ErrInvalidRequest, "nonce missing, shorter than 32 or longer than 512 characters")
	}
	state, ok := str("state")
	if !ok || state == "" {
		e := redirectErr(ErrInvalidRequest, "state missing")
		e.noState = true
		return nil, e
	}
	if len(state) < 32 || len(state) > 512 {
		return nil, redirectErr(ErrInvalidRequest, "state shorter than 32 or longer than 512 characters")
	}
	prompt, _ := str("prompt")
	pr := strings.Fields(prompt)
	if !(sameSet(pr, []string{"consent"}) || sameSet(pr, []string{"consent", "login"})) {
		return nil, redirectErr(ErrInvalidRequest, "prompt must be consent or consent login")
	}
	acr, ok := str("acr_values")
	if !ok || acr == "" {
		return nil, redirectErr(ErrInvalidRequest, "acr_values missing or not a string")
	}
	acrs := strings.Fields(acr)
	level := spid.Level(0)
	seen := map[string]bool{}
	for _, a := range acrs {
		l, known := acrLevel[a]
		if !known || seen[a] {
			return nil, redirectErr(ErrInvalidRequest, "acr_values has an unknown or repeated value")
		}
		seen[a] = true
		level = max(level, l)
	}
	if slices.Contains(scope, "offline_access") && slices.Contains(acrs, acrL1) && (acrs[len(acrs)-1] != acrL1 || acrs[0] == acrL1 && len(acrs) > 1) {
		return nil, redirectErr(ErrInvalidRequest, "with offline_access SpidL1 must come last")
	}
	claimNames, err := userinfoClaims(c["claims"])
	if err != nil {
		return nil, redirectErr(ErrInvalidRequest, "claims: %v", err)
	}
	if m, present := c["response_mode"]; present {
		if s, _ := m.(string); s != "query" && s != "form_post" {
			return nil, redirectErr(ErrInvalidRequest, "response_mode not supported")
		}
	}
	offline := slices.Contains(scope, "offline_access") && slices.Contains(pr, "consent") &&
		acrs[len(acrs)-1] == acrL1 && cl.allowsRefresh()
	return &authzRequest{Nonce: nonce, Scope: scope, CodeChallenge: cc, Level: int(level), Claims: claimNames, IssuedAt: iat,
		Offline: offline}, nil
}

// userinfoClaims reads the claims parameter: an object with only
// userinfo, every member a SPID claim (spec §3.6).
func userinfoClaims(v any) ([]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("missing or not an object")
	}
	if _, ok := m["id_token"]; ok {
		return nil, errors.New("id_token claims are not released in SPID")
	}
	ui, ok := m["userinfo"].(map[string]any)
	if !ok || len(m) != 1 {
		return nil, errors.New("userinfo missing, or other members present")
	}
	var out []string
	for name, spec := range ui {
		if !IsClaim(name) {
			return nil, fmt.Errorf("%q is not a SPID claim", name)
		}
		switch spec.(type) {
		case nil, map[string]any:
		default:
			return nil, fmt.Errorf("%q: request must be null or an object", name)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

func audHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, _ := x.(string); s == want {
				return true
			}
		}
	}
	return false
}

// numeric reads a NumericDate; strings are not numbers.
func numeric(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f <= 0 {
		return 0, false
	}
	return int64(f), true
}

func sameSet(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

func base64url(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// refuseOnPage is pageError at the authorization endpoint: the request
// (unless handle names it, recorded already) and the page that answered
// it go to the transaction register like every other authorization's
// messages (O086), under the client_id as sent, which the federation may
// not know.
func (p *Provider) refuseOnPage(w http.ResponseWriter, r *http.Request, params url.Values, handle, code, reason string) {
	ctx := r.Context()
	client := params.Get("client_id")
	if len(client) > maxRegisteredClientID {
		client = client[:maxRegisteredClientID]
	}
	if handle == "" {
		handle = uuid.NewString()
		p.record(ctx, register.Entry{Kind: KindAuthorizationRequest, Direction: register.Received, Binding: bindingFront,
			SP: client, RequestID: handle, Message: boundedForm(params)})
	}
	p.record(ctx, register.Entry{Kind: KindAuthorizationErrorPage, Direction: register.Sent, Binding: bindingFront,
		SP: client, RequestID: handle, Message: formOf(url.Values{"error": {code}, "reason": {reason}})})
	p.pageError(w, r, code, reason)
}

// flowPageError is pageError at the end of a flow whose authorization
// request is in the register already: the page joins it there.
func (p *Provider) flowPageError(w http.ResponseWriter, r *http.Request, f *authflow.State, code, reason string) {
	p.record(r.Context(), register.Entry{Kind: KindAuthorizationErrorPage, Direction: register.Sent, Binding: bindingFront,
		SP: f.SP, RequestID: f.RequestID, Message: formOf(url.Values{"error": {code}, "reason": {reason}})})
	p.pageError(w, r, code, reason)
}

// pageError refuses a request that cannot be answered to a client: an
// HTML page on the OP, nothing redirected (spec conventions).
func (p *Provider) pageError(w http.ResponseWriter, r *http.Request, code, reason string) {
	p.o.Log.InfoContext(r.Context(), "authorization request refused on the OP", "error", code, "reason", reason)
	p.audit(r.Context(), "anonymous", "oidc.authorization", "", audit.Denied, map[string]string{"error": code, "reason": reason})
	page := templates.ErrorPage{Reason: templates.ReasonBadRequest}
	if code == federation.CodeTemporarilyUnavailable {
		page.Reason = templates.ReasonUnavailable
	}
	if err := p.o.Pages.RenderError(w, templates.Lang(r), page); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering error page", "err", err)
	}
}

// deliver sends the authorization response (spec §3.8): a 302 with the
// parameters in the query, or an auto-submitting form for form_post;
// state (when there is one) and iss always.
func (p *Provider) deliver(w http.ResponseWriter, r *http.Request, clientName, redirect, mode string, v url.Values, state string) {
	action, fields, err := p.responseTarget(redirect, mode, v, state)
	if err != nil {
		// Registered redirect URIs parse: this is a bug, not the client's.
		p.o.Log.ErrorContext(r.Context(), "redirect_uri of an authorization response", "err", err)
		if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: templates.ReasonInternal}); err != nil {
			p.o.Log.ErrorContext(r.Context(), "rendering error page", "err", err)
		}
		return
	}
	if mode != "form_post" {
		http.Redirect(w, r, action, http.StatusFound)
		return
	}
	csp.AllowFormTo(w.Header(), redirect)
	if err := p.o.Pages.Render(w, http.StatusOK, templates.PageTransfer, templates.Lang(r),
		templates.TransferPage{SPName: clientName, Action: action, Fields: fields}); err != nil {
		p.o.Log.ErrorContext(r.Context(), "rendering form_post", "err", err)
	}
}

// responseTarget is where the authorization response v goes, with state
// (when there is one) and iss added: for form_post, redirect and the
// fields of the form that posts it there; otherwise redirect with them
// in its query.
func (p *Provider) responseTarget(redirect, mode string, v url.Values, state string) (string, []templates.Field, error) {
	if state != "" {
		v.Set("state", state)
	}
	v.Set("iss", p.o.Issuer)
	if mode == "form_post" {
		var fields []templates.Field
		for _, k := range []string{"code", "error", "error_description", "state", "iss"} {
			if x := v.Get(k); x != "" {
				fields = append(fields, templates.Field{Name: k, Value: x})
			}
		}
		return redirect, fields, nil
	}
	u, err := url.Parse(redirect)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	for k, vals := range v {
		q[k] = vals
	}
	u.RawQuery = q.Encode()
	return u.String(), nil, nil
}

// pending loads and removes the authorization request of handle: it is
// answered once.
func (p *Provider) pending(r *http.Request, handle string) (*authzRequest, bool) {
	ctx := r.Context()
	b, _, err := p.o.Eph.GetValue(ctx, "oidc:ar:"+handle)
	if err != nil {
		return nil, false
	}
	if err := p.o.Eph.DeleteValue(ctx, "oidc:ar:"+handle); err != nil {
		return nil, false // another request answered it first
	}
	var req authzRequest
	if json.Unmarshal(b, &req) != nil {
		return nil, false
	}
	return &req, true
}

// Answer issues the code once the citizen consented (authflow.FrontEnd).
// A SpidL1 login joins the SSO session as a SAML one does (spec §3.5):
// the session records the code and the access token it will buy, so that
// the end of the session revokes them (SessionEnded).
func (p *Provider) Answer(w http.ResponseWriter, r *http.Request, _ *metadata.SP, f *authflow.State, id storage.Identity) {
	ctx := r.Context()
	handle := f.RequestID
	req, ok := p.pending(r, handle)
	if !ok {
		p.flowPageError(w, r, f, federation.CodeInvalidRequest, "authorization request unknown or already answered")
		return
	}
	code := uuid.NewString()
	level, authn := spid.Level(f.Performed), f.AuthnTime()
	reused := f.Session != ""
	g := codeGrant{Req: *req, Identity: id.ID, Level: int(level), AuthTime: authn.Unix(), AccessJTI: uuid.NewString(),
		Offline: req.Offline && f.Offline && f.OfflineGranted, AAs: f.AAChosen, Epoch: f.Epoch}
	if f.JoinsSession() {
		_, sid, err := p.o.Flow.JoinSession(w, r, f, req.ClientID, code, g.AccessJTI)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "SSO session", "err", err)
			p.deliver(w, r, "", req.RedirectURI, req.ResponseMode, errorValues(ErrTemporarilyUnavailable), req.State)
			return
		}
		g.SSOSession = sid
	}
	b, _ := json.Marshal(g)
	if err := p.o.Eph.CreateValue(ctx, "oidc:code:"+code, b, p.now().Add(CodeLifetime)); err != nil {
		p.o.Log.ErrorContext(ctx, "storing authorization code", "err", err)
		p.deliver(w, r, "", req.RedirectURI, req.ResponseMode, errorValues(ErrTemporarilyUnavailable), req.State)
		return
	}
	p.audit(ctx, id.ID, "oidc.authorization", req.ClientID, audit.Success, map[string]string{
		"level": fmt.Sprint(int(level)), "reused_session": fmt.Sprint(reused), "handle": handle, "flow": f.ID,
		"offline": fmt.Sprint(g.Offline)})
	p.o.Flow.Authenticated(ctx, id.ID)
	p.deliver(w, r, "", req.RedirectURI, req.ResponseMode, url.Values{"code": {code}}, req.State)
	p.record(ctx, register.Entry{Kind: KindAuthorizationResponse, Direction: register.Sent, Binding: bindingFront,
		SP: req.ClientID, SPIDCode: id.Attributes["spidCode"], RequestID: handle, MessageID: code,
		Message: formOf(url.Values{"code": {code}, "state": {req.State}, "iss": {p.o.Issuer}, "redirect_uri": {req.RedirectURI},
			"acr": {acrOf(level)}, "offline": {fmt.Sprint(g.Offline)}})})
}

// Refuse answers access_denied (spec §3.7) whatever SPID anomaly ended
// the flow (authflow.FrontEnd); the anomaly is audited and logged.
func (p *Provider) Refuse(w http.ResponseWriter, r *http.Request, _ *metadata.SP, f *authflow.State, code spid.Anomaly, reason string) {
	p.audit(r.Context(), f.Actor(), "oidc.authorization", f.SP, audit.Failure, map[string]string{
		"anomaly": code.String(), "reason": reason, "flow": f.ID})
	req, ok := p.pending(r, f.RequestID)
	if !ok {
		p.flowPageError(w, r, f, federation.CodeInvalidRequest, "authorization request unknown or already answered")
		return
	}
	p.o.Log.InfoContext(r.Context(), "authorization ended without consent", "client", req.ClientID, "anomaly", code.String(), "reason", reason)
	p.deliver(w, r, "", req.RedirectURI, req.ResponseMode, errorValues(ErrAccessDenied), req.State)
	p.record(r.Context(), register.Entry{Kind: KindAuthorizationResponse, Direction: register.Sent, Binding: bindingFront,
		SP: req.ClientID, RequestID: f.RequestID, Message: formOf(url.Values{"error": {ErrAccessDenied}, "state": {req.State},
			"redirect_uri": {req.RedirectURI}, "anomaly": {code.String()}})})
}
