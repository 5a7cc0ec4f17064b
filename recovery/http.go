package recovery

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"

	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/hostcookie"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/templates"
)

// Paths served by Handler.
const (
	PathStart    = "/recover"
	PathUsername = "/recover/username"
	PathPassword = "/recover/password"
	PathReset    = "/recover/reset" // the e-mailed link
	PathApp      = "/recover/app"
	PathMobile   = "/recover/mobile"
)

const nonceCookie = "spid_recover"

// Handler serves the recovery pages.
type Handler struct {
	Service *Service
	Pages   *templates.Renderer
	// CSRFKey (32 bytes or more) binds the forms to the browser's cookie.
	CSRFKey []byte
	Secure  bool
	// SelfOrigin is scheme://host[:port], for the Origin check.
	SelfOrigin string
	// AccountURL is the personal area; CareURL the care desk's form.
	AccountURL, CareURL string
}

// Register mounts the pages on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathStart, h.choose)
	mux.HandleFunc(PathUsername, h.username)
	mux.HandleFunc(PathPassword, h.password)
	mux.HandleFunc(PathReset, h.reset)
	mux.HandleFunc(PathApp, h.app)
	mux.HandleFunc("GET "+PathMobile, h.mobile)
}

// backRE accepts only the IdP's own login page as the way back (no open
// redirect).
var backRE = regexp.MustCompile(`^/login\?[A-Za-z0-9_=&%.~-]+$`)

// page starts a page: the language, the browser nonce (for CSRF), the way
// back to the login.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, step, action string) (templates.RecoverPage, string) {
	lang := templates.SetLang(w, r)
	p := templates.RecoverPage{Step: step, Values: map[string]string{}, LinkMinutes: h.Service.LinkMinutes(),
		LoginURL: h.AccountURL, CareURL: h.CareURL}
	if back := r.URL.Query().Get("back"); backRE.MatchString(back) {
		p.Back = back
		p.Query = "?back=" + url.QueryEscape(back)
	}
	p.Action = action + p.Query
	name := hostcookie.Name(nonceCookie, h.Secure)
	nonce := ""
	if c, err := r.Cookie(name); err == nil && len(c.Value) >= 16 {
		nonce = c.Value
	} else {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		nonce = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: name, Value: nonce, Path: "/", HttpOnly: true, Secure: h.Secure, SameSite: http.SameSiteLaxMode})
	}
	p.CSRF = csrf.Token(h.CSRFKey, nonce)
	return p, lang
}

// posted checks a form post: same origin and the token of this browser.
func (h *Handler) posted(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	if err := csrf.CheckOrigin(r, h.SelfOrigin); err != nil {
		return false
	}
	c, err := r.Cookie(hostcookie.Name(nonceCookie, h.Secure))
	if err != nil {
		return false
	}
	return csrf.Valid(h.CSRFKey, c.Value, r.PostFormValue(templates.FieldCSRF))
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, lang string, p templates.RecoverPage) {
	if err := h.Pages.Render(w, status, templates.PageRecover, lang, p); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, lang string) {
	_ = h.Pages.RenderError(w, lang, templates.ErrorPage{Reason: templates.ReasonForbidden})
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, lang string, err error) {
	if h.Service.Log != nil {
		h.Service.Log.ErrorContext(r.Context(), "credential recovery", "err", err)
	}
	_ = h.Pages.RenderError(w, lang, templates.ErrorPage{Reason: templates.ReasonUnavailable})
}

// tr is a catalogue text of the recover pages, for messages chosen here.
func tr(lang, it, en string) string { return pick(lang, it, en) }

var cfRE = regexp.MustCompile(`^[A-Z0-9]{16}$`)

func (h *Handler) choose(w http.ResponseWriter, r *http.Request) {
	p, lang := h.page(w, r, templates.RecoverChoose, PathStart)
	h.render(w, r, http.StatusOK, lang, p)
}

func (h *Handler) mobile(w http.ResponseWriter, r *http.Request) {
	p, lang := h.page(w, r, templates.RecoverMobile, PathMobile)
	h.render(w, r, http.StatusOK, lang, p)
}

// username and password are the two requests by fiscal code: checked for
// form, then always the same answer.
func (h *Handler) username(w http.ResponseWriter, r *http.Request) { h.byFiscalCode(w, r, "username") }
func (h *Handler) password(w http.ResponseWriter, r *http.Request) { h.byFiscalCode(w, r, "password") }

func (h *Handler) byFiscalCode(w http.ResponseWriter, r *http.Request, what string) {
	path := PathUsername
	if what == "password" {
		path = PathPassword
	}
	p, lang := h.page(w, r, what, path)
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, lang, p)
		return
	}
	if !h.posted(r) {
		h.forbidden(w, r, lang)
		return
	}
	cf := NormaliseCF(r.PostFormValue("fiscal_code"))
	p.Values["fiscal_code"] = cf
	if !cfRE.MatchString(cf) {
		p.Errors = append(p.Errors, tr(lang, "Il codice fiscale deve avere 16 caratteri, lettere e numeri.", "The fiscal code must have 16 characters, letters and digits."))
	}
	second := ""
	if what == "username" {
		second = strings.TrimSpace(r.PostFormValue("email"))
		p.Values["email"] = second
		if a, err := mail.ParseAddress(second); err != nil || a.Address != second {
			p.Errors = append(p.Errors, tr(lang, "Scrivi un indirizzo e-mail valido, per esempio nome@esempio.it.", "Enter a valid e-mail address, for example name@example.com."))
		}
	} else {
		second = strings.TrimSpace(r.PostFormValue("username"))
		p.Values["username"] = second
		if second == "" {
			p.Errors = append(p.Errors, tr(lang, "Scrivi il nome utente.", "Enter your username."))
		}
	}
	if len(p.Errors) > 0 {
		h.render(w, r, http.StatusUnprocessableEntity, lang, p)
		return
	}
	ip := requestctx.ClientIP(r.Context())
	var err error
	if what == "username" {
		err = h.Service.ForgotUsername(r.Context(), cf, second, ip, lang)
	} else {
		err = h.Service.ForgotPassword(r.Context(), cf, second, ip, lang, PathReset)
	}
	if err != nil {
		h.unavailable(w, r, lang, err)
		return
	}
	p.Step, p.What, p.Values = templates.RecoverSent, what, nil
	h.render(w, r, http.StatusOK, lang, p)
}

// reset is the e-mailed link: send the SMS code, then the code and the new
// password.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	p, lang := h.page(w, r, templates.RecoverReset, PathReset)
	p.Action = PathReset + "?token=" + url.QueryEscape(token)
	ctx := r.Context()
	id, err := h.Service.ResetTarget(ctx, token)
	if errors.Is(err, ErrLinkInvalid) {
		p.Step = templates.RecoverLinkInvalid
		h.render(w, r, http.StatusGone, lang, p)
		return
	} else if err != nil {
		h.unavailable(w, r, lang, err)
		return
	}
	p.PhoneLast3 = lastDigits(id.Attributes["mobilePhone"], 3)
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, lang, p)
		return
	}
	if !h.posted(r) {
		h.forbidden(w, r, lang)
		return
	}
	p.CodeSent = true
	if r.PostFormValue("op") == "send" {
		if err := h.Service.SendResetCode(ctx, token); err != nil {
			if isCodeError(err) {
				p.Errors = []string{codeMessage(lang, err)}
			} else {
				p.Errors = []string{tr(lang, "Non è stato possibile inviare il codice: riprova tra qualche minuto.", "The code could not be sent: try again in a few minutes.")}
			}
			h.render(w, r, http.StatusServiceUnavailable, lang, p)
			return
		}
		p.Notice = tr(lang, "Codice inviato.", "Code sent.")
		h.render(w, r, http.StatusOK, lang, p)
		return
	}
	code := strings.TrimSpace(r.PostFormValue("otp"))
	_, err = h.Service.Reset(ctx, token, code, r.PostFormValue("password"), r.PostFormValue("repeat"), lang)
	var ps identity.Problems
	switch {
	case err == nil:
		p.Step, p.CodeSent = templates.RecoverResetDone, false
		h.render(w, r, http.StatusOK, lang, p)
		return
	case errors.Is(err, ErrLinkInvalid):
		p.Step = templates.RecoverLinkInvalid
		h.render(w, r, http.StatusGone, lang, p)
		return
	case errors.As(err, &ps):
		p.Values["otp"] = code // the code was not spent: keep it
		for _, pr := range ps {
			if m, ok := identity.PasswordMessage(lang, pr); ok {
				p.Errors = append(p.Errors, m)
			}
		}
	case errors.Is(err, ErrMismatch):
		p.Values["otp"] = code
		p.Errors = []string{tr(lang, "Le due password non coincidono: scrivi la stessa password nei due campi.", "The two passwords differ: enter the same password in both fields.")}
	case errors.Is(err, pwrules.ErrReused):
		p.Errors = []string{pwrules.ReusedMessage(lang) + " " + tr(lang, "Chiedi un nuovo codice e riprova.", "Ask for a new code and try again.")}
	case isCodeError(err):
		p.Errors = []string{codeMessage(lang, err)}
	default:
		h.unavailable(w, r, lang, err)
		return
	}
	h.render(w, r, http.StatusUnprocessableEntity, lang, p)
}

func (h *Handler) app(w http.ResponseWriter, r *http.Request) {
	p, lang := h.page(w, r, templates.RecoverApp, PathApp)
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, lang, p)
		return
	}
	if !h.posted(r) {
		h.forbidden(w, r, lang)
		return
	}
	user := strings.TrimSpace(r.PostFormValue("username"))
	p.Values["username"] = user
	_, n, err := h.Service.LostApp(r.Context(), user, r.PostFormValue("password"), requestctx.ClientIP(r.Context()), lang)
	switch {
	case err == nil:
		p.Step, p.Devices, p.Values = templates.RecoverAppDone, n, nil
		h.render(w, r, http.StatusOK, lang, p)
		return
	case errors.Is(err, ErrCredentials):
		p.Errors = []string{tr(lang, "Nome utente o password non corretti.", "Wrong username or password.")}
		h.render(w, r, http.StatusUnauthorized, lang, p)
	case errors.Is(err, ErrLocked):
		p.Errors = []string{tr(lang, "Troppi tentativi errati: le credenziali sono bloccate per qualche minuto. Se hai dimenticato la password, reimpostala.",
			"Too many wrong attempts: your credentials are locked for a few minutes. If you forgot your password, reset it.")}
		h.render(w, r, http.StatusTooManyRequests, lang, p)
	case errors.Is(err, ErrNotActive):
		p.Errors = []string{tr(lang, "La tua identità è sospesa o revocata: per riattivarla segui le istruzioni ricevute per e-mail o contatta l'assistenza.",
			"Your identity is suspended or revoked: to reactivate it, follow the instructions you received by e-mail or contact customer care.")}
		h.render(w, r, http.StatusForbidden, lang, p)
	default:
		h.unavailable(w, r, lang, err)
	}
}

func lastDigits(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func isCodeError(err error) bool {
	for _, e := range []error{otp.ErrWrongCode, otp.ErrExpired, otp.ErrNoCode, otp.ErrTooManyTries, otp.ErrTooManySends} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func codeMessage(lang string, err error) string {
	var wrong *otp.WrongCodeError
	switch {
	case errors.As(err, &wrong):
		return tr(lang, "Il codice non è corretto: controlla l'SMS e riprova.", "The code is not correct: check the SMS and try again.")
	case errors.Is(err, otp.ErrTooManyTries):
		return tr(lang, "Troppi tentativi errati: chiedi un nuovo codice.", "Too many wrong attempts: ask for a new code.")
	case errors.Is(err, otp.ErrTooManySends):
		return tr(lang, "Hai chiesto troppi codici: riprova più tardi.", "You asked for too many codes: try again later.")
	}
	return tr(lang, "Il codice è scaduto o non è stato ancora inviato: chiedine uno nuovo.", "The code has expired or has not been sent yet: ask for a new one.")
}
