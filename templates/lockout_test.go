package templates

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A push request refused in the app brings the citizen back to P01 with
// what happened, never the wrong-password text (issue 11, S083).
func TestLoginPushNotices(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct {
		notice, lang, want string
	}{
		{LoginNoticePushDenied, "it", "rifiutata nell&#39;app con «Non sono stato io»"},
		{LoginNoticePushDenied, "en", "refused in the app with “Non sono stato io” (“It wasn&#39;t me”)"},
		{LoginNoticeWrongNumber, "it", "un numero diverso da quello mostrato in questa pagina"},
		{LoginNoticeWrongNumber, "en", "A number other than the one shown on this page"},
	} {
		_, body := render(t, r, PageLogin, c.lang, http.StatusUnauthorized,
			LoginPage{Service: svc, CSRF: "tok", Action: "/login/f1", Notice: c.notice, AttemptsLeft: 2})
		if !strings.Contains(body, c.want) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("%s/%s: no %q in an alert:\n%s", c.notice, c.lang, c.want, body)
		}
		if strings.Contains(body, "non corretti") || strings.Contains(body, "is not correct") {
			t.Errorf("%s/%s: told as a wrong password", c.notice, c.lang)
		}
		if !strings.Contains(body, `aria-describedby="error-summary"`) {
			t.Errorf("%s/%s: fields not tied to the message", c.notice, c.lang)
		}
	}
}

// A denial in the app is a line of the access history of its own.
func TestPortalHistoryDenied(t *testing.T) {
	r := newRenderer(t)
	page := PortalHomePage{Name: "Mario Rossi", CSRF: "tok", State: "active", History: []PortalAccess{
		{Time: time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC), SP: "Comune di Esempio", Level: "2", IP: "192.0.2.1", Denied: true},
		{Time: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC), SP: "Comune di Esempio", Level: "1", IP: "192.0.2.1", Success: true},
	}}
	for lang, want := range map[string]string{"it": "rifiutato nell&#39;app («Non sono stato io»)", "en": "refused in the app"} {
		_, body := render(t, r, PagePortalHome, lang, http.StatusOK, page)
		if !strings.Contains(body, want) {
			t.Errorf("%s: no %q in the history:\n%s", lang, want, body)
		}
	}
}

// The personal area says states, causes and failures in words, never the
// codes (issue 12).
func TestPortalInWords(t *testing.T) {
	r := newRenderer(t)
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	page := PortalHomePage{Name: "Mario Rossi", CSRF: "tok", State: "suspended", Cause: "holder_request", Until: at,
		History: []PortalAccess{
			{Time: at, SP: "Comune", Level: "2", Reason: "wrong_number"},
			{Time: at, SP: "Comune", Reason: "password"},
			{Time: at, SP: "Comune", Level: "1", Reason: "nr20", Anomaly: "nr20"},
		}}
	_, body := render(t, r, PagePortalHome, "it", http.StatusOK, page)
	for _, want := range []string{"sospesa", "su tua richiesta", "fino al 07/12/2026 19:00", "password errata",
		"un numero diverso", "livello di sicurezza non disponibile", `class="btn btn-danger"`, `data-label="Esito"`} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in the personal area", want)
		}
	}
	for _, raw := range []string{">suspended<", "holder_request", "nr20<", "wrong_number<"} {
		if strings.Contains(body, raw) {
			t.Errorf("raw code %q shown", raw)
		}
	}
}
