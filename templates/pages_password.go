package templates

import "reflect"

// PagePasswordExpired is where a login stops when the password is past its
// maximum age (enrolment-lifecycle.md §7.2, E063): the citizen proved the
// old password and chooses a new one before the login continues.
const PagePasswordExpired = "password-expired" // PasswordExpiredPage

func init() {
	pages[PagePasswordExpired] = pageSpec{"layout.html", reflect.TypeFor[PasswordExpiredPage]()}
}

// PasswordExpiredPage posts FieldCSRF, FieldNewPassword, FieldConfirm and
// FieldOp (OpSubmit or OpCancel) to Action.
type PasswordExpiredPage struct {
	Service
	CSRF   string
	Action string
	// Problems are the reasons the last new password was refused;
	// Mismatch: the two copies differed.
	Problems []string
	Mismatch bool
}
