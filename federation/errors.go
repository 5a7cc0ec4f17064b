package federation

import (
	"encoding/json"
	"net/http"
)

// Error is a federation error (spec §2.7): what the resolver reports and
// what the federation endpoints answer as JSON.
type Error struct {
	Code        string
	Description string
	Status      int
	// Cause is the detail for the log, never sent.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return "federation: " + e.Code + ": " + e.Cause.Error()
	}
	return "federation: " + e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

// Federation error codes (TR-errors_federation).
const (
	CodeInvalidRequest         = "invalid_request"
	CodeNotFound               = "not_found"
	CodeInvalidClient          = "invalid_client"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeServerError            = "server_error"
)

var statusOf = map[string]int{
	CodeInvalidRequest: http.StatusBadRequest, CodeNotFound: http.StatusNotFound,
	CodeInvalidClient: http.StatusUnauthorized, CodeUnauthorizedClient: http.StatusForbidden,
	CodeTemporarilyUnavailable: http.StatusServiceUnavailable, CodeServerError: http.StatusInternalServerError,
}

// NewError builds an Error with the status of its code.
func NewError(code, description string, cause error) *Error {
	st := statusOf[code]
	if st == 0 {
		st = http.StatusBadRequest
	}
	return &Error{Code: code, Description: description, Status: st, Cause: cause}
}

// WriteError answers a federation endpoint request with e as JSON.
func WriteError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Description})
}
