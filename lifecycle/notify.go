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
	DaysLeft   int  // for the 90/30/10/1 notices
	SMS        bool // the spec asks for an SMS as well as the e-mail
}

// Notifier delivers notices. The implementation should put them in a
// durable outbox (§9): the lifecycle calls it after the change is stored.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
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

func noticeText(n Notice, loc *time.Location) (it, en string) {
	d := n.Date.In(loc).Format("02/01/2006")
	cause := strings.ReplaceAll(string(n.Cause), "_", " ")
	switch n.Kind {
	case NoticeSuspended:
		return "la tua identità è sospesa dal " + d + " (" + cause + ")",
			"your identity is suspended from " + d + " (" + cause + ")"
	case NoticeReactivated:
		return "la tua identità è di nuovo attiva dal " + d, "your identity is active again from " + d
	case NoticeReactivationBlocked:
		return "la tua identità resta sospesa (" + n.Reason + "): contatta l'assistenza",
			"your identity stays suspended (" + n.Reason + "): please contact customer care"
	case NoticeRevoked:
		return "la tua identità è revocata dal " + d + " (" + cause + ")",
			"your identity is revoked from " + d + " (" + cause + ")"
	case NoticeRevocationProposed:
		return "abbiamo ricevuto la richiesta di revoca (" + cause + ")",
			"we received the revocation request (" + cause + ")"
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
