package fedtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/templates"
)

// The demo relying party's pages: "Entra con SPID" by OpenID Connect at
// level 1 or 2, and the claims the OP released. It talks to the OP in
// process (OPHandler), as the demo federation does.

// WebOptions connect the demo RP to the OP.
type WebOptions struct {
	Issuer    string
	OPHandler http.Handler
	Claims    []string
}

// rpPage is styled by the IdP's stylesheet (same origin in the demo) and
// speaks the visitor's language, with the catalogue of the templates
// package (i18n/*.demorp.json): a person trying OpenID Connect meets the
// same look as at the SAML demo service.
var rpPage = template.Must(template.New("rp").Funcs(template.FuncMap{
	"t": func(lang, key string, args ...string) string { return templates.Text(lang, key, args...) },
}).Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>{{if .Claims}}{{t .Lang "demorp.ok.title"}}{{else}}{{t .Lang "demorp.home.title"}}{{end}} – {{.Name}}</title>
<link rel="stylesheet" href="/static/idp.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml"></head>
<body class="demo">
<a class="skip-link" href="#main">{{t .Lang "common.skip"}}</a>
<div class="demo-slim"><div class="band-inner"><span>{{t .Lang "demo.slim"}}</span></div></div>
<header class="demo-header"><div class="band-inner">
  <img src="/static/demo-sp.svg" alt="" width="48" height="48">
  <div><p class="demo-sp-name">{{.Name}}</p><p class="demo-sp-tag">{{t .Lang "demorp.tagline"}}</p></div>
</div></header>
<main id="main" class="main main-wide"><div class="card card-wide">
<h1>{{if .Claims}}{{t .Lang "demorp.ok.title"}}{{else}}{{t .Lang "demorp.home.title"}}{{end}}</h1>
{{if .Error}}<div class="alert alert-danger" role="alert"><img class="alert-icon" src="/static/icon-error.svg" alt="" width="24" height="24">
  <div><p><strong>{{t .Lang "demorp.error"}}</strong> {{t .Lang .Error}}</p>{{if .Detail}}<p><code>{{.Detail}}</code></p>{{end}}</div></div>{{end}}
{{if .Notice}}<div class="alert alert-success" role="status"><img class="alert-icon" src="/static/icon-check.svg" alt="" width="24" height="24"><div><p>{{t .Lang .Notice}}</p></div></div>{{end}}
{{if .Claims}}<h2>{{t .Lang "demorp.claims"}}</h2>
<dl class="facts claims">{{range .Claims}}
  <dt><code>{{.Name}}</code></dt><dd>{{.Value}}</dd>{{end}}
</dl>{{end}}
{{if .Session}}<div class="actions actions-inline">
  <form method="post" action="{{.Prefix}}/refresh"><button class="btn btn-secondary" type="submit">{{t .Lang "demorp.refresh"}}</button></form>
  <form method="post" action="{{.Prefix}}/revoke"><button class="btn btn-primary" type="submit">{{t .Lang "demorp.logout"}}</button></form>
</div>
<p><a class="back-link" href="{{.Prefix}}/">{{t .Lang "demorp.again"}}</a></p>
{{else}}<p class="lead">{{t .Lang "demorp.home.intro"}}</p>
<form class="spid-choice" method="post" action="{{.Action}}">
  <div class="check"><input type="checkbox" id="offline" name="offline" value="1"> <label for="offline">{{t .Lang "demorp.offline"}}</label></div>
  <div class="spid-option">
    <button class="spid-button" type="submit" name="level" value="1" aria-describedby="level1-desc">
      <span class="spid-button-icon"><img src="/static/spid-user.svg" alt="" width="26" height="26"></span>
      <span class="spid-button-text">{{t .Lang "demorp.button"}}</span>
    </button>
    <p id="level1-desc" class="spid-option-desc"><strong>{{t .Lang "demorp.level" "n" "1"}}</strong> – {{t .Lang "demorp.level1.desc"}}</p>
  </div>
  <div class="spid-option">
    <button class="spid-button" type="submit" name="level" value="2" aria-describedby="level2-desc">
      <span class="spid-button-icon"><img src="/static/spid-user.svg" alt="" width="26" height="26"></span>
      <span class="spid-button-text">{{t .Lang "demorp.button"}}</span>
    </button>
    <p id="level2-desc" class="spid-option-desc"><strong>{{t .Lang "demorp.level" "n" "2"}}</strong> – {{t .Lang "demorp.level2.desc"}}</p>
  </div>
</form>{{end}}
</div></main>
<footer class="footer"><div class="footer-inner">
  <nav class="lang-switch" aria-label="{{t .Lang "common.language"}}"><ul>{{$cur := .Lang}}{{$p := .Prefix}}{{range .Langs}}
    <li>{{if eq .Code $cur}}<span aria-current="true" lang="{{.Code}}">{{.Name}}</span>{{else}}<a href="{{$p}}/?lang={{.Code}}" lang="{{.Code}}" hreflang="{{.Code}}">{{.Name}}</a>{{end}}</li>{{end}}
  </ul></nav>
</div></footer>
</body></html>`))

type rpClaim struct{ Name, Value string }

// EnableWeb adds the start page, the login button and the callback.
func (rp *RP) EnableWeb(o WebOptions) {
	rp.web = &o
}

func (rp *RP) prefix() string {
	u, _ := url.Parse(rp.ID)
	return u.Path
}

// render shows the page with an error (a catalogue key, "" for none) and
// its technical detail, or the claims.
func (rp *RP) render(w http.ResponseWriter, r *http.Request, status int, errKey, detail string, claims []rpClaim) {
	rp.renderPage(w, r, status, rpView{Error: errKey, Detail: detail, Claims: claims})
}

// rpView is what the demo RP's page shows.
type rpView struct {
	Error, Detail string // a demorp.err.* key and the technical cause
	Notice        string // a demorp.notice.* key
	Claims        []rpClaim
	// Session: the RP holds tokens, so it offers refresh and logout.
	Session bool
}

type rpLang struct{ Code, Name string }

func (rp *RP) renderPage(w http.ResponseWriter, r *http.Request, status int, v rpView) {
	lang := templates.SetLang(w, r)
	for i, c := range v.Claims {
		if c.Value == refreshReceived {
			v.Claims[i].Value = templates.Text(lang, "demorp.received")
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	name := rp.Name
	if lang == "en" && rp.NameEN != "" {
		name = rp.NameEN
	}
	_ = rpPage.Execute(w, map[string]any{"Name": name, "Lang": lang, "Error": v.Error, "Detail": v.Detail, "Notice": v.Notice,
		"Claims": v.Claims, "Session": v.Session, "Prefix": rp.prefix(), "Action": rp.prefix() + "/login",
		"Langs": []rpLang{{"it", "Italiano"}, {"en", "English"}}})
}

// refreshReceived stands for a refresh token among the claims shown; the
// page says "received" in its language.
const refreshReceived = "\x00refresh-received"

func (rp *RP) home(w http.ResponseWriter, r *http.Request) {
	if rp.web == nil {
		http.NotFound(w, r)
		return
	}
	rp.render(w, r, http.StatusOK, "", "", nil)
}

const pendingCookie = "demo-rp-pending"

func (rp *RP) start(w http.ResponseWriter, r *http.Request) {
	if rp.web == nil {
		http.NotFound(w, r)
		return
	}
	acr := "https://www.spid.gov.it/SpidL1"
	if r.FormValue("level") == "2" {
		acr = "https://www.spid.gov.it/SpidL2"
	}
	acrs := []string{acr}
	ro, p := rp.Request(rp.web.Issuer, acrs, rp.web.Claims)
	if r.FormValue("offline") == "1" {
		// A long revocable session needs SpidL1 last (spec §4.3).
		if acr != "https://www.spid.gov.it/SpidL1" {
			ro["acr_values"] = acr + " https://www.spid.gov.it/SpidL1"
		}
		ro["scope"] = "openid offline_access"
	}
	signed, err := rp.SignRequest(ro)
	if err != nil {
		rp.render(w, r, http.StatusInternalServerError, "demorp.err.sign", err.Error(), nil)
		return
	}
	// The demo keeps its PKCE verifier and nonce in a cookie of its own
	// path: it is a test fixture, not a production RP.
	b, _ := json.Marshal(p)
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: rp.prefix(),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 900})
	http.Redirect(w, r, AuthorizationURL(rp.web.Issuer+"/authorization", ro, signed), http.StatusFound)
}

func (rp *RP) callback(w http.ResponseWriter, r *http.Request) {
	if rp.web == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	c, err := r.Cookie(pendingCookie)
	var p Pending
	if err == nil {
		b, _ := base64.RawURLEncoding.DecodeString(c.Value)
		_ = json.Unmarshal(b, &p)
	}
	if p.State == "" || q.Get("state") != p.State {
		rp.render(w, r, http.StatusBadRequest, "demorp.err.state", "", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		rp.render(w, r, http.StatusOK, "demorp.err.op", strings.TrimSuffix(e+": "+q.Get("error_description"), ": "), nil)
		return
	}
	if q.Get("iss") != rp.web.Issuer {
		rp.render(w, r, http.StatusBadRequest, "demorp.err.iss", "", nil)
		return
	}
	claims, tokens, err := rp.redeem(q.Get("code"), p)
	if err != nil {
		rp.render(w, r, http.StatusBadGateway, "demorp.err.code", err.Error(), nil)
		return
	}
	rp.keepTokens(w, tokens)
	rp.renderPage(w, r, http.StatusOK, rpView{Claims: sortedClaims(claims), Session: true})
}

// sortedClaims lists claims by name.
func sortedClaims(claims map[string]any) []rpClaim {
	var out []rpClaim
	for k, v := range claims {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out = append(out, rpClaim{Name: k, Value: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// redeem exchanges the code and reads userinfo, through the OP in process.
func (rp *RP) redeem(code string, p Pending) (map[string]any, rpTokens, error) {
	form, err := rp.TokenForm(rp.web.Issuer+"/token", code, p)
	if err != nil {
		return nil, rpTokens{}, err
	}
	return rp.tokensAndClaims(form, p.Nonce)
}

// rpTokens are what the demo RP keeps after a login.
type rpTokens struct {
	Access  string `json:"a"`
	Refresh string `json:"r,omitempty"`
}

// tokensAndClaims posts form to the token endpoint, checks the ID token
// (its nonce when nonce is not empty) and reads userinfo.
func (rp *RP) tokensAndClaims(form url.Values, nonce string) (map[string]any, rpTokens, error) {
	ec, err := rp.call(http.MethodGet, rp.web.Issuer+federation.WellKnownPath, nil, "")
	if err != nil {
		return nil, rpTokens{}, err
	}
	keys, _, err := OPKeys(string(ec))
	if err != nil {
		return nil, rpTokens{}, err
	}
	body, err := rp.call(http.MethodPost, rp.web.Issuer+"/token", form, "")
	if err != nil {
		return nil, rpTokens{}, err
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, rpTokens{}, err
	}
	v, err := federation.Verify(tok.IDToken, keys)
	if err != nil {
		return nil, rpTokens{}, fmt.Errorf("ID token: %w", err)
	}
	var id map[string]any
	if err := json.Unmarshal(v.Payload, &id); err != nil || (nonce != "" && id["nonce"] != nonce) {
		return nil, rpTokens{}, fmt.Errorf("ID token nonce differs")
	}
	ui, err := rp.call(http.MethodGet, rp.web.Issuer+"/userinfo", nil, tok.AccessToken)
	if err != nil {
		return nil, rpTokens{}, err
	}
	claims, err := rp.OpenUserinfo(string(ui), jose.JSONWebKeySet(keys))
	if err != nil {
		return nil, rpTokens{}, err
	}
	claims["acr (ID token)"] = id["acr"]
	if tok.RefreshToken != "" {
		claims["refresh_token"] = refreshReceived
	}
	return claims, rpTokens{Access: tok.AccessToken, Refresh: tok.RefreshToken}, nil
}

func (rp *RP) call(method, u string, form url.Values, bearer string) ([]byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	rp.web.OPHandler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d: %.200s", u, rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes(), nil
}
