package templates

import (
	"strings"
	"testing"
	"time"
)

func TestCarePages(t *testing.T) {
	r := newRenderer(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	frame := CareFrame{Operator: "agent1", CSRF: "tok", Notice: "<b>fatto</b>"}
	row := CareRow{Reference: "RC-2026-ABCD1234", Link: "/console/care/tickets/x", Complaint: true, State: "assigned",
		Channel: "pec", Subject: "<script>x</script>", OpenedAt: at, Deadline: at.Add(14 * 24 * time.Hour), DeadlineStatus: "at_risk"}
	cases := []struct {
		page string
		data any
		want []string
	}{
		{PageCareHome, CareHomePage{Ticket: "/care/tickets/new", Complaint: "/care/complaints/new", Portal: "/account/", Reactivate: "/care/tickets/new?topic=reactivation"},
			[]string{`href="/care/tickets/new"`, `href="/care/complaints/new"`, "Presenta un reclamo", "Chiedi la riattivazione", `href="/care/tickets/new?topic=reactivation"`}},
		{PageCareDesk, CareDeskPage{CareFrame: CareFrame{Operator: "agent1", CSRF: "tok", Desk: "/console/care/", Console: "/console/",
			Logout: "/console/logout", LogoutCSRF: "tok"}},
			[]string{`action="/console/logout"`, "Esci", `href="/console/care/"`}},
		{PageCareForm, CareFormPage{CareFrame: CareFrame{CSRF: "tok"}, Action: "/care/tickets/new", FormID: "f1", ErrorKey: "care.err.attachment"},
			[]string{`enctype="multipart/form-data"`, `name="form_id" value="f1"`, "Nulla è stato salvato"}},
		{PageCareForm, CareFormPage{CareFrame: frame, Action: "/console/care/complaints/register", FormID: "f2", Complaint: true, Desk: true},
			[]string{`name="channel"`, `name="received"`}},
		{PageCareFiled, CareFiledPage{Reference: "RC-2026-ABCD1234", Complaint: true, Deadline: row.Deadline},
			[]string{"RC-2026-ABCD1234", "07/12/2026"}},
		{PageCareDesk, CareDeskPage{CareFrame: frame, Complaints: []CareRow{row}, Tickets: []CareRow{{Reference: "TT-1", State: "received", Channel: "web", Link: "/l"}}},
			[]string{"badge-at_risk", "in scadenza", "&lt;script&gt;", "&lt;b&gt;fatto"}},
		{PageCareTicket, CareTicketPage{CareFrame: frame, Row: row, Action: "/a", CanComplain: true, ADRBody: "Corecom",
			Thread:      []CareMessage{{At: at, Author: "requester", Kind: "request", Text: "testo"}},
			Attachments: []CareAttachment{{Name: "scan.pdf", Link: "/att", MediaType: "application/pdf", Size: 10}}},
			[]string{`name="analysis"`, "Corecom", "scan.pdf"}},
		{PageCareTicket, CareTicketPage{CareFrame: frame, Row: CareRow{Reference: "TT-1", State: "received", Channel: "web"}, Action: "/a",
			Moves: []string{"open"}, Categories: []string{"information", "other"}},
			[]string{`value="move"`, "informazioni"}},
		{PageCareIdentity, CareIdentityPage{CareFrame: frame, Search: "/s", Searched: true, Found: true, Action: "/i", State: "active",
			Username: "mario", FiscalNumber: "RSSMRA******501X", Mobile: "*******567"}, []string{`value="send_code"`, "*******567", `value="suspend"`}},
		{PageCareIdentity, CareIdentityPage{CareFrame: frame, Search: "/s", Searched: true, Found: true, Action: "/i", State: "active",
			CodeSent: true}, []string{`name="caller_code"`, `autocomplete="one-time-code"`, "Verifica il codice e sospendi"}},
		{PageCareMessage, CareMessagePage{CareFrame: frame, Title: "Azione non consentita", Text: "Il tuo ruolo non consente", Back: "/b"},
			[]string{"Azione non consentita", `href="/b"`}},
		{PageCareIdentity, CareIdentityPage{CareFrame: frame, Search: "/s", Searched: true, Found: true, Action: "/i", State: "suspended",
			Pending: "reactivate", PendingBy: "op1", Until: at}, []string{`value="approve"`, "riattivazione"}},
		{PageCareIdentity, CareIdentityPage{CareFrame: frame, Search: "/s", Searched: true}, []string{"Nessuna identità"}},
	}
	for _, c := range cases {
		for _, lang := range Languages {
			res, body := render(t, r, c.page, lang, 200, c.data)
			if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: status %d", c.page, res.StatusCode)
			}
			checkCSPClean(t, c.page, body)
			if strings.Contains(body, "ZgotmplZ") || strings.Count(body, "<h1") != 1 {
				t.Errorf("%s/%s: escaper refusal or not one h1", c.page, lang)
			}
			for _, f := range reForm.FindAllStringSubmatch(body, -1) {
				if strings.Contains(f[0], `method="post"`) && !strings.Contains(f[2], `name="csrf_token" value="tok"`) {
					t.Errorf("%s: post form to %s without CSRF", c.page, f[1])
				}
			}
			if lang != "it" {
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: %q missing", c.page, w)
				}
			}
		}
	}
}
