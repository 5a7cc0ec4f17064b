package templates

import (
	"html/template"
	"reflect"
	"time"
)

// The citizen's personal area (ui.md §8), served under /account/ by package
// portal. Registered here so the portal's pages stay out of pages.go.
const (
	PagePortalHome = "portal-home" // PortalHomePage
	// PageDeviceAdd adds an authenticator app from the personal area,
	// DeviceAddPage.
	PageDeviceAdd = "device-add"
)

// Steps of the "add a device" page (DeviceAddPage.Step).
const (
	DeviceAddLogin    = "login"    // no session: log in first
	DeviceAddReauth   = "reauth"   // login older than 5 minutes: log in again
	DeviceAddStart    = "start"    // offer the SMS code to the registered mobile
	DeviceAddCode     = "code"     // type the SMS code
	DeviceAddActivate = "activate" // scan the seed, type the app's first code
	DeviceAddDone     = "done"     // the app is active
	// DeviceAddNoMobile: no registered mobile or no SMS: only care can help.
	DeviceAddNoMobile = "nomobile"
	// DeviceAddCooldown: the mobile changed less than 24 hours ago.
	DeviceAddCooldown = "cooldown"
)

// "op" values of the "add a device" forms.
const (
	OpSendCode = "send"     // send the SMS code
	OpCheck    = "check"    // check the SMS code
	OpActivate = "activate" // check the app's first code
)

// Form fields of the portal's forms.
const (
	FieldCurrentPassword = "current_password"
	FieldNewPassword     = "new_password"
	FieldConfirm         = "confirm"
	FieldIdentity        = "identity"
	FieldEmail           = "email"
	FieldMobile          = "mobile"
)

func init() {
	pages[PagePortalHome] = pageSpec{"layout.html", reflect.TypeFor[PortalHomePage]()}
	pages[PageDeviceAdd] = pageSpec{"layout.html", reflect.TypeFor[DeviceAddPage]()}
}

// PortalHomePage is the personal area: who is logged in, the state of the
// identity, the access history (newest first, one page of it), and the
// forms (each posting FieldCSRF to its own action under /account/).
type PortalHomePage struct {
	// Name is the holder's given and family name; empty renders the
	// "log in with SPID" invitation with LoginAction.
	Name        string
	LoginAction string
	CSRF        string
	// Notice is the suffix of a "portal.notice.*" catalogue key (the outcome
	// of the last action); Problems are the reasons a form was refused.
	Notice   string
	Problems []string
	// State is the lifecycle state (active, suspended, ...); ValidUntil is
	// the end of validity (zero when unknown); CanRenew says the renewal
	// window is open.
	State      string
	ValidUntil time.Time
	// Cause and Until describe a suspension (lifecycle cause code, end of
	// a timed one; zero when none).
	Cause    string
	Until    time.Time
	CanRenew bool
	History  []PortalAccess
	// Email and Mobile are the registered contacts; MobileCodeSent shows
	// the form for the code sent to a new number.
	Email, Mobile  string
	MobileCodeSent bool
	// PrevPage, NextPage are history page numbers, 0 when there is none.
	PrevPage, NextPage int
	DevicesURL         string
	TicketURL          string
	DataURL            string
	CareURL            string
}

// PortalAccess is one line of the access history.
type PortalAccess struct {
	Time    time.Time
	SP      string
	Level   string
	IP      string
	Success bool
	Anomaly string // "nr19" ... when the login failed
	// Denied: the owner refused this login in the app ("Non sono stato
	// io"), security.md C.10.
	Denied bool
	// Reason is the suffix of a "portal.reason.*" key saying in words why
	// an attempt failed ("password", "otp", "wrong_number", "nr19", ...);
	// "" for a success or an unnamed failure.
	Reason string `json:",omitempty"`
}

// DeviceAddPage adds a second authenticator app from the personal area
// (enrolment-lifecycle.md §7.4): a fresh level-2 login, an SMS code to the
// registered mobile, then the seed to scan and the app's first code. Every
// form posts FieldCSRF and FieldOp to Action; the login forms (steps
// DeviceAddLogin, DeviceAddReauth) post FieldCSRF and FieldNext to
// LoginAction.
type DeviceAddPage struct {
	Step        string
	CSRF        string
	Action      string
	LoginAction string
	Next        string
	// PhoneLast3 ends the registered mobile number.
	PhoneLast3 string
	// CooldownDate and CooldownTime (dd/mm/yyyy, HH:MM Italian time) end
	// the mobile cool-down (step DeviceAddCooldown).
	CooldownDate, CooldownTime string
	// Problem is the suffix of a "devadd.problem.*" key: why the last code
	// was refused; TriesLeft the SMS code tries left (0: not shown).
	Problem   string
	TriesLeft int
	// The activation step: the QR of the otpauth URI (made by the IdP), the
	// seed as text, the reference app's activation code (empty once the app
	// claimed the device).
	QR             template.URL
	URI, Secret    string
	ActivationCode string
	AppClaimed     bool
	DeviceName     string
	// Added names the device just activated (step DeviceAddDone); Push says
	// it approves sign-in requests.
	Added string
	Push  bool
	// DevicesURL is the device list, HomeURL the personal area.
	DevicesURL, HomeURL string
}

// FieldNext is where the personal area's login returns (one of its own
// pages).
const FieldNext = "next"
