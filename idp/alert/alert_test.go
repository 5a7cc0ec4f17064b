package alert

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/capture"
	"github.com/spid-idp/spid-idp/notify/mail"
)

func TestRender(t *testing.T) {
	m := Mailer{BaseURL: "https://idp.example.it/", PersonalArea: "/account/", Report: "/care/tickets/new"}
	// 14:05 UTC in July is 16:05 in Rome (CEST); in January 15:05 (CET).
	summer := time.Date(2026, 7, 3, 14, 5, 0, 0, time.UTC)
	winter := time.Date(2026, 1, 3, 14, 5, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		e    Event
		want []string
		not  []string
	}{
		{"password lock", Event{Kind: PasswordLock, At: summer, Until: summer.Add(30 * time.Minute)},
			[]string{"Il 03/07/2026 alle 16:05 (ora italiana)", "il 03/07/2026 alle 16:35", "On 03/07/2026 at 16:05 (Italian time)",
				"on 03/07/2026 at 16:35", "password è stata inserita in modo errato", "https://idp.example.it/account/",
				"https://idp.example.it/care/tickets/new", "bloccato"},
			[]string{"Non sono stato io", "conosce la tua password"}},
		{"code lock", Event{Kind: FactorLock, At: winter, Until: winter.Add(time.Hour)},
			[]string{"Il 03/01/2026 alle 15:05", "il 03/01/2026 alle 16:05", "dopo la password corretta", "qualcuno conosce la tua password",
				"someone knows your password"},
			nil},
		{"push denied", Event{Kind: PushDenied, At: winter, SP: "Comune di Prova"},
			[]string{"Il 03/01/2026 alle 15:05", "«Non sono stato io»", "«Comune di Prova»", "It wasn't me", "\"Comune di Prova\"",
				"sospendere la tua identità", "https://idp.example.it/account/"},
			[]string{"blocco"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			subject, body := m.Render(c.e)
			if subject == "" || strings.ContainsAny(subject, "\r\n") {
				t.Fatalf("subject %q", subject)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			for _, w := range c.not {
				if strings.Contains(body, w) {
					t.Errorf("body has %q:\n%s", w, body)
				}
			}
			if it, en := strings.Index(body, "Il "), strings.Index(body, "On "); it < 0 || en < 0 || it > en {
				t.Errorf("Italian should come first by default:\n%s", body)
			}
		})
	}
	_, body := m.Render(Event{Kind: PasswordLock, At: summer, Until: summer, Lang: "en"})
	if strings.Index(body, "On ") > strings.Index(body, "Il ") {
		t.Errorf("Lang en: English should come first:\n%s", body)
	}
}

func TestSend(t *testing.T) {
	c := &capture.Box[mail.Message]{}
	m := Mailer{Mail: c, BaseURL: "https://idp.example.it"}
	if err := m.Send(context.Background(), Event{Kind: PushDenied, At: time.Now()}); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("no address: %v", err)
	}
	if err := m.Send(context.Background(), Event{Kind: PushDenied, Email: "mario@example.it", At: time.Now(), SP: "X"}); err != nil {
		t.Fatal(err)
	}
	if sent := c.All(); len(sent) != 1 || sent[0].To != "mario@example.it" || !strings.Contains(sent[0].Subject, "rifiutata") {
		t.Fatalf("sent: %+v", c.All())
	}
}

// Device notices: both languages, the app's name, push or codes, the time
// as dd/mm/yyyy HH:MM Italian time (18:05 UTC on 7 Dec is 19:05 in Rome).
func TestRenderDeviceNotices(t *testing.T) {
	m := Mailer{BaseURL: "https://idp.example.it", PersonalArea: "/account", Report: "/care/tickets/new"}
	at := time.Date(2026, 12, 7, 18, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		e    Event
		want []string
	}{
		{Event{Kind: DeviceAdded, At: at, Device: "Telefono"}, []string{"nuova app", "Il 07/12/2026 alle 19:05 (ora italiana) l'app di autenticazione «Telefono» è stata attivata",
			`On 07/12/2026 at 19:05 (Italian time) the authenticator app "Telefono" was activated`, "https://idp.example.it/account"}},
		{Event{Kind: DeviceRemoved, At: at, Device: "Tablet", Push: true}, []string{"rimossa", "l'app per le richieste di accesso «Tablet» è stata rimossa",
			`the app for sign-in requests "Tablet" was removed`, "https://idp.example.it/care/tickets/new"}},
	} {
		subject, body := m.Render(tc.e)
		for _, w := range tc.want {
			if !strings.Contains(subject+"\n"+body, w) {
				t.Errorf("%s: lacks %q:\n%s\n%s", tc.e.Kind, w, subject, body)
			}
		}
	}
}
