package cns

import "github.com/spid-idp/spid-idp/enrolment/refusal"

// Error codes: stable identifiers for the audit log and the error page.
const (
	CodeNoCertificate = "cns.no_certificate"
	CodeUnknownCA     = "cns.unknown_ca"
	CodeExpired       = "cns.expired"
	CodeNotYetValid   = "cns.not_yet_valid"
	CodeWrongUsage    = "cns.wrong_usage"
	CodeRevoked       = "cns.revoked"
	// CodeRevocationUnavailable: the status could not be established and
	// the policy is hard-fail.
	CodeRevocationUnavailable = "cns.revocation_unavailable"
	CodeNoFiscalCode          = "cns.no_fiscal_code"
	CodeBadFiscalCode         = "cns.invalid_fiscal_code"
	CodeMismatch              = "cns.fiscal_code_mismatch"
	CodeMisconfigured         = "cns.misconfigured"
	// CodeTooManyAttempts: the request reached the limit of refused card
	// attempts (enrolment.cns_max_attempts).
	CodeTooManyAttempts = "cns.too_many_attempts"
	codeUnknownDefault  = "cns.error"
)

// Error is a refusal of a client certificate (see refusal.Error).
// errors.Is(err, ErrUnknownCA) and friends compare the Code only, so callers
// can branch on the kind without caring about the detail.
type Error = refusal.Error[messages]

// messages is this package's catalogue for refusal.Error.
type messages struct{}

// Sentinels for errors.Is.
var (
	ErrNoCertificate = &Error{Code: CodeNoCertificate}
	ErrUnknownCA     = &Error{Code: CodeUnknownCA}
	ErrExpired       = &Error{Code: CodeExpired}
	ErrNotYetValid   = &Error{Code: CodeNotYetValid}
	ErrWrongUsage    = &Error{Code: CodeWrongUsage}
	ErrRevoked       = &Error{Code: CodeRevoked}
	// ErrRevocationUnavailable: status not established (hard-fail).
	ErrRevocationUnavailable = &Error{Code: CodeRevocationUnavailable}
	ErrNoFiscalCode          = &Error{Code: CodeNoFiscalCode}
	ErrBadFiscalCode         = &Error{Code: CodeBadFiscalCode}
	ErrMismatch              = &Error{Code: CodeMismatch}
	ErrMisconfigured         = &Error{Code: CodeMisconfigured}
)

// Text is the Italian and English message for code.
func (messages) Text(code string) (it, en string) {
	switch code {
	case CodeNoCertificate:
		return "Nessun certificato presentato: inserisci la CNS o la CIE nel lettore e riprova.",
			"No certificate was presented: insert your CNS or CIE in the reader and try again."
	case CodeUnknownCA:
		return "Il certificato non è stato emesso da un ente certificatore di CNS o CIE riconosciuto.",
			"The certificate was not issued by a recognised CNS or CIE certification authority."
	case CodeExpired:
		return "Il certificato della carta è scaduto.",
			"The card's certificate has expired."
	case CodeNotYetValid:
		return "Il certificato della carta non è ancora valido.",
			"The card's certificate is not valid yet."
	case CodeWrongUsage:
		return "Il certificato non è abilitato all'autenticazione.",
			"The certificate is not enabled for authentication."
	case CodeRevoked:
		return "Il certificato della carta è revocato o sospeso: la carta non può essere usata.",
			"The card's certificate is revoked or suspended: the card cannot be used."
	case CodeRevocationUnavailable:
		return "Non è stato possibile verificare presso l'ente emittente se il certificato della carta è valido: riprova più tardi.",
			"Whether the card's certificate is still valid could not be checked with its issuer: try again later."
	case CodeNoFiscalCode:
		return "Il certificato non riporta un codice fiscale.",
			"The certificate carries no fiscal code."
	case CodeBadFiscalCode:
		return "Il codice fiscale nel certificato non è valido.",
			"The fiscal code in the certificate is not valid."
	case CodeMismatch:
		return "Il codice fiscale della carta non corrisponde a quello della richiesta.",
			"The card's fiscal code does not match the one in the request."
	case CodeMisconfigured:
		return "Servizio temporaneamente non disponibile.",
			"Service temporarily unavailable."
	case CodeTooManyAttempts:
		return "Troppi tentativi con la carta per questa richiesta: la richiesta sarà esaminata da un operatore, oppure scegli un altro modo di riconoscimento.",
			"Too many card attempts for this request: an operator will look at it, or choose another way to be recognised."
	}
	return "Certificato non accettato.", "Certificate not accepted."
}

func refuse(code, detail string, err error) *Error {
	if code == "" {
		code = codeUnknownDefault
	}
	return &Error{Code: code, Detail: detail, Err: err}
}
