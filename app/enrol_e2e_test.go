package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"github.com/spid-idp/spid-idp/config"
	"html"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
	"github.com/spid-idp/spid-idp/internal/testpki"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// applicant is a person unknown to the demo data (no duplicate).
type applicant struct {
	name, surname, cf, birth, place, placeName, county, gender, email, mobile string
}

func newApplicant(t *testing.T, n int) applicant {
	birth := time.Date(1990, 5, 10+n, 0, 0, 0, 0, time.UTC)
	cf, err := fiscalcode.Compute(fiscalcode.Person{Name: "Giulia", FamilyName: "Bianchi", DateOfBirth: birth,
		Gender: "F", PlaceOfBirth: "F205"})
	if err != nil {
		t.Fatal(err)
	}
	return applicant{name: "Giulia", surname: "Bianchi", cf: cf, birth: birth.Format(time.DateOnly), place: "F205",
		placeName: "Milano", county: "MI", gender: "F", email: "giulia" + string(rune('a'+n)) + "@example.org",
		mobile: "+39333765432" + string(rune('0'+n))}
}

func (p applicant) form() url.Values {
	return url.Values{"name": {p.name}, "family_name": {p.surname}, "fiscal_number": {p.cf},
		"date_of_birth": {p.birth}, "place_of_birth": {p.place}, "county_of_birth": {p.county}, "gender": {p.gender},
		"email": {p.email}, "mobile_phone": {p.mobile}, "doc_type": {"cartaIdentita"}, "doc_number": {"CA12345AB"},
		"doc_issuer": {"ComuneMilano"}, "doc_issue_date": {time.Now().AddDate(-2, 0, 0).Format(time.DateOnly)},
		"doc_expiry_date": {time.Now().AddDate(5, 0, 0).Format(time.DateOnly)}}
}

// testCA issues certificates for signers and cards; each names the CA's
// OCSP responder and CRL, served on 127.0.0.1 (testpki).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pki  *testpki.CA
}

func newTestCA(t *testing.T, name string) *testCA {
	ca := testpki.New(t, testpki.Options{Name: name})
	return &testCA{cert: ca.Cert, key: ca.Key, pki: ca}
}

func (ca *testCA) leaf(t *testing.T, cf string, ku x509.KeyUsage, eku ...x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	return ca.pki.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "BIANCHI GIULIA", SerialNumber: "TINIT-" + cf, Country: []string{"IT"}},
		NotBefore: time.Now().AddDate(0, -1, 0), NotAfter: time.Now().AddDate(2, 0, 0), KeyUsage: ku, ExtKeyUsage: eku})
}

func (ca *testCA) pemFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func signP7M(t *testing.T, content []byte, cert *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, []*x509.Certificate{parent}, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	b, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	verifyLinkRE   = regexp.MustCompile(`https?://[^\s]*/enrol/verify-email\?token=[A-Za-z0-9_\-]+`)
	activateLinkRE = regexp.MustCompile(`https?://[^\s]*/activate\?token=[A-Za-z0-9_\-]+`)
	smsCodeRE      = regexp.MustCompile(`\b(\d{6})\b`)
	csrfRE         = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	codeRE         = regexp.MustCompile(`id="request-code">([^<]+)<`)
)

func lastMail(t *testing.T, a *App, to string) string {
	t.Helper()
	m, err := mail.Outbox{Dir: a.Config.Mail.OutboxDir}.Last(to)
	if err != nil {
		t.Fatalf("mail to %s: %v", to, err)
	}
	return m.Text
}

func lastSMSCode(t *testing.T, a *App, to string) string {
	t.Helper()
	m, err := sms.Outbox{Dir: SMSOutboxDir(a.Config)}.Last(to)
	if err != nil {
		t.Fatalf("SMS to %s: %v", to, err)
	}
	c := smsCodeRE.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("no code in SMS %q", m.Text)
	}
	return c[1]
}

// postMultipart posts fields and files (name → filename, content) with
// the CSRF token of p.
func (b *browser) postMultipart(p page, target string, fields url.Values, files map[string][2]string) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		_ = mw.WriteField("csrf_token", html.UnescapeString(m[1]))
	}
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	for field, f := range files {
		w, _ := mw.CreateFormFile(field, f[0])
		_, _ = io.WriteString(w, f[1])
	}
	mw.Close()
	u, _ := p.url.Parse(target)
	req, _ := http.NewRequest("POST", u.String(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// enrolApp starts the demo IdP with the enrolment pages mounted; setup
// may change the configuration first (trust lists, CNS listener).
func enrolApp(t *testing.T, setup func(cfg *config.Config)) (*App, string) {
	a, ts, _ := startApp(t, appOpts{Configure: setup})
	return a, ts.URL
}

// capture runs the common steps up to the submitted request and returns
// the done page.
func capture(t *testing.T, a *App, base string, br *browser, p applicant, path string) page {
	t.Helper()
	start := br.get(base + "/enrol/")
	if start.status != 200 || !strings.Contains(start.body, `value="`+path+`"`) {
		t.Fatalf("start page: %d\n%s", start.status, start.body)
	}
	data := br.submit(start, "/enrol/", url.Values{"identity_type": {"personal"}, "path": {path}})
	if data.url.Path != "/enrol/data" {
		t.Fatalf("after start: %s %d\n%s", data.url, data.status, data.body)
	}
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 64)
	email := br.postMultipart(data, "/enrol/data", p.form(), map[string][2]string{"document_front": {"front.png", png},
		"document_back": {"back.png", png}, "taxcode_front": {"ts.png", png}})
	if email.url.Path != "/enrol/email" {
		t.Fatalf("after data: %s %d\n%s", email.url, email.status, email.body)
	}
	link := verifyLinkRE.FindString(lastMail(t, a, p.email))
	if link == "" {
		t.Fatal("no verification link in the e-mail")
	}
	confirm := br.get(link)
	mobile := br.submit(confirm, "/enrol/verify-email", nil)
	if mobile.url.Path != "/enrol/mobile" {
		t.Fatalf("after e-mail confirmation: %s %d\n%s", mobile.url, mobile.status, mobile.body)
	}
	consents := br.submit(mobile, "/enrol/mobile", url.Values{"op": {"confirm"}, "otp": {lastSMSCode(t, a, p.mobile)}})
	if consents.url.Path != "/enrol/consents" {
		t.Fatalf("after mobile: %s %d\n%s", consents.url, consents.status, consents.body)
	}
	agreed := url.Values{"privacy": {"1"}, "terms": {"1"}, "declaration": {"1"}}
	if path == enrolment.PathVideo {
		agreed.Set("video_recording", "1") // the recording's consent, asked on the video path only
	}
	submit := br.submit(consents, "/enrol/consents", agreed)
	if submit.url.Path != "/enrol/submit" {
		t.Fatalf("after consents: %s %d\n%s", submit.url, submit.status, submit.body)
	}
	done := br.submit(submit, "/enrol/submit", url.Values{"op": {"confirm"}, "otp": {lastSMSCode(t, a, p.mobile)}})
	if done.url.Path != "/enrol/done" || codeRE.FindStringSubmatch(done.body) == nil {
		t.Fatalf("after submit: %s %d\n%s", done.url, done.status, done.body)
	}
	return done
}

func requestByCode(t *testing.T, a *App, done page) (storage.Enrolment, *enrolment.Request) {
	t.Helper()
	code := strings.ReplaceAll(codeRE.FindStringSubmatch(done.body)[1], "-", "")
	e, err := a.Backends.Store.GetEnrolmentByCode(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	e, r, err := a.Enrolment.Get(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e, r
}

// auditHas reports whether an audit record of action with outcome exists
// for target.
func auditHas(t *testing.T, a *App, action, target, errCode string) bool {
	t.Helper()
	evs, err := a.Backends.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action && ev.Target == target && ev.Outcome == "failure" && strings.Contains(ev.Details["error"], errCode) {
			return true
		}
	}
	return false
}

// approveAndActivate approves the request in the back office, activates
// the identity through the e-mailed link, and logs in at the demo SP.
func approveAndActivate(t *testing.T, a *App, base string, p applicant, e storage.Enrolment) {
	t.Helper()
	ctx := context.Background()
	op := storage.Operator{ID: "op-sup", Username: "sup", Name: "Sup", Roles: []string{string(enrolment.RoleSupervisor)},
		PasswordHash: "$argon2id$x", Status: storage.OperatorActive}
	if err := a.Backends.Store.CreateOperator(ctx, op); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	check := map[string]bool{}
	for _, k := range enrolment.VerifierChecklist(e.Path, e.IdentityType) {
		check[k] = true
	}
	if _, err := a.Enrolment.Approve(ctx, e.ID, op.ID, check); err != nil {
		t.Fatal(err)
	}
	link := activateLinkRE.FindString(lastMail(t, a, p.email))
	if link == "" {
		t.Fatal("no activation link in the e-mail")
	}
	br := newBrowser(t)
	act := br.get(link)
	if act.status != 200 {
		t.Fatalf("activation page: %d\n%s", act.status, act.body)
	}
	// The SMS button comes first, alone; the fields come with the code.
	if strings.Contains(act.body, `name="password"`) || !strings.Contains(act.body, `class="btn btn-primary" type="submit" name="op" value="resend"`) {
		t.Fatalf("activation page does not start with the SMS button:\n%s", act.body)
	}
	sent := br.submit(act, "/activate", url.Values{"op": {"resend"}})
	if !strings.Contains(sent.body, `name="repeat"`) {
		t.Fatalf("no repeat-password field:\n%s", sent.body)
	}
	code := lastSMSCode(t, a, p.mobile)
	// A weak password first: the policy's message in Italian, the link and
	// the SMS code still usable, the code kept in the form.
	weak := br.submit(sent, "/activate", url.Values{"op": {"confirm"}, "otp": {code},
		"username": {"giulia.b"}, "password": {"short"}, "repeat": {"short"}})
	if weak.status != http.StatusUnprocessableEntity || !strings.Contains(weak.body, "La password deve avere da 8 a 64 caratteri") ||
		!strings.Contains(weak.body, `value="`+code+`"`) {
		t.Fatalf("weak password: %d\n%s", weak.status, weak.body)
	}
	const pw = "Tr0mbone!Viola#27"
	mismatch := br.submit(weak, "/activate", url.Values{"op": {"confirm"}, "otp": {code},
		"username": {"giulia.b"}, "password": {pw}, "repeat": {pw + "?"}})
	if mismatch.status != http.StatusUnprocessableEntity || !strings.Contains(mismatch.body, "non coincidono") {
		t.Fatalf("mismatch: %d\n%s", mismatch.status, mismatch.body)
	}
	ok := br.submit(mismatch, "/activate", url.Values{"op": {"confirm"}, "otp": {code},
		"username": {"giulia.b"}, "password": {pw}, "repeat": {pw}})
	if ok.status != 200 || !strings.Contains(ok.body, "giulia.b") || !strings.Contains(ok.body, "/demo-sp/") || !strings.Contains(ok.body, `href="/account/"`) {
		t.Fatalf("activation with the same code: %d\n%s", ok.status, ok.body)
	}
	again := br.get(link)
	if again.status != http.StatusGone {
		t.Fatalf("used activation link: %d", again.status)
	}

	// The new citizen logs in at the demo SP.
	sp := newBrowser(t)
	home := sp.get(base + "/demo-sp/")
	login := sp.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
	consent := sp.submit(login, "/login", url.Values{"username": {"giulia.b"}, "password": {pw}, "op": {"submit"}})
	transfer := sp.submit(consent, "/consent", url.Values{"op": {"accept"}})
	result := sp.submit(transfer, "/demo-sp/acs", nil)
	if !strings.Contains(result.body, "TINIT-"+p.cf) || !strings.Contains(result.body, "Giulia") {
		t.Fatalf("demo SP result:\n%s", result.body)
	}
}

func TestEnrolSignaturePathEndToEnd(t *testing.T) {
	root := newTestCA(t, "Test Qualified CA")
	stranger := newTestCA(t, "Unlisted CA")
	a, base := enrolApp(t, func(cfg *config.Config) {
		cfg.Enrolment.SignatureTrustFile = root.pemFile(t)
		cfg.Enrolment.RequireQC = false
	})
	p := newApplicant(t, 1)
	br := newBrowser(t)
	done := capture(t, a, base, br, p, enrolment.PathSignature)
	e, _ := requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingRecognition) {
		t.Fatalf("state after submit: %s", e.State)
	}
	formPage := br.get(base + "/enrol/form.pdf")
	if formPage.status != 200 || !strings.HasPrefix(formPage.body, "%PDF") {
		t.Fatalf("form: %d", formPage.status)
	}
	form := []byte(formPage.body)
	cert, key := root.leaf(t, p.cf, x509.KeyUsageContentCommitment)

	bad := []struct {
		name, file, code, want string
	}{
		{"different document", string(signP7M(t, append([]byte("altro "), form...), cert, key, root.cert)), "sig.content_mismatch", ""},
		{"untrusted signer", string(func() []byte {
			c, k := stranger.leaf(t, p.cf, x509.KeyUsageContentCommitment)
			return signP7M(t, form, c, k, stranger.cert)
		}()), "sig.untrusted", ""},
		{"not a signature", "%PDF-1.4 nothing", "sig.", ""},
	}
	for _, tc := range bad {
		res := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", tc.file}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "error-summary") {
			t.Errorf("%s: %d\n%s", tc.name, res.status, res.body)
		}
		// The refusal is kept for the verifier; nothing else changes.
		if after, r := requestByCode(t, a, done); after.State != e.State || r.Recognition != nil || len(r.Attempts) == 0 {
			t.Errorf("%s: request changed: %s", tc.name, after.State)
		}
		if !auditHas(t, a, "enrolment.signature", e.ID, tc.code) {
			t.Errorf("%s: no audit record with %s", tc.name, tc.code)
		}
	}

	ok := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", string(signP7M(t, form, cert, key, root.cert))}})
	if ok.status != 200 || ok.url.Path != "/enrol/done" {
		t.Fatalf("signed upload: %d %s\n%s", ok.status, ok.url, ok.body)
	}
	e, r := requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingProcessing) || r.Recognition == nil || r.Recognition.By != "system" ||
		!r.HasEvidence("adhesion_form_signed") || !r.HasEvidence("signature_report") || e.DeadlineAt.IsZero() {
		t.Fatalf("after recognition: %s %+v", e.State, r.Recognition)
	}
	approveAndActivate(t, a, base, p, e)
}

func TestEnrolCNSPathEndToEnd(t *testing.T) {
	cardCA := newTestCA(t, "Test CNS CA")
	stranger := newTestCA(t, "Unknown CA")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, base := enrolApp(t, func(cfg *config.Config) {
		cfg.Enrolment.CNSListen = ln.Addr().String()
		cfg.Enrolment.CNSCAFile = cardCA.pemFile(t)
	})
	cardClient := startCNS(t, a, ln)
	card := func(ca *testCA) *http.Client {
		return cardClient(ca.leaf(t, "", x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth))
	}
	p := newApplicant(t, 2)
	br := newBrowser(t)
	done := capture(t, a, base, br, p, enrolment.PathCNS)
	e, _ := requestByCode(t, a, done)
	m := regexp.MustCompile(`href="(https://[^"]*/enrol/cns\?t=[^"]+)"`).FindStringSubmatch(done.body)
	if m == nil {
		t.Fatalf("no CNS link on the done page:\n%s", done.body)
	}
	link := html.UnescapeString(m[1])
	get := func(c *http.Client) (int, string) {
		res, err := c.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	// A card from an unknown CA, and a card of someone else.
	if st, body := get(card(stranger)); st != http.StatusForbidden || !strings.Contains(body, "<h2>") {
		t.Fatalf("unknown CA: %d\n%s", st, body)
	}
	if !auditHas(t, a, "enrolment.cns", e.ID, "cns.unknown_ca") {
		t.Error("no audit record for the unknown CA")
	}
	other := newApplicant(t, 3)
	otherCard := cardClient(cardCA.leaf(t, other.cf, x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth))
	if st, _ := get(otherCard); st != http.StatusForbidden {
		t.Fatalf("someone else's card: %d", st)
	}
	if !auditHas(t, a, "enrolment.cns", e.ID, "cns.fiscal_code_mismatch") {
		t.Error("no audit record for the mismatching card")
	}
	if after, _ := requestByCode(t, a, done); after.State != e.State {
		t.Fatalf("refused cards changed the request: %s", after.State)
	}

	good := cardClient(cardCA.leaf(t, p.cf, x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth))
	if st, body := get(good); st != 200 {
		t.Fatalf("own card: %d\n%s", st, body)
	}
	e, r := requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingProcessing) || r.Recognition == nil || r.Recognition.Method != enrolment.MethodCNS ||
		!r.HasEvidence("cns_transaction_log") || !r.HasEvidence("client_certificate_chain") {
		t.Fatalf("after CNS: %s %+v", e.State, r.Recognition)
	}
	approveAndActivate(t, a, base, p, e)
}

// startCNS serves a's CNS listener on ln and returns a maker of HTTP
// clients presenting a card (certificate and key) that trust the
// listener's certificate.
func startCNS(t *testing.T, a *App, ln net.Listener) func(*x509.Certificate, *ecdsa.PrivateKey) *http.Client {
	t.Helper()
	srv, err := a.CNSServer()
	if err != nil || srv == nil {
		t.Fatal(srv, err)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	serverCert, err := x509.ParseCertificate(srv.TLSConfig.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCert)
	return func(c *x509.Certificate, k *ecdsa.PrivateKey) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
			Certificates: []tls.Certificate{{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}}}}}
	}
}

func TestEnrolBadInputs(t *testing.T) {
	a, base := enrolApp(t, nil)
	p := newApplicant(t, 4)
	br := newBrowser(t)
	start := br.get(base + "/enrol/")
	data := br.submit(start, "/enrol/", url.Values{"identity_type": {"personal"}, "path": {"shop"}})
	if data.url.Path != "/enrol/data" {
		t.Fatalf("start: %s %d", data.url, data.status)
	}
	badCF := p.cf[:15] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZ", p.cf[15])+1)%26])
	cfErr := fiscalcode.Validate(badCF)
	var fe fiscalcode.Error
	if !errors.As(cfErr, &fe) {
		t.Fatalf("test CF %s not refused: %v", badCF, cfErr)
	}
	with := func(k, v string) url.Values {
		f := p.form()
		f.Set(k, v)
		return f
	}
	cases := []struct {
		name   string
		lang   string
		form   url.Values
		status int
		want   string
	}{
		{"invalid CF (it)", "it", with("fiscal_number", badCF), 422, fe.Message("it")},
		{"invalid CF (en)", "en", with("fiscal_number", badCF), 422, fe.Message("en")},
		{"CF not matching the name", "it", with("name", "Giovanna"), 422, "Il nome non corrisponde al codice fiscale."},
		{"CF not matching the sex", "en", with("gender", "M"), 422, "The sex does not match the fiscal code."},
		{"expired document", "it", with("doc_expiry_date", time.Now().AddDate(0, 0, -1).Format(time.DateOnly)), 422, "Il documento è scaduto: serve un documento valido."},
		{"missing surname", "en", with("family_name", ""), 422, "Please fill in “Surname”."},
		{"no sex chosen", "it", with("gender", ""), 422, "Compila il campo «Sesso»."},
		{"unknown place", "it", with("place_name", "Atlantide"), 422, "Non troviamo il luogo di nascita «Atlantide»"},
		{"ambiguous place", "en", with("place_name", "Castro"), 422, "Several places are called “Castro”: pick the right one among “Castro (BG)”, “Castro (LE)”."},
		{"bad e-mail", "en", with("email", "giulia@"), 422, "Enter a valid e-mail address"},
		{"bad mobile", "it", with("mobile_phone", "12"), 422, "Scrivi il numero di cellulare con il prefisso internazionale"},
	}
	for _, tc := range cases {
		pg := br.get(base + "/enrol/data?lang=" + tc.lang)
		res := br.postMultipart(pg, "/enrol/data", tc.form, nil)
		if res.status != tc.status || !strings.Contains(html.UnescapeString(res.body), tc.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.name, res.status, tc.status, tc.want, res.body)
		}
	}
	e, r := currentDraft(t, a, p.cf, false)
	if r.Applicant != nil {
		t.Fatalf("refused data were stored: %+v", r.Applicant)
	}
	if !auditHas(t, a, "enrolment.applicant", e.ID, "invalid") {
		t.Error("no audit record of the refused data")
	}

	// Live check, in the language asked.
	res, err := http.Get(base + "/enrol/check-cf?lang=en&fiscal_number=" + badCF)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), fe.Message("en")) {
		t.Errorf("live check: %s", body)
	}

	// Uploads: wrong type, then too large.
	pg := br.get(base + "/enrol/data?lang=it")
	wrong := br.postMultipart(pg, "/enrol/data", p.form(), map[string][2]string{"document_front": {"doc.txt", "just some text, not an image"}})
	if wrong.status != 422 || !strings.Contains(html.UnescapeString(wrong.body), "non è un JPEG, PNG o PDF") {
		t.Errorf("wrong type: %d\n%s", wrong.status, wrong.body)
	}
	if !auditHas(t, a, "enrolment.upload", e.ID, "media type") {
		t.Error("no audit record of the refused upload")
	}
	big := br.postMultipart(pg, "/enrol/data", p.form(), map[string][2]string{"document_front": {"big.png", "\x89PNG\r\n\x1a\n" + strings.Repeat("x", 11<<20)}})
	// The route's body cap lets a whole scan set through; the file itself
	// is over the per-file limit and refused by the handler.
	if big.status != http.StatusUnprocessableEntity && big.status != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %d", big.status)
	}
	if _, r := currentDraft(t, a, p.cf, true); len(r.Evidence) != 0 {
		t.Errorf("refused uploads kept: %+v", r.Evidence)
	}

	// A form without its CSRF token is refused.
	req, _ := http.NewRequest("POST", base+"/enrol/consents", strings.NewReader("privacy=1&terms=1&declaration=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got := br.do(req); got.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", got.status)
	}
	// Cross-site posts are refused even with the token.
	req, _ = http.NewRequest("POST", base+"/enrol/", strings.NewReader("path=shop&identity_type=personal&csrf_token="+url.QueryEscape(csrfRE.FindStringSubmatch(start.body)[1])))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if got := br.do(req); got.status != http.StatusForbidden {
		t.Errorf("cross-site post: %d", got.status)
	}
	// Another browser has no request.
	if got := newBrowser(t).get(base + "/enrol/done"); got.status != http.StatusNotFound {
		t.Errorf("foreign browser: %d", got.status)
	}

	// The shop path, completed: the request waits for recognition and the
	// page says what to do.
	done := capture(t, a, base, newBrowser(t), newApplicant(t, 5), enrolment.PathShop)
	if !strings.Contains(html.UnescapeString(done.body), "punto vendita") {
		t.Errorf("shop instructions missing:\n%s", done.body)
	}
	if e, _ := requestByCode(t, a, done); e.State != string(enrolment.StateAwaitingRecognition) {
		t.Errorf("shop request: %s", e.State)
	}
}

// currentDraft finds the only request for cf, or (no CF stored yet) the
// newest draft.
func currentDraft(t *testing.T, a *App, cf string, byCF bool) (storage.Enrolment, *enrolment.Request) {
	t.Helper()
	ctx := context.Background()
	var list []storage.Enrolment
	var err error
	if byCF {
		list, err = a.Backends.Store.ListEnrolmentsByFiscalNumber(ctx, cf)
	} else {
		list, err = a.Backends.Store.ListEnrolments(ctx, []string{string(enrolment.StateDraft)})
	}
	if err != nil || len(list) == 0 {
		t.Fatalf("requests: %v %d", err, len(list))
	}
	e := list[len(list)-1]
	e, r, err := a.Enrolment.Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e, r
}

// TestEnrolScansRequired: on the video path nobody sees the originals in
// person, so the data page needs the three images; those already sent
// count on the next attempt.
func TestEnrolScansRequired(t *testing.T) {
	_, base := enrolApp(t, nil)
	p := newApplicant(t, 7)
	br := newBrowser(t)
	data := br.submit(br.get(base+"/enrol/?lang=en"), "/enrol/", url.Values{"identity_type": {"personal"}, "path": {"video"}})
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 64)
	res := br.postMultipart(data, "/enrol/data", p.form(), map[string][2]string{"document_front": {"f.png", png}})
	body := html.UnescapeString(res.body)
	if res.status != 422 || strings.Contains(body, "front of the document") ||
		!strings.Contains(body, "back of the document") || !strings.Contains(body, "health card") {
		t.Fatalf("missing scans: %d\n%s", res.status, res.body)
	}
	res = br.postMultipart(res, "/enrol/data", p.form(), map[string][2]string{"document_back": {"b.png", png}, "taxcode_front": {"t.png", png}})
	if res.url.Path != "/enrol/email" {
		t.Fatalf("with every scan: %s %d\n%s", res.url, res.status, res.body)
	}
}
