package spid

import "fmt"

// Anomaly is a SPID anomaly code (spec §5, "Tabella messaggi di anomalia").
type Anomaly int

// The anomaly codes the IdP emits.
const (
	NrSystemUnavailable    Anomaly = 2
	NrSystemError          Anomaly = 3
	NrBindingFormat        Anomaly = 4
	NrRedirectSignature    Anomaly = 5
	NrWrongMethod          Anomaly = 6
	NrPOSTSignature        Anomaly = 7
	NrNotCompliant         Anomaly = 8
	NrVersion              Anomaly = 9
	NrIssuer               Anomaly = 10
	NrID                   Anomaly = 11
	NrAuthnContext         Anomaly = 12
	NrIssueInstant         Anomaly = 13
	NrDestination          Anomaly = 14
	NrIsPassive            Anomaly = 15
	NrACS                  Anomaly = 16
	NrNameIDPolicy         Anomaly = 17
	NrAttrConsumingIndex   Anomaly = 18
	NrCredentialsExhausted Anomaly = 19
	NrLevelUnavailable     Anomaly = 20
	NrTimeout              Anomaly = 21
	NrConsentDenied        Anomaly = 22
	NrSuspendedRevoked     Anomaly = 23
	NrCancelled            Anomaly = 25
	NrIdentityType         Anomaly = 30
)

// ForSP reports whether the anomaly is answered to the SP with a signed error
// Response; the others are shown to the user on an IdP page.
func (a Anomaly) ForSP() bool {
	switch a {
	case NrSystemUnavailable, NrSystemError, NrBindingFormat, NrRedirectSignature,
		NrWrongMethod, NrPOSTSignature, NrIssuer:
		return false
	}
	return true
}

// HTTPStatus is the status of the user page for a user-bound anomaly.
func (a Anomaly) HTTPStatus() int {
	switch a {
	case NrSystemUnavailable:
		return 503
	case NrSystemError:
		return 500
	}
	return 403
}

// Status returns the top-level and (possibly empty) second-level status code
// of an SP-bound anomaly.
func (a Anomaly) Status() (top, sub string) {
	switch a {
	case NrNotCompliant:
		return StatusRequester, ""
	case NrVersion:
		return StatusVersionMismatch, ""
	case NrID:
		return StatusRequester, ""
	case NrAuthnContext:
		return StatusRequester, StatusNoAuthnContext
	case NrIssueInstant:
		return StatusRequester, StatusRequestDenied
	case NrDestination, NrACS, NrNameIDPolicy, NrAttrConsumingIndex:
		return StatusRequester, StatusRequestUnsupported
	case NrIsPassive:
		return StatusRequester, StatusNoPassive
	}
	return StatusResponder, StatusAuthnFailed
}

// Message is the StatusMessage of an SP-bound anomaly: "ErrorCode nr08".
func (a Anomaly) Message() string { return fmt.Sprintf("ErrorCode nr%02d", int(a)) }

func (a Anomaly) String() string { return fmt.Sprintf("nr%02d", int(a)) }
