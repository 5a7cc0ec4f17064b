package oidc

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// Error codes (spec §3.8, §4.5).
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidRequestObject    = "invalid_request_object"
	ErrInvalidScope            = "invalid_scope"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrAccessDenied            = "access_denied"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrRequestURINotSupported  = "request_uri_not_supported"
	ErrRegistrationUnsupported = "registration_not_supported"
	ErrInvalidToken            = "invalid_token"
)

// descriptions are the exact texts the conformance tool compares byte for
// byte (spec §4.5 [DEC]): each code always carries the same one, details
// go to the log. Authorization redirect errors reuse them.
var descriptions = map[string]string{
	ErrInvalidClient:          "Il client_id indicato nella richiesta non è riconosciuto.",
	ErrUnsupportedGrantType:   "Il parametro grant_type contiene un valore non corretto.",
	ErrInvalidGrant:           "I parametri grant_type, code, code_verifier, access_token non sono validi.",
	ErrInvalidRequest:         "La richiesta non è valida a causa della mancanza o della non correttezza di uno o più parametri.",
	ErrServerError:            "L'OP ha riscontrato un problema interno.",
	ErrTemporarilyUnavailable: "L'OP ha riscontrato un problema interno temporaneo.",
	// Not in the token table: our own wording, in the same style.
	ErrInvalidRequestObject:    "L'oggetto request non è valido.",
	ErrInvalidScope:            "Il parametro scope contiene un valore non corretto.",
	ErrAccessDenied:            "L'utente non ha concesso l'autorizzazione o l'autenticazione non è riuscita.",
	ErrUnauthorizedClient:      "Il client non è autorizzato a questa richiesta.",
	ErrRequestURINotSupported:  "Il parametro request_uri non è supportato.",
	ErrRegistrationUnsupported: "Il parametro registration non è supportato.",
	ErrInvalidToken:            "Il token di accesso non è valido.",
}

// Description is the fixed error_description of code.
func Description(code string) string { return descriptions[code] }

// errorValues are the parameters of an error sent to the client's
// redirect_uri: the code and its fixed description.
func errorValues(code string) url.Values {
	return url.Values{"error": {code}, "error_description": {Description(code)}}
}

// tokenStatus is the HTTP status of each token-endpoint error (spec §4.5).
var tokenStatus = map[string]int{
	ErrInvalidClient: http.StatusUnauthorized, ErrServerError: http.StatusInternalServerError,
	ErrTemporarilyUnavailable: http.StatusServiceUnavailable,
}

// writeJSONError answers a back-channel endpoint.
func writeJSONError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": Description(code)})
}

// writeTokenError uses the status table of spec §4.5 (400 unless listed).
func writeTokenError(w http.ResponseWriter, code string) {
	st, ok := tokenStatus[code]
	if !ok {
		st = http.StatusBadRequest
	}
	writeJSONError(w, st, code)
}
