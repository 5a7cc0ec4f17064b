package app

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// consoleRecognised mounts the console, stores an agent and a verifier,
// runs a citizen's shop request through the service and the agent's
// recognition through the console: the request awaits processing.
func consoleRecognised(t *testing.T, a *App, base string) storage.Enrolment {
	t.Helper()
	consoleOperators(t, a)
	ctx := t.Context()
	// The citizen's part, through the service.
	svc := a.Enrolment
	mails := mail.Outbox{Dir: a.Config.Mail.OutboxDir}
	phones := sms.Outbox{Dir: SMSOutboxDir(a.Config)}
	code := func() string {
		m, err := phones.Last("+393339876543")
		if err != nil {
			t.Fatal(err)
		}
		return regexp.MustCompile(`\b[0-9]{6}\b`).FindString(m.Text)
	}
	e, err := svc.Start(ctx, enrolment.TypePersonal, enrolment.PathShop, "")
	cmust(t, err)
	cmust(t, svc.SetApplicant(ctx, e.ID, enrolment.Applicant{Name: "Maria", FamilyName: "Bianchi", FiscalNumber: "BNCMRA85T41F205Z",
		DateOfBirth: "1985-12-01", PlaceOfBirth: "F205", CountyOfBirth: "MI", Gender: "F", Email: "maria.bianchi@example.it",
		MobilePhone: "+393339876543"}, enrolment.Document{Type: "cartaIdentita", Number: "CA99999ZZ", Issuer: "ComuneMilano",
		IssueDate: "2022-01-10", ExpiryDate: "2032-01-10"}, nil))
	cmust(t, svc.SendEmailLink(ctx, e.ID))
	m, err := mails.Last("maria.bianchi@example.it")
	cmust(t, err)
	link, _ := url.Parse(regexp.MustCompile(`https?://\S+verify-email\S*`).FindString(m.Text))
	_, err = svc.ConfirmEmail(ctx, link.Query().Get("token"))
	cmust(t, err)
	cmust(t, svc.SendMobileCode(ctx, e.ID))
	cmust(t, svc.ConfirmMobile(ctx, e.ID, code()))
	cmust(t, svc.AcceptConsents(ctx, e.ID, enrolment.Consents{PrivacyVersion: "1", TermsVersion: "1", Declaration: true}, "127.0.0.1"))
	cmust(t, svc.SendSignCode(ctx, e.ID))
	e, err = svc.Submit(ctx, e.ID, code())
	cmust(t, err)

	agent := newBrowser(t)
	p := consoleLogin(a, agent, base, "agent")
	p = agent.submit(p, "/console/find", url.Values{"code": {e.Code}, "cf_suffix": {"205Z"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Bianchi") {
		t.Fatalf("find: %d", p.status)
	}
	if csp := consoleCSP(t, base+"/console/login"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("console CSP %q", csp)
	}
	for _, k := range []string{"document_front", "document_back", "adhesion_form_signed"} {
		p = multipartUpload(t, agent, p, k)
	}
	p = agent.submit(p, "/otp-send", nil)
	p = agent.submit(p, "/otp-check", url.Values{"otp": {code()}})
	p = agent.submit(p, "/confirm", url.Values{"check": {"document_original", "document_intact_valid", "face_match", "data_match", "taxcode_card_match", "form_signed_by_hand"}})
	if p.status != http.StatusOK {
		t.Fatalf("confirm: %d\n%s", p.status, p.body)
	}

	return e
}

// The console in the assembled IdP (SQLite, outboxes, the server's
// middleware): a shop agent recognises a request, a verifier approves it,
// the activation e-mail lands in the outbox, and /metrics counts the queue.
func TestConsoleEndToEnd(t *testing.T) {
	a, ts, _ := testApp(t)
	e := consoleRecognised(t, a, ts.URL)
	mails := mail.Outbox{Dir: a.Config.Mail.OutboxDir}
	var p page

	res, err := http.Get(ts.URL + "/metrics")
	cmust(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `spid_enrolment_requests{status="on_time"} 1`) {
		t.Errorf("/metrics lacks the queue gauge:\n%s", grepLines(string(body), "spid_enrolment"))
	}

	vera := newBrowser(t)
	p = consoleLogin(a, vera, ts.URL, "vera")
	if !strings.Contains(p.body, enrolment.FormatCode(e.Code)) {
		t.Fatalf("queue lacks the request:\n%s", p.body)
	}
	p = vera.get(ts.URL + "/console/requests/" + e.ID)
	p = vera.submit(p, "/approve", url.Values{"check": enrolment.VerifierChecklist(e.Path, e.IdentityType)})
	if !strings.Contains(p.url.RawQuery, "ok=approved") {
		t.Fatalf("approve: %s", p.url)
	}
	m, err := mails.Last("maria.bianchi@example.it")
	cmust(t, err)
	if !strings.Contains(m.Text, "/activate?token=") {
		t.Errorf("activation e-mail: %s", m.Text)
	}
}

// consoleOperators mounts the console with a shop agent and a verifier
// ("agent", "vera"), each with an authenticator app (consoleLogin).
func consoleOperators(t *testing.T, a *App) {
	t.Helper()
	if _, err := a.MountConsole(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, op := range []struct {
		user  string
		roles []string
	}{{"agent", []string{"shop_agent"}}, {"vera", []string{"verifier"}}} {
		h, err := password.Hash("Console-"+op.user+"-2026", a.Argon2)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		if err := a.Backends.Store.CreateOperator(ctx, storage.Operator{ID: "op-" + op.user, Username: op.user, Name: op.user,
			Roles: op.roles, PasswordHash: h, Status: storage.OperatorActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		giveOperatorTOTP(t, a, "op-"+op.user)
	}
}

func cmust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// consoleLogin signs a test operator in: password, then the authenticator
// app's code on the second-factor page.
func consoleLogin(a *App, b *browser, base, user string) page {
	b.t.Helper()
	p := b.get(base + "/console/login")
	p = b.submit(p, "/console/login", url.Values{"username": {user}, "password": {"Console-" + user + "-2026"}})
	if !strings.HasSuffix(p.url.Path, "/console/factor") {
		b.t.Fatalf("console password for %s: %d %s", user, p.status, p.url)
	}
	return b.submit(p, "/console/factor/totp", url.Values{"otp": {operatorCode(b.t, a, "op-"+user, testOperatorSeed)}})
}

func consoleCSP(t *testing.T, u string) string {
	res, err := http.Get(u)
	cmust(t, err)
	res.Body.Close()
	return res.Header.Get("Content-Security-Policy")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// multipartUpload posts a small JPEG of kind through p's upload form.
func multipartUpload(t *testing.T, b *browser, p page, kind string) page {
	t.Helper()
	m := regexp.MustCompile(`(?s)<form[^>]*action="([^"]*/upload)"[^>]*>(.*?)</form>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no upload form:\n%s", p.body)
	}
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindStringSubmatch(m[2])
	var buf strings.Builder
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("csrf_token", tok[1])
	_ = w.WriteField("kind", kind)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="scan.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	fw, _ := w.CreatePart(h)
	_, _ = fw.Write(append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), []byte(strings.Repeat(kind, 20))...))
	w.Close()
	target, _ := p.url.Parse(m[1])
	req, _ := http.NewRequest("POST", target.String(), strings.NewReader(buf.String()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	res := b.do(req)
	if !strings.Contains(res.url.RawQuery, "ok=uploaded") {
		t.Fatalf("upload %s: %s", kind, res.url)
	}
	return res
}
