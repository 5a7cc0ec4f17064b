package app

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// careOperators signs operators in by a test cookie, standing in for the
// console's session.
type careOperators map[string]storage.Operator

func (c careOperators) Operator(r *http.Request) (storage.Operator, bool) {
	k, err := r.Cookie("test-operator")
	if err != nil {
		return storage.Operator{}, false
	}
	op, ok := c[k.Value]
	return op, ok
}

var careTestOperators = careOperators{
	"carla": {ID: "op-carla", Username: "carla", Roles: []string{"care_agent"}},
	"sara":  {ID: "op-sara", Username: "sara", Roles: []string{"supervisor"}},
	"vito":  {ID: "op-vito", Username: "vito", Roles: []string{"verifier"}},
}

type careClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *careClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *careClock) add(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

func careSignIn(t *testing.T, br *browser, base, who string) {
	u, _ := url.Parse(base)
	br.c.Jar.SetCookies(u, []*http.Cookie{{Name: "test-operator", Value: who, Path: "/"}})
}

var careHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)

// carePost posts the first form on p whose action contains action as
// multipart, with its hidden fields, fields and files.
func carePost(t *testing.T, br *browser, p page, action string, fields map[string]string, files map[string][]byte) page {
	t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(p.body, -1) {
		if !strings.Contains(m[1], action) {
			continue
		}
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, in := range careHiddenRE.FindAllStringSubmatch(m[2], -1) {
			_ = mw.WriteField(in[1], htmlUnescape(in[2]))
		}
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		for name, content := range files {
			fw, _ := mw.CreateFormFile("attachments", name)
			_, _ = fw.Write(content)
		}
		_ = mw.Close()
		target, _ := p.url.Parse(htmlUnescape(m[1]))
		req, _ := http.NewRequest("POST", target.String(), &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return br.do(req)
	}
	t.Fatalf("no form %q on %s:\n%s", action, p.url, p.body)
	return page{}
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// careLogin logs the demo citizen in at the demo SP (level 1) and returns
// the SP's result page.
func careLogin(t *testing.T, base string, info DemoInfo) page {
	t.Helper()
	br := newBrowser(t)
	login := br.submit(br.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"1"}})
	next := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if strings.Contains(next.body, `value="accept"`) {
		next = br.submit(next, "/consent", url.Values{"op": {"accept"}})
	}
	return br.submit(next, demo.Prefix+"/acs", nil)
}

var tinyPDF = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

func TestCareEndToEnd(t *testing.T) {
	a, ts, info := testApp(t)
	h, err := a.SetupCare(careTestOperators)
	if err != nil {
		t.Fatal(err)
	}
	clk := &careClock{}
	h.Desk.Now = clk.now
	outbox := mail.Outbox{Dir: a.Config.Mail.OutboxDir}
	base := ts.URL

	// 1. A citizen files a ticket with a screenshot; the reference is shown and e-mailed.
	citizen := newBrowser(t)
	form := citizen.get(base + "/care/tickets/new")
	filed := carePost(t, citizen, form, "/care/tickets/new", map[string]string{"email": "lucia@example.org",
		"subject": "Codice non ricevuto", "message": "Non arriva il codice.", "product": "SPID"},
		map[string][]byte{"schermata.pdf": tinyPDF})
	ref := regexp.MustCompile(`TT-\d{4}-[0-9A-Z]{8}`).FindString(filed.body)
	if filed.status != 200 || ref == "" {
		t.Fatalf("ticket: %d\n%s", filed.status, filed.body)
	}
	careConfirm(t, citizen, outbox, "lucia@example.org", ref)
	// The same form again (replay) is refused.
	if again := carePost(t, citizen, form, "/care/tickets/new", map[string]string{"email": "lucia@example.org",
		"subject": "x", "message": "y"}, nil); again.status != http.StatusForbidden {
		t.Errorf("replayed form: %d", again.status)
	}
	// A dangerous attachment is refused and nothing is stored.
	bad := carePost(t, citizen, citizen.get(base+"/care/tickets/new"), "/care/tickets/new", map[string]string{
		"email": "lucia@example.org", "subject": "x", "message": "y"}, map[string][]byte{"pagina.html": []byte("<html><script>x</script>")})
	if bad.status != http.StatusBadRequest {
		t.Errorf("HTML attachment: %d", bad.status)
	}

	// 2. The agent finds it in the queue, works it and answers by e-mail.
	agent := newBrowser(t)
	careSignIn(t, agent, base, "carla")
	desk := agent.get(base + "/console/care/")
	link := regexp.MustCompile(`href="(/console/care/tickets/[^"]+)">` + ref).FindStringSubmatch(desk.body)
	if link == nil {
		t.Fatalf("ticket not in the queue:\n%s", desk.body)
	}
	tp := agent.get(base + link[1])
	tp = agent.submit(tp, link[1], url.Values{"op": {"move"}, "state": {"open"}, "category": {"identity_use"}})
	tp = agent.submit(tp, link[1], url.Values{"op": {"move"}, "state": {"solution_ready"}})
	tp = agent.submit(tp, link[1], url.Values{"op": {"answer"}, "answer": {"Abbiamo verificato il numero di cellulare."}})
	if tp.status != 200 {
		t.Fatalf("answer: %d\n%s", tp.status, tp.body)
	}
	if m, _ := outbox.Last("lucia@example.org"); !strings.Contains(m.Text, "verificato il numero") {
		t.Errorf("answer not in the outbox: %q", m.Text)
	}

	// 3. A complaint by web form: the desk shows its 14-day deadline, then
	// at risk and late as the clock moves.
	cform := citizen.get(base + "/care/complaints/new")
	cfiled := carePost(t, citizen, cform, "/care/complaints/new", map[string]string{"email": "lucia@example.org",
		"subject": "Reclamo", "message": "Servizio non disponibile per tre giorni."}, nil)
	cref := regexp.MustCompile(`RC-\d{4}-[0-9A-Z]{8}`).FindString(cfiled.body)
	if cref == "" {
		t.Fatalf("complaint: %d\n%s", cfiled.status, cfiled.body)
	}
	careConfirm(t, citizen, outbox, "lucia@example.org", cref)
	due := h.Desk.Now().In(romeLoc(t)).AddDate(0, 0, 14).Format("02/01/2006")
	desk = agent.get(base + "/console/care/")
	if !strings.Contains(desk.body, cref) || !strings.Contains(desk.body, due+" 23:59") || !strings.Contains(desk.body, "badge-on_time") {
		t.Fatalf("complaint deadline %s not on the desk:\n%s", due, desk.body)
	}
	clk.add(12 * 24 * time.Hour)
	if desk = agent.get(base + "/console/care/"); !strings.Contains(desk.body, "badge-at_risk") {
		t.Error("no at-risk badge")
	}
	if m := metricsBody(t, base); !strings.Contains(m, `spid_care_open_complaints{deadline="at_risk"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}
	clk.add(3 * 24 * time.Hour)
	if desk = agent.get(base + "/console/care/"); !strings.Contains(desk.body, "badge-late") {
		t.Error("no late badge")
	}
	if m := metricsBody(t, base); !strings.Contains(m, `spid_care_open_complaints{deadline="late"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}

	// 4. A complaint received by PEC, registered by the agent with the scan.
	reg := agent.get(base + "/console/care/complaints/register")
	regd := carePost(t, agent, reg, "/console/care/complaints/register", map[string]string{"channel": "pec",
		"received": "2026-11-23", "email": "avv.bianchi@example.org", "subject": "Reclamo via PEC", "message": "Testo della PEC."},
		map[string][]byte{"pec.pdf": tinyPDF})
	if regd.status != 200 || !strings.Contains(regd.body, "07/12/2026") || !strings.Contains(regd.body, "PEC") {
		t.Fatalf("PEC complaint: %d\n%s", regd.status, regd.body)
	}

	// 5. Without the role: a verifier is refused at the desk.
	verifier := newBrowser(t)
	careSignIn(t, verifier, base, "vito")
	if p := verifier.get(base + "/console/care/"); p.status != http.StatusForbidden || !strings.Contains(p.body, "Azione non consentita") {
		t.Errorf("verifier at the desk: %d", p.status)
	}

	// 6. Care suspends the demo identity after verifying the caller: the
	// demo SP gets nr23; the reactivation needs a second operator.
	look := agent.get(base + "/console/care/identity?q=" + url.QueryEscape(info.Username))
	if !strings.Contains(look.body, `value="suspend"`) {
		t.Fatalf("lookup:\n%s", look.body)
	}
	act := regexp.MustCompile(`action="(/console/care/identity/[^"]+)"`).FindStringSubmatch(look.body)[1]
	// The old tick-box is gone: a phone request without the code, or with
	// the form's former "verified" field, is refused.
	unverified := agent.submit(look, act, url.Values{"op": {"suspend"}, "channel": {"phone"}, "verified": {"1"}})
	if !strings.Contains(unverified.url.RawQuery, "error=unverified") {
		t.Fatalf("suspension without verification: %s", unverified.url)
	}
	if res := careLogin(t, base, info); !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("login before suspension:\n%s", res.body)
	}
	sent := agent.submit(look, act, url.Values{"op": {"send_code"}})
	if !strings.Contains(sent.url.RawQuery, "notice=code_sent") || !strings.Contains(sent.body, `name="caller_code"`) {
		t.Fatalf("caller code: %s\n%s", sent.url, sent.body)
	}
	id, err := a.Backends.Store.GetIdentityByUsername(context.Background(), info.Username)
	if err != nil {
		t.Fatal(err)
	}
	text, err := sms.Outbox{Dir: SMSOutboxDir(a.Config)}.Last(id.Attributes["mobilePhone"])
	if err != nil {
		t.Fatal(err)
	}
	callerCode := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(text.Text)
	susp := agent.submit(sent, act, url.Values{"op": {"suspend"}, "channel": {"phone"}, "caller_code": {callerCode}})
	if !strings.Contains(susp.url.RawQuery, "notice=done") {
		t.Fatalf("suspension: %s\n%s", susp.url, susp.body)
	}
	if res := careLogin(t, base, info); !strings.Contains(res.body, "ErrorCode nr23") {
		t.Fatalf("suspended identity did not get nr23:\n%s", res.body)
	}
	prop := agent.submit(susp, act, url.Values{"op": {"propose"}})
	if !strings.Contains(prop.url.RawQuery, "notice=done") {
		t.Fatalf("proposal: %s", prop.url)
	}
	if self := agent.submit(prop, act, url.Values{"op": {"approve"}}); self.status != http.StatusForbidden || !strings.Contains(self.body, "Azione non consentita") {
		t.Fatalf("the proposer approved: %d %s", self.status, self.url)
	}
	if res := careLogin(t, base, info); !strings.Contains(res.body, "ErrorCode nr23") {
		t.Fatal("reactivated by one person")
	}
	sup := newBrowser(t)
	careSignIn(t, sup, base, "sara")
	sp := sup.get(base + "/console/care/identity?q=" + url.QueryEscape(info.Username))
	if ok := sup.submit(sp, act, url.Values{"op": {"approve"}}); !strings.Contains(ok.url.RawQuery, "notice=done") {
		t.Fatalf("approval: %s\n%s", ok.url, ok.body)
	}
	if res := careLogin(t, base, info); !strings.Contains(res.body, "DEMO0000000001") {
		t.Fatalf("login after reactivation:\n%s", res.body)
	}

	// 7. Every action is in the audit log.
	evs, err := a.Backends.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.Action+"/"+ev.Outcome] = true
	}
	for _, want := range []string{"care.file/success", "care.file/denied", "care.ticket.move/success", "care.ticket.answer/success",
		"care.desk/denied", "care.identity.lookup/success", "care.caller.code_sent/success", "care.caller.verify/success",
		"care.identity.suspend/denied", "lifecycle.suspend/success", "lifecycle.propose/success",
		"lifecycle.approve/success"} {
		if !seen[want] {
			t.Errorf("no audit record %s", want)
		}
	}
}

// careConfirm opens the confirmation link of an unverified filing (E110)
// and checks the acknowledgement with the reference.
func careConfirm(t *testing.T, br *browser, outbox mail.Outbox, to, ref string) {
	t.Helper()
	m, err := outbox.Last(to)
	if err != nil || !strings.Contains(m.Text, ref) {
		t.Fatalf("confirmation e-mail: %v", err)
	}
	link := regexp.MustCompile(`http://\S+/care/confirm\?\S+`).FindString(m.Text)
	if p := br.get(link); p.status != 200 || !strings.Contains(p.body, ref) {
		t.Fatalf("confirm %q: %d", link, p.status)
	}
	if m, err = outbox.Last(to); err != nil || !strings.Contains(m.Subject, ref) || strings.Contains(m.Text, "/care/confirm") {
		t.Fatalf("acknowledgement: %v %+v", err, m.Message)
	}
}

func romeLoc(t *testing.T) *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func metricsBody(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
