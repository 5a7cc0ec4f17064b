package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

func newHandler(t *testing.T, keys ...[]byte) *Handler {
	t.Helper()
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Service: &enrolment.Service{}, Pages: pages, CookieKeys: keys, CNSBase: "https://idp.example:8443"}
	if err := h.Init(); err != nil {
		t.Fatal(err)
	}
	return h
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestInitRefusesShortKeys(t *testing.T) {
	pages, _ := templates.New()
	h := &Handler{Service: &enrolment.Service{}, Pages: pages, CookieKeys: [][]byte{[]byte("short")}}
	if err := h.Init(); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestStateCookie(t *testing.T) {
	h := newHandler(t, key(1))
	rec := httptest.NewRecorder()
	if err := h.writeState(rec, state{Request: "req-1", Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || strings.Contains(c.Value, "req-1") {
		t.Fatalf("cookie: %+v", c)
	}
	read := func(h *Handler, v string) state {
		r := httptest.NewRequest("GET", "/enrol/done", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: v})
		return h.readState(r)
	}
	if st := read(h, c.Value); st.Request != "req-1" || st.Nonce != "n1" {
		t.Fatalf("round trip: %+v", st)
	}
	tampered := []byte(c.Value)
	tampered[len(tampered)/2] ^= 1
	for name, v := range map[string]string{"tampered": string(tampered), "empty": "", "plain": "req-1|n1"} {
		if st := read(h, v); st != (state{}) {
			t.Errorf("%s cookie accepted: %+v", name, st)
		}
	}
	if st := read(newHandler(t, key(2)), c.Value); st != (state{}) {
		t.Errorf("cookie of another key accepted: %+v", st)
	}
	// Rotation: the new key first, the old one still decodes.
	if st := read(newHandler(t, key(2), key(1)), c.Value); st.Request != "req-1" {
		t.Errorf("previous key not honoured: %+v", st)
	}
}

func TestCNSLinkCapability(t *testing.T) {
	h := newHandler(t, key(1))
	link, err := h.cnsLink("req-9", "nonce")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "https://idp.example:8443/enrol/cns?t=") || strings.Contains(link, "req-9") {
		t.Fatalf("link: %s", link)
	}
	u, _ := url.Parse(link)
	tok := u.Query().Get("t")
	id, session, ok := h.cnsRequest(tok)
	if !ok || id != "req-9" || session != hashHex("nonce") {
		t.Fatalf("decoded: %q %q %v", id, session, ok)
	}
	if _, _, ok := h.cnsRequest(tok[:len(tok)-2] + "AA"); ok {
		t.Error("tampered token accepted")
	}
	if _, _, ok := newHandler(t, key(3)).cnsRequest(tok); ok {
		t.Error("token of another key accepted")
	}
}

func submitted() (storage.Enrolment, *enrolment.Request) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return storage.Enrolment{Code: "ABCDE12345", IdentityType: "personal", Path: "signature"}, &enrolment.Request{
		Applicant: &enrolment.Applicant{Name: "Mario", FamilyName: "Rossi", FiscalNumber: "RSSMRA80A01H501U",
			DateOfBirth: "1980-01-01", PlaceOfBirth: "H501", Gender: "M", Email: "m@example.org", MobilePhone: "+393331234567"},
		Document:        &enrolment.Document{Type: "cartaIdentita", Number: "CA1", Issuer: "ComuneRoma", IssueDate: "2021-01-01", ExpiryDate: "2031-01-01"},
		Consents:        []enrolment.Consent{{Kind: "privacy", Version: "p1", At: at}, {Kind: "terms", Version: "t1", At: at}},
		RequestSignedAt: at,
	}
}

func TestIssuedFormIsAFunctionOfTheRequest(t *testing.T) {
	e, r := submitted()
	a, issued, err := IssuedForm(e, r)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := IssuedForm(e, r)
	if !bytes.Equal(a, b) || !bytes.Equal(issued.Form, a) || !issued.IssuedAt.Equal(r.RequestSignedAt) || issued.FiscalCode != "RSSMRA80A01H501U" {
		t.Fatal("the form is not rebuilt identically")
	}
	r.Applicant.Email = "other@example.org"
	if c, _, _ := IssuedForm(e, r); bytes.Equal(a, c) {
		t.Error("a changed request gives the same form")
	}
	r.RequestSignedAt = time.Time{}
	if _, _, err := IssuedForm(e, r); err == nil {
		t.Error("form of an unsubmitted request")
	}
}

func TestCFFindings(t *testing.T) {
	ok := map[string]string{"fiscal_number": "RSSMRA80A01H501U", "name": "Mario", "family_name": "Rossi",
		"date_of_birth": "1980-01-01", "gender": "M", "place_of_birth": "H501"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	var badErr fiscalcode.Error
	if !errors.As(fiscalcode.Validate("RSSMRA80A01H501A"), &badErr) {
		t.Fatal("test code not refused")
	}
	for _, tc := range []struct {
		name string
		lang string
		v    map[string]string
		want string
	}{
		{"valid and matching", "it", ok, ""},
		{"empty", "it", with("fiscal_number", ""), ""},
		{"check character (it)", "it", with("fiscal_number", "RSSMRA80A01H501A"), badErr.Message("it")},
		{"check character (en)", "en", with("fiscal_number", "rssmra80a01h501a"), badErr.Message("en")},
		{"TINIT- prefix accepted", "it", with("fiscal_number", "TINIT-RSSMRA80A01H501U"), ""},
		{"surname", "it", with("family_name", "Bianchi"), "Il cognome non corrisponde al codice fiscale."},
		{"birth date", "en", with("date_of_birth", "1980-01-02"), "The date of birth does not match the fiscal code."},
	} {
		msgs, _ := cfFindings(tc.lang, tc.v)
		got := strings.Join(msgs, " | ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckCFEndpoint(t *testing.T) {
	h := newHandler(t, key(1))
	rec := httptest.NewRecorder()
	h.Routes().ServeHTTP(rec, httptest.NewRequest("GET", PathCheckCF+"?lang=en&fiscal_number=RSSMRA80A01H501", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "16") || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.Routes().ServeHTTP(rec, httptest.NewRequest("GET", PathCheckCF+"?fiscal_number="+strings.Repeat("A", 300), nil))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("overlong: %d", rec.Code)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"mario@example.org": "m…@example.org", "+393331234567": "…4567", "12": "12"} {
		if got := mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCFFindings(f *testing.F) {
	for _, s := range []string{"RSSMRA80A01H501U", "rssmra80a01h501a", "TINIT-", "", "ÀÀÀ", "RSSMRA80A41H501Y"} {
		f.Add(s, "Mario", "1980-01-01")
	}
	f.Fuzz(func(t *testing.T, cf, name, birth string) {
		_, _ = cfFindings("en", map[string]string{"fiscal_number": cf, "name": name, "family_name": name,
			"date_of_birth": birth, "gender": "M", "place_of_birth": "H501"})
	})
}

func TestLocalise(t *testing.T) {
	for _, tc := range []struct{ lang, in, want string }{
		{"it", "idCard: the document has expired", "Documento: il documento è scaduto"},
		{"it", "familyName: required", "Cognome: obbligatorio"},
		{"it", "password: something new", "Password: something new"},
		{"en", "idCard: the document has expired", "idCard: the document has expired"},
		{"it", "no colon here", "no colon here"},
	} {
		if got := localise(tc.lang, tc.in); got != tc.want {
			t.Errorf("localise(%s, %q) = %q, want %q", tc.lang, tc.in, got, tc.want)
		}
	}
}

func TestCNSHandlerHeadersAndStatic(t *testing.T) {
	h := newHandler(t, key(1))
	rec := httptest.NewRecorder()
	h.CNSHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/static/idp.css", nil))
	if rec.Code != 200 || rec.Header().Get("X-Frame-Options") != "DENY" || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") ||
		rec.Header().Get("Strict-Transport-Security") != "max-age=63072000; includeSubDomains" {
		t.Fatalf("static on the CNS listener: %d %v", rec.Code, rec.Header())
	}
	// No certificate (plain HTTP here) and no valid link: a page, not a crash.
	rec = httptest.NewRecorder()
	h.CNSHandler().ServeHTTP(rec, httptest.NewRequest("GET", PathCNS+"?t=forged", nil))
	if rec.Code != http.StatusGone {
		t.Fatalf("forged link: %d", rec.Code)
	}
	if got := BodyLimits(0)[PathData]; got < 30<<20 {
		t.Errorf("data page limit %d", got)
	}
}
