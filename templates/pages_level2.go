package templates

import (
	"html/template"
	"reflect"
	"time"
)

// Level-2 pages (P02, P04, app activation, the device list). They are
// registered here so the level-2 work stays out of pages.go.
const (
	PageMethod   = "method"   // P02, MethodPage
	PagePush     = "push"     // P04, PushPage
	PageActivate = "activate" // app activation inside a login, ActivatePage
	// PageActivateOffer offers the activation (or nr20), ActivateOfferPage.
	PageActivateOffer = "activate-offer"
	PageDevices       = "devices" // the citizen's devices, DevicesPage
)

// Form fields and "op" values of the level-2 pages.
const (
	FieldDeviceName = "device_name"
	FieldDevice     = "device"

	OpPush   = "push"   // P02 / P04: ask for a push approval
	OpTOTP   = "totp"   // P02 / P04: type a code from the app instead
	OpRetry  = "retry"  // P04: send a new push request
	OpRevoke = "revoke" // device list: revoke FieldDevice
)

func init() {
	pages[PageMethod] = pageSpec{"layout.html", reflect.TypeFor[MethodPage]()}
	pages[PagePush] = pageSpec{"layout.html", reflect.TypeFor[PushPage]()}
	pages[PageActivate] = pageSpec{"layout.html", reflect.TypeFor[ActivatePage]()}
	pages[PageActivateOffer] = pageSpec{"layout.html", reflect.TypeFor[ActivateOfferPage]()}
	pages[PageDevices] = pageSpec{"layout.html", reflect.TypeFor[DevicesPage]()}
}

// MethodPage is P02, the choice of second factor. The form posts FieldCSRF
// and FieldOp (OpPush, OpTOTP or OpCancel) to Action; the preferred method's
// button comes first and is the primary one.
type MethodPage struct {
	Service
	CSRF   string
	Action string
	// Preferred is OpPush or OpTOTP.
	Preferred string
}

// PushPage is P04, waiting for the approval in the app. The form posts
// FieldCSRF and FieldOp (OpSubmit "Ho confermato", OpRetry, OpTOTP or
// OpCancel) to Action; /static/push.js polls PollURL and submits the form
// once the request is decided, so the page moves on without a reload.
type PushPage struct {
	Service
	CSRF    string
	Action  string
	PollURL string
	// Number is the two-digit number the citizen must pick in the app; 0
	// when no request is pending (Expired or TooMany).
	Number     int
	DeviceName string
	// StillPending: "Ho confermato" was pressed before the app answered.
	StillPending bool
	// Expired: the request ran out; offer a new one or a code.
	Expired bool
	// TooMany: the push limit is reached (security.md C.10); only codes.
	TooMany bool
}

// ActivatePage enrols an authenticator app during a login, after the SMS
// code proved the registered mobile. The form posts FieldCSRF,
// FieldDeviceName, FieldOTP and FieldOp (OpSubmit or OpCancel) to Action.
type ActivatePage struct {
	Service
	CSRF   string
	Action string
	// QR is a data:image/png URI of the otpauth URI, made by the IdP.
	QR template.URL
	// URI is the otpauth URI as text, Secret the base32 seed for typing.
	URI    string
	Secret string
	// ActivationCode claims the device from the reference app (shown
	// grouped, e.g. ABCD-EFGH-JKMN); empty once an app claimed it.
	ActivationCode string
	AppClaimed     bool
	DeviceName     string
	Failed         bool
	AttemptsLeft   int
}

// ActivateOfferPage follows the password of a level-2 login when the
// identity has no active app but a registered mobile. The first form posts
// FieldCSRF and FieldOp=OpSubmit to Action (which sends the SMS code); the
// second posts the signed nr20 Response to the SP (SPAction, SPFields), as
// P07 does, for a citizen who does not want to activate now.
type ActivateOfferPage struct {
	Service
	CSRF       string
	Action     string
	PhoneLast3 string
	SPAction   string
	SPFields   []Field
	// CooldownDate and CooldownTime, when set (dd/mm/yyyy and HH:MM,
	// Italian time), say the mobile was changed less than 24 hours ago: no
	// code can be sent to it before then (security.md C.12, S086), so
	// activation is not offered.
	CooldownDate, CooldownTime string
}

// Device is one row of the device list.
type Device struct {
	ID       string
	Name     string
	Kind     string // "totp" or "push"
	Status   string // "pending", "active", "revoked"
	Created  time.Time
	LastUsed time.Time // zero: never
}

// DevicesPage lists the citizen's second-factor devices; each active or
// pending one has a revoke form posting FieldCSRF, FieldDevice and
// FieldOp=OpRevoke to Action. With Name empty it asks to log in first.
type DevicesPage struct {
	CSRF    string
	Action  string
	Name    string
	Devices []Device
	// Revoked names the device just revoked, for the confirmation.
	Revoked string
	// Back is the personal area (also where to log in without a session).
	Back string
}
