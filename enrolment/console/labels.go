package console

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
