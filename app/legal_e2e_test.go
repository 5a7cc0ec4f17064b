package app

import (
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/legal"
)

// The footer's privacy, accessibility and terms links answer, in both
// languages, with the configured controller and a version; the consents
// page links to the texts and the request records the version (hash) of
// each text accepted.
func TestLegalPagesEndToEnd(t *testing.T) {
	a, base := enrolApp(t, nil)
	for _, tc := range []struct{ path, lang, title, must string }{
		{"/privacy", "it", "Informativa sul trattamento dei dati personali", "Garante per la protezione dei dati personali"},
		{"/privacy?lang=en", "en", "Privacy notice", "Italian Data Protection Authority"},
		{"/accessibility", "it", "Dichiarazione di accessibilità", "parzialmente conforme"},
		{"/accessibility?lang=en", "en", "Accessibility statement", "partially compliant"},
		{"/terms", "it", "Condizioni del servizio", "14 giorni"},
		{"/terms?lang=en", "en", "Terms of service", "14 days"},
	} {
		p := newBrowser(t).get(base + tc.path)
		if p.status != 200 || !strings.Contains(p.body, `<html lang="`+tc.lang+`"`) || !strings.Contains(p.body, "<h1>"+tc.title+"</h1>") ||
			!strings.Contains(p.body, tc.must) || !strings.Contains(p.body, orgName(a, tc.lang)) {
			t.Fatalf("%s: %d\n%s", tc.path, p.status, p.body)
		}
		kind := strings.TrimPrefix(strings.SplitN(tc.path, "?", 2)[0], "/")
		texts, _ := a.LegalTexts()
		if v := texts.Version(kind, tc.lang); !strings.Contains(p.body, v) {
			t.Errorf("%s: version %s not shown", tc.path, v)
		}
		for _, link := range []string{`href="/privacy"`, `href="/accessibility"`, `href="/terms"`} {
			if !strings.Contains(p.body, link) {
				t.Errorf("%s: footer lacks %s", tc.path, link)
			}
		}
	}
	// The care link inside the texts is a link.
	if p := newBrowser(t).get(base + "/accessibility"); !strings.Contains(p.body, `<a href="`+base+`/care/tickets/new"`) {
		t.Errorf("accessibility: no link to the care desk\n%s", p.body)
	}

	p := newApplicant(t, 3)
	done := capture(t, a, base, newBrowser(t), p, enrolment.PathShop)
	_, req := requestByCode(t, a, done)
	texts, _ := a.LegalTexts()
	got := map[string]string{}
	for _, c := range req.Consents {
		got[c.Kind] = c.Version
	}
	if got["privacy"] != texts.Version(legal.Privacy, "it") || got["terms"] != texts.Version(legal.Terms, "it") {
		t.Fatalf("consents recorded %v, want the versions of the Italian texts %s, %s", got, texts.Version(legal.Privacy, "it"), texts.Version(legal.Terms, "it"))
	}
}

// orgName is the controller's name as the texts in lang print it.
func orgName(a *App, lang string) string {
	if lang == "en" {
		return a.Config.IdP.Organization.Name.EN
	}
	return a.Config.IdP.Organization.Name.IT
}
