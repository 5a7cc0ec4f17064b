package videocall

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// stubAuth stands for the console's session (tested in enrolment/console):
// the operator named by the X-Test-Operator header.
type stubAuth struct{ ops map[string]storage.Operator }

func (s stubAuth) Operator(r *http.Request) (storage.Operator, bool) {
	op, ok := s.ops[r.Header.Get("X-Test-Operator")]
	return op, ok
}

func (s stubAuth) LogoutToken(r *http.Request) string {
	return "console-token-" + r.Header.Get("X-Test-Operator")
}

func newServer(t *testing.T, f *fixture) *httptest.Server {
	t.Helper()
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := &Handler{Service: f.svc, Pages: pages, CSRFKey: bytes.Repeat([]byte{9}, 32), Origin: "http://example.test",
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	mux := http.NewServeMux()
	if err := h.RegisterApplicant(mux); err != nil {
		t.Fatal(err)
	}
	auth := stubAuth{ops: map[string]storage.Operator{}}
	for _, id := range []string{"op-v1", "op-v2", "op-sup"} {
		op, err := f.store.GetOperator(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		auth.ops[id] = op
	}
	auth.ops["op-care"] = storage.Operator{ID: "op-care", Username: "care", Roles: []string{"care_agent"}, Status: storage.OperatorActive}
	if err := h.RegisterDesk(mux, auth); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

type resp struct {
	status int
	loc    string
	body   string
}

var jar = map[string]*cookiejar.Jar{}

func call(t *testing.T, method, u, op string, form url.Values) resp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if op != "" {
		req.Header.Set("X-Test-Operator", op)
	}
	j := jar[op]
	if j == nil {
		j, _ = cookiejar.New(nil)
		jar[op] = j
	}
	res, err := (&http.Client{Jar: j, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header.Get("Location"), string(b)}
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := tokenRE.FindAllStringSubmatch(body, -1)
	if m == nil {
		t.Fatalf("no CSRF token:\n%s", body)
	}
	return m[len(m)-1][1]
}

func TestDeskPages(t *testing.T) {
	f := newFixture(t)
	ts := newServer(t, f)
	// Publish through the form.
	page := call(t, "GET", ts.URL+PathSlots, "op-v1", nil)
	if page.status != 200 || !strings.Contains(page.body, `name="date"`) {
		t.Fatalf("slots page: %d\n%s", page.status, page.body)
	}
	tok := csrfOf(t, page.body)
	form := url.Values{"csrf_token": {tok}, "date": {"2026-12-02"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"20"}, "weeks": {"2"}}
	r := call(t, "POST", ts.URL+PathSlots, "op-v1", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.loc, "notice=published") || !strings.Contains(r.loc, "n=6") {
		t.Fatalf("publish: %d %s\n%s", r.status, r.loc, r.body)
	}
	shown := call(t, "GET", ts.URL+r.loc, "op-v1", nil)
	for _, want := range []string{"Pubblicati 6 appuntamenti", "mercoledì 02/12/2026", "09:00–09:20", "Libero"} {
		if !strings.Contains(shown.body, want) {
			t.Errorf("slots page lacks %q", want)
		}
	}
	// Errors in words, the form kept.
	for name, tc := range map[string]struct {
		v      url.Values
		status int
		want   string
	}{
		"holiday":    {url.Values{"date": {"2026-12-08"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"20"}, "weeks": {"1"}}, 400, "festivo"},
		"overlap":    {url.Values{"date": {"2026-12-02"}, "from": {"09:30"}, "to": {"10:30"}, "length": {"20"}, "weeks": {"1"}}, 409, "si sovrappongono"},
		"bad date":   {url.Values{"date": {"02/12/2026"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"20"}, "weeks": {"1"}}, 400, "Controlla i dati"},
		"bad length": {url.Values{"date": {"2026-12-03"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"x"}, "weeks": {"1"}}, 400, "Controlla i dati"},
	} {
		tc.v.Set("csrf_token", tok)
		r := call(t, "POST", ts.URL+PathSlots, "op-v1", tc.v)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) || !strings.Contains(r.body, `value="`+tc.v.Get("date")+`"`) {
			t.Errorf("%s: %d\n%s", name, r.status, r.body)
		}
	}
	// No token, a token of another operator, another site: refused.
	for name, tc := range map[string]struct{ op, tok string }{"no token": {"op-v1", ""}, "v2's token": {"op-v1", csrfOf(t, call(t, "GET", ts.URL+PathSlots, "op-v2", nil).body)}} {
		r := call(t, "POST", ts.URL+PathSlots, tc.op, url.Values{"csrf_token": {tc.tok}, "date": {"2026-12-03"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"20"}, "weeks": {"1"}})
		if r.status != http.StatusForbidden {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	// Roles: a care agent has no video pages; signed out goes to the login.
	if r := call(t, "GET", ts.URL+PathAgenda, "op-care", nil); r.status != http.StatusForbidden {
		t.Errorf("care agent's agenda: %d", r.status)
	}
	if r := call(t, "GET", ts.URL+PathAgenda, "", nil); r.status != http.StatusSeeOther || r.loc != "/console/login" {
		t.Errorf("signed out: %d %s", r.status, r.loc)
	}
	// The supervisor sees everything and publishes for the video operator
	// chosen in the form.
	sp := call(t, "GET", ts.URL+PathSlots, "op-sup", nil)
	if sp.status != 200 || !strings.Contains(sp.body, `name="date"`) || !strings.Contains(sp.body, "Valeria Video") ||
		!strings.Contains(sp.body, `<option value="op-v2">Vito Video (op-v2)</option>`) || strings.Contains(sp.body, `<option value="op-sup"`) {
		t.Errorf("supervisor's page: %d\n%s", sp.status, sp.body)
	}
	r = call(t, "POST", ts.URL+PathSlots, "op-sup", url.Values{"csrf_token": {csrfOf(t, sp.body)}, "operator": {"op-v2"},
		"date": {"2026-12-03"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"30"}, "weeks": {"1"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.loc, "for=op-v2") {
		t.Fatalf("supervisor publishes for v2: %d %s\n%s", r.status, r.loc, r.body)
	}
	if shown := call(t, "GET", ts.URL+r.loc, "op-sup", nil); !strings.Contains(shown.body, "Pubblicati 2 appuntamenti nell&#39;agenda di Vito Video (op-v2).") {
		t.Errorf("supervisor's notice:\n%s", shown.body)
	}
	if mine, _ := f.svc.Slots(t.Context(), v2, f.now, false); len(mine) != 2 || mine[0].CreatedBy != "op-sup" {
		t.Errorf("v2's slots after the supervisor published: %+v", mine)
	}
	r = call(t, "POST", ts.URL+PathSlots, "op-sup", url.Values{"csrf_token": {csrfOf(t, sp.body)}, "operator": {"op-care"},
		"date": {"2026-12-04"}, "from": {"09:00"}, "to": {"10:00"}, "length": {"30"}, "weeks": {"1"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "non è un operatore video attivo") {
		t.Errorf("supervisor publishes for a care agent: %d\n%s", r.status, r.body)
	}

	// A booking shows in the agenda with the start form.
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	slots, _ := f.svc.Slots(t.Context(), v1, f.now, false)
	if _, _, err := f.svc.Book(t.Context(), "req-1", slots[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	ag := call(t, "GET", ts.URL+PathAgenda+"?lang=en", "op-v1", nil)
	for _, want := range []string{"Upcoming", "Wednesday 02/12/2026", "Giulia Verdi", "AB12C-D34EF", `action="/console/find"`,
		`name="cf_suffix" value="501K"`, `name="code" value="AB12CD34EF"`, `value="console-token-op-v1"`} {
		if want == "Upcoming" {
			want = "Coming days"
		}
		if !strings.Contains(ag.body, want) {
			t.Errorf("agenda lacks %q", want)
		}
	}
	if sup := call(t, "GET", ts.URL+PathAgenda, "op-sup", nil); !strings.Contains(sup.body, "Giulia Verdi") || strings.Contains(sup.body, `action="/console/find"`) {
		t.Errorf("the supervisor's agenda: names the applicant %v, offers to start %v", strings.Contains(sup.body, "Giulia Verdi"), strings.Contains(sup.body, `action="/console/find"`))
	}
	// v2 cannot cancel v1's appointment; v1 can.
	r = call(t, "POST", ts.URL+PathSlots+"/"+slots[0].ID+"/cancel", "op-v2", url.Values{"csrf_token": {csrfOf(t, call(t, "GET", ts.URL+PathSlots, "op-v2", nil).body)}})
	if r.status != http.StatusForbidden {
		t.Errorf("v2 cancels v1's: %d", r.status)
	}
	r = call(t, "POST", ts.URL+PathSlots+"/"+slots[0].ID+"/cancel", "op-v1", url.Values{"csrf_token": {tok}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.loc, "cancelled_booked") {
		t.Errorf("v1 cancels: %d %s", r.status, r.loc)
	}
}

func TestBookingPage(t *testing.T) {
	f := newFixture(t)
	ts := newServer(t, f)
	f.request(t, "req-1", "AB12CD34EF", enrolment.PathVideo, enrolment.StateAwaitingRecognition)
	f.request(t, "req-shop", "PQ12RS34TV", enrolment.PathShop, enrolment.StateAwaitingRecognition)
	slots := f.publish(t, v1, rome(2026, 12, 2, 0, 0), 9*h, 10*h, m20, 1).Slots
	link, _ := f.svc.Link("req-1")
	tok := strings.TrimPrefix(link, "https://idp.example.it/enrol/video?t=")
	pageURL := ts.URL + PathBooking + "?t=" + url.QueryEscape(tok)

	p := call(t, "GET", pageURL, "", nil)
	if p.status != 200 || strings.Count(p.body, `name="slot"`) != 3 || !strings.Contains(p.body, "mercoledì 02/12/2026") ||
		!strings.Contains(p.body, "AB12C-D34EF") {
		t.Fatalf("booking page: %d\n%s", p.status, p.body)
	}
	// The language switch keeps the token.
	if !strings.Contains(p.body, `href="/enrol/video?t=`+url.QueryEscape(tok)+`&amp;lang=en"`) {
		t.Errorf("language switch loses the token")
	}
	form := url.Values{"t": {tok}, "csrf_token": {csrfOf(t, p.body)}, "op": {"book"}, "slot": {slots[0].ID}}
	r := call(t, "POST", ts.URL+PathBooking, "", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.loc, "done=booked") {
		t.Fatalf("book: %d %s\n%s", r.status, r.loc, r.body)
	}
	p = call(t, "GET", ts.URL+r.loc, "", nil)
	for _, want := range []string{"Appuntamento prenotato", "02/12/2026 09:00", "Cambia appuntamento", "Annulla appuntamento"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("booked page lacks %q", want)
		}
	}
	if r := call(t, "POST", ts.URL+PathBooking, "", form); r.status != http.StatusSeeOther || f.mails.count() != 1 {
		t.Errorf("posted twice: %d, %d e-mails", r.status, f.mails.count())
	}
	// Change: the list with the current one replaced.
	ch := call(t, "GET", pageURL+"&change=1", "", nil)
	if !strings.Contains(ch.body, `name="replaces" value="`+slots[0].ID+`"`) {
		t.Fatalf("change page:\n%s", ch.body)
	}
	r = call(t, "POST", ts.URL+PathBooking, "", url.Values{"t": {tok}, "csrf_token": {csrfOf(t, ch.body)}, "op": {"book"},
		"slot": {slots[2].ID}, "replaces": {slots[0].ID}})
	if !strings.Contains(r.loc, "done=changed") {
		t.Errorf("change: %s", r.loc)
	}
	// Nothing chosen; a bad token; a forged form.
	if r := call(t, "POST", ts.URL+PathBooking, "", url.Values{"t": {tok}, "csrf_token": {csrfOf(t, ch.body)}, "op": {"book"}}); !strings.Contains(r.loc, "err=choose") {
		t.Errorf("no slot: %s", r.loc)
	}
	if r := call(t, "GET", ts.URL+PathBooking+"?t=nonsense", "", nil); r.status != http.StatusNotFound || !strings.Contains(r.body, "Link non valido") && !strings.Contains(r.body, "scaduto") {
		t.Errorf("bad link: %d\n%s", r.status, r.body)
	}
	if r := call(t, "POST", ts.URL+PathBooking, "", url.Values{"t": {tok}, "csrf_token": {"forged"}, "op": {"cancel"}, "slot": {slots[2].ID}}); !strings.Contains(r.loc, "err=form") {
		t.Errorf("forged: %s", r.loc)
	}
	// Cancel.
	p = call(t, "GET", pageURL, "", nil)
	r = call(t, "POST", ts.URL+PathBooking, "", url.Values{"t": {tok}, "csrf_token": {csrfOf(t, p.body)}, "op": {"cancel"}, "slot": {slots[2].ID}})
	if !strings.Contains(r.loc, "done=cancelled") {
		t.Errorf("cancel: %s", r.loc)
	}
	// A request on another path: no booking, a way to its status.
	shop, _ := f.svc.Link("req-shop")
	sp := call(t, "GET", ts.URL+PathBooking+"?t="+url.QueryEscape(strings.TrimPrefix(shop, "https://idp.example.it/enrol/video?t=")), "", nil)
	if sp.status != 200 || strings.Contains(sp.body, `name="slot"`) || !strings.Contains(sp.body, `href="/enrol/status"`) {
		t.Errorf("shop request's page: %d\n%s", sp.status, sp.body)
	}
}
