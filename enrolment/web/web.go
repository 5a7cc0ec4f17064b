// Package web is the citizen side of enrolment over HTTP (spec
// enrolment-lifecycle.md §5, §7): the request form step by step, the
// qualified-signature upload, the CNS/CIE listener's handler and the
// activation link.
//
// The request a browser works on is named only inside a signed and
// encrypted cookie (never in a URL a third party could guess), together
// with a random browser nonce that every form's CSRF token is bound to.
// Links that must work from another browser or port carry a capability:
// the e-mailed token (e-mail confirmation, activation) or a signed,
// encrypted, short-lived token (the CNS listener link).
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/cns"
	"github.com/spid-idp/spid-idp/enrolment/pos"
	"github.com/spid-idp/spid-idp/enrolment/signature"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/internal/hostcookie"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Paths served by Handler.
const (
	PathStart       = "/enrol/"
	PathData        = "/enrol/data"
	PathEmail       = "/enrol/email"
	PathVerifyEmail = "/enrol/verify-email" // the e-mailed link (enrolment.Service.SendEmailLink)
	PathMobile      = "/enrol/mobile"
	PathConsents    = "/enrol/consents"
	PathSubmit      = "/enrol/submit"
	PathDone        = "/enrol/done"
	PathForm        = "/enrol/form.pdf"
	PathSigned      = "/enrol/signed"
	PathActivate    = "/activate"
	PathPlaces      = "/enrol/places"  // suggestions for the place of birth
	PathStatus      = "/enrol/status"  // a request's status by code and fiscal code
	PathCorrect     = "/enrol/correct" // confirm a corrected request after a rejection
	// PathRecover is where someone who already has SPID recovers the
	// credentials.
	PathRecover = "/recover"
	// PathCNS is served by CNSHandler on the dedicated TLS listener.
	PathCNS = "/enrol/cns"
)

// Versions of the documents the applicant accepts (recorded with each
// consent, E021) when the Handler has no Legal texts (tests).
const (
	PrivacyVersion = "2026-01"
	TermsVersion   = "2026-01"
)

const (
	cookieName     = "spid_enrol"
	langCookie     = "spid_enrol_lang"
	cookieMaxAge   = 24 * time.Hour
	cnsLinkMaxAge  = 15 * time.Minute
	maxFormBytes   = 1 << 20
	defaultMaxScan = 10 << 20
)

// Handler serves the citizen's pages. Service, Pages and CookieKeys are
// required.
type Handler struct {
	Service *enrolment.Service
	Pages   *templates.Renderer
	// CookieKeys: the first encodes, every one decodes (rotation); each at
	// least 32 bytes. Keys for this package are derived from them.
	CookieKeys [][]byte
	// Secure marks cookies Secure (https deployments).
	Secure bool
	// SelfOrigin is scheme://host[:port] of the IdP, for the Origin check.
	SelfOrigin string
	// CNSBase is the https://host:port of the CNS listener; "" turns the
	// CNS path off. CNS verifies the cards.
	CNSBase string
	CNS     *cns.Verifier
	// CNSMaxAttempts is the refused card attempts allowed per request
	// (DefaultCNSMaxAttempts when 0).
	CNSMaxAttempts int
	// SignatureMaxAttempts is the refused signed files allowed per request
	// (DefaultSignatureMaxAttempts when 0).
	SignatureMaxAttempts int
	// Signature verifies signed forms; nil turns the signature path off.
	Signature *signature.Verifier
	// MaxUpload caps each scan and signed file (10 MiB when 0).
	MaxUpload int64
	// LoginURL is offered once an identity is active (the demo SP's home
	// in demo mode).
	LoginURL string
	// AccountURL is the personal area, offered once an identity is active
	// ("/account/" when empty).
	AccountURL string
	// Points are the partner shops and registration counters shown on the
	// shop and counter paths.
	Points []pos.Point
	// Video books the video path's call (package videocall); nil leaves
	// the booking out of the pages.
	Video VideoBooking
	// Legal gives the version (hash) of the privacy notice and terms in the
	// language the applicant read them, recorded with the consent; nil
	// records PrivacyVersion and TermsVersion.
	Legal interface {
		Version(kind, lang string) string
	}
	Log *slog.Logger

	codecs []securecookie.Codec
	csrf   []byte
}

// Init derives the keys; call once before serving.
func (h *Handler) Init() error {
	if h.Service == nil || h.Pages == nil || len(h.CookieKeys) == 0 {
		return errors.New("enrolment/web: Service, Pages and CookieKeys are required")
	}
	h.codecs = nil
	for _, k := range h.CookieKeys {
		if len(k) < 32 {
			return errors.New("enrolment/web: cookie key shorter than 32 bytes")
		}
		sc := securecookie.New(derive(k, "enrol-cookie-mac"), derive(k, "enrol-cookie-enc"))
		sc.MaxAge(int(cookieMaxAge / time.Second))
		h.codecs = append(h.codecs, sc)
	}
	h.csrf = derive(h.CookieKeys[0], "enrol-csrf")
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	if h.MaxUpload <= 0 {
		h.MaxUpload = defaultMaxScan
	}
	return nil
}

func derive(master []byte, purpose string) []byte {
	s := sha256.New()
	s.Write([]byte("spid-idp/enrolment-web/" + purpose + "\x00"))
	s.Write(master)
	return s.Sum(nil)
}

// state is what the cookie carries: the request and the browser nonce.
type state struct {
	Request string
	Nonce   string
}

func (h *Handler) readState(r *http.Request) state {
	c, err := r.Cookie(hostcookie.Name(cookieName, h.Secure))
	if err != nil {
		return state{}
	}
	var v string
	if err := securecookie.DecodeMulti(cookieName, c.Value, &v, h.codecs...); err != nil {
		return state{}
	}
	id, nonce, ok := strings.Cut(v, "|")
	if !ok || nonce == "" {
		return state{}
	}
	return state{Request: id, Nonce: nonce}
}

func (h *Handler) writeState(w http.ResponseWriter, st state) error {
	enc, err := securecookie.EncodeMulti(cookieName, st.Request+"|"+st.Nonce, h.codecs[0])
	if err != nil {
		return fmt.Errorf("enrolment/web: cookie: %w", err)
	}
	// Lax: the e-mailed link is a top-level navigation from elsewhere.
	http.SetCookie(w, &http.Cookie{Name: hostcookie.Name(cookieName, h.Secure), Value: enc, Path: "/", HttpOnly: true, Secure: h.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(cookieMaxAge / time.Second)})
	return nil
}

// ensureState returns the browser's state, issuing a nonce when absent.
func (h *Handler) ensureState(w http.ResponseWriter, r *http.Request) (state, error) {
	st := h.readState(r)
	if st.Nonce != "" {
		return st, nil
	}
	st.Nonce = random()
	return st, h.writeState(w, st)
}

func random() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkPost is the CSRF defence of every form: Fetch Metadata / Origin,
// then the token bound to the browser nonce.
func (h *Handler) checkPost(r *http.Request, st state) bool {
	if err := csrf.CheckOrigin(r, h.SelfOrigin); err != nil {
		return false
	}
	return st.Nonce != "" && csrf.Valid(h.csrf, st.Nonce, r.PostFormValue(csrf.FieldName))
}

func lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "it" {
		return l
	}
	// Either name: the prefixed one over https, the bare one in demo mode
	// (a language is no secret worth telling the listeners apart for).
	for _, name := range []string{hostcookie.Prefix + langCookie, langCookie} {
		if c, err := r.Cookie(name); err == nil && (c.Value == "en" || c.Value == "it") {
			return c.Value
		}
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "en") {
		return "en"
	}
	return "it"
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// render writes p; a template failure becomes a plain 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p templates.EnrolPage) {
	l := lang(r)
	if q := r.URL.Query().Get("lang"); q == "en" || q == "it" {
		http.SetCookie(w, &http.Cookie{Name: hostcookie.Name(langCookie, h.Secure), Value: q, Path: "/", HttpOnly: true, Secure: h.Secure,
			SameSite: http.SameSiteLaxMode, MaxAge: int(cookieMaxAge / time.Second)})
	}
	if err := h.Pages.Render(w, status, templates.PageEnrol, l, p); err != nil {
		h.Log.Error("rendering the enrolment page", "step", p.Step, "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// message shows a plain page (link invalid, no request, ...).
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, it, en [2]string) {
	m := it
	if lang(r) == "en" {
		m = en
	}
	h.render(w, r, status, templates.EnrolPage{Step: templates.EnrolStepMessage, Title: m[0], Text: m[1]})
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden,
		[2]string{"Richiesta non valida", "Il modulo è scaduto o non proviene da questa pagina: riprova."},
		[2]string{"Invalid request", "The form has expired or did not come from this page: please try again."})
}

func (h *Handler) noRequest(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusNotFound,
		[2]string{"Nessuna richiesta in corso", "Non c'è una richiesta in corso in questo browser."},
		[2]string{"No request in progress", "There is no request in progress in this browser."})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.Log.Error("enrolment page", "step", what, "error", err)
	h.message(w, r, http.StatusInternalServerError,
		[2]string{"Errore", "Si è verificato un errore: riprova più tardi."},
		[2]string{"Error", "Something went wrong: please try again later."})
}

// audit records a refusal the Service did not see (it never got the
// input): uploads refused by the verifiers. Details carry codes, not data.
func (h *Handler) audit(ctx context.Context, action, target string, details map[string]string) {
	if h.Service.Audit == nil {
		return
	}
	if err := h.Service.Audit.Record(ctx, storage.AuditEvent{Actor: "applicant", Action: action, Target: target,
		Outcome: audit.Failure, Details: details}); err != nil {
		h.Log.Error("audit", "action", action, "error", err)
	}
}

// mask shows enough of a contact to recognise it.
func mask(s string) string {
	if at := strings.IndexByte(s, '@'); at > 0 {
		return s[:1] + "…" + s[at:]
	}
	if len(s) > 4 {
		return "…" + s[len(s)-4:]
	}
	return s
}

// hashHex names a browser nonce in evidence without revealing it.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// BodyLimits are the request-body limits the upload pages need, by path,
// for a server that caps bodies below them (server.Options.MaxBodyBytes):
// the three scans of the data page, or the signed file, plus the form.
// maxUpload 0 means the default 10 MiB.
func BodyLimits(maxUpload int64) map[string]int64 {
	if maxUpload <= 0 {
		maxUpload = defaultMaxScan
	}
	return map[string]int64{
		PathData:   int64(len(scanKinds))*maxUpload + maxFormBytes,
		PathSigned: maxUpload + maxFormBytes,
	}
}
