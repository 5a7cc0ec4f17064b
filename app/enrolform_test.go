package app

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
)

// startData opens a request on path and returns its data page.
func startData(t *testing.T, base string, br *browser, path, lang string) page {
	t.Helper()
	data := br.submit(br.get(base+"/enrol/?lang="+lang), "/enrol/", url.Values{"identity_type": {"personal"}, "path": {path}})
	if data.url.Path != "/enrol/data" {
		t.Fatalf("start: %s %d\n%s", data.url, data.status, data.body)
	}
	return data
}

var testScans = func() map[string][2]string {
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 64)
	return map[string][2]string{"document_front": {"front.png", png}, "document_back": {"back.png", png}, "taxcode_front": {"ts.png", png}}
}()

// TestEnrolFormKeepsScans: the scans sent with a form that has an error
// are kept with the draft; the page says so, and the next attempt goes on
// without sending them again.
func TestEnrolFormKeepsScans(t *testing.T) {
	a, base := enrolApp(t, nil)
	p := newApplicant(t, 1)
	br := newBrowser(t)
	data := startData(t, base, br, enrolment.PathVideo, "it")
	f := p.form()
	f.Set("family_name", "")
	bad := br.postMultipart(data, "/enrol/data", f, testScans)
	body := html.UnescapeString(bad.body)
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(body, "Compila il campo «Cognome».") {
		t.Fatalf("missing surname: %d\n%s", bad.status, bad.body)
	}
	if n := strings.Count(body, "Già caricato: PNG"); n != 3 {
		t.Errorf("the page shows %d kept scans, want 3\n%s", n, body)
	}
	e, r := currentDraft(t, a, "", false)
	for _, kind := range []string{"document_front", "document_back", "taxcode_front"} {
		if !r.HasEvidence(kind) {
			t.Errorf("%s not kept after the error", kind)
		}
	}
	next := br.postMultipart(bad, "/enrol/data", p.form(), nil)
	if next.url.Path != "/enrol/email" {
		t.Fatalf("second attempt without files: %s %d\n%s", next.url, next.status, next.body)
	}
	if _, r, _ := a.Enrolment.Get(context.Background(), e.ID); len(r.Evidence) != 3 {
		t.Errorf("evidence after the second attempt: %d items", len(r.Evidence))
	}
}

// TestEnrolFormPlaceByNameAndIssuer: the place of birth typed by name is
// resolved to its cadastral code and province (the fields posted empty,
// as without the page's script); an old birth in a municipality merged
// since resolves to the code it had then; the issuer is free text and
// becomes the idCard token.
func TestEnrolFormPlaceByNameAndIssuer(t *testing.T) {
	a, base := enrolApp(t, nil)
	for _, c := range []struct {
		n                  int
		birth              time.Time
		typed, code, prov  string
		issuer, issuerCode string
	}{
		{2, time.Date(1990, 5, 12, 0, 0, 0, 0, time.UTC), "milano", "F205", "MI", "Comune di Milano", "ComuneMilano"},
		// Figline Valdarno (D583) merged into Figline e Incisa Valdarno in 2014.
		{3, time.Date(1975, 5, 2, 0, 0, 0, 0, time.UTC), "Figline Valdarno", "D583", "FI", "Ministero dell'Interno", "MinisteroInterno"},
		{4, time.Date(1985, 3, 4, 0, 0, 0, 0, time.UTC), "Francia", "Z110", "EE", "Questura di Roma", "QuesturaRoma"},
	} {
		cf, err := fiscalcode.Compute(fiscalcode.Person{Name: "Giulia", FamilyName: "Bianchi", DateOfBirth: c.birth, Gender: "F", PlaceOfBirth: c.code})
		if err != nil {
			t.Fatal(err)
		}
		p := newApplicant(t, c.n)
		p.cf, p.birth = cf, c.birth.Format(time.DateOnly)
		f := p.form()
		f.Del("place_of_birth")
		f.Del("county_of_birth")
		f.Set("place_name", c.typed)
		f.Set("doc_issuer", c.issuer)
		br := newBrowser(t)
		next := br.postMultipart(startData(t, base, br, enrolment.PathShop, "it"), "/enrol/data", f, nil)
		if next.url.Path != "/enrol/email" {
			t.Fatalf("%s: %s %d\n%s", c.typed, next.url, next.status, next.body)
		}
		_, r := currentDraft(t, a, cf, true)
		if r.Applicant.PlaceOfBirth != c.code || r.Applicant.CountyOfBirth != c.prov {
			t.Errorf("%s: stored %s (%s), want %s (%s)", c.typed, r.Applicant.PlaceOfBirth, r.Applicant.CountyOfBirth, c.code, c.prov)
		}
		if r.Document.Issuer != c.issuerCode || r.Document.IssuerName != c.issuer {
			t.Errorf("issuer %q: stored %q / %q", c.issuer, r.Document.Issuer, r.Document.IssuerName)
		}
	}

	// The suggestions, filtered by the birth date.
	res, err := http.Get(base + "/enrol/places?q=figline&born=1975-05-02&lang=it")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Places []struct{ Label, Code, Province string }
	}
	err = json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var old, merged bool
	for _, p := range got.Places {
		old = old || (p.Code == "D583" && p.Label == "Figline Valdarno (FI)")
		merged = merged || p.Code == "M321"
	}
	if !old || merged {
		t.Errorf("suggestions for a 1975 birth: %+v", got.Places)
	}
}

// TestEnrolFormInUseAtFirstStep: a fiscal code that has SPID, one with a
// request in progress, and the e-mail or mobile of another person's
// identity are refused at the data step, before any e-mail or SMS, with
// what to do.
func TestEnrolFormInUseAtFirstStep(t *testing.T) {
	a, base := enrolApp(t, nil)
	demoCF := "RSSMRA80A01H501U" // the demo citizen (demo/citizen.go)
	mario := applicant{name: "Mario", surname: "Rossi", cf: demoCF, birth: "1980-01-01", place: "H501", placeName: "Roma", county: "RM",
		gender: "M", email: "mario.nuovo@example.org", mobile: "+393339990001"}
	open := newApplicant(t, 6)
	capture(t, a, base, newBrowser(t), open, enrolment.PathShop)
	sent := outboxCount(t, a)

	other := newApplicant(t, 8)
	otherDemoMail := other
	otherDemoMail.email = "mario.rossi@example.org"
	otherDemoMobile := other
	otherDemoMobile.mobile = "+393331234567"
	again := open
	again.email, again.mobile = "giulia.altra@example.org", "+393330000009"
	for _, c := range []struct {
		name, lang string
		p          applicant
		want, link string
	}{
		{"has SPID", "it", mario, "Hai già un'identità SPID con questo codice fiscale.", `href="/recover"`},
		{"request in progress", "en", again, "You already have a request in progress with this fiscal code (code " + openCode(t, a, open.cf) + ")", `href="/enrol/status"`},
		{"e-mail of another identity", "it", otherDemoMail, "Questo indirizzo e-mail è già usato dall'identità SPID di un'altra persona", `href="/recover"`},
		{"mobile of another identity", "en", otherDemoMobile, "This mobile number is already used by another person's SPID identity", `href="/recover"`},
	} {
		br := newBrowser(t)
		res := br.postMultipart(startData(t, base, br, enrolment.PathShop, c.lang), "/enrol/data", c.p.form(), nil)
		body := html.UnescapeString(res.body)
		if res.status != http.StatusConflict || !strings.Contains(body, c.want) || !strings.Contains(res.body, c.link) {
			t.Errorf("%s: %d, want 409 with %q and %s\n%s", c.name, res.status, c.want, c.link, res.body)
		}
	}
	if n := outboxCount(t, a); n != sent {
		t.Errorf("%d messages sent for refused requests", n-sent)
	}
}

func openCode(t *testing.T, a *App, cf string) string {
	t.Helper()
	e, _ := currentDraft(t, a, cf, true)
	return enrolment.FormatCode(e.Code)
}

// outboxCount is how many e-mails and SMS messages were sent so far.
func outboxCount(t *testing.T, a *App) int {
	t.Helper()
	n := 0
	for _, dir := range []string{a.Config.Mail.OutboxDir, SMSOutboxDir(a.Config)} {
		es, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

// TestEnrolStatusAndCorrection: no dead ends. The done page of the shop
// path lists the partner shops (searchable by province); the status page
// finds the request by code and the last four characters of the fiscal
// code (and nothing with a wrong pair), with its state, deadline, next
// step and shops; after a rejection the e-mail's link reopens the same
// request in another browser, the data still valid are kept, and the
// corrected request goes back to the verifiers' queue.
func TestEnrolStatusAndCorrection(t *testing.T) {
	a, base := enrolApp(t, nil)
	ctx := context.Background()
	p := newApplicant(t, 2)
	applicant := newBrowser(t)
	done := capture(t, a, base, applicant, p, enrolment.PathShop)
	body := html.UnescapeString(done.body)
	for _, want := range []string{"Tabaccheria Esquilino (demo)", "Edicola Porta Genova (demo)", "lun–sab 8:00–20:00", `href="/enrol/status"`} {
		if !strings.Contains(body, want) {
			t.Errorf("done page lacks %q", want)
		}
	}
	// The demo shops' opening hours in English on the English page.
	if en := html.UnescapeString(applicant.get(done.url.String() + "?lang=en").body); !strings.Contains(en, "Mon–Sat 8:00–20:00") || strings.Contains(en, "lun–") {
		t.Errorf("English done page, opening hours not in English:\n%s", en)
	}
	if strings.Contains(body, "Sportello SPID Roma Centro") {
		t.Error("the shop path lists a counter")
	}
	e, _ := requestByCode(t, a, done)
	code := enrolment.FormatCode(e.Code)

	br := newBrowser(t)
	mi := br.get(base + "/enrol/done?province=MI")
	if mi.status != http.StatusNotFound {
		t.Errorf("another browser's done page: %d", mi.status)
	}
	form := br.get(base + "/enrol/status?lang=it")
	wrong := br.submit(form, "/enrol/status", url.Values{"code": {code}, "cf_suffix": {"ZZZZ"}})
	if wrong.status != http.StatusNotFound || !strings.Contains(html.UnescapeString(wrong.body), "Non troviamo una richiesta con questo codice") {
		t.Errorf("wrong suffix: %d\n%s", wrong.status, wrong.body)
	}
	st := br.submit(form, "/enrol/status", url.Values{"code": {strings.ToLower(code)}, "cf_suffix": {strings.ToLower(p.cf[12:])}, "province": {"MI"}})
	body = html.UnescapeString(st.body)
	for _, want := range []string{"ATTESA RICONOSCIMENTO", "Vai in uno dei punti vendita", "Edicola Porta Genova (demo)", "Scadenza"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q\n%s", want, st.body)
		}
	}
	if strings.Contains(body, "Tabaccheria Esquilino") {
		t.Error("the province filter kept a shop in RM")
	}
	if !auditHas(t, a, "enrolment.status_lookup", e.ID, "") {
		t.Error("status lookups are not audited")
	}

	// Recognition at the shop, then a rejection with a correctable reason.
	for _, kind := range []string{"document_front", "document_back", "adhesion_form_signed"} {
		if _, err := a.Enrolment.Upload(ctx, e.ID, kind, "image/png", "demo-op-tabaccheria",
			strings.NewReader("\x89PNG\r\n\x1a\n"+strings.Repeat("\x00", 64)), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Enrolment.Recognise(ctx, e.ID, "demo-op-tabaccheria", map[string]bool{"document_checked": true}); err != nil {
		t.Fatal(err)
	}
	if err := a.Enrolment.Reject(ctx, e.ID, "demo-op-verificatore", []enrolment.Reason{{Code: "data_mismatch", Field: "address"}}); err != nil {
		t.Fatal(err)
	}
	m := lastMail(t, a, p.email)
	link := correctLinkRE.FindString(m)
	if link == "" {
		t.Fatalf("no correction link in the rejection e-mail:\n%s", m)
	}
	st = br.submit(form, "/enrol/status", url.Values{"code": {code}, "cf_suffix": {p.cf[12:]}})
	if body := html.UnescapeString(st.body); !strings.Contains(body, "RESPINTA") || !strings.Contains(body, "Correggi la richiesta con il link") {
		t.Errorf("status after rejection:\n%s", st.body)
	}

	// The link, in a third browser: the same request, its data kept.
	citizen := newBrowser(t)
	open := citizen.submit(citizen.get(link), "/enrol/correct", nil)
	if open.url.Path != "/enrol/data" || !strings.Contains(open.body, `value="`+p.cf+`"`) {
		t.Fatalf("correction link: %s %d\n%s", open.url, open.status, open.body)
	}
	f := p.form()
	f.Set("address", "Via Po 12 10123 Torino TO")
	next := citizen.postMultipart(open, "/enrol/data", f, nil)
	if next.url.Path != "/enrol/submit" {
		t.Fatalf("after the corrected data: %s %d\n%s", next.url, next.status, next.body)
	}
	final := citizen.submit(next, "/enrol/submit", url.Values{"op": {"confirm"}, "otp": {lastSMSCode(t, a, p.mobile)}})
	got, r, err := a.Enrolment.Get(ctx, e.ID)
	if err != nil || got.State != string(enrolment.StateAwaitingProcessing) || r.Applicant.Address != "Via Po 12 10123 Torino TO" {
		t.Fatalf("after resubmission: %s %v %+v\n%s", got.State, err, r.Applicant, final.body)
	}
	if others, _ := a.Backends.Store.ListEnrolmentsByFiscalNumber(ctx, p.cf); len(others) != 1 {
		t.Errorf("%d requests for the fiscal code: the correction must reuse the request", len(others))
	}
	// The link is spent once the request is back in the queue.
	again := newBrowser(t)
	if res := again.submit(again.get(link), "/enrol/correct", nil); res.status != http.StatusGone {
		t.Errorf("the correction link after resubmission: %d", res.status)
	}
}

var correctLinkRE = regexp.MustCompile(`https?://[^\s]*/enrol/correct\?token=[A-Za-z0-9_\-]+`)
