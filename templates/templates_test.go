package templates

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/spid"
)

func newRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New(WithBrand("Esempio ID"), WithLinks(Links{Portal: "https://account.esempio.it"}))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var svc = Service{SPName: "Comune di Esempio", ServiceName: "Servizi anagrafici", Level: spid.L2}

// samples holds representative data for every page (several per page where
// the page has distinct states).
func samples() []struct {
	name, page string
	status     int
	data       any
} {
	type s = struct {
		name, page string
		status     int
		data       any
	}
	postFields := []Field{{"SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4="}, {"RelayState", "abc123"}}
	out := []s{
		{"login", PageLogin, 200, LoginPage{Service: Service{SPName: "Comune di Esempio", Level: spid.L1}, CSRF: "tok", Action: "/login/f1"}},
		{"login-failed", PageLogin, 200, LoginPage{Service: svc, CSRF: "tok", Action: "/login/f1", Username: "mario.rossi", Failed: true, AttemptsLeft: 2}},
		{"otp-sms", PageOTP, 200, OTPPage{Service: svc, CSRF: "tok", Action: "/login/f1/otp", Method: OTPMethodSMS, PhoneLast3: "123", CanResend: true, OtherMethodURL: "/login/f1/methods"}},
		{"otp-totp-failed", PageOTP, 200, &OTPPage{Service: svc, CSRF: "tok", Action: "/login/f1/otp", Method: OTPMethodTOTP, Failed: true, AttemptsLeft: 1}},
		{"consent", PageConsent, 200, ConsentPage{Service: svc, CSRF: "tok", Action: "/login/f1/consent", Performed: spid.L2, Attributes: []Attribute{
			{"spidCode", "EXID0A1B2C3D4E"}, {"name", "Maria Luisa"}, {"familyName", "De Santis"},
			{"fiscalNumber", "TINIT-RSSMRA80A41H501X"}, {"dateOfBirth", "1980-01-31"}, {"email", "maria.desantis@example.it"},
			{"idCard", "cartaIdentita CA12345AB ComuneRoma 2021-03-01 2031-03-01"},
		}}},
		{"consent-noattrs", PageConsent, 200, ConsentPage{Service: Service{SPName: "Comune di Esempio", Level: spid.L1}, CSRF: "tok", Action: "/c", Performed: spid.L1, AllowCancel: true}},
		{"aa-select", PageAASelect, 200, AASelectPage{Service: svc, CSRF: "tok", Action: "/aa", AAs: []AAOption{
			{ID: "https://aa.example.it", Name: "Ordine degli Ingegneri <Roma>", Logo: "/static/spid.svg"},
			{ID: "https://aa2.example.it", Name: "Camera di commercio", Missing: []string{"email", "fiscalNumber"}},
		}}},
		{"aa-confirm", PageAASelect, 200, AASelectPage{Service: svc, CSRF: "tok", Action: "/aa", Confirm: true, AAs: []AAOption{
			{ID: "https://aa.example.it", Name: "Ordine degli Ingegneri", Logo: "/static/spid.svg",
				Attributes: []Attribute{{"fiscalNumber", "TINIT-RSSMRA80A41H501X"}, {"email", "maria.desantis@example.it"}}},
		}}},
		{"transfer", PageTransfer, 200, TransferPage{SPName: "Comune di Esempio", Action: "https://sp.example.it/acs", Fields: postFields}},
		{"transfer-nr25", PageTransfer, 200, TransferPage{SPName: "Comune di Esempio", Action: "https://sp.example.it/acs", Fields: postFields, Code: spid.NrCancelled}},
		{"logout", PageLogout, 200, LogoutPage{Results: []LogoutResult{{"Comune di Esempio", true}, {"Agenzia Esempio", false}}}},
		{"logout-all-ok", PageLogout, 200, LogoutPage{Results: []LogoutResult{{"Comune di Esempio", true}}}},
		{"session", PageSession, 200, SessionPage{CSRF: "tok", Action: "/session/logout", Name: "Maria Luisa De Santis", Level: spid.L1,
			Since: time.Date(2026, 11, 25, 9, 14, 0, 0, time.UTC), Services: []string{"Comune di Esempio", "Agenzia Esempio"}}},
		{"session-none", PageSession, 200, SessionPage{}},
		{"demo-home", PageDemoHome, 200, DemoHomePage{SPName: "Comune di Esempio", CSRF: "tok", Action: "/demo/login"}},
		{"demo-ok", PageDemoResult, 200, DemoResultPage{SPName: "Comune di Esempio", Success: true, Level: spid.L2,
			Attributes: []Attribute{{"name", "Maria Luisa"}, {"fiscalNumber", "TINIT-RSSMRA80A41H501X"}, {"unknownAttr", "x"}},
			NameID:     "_a1b2c3", SessionIndex: "_s1", HomeURL: "/demo/", CSRF: "tok", LogoutAction: "/demo/logout"}},
		{"demo-ko", PageDemoResult, 200, DemoResultPage{SPName: "Comune di Esempio", StatusCode: spid.StatusResponder + " " + spid.StatusAuthnFailed,
			StatusMessage: "ErrorCode nr22", Code: spid.NrConsentDenied, HomeURL: "/demo/"}},
		{"demo-ko-nocode", PageDemoResult, 200, DemoResultPage{SPName: "Comune di Esempio", StatusCode: spid.StatusResponder}},
	}
	for _, a := range []spid.Anomaly{spid.NrCredentialsExhausted, spid.NrLevelUnavailable, spid.NrTimeout, spid.NrSuspendedRevoked, spid.NrIdentityType} {
		out = append(out, s{"anomaly-" + a.String(), PageAnomaly, 200, AnomalyPage{SPName: "Comune di Esempio", Code: a, Level: spid.L2, Action: "https://sp.example.it/acs", Fields: postFields}})
	}
	for _, a := range allAnomalies {
		if !a.ForSP() {
			out = append(out, s{"error-" + a.String(), PageError, a.HTTPStatus(), ErrorPage{Code: a, Reference: "c0ffee42"}})
		} else {
			out = append(out, s{"transfer-" + a.String(), PageTransfer, 200, TransferPage{Action: "https://sp.example.it/acs", Fields: postFields, Code: a}})
		}
	}
	for _, r := range allReasons {
		p := ErrorPage{Reason: r}
		out = append(out, s{"error-" + string(r), PageError, p.Status(), p})
	}
	return out
}

var allAnomalies = []spid.Anomaly{
	spid.NrSystemUnavailable, spid.NrSystemError, spid.NrBindingFormat, spid.NrRedirectSignature,
	spid.NrWrongMethod, spid.NrPOSTSignature, spid.NrNotCompliant, spid.NrVersion, spid.NrIssuer,
	spid.NrID, spid.NrAuthnContext, spid.NrIssueInstant, spid.NrDestination, spid.NrIsPassive,
	spid.NrACS, spid.NrNameIDPolicy, spid.NrAttrConsumingIndex, spid.NrCredentialsExhausted,
	spid.NrLevelUnavailable, spid.NrTimeout, spid.NrConsentDenied, spid.NrSuspendedRevoked,
	spid.NrCancelled, spid.NrIdentityType,
}

var allReasons = []ErrorReason{ReasonBadRequest, ReasonForbidden, ReasonNotFound, ReasonFlowExpired, ReasonTooManyRequests, ReasonTooLarge, ReasonInternal, ReasonUnavailable}

func render(t testing.TB, r *Renderer, page, lang string, status int, data any) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := r.Render(rec, status, page, lang, data); err != nil {
		t.Fatalf("Render(%s, %s): %v", page, lang, err)
	}
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var (
	reH1         = regexp.MustCompile(`<h1[ >]`)
	reTitle      = regexp.MustCompile(`<title>([^<]*)</title>`)
	reForm       = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	reHandler    = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	reStyleAttr  = regexp.MustCompile(`(?i)\sstyle\s*=`)
	reScriptTag  = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	reStyleTag   = regexp.MustCompile(`(?i)<style\b`)
	reUnresolved = regexp.MustCompile(`\{[a-z0-9]+\}`)
)

// checkCSPClean fails on inline scripts, inline styles and event handlers
// (ui.md §11, U004).
func checkCSPClean(t *testing.T, where, s string) {
	t.Helper()
	if m := reHandler.FindString(s); m != "" {
		t.Errorf("%s: event-handler attribute %q", where, m)
	}
	if reStyleAttr.MatchString(s) {
		t.Errorf("%s: style= attribute", where)
	}
	if reStyleTag.MatchString(s) {
		t.Errorf("%s: <style> element", where)
	}
	for _, m := range reScriptTag.FindAllStringSubmatch(s, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("%s: inline script %q", where, m[0])
		}
	}
}

func TestRenderAllPages(t *testing.T) {
	r := newRenderer(t)
	titles := map[string]map[string]string{} // lang → title → sample
	for _, lang := range Languages {
		titles[lang] = map[string]string{}
		for _, s := range samples() {
			t.Run(lang+"/"+s.name, func(t *testing.T) {
				res, body := render(t, r, s.page, lang, s.status, s.data)
				if res.StatusCode != s.status {
					t.Errorf("status %d, want %d", res.StatusCode, s.status)
				}
				if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q (U013)", cc)
				}
				if !strings.Contains(body, `<html lang="`+lang+`">`) {
					t.Errorf("html lang is not %s (U012)", lang)
				}
				if n := len(reH1.FindAllString(body, -1)); n != 1 {
					t.Errorf("%d h1 elements, want exactly 1 (U001)", n)
				}
				if m := reUnresolved.FindString(body); m != "" {
					t.Errorf("unresolved placeholder %s", m)
				}
				if strings.Contains(body, "ZgotmplZ") {
					t.Error("a template value was refused by the escaper (ZgotmplZ)")
				}
				checkCSPClean(t, s.name, body)
				// Language switch on every page.
				other := "en"
				if lang == "en" {
					other = "it"
				}
				if !strings.Contains(body, `href="?lang=`+other+`"`) {
					t.Error("no language switch link")
				}
				// Every form that posts back to us carries the CSRF field;
				// forms to an SP (P06/P07) carry none.
				for _, f := range reForm.FindAllStringSubmatch(body, -1) {
					toSP := strings.HasPrefix(f[1], "https://sp.example.it/")
					hasCSRF := strings.Contains(f[2], `name="csrf_token" value="tok"`)
					if !toSP && !hasCSRF {
						t.Errorf("form to %s without CSRF field", f[1])
					}
					if toSP && strings.Contains(f[2], "csrf_token") {
						t.Errorf("CSRF token sent to the SP in form to %s", f[1])
					}
				}
				if strings.Contains(body, "autocomplete=\"off\"") {
					t.Error(`autocomplete="off" on a page (U002)`)
				}
				m := reTitle.FindStringSubmatch(body)
				if m == nil || !strings.Contains(m[1], "SPID") && s.page != PageDemoHome && s.page != PageDemoResult {
					t.Errorf("title %v", m)
				}
				if m != nil {
					titles[lang][m[1]] += s.name + " "
				}
			})
		}
	}
	// U015: each step has its own title (samples of one page may share).
	for lang, ts := range titles {
		for title, who := range ts {
			pages := map[string]bool{}
			for _, s := range samples() {
				if strings.Contains(" "+who, " "+s.name+" ") {
					pages[s.page] = true
				}
			}
			if len(pages) > 1 && !strings.HasPrefix(who, "error-") && !strings.HasPrefix(who, "transfer") {
				t.Errorf("%s: title %q shared by different pages: %s", lang, title, who)
			}
		}
	}
}

func TestLoginPage(t *testing.T) {
	r := newRenderer(t)
	_, body := render(t, r, PageLogin, "it", 200, LoginPage{Service: svc, CSRF: "tok", Action: "/login/f1", Username: "mario", Failed: true, AttemptsLeft: 2})
	for _, want := range []string{
		`<label for="username">Nome utente</label>`,
		`<input id="username" name="username" type="text" value="mario" autocomplete="username" autocapitalize="none" spellcheck="false" required`,
		`<label for="password">Password</label>`,
		`<input id="password" name="password" type="password" autocomplete="current-password" required`,
		`role="alert" id="error-summary"`,
		`Nome utente o password non corretti.`,
		`Tentativi rimasti: 2.`,
		`<span class="service-name">Comune di Esempio</span>`,
		`Servizi anagrafici`,
		`Livello di sicurezza richiesto: SPID 2`,
		`name="op" value="submit"`,
		`name="op" value="cancel" formnovalidate`,
		`Non hai SPID?`,
		`Hai dimenticato le credenziali?`,
		`src="/static/spid-level2.svg" alt="SPID livello 2"`,
		`<script src="/static/login.js" defer></script>`,
		`<title>Entra con SPID – SPID – Esempio ID</title>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	// The password is never echoed back.
	if strings.Contains(body, `type="password" value=`) {
		t.Error("password field has a value")
	}
	_, en := render(t, r, PageLogin, "en", 200, LoginPage{Service: svc, CSRF: "tok", Action: "/login/f1"})
	for _, want := range []string{"Log in with SPID", "Requested security level: SPID 2", "Username", `lang="en"`} {
		if !strings.Contains(en, want) {
			t.Errorf("English login page lacks %q", want)
		}
	}
	if strings.Contains(en, "error-summary") {
		t.Error("error summary shown without failure")
	}
}

func TestOTPPage(t *testing.T) {
	r := newRenderer(t)
	_, body := render(t, r, PageOTP, "it", 200, OTPPage{Service: svc, CSRF: "tok", Action: "/x", Method: OTPMethodSMS, PhoneLast3: "123", Failed: true})
	for _, want := range []string{`autocomplete="one-time-code"`, `inputmode="numeric"`, `pattern="[0-9]*"`,
		`aria-describedby="otp-error"`, `che termina con 123`, `Il codice non è valido o è scaduto.`} {
		if !strings.Contains(body, want) {
			t.Errorf("OTP page lacks %q (U002)", want)
		}
	}
}

func TestConsentPage(t *testing.T) {
	r := newRenderer(t)
	attrs := []Attribute{{"name", "Maria"}, {"fiscalNumber", "TINIT-RSSMRA80A41H501X"}, {"dateOfBirth", "1980-01-31"}, {"gender", "F"}}
	_, body := render(t, r, PageConsent, "it", 200, ConsentPage{Service: svc, CSRF: "tok", Action: "/c", Performed: spid.L2, Attributes: attrs})
	for _, want := range []string{"Autorizzi l&#39;invio dei dati?", "<dt>Nome</dt><dd>Maria</dd>", "<dt>Codice fiscale</dt><dd>TINIT-RSSMRA80A41H501X</dd>",
		"<dt>Data di nascita</dt><dd>31/01/1980</dd>", "<dt>Sesso</dt><dd>Femmina</dd>",
		"Accesso effettuato con SPID livello 2.", `value="accept">Acconsento`, `value="deny">Non acconsento`} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	// U007: exactly the attributes given.
	if n := strings.Count(body, `<div class="attr">`); n != len(attrs) {
		t.Errorf("%d attributes listed, want %d", n, len(attrs))
	}
	if strings.Contains(body, `value="cancel"`) {
		t.Error("cancel button shown without AllowCancel")
	}
	_, en := render(t, r, PageConsent, "en", 200, ConsentPage{Service: svc, CSRF: "tok", Action: "/c", Performed: spid.L1, AllowCancel: true})
	for _, want := range []string{"Only the confirmation of your identity", `value="cancel"`, "Tax code"} {
		if want == "Tax code" {
			continue // no attributes in this render
		}
		if !strings.Contains(en, want) {
			t.Errorf("English consent page lacks %q", want)
		}
	}
}

func TestTransferPage(t *testing.T) {
	r := newRenderer(t)
	_, body := render(t, r, PageTransfer, "it", 200, TransferPage{SPName: "SP", Action: "https://sp.example.it/acs?x=1&y=2",
		Fields: []Field{{"SAMLResponse", "PHg+PC94Pg=="}, {"RelayState", `"><script>`}}, Code: spid.NrCancelled})
	for _, want := range []string{
		`action="https://sp.example.it/acs?x=1&amp;y=2"`,
		`data-autosubmit="true"`,
		// '+' needs no escaping in a quoted attribute; the browser posts it.
		`<input type="hidden" name="SAMLResponse" value="PHg+PC94Pg==">`,
		`value="&#34;&gt;&lt;script&gt;"`,
		`<script src="/static/autosubmit.js" defer></script>`,
		`<button class="btn btn-primary" type="submit">Continua</button>`,
		`Accesso annullato.`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("transfer page lacks %q", want)
		}
	}
}

// C.13: SP-controlled strings are text, never markup or script URLs.
func TestUntrustedStringsEscaped(t *testing.T) {
	r := newRenderer(t)
	evil := `<img src=x onerror=alert(1)>`
	_, body := render(t, r, PageLogin, "it", 200, LoginPage{Service: Service{SPName: evil, ServiceName: evil, Level: 1}, CSRF: `"><b>`, Action: "/l", Username: evil})
	if strings.Contains(body, "<img src=x") || strings.Contains(body, `"><b>`) {
		t.Fatal("SP-controlled markup rendered unescaped")
	}
	if !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Fatal("escaped SP name missing")
	}
	_, body = render(t, r, PageTransfer, "it", 200, TransferPage{Action: "javascript:alert(1)"})
	if strings.Contains(body, "javascript:") {
		t.Fatal("javascript: URL rendered as form action")
	}
}

func TestAnomalyAndErrorPages(t *testing.T) {
	r := newRenderer(t)
	_, body := render(t, r, PageAnomaly, "it", 200, AnomalyPage{SPName: "SP", Code: spid.NrSuspendedRevoked, Action: "https://sp.example.it/acs", Fields: []Field{{"SAMLResponse", "x"}}})
	for _, want := range []string{"<h1>Credenziali sospese o revocate</h1>", "https://account.esempio.it", "Codice errore: 23", "Torna al servizio"} {
		if !strings.Contains(body, want) {
			t.Errorf("nr23 page lacks %q", want)
		}
	}
	_, body = render(t, r, PageAnomaly, "en", 200, AnomalyPage{Code: spid.NrLevelUnavailable, Level: spid.L2, Action: "https://sp.example.it/acs"})
	if !strings.Contains(body, "(SPID 2)") {
		t.Error("nr20 page does not name the level")
	}
	// P08: status per spec, no SP form, reference shown.
	for _, a := range []spid.Anomaly{spid.NrSystemUnavailable, spid.NrSystemError, spid.NrBindingFormat, spid.NrRedirectSignature, spid.NrWrongMethod, spid.NrPOSTSignature, spid.NrIssuer} {
		rec := httptest.NewRecorder()
		if err := r.RenderError(rec, "it", ErrorPage{Code: a, Reference: "ref-1"}); err != nil {
			t.Fatal(err)
		}
		want := map[spid.Anomaly]int{spid.NrSystemUnavailable: 503, spid.NrSystemError: 500}[a]
		if want == 0 {
			want = 403
		}
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d (U011)", a, rec.Code, want)
		}
		b := rec.Body.String()
		if strings.Contains(b, "<form") {
			t.Errorf("%s: P08 has a form (U011)", a)
		}
		if !strings.Contains(b, "ref-1") || !strings.Contains(b, "<dd>"+a.String()[2:]+"</dd>") {
			t.Errorf("%s: reference or code missing", a)
		}
	}
	if st := (ErrorPage{Reason: ReasonTooManyRequests}).Status(); st != 429 {
		t.Errorf("toomany status %d", st)
	}
	if st := (ErrorPage{Reason: ReasonTooLarge}).Status(); st != 413 {
		t.Errorf("toolarge status %d", st)
	}
	if st := (ErrorPage{}).Status(); st != 500 {
		t.Errorf("empty error status %d", st)
	}
}

func TestSessionAndLogoutPages(t *testing.T) {
	r := newRenderer(t)
	since := time.Date(2026, 7, 1, 8, 30, 0, 0, time.UTC) // 10:30 in Rome (CEST)
	_, body := render(t, r, PageSession, "it", 200, SessionPage{CSRF: "tok", Action: "/logout", Name: "Mario Rossi", Level: 1, Since: since, Services: []string{"A", "B"}})
	for _, want := range []string{"Sei collegato come Mario Rossi (SPID livello 1) dal 01/07/2026 10:30.", "<li>A</li>", "Esci da tutti i servizi"} {
		if !strings.Contains(body, want) {
			t.Errorf("session page lacks %q", want)
		}
	}
	_, body = render(t, r, PageLogout, "en", 200, LogoutPage{Results: []LogoutResult{{"A", true}, {"B", false}}})
	for _, want := range []string{"some services did not confirm", "logout not confirmed", "logged out"} {
		if !strings.Contains(body, want) {
			t.Errorf("logout page lacks %q", want)
		}
	}
}

func TestRenderRejectsWrongInput(t *testing.T) {
	r := newRenderer(t)
	rec := httptest.NewRecorder()
	if err := r.Render(rec, 200, "nope", "it", nil); err == nil {
		t.Error("unknown page accepted")
	}
	if err := r.Render(rec, 200, PageLogin, "it", ConsentPage{}); err == nil {
		t.Error("wrong data type accepted")
	}
	if err := r.Render(rec, 200, PageLogin, "it", nil); err == nil {
		t.Error("nil data accepted")
	}
	if err := r.Render(rec, 200, PageLogin, "it", (*LoginPage)(nil)); err == nil {
		t.Error("nil pointer accepted")
	}
	if rec.Body.Len() != 0 {
		t.Error("output written for a failed render")
	}
	// Unsupported language falls back to Italian.
	_, body := render(t, r, PageError, "de", 500, ErrorPage{Reason: ReasonInternal})
	if !strings.Contains(body, `<html lang="it">`) {
		t.Error("unsupported language did not fall back to Italian")
	}
}

func TestCatalogsComplete(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	it, en := cats["it"], cats["en"]
	placeholders := regexp.MustCompile(`\{[a-z0-9]+\}`)
	for k, v := range it {
		ev, ok := en[k]
		if !ok {
			t.Errorf("key %q missing in en", k)
			continue
		}
		if strings.TrimSpace(v) == "" || strings.TrimSpace(ev) == "" {
			t.Errorf("key %q empty", k)
		}
		a, b := placeholders.FindAllString(v, -1), placeholders.FindAllString(ev, -1)
		sort.Strings(a)
		sort.Strings(b)
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Errorf("key %q: placeholders differ: it %v, en %v", k, a, b)
		}
	}
	for k := range en {
		if _, ok := it[k]; !ok {
			t.Errorf("key %q missing in it", k)
		}
	}
	// Every anomaly has a title, text and todo; every reason too.
	for _, a := range allAnomalies {
		for _, part := range []string{"title", "text", "todo"} {
			if _, ok := it["anomaly."+a.String()+"."+part]; !ok {
				t.Errorf("no %s for %s", part, a)
			}
		}
	}
	for _, r := range allReasons {
		for _, part := range []string{"title", "text", "todo"} {
			if _, ok := it["error."+string(r)+"."+part]; !ok {
				t.Errorf("no %s for reason %s", part, r)
			}
		}
	}
	// nr23 text is fixed by the rules (ui.md §7).
	if it["anomaly.nr23.title"] != "Credenziali sospese o revocate" {
		t.Error("nr23 title differs from the RT-err text")
	}
	// The 23 SPID attributes have labels.
	for _, a := range []string{"spidCode", "name", "familyName", "placeOfBirth", "countyOfBirth", "dateOfBirth", "gender",
		"companyName", "registeredOffice", "fiscalNumber", "ivaCode", "idCard", "expirationDate", "mobilePhone", "email",
		"address", "digitalAddress", "domicileStreetAddress", "domicilePostalCode", "domicileMunicipality",
		"domicileProvince", "domicileNation", "companyFiscalNumber"} {
		if _, ok := it["attr."+a]; !ok {
			t.Errorf("no label for attribute %s", a)
		}
	}
	if err := checkTemplateKeys(cats); err != nil {
		t.Error(err)
	}
	// A template key missing from a catalogue is caught at start-up.
	delete(cats["en"], "login.title")
	if err := checkTemplateKeys(cats); err == nil || !strings.Contains(err.Error(), "login.title") {
		t.Errorf("missing key not reported: %v", err)
	}
}

// U004 on the sources: templates and static files contain no inline script,
// style or handler, and no third-party URL except the spid.gov.it link.
func TestSourcesCSPClean(t *testing.T) {
	check := func(fsys fs.FS, glob string) {
		files, err := fs.Glob(fsys, glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("glob %s: %v", glob, err)
		}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			checkCSPClean(t, f, s)
			for _, m := range regexp.MustCompile(`(?:src|href)="(https?:)?//[^"]*"`).FindAllString(s, -1) {
				if !strings.Contains(m, "https://www.spid.gov.it") {
					t.Errorf("%s: third-party reference %s", f, m)
				}
			}
			if strings.Contains(s, "target=") && !strings.Contains(s, `rel="noopener noreferrer"`) {
				t.Errorf("%s: target without rel=noopener", f)
			}
		}
	}
	check(htmlFS, "html/*.html")
	check(staticFS, "static/*.svg")
	css, _ := staticFS.ReadFile("static/idp.css")
	if regexp.MustCompile(`@import|url\(\s*["']?(https?:)?//`).Match(css) {
		t.Error("CSS loads a remote resource")
	}
}

func TestLang(t *testing.T) {
	cases := []struct {
		url, cookie, accept, want string
	}{
		{"/", "", "", "it"},
		{"/?lang=en", "", "", "en"},
		{"/?lang=de", "", "", "it"},
		{"/?lang=it", "en", "en", "it"},
		{"/", "en", "", "en"},
		{"/", "xx", "en-GB,en;q=0.9", "en"},
		{"/", "", "en-US,en;q=0.9,it;q=0.8", "en"},
		{"/", "", "fr-FR,fr;q=0.9,it;q=0.5,en;q=0.4", "it"},
		{"/", "", "de, fr", "it"},
		{"/", "", "en;q=0.3, it;q=0.3", "en"}, // equal q: first listed wins
		{"/", "", "it;q=0, en;q=0.1", "en"},
		{"/", "", "en;q=abc", "it"},
		{"/", "", "EN", "en"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.url, nil)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: LangCookie, Value: c.cookie})
		}
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if got := Lang(r); got != c.want {
			t.Errorf("Lang(%s, cookie %q, %q) = %s, want %s", c.url, c.cookie, c.accept, got, c.want)
		}
	}
	rec := httptest.NewRecorder()
	if l := SetLang(rec, httptest.NewRequest("GET", "/x?lang=en", nil)); l != "en" {
		t.Fatalf("SetLang = %s", l)
	}
	ck := rec.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != LangCookie || ck[0].Value != "en" || ck[0].Path != "/" {
		t.Fatalf("lang cookie %+v", ck)
	}
	rec = httptest.NewRecorder()
	SetLang(rec, httptest.NewRequest("GET", "/x", nil))
	if len(rec.Result().Cookies()) != 0 {
		t.Error("cookie set without an explicit choice")
	}
}

// An AA's page shows its name in the page's language when its metadata
// has one (organization_name#en), else the untagged name.
func TestAANameInPageLanguage(t *testing.T) {
	r := newRenderer(t)
	svc := Service{SPName: "Comune di Esempio", Level: spid.L2}
	opts := []AAOption{
		{ID: "https://aa.example.it", Name: "Autorità dimostrativa", Names: map[string]string{"en": "Demo Authority"}},
		{ID: "https://aa2.example.it", Name: "Camera di commercio"},
	}
	for _, confirm := range []bool{false, true} {
		for lang, want := range map[string]string{"it": "Autorità dimostrativa", "en": "Demo Authority"} {
			_, body := render(t, r, PageAASelect, lang, 200, AASelectPage{Service: svc, CSRF: "tok", Action: "/aa", Confirm: confirm, AAs: opts})
			if !strings.Contains(body, `<span class="aa-name">`+want+`</span>`) ||
				!strings.Contains(body, `<span class="aa-name">Camera di commercio</span>`) {
				t.Errorf("confirm=%v lang=%s: want %q and the untagged name:\n%s", confirm, lang, want, body)
			}
		}
	}
}

func TestDisplayName(t *testing.T) {
	cases := []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"it": "Comune", "en": "Town"}, "Comune"},
		{map[string]string{"en": "Town", "de": "Stadt"}, "Town"},
		{map[string]string{"fr": "Ville", "de": "Stadt"}, "Stadt"},
		{map[string]string{"it": "", "en": "Town"}, "Town"},
		{nil, ""},
	}
	for _, c := range cases {
		if got := DisplayName(c.in); got != c.want {
			t.Errorf("DisplayName(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStatic(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("", Static()))
	defer srv.Close()
	cases := []struct {
		path   string
		status int
		ctype  string
	}{
		{"/static/idp.css", 200, "text/css; charset=utf-8"},
		{"/static/autosubmit.js", 200, "text/javascript; charset=utf-8"},
		{"/static/login.js", 200, "text/javascript; charset=utf-8"},
		{"/static/spid.svg", 200, "image/svg+xml"},
		{"/static/spid-level2.svg", 200, "image/svg+xml"},
		{"/static/", 404, ""},
		{"/static/nope.css", 404, ""},
		{"/static/../templates.go", 404, ""},
		{"/other", 404, ""},
	}
	for _, c := range cases {
		res, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.path, res.StatusCode, c.status)
		}
		if c.ctype != "" && res.Header.Get("Content-Type") != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.path, res.Header.Get("Content-Type"), c.ctype)
		}
		if c.status == 200 && res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
	res, err := http.Post(srv.URL+"/static/idp.css", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to static: %d", res.StatusCode)
	}
	// Every file a template references exists.
	refs := map[string]bool{}
	files, _ := templateFiles()
	for _, f := range files {
		b, _ := htmlFS.ReadFile(f)
		for _, m := range regexp.MustCompile(`/static/([a-z0-9\-.]+\.(?:svg|css|js))`).FindAllStringSubmatch(string(b), -1) {
			refs[m[1]] = true
		}
	}
	for _, n := range []string{"spid-level1.svg", "spid-level2.svg", "spid-level3.svg", "icon-check.svg", "icon-warning.svg"} {
		refs[n] = true // built with template expressions
	}
	for f := range refs {
		if _, err := staticFS.ReadFile("static/" + f); err != nil {
			t.Errorf("template references missing static file %s", f)
		}
	}
}

func BenchmarkRenderLogin(b *testing.B) {
	r := newRenderer(b)
	data := LoginPage{Service: svc, CSRF: "tok", Action: "/login/f1"}
	for b.Loop() {
		rec := httptest.NewRecorder()
		if err := r.Render(rec, 200, PageLogin, "it", data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{"", "it", "en-GB,en;q=0.9", "fr;q=0.5, en;q=0.4", "en;q=1e400", "*", ";;;,,,q=", "en;q=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := fromAcceptLanguage(h)
		if got != "" && !supported(got) {
			t.Fatalf("fromAcceptLanguage(%q) = %q", h, got)
		}
	})
}

// TestWithSharesTemplatesNotOptions: a Renderer made With other options
// shows its own brand and links from the same parsed templates, and the
// one it came from keeps its own.
func TestWithSharesTemplatesNotOptions(t *testing.T) {
	r := newRenderer(t)
	other := r.With(WithBrand("Altro Ente"), WithBrandEN("Other Body"), WithLinks(Links{Enrol: "/altro/enrol"}))
	data := LoginPage{Service: svc, CSRF: "tok", Action: "/login/f1"}
	_, it := render(t, other, PageLogin, "it", 200, data)
	_, en := render(t, other, PageLogin, "en", 200, data)
	_, orig := render(t, r, PageLogin, "it", 200, data)
	for _, c := range []struct {
		page, body, want string
		present          bool
	}{
		{"other it", it, "<title>Entra con SPID – SPID – Altro Ente</title>", true},
		{"other it", it, `href="/altro/enrol"`, true},
		{"other it", it, "Esempio ID", false},
		{"other en", en, "Other Body", true},
		{"original", orig, "<title>Entra con SPID – SPID – Esempio ID</title>", true},
		{"original", orig, "Altro Ente", false},
		{"original", orig, `href="/altro/enrol"`, false},
	} {
		if strings.Contains(c.body, c.want) != c.present {
			t.Errorf("%s page: contains %q = %v, want %v", c.page, c.want, !c.present, c.present)
		}
	}
	if other.sets["it"][PageLogin] != r.sets["it"][PageLogin] {
		t.Error("With parsed the templates again instead of sharing them")
	}
}
