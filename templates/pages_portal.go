package templates

import (
	"reflect"
	"time"
)

// The citizen's personal area (ui.md §8), served under /account/ by package
// portal. Registered here so the portal's pages stay out of pages.go.
const (
	PagePortalHome = "portal-home" // PortalHomePage
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
