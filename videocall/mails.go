package videocall

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	notifymail "github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

type mailKind int

const (
	kindBooked mailKind = iota
	kindCancelled
	kindOperatorCancelled
	kindReleased // the request left recognition: the appointment is not needed
)

var _ enrolment.VideoBookings = (*Service)(nil)

// ReleasedMail is the e-mail telling the applicant that their appointment
// was freed because the request left recognition (enrolment.VideoBookings):
// withdrawn, expired, or recognised another way. It carries the
// invitation's cancellation, so calendars drop the appointment.
func (s *Service) ReleasedMail(e storage.Enrolment, req *enrolment.Request, slot storage.VideoSlot) (*notifymail.Message, error) {
	if req == nil || req.Applicant == nil || req.Applicant.Email == "" {
		return nil, nil
	}
	slot.RequestID = e.ID
	m, err := s.message(e, req, slot, kindReleased)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// releasedWhy says, Italian then English, why a request left recognition
// and its appointment with it.
func releasedWhy(state string) (it, en string) {
	switch enrolment.State(state) {
	case enrolment.StateCancelled:
		return "hai ritirato la richiesta", "you withdrew the request"
	case enrolment.StateExpired:
		return "la richiesta è scaduta: il riconoscimento non è avvenuto entro 90 giorni dall'invio",
			"the request expired: the recognition did not take place within 90 days of submission"
	default:
		return "il riconoscimento è già avvenuto in un altro modo e la videochiamata non serve più",
			"the recognition has already taken place another way and the video call is no longer needed"
	}
}

// When is an instant as pages and e-mails show it: dd/mm/yyyy HH:MM,
// Europe/Rome.
func When(t time.Time) string { return t.In(Rome).Format("02/01/2006 15:04") }

// seqEpoch: SEQUENCE counts minutes from here, so every later message
// about a booking carries a larger number without keeping a counter.
var seqEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func sequence(t time.Time) int { return int(t.Sub(seqEpoch) / time.Minute) }

const rule = "\n----------------------------------------\n"

// notify e-mails the applicant of slot's request. A failure is logged:
// the booking stands, and the page shows it.
func (s *Service) notify(ctx context.Context, slot storage.VideoSlot, kind mailKind) {
	if s.Mail == nil {
		return
	}
	e, req, err := s.Enrolment.Get(ctx, slot.RequestID)
	if err != nil || req == nil || req.Applicant == nil || req.Applicant.Email == "" {
		s.log().WarnContext(ctx, "videocall: no address to tell", "request", slot.RequestID, "err", err)
		return
	}
	m, err := s.message(e, req, slot, kind)
	if err == nil {
		err = s.Mail.Send(ctx, m)
	}
	if err != nil {
		s.log().ErrorContext(ctx, "videocall: e-mail", "request", slot.RequestID, "err", err)
	}
}

func (s *Service) message(e storage.Enrolment, req *enrolment.Request, slot storage.VideoSlot, kind mailKind) (notifymail.Message, error) {
	code := enrolment.FormatCode(e.Code)
	minutes := int(slot.End.Sub(slot.Start) / time.Minute)
	manage, err := s.Link(e.ID)
	if err != nil {
		return notifymail.Message{}, err
	}
	room := s.room(slot, code)
	if room == "" {
		// No video service configured: the appointment page is where the
		// applicant learns how the call happens.
		room = manage
	}
	cut := int(CutOff / time.Hour)
	name := strings.TrimSpace(req.Applicant.Name + " " + req.Applicant.FamilyName)
	ev := Event{Method: "REQUEST", UID: "videocall-" + e.ID + "@" + s.uidHost(), Stamp: s.now(), Start: slot.Start, End: slot.End,
		Summary: "SPID: videochiamata di riconoscimento / video identification call", URL: room,
		Description: "Richiesta / Request " + code + "\n" + manage,
		Organizer:   s.organizer(), OrgName: s.Brand, Attendee: address(req.Applicant.Email), AttName: name,
		Sequence: sequence(slot.BookedAt)}
	var m notifymail.Message
	m.To = req.Applicant.Email
	when := When(slot.Start)
	switch kind {
	case kindBooked:
		m.Subject = "SPID: appuntamento per la videochiamata / video call appointment"
		m.Text = fmt.Sprintf(`Gentile %[1]s,
la videochiamata di riconoscimento per la richiesta SPID %[2]s è fissata per il %[3]s (ora italiana) e dura %[4]d minuti.

Collegamento alla videochiamata: %[5]s

Tieni a portata di mano il documento d'identità indicato nella richiesta, la tessera sanitaria e il cellulare: durante la chiamata riceverai un codice via SMS e un'e-mail con un link da aprire. L'invito allegato aggiunge l'appuntamento al tuo calendario.

Puoi cambiare o annullare l'appuntamento fino a %[6]d ore prima dell'inizio da questa pagina:
%[7]s
%[8]sDear %[1]s,
the video identification call for SPID request %[2]s is booked for %[3]s (Italian time) and lasts %[4]d minutes.

Link to the video call: %[5]s

Keep at hand the identity document named in your request, your health card and your mobile phone: during the call you will receive a code by SMS and an e-mail with a link to open. The attached invitation adds the appointment to your calendar.

You can change or cancel the appointment up to %[6]d hours before it starts on this page:
%[7]s
`, name, code, when, minutes, room, cut, manage, rule)
	case kindReleased:
		ev.Method, ev.Sequence = "CANCEL", sequence(s.now())+1
		it, en := releasedWhy(e.State)
		m.Subject = "SPID: appuntamento annullato / appointment cancelled"
		m.Text = fmt.Sprintf(`Gentile %[1]s,
l'appuntamento del %[2]s (ora italiana) per la videochiamata di riconoscimento della richiesta SPID %[3]s è stato annullato perché %[4]s.

Non devi fare nulla: l'orario è di nuovo disponibile per altre persone. Lo stato della richiesta si può vedere qui:
%[5]s
%[6]sDear %[1]s,
the appointment of %[2]s (Italian time) for the video identification call of SPID request %[3]s has been cancelled because %[7]s.

There is nothing you need to do: the time is available to others again. The status of the request can be seen here:
%[5]s
`, name, when, code, it, s.statusURL(), rule, en)
	case kindCancelled, kindOperatorCancelled:
		ev.Method, ev.Sequence = "CANCEL", sequence(s.now())+1
		it, en := "Hai annullato l'appuntamento", "You cancelled the appointment"
		if kind == kindOperatorCancelled {
			it, en = "Ci scusiamo: l'operatore ha dovuto annullare l'appuntamento", "We are sorry: the operator had to cancel the appointment"
		}
		m.Subject = "SPID: appuntamento annullato / appointment cancelled"
		m.Text = fmt.Sprintf(`Gentile %[1]s,
%[2]s del %[3]s per la videochiamata di riconoscimento della richiesta SPID %[4]s.

Per completare la richiesta prenota un nuovo appuntamento da questa pagina:
%[5]s
%[6]sDear %[1]s,
%[7]s of %[3]s (Italian time) for the video identification call of SPID request %[4]s.

To complete your request, book a new appointment on this page:
%[5]s
`, name, it, when, code, manage, rule, en)
	}
	ev.Summary = "SPID: videochiamata di riconoscimento / video identification call"
	m.Attachments = []notifymail.Attachment{{Name: "appuntamento-spid.ics",
		ContentType: "text/calendar; charset=utf-8; method=" + ev.Method, Data: ev.ICS()}}
	return m, nil
}

// address is the bare address of an e-mail recipient ("" if unreadable).
func address(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return ""
}

// statusURL is the status page of requests.
func (s *Service) statusURL() string { return strings.TrimRight(s.BaseURL, "/") + pathStatus }

func (s *Service) organizer() string {
	if a := address(s.Organizer); a != "" {
		return a
	}
	return "noreply@" + s.uidHost()
}

func (s *Service) uidHost() string {
	if s.UIDHost != "" {
		return s.UIDHost
	}
	return "localhost"
}

func (s *Service) room(slot storage.VideoSlot, code string) string {
	if s.RoomURL != nil {
		return s.RoomURL(slot, code)
	}
	return ""
}
