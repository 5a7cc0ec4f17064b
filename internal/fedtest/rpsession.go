package fedtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
)

// The demo RP's session after a login: it keeps its tokens in a cookie of
// its own path (a test fixture, not a production RP) and offers a refresh
// (spec §4.3) and a logout by revocation (§7), as F036 asks.

const tokensCookie = "demo-rp-tokens"

func (rp *RP) keepTokens(w http.ResponseWriter, t rpTokens) {
	b, _ := json.Marshal(t)
	http.SetCookie(w, &http.Cookie{Name: tokensCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: rp.prefix(),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 30 * 24 * 3600})
}

func (rp *RP) tokens(r *http.Request) (rpTokens, bool) {
	var t rpTokens
	c, err := r.Cookie(tokensCookie)
	if err != nil {
		return t, false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Access == "" {
		return t, false
	}
	return t, true
}

// clientForm is a back-channel request to the endpoint at u.
func (rp *RP) clientForm(u string, v url.Values) (url.Values, error) {
	a, err := rp.ClientAssertion(u)
	if err != nil {
		return nil, err
	}
	v.Set("client_id", rp.ID)
	v.Set("client_assertion", a)
	v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	return v, nil
}

func (rp *RP) refresh(w http.ResponseWriter, r *http.Request) {
	if rp.web == nil {
		http.NotFound(w, r)
		return
	}
	t, ok := rp.tokens(r)
	if !ok || t.Refresh == "" {
		rp.renderPage(w, r, http.StatusBadRequest, rpView{Error: "demorp.err.norefresh", Session: ok})
		return
	}
	form, err := rp.clientForm(rp.web.Issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.Refresh}})
	if err != nil {
		rp.render(w, r, http.StatusInternalServerError, "demorp.err.refresh", err.Error(), nil)
		return
	}
	claims, next, err := rp.tokensAndClaims(form, "")
	if err != nil {
		rp.renderPage(w, r, http.StatusBadGateway, rpView{Error: "demorp.err.refresh", Detail: err.Error()})
		return
	}
	rp.keepTokens(w, next)
	rp.renderPage(w, r, http.StatusOK, rpView{Notice: "demorp.notice.refreshed",
		Claims: sortedClaims(claims), Session: true})
}

func (rp *RP) revoke(w http.ResponseWriter, r *http.Request) {
	if rp.web == nil {
		http.NotFound(w, r)
		return
	}
	t, ok := rp.tokens(r)
	http.SetCookie(w, &http.Cookie{Name: tokensCookie, Value: "", Path: rp.prefix(), MaxAge: -1})
	if !ok {
		rp.render(w, r, http.StatusOK, "", "", nil)
		return
	}
	form, err := rp.clientForm(rp.web.Issuer+"/revocation", url.Values{"token": {t.Access}})
	if err == nil {
		_, err = rp.call(http.MethodPost, rp.web.Issuer+"/revocation", form, "")
	}
	if err != nil {
		rp.renderPage(w, r, http.StatusBadGateway, rpView{Error: "demorp.err.revoke", Detail: err.Error()})
		return
	}
	rp.renderPage(w, r, http.StatusOK, rpView{Notice: "demorp.notice.out"})
}
