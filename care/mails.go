package care

import (
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// The e-mails carry the reference and never account data (§9, §11.3):
// the requester may not be verified.

// kindName names the ticket with its Italian possessive ("il tuo reclamo",
// "la tua richiesta di assistenza": the article follows the noun's gender).
func kindName(t storage.Ticket) (it, en string) {
	if t.Kind == storage.TicketKindComplaint {
		return "il tuo reclamo", "complaint"
	}
	return "la tua richiesta di assistenza", "support request"
}

// noun is the ticket's kind alone, for subjects.
func noun(t storage.Ticket) string {
	if t.Kind == storage.TicketKindComplaint {
		return "reclamo"
	}
	return "richiesta di assistenza"
}

// when is the one date format of the e-mails, as on the pages.
func when(t time.Time) string { return lifecycle.DateTime(t, rome) }

func ackText(t storage.Ticket, brand string) mail.Message {
	it, en := kindName(t)
	var b strings.Builder
	fmt.Fprintf(&b, "Abbiamo ricevuto %s.\nNumero: %s\nOggetto: %s\n", it, t.Reference, t.Subject)
	if !t.DeadlineAt.IsZero() {
		fmt.Fprintf(&b, "Ti risponderemo entro il %s.\n", when(t.DeadlineAt))
	}
	fmt.Fprintf(&b, "Cita il numero in ogni comunicazione.\n\n")
	fmt.Fprintf(&b, "We received your %s.\nReference: %s\n", en, t.Reference)
	if !t.DeadlineAt.IsZero() {
		fmt.Fprintf(&b, "We will answer by %s.\n", when(t.DeadlineAt))
	}
	fmt.Fprintf(&b, "\n%s\n", brand)
	return mail.Message{Subject: fmt.Sprintf("%s: %s %s", brand, noun(t), t.Reference), Text: b.String()}
}

func ticketAnswerText(t storage.Ticket, answer, brand string) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Risposta alla richiesta %s (%s)\n\n%s\n\n", t.Reference, t.Subject, answer)
	fmt.Fprintf(&b, "Se il problema non è risolto rispondi entro 7 giorni citando il numero; poi la richiesta sarà chiusa.\n")
	fmt.Fprintf(&b, "If the problem is not solved, reply within 7 days quoting the reference; the request is then closed.\n\n%s\n", brand)
	return mail.Message{Subject: fmt.Sprintf("%s: risposta %s", brand, t.Reference), Text: b.String()}
}

// complaintAnswerText is the answer of §11.4: analysis, proposed
// resolution, time to complete, indemnity when due, and the configured
// out-of-court dispute-resolution body (never the closed EU platform).
func complaintAnswerText(t storage.Ticket, brand, adr string) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Risposta al reclamo %s (%s)\n\n", t.Reference, t.Subject)
	fmt.Fprintf(&b, "Analisi del problema:\n%s\n\nSoluzione proposta:\n%s\n\n", t.Analysis, t.Resolution)
	if t.ExpectedTime != "" {
		fmt.Fprintf(&b, "Tempi previsti per completare l'intervento: %s\n\n", t.ExpectedTime)
	}
	if t.IndemnityDue {
		fmt.Fprintf(&b, "Poiché gli standard della Carta dei servizi non sono stati rispettati, ti spetta un indennizzo di %s.\n\n", t.IndemnityAmount)
	}
	if adr != "" {
		fmt.Fprintf(&b, "Se la risposta non ti soddisfa puoi rivolgerti all'organismo di risoluzione extragiudiziale delle controversie: %s.\n\n", adr)
	}
	fmt.Fprintf(&b, "Answer to complaint %s: the analysis of the problem and the proposed resolution are above, in Italian.", t.Reference)
	if t.ExpectedTime != "" {
		fmt.Fprintf(&b, " Expected time to complete the work: %s.", t.ExpectedTime)
	}
	if t.IndemnityDue {
		fmt.Fprintf(&b, " An indemnity of %s is due under the service charter.", t.IndemnityAmount)
	}
	if adr != "" {
		fmt.Fprintf(&b, " Out-of-court dispute resolution: %s.", adr)
	}
	fmt.Fprintf(&b, "\n\n%s\n", brand)
	return mail.Message{Subject: fmt.Sprintf("%s: risposta al reclamo %s", brand, t.Reference), Text: b.String()}
}

func confirmText(t storage.Ticket, link, brand string) mail.Message {
	it, en := kindName(t)
	var b strings.Builder
	fmt.Fprintf(&b, "Per inviare %s (%s) apri questo link entro 24 ore:\n%s\n", it, t.Reference, link)
	// Worded for both kinds: "reclamo" is masculine, "richiesta" feminine.
	fmt.Fprintf(&b, "Se non hai fatto tu questa richiesta, ignora questo messaggio.\n\n")
	fmt.Fprintf(&b, "To send your %s (%s) open this link within 24 hours:\n%s\nIf you did not ask for it, ignore this message.\n\n%s\n", en, t.Reference, link, brand)
	return mail.Message{Subject: fmt.Sprintf("%s: conferma l'invio (%s %s)", brand, noun(t), t.Reference), Text: b.String()}
}
