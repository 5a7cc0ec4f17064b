package console

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/templates"
)

// clock is the fixtures' shared time, moved by tests.
type clock = testclock.Clock

var romeLoc, _ = time.LoadLocation("Europe/Rome")

// t0 is Friday 2026-11-20 10:00 in Rome: a request queued then is due
// Tuesday 2026-11-24 10:00 and at risk from Monday 22:00 (36 of 48 hours).
var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, romeLoc)

var testParams = password.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

type fixture struct {
	svc     *enrolment.Service
	st      storage.Store
	clk     *clock
	mails   mail.Outbox
	phones  sms.Outbox
	srv     *httptest.Server
	console *Console
	factors *opfactor.Service
}

// totpSeed is every fixture operator's authenticator seed.
var totpSeed = bytes.Repeat([]byte("operator-seed-20"), 2)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := testclock.New(t0)
	eph := memory.New(memory.WithClock(clk.Now))
	t.Cleanup(func() { eph.Close() })
	key, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	mails := mail.Outbox{Dir: filepath.Join(dir, "mail"), From: "spid@idp.example.it"}
	phones := sms.Outbox{Dir: filepath.Join(dir, "sms")}
	al := &audit.Logger{Store: st, Now: clk.Now}
	svc := &enrolment.Service{
		Store: st, Audit: al, Mail: mails,
		SMS:            &otp.SMSCodes{Values: eph, Sender: phones, Host: "idp.example.it", Now: clk.Now, Counters: eph},
		Calendar:       &workinghours.Calendar{},
		Evidence:       &evidence.Store{Dir: filepath.Join(dir, "evidence"), Sealer: sealer, Now: clk.Now},
		SPIDCodePrefix: "TEST", PasswordParams: testParams,
		BaseURL: "https://idp.example.it", Responsible: "Dott.ssa Anna Verdi", Now: clk.Now,
	}
	pages, err := templates.New(templates.WithBrand("IdP di prova"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	factors := &opfactor.Service{Store: st, Sealer: sealer, Issuer: "IdP di prova", Now: clk.Now}
	c := &Console{Service: svc, Store: st, Eph: eph, Pages: pages, Audit: al,
		CSRFKey: bytes.Repeat([]byte("k"), 32), Origin: "http://" + srv.Listener.Addr().String(),
		Argon2: testParams, Responsible: "Dott.ssa Anna Verdi", ResponsibleEN: "Dr Anna Verdi, head of identity verification", Now: clk.Now, Factors: factors, Log: slog.Default()}
	h, err := c.Handler()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return &fixture{svc: svc, st: st, clk: clk, mails: mails, phones: phones, srv: srv, console: c, factors: factors}
}

// operator stores an active operator with a real password hash.
func (f *fixture) operator(t *testing.T, username string, roles ...enrolment.Role) storage.Operator {
	t.Helper()
	var rs []string
	for _, r := range roles {
		rs = append(rs, string(r))
	}
	h, err := password.Hash("Password-"+username+"-1", testParams)
	if err != nil {
		t.Fatal(err)
	}
	o := storage.Operator{ID: "op-" + username, Username: username, Name: username, Roles: rs, PasswordHash: h,
		Status: storage.OperatorActive, ShopID: "shop-1", CreatedAt: f.clk.Now(), UpdatedAt: f.clk.Now()}
	// An authenticator app with totpSeed, as if enrolled earlier.
	sealed, err := f.factors.Sealer.Seal(totpSeed, opfactor.AD(o.ID, "totp-1"))
	if err != nil {
		t.Fatal(err)
	}
	o.SecondFactor.Factors = []storage.OperatorFactor{{ID: "totp-1", Kind: storage.FactorTOTP, Name: "App", Secret: sealed,
		KeyVersion: int64(f.factors.Sealer.CurrentKeyID()), CreatedAt: f.clk.Now()}}
	if err := f.st.CreateOperator(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// freshCode is the operator's current app code, made usable again: the
// fixture's clock stands still, so a second login in the same 30 seconds
// would otherwise replay the code (which the console rightly refuses).
func (f *fixture) freshCode(t *testing.T, operatorID string) string {
	t.Helper()
	must(t, "forget the last TOTP step", f.st.UpdateOperator(t.Context(), operatorID, func(o storage.Operator) (storage.Operator, error) {
		for i := range o.SecondFactor.Factors {
			o.SecondFactor.Factors[i].LastStep = 0
		}
		return o, nil
	}))
	return otp.Code(totpSeed, f.clk.Now())
}

var linkRE = regexp.MustCompile(`https://idp\.example\.it/\S+`)

func (f *fixture) lastLinkToken(t *testing.T, to string) string {
	t.Helper()
	m, err := f.mails.Last(to)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(linkRE.FindString(m.Text))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

func (f *fixture) lastCode(t *testing.T) string {
	t.Helper()
	m, err := f.phones.Last("+393331234567")
	if err != nil {
		t.Fatal(err)
	}
	return sixDigits.FindString(m.Text)
}

type person struct {
	a enrolment.Applicant
	d enrolment.Document
}

func mario() person {
	return person{enrolment.Applicant{Name: "Mario", FamilyName: "Rossi", FiscalNumber: "RSSMRA80A01H501U", DateOfBirth: "1980-01-01",
		PlaceOfBirth: "H501", CountyOfBirth: "RM", Gender: "M", Email: "mario.rossi@example.it", MobilePhone: "+393331234567"},
		enrolment.Document{Type: "cartaIdentita", Number: "CA12345AB", Issuer: "ComuneRoma", IssueDate: "2021-03-01", ExpiryDate: "2031-03-01"}}
}

// submitted runs the citizen's part through the Service: the request
// waits in awaiting_recognition.
func (f *fixture) submitted(t *testing.T, path string, p person) storage.Enrolment {
	t.Helper()
	ctx := t.Context()
	e, err := f.svc.Start(ctx, enrolment.TypePersonal, path, "")
	must(t, "Start", err)
	must(t, "SetApplicant", f.svc.SetApplicant(ctx, e.ID, p.a, p.d, nil))
	must(t, "SendEmailLink", f.svc.SendEmailLink(ctx, e.ID))
	_, err = f.svc.ConfirmEmail(ctx, f.lastLinkToken(t, p.a.Email))
	must(t, "ConfirmEmail", err)
	must(t, "SendMobileCode", f.svc.SendMobileCode(ctx, e.ID))
	must(t, "ConfirmMobile", f.svc.ConfirmMobile(ctx, e.ID, f.lastCode(t)))
	must(t, "AcceptConsents", f.svc.AcceptConsents(ctx, e.ID, enrolment.Consents{PrivacyVersion: "2026-01", TermsVersion: "2026-02",
		Declaration: true, VideoRecording: path == enrolment.PathVideo}, "192.0.2.7"))
	must(t, "SendSignCode", f.svc.SendSignCode(ctx, e.ID))
	e, err = f.svc.Submit(ctx, e.ID, f.lastCode(t))
	must(t, "Submit", err)
	return e
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (f *fixture) state(t *testing.T, id string) string {
	t.Helper()
	e, err := f.st.GetEnrolment(t.Context(), id)
	must(t, "GetEnrolment", err)
	return e.State
}

func (f *fixture) audits(t *testing.T, action string) []storage.AuditEvent {
	t.Helper()
	evs, err := f.st.ListAudit(context.Background(), 0, 100000)
	must(t, "ListAudit", err)
	var out []storage.AuditEvent
	for _, ev := range evs {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// browser is an operator's browser: cookies, and forms posted with their
// hidden fields (the CSRF token) like a browser would.
type browser struct {
	t    *testing.T
	f    *fixture
	c    *http.Client
	last page
}

type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, f: f, c: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	b.last = page{status: res.StatusCode, url: res.Request.URL, body: string(body), header: res.Header}
	return b.last
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.f.srv.URL+path, nil)
	return b.do(req)
}

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
)

// form finds the form of p whose action ends with action and returns its
// URL and hidden fields.
func (b *browser) form(p page, action string) (string, url.Values) {
	b.t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(p.body, -1) {
		act := html.UnescapeString(m[1])
		if !strings.HasSuffix(act, action) {
			continue
		}
		v := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		return b.f.srv.URL + act, v
	}
	b.t.Fatalf("no form with action %q on %s (status %d):\n%s", action, p.url, p.status, p.body)
	return "", nil
}

func (b *browser) post(target string, v url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", target, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postNoFollow posts without following a redirect: the answer itself.
func (b *browser) postNoFollow(target string, v url.Values) page {
	b.t.Helper()
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("POST", target, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, url: res.Request.URL, body: string(body), header: res.Header}
}

// submit posts the form of p ending with action, hidden fields plus extra.
func (b *browser) submit(p page, action string, extra url.Values) page {
	b.t.Helper()
	target, v := b.form(p, action)
	for k, vs := range extra {
		v[k] = vs
	}
	return b.post(target, v)
}

func (b *browser) upload(p page, kind string, content []byte, contentType string) page {
	b.t.Helper()
	target, v := b.form(p, "/upload")
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k := range v {
		_ = w.WriteField(k, v.Get(k))
	}
	_ = w.WriteField("kind", kind)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="scan"`}
	h["Content-Type"] = []string{contentType}
	fw, _ := w.CreatePart(h)
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest("POST", target, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

// password is the first step of the login: it ends on the second-factor
// page, or on the refusal.
func (b *browser) password(username string) page {
	b.t.Helper()
	p := b.get("/console/login")
	return b.submit(p, "/console/login", url.Values{"username": {username}, "password": {"Password-" + username + "-1"}})
}

// login signs the operator in: password, then the authenticator app's code.
func (b *browser) login(username string) page {
	b.t.Helper()
	p := b.password(username)
	if !strings.HasSuffix(p.url.Path, "/console/factor") {
		return p
	}
	return b.submit(p, "/console/factor/totp", url.Values{"otp": {b.f.freshCode(b.t, "op-"+username)}})
}

func jpeg(tag string) []byte {
	return append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte(tag), 64)...)
}

func webm() []byte { return append([]byte("\x1a\x45\xdf\xa3"), bytes.Repeat([]byte{0x42}, 600)...) }
