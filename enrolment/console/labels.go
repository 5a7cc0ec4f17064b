package console

import (
	"strings"

	"github.com/spid-idp/spid-idp/enrolment/cns"
	"github.com/spid-idp/spid-idp/enrolment/signature"
	"github.com/spid-idp/spid-idp/revocation"
)

// Labels of checklist items and evidence kinds, Italian and English.
var checkLabels = map[string][2]string{
	// §6.1 verifier checklist
	"cf_valid":               {"Codice fiscale valido e coerente con i dati", "Fiscal code valid and consistent with the data"},
	"tax_registry_confirmed": {"Dati confermati dall'anagrafe tributaria", "Data confirmed by the tax registry"},
	"document_valid":         {"Documento ammesso e valido il giorno del riconoscimento", "Document allowed and valid on the recognition day"},
	"document_images_match":  {"Immagini leggibili e coerenti con i dati", "Images legible and matching the data"},
	"taxcode_proof_valid":    {"Tessera sanitaria o certificato con lo stesso codice fiscale", "Health card or certificate with the same fiscal code"},
	"contacts_verified":      {"E-mail e cellulare verificati e non di altre persone", "E-mail and mobile verified and not another person's"},
	"adult":                  {"Richiedente maggiorenne", "Applicant of age"},
	"path_evidence_complete": {"Evidenze della modalità complete", "Evidence of the path complete"},
	"no_duplicate":           {"Nessuna altra richiesta o identità dello stesso tipo", "No other request or identity of the same type"},
	"face_match":             {"Il volto corrisponde al documento", "The face matches the document"},
	"company_representation": {"Dati dell'azienda e poteri di rappresentanza provati", "Company data and power of representation proven"},
	// §5.5 in person
	"document_original":     {"Documento originale esibito", "Original document shown"},
	"document_intact_valid": {"Documento integro, valido, con foto e firma", "Document intact, valid, with photo and signature"},
	"data_match":            {"Dati uguali a quelli della richiesta", "Data equal to the request's"},
	"taxcode_card_match":    {"Codice fiscale sulla tessera sanitaria uguale", "Fiscal code on the health card the same"},
	"form_signed_by_hand":   {"Modulo di adesione firmato a mano", "Adhesion form signed by hand"},
	// §5.4 video script
	"consent_confirmed":       {"Consenso alla registrazione confermato", "Recording consent confirmed"},
	"operator_identified":     {"L'operatore ha dichiarato la propria identità", "Operator stated their identity"},
	"personal_data_confirmed": {"Il richiedente conferma i dati personali", "Applicant confirms the personal data"},
	"date_time_stated":        {"Il richiedente dichiara data e ora", "Applicant states date and time"},
	"will_confirmed":          {"Il richiedente conferma la volontà di ottenere l'identità", "Applicant confirms the will to obtain the identity"},
	"contacts_confirmed":      {"Il richiedente conferma cellulare ed e-mail", "Applicant confirms mobile and e-mail"},
	"otp_confirmed":           {"Codice SMS inviato durante la chiamata, letto e verificato", "SMS code sent during the call, read and checked"},
	"email_link_opened":       {"Link di verifica e-mail aperto durante la chiamata", "E-mail verification link opened during the call"},
	"credential_types_known":  {"Il richiedente conosce i tipi di credenziali", "Applicant knows the credential types"},
	"document_shown":          {"Documento mostrato fronte e retro, leggibile, uguale alle immagini", "Document shown front and back, readable, matching the images"},
	"health_card_shown":       {"Tessera sanitaria mostrata con il codice fiscale", "Health card shown with the fiscal code"},
	"terms_accepted":          {"Condizioni accettate", "Terms accepted"},
	"random_action_done":      {"Azione casuale richiesta eseguita", "Random action performed"},
	"summary_confirmed":       {"Riepilogo fatto e confermato", "Summary given and confirmed"},
	// §5.2, §5.3 automatic paths
	"certificate_chain_verified":    {"Certificato della carta emesso da un ente CNS/CIE riconosciuto", "Card certificate issued by a recognised CNS/CIE authority"},
	"fiscal_code_matches":           {"Codice fiscale della carta uguale a quello della richiesta", "Card fiscal code equal to the request's"},
	"signature_verified":            {"Firma qualificata valida", "Qualified signature valid"},
	"signer_fiscal_code_matches":    {"Codice fiscale del firmatario uguale a quello della richiesta", "Signer fiscal code equal to the request's"},
	"signed_content_is_issued_form": {"Il documento firmato è il modulo emesso", "The signed document is the issued form"},
	"certificate_not_revoked":       {"Certificati non revocati (OCSP o CRL)", "Certificates not revoked (OCSP or CRL)"},
}

var kindLabels = map[string][2]string{
	"document_front":       {"Documento (fronte)", "Document (front)"},
	"document_back":        {"Documento (retro)", "Document (back)"},
	"taxcode_front":        {"Tessera sanitaria (fronte)", "Health card (front)"},
	"taxcode_back":         {"Tessera sanitaria (retro)", "Health card (back)"},
	"adhesion_form_signed": {"Modulo di adesione firmato", "Signed adhesion form"},
	"video_recording":      {"Registrazione della sessione video", "Video session recording"},
	"video_checklist":      {"Lista di controllo video", "Video checklist"},
	"agent_checklist":      {"Lista di controllo dell'operatore", "Agent checklist"},
}

func checkLabel(k, lang string) string {
	if l, ok := checkLabels[k]; ok {
		return msg(lang, l[0], l[1])
	}
	return k
}

func kindLabel(k, lang string) string {
	if l, ok := kindLabels[k]; ok {
		return msg(lang, l[0], l[1])
	}
	return k
}

// revocationLabel says in words what the OCSP/CRL check found.
func revocationLabel(r revocation.Result, lang string) string {
	who := msg(lang, "Certificato", "Certificate") + " " + r.Subject + " (" + msg(lang, "n. ", "serial ") + r.Serial + "): "
	src := ""
	if r.Method != "" {
		src = " – " + strings.ToUpper(r.Method) + " " + r.Source
		if r.Cached {
			src += msg(lang, " (dalla cache)", " (cached)")
		}
	}
	switch {
	case r.Status == revocation.Good:
		return who + msg(lang, "non revocato", "not revoked") + src
	case r.Status == revocation.Revoked && !r.RevokedBy():
		return who + msg(lang, "revocato solo dopo la firma marcata temporalmente, il ", "revoked only after the time-stamped signature, on ") + r.RevokedAt.In(rome).Format("02/01/2006 15:04") + src
	case r.Status == revocation.Revoked:
		return who + msg(lang, "REVOCATO dal ", "REVOKED since ") + r.RevokedAt.In(rome).Format("02/01/2006 15:04") + src
	case r.SoftFail:
		return who + msg(lang, "stato NON verificato (nessuna fonte ha risposto), accettato per la politica soft-fail: verificarlo prima di decidere",
			"status NOT established (no source answered), accepted by the soft-fail policy: check it before deciding") + src
	}
	return who + msg(lang, "stato non verificato", "status not established") + src
}

// attemptReason is the refusal of a recognition attempt in words.
func attemptReason(code, lang string) string {
	switch {
	case strings.HasPrefix(code, "cns."):
		return (&cns.Error{Code: code}).Message(lang)
	case strings.HasPrefix(code, "sig."):
		return (&signature.Error{Code: code}).Message(lang)
	}
	return code
}
