package demo

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/internal/hostcookie"
	"github.com/spid-idp/spid-idp/internal/spclient"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/templates"
)

// Prefix is where the demo SP lives on the IdP's own server.
const Prefix = "/demo-sp"

// SPName is the demo SP's OrganizationDisplayName.
const SPName = "Servizio dimostrativo"

// SPNameEN is its English OrganizationDisplayName, shown on English pages.
const SPNameEN = "Demo service"

// displayName is the SP's name in lang.
func displayName(lang string) string {
	if lang == "en" {
		return SPNameEN
	}
	return SPName
}

// demoAttributes is what the demo SP asks for (AttributeConsumingService 0).
var demoAttributes = []string{"spidCode", "name", "familyName", "fiscalNumber", "dateOfBirth", "email", "mobilePhone"}

// SP is a minimal SPID service provider: it signs AuthnRequests (HTTP-
// Redirect), receives Responses at its ACS, checks the signature with the
// IdP's certificate and shows what it received. It exists so a person can
// try the IdP end to end with nothing else installed.
type SP struct {
	EntityID string
	base     string                     // SP base URL (IdP base + Prefix)
	idpSSO   string                     // IdP HTTP-Redirect SSO endpoint
	idpCerts func() []*x509.Certificate // the IdP's published signing certificates
	pair     keys.Pair
	signer   *response.Builder
	pages    *templates.Renderer
	state    *securecookie.SecureCookie
	csrfKey  []byte
	metadata []byte
	log      *slog.Logger
	now      func() time.Time

	// AA, when set, is the Attribute Authority the "with attribute
	// authority" button asks for (spid:RequiredAttributeAuthority), and
	// Exchange trades a grant token received for that AA's attributes.
	AA       string
	Exchange func(ctx context.Context, aa, token string) ([]templates.Attribute, error)
}

// idpSLO is the IdP's HTTP-Redirect SingleLogoutService.
func (sp *SP) idpSLO() string { return strings.TrimSuffix(sp.base, Prefix) + "/slo/redirect" }

// NewSP builds the demo SP. idpBase is the IdP's public URL; pair is the
// SP's own key; idpCerts returns the IdP's certificates (to verify Responses); secret keys
// the SP's cookie.
func NewSP(idpBase, idpSSO string, pair keys.Pair, idpCerts func() []*x509.Certificate, pages *templates.Renderer, secret []byte, log *slog.Logger) (*SP, error) {
	base := strings.TrimRight(idpBase, "/") + Prefix
	sp := &SP{EntityID: base, base: base, idpSSO: idpSSO, idpCerts: idpCerts, pair: pair,
		signer: &response.Builder{EntityID: base, Signing: pair}, pages: pages, log: log, now: time.Now}
	if len(secret) < 32 {
		return nil, fmt.Errorf("demo SP: secret too short")
	}
	sp.state = securecookie.New(secret[:32], nil)
	sp.state.MaxAge(int((15 * time.Minute) / time.Second))
	sp.csrfKey = secret
	md, err := metadata.BuildSP(metadata.SPOptions{
		EntityID: base, Signing: pair,
		ACS: []string{base + "/acs"},
		SLO: []metadata.Endpoint{{Binding: spid.BindingRedirect, Location: base + "/slo"}},
		AttributeServices: []metadata.AttributeService{{Index: 0, IsDefault: true,
			ServiceName: map[string]string{"it": SPName, "en": "Demo service"}, Attributes: requestedAttrs()}},
		Organization: map[string]metadata.Organization{
			"it": {Name: "Ente dimostrativo", DisplayName: SPName, URL: base},
			"en": {Name: "Demo organisation", DisplayName: SPNameEN, URL: base},
		},
		Contact: metadata.Contact{Public: true, IPACode: "demo", Email: "info@example.org", Telephone: "+390600000000"},
	})
	if err != nil {
		return nil, fmt.Errorf("demo SP metadata: %w", err)
	}
	sp.metadata = md
	return sp, nil
}

func requestedAttrs() []metadata.RequestedAttribute {
	out := make([]metadata.RequestedAttribute, len(demoAttributes))
	for i, n := range demoAttributes {
		out[i] = metadata.RequestedAttribute{Name: n}
	}
	return out
}

// Metadata is the SP's signed metadata, registered at the IdP in demo mode.
func (sp *SP) Metadata() []byte { return sp.metadata }

// Register adds the SP's routes to mux.
func (sp *SP) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"/{$}", sp.home)
	mux.HandleFunc("GET "+Prefix+"/metadata", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(sp.metadata)
	})
	mux.HandleFunc("POST "+Prefix+"/login", sp.login)
	mux.HandleFunc("POST "+Prefix+"/acs", sp.acs)
	// The result and logout pages are answers to a POST or to a one-time
	// logout message: their language switch (a GET of the same address
	// with only ?lang=) goes home in the chosen language, instead of a 405
	// or 400.
	mux.HandleFunc("GET "+Prefix+"/acs", sp.switchLanguage)
	mux.HandleFunc("POST "+Prefix+"/logout", sp.logout)
	mux.HandleFunc("GET "+Prefix+"/slo", sp.slo)
	mux.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
	})
}

const stateCookie = "demo_sp_state"

// cookie is a demo SP cookie: __Host- prefixed and Secure over https, so
// Path=/ (the prefix requires it; the names are the demo SP's own).
func (sp *SP) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: sp.cookieName(name), Value: value, Path: "/", HttpOnly: true, Secure: sp.secure(),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

func (sp *SP) secure() bool { return strings.HasPrefix(sp.base, "https://") }

func (sp *SP) cookieName(name string) string { return hostcookie.Name(name, sp.secure()) }

func (sp *SP) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(sp.cookieName("demo_sp_browser")); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := strings.TrimLeft(response.RandomID(), "_")
	http.SetCookie(w, sp.cookie("demo_sp_browser", v, 0))
	return v
}

func (sp *SP) home(w http.ResponseWriter, r *http.Request) {
	b := sp.browser(w, r)
	sp.render(w, r, http.StatusOK, templates.PageDemoHome, templates.DemoHomePage{
		SPName: displayName(templates.Lang(r)), CSRF: csrf.Token(sp.csrfKey, b), Action: Prefix + "/login", AA: sp.AA != ""})
}

func (sp *SP) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if err := sp.pages.Render(w, status, page, templates.Lang(r), data); err != nil {
		sp.log.ErrorContext(r.Context(), "demo SP page", "err", err)
	}
}

// login sends a signed AuthnRequest for the chosen level.
func (sp *SP) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	b := sp.browser(w, r)
	if !csrf.Valid(sp.csrfKey, b, r.PostForm.Get(templates.FieldCSRF)) {
		http.Error(w, "form expired, go back and retry", http.StatusForbidden)
		return
	}
	level, ext := spid.L1, ""
	switch r.PostForm.Get(templates.FieldLevel) {
	case "2":
		level = spid.L2
	case templates.LevelWithAA:
		if sp.AA != "" {
			ext = RequiredAA(sp.AA)
		}
	}
	id := response.RandomID()
	xml := sp.AuthnRequest(id, level, ext)
	enc, err := sp.state.Encode(stateCookie, id)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, sp.cookie(stateCookie, enc, 0))
	u, err := sp.signer.RedirectURL(sp.idpSSO, xml, "SAMLRequest", "demo")
	if err != nil {
		sp.log.ErrorContext(r.Context(), "demo SP request", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// RequestURL is the IdP URL of a new signed AuthnRequest for level, as
// login redirects to, without the state cookie: load generators and
// benchmarks make their requests with it ahead of the measurement.
func (sp *SP) RequestURL(level spid.Level) (string, error) {
	return sp.signer.RedirectURL(sp.idpSSO, sp.authnRequest(response.RandomID(), level), "SAMLRequest", "demo")
}

// authnRequest is a SPID AuthnRequest for the HTTP-Redirect binding.
func (sp *SP) authnRequest(id string, level spid.Level) []byte {
	return sp.AuthnRequest(id, level, "")
}

// AuthnRequest is a SPID AuthnRequest with ext inside samlp:Extensions.
func (sp *SP) AuthnRequest(id string, level spid.Level, ext string) []byte {
	return spclient.AuthnRequest(spclient.Request{ID: id, Issuer: sp.EntityID, Destination: sp.idpSSO, Level: level, Now: sp.now(), Extensions: ext})
}

// RequestURLFor is the IdP URL of a signed AuthnRequest with the given ID
// and extensions (tests of the AA cases).
func (sp *SP) RequestURLFor(id string, level spid.Level, ext string) (string, error) {
	return sp.signer.RedirectURL(sp.idpSSO, sp.AuthnRequest(id, level, ext), "SAMLRequest", "")
}

// RequiredAA is the spid:RequiredAttributeAuthority extension asking for
// the AAs with the given entity ids (Location unqualified, as AgID's tool
// writes it).
func RequiredAA(ids ...string) string {
	var b strings.Builder
	b.WriteString(`<spid:RequiredAttributeAuthority xmlns:spid="` + spid.NSSPID + `">`)
	for _, id := range ids {
		b.WriteString(`<Location>` + html.EscapeString(id) + `</Location>`)
	}
	b.WriteString(`</spid:RequiredAttributeAuthority>`)
	return b.String()
}

// acs receives the Response, checks it and shows the result.
func (sp *SP) acs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var want string
	if c, err := r.Cookie(sp.cookieName(stateCookie)); err == nil {
		_ = sp.state.Decode(stateCookie, c.Value, &want)
	}
	http.SetCookie(w, sp.cookie(stateCookie, "", -1))
	page, err := sp.check(ctx, r.PostForm.Get("SAMLResponse"), want)
	if err != nil {
		sp.log.InfoContext(ctx, "demo SP refused a Response", "err", err)
		page = templates.DemoResultPage{SPName: displayName(templates.Lang(r)), StatusMessage: "Response refused by the demo SP: " + err.Error()}
	}
	page.HomeURL = Prefix + "/"
	page.SPName = displayName(templates.Lang(r))
	if page.Success && page.SessionIndex != "" {
		// An SpidL1 session at the IdP: offer Single Logout.
		if enc, err := sp.state.Encode(sessionCookie, spSession{NameID: page.NameID, SessionIndex: page.SessionIndex}); err == nil {
			http.SetCookie(w, sp.cookie(sessionCookie, enc, 0))
			page.CSRF, page.LogoutAction = csrf.Token(sp.csrfKey, sp.browser(w, r)), Prefix+"/logout"
		}
	}
	sp.render(w, r, http.StatusOK, templates.PageDemoResult, page)
}

func (sp *SP) check(ctx context.Context, b64, wantID string) (templates.DemoResultPage, error) {
	page := templates.DemoResultPage{SPName: SPName}
	res, err := spclient.Check(b64, spclient.Expect{InResponseTo: wantID, Destination: sp.base + "/acs",
		Audience: sp.EntityID, IdPCerts: sp.idpCerts()})
	page.StatusCode, page.StatusMessage, page.Code = res.StatusCode, res.StatusMessage, res.Code
	if err != nil {
		return page, err
	}
	page.Success, page.NameID, page.SessionIndex, page.Level = res.Success, res.NameID, res.SessionIndex, res.Level
	for _, a := range res.Attributes {
		page.Attributes = append(page.Attributes, templates.Attribute{Name: a.Name, Value: a.Value})
	}
	// Each grant token goes to its AA, which answers with what it
	// certifies: what a real SP would do next.
	for _, g := range res.GrantTokens {
		dg := templates.DemoGrant{AA: g.Destination}
		if sp.Exchange != nil {
			attrs, err := sp.Exchange(ctx, g.Destination, g.Token)
			if err != nil {
				sp.log.InfoContext(ctx, "demo SP: attribute authority refused the grant token", "aa", g.Destination, "err", err)
				dg.Failed = true
			}
			dg.Attributes = attrs
		}
		page.Grants = append(page.Grants, dg)
	}
	return page, nil
}

const sessionCookie = "demo_sp_session"

// spSession is what the demo SP keeps of a login to log out later.
type spSession struct {
	NameID, SessionIndex string
}

// logout starts SP-initiated Single Logout: a signed LogoutRequest to the
// IdP by HTTP-Redirect, naming the NameID and SessionIndex received.
func (sp *SP) logout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !csrf.Valid(sp.csrfKey, sp.browser(w, r), r.PostForm.Get(templates.FieldCSRF)) {
		http.Error(w, "form expired, go back and retry", http.StatusForbidden)
		return
	}
	var s spSession
	c, err := r.Cookie(sp.cookieName(sessionCookie))
	if err != nil || sp.state.Decode(sessionCookie, c.Value, &s) != nil {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
		return
	}
	id := response.RandomID()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<samlp:LogoutRequest xmlns:samlp="%s" xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s">`,
		spid.NSProtocol, spid.NSAssertion, id, sp.now().UTC().Format("2006-01-02T15:04:05.000Z"), html.EscapeString(sp.idpSLO()))
	fmt.Fprintf(&b, `<saml:Issuer Format="%s" NameQualifier="%s">%s</saml:Issuer>`, spid.NameIDEntity, html.EscapeString(sp.EntityID), html.EscapeString(sp.EntityID))
	fmt.Fprintf(&b, `<saml:NameID Format="%s" NameQualifier="%s">%s</saml:NameID>`, spid.NameIDTransient,
		html.EscapeString(strings.TrimSuffix(sp.base, Prefix)), html.EscapeString(s.NameID))
	fmt.Fprintf(&b, `<samlp:SessionIndex>%s</samlp:SessionIndex></samlp:LogoutRequest>`, html.EscapeString(s.SessionIndex))
	u, err := sp.signer.RedirectURL(sp.idpSLO(), b.Bytes(), "SAMLRequest", "demo")
	if err != nil {
		sp.log.ErrorContext(r.Context(), "demo SP logout request", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if enc, err := sp.state.Encode(stateCookie, id); err == nil {
		http.SetCookie(w, sp.cookie(stateCookie, enc, 0))
	}
	http.SetCookie(w, sp.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, u, http.StatusFound)
}

// slo receives, by HTTP-Redirect, the IdP's LogoutRequest (another
// service started a logout: answer it) or its LogoutResponse (the answer to
// our own logout).
// switchLanguage remembers the language chosen on a page that cannot be
// shown again and shows the home page in it.
func (sp *SP) switchLanguage(w http.ResponseWriter, r *http.Request) {
	lang := templates.SetLang(w, r)
	http.Redirect(w, r, Prefix+"/?lang="+url.QueryEscape(lang), http.StatusSeeOther)
}

func (sp *SP) slo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if q := r.URL.Query(); q.Get("SAMLResponse") == "" && q.Get("SAMLRequest") == "" && q.Get("lang") != "" {
		sp.switchLanguage(w, r)
		return
	}
	msg, err := binding.Decode(r, spid.BindingRedirect, binding.Limits{})
	if err == nil {
		err = msg.Verify(sp.idpCerts(), sp.now())
	}
	if err != nil {
		sp.log.InfoContext(ctx, "demo SP refused a logout message", "err", err)
		http.Error(w, "logout message refused: "+err.Error(), http.StatusBadRequest)
		return
	}
	if msg.Param == binding.ParamResponse {
		var want string
		if c, err := r.Cookie(sp.cookieName(stateCookie)); err == nil {
			_ = sp.state.Decode(stateCookie, c.Value, &want)
		}
		http.SetCookie(w, sp.cookie(stateCookie, "", -1))
		outcome := "partial"
		if st := msg.Root.FindElement("./Status/StatusCode"); st != nil && st.SelectAttrValue("Value", "") == spid.StatusSuccess &&
			want != "" && msg.Root.SelectAttrValue("InResponseTo", "") == want {
			outcome = "ok"
		}
		b := sp.browser(w, r)
		sp.render(w, r, http.StatusOK, templates.PageDemoHome, templates.DemoHomePage{
			SPName: displayName(templates.Lang(r)), CSRF: csrf.Token(sp.csrfKey, b), Action: Prefix + "/login", LoggedOut: outcome})
		return
	}
	// The IdP propagates a logout: forget our session and confirm.
	http.SetCookie(w, sp.cookie(sessionCookie, "", -1))
	xml, err := sp.signer.LogoutResponse(response.LogoutResponse{
		InResponseTo: msg.Root.SelectAttrValue("ID", ""), Destination: sp.idpSLO(), Unsigned: true})
	if err == nil {
		var u string
		if u, err = sp.signer.RedirectURL(sp.idpSLO(), xml, "SAMLResponse", msg.RelayState); err == nil {
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
	}
	sp.log.ErrorContext(ctx, "demo SP logout response", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
