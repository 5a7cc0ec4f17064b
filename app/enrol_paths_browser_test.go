package app

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// The enrolment paths end to end in headless Chromium, under the real CSP
// and cookies: the citizen's request, the recognition (signed form upload,
// the shop agent's console, the video operator's checklist), the verifier's decision in the console, the
// activation link and the first login at the demo SP. The CNS path needs a
// client certificate in Chromium and is covered over HTTP by
// TestEnrolCNSPathEndToEnd.

// pathsRun is one browser (one Chromium) with isolated sessions for the
// citizen and each operator.
type pathsRun struct {
	t    *testing.T
	a    *App
	base string
	root context.Context
	dir  string // scan files for the upload inputs
}

func newPathsRun(t *testing.T, setup func(cfg *config.Config)) *pathsRun {
	t.Helper()
	chrome := testenv.Browser(t)
	a, base := enrolApp(t, setup)
	if err := a.MountBackOffice(); err != nil {
		t.Fatal(err)
	}
	ctx := browserTab(t, chrome, 150*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	r := &pathsRun{t: t, a: a, base: base, root: ctx, dir: t.TempDir()}
	r.file("scan.png", "\x89PNG\r\n\x1a\n"+strings.Repeat("\x00", 64))
	r.file("scan.jpg", "\xff\xd8\xff\xe0\x00\x10JFIF\x00"+strings.Repeat("scan", 40))
	return r
}

// file writes a file to upload and returns its path.
func (r *pathsRun) file(name, content string) string {
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// session is a tab in a browser context of its own (its own cookies).
func (r *pathsRun) session() context.Context {
	ctx, cancel := chromedp.NewContext(r.root, chromedp.WithNewBrowserContext())
	r.t.Cleanup(cancel)
	return ctx
}

// step runs actions, for 30 seconds at most, and fails with the page's location and text.
func (r *pathsRun) step(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	r.t.Helper()
	// A context.WithTimeout child of the tab stalls chromedp v0.23's
	// actions, so the bound is a timer; the tab's own deadline and the
	// test's cleanup end whatever is left.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, actions...) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		err = errors.New("no result within 30 seconds")
	}
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		r.t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
	}
}

// submit clicks sel and waits, boundedly, for the next page to load: the
// old page's window carries a mark the new one lacks.
func (r *pathsRun) submit(ctx context.Context, what, sel string) {
	r.t.Helper()
	r.step(ctx, what, chromedp.Evaluate[chromedp.Void](`window.__old = true`), chromedp.Click(sel))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__old !== true && document.readyState === "complete"`))
		if err == nil && done {
			return
		}
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	r.t.Fatalf("%s: no new page after clicking %s (at %s)", what, sel, loc)
}

func (r *pathsRun) text(ctx context.Context) string {
	r.t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// request runs the citizen's part in the browser up to the done page and
// returns the stored request.
func (r *pathsRun) request(ctx context.Context, p applicant, path string) storage.Enrolment {
	r.t.Helper()
	png := filepath.Join(r.dir, "scan.png")
	r.step(ctx, "start", chromedp.Navigate(r.base+"/enrol/"), chromedp.WaitVisible(`#path-`+path))
	if path == "shop" {
		browsertest.Page(r.t, ctx, "enrol-start")
	}
	// Each way is explained under its choice, and a request sent earlier
	// can be followed from here.
	if text := r.text(ctx); !strings.Contains(text, "videochiamata") && !strings.Contains(text, "video call") ||
		!strings.Contains(text, "Guarda a che punto è") && !strings.Contains(text, "See how it is going") {
		r.t.Errorf("the enrolment's first page does not explain the ways or link the status page:\n%s", text)
	}
	r.step(ctx, "choose",
		chromedp.Click(`#path-`+path),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#fiscal_number`),
	)
	browsertest.Page(r.t, ctx, "enrol-data-"+path)
	r.step(ctx, "fill in", append(fillApplicant(p),
		chromedp.SetValue(`#fiscal_number`, p.cf),
		chromedp.SetUploadFiles(`#document_front`, []string{png}),
		chromedp.SetUploadFiles(`#document_back`, []string{png}),
		chromedp.SetUploadFiles(`#taxcode_front`, []string{png}),
		chromedp.Click(`form button[type="submit"]`),
		chromedp.WaitVisible(`button[value="continue"]`),
	)...)
	link := verifyLinkRE.FindString(lastMail(r.t, r.a, p.email))
	if link == "" {
		r.t.Fatal("no verification link in the e-mail")
	}
	r.step(ctx, "confirm the e-mail",
		chromedp.Navigate(link),
		chromedp.Click(`form button[type="submit"]`),
		chromedp.WaitVisible(`#otp`),
	)
	r.step(ctx, "mobile code",
		chromedp.SendKeys(`#otp`, lastSMSCode(r.t, r.a, p.mobile)),
		chromedp.Click(`button[value="confirm"]`),
		chromedp.WaitVisible(`#declaration`),
	)
	consents := []chromedp.Action[chromedp.Void]{chromedp.Click(`#privacy`), chromedp.Click(`#terms`), chromedp.Click(`#declaration`)}
	if path == enrolment.PathVideo {
		consents = append(consents, chromedp.Click(`#video_recording`))
	}
	r.step(ctx, "consents", append(consents,
		chromedp.Click(`form button[type="submit"]`),
		chromedp.WaitVisible(`#otp`),
	)...)
	// The code shows on every step once assigned: wait for the page.
	r.step(ctx, "confirm the request", chromedp.SendKeys(`#otp`, lastSMSCode(r.t, r.a, p.mobile)))
	r.submit(ctx, "confirm the request", `button[value="confirm"]`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/enrol/done") {
		r.t.Fatalf("after submit: at %s\n%s", loc, r.text(ctx))
	}
	browsertest.Page(r.t, ctx, "enrol-done-"+path)
	shown, err := chromedp.Run(ctx, chromedp.Text(`#request-code`))
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := r.a.Backends.Store.GetEnrolmentByCode(context.Background(), strings.ReplaceAll(strings.TrimSpace(shown), "-", ""))
	if err != nil {
		r.t.Fatalf("request %q: %v", shown, err)
	}
	e = r.get(e.ID)
	if e.State != string(enrolment.StateAwaitingRecognition) || e.Path != path {
		r.t.Fatalf("after submit: %s on %s", e.State, e.Path)
	}
	return e
}

// status looks the request up on the status page, in a browser that never
// saw it, and checks what the page says.
func (r *pathsRun) status(e storage.Enrolment, p applicant, want ...string) string {
	r.t.Helper()
	ctx := r.session()
	r.step(ctx, "status page", chromedp.Navigate(r.base+"/enrol/status?lang=it"), chromedp.WaitVisible(`#cf_suffix`))
	browsertest.Page(r.t, ctx, "enrol-status-form")
	r.step(ctx, "status lookup", chromedp.SendKeys(`#code`, enrolment.FormatCode(e.Code)), chromedp.SendKeys(`#cf_suffix`, p.cf[12:]))
	r.submit(ctx, "status lookup", `form[action="/enrol/status"] button[type="submit"]`)
	txt := r.text(ctx)
	for _, w := range want {
		if !strings.Contains(txt, w) {
			r.t.Errorf("status page lacks %q:\n%s", w, txt)
		}
	}
	browsertest.Page(r.t, ctx, "enrol-status-"+e.Path)
	return txt
}

// get reads the request through the service.
func (r *pathsRun) get(id string) storage.Enrolment {
	r.t.Helper()
	e, _, err := r.a.Enrolment.Get(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

// consoleLogin signs an operator in, in a session of their own.
func (r *pathsRun) consoleLogin(user string) context.Context {
	r.t.Helper()
	ctx := r.session()
	r.step(ctx, "console login as "+user,
		chromedp.Navigate(r.base+"/console/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, user),
		chromedp.SendKeys(`#password`, demo.OperatorPassword),
	)
	r.submit(ctx, "console login as "+user, `button[name="op"][value="submit"]`)
	r.step(ctx, "second factor of "+user, chromedp.WaitVisible(`#otp`), chromedp.SendKeys(`#otp`, demoOperatorCode(r.t, r.a, user)))
	r.submit(ctx, "second factor of "+user, `button[name="op"][value="totp"]`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.HasSuffix(loc, "/console/login") || strings.HasSuffix(loc, "/console/factor") ||
		strings.Contains(loc, "/console/factor/") {
		r.t.Fatalf("%s not signed in:\n%s", user, r.text(ctx))
	}
	return ctx
}

// openCase opens the request from the verifier's queue.
func (r *pathsRun) openCase(ctx context.Context, e storage.Enrolment) {
	r.t.Helper()
	r.step(ctx, "queue",
		chromedp.Navigate(r.base+"/console/queue"),
		chromedp.WaitVisible(`table.console-table`),
	)
	r.submit(ctx, "open the case", `a[href="/console/requests/`+e.ID+`"]`)
}

// approve ticks the verifier's checklist and approves.
func (r *pathsRun) approve(e storage.Enrolment) {
	r.t.Helper()
	ctx := r.consoleLogin("verificatore")
	r.openCase(ctx, e)
	var ticks []chromedp.Action[chromedp.Void]
	for _, item := range enrolment.VerifierChecklist(e.Path, e.IdentityType) {
		ticks = append(ticks, chromedp.Click(`#chk-`+item))
	}
	r.step(ctx, "checklist", ticks...)
	r.submit(ctx, "approve", `form[action$="/approve"] button[type="submit"]`)
	if got := r.get(e.ID); got.State != string(enrolment.StateApproved) {
		r.t.Fatalf("after approval: %s\n%s", got.State, r.text(ctx))
	}
}

// activate opens the e-mailed link in the citizen's browser, asks for the
// SMS code, chooses the credentials, then logs in at the demo SP (level 1)
// and checks the attributes the SP received.
func (r *pathsRun) activate(ctx context.Context, p applicant, username string) {
	r.t.Helper()
	link := activateLinkRE.FindString(lastMail(r.t, r.a, p.email))
	if link == "" {
		r.t.Fatal("no activation link in the e-mail")
	}
	// The SMS button comes first, alone; the fields come with the code.
	r.step(ctx, "activation page", chromedp.Navigate(link), chromedp.WaitVisible(`button[value="resend"]`))
	r.submit(ctx, "send the code", `button[value="resend"]`)
	const pw = "Tr0mbone!Viola#27"
	r.step(ctx, "credentials",
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#otp`, lastSMSCode(r.t, r.a, p.mobile)),
		chromedp.SendKeys(`#username`, username),
		chromedp.SendKeys(`#password`, pw),
		chromedp.SendKeys(`#repeat`, pw),
	)
	r.submit(ctx, "activate", `button[value="confirm"]`)
	if txt := r.text(ctx); !strings.Contains(txt, username) {
		r.t.Fatalf("activation:\n%s", txt)
	}

	r.step(ctx, "demo SP login",
		chromedp.Navigate(r.base+"/demo-sp/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, username),
		chromedp.SendKeys(`#password`, pw),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
		chromedp.Click(`button[name="op"][value="accept"]`),
		chromedp.WaitVisible(`body.demo .meta-list`),
	)
	result := r.text(ctx)
	for _, want := range []string{"TINIT-" + p.cf, p.name, p.surname, p.email} {
		if !strings.Contains(result, want) {
			r.t.Errorf("the SP's page lacks %q:\n%s", want, result)
		}
	}
}

// agentRecognise is the shop agent's part: find the request by code and
// fiscal-code suffix, upload the scans, send the applicant the SMS code and
// type it, tick the in-person checks and confirm.
func (r *pathsRun) agentRecognise(e storage.Enrolment, p applicant) {
	r.t.Helper()
	r.inPerson("tabaccheria", e, p)
}

// inPerson is the in-person recognition by agent (shop or counter).
func (r *pathsRun) inPerson(agent string, e storage.Enrolment, p applicant) {
	r.t.Helper()
	ctx := r.consoleLogin(agent)
	r.step(ctx, "find page", chromedp.Navigate(r.base+"/console/find"), chromedp.WaitVisible(`#cf_suffix`),
		chromedp.SendKeys(`#code`, enrolment.FormatCode(e.Code)),
		chromedp.SendKeys(`#cf_suffix`, p.cf[12:]),
	)
	r.submit(ctx, "find", `form[action="/console/find"] button[type="submit"]`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/console/recognise/"+e.ID) {
		r.t.Fatalf("find: at %s\n%s", loc, r.text(ctx))
	}
	jpg := filepath.Join(r.dir, "scan.jpg")
	for _, kind := range []string{"document_front", "document_back", "adhesion_form_signed"} {
		r.step(ctx, "upload "+kind, chromedp.SetValue(`#kind`, kind), chromedp.SetUploadFiles(`#file`, []string{jpg}))
		r.submit(ctx, "upload "+kind, `form[action$="/upload"] button[type="submit"]`)
		if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "ok=uploaded") {
			r.t.Fatalf("upload %s: at %s\n%s", kind, loc, r.text(ctx))
		}
	}
	r.submit(ctx, "send the code", `form[action$="/otp-send"] button[type="submit"]`)
	r.step(ctx, "type the code", chromedp.WaitVisible(`#otp`), chromedp.SendKeys(`#otp`, lastSMSCode(r.t, r.a, p.mobile)))
	r.submit(ctx, "check the code", `form[action$="/otp-check"] button[type="submit"]`)
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('form[action$="/confirm"] input[type=checkbox]')).map(c => c.id)`))
	if err != nil || len(ids) == 0 {
		r.t.Fatalf("in-person checks: %v %v\n%s", ids, err, r.text(ctx))
	}
	var ticks []chromedp.Action[chromedp.Void]
	for _, id := range ids {
		ticks = append(ticks, chromedp.Click(`#`+id))
	}
	r.step(ctx, "in-person checks", ticks...)
	r.submit(ctx, "confirm", `form[action$="/confirm"] button[type="submit"]`)
	if got := r.get(e.ID); got.State != string(enrolment.StateAwaitingProcessing) {
		r.t.Fatalf("after %s's recognition: %s\n%s", agent, got.State, r.text(ctx))
	}
}

func TestEnrolPathsBrowserSignature(t *testing.T) {
	root := newTestCA(t, "Test Qualified CA")
	r := newPathsRun(t, func(cfg *config.Config) {
		cfg.Enrolment.SignatureTrustFile = root.pemFile(t)
		cfg.Enrolment.RequireQC = false
	})
	p := newApplicant(t, 8)
	citizen := r.session()
	e := r.request(citizen, p, enrolment.PathSignature)

	// The form the page links to, fetched with the page's own cookies.
	href, err := chromedp.Run(citizen, chromedp.Evaluate[string](`document.querySelector('a[download]').href`))
	if err != nil {
		t.Fatal(err)
	}
	b64, err := chromedp.Run(citizen, chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q, {credentials: "same-origin"})
		.then(r => { if (!r.ok) throw new Error("status " + r.status); return r.arrayBuffer(); })
		.then(b => { let s = ""; for (const c of new Uint8Array(b)) s += String.fromCharCode(c); return btoa(s); })`, href),
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download %s: %v", href, err)
	}
	form, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !strings.HasPrefix(string(form), "%PDF") {
		t.Fatalf("form: %v %.20q", err, form)
	}
	cert, key := root.leaf(t, p.cf, x509.KeyUsageContentCommitment)
	signed := r.file("richiesta.pdf.p7m", string(signP7M(t, form, cert, key, root.cert)))
	r.step(citizen, "choose the signed file", chromedp.SetUploadFiles(`#signed`, []string{signed}))
	r.submit(citizen, "upload the signed file", `form[enctype="multipart/form-data"] button[type="submit"]`)
	got := r.get(e.ID)
	if got.State != string(enrolment.StateAwaitingProcessing) {
		t.Fatalf("after the signed upload: %s\n%s", got.State, r.text(citizen))
	}

	r.approve(got)
	r.activate(r.session(), p, "giulia.firma")
}

func TestEnrolPathsBrowserShop(t *testing.T) {
	r := newPathsRun(t, nil)
	p := newApplicant(t, 9)
	citizen := r.session()
	e := r.request(citizen, p, enrolment.PathShop)
	r.status(e, p, "ATTESA RICONOSCIMENTO", "Tabaccheria Esquilino (demo)", "Vai in uno dei punti vendita")
	r.agentRecognise(e, p)
	r.status(r.get(e.ID), p, "IN ATTESA LAVORAZIONE", "Scadenza")
	r.approve(r.get(e.ID))
	r.activate(citizen, p, "giulia.negozio")
}

// TestEnrolPathsBrowserCounter: the registration counter's operator
// recognises the applicant in person, like the shop.
func TestEnrolPathsBrowserCounter(t *testing.T) {
	r := newPathsRun(t, nil)
	p := newApplicant(t, 5)
	citizen := r.session()
	e := r.request(citizen, p, enrolment.PathCounter)
	r.status(e, p, "ATTESA RICONOSCIMENTO", "Sportello SPID Roma Centro (demo)", "Vai a uno degli sportelli")
	r.inPerson("sportello", e, p)
	r.approve(r.get(e.ID))
	r.activate(citizen, p, "giulia.sportello")
}

// TestEnrolPathsBrowserRejected: the verifier rejects a recognised request
// with two reasons (one naming the field to correct) and an internal note;
// the e-mail lists each reason with its corrective action, in Italian and
// English, and never the note.
func TestEnrolPathsBrowserRejected(t *testing.T) {
	r := newPathsRun(t, nil)
	p := newApplicant(t, 0)
	e := r.request(r.session(), p, enrolment.PathShop)
	r.agentRecognise(e, p)

	ctx := r.consoleLogin("verificatore")
	r.openCase(ctx, r.get(e.ID))
	const note = "nota interna 7Q2"
	r.step(ctx, "reasons",
		chromedp.Click(`#rs-document_illegible`),
		chromedp.Click(`#rs-data_mismatch`),
		chromedp.SendKeys(`#mismatch_field`, "luogo di nascita"),
		chromedp.SendKeys(`#note`, note),
	)
	r.submit(ctx, "reject", `form[action$="/reject"] button[type="submit"]`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "ok=rejected") {
		t.Fatalf("reject: at %s\n%s", loc, r.text(ctx))
	}
	if got := r.get(e.ID); got.State != string(enrolment.StateRejected) {
		t.Fatalf("after rejection: %s", got.State)
	}
	m := lastMail(t, r.a, p.email)
	for _, rs := range []enrolment.Reason{{Code: "document_illegible"}, {Code: "data_mismatch", Field: "luogo di nascita"}} {
		for _, lang := range []string{"it", "en"} {
			if want := rs.Title(lang) + ": " + rs.CorrectiveAction(lang); !strings.Contains(m, want) {
				t.Errorf("rejection e-mail lacks %q:\n%s", want, m)
			}
		}
	}
	if !strings.Contains(m, enrolment.FormatCode(e.Code)) || strings.Contains(m, note) {
		t.Errorf("rejection e-mail (code %s, no internal note):\n%s", enrolment.FormatCode(e.Code), m)
	}
	if strings.Contains(m, "/activate?token=") {
		t.Errorf("rejection e-mail carries an activation link:\n%s", m)
	}
	// Both reasons can be corrected: the e-mail links to the same request.
	link := correctLinkRE.FindString(m)
	if link == "" {
		t.Fatalf("rejection e-mail without the correction link:\n%s", m)
	}
	citizen := r.session()
	r.step(citizen, "correction link", chromedp.Navigate(link), chromedp.WaitVisible(`form button[type="submit"]`))
	r.submit(citizen, "reopen the request", `form button[type="submit"]`)
	if loc, _ := chromedp.Run(citizen, chromedp.Location()); !strings.Contains(loc, "/enrol/data") {
		t.Fatalf("correction link: at %s\n%s", loc, r.text(citizen))
	}
	if v, _ := chromedp.Run(citizen, chromedp.Evaluate[string](`document.getElementById("fiscal_number").value`)); v != p.cf {
		t.Errorf("the reopened request lost its data: fiscal code %q", v)
	}
	browsertest.Page(t, citizen, "enrol-correct-data")
}

// TestEnrolPathsBrowserVideo: the video operator publishes availability in
// the console, the citizen books a time from the page after submission
// (confirmation e-mail with a calendar invitation) and sees it on the
// status page; the operator finds the appointment in the agenda and starts
// the recognition from it, runs the console's session checklist (the
// WebRTC call itself is out of scope: the page says so), types the code
// the applicant reads aloud, uploads the recording and confirms; the
// verifier approves; activation and login at the demo SP.
func TestEnrolPathsBrowserVideo(t *testing.T) {
	r := newPathsRun(t, nil)
	p := newApplicant(t, 7)

	ctx := r.consoleLogin("video")
	day := nextOpenDay(time.Now())
	r.step(ctx, "availability page", chromedp.Navigate(r.base+"/console/video/slots?lang=it"), chromedp.WaitVisible(`#date`),
		chromedp.SetValue(`#date`, day.Format("2006-01-02")), chromedp.SetValue(`#from`, "09:00"), chromedp.SetValue(`#to`, "11:00"),
		chromedp.SetValue(`#length`, "20"), chromedp.SetValue(`#weeks`, "1"))
	r.submit(ctx, "publish availability", `form[action="/console/video/slots"] button[type="submit"]`)
	if txt := r.text(ctx); !strings.Contains(txt, "Pubblicati 6 appuntamenti") {
		t.Fatalf("after publishing:\n%s", txt)
	}
	browsertest.Page(r.t, ctx, "console-video-slots")

	citizen := r.session()
	e := r.request(citizen, p, enrolment.PathVideo)
	r.submit(citizen, "booking link", `a[href^="/enrol/video?"]`)
	r.step(citizen, "free times", chromedp.WaitVisible(`.video-times input[name="slot"]`))
	browsertest.Page(r.t, citizen, "video-booking-choose")
	// A supervisor publishes for the video operator, chosen in the form.
	sup := r.consoleLogin("supervisore")
	r.step(sup, "supervisor's availability page", chromedp.Navigate(r.base+"/console/video/slots?lang=it"), chromedp.WaitVisible(`#operator`),
		chromedp.SetValue(`#operator`, "demo-op-video"), chromedp.SetValue(`#date`, day.Format("2006-01-02")),
		chromedp.SetValue(`#from`, "19:00"), chromedp.SetValue(`#to`, "19:40"), chromedp.SetValue(`#length`, "20"), chromedp.SetValue(`#weeks`, "1"))
	browsertest.Page(r.t, sup, "console-video-slots-supervisor")
	r.submit(sup, "publish for the video operator", `form[action="/console/video/slots"] button[type="submit"]`)
	if txt := r.text(sup); !strings.Contains(txt, "Pubblicati 2 appuntamenti nell'agenda di") {
		t.Fatalf("supervisor publishing for the video operator:\n%s", txt)
	}
	browsertest.Page(r.t, sup, "console-video-slots-supervisor-published")
	// With its extra operator column the supervisor's table stacks on a
	// phone like the agenda instead of scrolling sideways.
	r.step(sup, "phone width", chromedp.EmulateViewport(390, 900))
	overflow, err := chromedp.Run(sup, chromedp.Evaluate[int](`(() => { const w = document.querySelector('.console-table-wrap'); return w.scrollWidth - w.clientWidth; })()`))
	r.step(sup, "desktop width", chromedp.EmulateViewport(browsertest.Widths[0], 900))
	if err != nil || overflow > 0 {
		t.Errorf("the supervisor's availability table scrolls sideways by %d px at 390 px (%v)", overflow, err)
	}
	r.step(citizen, "pick the first time", chromedp.Click(`.video-times label`))
	r.submit(citizen, "book", `button[name="op"][value="book"]`)
	when := day.Format("02/01/2006") + " 09:00"
	// The booking page speaks the language of the enrolment pages.
	if txt := r.text(citizen); !strings.Contains(txt, "Appointment booked") || !strings.Contains(txt, when) {
		t.Fatalf("after booking:\n%s", txt)
	}
	browsertest.Page(r.t, citizen, "video-booking-booked")
	m, err := mail.Outbox{Dir: r.a.Config.Mail.OutboxDir}.Last(p.email)
	if err != nil || len(m.Attachments) != 1 || !strings.Contains(m.Text, when) ||
		!strings.Contains(string(m.Attachments[0].Data), "METHOD:REQUEST") {
		t.Fatalf("confirmation e-mail (%v):\n%s", err, m.Text)
	}
	// Booked: the next step is the call, with the way to change or cancel
	// it, no longer an invitation to book (issue 12).
	if txt := r.status(e, p, "ATTESA RICONOSCIMENTO", "Appuntamento per la videochiamata: "+when,
		"Il "+when+" (ora italiana) apri la pagina dell'appuntamento", "puoi cambiare o annullare l'appuntamento"); strings.Contains(txt, "Prenota la videochiamata") {
		t.Errorf("status page of a booked call still asks to book it:\n%s", txt)
	}

	// The agenda names the citizen and the request; its button opens the
	// recognition of that request.
	r.step(ctx, "agenda", chromedp.Navigate(r.base+"/console/video/"), chromedp.WaitVisible(`form[action="/console/find"]`))
	if txt := r.text(ctx); !strings.Contains(txt, p.name+" "+p.surname) || !strings.Contains(txt, enrolment.FormatCode(e.Code)) {
		t.Fatalf("agenda:\n%s", txt)
	}
	browsertest.Page(r.t, ctx, "console-video-agenda")
	r.submit(ctx, "start the recognition", `form[action="/console/find"] button[type="submit"]`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/console/recognise/"+e.ID) {
		t.Fatalf("start from the agenda: at %s\n%s", loc, r.text(ctx))
	}
	if !strings.Contains(r.text(ctx), "WebRTC") {
		t.Errorf("the video page does not say the call itself is out of scope:\n%s", r.text(ctx))
	}
	browsertest.Page(r.t, ctx, "console-recognise-video")
	r.submit(ctx, "send the code", `form[action$="/otp-send"] button[type="submit"]`)
	r.step(ctx, "type the code", chromedp.WaitVisible(`#otp`), chromedp.SendKeys(`#otp`, lastSMSCode(r.t, r.a, p.mobile)))
	r.submit(ctx, "check the code", `form[action$="/otp-check"] button[type="submit"]`)
	rec := r.file("sessione.webm", "\x1a\x45\xdf\xa3"+strings.Repeat("\x42", 600))
	r.step(ctx, "recording", chromedp.SetValue(`#kind`, "video_recording"), chromedp.SetUploadFiles(`#file`, []string{rec}))
	r.submit(ctx, "upload the recording", `form[action$="/upload"] button[type="submit"]`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "ok=uploaded") {
		t.Fatalf("recording upload: at %s\n%s", loc, r.text(ctx))
	}
	// The checklist is one form: every item ticked, then sent at once.
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('form[action$="/tick"] input[type=checkbox]')).map(c => c.id)`))
	if err != nil || len(ids) == 0 {
		t.Fatalf("video checklist: %v %v\n%s", ids, err, r.text(ctx))
	}
	var ticks []chromedp.Action[chromedp.Void]
	for _, id := range ids {
		ticks = append(ticks, chromedp.Click(`#`+id))
	}
	r.step(ctx, "video checklist", ticks...)
	r.submit(ctx, "send the checklist", `form[action$="/tick"] button[type="submit"]`)
	if left, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[action$="/tick"] input[type=checkbox]').length`)); err != nil || left != 0 {
		t.Fatalf("checklist items left after sending it: %d %v\n%s", left, err, r.text(ctx))
	}
	r.submit(ctx, "confirm", `form[action$="/confirm"] button[type="submit"]`)
	got, req, err := r.a.Enrolment.Get(context.Background(), e.ID)
	if err != nil || got.State != string(enrolment.StateAwaitingProcessing) || !req.HasEvidence("video_recording") ||
		req.Recognition == nil || req.Recognition.By != "demo-op-video" {
		t.Fatalf("after the video session: %s %v %+v\n%s", got.State, err, req.Recognition, r.text(ctx))
	}
	r.approve(r.get(e.ID))
	r.activate(citizen, p, "giulia.video")
}
