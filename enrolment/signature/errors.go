package signature

import "github.com/spid-idp/spid-idp/enrolment/refusal"

// Error codes: stable identifiers for the audit log and the upload page.
const (
	CodeMalformed       = "sig.malformed"        // not a CMS SignedData / signed PDF we can read
	CodeSigners         = "sig.signers"          // not exactly one signer
	CodeContentMismatch = "sig.content_mismatch" // signed content is not the form we issued
	CodeInvalid         = "sig.invalid"          // the cryptographic signature does not verify
	CodeNoSigningTime   = "sig.no_signing_time"  // no signing time to check against
	CodeSignerValidity  = "sig.signer_validity"  // signer certificate expired / not yet valid at signing time
	CodeUntrusted       = "sig.untrusted"        // signer does not chain to the trust list
	CodeWrongUsage      = "sig.wrong_usage"      // key usage allows neither non-repudiation nor digital signature
	CodeNoQC            = "sig.no_qc"            // QcCompliance statement missing
	CodeRevoked         = "sig.revoked"          // revoked at signing time, or status unknown
	CodeSigningWindow   = "sig.signing_window"   // signed before the form was issued, too late, or in the future
	CodeNoFiscalCode    = "sig.no_fiscal_code"   // no valid fiscal code in the signer certificate
	CodeMismatch        = "sig.fiscal_code_mismatch"
	CodeMisconfigured   = "sig.misconfigured"
)

// Error is a refusal of an uploaded signed form (see refusal.Error).
// errors.Is(err, ErrUntrusted) and friends compare the Code only.
type Error = refusal.Error[messages]

// messages is this package's catalogue for refusal.Error.
type messages struct{}

// Sentinels for errors.Is.
var (
	ErrMalformed       = &Error{Code: CodeMalformed}
	ErrSigners         = &Error{Code: CodeSigners}
	ErrContentMismatch = &Error{Code: CodeContentMismatch}
	ErrInvalid         = &Error{Code: CodeInvalid}
	ErrNoSigningTime   = &Error{Code: CodeNoSigningTime}
	ErrSignerValidity  = &Error{Code: CodeSignerValidity}
	ErrUntrusted       = &Error{Code: CodeUntrusted}
	ErrWrongUsage      = &Error{Code: CodeWrongUsage}
	ErrNoQC            = &Error{Code: CodeNoQC}
	ErrRevoked         = &Error{Code: CodeRevoked}
	ErrSigningWindow   = &Error{Code: CodeSigningWindow}
	ErrNoFiscalCode    = &Error{Code: CodeNoFiscalCode}
	ErrMismatch        = &Error{Code: CodeMismatch}
	ErrMisconfigured   = &Error{Code: CodeMisconfigured}
)

// Text is the Italian and English message for code.
func (messages) Text(code string) (it, en string) {
	switch code {
	case CodeMalformed:
		return "Il file non è un documento firmato leggibile (CAdES .p7m o PDF firmato PAdES).",
			"The file is not a readable signed document (CAdES .p7m or PAdES-signed PDF)."
	case CodeSigners:
		return "Il documento deve portare una sola firma, la tua.",
			"The document must carry exactly one signature, yours."
	case CodeContentMismatch:
		return "Il documento firmato non è il modulo emesso per questa richiesta, o è stato modificato: scarica di nuovo il modulo e firmalo senza modificarlo.",
			"The signed document is not the form issued for this request, or it was changed: download the form again and sign it without changes."
	case CodeInvalid:
		return "La firma non è valida.",
			"The signature does not verify."
	case CodeNoSigningTime:
		return "La firma non indica la data e l'ora in cui è stata apposta.",
			"The signature does not state when it was made."
	case CodeSignerValidity:
		return "Il certificato di firma era scaduto o non ancora valido al momento della firma.",
			"The signing certificate was expired or not yet valid when the document was signed."
	case CodeUntrusted:
		return "Il certificato di firma non è stato emesso da un prestatore di servizi fiduciari qualificato riconosciuto.",
			"The signing certificate was not issued by a recognised qualified trust service provider."
	case CodeWrongUsage:
		return "Il certificato non è abilitato alla firma.",
			"The certificate is not enabled for signing."
	case CodeNoQC:
		return "Il certificato di firma non è un certificato qualificato.",
			"The signing certificate is not a qualified certificate."
	case CodeRevoked:
		return "Il certificato di firma risulta revocato o sospeso, oppure non è stato possibile verificarne lo stato.",
			"The signing certificate is revoked or suspended, or its status could not be checked."
	case CodeSigningWindow:
		return "La firma deve essere apposta dopo l'emissione del modulo ed entro 30 giorni: scarica un nuovo modulo e firmalo.",
			"The form must be signed after it was issued and within 30 days: download a new form and sign it."
	case CodeNoFiscalCode:
		return "Il certificato di firma non riporta un codice fiscale valido.",
			"The signing certificate carries no valid fiscal code."
	case CodeMismatch:
		return "Il codice fiscale del firmatario non corrisponde a quello della richiesta.",
			"The signer's fiscal code does not match the one in the request."
	case CodeMisconfigured:
		return "Servizio temporaneamente non disponibile.",
			"Service temporarily unavailable."
	}
	return "Documento firmato non accettato.", "Signed document not accepted."
}

func refuse(code, detail string, err error) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}
