package templates

import (
	"net/http"
	"sort"
	"time"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// Page names accepted by Render, with the data type each one takes.
const (
	PageLogin      = "login"       // P01, LoginPage
	PageOTP        = "otp"         // P03, OTPPage
	PageConsent    = "consent"     // P05, ConsentPage
	PageTransfer   = "transfer"    // P06, TransferPage
	PageAnomaly    = "anomaly"     // P07, AnomalyPage
	PageError      = "error"       // P08 and generic 4xx/5xx, ErrorPage
	PageSession    = "session"     // P10, SessionPage
	PageLogout     = "logout"      // SLO result, LogoutPage
	PageDemoHome   = "demo-home"   // demo SP, DemoHomePage
	PageDemoResult = "demo-result" // demo SP, DemoResultPage
)

// Form field names and the values of the "op" submit buttons, shared with
// the handlers that read the forms.
const (
	FieldCSRF     = "csrf_token"
	FieldUsername = "username"
	FieldPassword = "password"
	FieldOTP      = "otp"
	FieldOp       = "op"
	FieldLevel    = "level" // demo SP home: "1" or "2"

	OpSubmit = "submit" // P01/P03 primary button
	OpCancel = "cancel" // "Annulla" → nr25
	OpResend = "resend" // P03 "send the code again"
	OpAccept = "accept" // P05 "Acconsento"
	OpDeny   = "deny"   // P05 "Non acconsento" → nr22
)

// OTP methods for OTPPage.Method.
const (
	OTPMethodSMS  = "sms"
	OTPMethodTOTP = "totp"
)

// Service is the header of P01–P05: who asks, and for which level.
type Service struct {
	// Self is the GET URL that shows this step again (it carries the flow
	// in its query); the language links keep it. Empty: "?lang=" links.
	Self string
	// SPName is the SP's OrganizationDisplayName in Italian (see
	// DisplayName). It is untrusted text and is always escaped.
	SPName string
	// ServiceName is the md:ServiceName of the requested
	// AttributeConsumingService, shown after a dash; optional.
	ServiceName string
	// Level is the requested SPID level; it also picks the header logo.
	Level spid.Level
}

func (s Service) headerLevel() spid.Level { return s.Level }

func (s Service) selfURL() string { return s.Self }

// Attribute is one attribute shown to a person: its SPID name (the label
// comes from the catalogue, key "attr.<name>") and value.
type Attribute struct {
	Name  string
	Value string
}

// Field is a hidden field of a form posted to a service provider.
type Field struct {
	Name  string
	Value string
}

// LoginPage is P01, the username and password form. The form posts
// FieldCSRF, FieldUsername, FieldPassword and FieldOp (OpSubmit or OpCancel)
// to Action.
type LoginPage struct {
	Service
	CSRF   string
	Action string // the flow URL the form posts to
	// Username is put back after a failure; the password never is.
	Username string
	// Failed shows the generic "wrong username or password" summary (the
	// same text whatever was wrong, security.md §C.3).
	Failed bool
	// Notice, instead of the generic summary, says why the citizen is back
	// at P01 after the password was right: the push request was refused in
	// the app (LoginNoticePushDenied) or approved with another number
	// (LoginNoticeWrongNumber).
	Notice string
	// AttemptsLeft > 0 shows the attempts left in this flow after a failure.
	AttemptsLeft int
	// ForgotURL overrides Options.Links.Forgot (for example to carry the
	// flow so P09 can offer "back to login").
	ForgotURL string
}

// LoginPage.Notice values.
const (
	LoginNoticePushDenied  = "push_denied"
	LoginNoticeWrongNumber = "push_wrong_number"
)

// OTPPage is P03, the one-time code form (level 2). The form posts
// FieldCSRF, FieldOTP and FieldOp (OpSubmit, OpResend or OpCancel) to Action.
type OTPPage struct {
	Service
	CSRF   string
	Action string
	Method string // OTPMethodSMS or OTPMethodTOTP
	// PhoneLast3 are the last three digits of the registered mobile (SMS).
	PhoneLast3   string
	Failed       bool
	AttemptsLeft int
	// CanResend shows the "send the code again" button (SMS only).
	CanResend bool
	// OtherMethodURL, when set, links to the method choice (P02).
	OtherMethodURL string
}

// ConsentPage is P05. The form posts FieldCSRF and FieldOp (OpAccept, OpDeny,
// or OpCancel when AllowCancel) to Action.
type ConsentPage struct {
	Service
	CSRF   string
	Action string
	// Performed is the level actually performed, which may be higher than
	// the one requested.
	Performed spid.Level
	// Attributes are exactly those the Response will carry, in order.
	// None: the page says only the confirmation of identity is sent.
	Attributes []Attribute
	// AllowCancel adds an "Annulla" button (nr25). ui.md §5 P05 has only two
	// buttons, so the default is off.
	AllowCancel bool
	// Offline, when set, adds the separate opt-in to a long revocable
	// session (OIDC offline_access, oidc-federation.md §3.7): the box
	// posts FieldOffline "1" and is never ticked in advance.
	Offline bool
}

// FieldOffline is the consent page's opt-in to a long revocable session.
const FieldOffline = "offline"

// TransferPage is P06: a form that posts a SAML message to an SP, submitted
// by /static/autosubmit.js and by a visible "Continua" button without
// JavaScript. No CSRF field: the form goes to the SP.
type TransferPage struct {
	SPName string
	Action string  // ACS (or SP SLO) URL from metadata
	Fields []Field // SAMLResponse / SAMLRequest, RelayState
	// Code, when set, explains why the person goes back (nr22, nr25, or a
	// request error nr08–nr18).
	Code spid.Anomaly
}

// AnomalyPage is P07: the reason an authentication stopped (nr19, nr20,
// nr21, nr23, nr30), with a button that posts the error Response to the SP.
type AnomalyPage struct {
	SPName string
	Code   spid.Anomaly
	// Level is the requested level, quoted by nr20.
	Level  spid.Level
	Action string
	Fields []Field
}

func (p AnomalyPage) headerLevel() spid.Level { return p.Level }

// ErrorReason names a page-only error that is not a SPID anomaly.
type ErrorReason string

// Reasons for ErrorPage when Code is zero.
const (
	ReasonBadRequest      ErrorReason = "badrequest"  // 400
	ReasonForbidden       ErrorReason = "forbidden"   // 403: CSRF / origin check failed
	ReasonNotFound        ErrorReason = "notfound"    // 404
	ReasonFlowExpired     ErrorReason = "expired"     // 400: flow unknown, expired or cookie missing
	ReasonTooManyRequests ErrorReason = "toomany"     // 429
	ReasonTooLarge        ErrorReason = "toolarge"    // 413: request body over its limit
	ReasonInternal        ErrorReason = "internal"    // 500
	ReasonUnavailable     ErrorReason = "unavailable" // 503
)

// ErrorPage is P08 and every other terminal error page: no SAML message and
// no link to an SP. Set Code for a user-bound anomaly (nr02–nr07, nr10),
// else Reason.
type ErrorPage struct {
	Code   spid.Anomaly
	Reason ErrorReason
	// Reference is a correlation ID for support (never the request ID).
	Reference string
}

// Status is the HTTP status for the page: the anomaly's (saml-profile.md
// §5) or the reason's.
func (p ErrorPage) Status() int {
	if p.Code != 0 {
		return p.Code.HTTPStatus()
	}
	switch p.Reason {
	case ReasonForbidden:
		return http.StatusForbidden
	case ReasonNotFound:
		return http.StatusNotFound
	case ReasonTooManyRequests:
		return http.StatusTooManyRequests
	case ReasonTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonUnavailable:
		return http.StatusServiceUnavailable
	case ReasonBadRequest, ReasonFlowExpired:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// SessionPage is P10, the citizen's view of the SSO session. With Name empty
// it says there is no session. The form posts FieldCSRF to Action
// ("Esci da tutti i servizi" starts IdP-initiated logout).
type SessionPage struct {
	CSRF     string
	Action   string
	Name     string // "Mario Rossi"
	Level    spid.Level
	Since    time.Time
	Services []string // display names of the SPs that received data
}

// LogoutResult is the outcome of logout at one SP.
type LogoutResult struct {
	SPName string
	OK     bool // false: the SP did not confirm
}

// LogoutPage is the result of a logout.
type LogoutPage struct {
	Results []LogoutResult
}

// Partial reports whether some SP did not confirm the logout.
func (p LogoutPage) Partial() bool {
	for _, r := range p.Results {
		if !r.OK {
			return true
		}
	}
	return false
}

// DemoHomePage is the demo SP's home. Its form posts FieldCSRF and
// FieldLevel ("1" or "2") to Action.
type DemoHomePage struct {
	SPName string
	CSRF   string
	Action string
	// LoggedOut shows the outcome of a logout: "ok", "partial", or "".
	LoggedOut string
	// AA offers a level-1 login that also asks for the demo Attribute
	// Authority (FieldLevel = LevelWithAA).
	AA bool
}

// LevelWithAA is the demo SP's FieldLevel value for "level 1 with an
// Attribute Authority".
const LevelWithAA = "1aa"

// DemoGrant is a grant token the demo SP received and what its AA
// answered when the SP presented it.
type DemoGrant struct {
	AA         string
	Attributes []Attribute
	Failed     bool
}

// DemoResultPage is what the demo SP received.
type DemoResultPage struct {
	SPName  string
	Success bool
	Level   spid.Level // level asserted, on success
	// Attributes as received, in order.
	Attributes    []Attribute
	NameID        string
	SessionIndex  string
	StatusCode    string       // top-level (and second-level) status, on failure
	StatusMessage string       // "ErrorCode nr22"
	Code          spid.Anomaly // parsed from StatusMessage; 0 if none
	HomeURL       string
	// LogoutAction, when set, shows a logout button posting FieldCSRF.
	CSRF         string
	LogoutAction string
	// Grants are the Attribute Authority grant tokens received.
	Grants []DemoGrant
}

// DisplayName picks the name to show from a map xml:lang → name, as ui.md §3
// asks: Italian, then English, then any other (alphabetical by language, so
// the choice is stable).
func DisplayName(names map[string]string) string {
	for _, l := range []string{"it", "en"} {
		if n := names[l]; n != "" {
			return n
		}
	}
	langs := make([]string, 0, len(names))
	for l, n := range names {
		if n != "" {
			langs = append(langs, l)
		}
	}
	if len(langs) == 0 {
		return ""
	}
	sort.Strings(langs)
	return names[langs[0]]
}
