package app

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/portal"
)

var (
	regexpNr      = regexp.MustCompile(`nr\d\d`)
	regexpTitle   = regexp.MustCompile(`<title>[^<]*`)
	regexpSMSCode = regexp.MustCompile(`#(\d{6})`)
)

// lastSMS is the newest SMS to number in the demo outbox and the code it
// carries.
func lastSMS(t *testing.T, a *App, number string) (sms.OutboxEntry, string) {
	t.Helper()
	msg, err := sms.Outbox{Dir: SMSOutboxDir(a.Config)}.Last(number)
	if err != nil {
		t.Fatal(err)
	}
	code := regexpSMSCode.FindStringSubmatch(msg.Text)
	if code == nil {
		t.Fatalf("no code in the SMS %q", msg.Text)
	}
	return msg, code[1]
}

// waitMail waits for the newest e-mail to addr to have want in its subject:
// security notices are sent in the background.
func waitMail(t *testing.T, a *App, addr, want string) mail.Received {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := (mail.Outbox{Dir: a.Config.Mail.OutboxDir}).Last(addr)
		if err == nil && strings.Contains(m.Subject, want) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no e-mail %q to %s: last %+v, %v", want, addr, m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The probe of issue 11 against the assembled server (demo SP, demo
// citizen and its app, configured lockout, outbox mail): four logins of
// (right password, two wrong app codes) then a fifth with the right code.
// The fifth wrong code locks the identity (nr23 to the SP), the fifth login
// stops at nr23 after the password, consent is never shown, and the owner
// finds the lock e-mail in the outbox.
func TestS070_TOTPFailuresLockAcrossTransactions(t *testing.T) {
	// The production default (test apps raise it for the conformance suite).
	a, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) { cfg.Security.Lockout.MaxFailures = 5 }})
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	creds := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	near := func() []string {
		n := time.Now()
		return []string{otp.Code(seed, n.Add(-otp.Period)), otp.Code(seed, n), otp.Code(seed, n.Add(otp.Period)), otp.Code(seed, n.Add(2*otp.Period))}
	}
	wrong := 0
	nextWrong := func() string {
		for {
			wrong++
			c := fmt.Sprintf("%06d", 200000+wrong*7907)
			if !slices.Contains(near(), c) {
				return c
			}
		}
	}
	var outcomes []string
	for tx := 1; tx <= 5; tx++ {
		br := newBrowser(t)
		p := br.submit(br.submit(br.get(ts.URL+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"2"}}), "/login", creds)
		codes := 0
		for strings.Contains(p.body, `autocomplete="one-time-code"`) && codes < 2 {
			code := nextWrong()
			if tx == 5 {
				code = otp.Code(seed, time.Now()) // the right one, at last
			}
			p = br.submit(p, "/login/otp", url.Values{"otp": {code}, "op": {"submit"}})
			t.Logf("login %d code %s: %d %s", tx, code, p.status, regexpTitle.FindString(p.body))
			codes++
		}
		if strings.Contains(p.body, `value="accept"`) {
			t.Fatalf("login %d reached consent (outcomes so far %v)", tx, outcomes)
		}
		if strings.Contains(p.body, demo.Prefix+"/acs") {
			res := br.submit(p, demo.Prefix+"/acs", nil)
			outcomes = append(outcomes, fmt.Sprintf("%d:%s", tx, regexpNr.FindString(res.body)))
		}
	}
	// Locked by the fifth wrong code (third login); the fourth and fifth
	// logins stop right after the password.
	if want := []string{"3:nr23", "4:nr23", "5:nr23"}; !slices.Equal(outcomes, want) {
		t.Fatalf("SP outcomes %v, want %v", outcomes, want)
	}
	m := waitMail(t, a, demo.CitizenUsername, "bloccato")
	for _, want := range []string{"ora italiana", "Italian time", a.Config.Server.BaseURL + portal.Prefix + "/", portal.PathTicket} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("lock e-mail lacks %q:\n%s", want, m.Text)
		}
	}
}

// "Non sono stato io" in the reference app during a level-2 login: the
// page says the request was refused in the app (not "wrong username or
// password"), the owner gets an e-mail at once, and the personal area's
// access history lists the refusal.
func TestS083_PushDenialEndToEnd(t *testing.T) {
	a, base, info := portalApp(t)
	withoutDevices(t, a, "demo-citizen")
	ctx := context.Background()
	br := newBrowser(t)
	creds := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	start := func() page {
		return br.submit(br.submit(br.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"2"}}), "/login", creds)
	}

	// Activate the reference app inside a level-2 login (as a citizen does).
	smsPage := br.submit(start(), "/login/activate/start", url.Values{"op": {"submit"}})
	_, smsCode := lastSMS(t, a, "+393331234567")
	act := br.submit(smsPage, "/login/otp", url.Values{"otp": {smsCode}, "op": {"submit"}})
	m := activationCodeRE.FindStringSubmatch(act.body)
	if m == nil {
		t.Fatalf("no activation code on the page:\n%s", act.body)
	}
	app := &authapp.Client{}
	st, err := app.Activate(ctx, base, m[1], "Telefono di prova")
	if err != nil {
		t.Fatal(err)
	}
	code, _, err := st.OTP(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c := br.submit(act, "/login/activate", url.Values{"otp": {code}, "op": {"submit"}}); !strings.Contains(c.body, `value="accept"`) {
		t.Fatalf("activation did not reach consent:\n%s", c.body)
	}

	// A login the owner refuses in the app.
	p04 := br.submit(start(), "/login/method", url.Values{"op": {"push"}})
	if !pushNumberRE.MatchString(p04.body) {
		t.Fatalf("no push page:\n%s", p04.body)
	}
	chs, err := app.Challenges(ctx, st, 0)
	if err != nil || len(chs) != 1 {
		t.Fatalf("app challenges: %v %v", chs, err)
	}
	if err := app.Deny(ctx, st, chs[0].ID); err != nil {
		t.Fatal(err)
	}
	if poll := br.get(base + html.UnescapeString(pollURLRE.FindStringSubmatch(p04.body)[1])); !strings.Contains(poll.body, `"denied"`) {
		t.Fatalf("poll: %d %s", poll.status, poll.body)
	}
	back := br.submit(p04, "/login/push/done", url.Values{"op": {"submit"}})
	if !strings.Contains(back.body, "Non sono stato io") || strings.Contains(back.body, "Nome utente o password non corretti") ||
		!strings.Contains(back.body, `name="password"`) {
		t.Fatalf("page after the denial:\n%s", back.body)
	}
	mail := waitMail(t, a, demo.CitizenUsername, "rifiutata")
	if !strings.Contains(mail.Text, demo.SPName) || !strings.Contains(mail.Text, "Non sono stato io") {
		t.Errorf("denial e-mail:\n%s", mail.Text)
	}

	// The personal area (logged in with a push approval) lists it.
	pb := newBrowser(t)
	idpLogin := pb.submit(pb.get(base+portal.PathHome), portal.PathLogin, nil)
	choice := pb.submit(idpLogin, "/login", creds)
	pp := pb.submit(choice, "/login/method", url.Values{"op": {"push"}})
	nm := pushNumberRE.FindStringSubmatch(pp.body)
	if nm == nil {
		t.Fatalf("no push page for the portal login:\n%s", pp.body)
	}
	var number int
	fmt.Sscan(nm[1], &number)
	chs, err = app.Challenges(ctx, st, 0)
	if err != nil || len(chs) != 1 {
		t.Fatalf("app challenges: %v %v", chs, err)
	}
	if err := app.Approve(ctx, st, chs[0].ID, number); err != nil {
		t.Fatal(err)
	}
	// The IdP's own personal area asks no consent: the Response comes at once.
	answer := pb.submit(pp, "/login/push/done", url.Values{"op": {"submit"}})
	home := pb.submit(answer, portal.PathACS, nil)
	if !strings.Contains(home.body, "rifiutato nell&#39;app («Non sono stato io»)") || !strings.Contains(home.body, ">"+demo.SPName+"</td>") {
		t.Fatalf("the denial is not in the access history:\n%s", home.body)
	}
}
