package app

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/storage"
)

// rbText is the page's visible text.
func rbText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("page text: %v", err)
	}
	return s
}

// rbItalian picks Italian with the language switch (headless Chromium
// asks for English), as an Italian citizen would once.
func rbItalian(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	lbSteps(t, ctx, "language switch", chromedp.Navigate(base+"/recover?lang=it"), chromedp.WaitVisible(`html[lang="it"]`))
}

// rbWant fails unless the page shows every text of want.
func rbWant(t *testing.T, ctx context.Context, step string, want ...string) {
	t.Helper()
	txt := rbText(t, ctx)
	for _, w := range want {
		if !strings.Contains(txt, w) {
			t.Fatalf("%s: the page does not say %q (at %s):\n%s", step, w, lbLocation(t, ctx), txt)
		}
	}
}

// TestRecoverBrowserUsername: from the demo SP's login page a citizen who
// forgot the username follows "Hai dimenticato le credenziali?", gives
// fiscal code and e-mail, reads the neutral answer, finds the username in
// the e-mail, and goes back to the same login with it.
func TestRecoverBrowserUsername(t *testing.T) {
	ctx := browsertest.Tab(t, 2*time.Minute)
	a, base := enrolApp(t, nil)
	rbItalian(t, ctx, base)
	lbSteps(t, ctx, "demo SP login page",
		chromedp.Navigate(base+demo.Prefix+"/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.Click(`p.forgot a`),
		chromedp.WaitVisible(`.recover-choices`),
	)
	rbWant(t, ctx, "P09", "Hai dimenticato le credenziali?", "Ho dimenticato il nome utente", "Ho perso il telefono o l'app", "Torna all'accesso")
	browsertest.Page(t, ctx, "recover-choose")
	lbSteps(t, ctx, "forgotten username",
		chromedp.Click(`a[href^="/recover/username"]`),
		chromedp.WaitVisible(`#fiscal_code`),
	)
	browsertest.Page(t, ctx, "recover-username")
	lbSteps(t, ctx, "a typo first",
		chromedp.SendKeys(`#fiscal_code`, "RSSMRA80A01"),
		chromedp.SendKeys(`#email`, demo.CitizenUsername),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#error-summary`),
	)
	rbWant(t, ctx, "typo", "Il codice fiscale deve avere 16 caratteri")
	browsertest.Page(t, ctx, "recover-username-error")
	lbSteps(t, ctx, "the right data",
		chromedp.Clear(`#fiscal_code`),
		chromedp.SendKeys(`#fiscal_code`, "rssmra80a01h501u"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitNotPresent(`#fiscal_code`),
	)
	rbWant(t, ctx, "answer", "Richiesta ricevuta", "Se i dati corrispondono a un'identità SPID")
	browsertest.Page(t, ctx, "recover-sent")
	if m := lastMail(t, a, demo.CitizenUsername); !strings.Contains(m, demo.CitizenUsername) || !strings.Contains(m, "nome utente") {
		t.Fatalf("e-mail:\n%s", m)
	}
	lbSteps(t, ctx, "back to the login",
		chromedp.Click(`p.back a`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, demo.CitizenUsername),
		chromedp.SendKeys(`#password`, demo.CitizenPassword),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
	)
}

// TestRecoverBrowserPassword: fiscal code and username → the e-mailed link
// → the SMS code → a password against the rules is refused in Italian and
// the code still works → repeat → the new password logs in at the demo SP.
func TestRecoverBrowserPassword(t *testing.T) {
	ctx := browsertest.Tab(t, 2*time.Minute)
	a, base := enrolApp(t, nil)
	rbItalian(t, ctx, base)
	lbSteps(t, ctx, "reset request",
		chromedp.Navigate(base+"/recover/password"),
		chromedp.WaitVisible(`#fiscal_code`),
	)
	browsertest.Page(t, ctx, "recover-password")
	lbSteps(t, ctx, "send",
		chromedp.SendKeys(`#fiscal_code`, demoCF),
		chromedp.SendKeys(`#username`, demo.CitizenUsername),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitNotPresent(`#fiscal_code`),
	)
	rbWant(t, ctx, "answer", "30 minuti")
	link := resetLinkRE.FindString(lastMail(t, a, demo.CitizenUsername))
	if link == "" {
		t.Fatal("no reset link in the e-mail")
	}
	lbSteps(t, ctx, "open the link", chromedp.Navigate(link), chromedp.WaitVisible(`button[value="send"]`))
	rbWant(t, ctx, "link", "Scegli una nuova password", "567")
	browsertest.Page(t, ctx, "recover-reset")
	lbSteps(t, ctx, "send the code", chromedp.Click(`button[value="send"]`), chromedp.WaitVisible(`#otp`))
	browsertest.Page(t, ctx, "recover-reset-code")
	code := lastSMSCode(t, a, "+393331234567")
	lbSteps(t, ctx, "a password against the rules",
		chromedp.SendKeys(`#otp`, code),
		chromedp.SendKeys(`#password`, "rossi2027"),
		chromedp.SendKeys(`#repeat`, "rossi2027"),
		chromedp.Click(`button[value="confirm"]`),
		chromedp.WaitVisible(`#error-summary`),
	)
	rbWant(t, ctx, "policy", "almeno una lettera maiuscola", "non può contenere il nome utente")
	browsertest.Page(t, ctx, "recover-reset-policy")
	const pw = "Girasole#Blu-2027"
	lbSteps(t, ctx, "a good password with the same code",
		chromedp.SendKeys(`#password`, pw),
		chromedp.SendKeys(`#repeat`, pw),
		chromedp.Click(`button[value="confirm"]`),
		chromedp.WaitVisible(`a[href="/account/"]`),
	)
	rbWant(t, ctx, "done", "Password cambiata", "abbiamo chiuso tutte le sessioni")
	browsertest.Page(t, ctx, "recover-reset-done")
	lbSteps(t, ctx, "the link again", chromedp.Navigate(link), chromedp.WaitVisible(`h1`))
	rbWant(t, ctx, "used link", "Link non valido", "Chiedi un nuovo link")
	browsertest.Page(t, ctx, "recover-link-invalid")
	lbSteps(t, ctx, "login with the new password",
		chromedp.Navigate(base+demo.Prefix+"/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, demo.CitizenUsername),
		chromedp.SendKeys(`#password`, pw),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
		chromedp.Click(`button[name="op"][value="accept"]`),
		chromedp.WaitVisible(`body.demo .meta-list`),
	)
	rbWant(t, ctx, "SP", "TINIT-"+demoCF)
}

// TestRecoverBrowserLostApp: the citizen who lost the phone disconnects
// every device with username and password (a wrong password first), is
// told what happened and how to activate the app again, and the next
// level-2 login offers that activation by SMS. The lost-mobile page and
// the legal texts are checked on the way, in English too.
func TestRecoverBrowserLostApp(t *testing.T) {
	ctx := browsertest.Tab(t, 2*time.Minute)
	a, base := enrolApp(t, nil)
	rbItalian(t, ctx, base)
	lbSteps(t, ctx, "lost app", chromedp.Navigate(base+"/recover"), chromedp.Click(`a[href^="/recover/app"]`), chromedp.WaitVisible(`#username`))
	browsertest.Page(t, ctx, "recover-app")
	lbSteps(t, ctx, "wrong password",
		chromedp.SendKeys(`#username`, demo.CitizenUsername),
		chromedp.SendKeys(`#password`, "sbagliata"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#error-summary`),
	)
	rbWant(t, ctx, "wrong", "Nome utente o password non corretti")
	lbSteps(t, ctx, "right password",
		chromedp.SendKeys(`#password`, demo.CitizenPassword),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`a[href="/account/"]`),
	)
	rbWant(t, ctx, "done", "Dispositivi scollegati", "codice inviato per SMS")
	browsertest.Page(t, ctx, "recover-app-done")
	id, err := a.Backends.Store.GetIdentityByUsername(context.Background(), demo.CitizenUsername)
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := a.Backends.Store.ListDevices(context.Background(), id.ID)
	for _, d := range devs {
		if d.Status != storage.DeviceRevoked {
			t.Errorf("device %s is %s", d.Name, d.Status)
		}
	}
	lbSteps(t, ctx, "level-2 login",
		chromedp.Navigate(base+demo.Prefix+"/"),
		chromedp.Click(`button[name="level"][value="2"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, demo.CitizenUsername),
		chromedp.SendKeys(`#password`, demo.CitizenPassword),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitNotPresent(`#password`),
	)
	rbWant(t, ctx, "activation offer", "567")

	lbSteps(t, ctx, "lost mobile", chromedp.Navigate(base+"/recover/mobile?lang=en"), chromedp.WaitVisible(`ol.steps`))
	rbWant(t, ctx, "lost mobile", "No longer have your mobile number?", "Write to customer care")
	browsertest.Page(t, ctx, "recover-mobile-en")
	for _, p := range []string{"privacy", "accessibility", "terms"} {
		for _, lang := range []string{"it", "en"} {
			lbSteps(t, ctx, p, chromedp.Navigate(base+"/"+p+"?lang="+url.QueryEscape(lang)), chromedp.WaitVisible(`article.legal`))
			browsertest.Page(t, ctx, "legal-"+p+"-"+lang)
		}
	}
}
