package templates

import "reflect"

// PageRecover is credential recovery (ui.md P09), served by package
// recovery under /recover.
const PageRecover = "recover" // RecoverPage

// Steps of RecoverPage.
const (
	RecoverChoose      = "choose"       // the four cases
	RecoverUsername    = "username"     // fiscal code + e-mail
	RecoverPassword    = "password"     // fiscal code + username
	RecoverSent        = "sent"         // the neutral answer
	RecoverReset       = "reset"        // SMS code + new password
	RecoverResetDone   = "reset-done"   // password changed
	RecoverLinkInvalid = "link-invalid" // reset link used or expired
	RecoverApp         = "app"          // lost phone or app: username + password
	RecoverAppDone     = "app-done"     // devices disconnected
	RecoverMobile      = "mobile"       // lost mobile: customer care
)

func init() {
	pages[PageRecover] = pageSpec{"layout.html", reflect.TypeFor[RecoverPage]()}
}

// RecoverPage is one step of credential recovery.
type RecoverPage struct {
	Step   string
	Action string
	CSRF   string
	// Back returns to the login the citizen came from ("" when none).
	Back string
	// Query is appended to the links between steps ("?back=..." or "").
	Query string
	// Errors are shown in the summary at the top, in the page's language.
	Errors []string
	Notice string
	// Values refill the form (never a password).
	Values map[string]string
	// What the sent page confirms: "username" or "password".
	What string
	// LinkMinutes is the reset link's validity.
	LinkMinutes int
	// PhoneLast3 are the last digits of the registered mobile; CodeSent
	// shows the code and password fields.
	PhoneLast3 string
	CodeSent   bool
	// Devices is how many devices were disconnected (app-done).
	Devices int
	// LoginURL (personal area), CareURL (customer care form).
	LoginURL, CareURL string
}
