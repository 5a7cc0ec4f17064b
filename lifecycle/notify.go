package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
)

// NoticeKind names a message to the holder (§9).
type NoticeKind string

const (
	NoticeSuspended           NoticeKind = "suspended"            // e-mail + SMS, doubles as the receipt (E073)
	NoticeReactivated         NoticeKind = "reactivated"          // e-mail + SMS
	NoticeReactivationBlocked NoticeKind = "reactivation_blocked" // e-mail + SMS: what to do
	NoticeRevoked             NoticeKind = "revoked"              // e-mail + SMS
	NoticeRevocationProposed  NoticeKind = "revocation_proposed"  // e-mail: request received
	NoticeRenewed             NoticeKind = "renewed"              // e-mail
	NoticeExpiry              NoticeKind = "expiry"               // e-mail + SMS, 90/30/10/1 days
	NoticeInactivity          NoticeKind = "inactivity"           // e-mail + SMS, 90/30/10/1 days
	NoticeDocumentExpiry      NoticeKind = "document_expiry"      // e-mail, 30/7 days
)

// Notice is one message to the holder. It carries no password, OTP or
// full fiscal code (E113); Date is the effective date or the deadline.
type Notice struct {
	Kind       NoticeKind
	IdentityID string
	Email      string // the identity's registered e-mail, "" when none
	Mobile     string // registered mobile in E.164, "" when none
	SPIDSuffix string // last 4 characters of the spidCode
	Cause      Cause
	Reason     string // why a reactivation was blocked
	Date       time.Time
	// Until is when a timed suspension ends by itself (zero: it does not).
	Until    time.Time
	DaysLeft int  // for the 90/30/10/1 notices
	SMS      bool // the spec asks for an SMS as well as the e-mail
}

// Notifier delivers notices. The implementation should put them in a
// durable outbox (§9): the lifecycle calls it after the change is stored.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Staging is a Notifier that, called with a context carrying a
// storage.Outbox, writes its messages there instead of sending them
// (notify/queue's senders do). The lifecycle then calls it inside the
// transaction of the change, so notice and change commit together.
type Staging interface {
	Notifier
	Stages() bool
}

// Stages reports whether both senders stage into a storage.Outbox.
func (m MailSMS) Stages() bool {
	return stages(m.Mail) && (m.SMS == nil || stages(m.SMS))
}

func stages(v any) bool {
	s, ok := v.(interface{ Stages() bool })
	return ok && s.Stages()
}

// MailSender and SMSSender are what MailSMS needs of notify/mail and
// notify/sms.
type (
	MailSender interface {
		Send(ctx context.Context, m mail.Message) error
	}
	SMSSender interface {
		Send(ctx context.Context, m sms.Message) error
	}
)

// MailSMS renders notices in Italian and English and sends them by e-mail,
// and by SMS where Notice.SMS asks (SMS texts carry no link, E113).
type MailSMS struct {
	Mail MailSender
	SMS  SMSSender // nil: e-mail only
	Loc  *time.Location
}

// Notify sends n; an identity without e-mail or mobile simply gets nothing
// on that channel.
func (m MailSMS) Notify(ctx context.Context, n Notice) error {
	loc := m.Loc
	if loc == nil {
		loc = rome()
	}
	it, en := noticeText(n, loc)
	var errs []error
	if n.Email != "" && m.Mail != nil {
		subject := "SPID: " + it + " / " + en
		if len(subject) > 150 {
			subject = "SPID: " + string(n.Kind)
		}
		body := it + "\n\n" + en + "\n\nCodice identità / identity code: …" + n.SPIDSuffix + "\n"
		if err := m.Mail.Send(ctx, mail.Message{To: n.Email, Subject: subject, Text: body}); err != nil {
			errs = append(errs, fmt.Errorf("e-mail: %w", err))
		}
	}
	if n.SMS && n.Mobile != "" && m.SMS != nil {
		if err := m.SMS.Send(ctx, sms.Message{To: n.Mobile, Text: "SPID: " + it}); err != nil {
			errs = append(errs, fmt.Errorf("SMS: %w", err))
		}
	}
	return errors.Join(errs...)
}

// causeWords says a cause in words, Italian and English (never the code).
var causeWords = map[Cause][2]string{
	CauseHolderRequest:       {"su tua richiesta", "at your request"},
	CauseSuspiciousActivity:  {"per attività sospette", "because of suspicious activity"},
	CauseDocumentExpired:     {"perché il documento d'identità è scaduto", "because your identity document expired"},
	CauseLockoutEscalation:   {"dopo troppi tentativi di accesso non riusciti", "after too many failed login attempts"},
	CauseIllicitUse:          {"per uso illecito denunciato", "for reported illicit use"},
	CauseFraudConfirmed:      {"per frode accertata", "for confirmed fraud"},
	CauseDeath:               {"per decesso del titolare", "because the holder died"},
	CauseLegalPersonExtinct:  {"per estinzione della persona giuridica", "because the legal person ceased to exist"},
	CauseRepresentationEnded: {"per fine della rappresentanza", "because the representation ended"},
	CauseInactivity:          {"per inattività", "for inactivity"},
	CauseContractExpired:     {"per scadenza del contratto", "because the contract expired"},
}

// reasonWords says why an automatic reactivation did not happen.
var reasonWords = map[string][2]string{
	"contacts_changed":       {"l'e-mail o il cellulare sono cambiati", "your e-mail or mobile changed"},
	"document_expired":       {"il documento d'identità è scaduto", "your identity document expired"},
	"complaint_under_review": {"è in esame una denuncia", "a police report is under review"},
	"revocation_pending":     {"è in corso una richiesta di revoca", "a revocation request is pending"},
}

// DateTime is the one format of dates in notices, as on the pages:
// dd/mm/yyyy HH:MM, Italian time.
func DateTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = rome()
	}
	return t.In(loc).Format("02/01/2006 15:04")
}

func noticeText(n Notice, loc *time.Location) (it, en string) {
	d := DateTime(n.Date, loc)
	cw, ok := causeWords[n.Cause]
	if !ok && n.Cause != "" {
		cw = [2]string{"(" + strings.ReplaceAll(string(n.Cause), "_", " ") + ")", "(" + strings.ReplaceAll(string(n.Cause), "_", " ") + ")"}
	}
	switch n.Kind {
	case NoticeSuspended:
		it = "la tua identità SPID è sospesa dal " + d + " " + cw[0] + "."
		en = "your SPID identity is suspended from " + d + " " + cw[1] + "."
		if !n.Until.IsZero() {
			u := DateTime(n.Until, loc)
			it += " Tornerà attiva da sola il " + u + ", a meno che tu non presenti una denuncia."
			en += " It becomes active again by itself on " + u + ", unless you file a police report."
		}
		it += " Per riattivarla prima, o se non hai chiesto tu la sospensione, contatta l'assistenza clienti."
		en += " To reactivate it sooner, or if you did not ask for the suspension, contact customer care."
		return it, en
	case NoticeReactivated:
		return "la tua identità è di nuovo attiva dal " + d, "your identity is active again from " + d
	case NoticeReactivationBlocked:
		rw, ok := reasonWords[n.Reason]
		if !ok {
			rw = [2]string{"non sono soddisfatte le condizioni per la riattivazione", "the conditions for reactivation are not met"}
		}
		return "la tua identità SPID resta sospesa perché " + rw[0] + ": per riattivarla contatta l'assistenza clienti",
			"your SPID identity stays suspended because " + rw[1] + ": to reactivate it, contact customer care"
	case NoticeRevoked:
		return "la tua identità SPID è revocata dal " + d + " " + cw[0],
			"your SPID identity is revoked from " + d + " " + cw[1]
	case NoticeRevocationProposed:
		return "abbiamo ricevuto la richiesta di revocare la tua identità SPID " + cw[0] + ": la esamina il supervisore dell'assistenza",
			"we received the request to revoke your SPID identity " + cw[1] + ": the customer-care supervisor reviews it"
	case NoticeRenewed:
		return "la tua identità è rinnovata fino al " + d, "your identity is renewed until " + d
	case NoticeExpiry:
		return fmt.Sprintf("la tua identità scade il %s (tra %d giorni): rinnovala", d, n.DaysLeft),
			fmt.Sprintf("your identity expires on %s (in %d days): please renew it", d, n.DaysLeft)
	case NoticeInactivity:
		return fmt.Sprintf("la tua identità sarà revocata il %s per inattività (tra %d giorni): accedi per mantenerla", d, n.DaysLeft),
			fmt.Sprintf("your identity will be revoked on %s for inactivity (in %d days): sign in to keep it", d, n.DaysLeft)
	case NoticeDocumentExpiry:
		return fmt.Sprintf("il tuo documento scade il %s (tra %d giorni): caricane uno nuovo", d, n.DaysLeft),
			fmt.Sprintf("your identity document expires on %s (in %d days): please upload a new one", d, n.DaysLeft)
	}
	return string(n.Kind), string(n.Kind)
}
