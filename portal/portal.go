// Package portal is the citizen's personal area ("Area personale", ui.md §8)
// under /account/. The citizen logs in with their own SPID credentials at
// level 2: the portal is a SPID service provider of this same IdP, with its
// own key and signed metadata, and the identity it manages is only ever the
// one named by the verified Assertion (spidCode), kept in a server-side
// session.
package portal

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/hashgate"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Prefix is where the portal lives on the IdP's server; also its entityID
// path.
const Prefix = "/account"

// Name is the portal's OrganizationDisplayName / service name.
const Name = "Area personale"

// Paths under Prefix.
const (
	PathHome     = Prefix + "/"
	PathLogin    = Prefix + "/login"
	PathACS      = Prefix + "/acs"
	PathMetadata = Prefix + "/metadata"
	PathPassword = Prefix + "/password"
	PathSuspend  = Prefix + "/suspend"
	PathRevoke   = Prefix + "/revoke"
	PathRenew    = Prefix + "/renew"
	PathData     = Prefix + "/data"
	PathLogout   = Prefix + "/logout"
	PathEmail    = Prefix + "/email"
	// PathEmailConfirm is the link sent to a new e-mail address.
	PathEmailConfirm  = Prefix + "/email/confirm"
	PathMobile        = Prefix + "/mobile"
	PathMobileConfirm = Prefix + "/mobile/confirm"
	// PathDevices is the IdP's own device page (package idp), linked.
	PathDevices = Prefix + "/devices"
	// PathTicket is the care desk's citizen form (package care), linked.
	PathTicket = "/care/tickets/new"
	// PathCare is customer care's landing page (package care).
	PathCare = "/care/"
)

// IdleTimeout ends a portal session without requests.
const IdleTimeout = 15 * time.Minute

// maxSession bounds a portal session whatever the activity (ui.md §8.2).
const maxSession = time.Hour

// recentAuth: changes of password or contacts, suspension and revocation
// need a level-2 authentication this recent (ui.md §8.2).
const recentAuth = 5 * time.Minute

// historyPage is the number of access-history lines per page.
const historyPage = 20

// Mailer sends the e-mail notices.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Options configure the portal.
type Options struct {
	BaseURL  string    // the IdP's public URL
	IdPSSO   string    // the IdP's HTTP-Redirect SSO endpoint
	IdPSLO   string    // the IdP's HTTP-Redirect SLO endpoint; default BaseURL + "/slo/redirect"
	Pair     keys.Pair // the portal's own SP key
	IdPCerts []*x509.Certificate
	// IdPCertsNow, when set, replaces IdPCerts: the certificates the IdP
	// publishes at the moment, which change during a key rollover.
	IdPCertsNow func() []*x509.Certificate
	Store       storage.Store
	Eph         storage.Ephemeral
	Lifecycle   *lifecycle.Service
	Audit       *audit.Logger
	Pages       *templates.Renderer
	Mailer      Mailer // nil: no e-mail notices
	// SMS sends the code to a new mobile number (and, through its Sender,
	// the notice to the old one); nil: mobile change unavailable.
	SMS *otp.SMSCodes
	// SPName is the display name of an SP for the access history (ui.md
	// §8.2: never raw entityIDs only); nil or "" shows the entityID.
	SPName func(ctx context.Context, entityID, lang string) string
	Argon2 password.Params
	// HashGate bounds the password checks computed at once with the IdP's
	// (nil: unbounded).
	HashGate *hashgate.Gate
	// PasswordRules are the history and lifetime rules (zero: the spec's).
	PasswordRules pwrules.Policy
	// DeviceSealer seals the seed of an app added from the personal area
	// and Issuer names the IdP in authenticator apps; without DeviceSealer
	// (or SMS) apps cannot be added here.
	DeviceSealer *datakey.Sealer
	Issuer       string
	// Alerts e-mails the owner when an app is added (nil: no notice).
	Alerts  Alerter
	CSRFKey []byte // at least 32 bytes
	Log     *slog.Logger
	Now     func() time.Time
}

// Portal is the personal area.
type Portal struct {
	o        Options
	entityID string
	signer   *response.Builder
	metadata []byte
	secure   bool
	origin   string // scheme://host[:port] of BaseURL, for the cross-site check
}

// New builds the portal and its signed metadata.
func New(o Options) (*Portal, error) {
	switch {
	case o.Store == nil || o.Eph == nil || o.Lifecycle == nil || o.Audit == nil || o.Pages == nil:
		return nil, errors.New("portal: store, ephemeral store, lifecycle, audit and pages are required")
	case len(o.CSRFKey) < 32:
		return nil, errors.New("portal: CSRF key shorter than 32 bytes")
	case len(o.IdPCerts) == 0 && o.IdPCertsNow == nil:
		return nil, errors.New("portal: no IdP certificate to verify Responses")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if o.IdPSLO == "" {
		o.IdPSLO = base + "/slo/redirect"
	}
	p := &Portal{o: o, entityID: base + Prefix, secure: strings.HasPrefix(base, "https://")}
	if u, err := url.Parse(base); err == nil {
		p.origin = u.Scheme + "://" + u.Host
	}
	p.signer = &response.Builder{EntityID: p.entityID, Signing: o.Pair}
	attrs := []metadata.RequestedAttribute{{Name: "spidCode"}, {Name: "name"}, {Name: "familyName"}}
	md, err := metadata.BuildSP(metadata.SPOptions{
		EntityID: p.entityID, Signing: o.Pair,
		ACS: []string{base + PathACS},
		SLO: []metadata.Endpoint{{Binding: spid.BindingRedirect, Location: base + PathSLO}},
		AttributeServices: []metadata.AttributeService{{Index: 0, IsDefault: true,
			ServiceName: map[string]string{"it": Name, "en": "Personal area"}, Attributes: attrs}},
		Organization: map[string]metadata.Organization{
			"it": {Name: Name, DisplayName: Name, URL: base + PathHome},
			"en": {Name: "Personal area", DisplayName: "Personal area", URL: base + PathHome},
		},
		Contact: metadata.Contact{Public: true, IPACode: "portal", Email: "assistenza@example.org", Telephone: "+390600000000"},
	})
	if err != nil {
		return nil, fmt.Errorf("portal metadata: %w", err)
	}
	p.metadata = md
	return p, nil
}

// EntityID is the portal's SP entityID.
func (p *Portal) EntityID() string { return p.entityID }

// Metadata is the portal's signed SP metadata, registered at the IdP.
func (p *Portal) Metadata() []byte { return p.metadata }

// Register adds the portal's routes to mux (not /account/devices, which the
// IdP serves).
func (p *Portal) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"/{$}", p.home)
	mux.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, PathHome, http.StatusFound) })
	mux.HandleFunc("GET "+PathMetadata, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(p.metadata)
	})
	mux.HandleFunc("POST "+PathLogin, p.login)
	mux.HandleFunc("POST "+PathACS, p.acs)
	mux.HandleFunc("POST "+PathPassword, p.withSession(p.fresh(p.changePassword)))
	mux.HandleFunc("POST "+PathSuspend, p.withSession(p.fresh(p.suspend)))
	mux.HandleFunc("POST "+PathRevoke, p.withSession(p.fresh(p.revoke)))
	mux.HandleFunc("POST "+PathEmail, p.withSession(p.fresh(p.changeEmail)))
	mux.HandleFunc("GET "+PathEmailConfirm, p.confirmEmail)
	mux.HandleFunc("POST "+PathMobile, p.withSession(p.fresh(p.changeMobile)))
	mux.HandleFunc("POST "+PathMobileConfirm, p.withSession(p.fresh(p.confirmMobile)))
	mux.HandleFunc("POST "+PathRenew, p.withSession(p.renew))
	mux.HandleFunc("POST "+PathLogout, p.withSession(p.logout))
	mux.HandleFunc("GET "+PathData, p.data)
	mux.HandleFunc("GET "+PathSLO, p.slo)
	mux.HandleFunc("GET "+PathDeviceAdd, p.deviceAddPage)
	mux.HandleFunc("POST "+PathDeviceAdd, p.withSession(p.deviceAdd))
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, page templates.PortalHomePage) {
	page.DevicesURL, page.TicketURL, page.DataURL, page.CareURL = PathDevices, PathTicket, PathData, PathCare
	if err := p.o.Pages.Render(w, status, templates.PagePortalHome, templates.Lang(r), page); err != nil {
		p.o.Log.ErrorContext(r.Context(), "portal page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (p *Portal) record(ctx context.Context, actor, action, target, outcome string, details map[string]string) error {
	return p.o.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details})
}

// home shows the personal area, or the login invitation without a session.
func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, ok := p.session(r)
	if !ok {
		b := p.browser(w, r)
		p.render(w, r, http.StatusOK, templates.PortalHomePage{LoginAction: PathLogin,
			CSRF: csrf.Token(p.o.CSRFKey, "login:"+b), Notice: noticeParam(r)})
		return
	}
	page, err := p.homePage(ctx, s, r)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "portal home", "err", err)
		p.unavailable(w, r)
		return
	}
	page.Notice = noticeParam(r)
	p.render(w, r, http.StatusOK, page)
}

// notices that a redirect may carry in ?done=.
var notices = map[string]bool{"password": true, "suspended": true, "revoke": true, "renewed": true,
	"loggedout": true, "expired": true, "loginfailed": true, "reauth": true,
	"emailsent": true, "email": true, "linkexpired": true, "mobilesent": true, "mobile": true}

func noticeParam(r *http.Request) string {
	if n := r.URL.Query().Get("done"); notices[n] {
		return n
	}
	return ""
}

func (p *Portal) homePage(ctx context.Context, s *session, r *http.Request) (templates.PortalHomePage, error) {
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil {
		return templates.PortalHomePage{}, fmt.Errorf("identity: %w", err)
	}
	page := templates.PortalHomePage{Name: strings.TrimSpace(id.Attributes["name"] + " " + id.Attributes["familyName"]),
		CSRF: csrf.Token(p.o.CSRFKey, s.ID), State: string(id.Status)}
	if l, err := p.o.Lifecycle.Get(ctx, id.ID); err == nil {
		page.State, page.ValidUntil = string(l.State), l.ValidUntil
		if l.State == storage.IdentitySuspended && l.Suspension != nil {
			page.Cause, page.Until = l.Suspension.Cause, l.Suspension.Until
		}
		now := p.o.Now()
		// The service decides in the end; this only offers the button.
		win := p.o.Lifecycle.Policy.RenewalWindow
		if win <= 0 {
			win = lifecycle.DefaultPolicy().RenewalWindow
		}
		page.CanRenew = !l.ValidUntil.IsZero() && now.Before(l.ValidUntil) && !now.Before(l.ValidUntil.Add(-win))
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if n < 1 {
		n = 1
	}
	hist, more, err := History(ctx, p.o.Store, id.ID, (n-1)*historyPage, historyPage)
	if err != nil {
		return page, err
	}
	if p.o.SPName != nil {
		// One lookup per service, not per line: a name may need a trust chain.
		names := map[string]string{}
		for i := range hist {
			n, ok := names[hist[i].SP]
			if !ok {
				n = p.o.SPName(ctx, hist[i].SP, templates.Lang(r))
				names[hist[i].SP] = n
			}
			if n != "" {
				hist[i].SP = n
			}
		}
	}
	page.History = hist
	if _, _, err := p.o.Eph.GetValue(ctx, mobileKey(s.ID)); err == nil {
		page.MobileCodeSent = true
	}
	page.Email, page.Mobile = id.Attributes["email"], id.Attributes["mobilePhone"]
	if n > 1 {
		page.PrevPage = n - 1
	}
	if more {
		page.NextPage = n + 1
	}
	return page, nil
}

// History returns the identity's access history (the IdP's "sso.response"
// and "oidc.authorization" audit records, and the push requests the owner refused in the app),
// newest first, skipping skip lines and returning at most limit; more says
// older lines exist.
//
// The audit log has no index by actor, so this reads the chain: fine for a
// personal area, to be replaced by an indexed query if the log grows large.
func History(ctx context.Context, st storage.Store, identityID string, skip, limit int) ([]templates.PortalAccess, bool, error) {
	var all []templates.PortalAccess
	var after int64
	for {
		evs, err := st.ListAudit(ctx, after, 1000)
		if err != nil {
			return nil, false, fmt.Errorf("reading the audit log: %w", err)
		}
		for _, e := range evs {
			after = e.Seq
			if e.Actor != identityID {
				continue
			}
			ip := firstOf(e.Details, "client_ip", "ip")
			switch {
			case e.Action == "sso.response" || e.Action == "oidc.authorization":
				// A Response to a SAML SP, or an OpenID relying party's
				// authorization answered (a code, or access_denied with
				// the SPID anomaly that ended the flow).
				a := templates.PortalAccess{Time: e.Time, SP: e.Target, Level: e.Details["level"],
					IP: ip, Success: e.Outcome == audit.Success, Anomaly: e.Details["anomaly"]}
				if !a.Success && knownReasons[a.Anomaly] {
					a.Reason = a.Anomaly
				}
				all = append(all, a)
			case e.Action == "login.push" && e.Outcome == audit.Failure && e.Details["reason"] == push.ReasonUserDenied:
				// "Non sono stato io": the owner must find it here (C.10).
				all = append(all, templates.PortalAccess{Time: e.Time, SP: e.Target, Level: e.Details["level"],
					IP: ip, Denied: true})
			case e.Action == "login.push" && e.Outcome == audit.Failure && e.Details["reason"] == push.ReasonWrongNumber:
				all = append(all, templates.PortalAccess{Time: e.Time, SP: e.Target, Level: e.Details["level"],
					IP: ip, Reason: "wrong_number"})
			case e.Action == "login.password" && e.Outcome == audit.Failure:
				// A wrong password typed with this identity's username.
				all = append(all, templates.PortalAccess{Time: e.Time, SP: e.Target, IP: ip, Reason: "password"})
			case e.Action == "login.otp" && e.Outcome == audit.Failure:
				all = append(all, templates.PortalAccess{Time: e.Time, SP: e.Target, Level: "2", IP: ip, Reason: "otp"})
			}
		}
		if len(evs) < 1000 {
			break
		}
	}
	// newest first
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	if skip >= len(all) {
		return nil, false, nil
	}
	end := min(skip+limit, len(all))
	return all[skip:end], end < len(all), nil
}

// knownReasons are the failures the access history names in words
// ("portal.reason.*"); any other shows as a plain failure.
var knownReasons = map[string]bool{"nr19": true, "nr20": true, "nr21": true, "nr22": true, "nr23": true,
	"nr25": true, "nr30": true, "password": true, "otp": true, "wrong_number": true}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// formOK checks the CSRF token of a posted form against the session.
func (p *Portal) formOK(w http.ResponseWriter, r *http.Request, s *session) bool {
	if err := r.ParseForm(); err != nil || !csrf.Valid(p.o.CSRFKey, s.ID, r.PostForm.Get(templates.FieldCSRF)) {
		_ = p.record(r.Context(), s.IdentityID, "portal.form", s.IdentityID, audit.Denied, map[string]string{"path": r.URL.Path, "reason": "csrf"})
		p.errorPage(w, r, templates.ReasonForbidden)
		return false
	}
	// A form naming an identity must name the session's own: the session is
	// the only subject, whatever the form says.
	if v, ok := r.PostForm[templates.FieldIdentity]; ok && (len(v) != 1 || v[0] != s.IdentityID) {
		_ = p.record(r.Context(), s.IdentityID, "portal.form", s.IdentityID, audit.Denied, map[string]string{"path": r.URL.Path, "reason": "another identity named"})
		p.errorPage(w, r, templates.ReasonForbidden)
		return false
	}
	return true
}

func (p *Portal) redirectDone(w http.ResponseWriter, r *http.Request, notice string) {
	http.Redirect(w, r, PathHome+"?done="+notice, http.StatusSeeOther)
}

// refused re-shows the home page with the reasons.
func (p *Portal) refused(w http.ResponseWriter, r *http.Request, s *session, status int, problems []string) {
	page, err := p.homePage(r.Context(), s, r)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	page.Problems = problems
	p.render(w, r, status, page)
}

func (p *Portal) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cur, next := r.PostForm.Get(templates.FieldCurrentPassword), r.PostForm.Get(templates.FieldNewPassword)
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	cred, err := p.o.Store.GetCredential(ctx, id.ID)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	deny := func(reason string, problems []string) {
		_ = p.record(ctx, id.ID, "portal.password", id.ID, audit.Failure, map[string]string{"reason": reason})
		p.refused(w, r, s, http.StatusBadRequest, problems)
	}
	var ok bool
	gateErr := p.o.HashGate.Do(ctx, func() { ok, err = password.Verify(cred.PasswordHash, cur) })
	if gateErr != nil {
		// Not checked, so neither right nor wrong: the form can be sent again.
		w.Header().Set("Retry-After", strconv.Itoa(p.o.HashGate.RetryAfter()))
		http.Error(w, "Servizio momentaneamente sovraccarico, riprova tra poco. / The service is busy, try again shortly.",
			http.StatusServiceUnavailable)
		return
	}
	if err != nil || !ok {
		deny("wrong current password", []string{templates.Text(templates.Lang(r), "portal.problem.current")})
		return
	}
	if probs := identity.CheckPassword(next, id.Username, id.Attributes); len(probs) > 0 {
		deny("policy", passwordProblems(templates.Lang(r), probs))
		return
	}
	// History and write in one step (E062): not the current password, not
	// one of the last N, not one used within the configured months.
	err = p.o.PasswordRules.Change(ctx, p.o.Store, id.ID, next, p.o.Argon2, p.o.Now().UTC())
	switch {
	case errors.Is(err, pwrules.ErrReused):
		deny("reused", []string{pwrules.ReusedMessage(templates.Lang(r))})
		return
	case err != nil:
		p.o.Log.ErrorContext(ctx, "portal password change", "identity", id.ID, "err", err)
		p.unavailable(w, r)
		return
	}
	// Whoever else holds a session of this identity (who may have known the
	// old password) loses it; the citizen changing it stays signed in here.
	epoch, err := sessions.End(ctx, p.o.Store, id.ID)
	if err == nil {
		err = p.keep(r, s, epoch)
	}
	if err != nil {
		p.o.Log.ErrorContext(ctx, "ending sessions after a password change", "identity", id.ID, "err", err)
		p.unavailable(w, r)
		return
	}
	_ = p.record(ctx, id.ID, "portal.password", id.ID, audit.Success, map[string]string{"sessions": "ended"})
	p.mail(ctx, id, "SPID: password cambiata / password changed",
		"La password della tua identità SPID è stata cambiata dall'area personale. Se non sei stato tu, sospendi subito l'identità o contatta l'assistenza.\n\n"+
			"The password of your SPID identity was changed from the personal area. If it was not you, suspend the identity at once or contact customer care.\n")
	p.redirectDone(w, r, "password")
}

func (p *Portal) mail(ctx context.Context, id storage.Identity, subject, text string) {
	to := id.Attributes["email"]
	if p.o.Mailer == nil || to == "" {
		return
	}
	if err := p.o.Mailer.Send(ctx, mail.Message{To: to, Subject: subject, Text: text}); err != nil {
		p.o.Log.WarnContext(ctx, "portal notice not sent", "identity", id.ID, "err", err)
	}
}

func (p *Portal) holder(s *session) lifecycle.Actor {
	return lifecycle.Actor{ID: s.IdentityID, Role: lifecycle.RoleHolder}
}

func confirmed(r *http.Request) bool { return r.PostForm.Get(templates.FieldConfirm) == "yes" }

func (p *Portal) suspend(w http.ResponseWriter, r *http.Request, s *session) {
	if !confirmed(r) {
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.suspendconfirm")})
		return
	}
	_, err := p.o.Lifecycle.Suspend(r.Context(), s.IdentityID, lifecycle.SuspendRequest{Actor: p.holder(s),
		Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal})
	if err != nil {
		// lifecycle has audited the refusal.
		p.refused(w, r, s, http.StatusConflict, []string{lifecycleProblem(templates.Lang(r), "suspend", err)})
		return
	}
	// The identity may no longer be used: the portal session ends too.
	p.endSession(w, r, s)
	p.redirectDone(w, r, "suspended")
}

func (p *Portal) revoke(w http.ResponseWriter, r *http.Request, s *session) {
	if !confirmed(r) {
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.revokeconfirm")})
		return
	}
	_, err := p.o.Lifecycle.Propose(r.Context(), s.IdentityID, lifecycle.ProposalRequest{Actor: p.holder(s),
		Event: lifecycle.EventRevoke, Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal})
	if err != nil {
		p.refused(w, r, s, http.StatusConflict, []string{lifecycleProblem(templates.Lang(r), "revoke", err)})
		return
	}
	p.redirectDone(w, r, "revoke")
}

func (p *Portal) renew(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := p.o.Lifecycle.Renew(r.Context(), s.IdentityID, p.holder(s)); err != nil {
		p.refused(w, r, s, http.StatusConflict, []string{lifecycleProblem(templates.Lang(r), "renew", err)})
		return
	}
	p.redirectDone(w, r, "renewed")
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) {
	_ = p.record(r.Context(), s.IdentityID, "portal.logout", s.IdentityID, audit.Success, nil)
	p.endSession(w, r, s)
	p.redirectDone(w, r, "loggedout")
}

// Export is the "download my data" document.
type Export struct {
	Identity   ExportIdentity           `json:"identity"`
	Lifecycle  *ExportLifecycle         `json:"lifecycle,omitempty"`
	Devices    []ExportDevice           `json:"devices"`
	History    []templates.PortalAccess `json:"access_history"`
	ExportedAt time.Time                `json:"exported_at"`
}

// ExportIdentity is the identity without credentials.
type ExportIdentity struct {
	Username   string            `json:"username"`
	Type       string            `json:"type"`
	Status     string            `json:"status"`
	Attributes map[string]string `json:"attributes"`
	CreatedAt  time.Time         `json:"created_at"`
}

// ExportLifecycle is the state and validity.
type ExportLifecycle struct {
	State      string    `json:"state"`
	ValidUntil time.Time `json:"valid_until"`
}

// ExportDevice is a device without its sealed secret or key.
type ExportDevice struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

// data is GET /account/data: the holder's data as a JSON download.
func (p *Portal) data(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, PathHome+"?done=expired", http.StatusSeeOther)
		return
	}
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	out := Export{Identity: ExportIdentity{Username: id.Username, Type: fmt.Sprint(id.Type), Status: string(id.Status),
		Attributes: id.Attributes, CreatedAt: id.CreatedAt}, ExportedAt: p.o.Now().UTC(), Devices: []ExportDevice{}}
	if l, err := p.o.Lifecycle.Get(ctx, id.ID); err == nil {
		out.Lifecycle = &ExportLifecycle{State: string(l.State), ValidUntil: l.ValidUntil}
	}
	devs, err := p.o.Store.ListDevices(ctx, id.ID)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	for _, d := range devs {
		out.Devices = append(out.Devices, ExportDevice{Name: d.Name, Kind: string(d.Kind), Status: string(d.Status), CreatedAt: d.CreatedAt, LastUsedAt: d.LastUsedAt})
	}
	if out.History, _, err = History(ctx, p.o.Store, id.ID, 0, 1<<30); err != nil {
		p.unavailable(w, r)
		return
	}
	_ = p.record(ctx, id.ID, "portal.export", id.ID, audit.Success, nil)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="spid-data.json"`)
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// idpCerts are the certificates a Response or a LogoutRequest from the IdP
// may be signed with.
func (p *Portal) idpCerts() []*x509.Certificate {
	if p.o.IdPCertsNow != nil {
		return p.o.IdPCertsNow()
	}
	return p.o.IdPCerts
}

// errorPage answers with the IdP's error page for reason, in the page's
// language.
func (p *Portal) errorPage(w http.ResponseWriter, r *http.Request, reason templates.ErrorReason) {
	if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: reason}); err != nil {
		http.Error(w, string(reason), http.StatusInternalServerError)
	}
}

// passwordProblems says the password rules broken in lang.
func passwordProblems(lang string, probs []string) []string {
	out := make([]string, 0, len(probs))
	for _, pr := range probs {
		if m, ok := identity.PasswordMessage(lang, pr); ok {
			out = append(out, m)
		} else {
			out = append(out, templates.Text(lang, "portal.problem.policy"))
		}
	}
	return out
}

// lifecycleProblem says in words why a suspension, revocation request or
// renewal was refused (the lifecycle service audited it with the details).
func lifecycleProblem(lang, what string, err error) string {
	switch {
	case errors.Is(err, lifecycle.ErrRenewalWindow):
		return templates.Text(lang, "portal.problem.renewwindow")
	case errors.Is(err, lifecycle.ErrTransition), errors.Is(err, lifecycle.ErrNoProposal):
		return templates.Text(lang, "portal.problem."+what+".state")
	}
	return templates.Text(lang, "portal.problem."+what)
}
