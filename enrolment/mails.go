package enrolment

import (
	"fmt"
	"strings"
	"time"
)

// E-mail bodies, Italian first then English (§9). They carry the request
// code or the spidCode, never a password or a full codice fiscale (E113).

const mailRule = "\n----------------------------------------\n"

// footer names the person responsible for identity verification, in
// each language when the English name differs (a role title, say).
func footer(r Responsible) string {
	switch {
	case r.IT == "":
		return ""
	case r.EN == "" || r.EN == r.IT:
		return mailRule + "Responsabile della verifica dell'identità / Responsible for identity verification: " + r.IT + "\n"
	}
	return mailRule + "Responsabile della verifica dell'identità: " + r.IT + "\nResponsible for identity verification: " + r.EN + "\n"
}

// Responsible is the person responsible for identity verification as
// the outcome e-mails name them, in Italian and in English.
type Responsible struct{ IT, EN string }

func emailVerificationText(code, link string) string {
	return fmt.Sprintf(`Per confermare il tuo indirizzo e-mail per la richiesta SPID %[1]s apri questo link entro 24 ore:

%[2]s

Se non hai chiesto un'identità SPID, ignora questo messaggio.
%[3]sTo confirm your e-mail address for SPID request %[1]s, open this link within 24 hours:

%[2]s

If you did not ask for a SPID identity, ignore this message.
`, FormatCode(code), link, mailRule)
}

func submittedText(code, path string, pay *Payment) string {
	next := map[string][2]string{
		PathVideo:     {"prenota la sessione video con l'operatore", "book the video session with an operator"},
		PathShop:      {"presentati in un punto vendita convenzionato con il documento e questo codice", "visit a partner shop with your document and this code"},
		PathCounter:   {"presentati allo sportello con il documento e questo codice", "visit the registration counter with your document and this code"},
		PathCNS:       {"accedi con la tua CNS o CIE per il riconoscimento", "log in with your CNS or CIE to be recognised"},
		PathCIE:       {"accedi con la tua CNS o CIE per il riconoscimento", "log in with your CNS or CIE to be recognised"},
		PathSignature: {"carica il modulo firmato con la tua firma digitale", "upload the form signed with your digital signature"},
	}[path]
	if next[0] == "" {
		next = [2]string{"completa il riconoscimento", "complete recognition"}
	}
	if pay != nil && pay.State == "pending" {
		amount := fmt.Sprintf("%d,%02d EUR", pay.Amount/100, pay.Amount%100)
		next = [2]string{"paga " + amount + " (per bonifico indica il codice richiesta nella causale), poi " + next[0],
			"pay " + amount + " (for a bank transfer, give the request code as the reference), then " + next[1]}
	}
	return fmt.Sprintf(`Abbiamo ricevuto la tua richiesta di identità SPID.

Codice richiesta: %[1]s
Prossimo passo: %[2]s.

Dopo il riconoscimento verifichiamo la richiesta entro 48 ore lavorative.
%[4]sWe have received your SPID identity request.

Request code: %[1]s
Next step: %[3]s.

After recognition we verify the request within 48 working hours.
`, FormatCode(code), next[0], next[1], mailRule)
}

func approvedText(code, link string, until time.Time, responsible Responsible) string {
	return fmt.Sprintf(`La tua richiesta SPID %[1]s è stata approvata.

Attiva la tua identità entro 72 ore da questo link (serve il codice che riceverai via SMS); sceglierai nome utente e password:

%[2]s

L'identità è valida fino al %[3]s. Dopo l'attivazione, attiva l'app per l'accesso di livello 2 dall'area riservata.
%[4]sYour SPID request %[1]s has been approved.

Activate your identity within 72 hours with this link (you will need the code we send by SMS); you will choose a username and a password:

%[2]s

The identity is valid until %[3]s. Once active, set up the app for level-2 login in your personal area.
%[5]s`, FormatCode(code), link, civil(until), mailRule, footer(responsible))
}

func rejectedText(code string, rs []Reason, link string, responsible Responsible) string {
	var it, en strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&it, "- %s", r.Title("it"))
		if a := r.CorrectiveAction("it"); a != "" {
			fmt.Fprintf(&it, ": %s", a)
		}
		it.WriteString("\n")
		fmt.Fprintf(&en, "- %s", r.Title("en"))
		if a := r.CorrectiveAction("en"); a != "" {
			fmt.Fprintf(&en, ": %s", a)
		}
		en.WriteString("\n")
	}
	itNext := "La richiesta non può essere corretta: se vuoi, puoi presentarne una nuova.\n"
	enNext := "The request cannot be corrected: you may file a new one.\n"
	if link != "" {
		itNext = "Puoi correggere la richiesta entro 30 giorni, senza ricominciare da capo, da questo link:\n" + link + "\n"
		enNext = "You can correct the request within 30 days, without starting again, from this link:\n" + link + "\n"
	}
	return fmt.Sprintf(`La tua richiesta SPID %[1]s non è stata accolta per questi motivi:

%[2]s
%[6]s
%[4]sYour SPID request %[1]s was not accepted, for these reasons:

%[3]s
%[7]s
%[5]s`, FormatCode(code), it.String(), en.String(), mailRule, footer(responsible), itNext, enNext)
}

func documentsText(code string, docs []string) string {
	list := "- " + strings.Join(docs, "\n- ")
	return fmt.Sprintf(`Per completare la verifica della richiesta SPID %[1]s ci servono:

%[2]s

Caricali dall'area della richiesta entro 30 giorni.
%[3]sTo complete the verification of SPID request %[1]s we need:

%[2]s

Upload them from the request page within 30 days.
`, FormatCode(code), list, mailRule)
}

func activeText(spidCode, username, baseURL string) string {
	suffix := spidCode
	if len(suffix) > 4 {
		suffix = "…" + suffix[len(suffix)-4:]
	}
	return fmt.Sprintf(`La tua identità SPID (%[1]s) è attiva. Nome utente: %[2]s

Custodisci le credenziali: non comunicarle a nessuno. Attiva l'app per il livello 2: %[3]s
%[4]sYour SPID identity (%[1]s) is active. Username: %[2]s

Keep your credentials secret: never share them. Set up the app for level 2: %[3]s
`, suffix, username, strings.TrimSuffix(baseURL, "/")+"/", mailRule)
}
