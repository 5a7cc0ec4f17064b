package app

import (
	"strings"
	"testing"
)

// English pages name the IdP and the demo SP with their configured English
// names; the language switch of the demo SP's result and logout pages (a
// GET of /demo-sp/acs or /demo-sp/slo with only ?lang=) lands on the home
// page in that language instead of 405 or 400.
func TestEnglishNamesAndSwitches(t *testing.T) {
	a, base := enrolApp(t, nil)
	org := a.Config.IdP.Organization.DisplayName
	if org.EN == org.IT {
		t.Fatalf("demo configuration has one name only: %+v", org)
	}
	en := newBrowser(t).get(base + "/recover?lang=en")
	it := newBrowser(t).get(base + "/recover?lang=it")
	if !strings.Contains(en.body, "<span>"+org.EN+"</span>") || strings.Contains(en.body, org.IT) {
		t.Errorf("English page does not use %q:\n%s", org.EN, en.body)
	}
	if !strings.Contains(it.body, "<span>"+org.IT+"</span>") {
		t.Errorf("Italian page does not use %q", org.IT)
	}
	if home := newBrowser(t).get(base + "/demo-sp/?lang=en"); !strings.Contains(home.body, "Demo service") {
		t.Errorf("demo SP home in English:\n%s", home.body)
	}
	for _, path := range []string{"/demo-sp/acs?lang=en", "/demo-sp/slo?lang=en"} {
		p := newBrowser(t).get(base + path)
		if p.status != 200 || p.url.Path != "/demo-sp/" || !strings.Contains(p.body, `lang="en"`) || !strings.Contains(p.body, "Demo service") {
			t.Errorf("%s: %d at %s\n%s", path, p.status, p.url, p.body)
		}
	}
}
