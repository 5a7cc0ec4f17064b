package cns

import (
	"errors"
	"strings"
)

// Error codes: stable identifiers for the audit log and the error page.
const (
	CodeNoCertificate  = "cns.no_certificate"
	CodeUnknownCA      = "cns.unknown_ca"
	CodeExpired        = "cns.expired"
	CodeNotYetValid    = "cns.not_yet_valid"
	CodeWrongUsage     = "cns.wrong_usage"
	CodeRevoked        = "cns.revoked"
	CodeNoFiscalCode   = "cns.no_fiscal_code"
	CodeBadFiscalCode  = "cns.invalid_fiscal_code"
	CodeMismatch       = "cns.fiscal_code_mismatch"
	CodeMisconfigured  = "cns.misconfigured"
	codeUnknownDefault = "cns.error"
)

// Error is a refusal of a client certificate. Code says which rule failed,
// Detail what exactly (for the audit record; it names certificate fields,
// never secrets), Err the underlying cause if any.
//
// errors.Is(err, ErrUnknownCA) and friends compare the Code only, so callers
// can branch on the kind without caring about the detail.
type Error struct {
	Code   string
	Detail string
	Err    error
}

// Sentinels for errors.Is.
var (
	ErrNoCertificate = &Error{Code: CodeNoCertificate}
	ErrUnknownCA     = &Error{Code: CodeUnknownCA}
	ErrExpired       = &Error{Code: CodeExpired}
	ErrNotYetValid   = &Error{Code: CodeNotYetValid}
	ErrWrongUsage    = &Error{Code: CodeWrongUsage}
	ErrRevoked       = &Error{Code: CodeRevoked}
	ErrNoFiscalCode  = &Error{Code: CodeNoFiscalCode}
	ErrBadFiscalCode = &Error{Code: CodeBadFiscalCode}
	ErrMismatch      = &Error{Code: CodeMismatch}
	ErrMisconfigured = &Error{Code: CodeMisconfigured}
)

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(strings.TrimSuffix(e.Message("en"), "."))
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error with the same Code.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Message is the text for the citizen: Italian unless lang starts with "en".
func (e *Error) Message(lang string) string {
	en := strings.HasPrefix(strings.ToLower(lang), "en")
	pick := func(it, eng string) string {
		if en {
			return eng
		}
		return it
	}
	switch e.Code {
	case CodeNoCertificate:
		return pick("Nessun certificato presentato: inserisci la CNS o la CIE nel lettore e riprova.",
			"No certificate was presented: insert your CNS or CIE in the reader and try again.")
	case CodeUnknownCA:
		return pick("Il certificato non è stato emesso da un ente certificatore di CNS o CIE riconosciuto.",
			"The certificate was not issued by a recognised CNS or CIE certification authority.")
	case CodeExpired:
		return pick("Il certificato della carta è scaduto.",
			"The card's certificate has expired.")
	case CodeNotYetValid:
		return pick("Il certificato della carta non è ancora valido.",
			"The card's certificate is not valid yet.")
	case CodeWrongUsage:
		return pick("Il certificato non è abilitato all'autenticazione.",
			"The certificate is not enabled for authentication.")
	case CodeRevoked:
		return pick("Il certificato della carta è revocato o sospeso, oppure non è stato possibile verificarne lo stato.",
			"The card's certificate is revoked or suspended, or its status could not be checked.")
	case CodeNoFiscalCode:
		return pick("Il certificato non riporta un codice fiscale.",
			"The certificate carries no fiscal code.")
	case CodeBadFiscalCode:
		return pick("Il codice fiscale nel certificato non è valido.",
			"The fiscal code in the certificate is not valid.")
	case CodeMismatch:
		return pick("Il codice fiscale della carta non corrisponde a quello della richiesta.",
			"The card's fiscal code does not match the one in the request.")
	case CodeMisconfigured:
		return pick("Servizio temporaneamente non disponibile.",
			"Service temporarily unavailable.")
	}
	return pick("Certificato non accettato.", "Certificate not accepted.")
}

func refuse(code, detail string, err error) *Error {
	if code == "" {
		code = codeUnknownDefault
	}
	return &Error{Code: code, Detail: detail, Err: err}
}
