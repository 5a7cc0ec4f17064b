// Package alert tells the owner of an identity, by e-mail, what happened to
// it that they must know of: an authenticator app added or removed, or,
// during a login attempt that was not theirs to see, the credentials
// locked after repeated wrong passwords or second-factor codes
// (security.md C.2, C.4), or a push request answered "Non sono stato io"
// in the app (C.10). A victim can be locked out but must know it, and know
// how to get back in and how to report it.
//
// Messages carry no password, code, request or session identifier; the
// times are Italian time (Europe/Rome), dd/mm/yyyy HH:MM. Both languages
// are always present, the owner's first when it is known.
package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/notify/mail"
)

// Kind names what happened.
type Kind string

const (
	// PasswordLock: wrong passwords locked the credentials.
	PasswordLock Kind = "password_lock"
	// FactorLock: wrong second-factor answers (app codes, push requests
	// denied or approved with the wrong number) after the right password
	// locked the credentials.
	FactorLock Kind = "factor_lock"
	// PushDenied: the owner answered "Non sono stato io" in the app.
	PushDenied Kind = "push_denied"
	// DeviceAdded and DeviceRemoved: an authenticator app (codes or push)
	// was activated on, or removed from, the identity
	// (enrolment-lifecycle.md §7.4: each addition or removal is e-mailed).
	DeviceAdded   Kind = "device_added"
	DeviceRemoved Kind = "device_removed"
)

// Event is one thing to tell the owner.
type Event struct {
	Kind  Kind
	Email string    // the identity's registered address; "" sends nothing
	At    time.Time // when it happened
	Until time.Time // end of the lock (locks only)
	SP    string    // the service of the login (push denial), display name
	// Device is the name the owner gave the app (device notices), and
	// Push whether it approves sign-in requests rather than showing codes.
	Device string
	Push   bool
	// Lang is the owner's language if known ("en" puts English first).
	Lang string
}

// Sender is what Mailer needs of notify/mail.
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// Mailer renders events and sends them by e-mail.
type Mailer struct {
	Mail Sender
	// BaseURL is the IdP's public base URL: the links to the personal area
	// and to the care desk's form start with it.
	BaseURL string
	// PersonalArea and Report are the paths of the personal area and of
	// the form that reports a problem to customer care.
	PersonalArea, Report string
	// Loc is the time zone of the message; nil: Europe/Rome.
	Loc *time.Location
}

// ErrNoAddress: the identity has no e-mail address to tell.
var ErrNoAddress = errors.New("alert: the identity has no e-mail address")

// Send e-mails e to the owner.
func (m Mailer) Send(ctx context.Context, e Event) error {
	if strings.TrimSpace(e.Email) == "" {
		return ErrNoAddress
	}
	subject, body := m.Render(e)
	if err := m.Mail.Send(ctx, mail.Message{To: e.Email, Subject: subject, Text: body}); err != nil {
		return fmt.Errorf("alert: %s e-mail: %w", e.Kind, err)
	}
	return nil
}

var rome = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	// No tzdata on the host: CET is right in winter and an hour off in
	// summer, better than UTC for a reader in Italy.
	return time.FixedZone("CET", 3600)
}()

// Render returns the subject and the plain-text body of e.
func (m Mailer) Render(e Event) (subject, body string) {
	loc := m.Loc
	if loc == nil {
		loc = rome
	}
	day := func(t time.Time) string { return t.In(loc).Format("02/01/2006") }
	hour := func(t time.Time) string { return t.In(loc).Format("15:04") }
	base := strings.TrimSuffix(m.BaseURL, "/")
	area, report := base+m.PersonalArea, base+m.Report
	var it, en string
	switch e.Kind {
	case PasswordLock, FactorLock:
		subject = "SPID: accesso bloccato per troppi tentativi / sign-in locked after too many attempts"
		whatIT := "la password è stata inserita in modo errato troppe volte di seguito."
		whatEN := "the password was entered wrongly too many times in a row."
		ifNotIT := "Se non sei stato tu, qualcuno potrebbe provare a indovinare la tua password."
		ifNotEN := "If it was not you, someone may be trying to guess your password."
		if e.Kind == FactorLock {
			whatIT = "dopo la password corretta, la conferma con l'app (codice o richiesta di accesso) è fallita troppe volte di seguito."
			whatEN = "after the right password, the confirmation with the app (code or sign-in request) failed too many times in a row."
			ifNotIT = "Se non sei stato tu, qualcuno conosce la tua password."
			ifNotEN = "If it was not you, someone knows your password."
		}
		it = fmt.Sprintf(`Il %s alle %s (ora italiana) l'accesso con la tua identità SPID è stato bloccato: %s

Il blocco termina da solo il %s alle %s. Da quel momento puoi accedere di nuovo con le tue credenziali, senza fare altro.

%s Appena il blocco è terminato, cambia la password dalla tua area personale: %s
Per segnalarci l'accaduto, o se hai bisogno di aiuto, scrivi all'assistenza: %s
`, day(e.At), hour(e.At), whatIT, day(e.Until), hour(e.Until), ifNotIT, area, report)
		en = fmt.Sprintf(`On %s at %s (Italian time) sign-in with your SPID identity was locked: %s

The lock ends by itself on %s at %s. From then on you can sign in again with your credentials; there is nothing else to do.

%s As soon as the lock has ended, change your password in your personal area: %s
To report what happened, or if you need help, write to customer care: %s
`, day(e.At), hour(e.At), whatEN, day(e.Until), hour(e.Until), ifNotEN, area, report)
	case PushDenied:
		subject = "SPID: richiesta di accesso rifiutata / sign-in request refused"
		it = fmt.Sprintf(`Il %s alle %s (ora italiana) hai risposto «Non sono stato io» nell'app a una richiesta di accesso al servizio «%s». L'accesso non è avvenuto.

La richiesta arriva all'app solo dopo la password corretta: se non stavi accedendo tu, qualcuno conosce la tua password. Cambiala subito dalla tua area personale, dove puoi anche sospendere la tua identità: %s
Per segnalarci l'accaduto scrivi all'assistenza: %s

Se invece eri tu e hai risposto per errore, non devi fare nulla: puoi accedere di nuovo.
`, day(e.At), hour(e.At), e.SP, area, report)
		en = fmt.Sprintf(`On %s at %s (Italian time) you answered "Non sono stato io" ("It wasn't me") in the app to a request to sign in to the service "%s". No sign-in took place.

The app gets a request only after the right password: if it was not you signing in, someone knows your password. Change it now in your personal area, where you can also suspend your identity: %s
To report what happened, write to customer care: %s

If it was you and you answered by mistake, there is nothing to do: you can sign in again.
`, day(e.At), hour(e.At), e.SP, area, report)
	case DeviceAdded, DeviceRemoved:
		whatIT, whatEN := "l'app di autenticazione", "the authenticator app"
		if e.Push {
			whatIT, whatEN = "l'app per le richieste di accesso", "the app for sign-in requests"
		}
		if e.Device != "" {
			whatIT += " «" + e.Device + "»"
			whatEN += ` "` + e.Device + `"`
		}
		if e.Kind == DeviceAdded {
			subject = "SPID: nuova app di autenticazione / new authenticator app"
			it = fmt.Sprintf(`Il %s alle %s (ora italiana) %s è stata attivata sulla tua identità SPID: da ora puoi usarla per accedere con SPID livello 2.

Se non sei stato tu, qualcuno conosce la tua password e ha ricevuto il codice SMS: sospendi subito la tua identità dalla tua area personale, dove puoi anche rimuovere l'app: %s
Per segnalarci l'accaduto scrivi all'assistenza: %s
`, day(e.At), hour(e.At), whatIT, area, report)
			en = fmt.Sprintf(`On %s at %s (Italian time) %s was activated on your SPID identity: from now on it can be used to sign in at SPID level 2.

If it was not you, someone knows your password and received the SMS code: suspend your identity at once in your personal area, where you can also remove the app: %s
To report what happened, write to customer care: %s
`, day(e.At), hour(e.At), whatEN, area, report)
		} else {
			subject = "SPID: app di autenticazione rimossa / authenticator app removed"
			it = fmt.Sprintf(`Il %s alle %s (ora italiana) %s è stata rimossa dalla tua identità SPID: non può più essere usata per accedere.

Se non sei stato tu, qualcuno ha accesso alla tua identità: sospendila subito dalla tua area personale: %s
Per segnalarci l'accaduto scrivi all'assistenza: %s
`, day(e.At), hour(e.At), whatIT, area, report)
			en = fmt.Sprintf(`On %s at %s (Italian time) %s was removed from your SPID identity: it can no longer be used to sign in.

If it was not you, someone has access to your identity: suspend it at once in your personal area: %s
To report what happened, write to customer care: %s
`, day(e.At), hour(e.At), whatEN, area, report)
		}
	default:
		subject = "SPID: avviso di sicurezza / security notice"
		it = fmt.Sprintf("Il %s alle %s (ora italiana) è successo qualcosa di insolito sulla tua identità SPID. Controlla la tua area personale: %s\nPer segnalarci l'accaduto: %s\n",
			day(e.At), hour(e.At), area, report)
		en = fmt.Sprintf("On %s at %s (Italian time) something unusual happened to your SPID identity. Please check your personal area: %s\nTo report it: %s\n",
			day(e.At), hour(e.At), area, report)
	}
	const rule = "\n----------------------------------------\n\n"
	footIT := "Questo messaggio è inviato automaticamente: non rispondere. Non ti chiederemo mai la password o i codici dell'app."
	footEN := "This message is sent automatically: please do not reply. We will never ask for your password or app codes."
	if e.Lang == "en" {
		return subject, en + "\n" + footEN + rule + it + "\n" + footIT + "\n"
	}
	return subject, it + "\n" + footIT + rule + en + "\n" + footEN + "\n"
}
