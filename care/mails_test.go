package care

import (
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// The e-mails are proofread: the possessive agrees with the noun ("il tuo
// reclamo", never "la tua reclamo"), and dates have the pages' format
// (dd/mm/yyyy HH:MM, Rome) in both languages (issue 12).
func TestMailsProofread(t *testing.T) {
	due := time.Date(2026, 12, 21, 22, 59, 0, 0, time.UTC)
	complaint := storage.Ticket{Kind: storage.TicketKindComplaint, Reference: "RC-2026-ABCD1234", Subject: "Accesso", DeadlineAt: due}
	ticket := storage.Ticket{Kind: storage.TicketKindTicket, Reference: "TT-2026-ABCD1234", Subject: "Accesso"}
	for _, m := range []struct{ text, want string }{
		{ackText(complaint, "IdP").Text, "Abbiamo ricevuto il tuo reclamo."},
		{ackText(ticket, "IdP").Text, "Abbiamo ricevuto la tua richiesta di assistenza."},
		{confirmText(complaint, "https://x/care/confirm", "IdP").Text, "Per inviare il tuo reclamo"},
		{confirmText(ticket, "https://x/care/confirm", "IdP").Text, "Per inviare la tua richiesta di assistenza"},
		{ackText(complaint, "IdP").Text, "entro il 21/12/2026 23:59"},
		{ackText(complaint, "IdP").Text, "We will answer by 21/12/2026 23:59"},
	} {
		if !strings.Contains(m.text, m.want) {
			t.Errorf("no %q in %q", m.want, m.text)
		}
		if strings.Contains(m.text, "la tua reclamo") || strings.Contains(m.text, "2026-12-21") {
			t.Errorf("unproofread: %q", m.text)
		}
	}
}
