package portal

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/internal/hostcookie"
	"github.com/spid-idp/spid-idp/internal/spclient"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

const (
	sessionCookie = "portal_session"
	browserCookie = "portal_browser"
	// requestTTL bounds the time between the AuthnRequest and the Response.
	requestTTL = 10 * time.Minute
)

// session is the server-side portal session: the cookie holds only ID.
type session struct {
	ID         string    `json:"-"`
	IdentityID string    `json:"identity"`
	Level      int       `json:"level"`
	Created    time.Time `json:"created"`
	LastSeen   time.Time `json:"last_seen"`
	// Epoch is the identity's SessionEpoch at login: the session is void
	// once the identity's sessions have been ended (package sessions).
	Epoch int64 `json:"epoch,omitempty"`
}

func sessionKey(id string) string { return "portal:session:" + id }
func requestKey(id string) string { return "portal:request:" + id }

// pending is a sent AuthnRequest, bound to the browser that sent it.
type pending struct {
	Browser string `json:"browser"`
	// Next is the portal page to return to after the login ("" the home).
	Next string `json:"next,omitempty"`
}

// returnPages are the pages a login may return to (FieldNext): the
// portal's own, never an address from the form.
var returnPages = map[string]bool{PathDeviceAdd: true}

func newID() string { return strings.TrimLeft(response.RandomID(), "_") }

// cookie is a portal cookie: __Host- prefixed over https, hence Path=/
// (the prefix requires it; the names are the portal's own).
func (p *Portal) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: p.cookieName(name), Value: value, Path: "/", HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

func (p *Portal) cookieName(name string) string { return hostcookie.Name(name, p.secure) }

// browser identifies the browser before login (CSRF of the login form,
// binding of the AuthnRequest to who sent it).
func (p *Portal) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.cookieName(browserCookie)); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := newID()
	http.SetCookie(w, p.cookie(browserCookie, v, 0))
	return v
}

// session returns the live session of r, refreshing its idle timer.
func (p *Portal) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(p.cookieName(sessionCookie))
	if err != nil || len(c.Value) != 32 {
		return nil, false
	}
	ctx := r.Context()
	now := p.o.Now()
	var s session
	err = p.o.Eph.UpdateValue(ctx, sessionKey(c.Value), func(b []byte) ([]byte, error) {
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		if now.Sub(s.LastSeen) > IdleTimeout {
			return nil, errIdle
		}
		s.LastSeen = now
		return json.Marshal(s)
	})
	if err != nil {
		if errors.Is(err, errIdle) {
			_ = p.o.Eph.DeleteValue(ctx, sessionKey(c.Value))
		}
		return nil, false
	}
	// Suspension, revocation, a password change or a revoked device end
	// the session on every node at once: the identity's epoch has moved.
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil || !sessions.Valid(id, s.Epoch) {
		if err == nil {
			_ = p.o.Eph.DeleteValue(ctx, sessionKey(c.Value))
		}
		return nil, false
	}
	s.ID = c.Value
	return &s, true
}

// keep moves the session s to epoch, after this very session ended every
// session of its identity (a password change): the citizen acting stays
// signed in, every other session of the identity is void.
// Holder is the identity signed in to the personal area in r, with keep
// moving that session to a new session epoch (so a change it makes does
// not end it); ok is false without a live session.
func (p *Portal) Holder(r *http.Request) (identityID string, keep func(epoch int64) error, ok bool) {
	s, ok := p.session(r)
	if !ok {
		return "", nil, false
	}
	return s.IdentityID, func(epoch int64) error { return p.keep(r, s, epoch) }, true
}

func (p *Portal) keep(r *http.Request, s *session, epoch int64) error {
	return p.o.Eph.UpdateValue(r.Context(), sessionKey(s.ID), func(b []byte) ([]byte, error) {
		var cur session
		if err := json.Unmarshal(b, &cur); err != nil {
			return nil, err
		}
		cur.Epoch = epoch
		return json.Marshal(cur)
	})
}

var errIdle = errors.New("portal session idle too long")

func (p *Portal) endSession(w http.ResponseWriter, r *http.Request, s *session) {
	_ = p.o.Eph.DeleteValue(r.Context(), sessionKey(s.ID))
	http.SetCookie(w, p.cookie(sessionCookie, "", -1))
}

// withSession runs h for a POST with a live session and a valid form.
func (p *Portal) withSession(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !p.sameSite(w, r) {
			return
		}
		s, ok := p.session(r)
		if !ok {
			http.Redirect(w, r, PathHome+"?done=expired", http.StatusSeeOther)
			return
		}
		if !p.formOK(w, r, s) {
			return
		}
		h(w, r, s)
	}
}

// sameSite refuses a form post that the browser says another site made it
// send (Sec-Fetch-Site, Origin), with the same check as the login, consent
// and console forms (security.md C.8, S080); the CSRF token stays the first
// defence. The ACS is exempt: the IdP's Response arrives there by design.
func (p *Portal) sameSite(w http.ResponseWriter, r *http.Request) bool {
	err := csrf.CheckOrigin(r, p.origin)
	if err == nil {
		return true
	}
	_ = p.record(r.Context(), "anonymous", "portal.form", p.entityID, audit.Denied, map[string]string{"path": r.URL.Path, "reason": "cross-site post"})
	p.o.Log.InfoContext(r.Context(), "cross-site portal post refused", "path", r.URL.Path, "err", err)
	if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: templates.ReasonForbidden}); err != nil {
		http.Error(w, "forbidden", http.StatusForbidden)
	}
	return false
}

// fresh lets h run only within recentAuth of the level-2 login; otherwise
// the session ends and the citizen is asked to log in again.
func (p *Portal) fresh(h func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		if p.o.Now().Sub(s.Created) > recentAuth {
			_ = p.record(r.Context(), s.IdentityID, "portal.form", s.IdentityID, audit.Denied, map[string]string{"path": r.URL.Path, "reason": "authentication older than 5 minutes"})
			p.endSession(w, r, s)
			http.Redirect(w, r, PathHome+"?done=reauth", http.StatusSeeOther)
			return
		}
		h(w, r, s)
	}
}

// login sends a signed AuthnRequest for SpidL2 (ForceAuthn) to the IdP.
func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.sameSite(w, r) {
		return
	}
	b := p.browser(w, r)
	if err := r.ParseForm(); err != nil || !csrf.Valid(p.o.CSRFKey, "login:"+b, r.PostForm.Get(templates.FieldCSRF)) {
		p.errorPage(w, r, templates.ReasonForbidden)
		return
	}
	id := response.RandomID()
	pend := pending{Browser: b}
	if next := r.PostForm.Get(templates.FieldNext); returnPages[next] {
		pend.Next = next
	}
	val, _ := json.Marshal(pend)
	if err := p.o.Eph.CreateValue(ctx, requestKey(id), val, p.o.Now().Add(requestTTL)); err != nil {
		p.unavailable(w, r)
		return
	}
	xml := spclient.AuthnRequest(spclient.Request{ID: id, Issuer: p.entityID, Destination: p.o.IdPSSO, Level: spid.L2, Now: p.o.Now()})
	u, err := p.signer.RedirectURL(p.o.IdPSSO, xml, "SAMLRequest", "")
	if err != nil {
		p.o.Log.ErrorContext(ctx, "portal AuthnRequest", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// acs receives the Response, checks it, and opens the portal session for
// the identity whose spidCode the Assertion carries.
func (p *Portal) acs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	fail := func(reason string, details map[string]string) {
		if details == nil {
			details = map[string]string{}
		}
		details["reason"] = reason
		_ = p.record(ctx, "anonymous", "portal.login", p.entityID, audit.Failure, details)
		p.o.Log.InfoContext(ctx, "portal login refused", "reason", reason)
		http.Redirect(w, r, PathHome+"?done=loginfailed", http.StatusSeeOther)
	}
	b64 := r.PostForm.Get("SAMLResponse")
	inResp := peekInResponseTo(b64)
	// One use only: the pending request is consumed whatever follows, so a
	// replayed Response finds nothing.
	raw, _, err := p.o.Eph.GetValue(ctx, requestKey(inResp))
	if inResp == "" || err != nil {
		fail("no pending request for this Response (replayed or expired)", nil)
		return
	}
	_ = p.o.Eph.DeleteValue(ctx, requestKey(inResp))
	var pend pending
	c, cerr := r.Cookie(p.cookieName(browserCookie))
	if json.Unmarshal(raw, &pend) != nil || cerr != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(pend.Browser)) != 1 {
		fail("Response delivered to another browser", nil)
		return
	}
	res, err := spclient.Check(b64, spclient.Expect{InResponseTo: inResp, Destination: strings.TrimSuffix(p.entityID, Prefix) + PathACS,
		Audience: p.entityID, IdPCerts: p.idpCerts()})
	if err != nil {
		fail(err.Error(), nil)
		return
	}
	if !res.Success {
		fail("error Response", map[string]string{"status": res.StatusCode, "anomaly": res.Code.String()})
		return
	}
	if res.Level < spid.L2 {
		fail("level below SpidL2", map[string]string{"level": strconv.Itoa(int(res.Level))})
		return
	}
	code := res.Attr("spidCode")
	id, err := p.findBySPIDCode(r, code)
	if err != nil {
		fail("no identity with the asserted spidCode", map[string]string{"spid_code": code})
		return
	}
	now := p.o.Now()
	if id.Status != storage.IdentityActive {
		fail("identity not active", map[string]string{"status": string(id.Status)})
		return
	}
	s := session{ID: newID(), IdentityID: id.ID, Level: int(res.Level), Created: now, LastSeen: now, Epoch: id.SessionEpoch}
	val, _ := json.Marshal(s)
	if err := p.o.Eph.CreateValue(ctx, sessionKey(s.ID), val, now.Add(maxSession)); err != nil {
		p.unavailable(w, r)
		return
	}
	_ = p.record(ctx, id.ID, "portal.login", id.ID, audit.Success, map[string]string{"level": strconv.Itoa(int(res.Level))})
	http.SetCookie(w, p.cookie(sessionCookie, s.ID, 0))
	// A new browser ID after login: one planted before it binds nothing.
	http.SetCookie(w, p.cookie(browserCookie, newID(), 0))
	next := PathHome
	if returnPages[pend.Next] {
		next = pend.Next
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (p *Portal) findBySPIDCode(r *http.Request, code string) (storage.Identity, error) {
	if code == "" {
		return storage.Identity{}, storage.ErrNotFound
	}
	all, err := p.o.Store.ListIdentities(r.Context())
	if err != nil {
		return storage.Identity{}, err
	}
	for _, id := range all {
		if id.Attributes["spidCode"] == code {
			return id, nil
		}
	}
	return storage.Identity{}, storage.ErrNotFound
}
