package enrolment

import (
	"fmt"
	"strings"
)

// Reason is one ground for rejecting a request (§6.4).
type Reason struct {
	Code  string `json:"code"`            // a code of ReasonCodes; data_mismatch takes a Field
	Field string `json:"field,omitempty"` // for data_mismatch: the field to correct
	Note  string `json:"note,omitempty"`  // for the file; never e-mailed
}

// reasonInfo is one row of the §6.4 table.
type reasonInfo struct {
	actionIT, actionEN string
	// correctable: fixed online and resubmitted to awaiting_processing;
	// recognise: needs a new recognition (back to awaiting_recognition);
	// neither: final.
	correctable, recognise bool
}

var reasons = map[string]reasonInfo{
	"document_expired":          {"carica un documento in corso di validità", "upload a valid document", true, false},
	"document_illegible":        {"carica immagini più leggibili del documento", "upload clearer images of the document", true, false},
	"taxcode_proof_missing":     {"carica la tessera sanitaria o il certificato di attribuzione del codice fiscale", "upload the health card or the tax-code certificate", true, false},
	"data_mismatch":             {"correggi il dato perché corrisponda al documento", "correct the field so that it matches the document", true, false},
	"cf_not_confirmed":          {"verifica il codice fiscale con l'Agenzia delle Entrate, poi correggilo", "check the tax code with Agenzia delle Entrate, then correct it", true, false},
	"representation_not_proven": {"carica una visura camerale recente o una procura", "upload a recent chamber-of-commerce extract or a power of attorney", true, false},
	"face_mismatch":             {"ripeti il riconoscimento con una qualsiasi modalità", "go through recognition again, on any path", false, true},
	"video_incomplete":          {"prenota una nuova sessione video", "book a new video session", false, true},
	"signature_invalid":         {"firma di nuovo il modulo con una firma qualificata valida", "sign the form again with a valid qualified signature", false, true},
	"contact_shared":            {"usa un indirizzo e-mail e un cellulare tuoi", "use an e-mail address and a mobile number of your own", true, false},
	"underage":                  {"", "", false, false},
	"duplicate_request":         {"", "", false, false},
	"suspected_fraud":           {"", "", false, false},
	// Set by the scheduler after 30 days in awaiting_documents (§6.5).
	"documents_not_received": {"presenta una nuova richiesta", "submit a new request", false, false},
}

// ReasonCodes lists the codes of §6.4, in its order.
func ReasonCodes() []string {
	return []string{"document_expired", "document_illegible", "taxcode_proof_missing", "data_mismatch",
		"cf_not_confirmed", "representation_not_proven", "face_mismatch", "video_incomplete",
		"signature_invalid", "contact_shared", "underage", "duplicate_request", "suspected_fraud"}
}

// Check refuses an unknown code and a data_mismatch without its field.
func (r Reason) Check() error {
	if _, ok := reasons[r.Code]; !ok || r.Code == "documents_not_received" {
		return fmt.Errorf("unknown rejection reason %q (reasons: %s)", r.Code, strings.Join(ReasonCodes(), ", "))
	}
	if r.Code == "data_mismatch" && strings.TrimSpace(r.Field) == "" {
		return fmt.Errorf("reason data_mismatch needs the field that does not match")
	}
	return nil
}

// Correctable reports whether the applicant can fix r online (§6.4).
func (r Reason) Correctable() bool { return reasons[r.Code].correctable }

// NeedsRecognition reports whether fixing r needs a new recognition.
func (r Reason) NeedsRecognition() bool { return reasons[r.Code].recognise }

// CorrectiveAction is what the applicant should do, in Italian unless lang
// is "en"; "" when there is nothing to do.
func (r Reason) CorrectiveAction(lang string) string {
	if lang == "en" {
		return reasons[r.Code].actionEN
	}
	return reasons[r.Code].actionIT
}

// Title names the problem for the applicant.
func (r Reason) Title(lang string) string {
	en := lang == "en"
	switch r.Code {
	case "document_expired":
		return pick(en, "documento di identità scaduto", "identity document expired")
	case "document_illegible":
		return pick(en, "immagini del documento non leggibili", "document images not legible")
	case "taxcode_proof_missing":
		return pick(en, "manca la prova del codice fiscale", "proof of the tax code missing")
	case "data_mismatch":
		return pick(en, "il dato «"+r.Field+"» non corrisponde al documento", "the field «"+r.Field+"» does not match the document")
	case "cf_not_confirmed":
		return pick(en, "codice fiscale non confermato dall'Agenzia delle Entrate", "tax code not confirmed by Agenzia delle Entrate")
	case "representation_not_proven":
		return pick(en, "poteri di rappresentanza non dimostrati", "power of representation not proven")
	case "face_mismatch":
		return pick(en, "il volto non corrisponde al documento", "the face does not match the document")
	case "video_incomplete":
		return pick(en, "sessione video incompleta", "video session incomplete")
	case "signature_invalid":
		return pick(en, "firma non valida", "invalid signature")
	case "contact_shared":
		return pick(en, "e-mail o cellulare già associati a un'altra persona", "e-mail or mobile already bound to another person")
	case "underage":
		return pick(en, "il richiedente non è maggiorenne", "the applicant is not of age")
	case "duplicate_request":
		return pick(en, "esiste già una richiesta o un'identità dello stesso tipo", "a request or identity of the same type already exists")
	case "suspected_fraud":
		// §6.4: the e-mail names no detail.
		return pick(en, "la richiesta non può essere accolta", "the request cannot be accepted")
	case "documents_not_received":
		return pick(en, "documenti richiesti non ricevuti entro 30 giorni", "requested documents not received within 30 days")
	}
	return r.Code
}

func pick(en bool, it, eng string) string {
	if en {
		return eng
	}
	return it
}
