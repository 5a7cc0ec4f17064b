package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/storage"
)

// Asking for documents pauses the clock (§6.2); their return puts the
// request back with the deadline moved by the paused working time (E047).
func TestAskDocumentsAndReturn(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	f.operator(t, "vera", enrolment.RoleVerifier)
	e := f.shopRecognised(t, "agent")
	v := f.browser(t)
	v.login("vera")
	p := v.get("/console/requests/" + e.ID)
	if p2 := v.submit(p, "/documents", url.Values{"missing": {" ; "}}); !strings.Contains(p2.url.RawQuery, "err=no_documents") {
		t.Errorf("no documents named: %s", p2.url)
	}
	p = v.submit(p, "/documents", url.Values{"missing": {"tessera sanitaria; retro del documento"}})
	if !strings.Contains(p.url.RawQuery, "ok=documents") || f.state(t, e.ID) != string(enrolment.StateAwaitingDocuments) {
		t.Fatalf("ask documents: %s", p.url)
	}
	m, err := f.mails.Last("mario.rossi@example.it")
	must(t, "outbox", err)
	if !strings.Contains(m.Text, "tessera sanitaria") || !strings.Contains(m.Text, "retro del documento") {
		t.Errorf("documents e-mail: %s", m.Text)
	}
	if !strings.Contains(v.get("/console/queue").body, "badge-paused") {
		t.Error("paused request not shown as paused")
	}
	// One working day later (Monday 10:00 after Friday 10:00: the weekend
	// does not count), the documents arrive.
	f.clk.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, romeLoc))
	v.login("vera")
	p = v.submit(v.get("/console/requests/"+e.ID), "/received", nil)
	if !strings.Contains(p.url.RawQuery, "ok=received") {
		t.Fatalf("received: %s", p.url)
	}
	after, err := f.st.GetEnrolment(t.Context(), e.ID)
	must(t, "GetEnrolment", err)
	if got := after.DeadlineAt.Sub(e.DeadlineAt); got != 24*time.Hour {
		t.Errorf("deadline moved by %v, want 24h (one working day paused)", got)
	}
}

// Supervisors open recordings, with a reason; pages render in English and
// carry no inline script or style (ui.md §11).
func TestSupervisorRecordingAndEnglish(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	f.operator(t, "sue", enrolment.RoleSupervisor)
	e := f.shopRecognised(t, "agent")
	item, err := f.svc.Upload(t.Context(), e.ID, evidence.KindVideoRecording, "video/webm", "op-agent", strings.NewReader(string(webm())), 0)
	must(t, "Upload", err)
	s := f.browser(t)
	s.login("sue")
	p := s.get("/console/requests/" + e.ID + "?lang=en")
	if !strings.Contains(p.body, `<html lang="en">`) || !strings.Contains(p.body, "Verification checklist") {
		t.Errorf("English case page:\n%s", p.body)
	}
	// The configured responsible person in the page's language (ui.md: no
	// Italian on English pages), the Italian one on Italian pages.
	if !strings.Contains(p.body, "Dr Anna Verdi, head of identity verification") || strings.Contains(p.body, "Dott.ssa Anna Verdi") {
		t.Error("the English case page does not name the responsible person in English")
	}
	if it := s.get("/console/requests/" + e.ID + "?lang=it"); !strings.Contains(it.body, "Dott.ssa Anna Verdi") {
		t.Error("the Italian case page does not name the responsible person in Italian")
	}
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`<script>`), regexp.MustCompile(`\son[a-z]+=`), regexp.MustCompile(`\sstyle=`)} {
		if bad.MatchString(p.body) {
			t.Errorf("inline %s on the case page", bad)
		}
	}
	p = s.submit(p, "/evidence/"+item.ID, url.Values{"reason": {"judicial_authority"}, "reference": {"Proc. 123/2026"}})
	if p.status != http.StatusOK || p.body != string(webm()) || !strings.HasPrefix(p.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("recording: %d %v", p.status, p.header)
	}
}

func TestAdhesionFormForAgent(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	e := f.submitted(t, enrolment.PathShop, mario())
	b := f.browser(t)
	b.login("agent")
	if p := b.get("/console/recognise/" + e.ID + "/form"); p.status != http.StatusNotFound {
		t.Errorf("form before the lookup: %d", p.status)
	}
	b.submit(b.get("/console/find"), "/console/find", url.Values{"code": {e.Code}, "cf_suffix": {"501U"}})
	p := b.get("/console/recognise/" + e.ID + "/form")
	if p.status != http.StatusOK || !strings.HasPrefix(p.body, "%PDF-") || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("form: %d %q", p.status, p.body[:min(len(p.body), 8)])
	}
}

// A disabled operator is out at the next request; a new login gets a new
// session ID and the old one stops working.
func TestDisabledOperatorAndFreshSession(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "vera", enrolment.RoleVerifier)
	b := f.browser(t)
	b.login("vera")
	u, _ := url.Parse(f.srv.URL)
	first := b.c.Jar.Cookies(u)
	b.login("vera")
	second := b.c.Jar.Cookies(u)
	if len(first) == 0 || len(second) == 0 || first[0].Value == second[0].Value {
		t.Fatal("login kept the session ID")
	}
	stale := f.browser(t)
	stale.c.Jar.SetCookies(u, first)
	if p := stale.get("/console/queue"); !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Errorf("the replaced session still works: %s", p.url)
	}
	must(t, "disable", f.st.UpdateOperator(t.Context(), "op-vera", func(o storage.Operator) (storage.Operator, error) {
		o.Status = storage.OperatorDisabled
		return o, nil
	}))
	if p := b.get("/console/queue"); !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Errorf("disabled operator still in: %s", p.url)
	}
	if p := b.login("vera"); p.status != http.StatusUnauthorized {
		t.Errorf("disabled operator logged in: %d", p.status)
	}
}
