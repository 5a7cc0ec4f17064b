package web

import (
	"errors"
	"strings"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/idp/otp"
)

// fieldIT names the Service's fields in Italian.
var fieldIT = map[string]string{
	"name": "Nome", "familyName": "Cognome", "fiscalNumber": "Codice fiscale", "dateOfBirth": "Data di nascita",
	"placeOfBirth": "Luogo di nascita", "countyOfBirth": "Provincia di nascita", "gender": "Sesso",
	"email": "E-mail", "mobilePhone": "Cellulare", "idCard": "Documento", "address": "Indirizzo",
	"ivaCode": "Partita IVA", "username": "Nome utente", "password": "Password",
	"privacy": "Informativa privacy", "terms": "Condizioni del servizio", "declaration": "Dichiarazione",
}

// fixedIT translates the Service's fixed texts (after "field: ").
var fixedIT = map[string]string{
	"required":                                                           "obbligatorio",
	"the document has expired":                                           "il documento è scaduto",
	"the issue date is in the future":                                    "la data di rilascio è nel futuro",
	"the applicant must be at least 18 years old":                        "il richiedente deve essere maggiorenne",
	"already taken":                                                      "già in uso, scegline un altro",
	"3 to 64 characters among a-z 0-9 . _ @ -":                           "da 3 a 64 caratteri tra a-z 0-9 . _ @ -",
	"the notice version read is required":                                "va confermata la lettura",
	"the version accepted is required":                                   "vanno accettate",
	"the declaration of truthfulness (art. 76 DPR 445/2000) is required": "la dichiarazione di veridicità (art. 76 DPR 445/2000) è obbligatoria",
}

// localise gives a Service problem ("field: text") in lang: Italian for
// the texts known here, the Service's English otherwise, with the field
// named in the page's language.
func localise(lang, p string) string {
	if lang == "en" {
		return p
	}
	field, text, ok := strings.Cut(p, ": ")
	if !ok {
		return p
	}
	if f, ok := fieldIT[field]; ok {
		field = f
	}
	if t, ok := fixedIT[text]; ok {
		text = t
	}
	return field + ": " + text
}

func localiseAll(lang string, ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = localise(lang, p)
	}
	return out
}

// codeMessage explains a refused SMS code.
func codeMessage(lang string, err error) string {
	switch {
	case errors.Is(err, otp.ErrTooManyTries):
		return pick(lang, "Troppi tentativi errati: chiedi un nuovo codice.", "Too many wrong attempts: ask for a new code.")
	case errors.Is(err, otp.ErrExpired), errors.Is(err, otp.ErrNoCode):
		return pick(lang, "Il codice è scaduto o non è stato inviato: chiedine uno nuovo.", "The code has expired or was not sent: ask for a new one.")
	case errors.Is(err, otp.ErrTooManySends):
		return pick(lang, "Troppi codici inviati: riprova più tardi.", "Too many codes sent: try again later.")
	case errors.Is(err, enrolment.ErrDuplicate):
		return pick(lang, "Esiste già una richiesta aperta o un'identità per questo codice fiscale, oppure l'e-mail o il cellulare appartengono a un'altra persona.",
			"A request or an identity already exists for this fiscal code, or the e-mail or mobile belongs to another person.")
	}
	return pick(lang, "Il codice non è corretto.", "The code is not correct.")
}

// isCodeError reports whether err is about the SMS code (the citizen can
// retry), as opposed to a failure of ours.
func isCodeError(err error) bool {
	for _, e := range []error{otp.ErrWrongCode, otp.ErrExpired, otp.ErrNoCode, otp.ErrTooManyTries, otp.ErrTooManySends} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
