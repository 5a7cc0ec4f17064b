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

var rpPage = template.Must(template.New("rp").Parse(`<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>{{.Name}}</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><main>
<h1>{{.Name}}</h1>
<p>Relying party dimostrativa della federazione OpenID Connect SPID di prova / Demo relying party of the test SPID OpenID Connect federation.</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
{{if .Notice}}<p role="status">{{.Notice}}</p>{{end}}
{{if .Claims}}<h2>Dati ricevuti / Claims received</h2><dl>
{{range .Claims}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>{{end}}
{{if .Session}}<form method="post" action="{{.Prefix}}/refresh"><button type="submit">Aggiorna i token (refresh token) / Refresh the tokens</button></form>
<form method="post" action="{{.Prefix}}/revoke"><button type="submit">Esci (revoca del token) / Log out (token revocation)</button></form>{{end}}
<form method="post" action="{{.Action}}">
<p><input type="checkbox" id="offline" name="offline" value="1"> <label for="offline">Chiedi l'accesso offline (offline_access) / Ask for offline access</label></p>
<button type="submit" name="level" value="1">Entra con SPID (OpenID Connect, livello 1)</button>
<button type="submit" name="level" value="2">Entra con SPID (OpenID Connect, livello 2)</button>
</form>
</main></body></html>`))

type rpClaim struct{ Name, Value string }

// EnableWeb adds the start page, the login button and the callback.
func (rp *RP) EnableWeb(o WebOptions) {
	rp.web = &o
}

func (rp *RP) prefix() string {
	u, _ := url.Parse(rp.ID)
	return u.Path
}

func (rp *RP) render(w http.ResponseWriter, status int, errMsg string, claims []rpClaim) {
	rp.renderPage(w, status, rpView{Error: errMsg, Claims: claims})
}

// rpView is what the demo RP's page shows.
type rpView struct {
	Error, Notice string
	Claims        []rpClaim
	// Session: the RP holds tokens, so it offers refresh and logout.
	Session bool
}

func (rp *RP) renderPage(w http.ResponseWriter, status int, v rpView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = rpPage.Execute(w, map[string]any{"Name": rp.Name, "Error": v.Error, "Notice": v.Notice, "Claims": v.Claims,
		"Session": v.Session, "Prefix": rp.prefix(), "Action": rp.prefix() + "/login"})
}

func (rp *RP) home(w http.ResponseWriter, r *http.Request) {
	if rp.web == nil {
		http.NotFound(w, r)
		return
	}
	rp.render(w, http.StatusOK, "", nil)
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
		rp.render(w, http.StatusInternalServerError, "Impossibile firmare la richiesta / cannot sign the request", nil)
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
		rp.render(w, http.StatusBadRequest, "Risposta inattesa (state diverso) / unexpected answer (state differs)", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		rp.render(w, http.StatusOK, fmt.Sprintf("L'OP ha risposto / the OP answered: %s — %s", e, q.Get("error_description")), nil)
		return
	}
	if q.Get("iss") != rp.web.Issuer {
		rp.render(w, http.StatusBadRequest, "iss diverso dall'OP / iss differs from the OP", nil)
		return
	}
	claims, tokens, err := rp.redeem(q.Get("code"), p)
	if err != nil {
		rp.render(w, http.StatusBadGateway, "Scambio del codice non riuscito / code exchange failed: "+err.Error(), nil)
		return
	}
	rp.keepTokens(w, tokens)
	rp.renderPage(w, http.StatusOK, rpView{Claims: sortedClaims(claims), Session: true})
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
		claims["refresh_token"] = "ricevuto / received"
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
