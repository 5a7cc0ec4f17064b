package care_test

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/templates"
)

// fakeAuth signs operators in by a test cookie.
type fakeAuth map[string]storage.Operator

func (f fakeAuth) Operator(r *http.Request) (storage.Operator, bool) {
	c, err := r.Cookie("test-op")
	if err != nil {
		return storage.Operator{}, false
	}
	op, ok := f[c.Value]
	return op, ok
}

type site struct {
	t  *testing.T
	c  *http.Client
	ts *httptest.Server
}

func newWeb(t *testing.T, e *env) *site {
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	h := &care.Handler{Desk: e.desk, Pages: pages, Eph: memory.New(), CSRFKey: bytes.Repeat([]byte{1}, 32),
		Origin: "http://" + ts.Listener.Addr().String(), MaxPerHour: 5, MaxBody: 1 << 20,
		Auth: fakeAuth{"agent": {ID: agent.ID, Username: "agent", Roles: agent.Roles},
			"shop": {ID: shop.ID, Username: "shop", Roles: shop.Roles}}}
	mux := http.NewServeMux()
	h.Register(mux)
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	return &site{t: t, c: &http.Client{Jar: jar}, ts: ts}
}

func (w *site) as(op string) {
	u, _ := url.Parse(w.ts.URL)
	w.c.Jar.SetCookies(u, []*http.Cookie{{Name: "test-op", Value: op, Path: "/"}})
}

func (w *site) get(path string) (int, string) {
	res, err := w.c.Get(w.ts.URL + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var linkRE = regexp.MustCompile(`http://[^\s]+/care/confirm\?[^\s]+`)

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)

func hidden(body string) map[string]string {
	out := map[string]string{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// postMultipart posts fields and files (name → content).
func (w *site) postMultipart(path string, fields map[string]string, files map[string][]byte) (int, string, *url.URL) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for name, content := range files {
		fw, _ := mw.CreateFormFile("attachments", name)
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", w.ts.URL+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Request.URL
}

func (w *site) postForm(path string, v url.Values) (int, string) {
	res, err := w.c.PostForm(w.ts.URL+path, v)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func formFields(body string) map[string]string {
	f := hidden(body)
	f["email"], f["subject"], f["message"], f["product"] = "mario.rossi@example.it", "Accesso", "Non riesco ad accedere", "SPID"
	return f
}

func TestWebTicketToAnswer(t *testing.T) {
	e := newEnv(t)
	w := newWeb(t, e)
	_, body := w.get(care.PathTicketForm)
	f := formFields(body)
	status, page, at := w.postMultipart(care.PathTicketForm, f, map[string][]byte{"schermata.pdf": pdf})
	if status != 200 || at.Path != care.PathFiled || !strings.Contains(page, "TT-2026-") {
		t.Fatalf("filed: %d %s\n%s", status, at, page)
	}
	ref := regexp.MustCompile(`TT-2026-[0-9A-Z]{8}`).FindString(page)
	// E110: the ticket waits for the e-mail link; the desk does not see it.
	m, err := e.outbox.Last("mario.rossi@example.it")
	if err != nil || !strings.Contains(m.Text, ref) {
		t.Fatalf("confirmation e-mail: %v", err)
	}
	w.as("agent")
	if _, desk := w.get(care.PathDesk); strings.Contains(desk, ref) {
		t.Fatal("unconfirmed ticket in the queue")
	}
	confirm := linkRE.FindString(m.Text)
	if status, body := w.get(strings.TrimPrefix(confirm, w.ts.URL)); status != 200 || !strings.Contains(body, ref) {
		t.Fatalf("confirm: %d", status)
	}
	if status, _ := w.get(strings.TrimPrefix(confirm, w.ts.URL) + "x"); status != http.StatusNotFound {
		t.Errorf("forged link: %d", status)
	}
	if m, _ = e.outbox.Last("mario.rossi@example.it"); !strings.Contains(m.Subject, ref) || strings.Contains(m.Text, "/care/confirm") {
		t.Errorf("acknowledgement after confirming: %+v", m.Message)
	}
	// Replay of the same form: refused, nothing stored.
	status, _, _ = w.postMultipart(care.PathTicketForm, f, nil)
	if status != http.StatusForbidden {
		t.Errorf("replay: %d", status)
	}
	// Forged token.
	_, body = w.get(care.PathTicketForm)
	g := formFields(body)
	g["csrf_token"] = strings.Repeat("A", len(g["csrf_token"]))
	if status, _, _ = w.postMultipart(care.PathTicketForm, g, nil); status != http.StatusForbidden {
		t.Errorf("forged: %d", status)
	}
	// Dangerous attachment: refused, the typed text is given back.
	_, body = w.get(care.PathTicketForm)
	status, page, _ = w.postMultipart(care.PathTicketForm, formFields(body), map[string][]byte{"x.exe": []byte("MZ")})
	if status != http.StatusBadRequest || !strings.Contains(page, "Non riesco ad accedere") {
		t.Errorf("exe: %d", status)
	}
	// Oversized body.
	_, body = w.get(care.PathTicketForm)
	status, _, _ = w.postMultipart(care.PathTicketForm, formFields(body), map[string][]byte{"big.pdf": append(pdf, make([]byte, 2<<20)...)})
	if status != http.StatusBadRequest {
		t.Errorf("oversized: %d", status)
	}
	if l, _ := e.store.ListTickets(t.Context(), storage.TicketFilter{}); len(l) != 1 {
		t.Errorf("%d tickets stored, want 1", len(l))
	}
	if n := e.blobs(t); n != 1 {
		t.Errorf("%d blobs, want 1", n)
	}

	// The desk: a shop agent is refused; the care agent moves and answers.
	w.as("shop")
	if status, _ := w.get(care.PathDesk); status != http.StatusForbidden {
		t.Errorf("shop agent at the desk: %d", status)
	}
	w.as("agent")
	_, desk := w.get(care.PathDesk)
	link := regexp.MustCompile(`href="(/console/care/tickets/[^"]+)">` + ref).FindStringSubmatch(desk)
	if link == nil {
		t.Fatalf("ticket not in the queue:\n%s", desk)
	}
	_, tp := w.get(link[1])
	tok := hidden(tp)["csrf_token"]
	for _, step := range []url.Values{
		{"op": {"move"}, "state": {"open"}, "category": {"identity_use"}},
		{"op": {"move"}, "state": {"solution_ready"}},
		{"op": {"answer"}, "answer": {"Credenziali sbloccate."}},
	} {
		step.Set("csrf_token", tok)
		if status, body := w.postForm(link[1], step); status != 200 || !strings.Contains(body, "Fatto") {
			t.Fatalf("%v: %d\n%s", step, status, body)
		}
	}
	m, _ = e.outbox.Last("mario.rossi@example.it")
	if !strings.Contains(m.Text, "Credenziali sbloccate.") {
		t.Errorf("answer not mailed: %q", m.Text)
	}
	// Without the token: refused.
	if status, _ := w.postForm(link[1], url.Values{"op": {"move"}, "state": {"in_progress"}}); status != http.StatusForbidden {
		t.Errorf("desk post without token: %d", status)
	}
	// The attachment downloads, never inline.
	att := regexp.MustCompile(`href="(/console/care/tickets/[^"]+/attachments/[0-9a-f]+)"`).FindStringSubmatch(tp)
	if att == nil {
		t.Fatal("no attachment link")
	}
	res, err := w.c.Get(w.ts.URL + att[1])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, pdf) || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("attachment: %q %q", res.Header.Get("Content-Disposition"), got)
	}
}

// An unopened link expires after 24 hours; the ticket never enters the queue.
func TestWebConfirmExpires(t *testing.T) {
	e := newEnv(t)
	w := newWeb(t, e)
	_, body := w.get(care.PathComplaintForm)
	if status, _, _ := w.postMultipart(care.PathComplaintForm, formFields(body), nil); status != 200 {
		t.Fatalf("complaint: %d", status)
	}
	m, _ := e.outbox.Last("mario.rossi@example.it")
	e.clock.Advance(25 * time.Hour)
	if status, _ := w.get(strings.TrimPrefix(linkRE.FindString(m.Text), w.ts.URL)); status != http.StatusGone {
		t.Errorf("expired link: %d", status)
	}
	l, _ := e.store.ListTickets(t.Context(), storage.TicketFilter{})
	if len(l) != 1 || l[0].State != care.StateEmailPending || !l[0].DeadlineAt.IsZero() {
		t.Errorf("after an expired link: %+v", l)
	}
}

func TestWebThrottle(t *testing.T) {
	e := newEnv(t)
	w := newWeb(t, e)
	var last int
	for range 7 {
		_, body := w.get(care.PathTicketForm)
		last, _, _ = w.postMultipart(care.PathTicketForm, formFields(body), nil)
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("7th form in an hour: %d", last)
	}
}

func TestWebRegisterLetterAndDeadline(t *testing.T) {
	e := newEnv(t)
	w := newWeb(t, e)
	w.as("agent")
	_, body := w.get(care.PathDeskRegister)
	f := formFields(body)
	f["channel"], f["received"] = "letter", "2026-11-23"
	status, page, _ := w.postMultipart(care.PathDeskRegister, f, map[string][]byte{"lettera.pdf": pdf})
	if status != 200 || !strings.Contains(page, "RC-2026-") || !strings.Contains(page, "07/12/2026") {
		t.Fatalf("register: %d\n%s", status, page)
	}
	_, desk := w.get(care.PathDesk)
	if !strings.Contains(desk, "badge-on_time") {
		t.Errorf("no on-time badge")
	}
	e.clock.Advance(12 * 24 * time.Hour)
	if _, desk = w.get(care.PathDesk); !strings.Contains(desk, "badge-at_risk") {
		t.Errorf("no at-risk badge after 12 days")
	}
	e.clock.Advance(3 * 24 * time.Hour)
	if _, desk = w.get(care.PathDesk); !strings.Contains(desk, "badge-late") {
		t.Errorf("no late badge after 15 days")
	}
	// A shop agent cannot register letters.
	w.as("shop")
	if status, _ := w.get(care.PathDeskRegister); status != http.StatusForbidden {
		t.Errorf("shop agent: %d", status)
	}
}

// TestWebReactivationForm: the landing page's reactivation link opens the
// assistance form with the subject the desk looks for already written, in
// the page's language; the plain form and the complaint form stay blank.
func TestWebReactivationForm(t *testing.T) {
	w := newWeb(t, newEnv(t))
	_, home := w.get(care.PathHome)
	if !strings.Contains(home, `href="/care/tickets/new?topic=reactivation"`) {
		t.Fatalf("the landing page has no reactivation link:\n%s", home)
	}
	for _, c := range []struct{ path, want string }{
		{care.PathTicketForm + "?topic=reactivation", `value="Riattivazione"`},
		{care.PathTicketForm + "?topic=reactivation&lang=en", `value="Reactivation"`},
		{care.PathTicketForm, `name="subject" type="text" maxlength="200" required value=""`},
		{care.PathComplaintForm + "?topic=reactivation", `name="subject" type="text" maxlength="200" required value=""`},
	} {
		if status, body := w.get(c.path); status != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, want %s in the form", c.path, status, c.want)
		}
	}
}
