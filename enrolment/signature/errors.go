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

	// Defects of the .p7m file itself, each with its own message.
	CodeEmpty            = "sig.empty"             // the file is empty
	CodeBadEncoding      = "sig.bad_encoding"      // PEM or base64 text that does not decode
	CodeWrongPEM         = "sig.wrong_pem"         // a PEM file holding something else (a certificate, a key)
	CodeNotSignedData    = "sig.not_signed_data"   // CMS, but not SignedData (e.g. encrypted)
	CodeDetachedMismatch = "sig.detached_mismatch" // a detached signature over something else than the issued form

	CodeExpiredAtUpload       = "sig.expired_at_upload"         // certificate expired at upload, no time-stamp
	CodeRevocationUnavailable = "sig.revocation_unavailable"    // status not established (hard-fail)
	CodeTimestamp             = "sig.timestamp_invalid"         // the signature time-stamp is unreadable or does not verify
	CodeTimestampImprint      = "sig.timestamp_other_signature" // the time-stamp stamps another signature
	CodeTimestampUntrusted    = "sig.timestamp_untrusted"       // TSA not trusted, not a TSA, or revoked

	// CodeTooManyAttempts: the request reached the limit of refused
	// signed files (enrolment.signature_max_attempts).
	CodeTooManyAttempts = "sig.too_many_attempts"
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

	ErrEmpty                 = &Error{Code: CodeEmpty}
	ErrBadEncoding           = &Error{Code: CodeBadEncoding}
	ErrWrongPEM              = &Error{Code: CodeWrongPEM}
	ErrNotSignedData         = &Error{Code: CodeNotSignedData}
	ErrDetachedMismatch      = &Error{Code: CodeDetachedMismatch}
	ErrExpiredAtUpload       = &Error{Code: CodeExpiredAtUpload}
	ErrRevocationUnavailable = &Error{Code: CodeRevocationUnavailable}
	ErrTimestamp             = &Error{Code: CodeTimestamp}
	ErrTimestampImprint      = &Error{Code: CodeTimestampImprint}
	ErrTimestampUntrusted    = &Error{Code: CodeTimestampUntrusted}
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
		return "Il certificato di firma risulta revocato o sospeso.",
			"The signing certificate is revoked or suspended."
	case CodeRevocationUnavailable:
		return "Non è stato possibile verificare presso il certificatore se il certificato di firma è valido: riprova più tardi.",
			"Whether the signing certificate is still valid could not be checked with its issuer: try again later."
	case CodeExpiredAtUpload:
		return "Il certificato di firma è scaduto e la firma non ha una marca temporale che provi che è stata apposta prima della scadenza: firma di nuovo il modulo con un certificato valido, oppure con marca temporale.",
			"The signing certificate has expired and the signature has no time-stamp proving it was made before expiry: sign the form again with a valid certificate, or with a time-stamp."
	case CodeTimestamp:
		return "La marca temporale della firma non è valida o non è leggibile.",
			"The signature's time-stamp is not valid or cannot be read."
	case CodeTimestampImprint:
		return "La marca temporale non si riferisce a questa firma.",
			"The time-stamp does not belong to this signature."
	case CodeTimestampUntrusted:
		return "La marca temporale non è stata emessa da un prestatore di marche temporali riconosciuto, o il suo certificato non è valido.",
			"The time-stamp was not issued by a recognised time-stamping authority, or its certificate is not valid."
	case CodeEmpty:
		return "Il file caricato è vuoto.",
			"The uploaded file is empty."
	case CodeBadEncoding:
		return "Il file sembra un .p7m in formato testo (PEM o base64) ma è danneggiato: caricalo di nuovo così come lo ha prodotto il programma di firma.",
			"The file looks like a text (PEM or base64) .p7m but it is damaged: upload it again exactly as the signing program produced it."
	case CodeWrongPEM:
		return "Il file in formato testo non contiene una firma ma un altro oggetto (per esempio un certificato): carica il file .p7m firmato.",
			"The text file holds no signature but something else (a certificate, for instance): upload the signed .p7m file."
	case CodeNotSignedData:
		return "Il file .p7m non contiene una firma (per esempio è cifrato): carica il modulo firmato.",
			"The .p7m file holds no signature (it may be encrypted): upload the signed form."
	case CodeDetachedMismatch:
		return "La firma separata (.p7m senza contenuto) non è stata apposta sul modulo emesso per questa richiesta: firma il modulo scaricato senza modificarlo.",
			"The detached signature (a .p7m without content) was not made over the form issued for this request: sign the downloaded form without changes."
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
	case CodeTooManyAttempts:
		return "Troppi file firmati non accettati per questa richiesta: non se ne possono caricare altri. Contatta l'assistenza o scegli un'altra modalità di riconoscimento.",
			"Too many signed files were refused for this request: no more can be uploaded. Contact customer care or choose another way to be recognised."
	}
	return "Documento firmato non accettato.", "Signed document not accepted."
}

func refuse(code, detail string, err error) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}
