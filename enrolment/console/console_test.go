package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/storage"
)

// shopRecognised runs a shop request through the agent's console pages
// with the operator agent; the request ends awaiting_processing.
func (f *fixture) shopRecognised(t *testing.T, agent string) storage.Enrolment {
	t.Helper()
	e := f.submitted(t, enrolment.PathShop, mario())
	b := f.browser(t)
	if p := b.login(agent); p.status != http.StatusOK {
		t.Fatalf("agent login: %d", p.status)
	}
	p := b.submit(b.get("/console/find"), "/console/find", url.Values{"code": {enrolment.FormatCode(e.Code)}, "cf_suffix": {"501u"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Rossi") {
		t.Fatalf("find: %d\n%s", p.status, p.body)
	}
	for _, k := range []string{evidence.KindDocumentFront, evidence.KindDocumentBack, evidence.KindAdhesionFormSigned} {
		p = b.upload(p, k, jpeg(k), "image/jpeg")
		if !strings.Contains(p.url.RawQuery, "ok=uploaded") {
			t.Fatalf("upload %s: %s", k, p.url)
		}
	}
	p = b.submit(p, "/otp-send", nil)
	p = b.submit(p, "/otp-check", url.Values{"otp": {f.lastCode(t)}})
	if !strings.Contains(p.url.RawQuery, "ok=otp_ok") {
		t.Fatalf("otp: %s", p.url)
	}
	p = b.submit(p, "/confirm", url.Values{"check": InPersonChecklist()})
	if p.status != http.StatusOK || f.state(t, e.ID) != string(enrolment.StateAwaitingProcessing) {
		t.Fatalf("confirm: %d, state %s\n%s", p.status, f.state(t, e.ID), p.body)
	}
	e, err := f.st.GetEnrolment(t.Context(), e.ID)
	must(t, "GetEnrolment", err)
	return e
}

// The whole way: agent recognition (E039, E040), the queue with the
// at-risk badge (E048), the recogniser refused (E051), a verifier's
// approval and the activation e-mail in the outbox.
func TestShopRecognitionQueueAndApproval(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent, enrolment.RoleVerifier) // recognises, then must not decide
	f.operator(t, "vera", enrolment.RoleVerifier)
	e := f.shopRecognised(t, "agent")

	// Monday 23:00: 37 of 48 working hours used, at risk.
	f.clk.Set(time.Date(2026, 11, 23, 23, 0, 0, 0, romeLoc))
	v := f.browser(t)
	p := v.login("vera")
	if p.status != http.StatusOK || !strings.Contains(p.body, enrolment.FormatCode(e.Code)) {
		t.Fatalf("queue: %d\n%s", p.status, p.body)
	}
	if !regexp.MustCompile(`badge-at_risk">a rischio`).MatchString(p.body) {
		t.Errorf("queue shows no at-risk badge:\n%s", p.body)
	}
	// The state in words of the page's language, not the citizen's
	// capitalised label (issue 12).
	if !strings.Contains(p.body, `data-label="Stato">In attesa di verifica</td>`) || strings.Contains(p.body, "IN ATTESA LAVORAZIONE") {
		t.Errorf("Italian queue, state not in words:\n%s", p.body)
	}
	if en := v.get("/console/?lang=en"); !strings.Contains(en.body, `data-label="State">Awaiting verification</td>`) || strings.Contains(en.body, "AWAITING") {
		t.Errorf("English queue, state not in words:\n%s", en.body)
	}
	v.get("/console/?lang=it") // the choice is remembered: back to Italian
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewDeadlineCollector(f.svc))
	if got := gauge(t, reg, "at_risk"); got != 1 {
		t.Errorf("metric at_risk = %v, want 1", got)
	}

	// Four eyes: the recogniser sees the reason and disabled buttons, and
	// a forged post is refused by the service.
	a := f.browser(t)
	a.login("agent")
	p = a.get("/console/requests/" + e.ID)
	if !strings.Contains(p.body, "Hai riconosciuto tu il richiedente") || !strings.Contains(p.body, "disabled") {
		t.Errorf("four-eyes reason not shown:\n%s", p.body)
	}
	p = a.submit(p, "/approve", url.Values{"check": enrolment.VerifierChecklist(e.Path, e.IdentityType)})
	// S090: the same person deciding is a 403 with a page in words, no redirect.
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Azione non consentita") || p.url.RawQuery != "" ||
		f.state(t, e.ID) != string(enrolment.StateAwaitingProcessing) {
		t.Errorf("recogniser's approval: %d %s, state %s", p.status, p.url, f.state(t, e.ID))
	}

	// Approval needs every item of §6.1.
	p = v.get("/console/requests/" + e.ID)
	// Codes in words (issue 12): the state, the identity type, no raw code.
	if !strings.Contains(p.body, "In attesa di verifica") || strings.Contains(p.body, "(awaiting_processing)") ||
		strings.Contains(p.body, "<dd>personal</dd>") || strings.Contains(p.body, ">cartaIdentita<") {
		t.Errorf("request page shows codes instead of words:\n%s", p.body)
	}
	p = v.submit(p, "/claim", nil)
	if !strings.Contains(p.url.RawQuery, "ok=claimed") {
		t.Fatalf("claim: %s", p.url)
	}
	items := enrolment.VerifierChecklist(e.Path, e.IdentityType)
	p = v.submit(p, "/approve", url.Values{"check": items[1:]})
	if !strings.Contains(p.url.RawQuery, "err=checklist") {
		t.Errorf("approval with an unticked item: %s", p.url)
	}
	p = v.submit(p, "/approve", url.Values{"check": items})
	if !strings.Contains(p.url.RawQuery, "ok=approved") || f.state(t, e.ID) != string(enrolment.StateApproved) {
		t.Fatalf("approve: %s, state %s", p.url, f.state(t, e.ID))
	}
	m, err := f.mails.Last("mario.rossi@example.it")
	must(t, "outbox", err)
	if !strings.Contains(m.Text, "https://idp.example.it/activate?token=") {
		t.Errorf("no activation link in %q", m.Text)
	}
	// Every step is in the audit log.
	for _, action := range []string{"console.login", "enrolment.agent_lookup", "enrolment.evidence", "console.otp_send",
		"console.otp_check", "enrolment.recognise", "enrolment.claim", "enrolment.approve", "console.view"} {
		if len(f.audits(t, action)) == 0 {
			t.Errorf("no audit record %s", action)
		}
	}
	denied := false
	for _, ev := range f.audits(t, "enrolment.approve") {
		denied = denied || ev.Actor == "op-agent" && ev.Outcome == "denied"
	}
	if !denied {
		t.Error("the recogniser's refused approval is not audited")
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, "Gather", err)
	for _, mf := range mfs {
		if mf.GetName() != "spid_enrolment_requests" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == status {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no gauge for %s", status)
	return 0
}

// E039: a wrong CF suffix finds nothing and shows nothing of the request.
func TestAgentFindOnlyByCodeAndSuffix(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	e := f.submitted(t, enrolment.PathShop, mario())
	b := f.browser(t)
	b.login("agent")
	for _, tc := range []struct{ code, suffix string }{
		{e.Code, "H502"}, {e.Code, ""}, {"0000000000", "H501"}, {e.ID, "H501"}, {e.Code[:9], "H501"},
	} {
		p := b.submit(b.get("/console/find"), "/console/find", url.Values{"code": {tc.code}, "cf_suffix": {tc.suffix}})
		if p.status != http.StatusNotFound || strings.Contains(p.body, "Rossi") || strings.Contains(p.body, "RSSMRA") {
			t.Errorf("%q/%q: status %d, body leaks data or finds it", tc.code, tc.suffix, p.status)
		}
	}
	// Opening by ID without the lookup: nothing.
	if p := b.get("/console/recognise/" + e.ID); p.status != http.StatusNotFound || strings.Contains(p.body, "Rossi") {
		t.Errorf("recognise by ID without lookup: %d", p.status)
	}
	// Confirming without scans and OTP is refused, request unchanged (E040).
	p := b.submit(b.get("/console/find"), "/console/find", url.Values{"code": {e.Code}, "cf_suffix": {"H501U"[1:]}})
	if p.status != http.StatusOK {
		t.Fatalf("find: %d", p.status)
	}
	p = b.submit(p, "/confirm", url.Values{"check": InPersonChecklist()})
	if p.status != http.StatusConflict || f.state(t, e.ID) != string(enrolment.StateAwaitingRecognition) {
		t.Errorf("incomplete confirm: %d, state %s", p.status, f.state(t, e.ID))
	}
	// An upload of the wrong type is refused.
	p = b.get("/console/recognise/" + e.ID)
	p = b.upload(p, evidence.KindDocumentFront, []byte("MZ\x90\x00 not an image"), "image/jpeg")
	if !strings.Contains(p.url.RawQuery, "err=upload") {
		t.Errorf("exe upload: %s", p.url)
	}
}

func TestRejectWithReasons(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	f.operator(t, "vera", enrolment.RoleVerifier)
	e := f.shopRecognised(t, "agent")
	v := f.browser(t)
	v.login("vera")
	p := v.get("/console/requests/" + e.ID)
	if p2 := v.submit(p, "/reject", nil); !strings.Contains(p2.url.RawQuery, "err=no_reason") {
		t.Errorf("reject without reason: %s", p2.url)
	}
	p = v.submit(p, "/reject", url.Values{"reason": {"document_illegible", "data_mismatch"}, "field": {"cognome"}, "note": {"internal"}})
	if !strings.Contains(p.url.RawQuery, "ok=rejected") || f.state(t, e.ID) != string(enrolment.StateRejected) {
		t.Fatalf("reject: %s", p.url)
	}
	m, err := f.mails.Last("mario.rossi@example.it")
	must(t, "outbox", err)
	for _, want := range []string{"carica immagini più leggibili", "cognome", "upload clearer images"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("rejection e-mail lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "internal") {
		t.Error("the internal note was e-mailed")
	}
}

// E050: two verifiers approving at once issue one identity.
func TestConcurrentApprovals(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	f.operator(t, "vera", enrolment.RoleVerifier)
	f.operator(t, "vito", enrolment.RoleVerifier)
	e := f.shopRecognised(t, "agent")
	items := url.Values{"check": enrolment.VerifierChecklist(e.Path, e.IdentityType)}
	var targets []string
	var forms []url.Values
	var bs []*browser
	for _, u := range []string{"vera", "vito"} {
		b := f.browser(t)
		b.login(u)
		target, v := b.form(b.get("/console/requests/"+e.ID), "/approve")
		for k, vs := range items {
			v[k] = vs
		}
		bs, targets, forms = append(bs, b), append(targets, target), append(forms, v)
	}
	var wg sync.WaitGroup
	res := make([]page, 2)
	for i := range bs {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = bs[i].post(targets[i], forms[i]) }()
	}
	wg.Wait()
	ok := 0
	for _, r := range res {
		if strings.Contains(r.url.RawQuery, "ok=approved") {
			ok++
		}
	}
	ids, err := f.st.ListIdentities(t.Context())
	must(t, "ListIdentities", err)
	if ok != 1 || len(ids) != 1 {
		t.Errorf("%d approvals succeeded, %d identities: want 1 and 1", ok, len(ids))
	}
}

// E036, E037: the video operator confirms only with every item ticked
// (each time-stamped), the OTP of this session, and the recording.
func TestVideoRecognition(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "vid", enrolment.RoleVideoOperator)
	f.operator(t, "vid2", enrolment.RoleVideoOperator)
	e := f.submitted(t, enrolment.PathVideo, mario())
	b := f.browser(t)
	b.login("vid")
	p := b.submit(b.get("/console/find"), "/console/find", url.Values{"code": {e.Code}, "cf_suffix": {"501U"}})
	if !strings.Contains(p.body, "WebRTC") {
		t.Error("the page does not say the WebRTC session is out of scope")
	}
	// A code sent in another operator's session does not count here.
	o := f.browser(t)
	o.login("vid2")
	po := o.submit(o.get("/console/find"), "/console/find", url.Values{"code": {e.Code}, "cf_suffix": {"501U"}})
	p = b.submit(p, "/otp-send", nil)
	mine := f.lastCode(t)
	o.submit(po, "/otp-send", nil)
	other := f.lastCode(t)
	if other == mine {
		t.Skip("two equal random codes")
	}
	if p = b.submit(p, "/otp-check", url.Values{"otp": {other}}); !strings.Contains(p.url.RawQuery, "err=otp_wrong") {
		t.Errorf("another session's code accepted: %s", p.url)
	}
	p = b.submit(p, "/otp-check", url.Values{"otp": {mine}})
	if !strings.Contains(p.url.RawQuery, "ok=otp_ok") {
		t.Fatalf("own code: %s", p.url)
	}
	p = b.upload(p, evidence.KindVideoRecording, webm(), "video/webm")
	items := VideoChecklist()
	for _, k := range items[:len(items)-1] {
		if k == itemOTP {
			continue
		}
		f.clk.Set(f.clk.Now().Add(10 * time.Second))
		p = b.submit(p, "/tick", url.Values{"item": {k}})
	}
	p = b.submit(p, "/confirm", nil)
	if p.status != http.StatusConflict || !strings.Contains(p.body, checkLabel(items[len(items)-1], "it")) ||
		f.state(t, e.ID) != string(enrolment.StateAwaitingRecognition) {
		t.Fatalf("confirm with an unticked item: %d, state %s", p.status, f.state(t, e.ID))
	}
	p = b.get("/console/recognise/" + e.ID)
	p = b.submit(p, "/tick", url.Values{"item": {items[len(items)-1]}})
	p = b.submit(p, "/confirm", nil)
	if p.status != http.StatusOK || f.state(t, e.ID) != string(enrolment.StateAwaitingProcessing) {
		t.Fatalf("confirm: %d, state %s\n%s", p.status, f.state(t, e.ID), p.body)
	}
	_, req, err := f.svc.Get(t.Context(), e.ID)
	must(t, "Get", err)
	if !req.HasEvidence(evidence.KindVideoChecklist) || !req.HasEvidence(evidence.KindVideoRecording) {
		t.Error("checklist or recording not kept as evidence")
	}
}

// E097, §12.3: no reason, no opening; an opening is audited and streamed
// once, never cached; recordings only for supervisors.
func TestEvidenceAccess(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	f.operator(t, "vera", enrolment.RoleVerifier)
	e := f.shopRecognised(t, "agent")
	_, req, err := f.svc.Get(t.Context(), e.ID)
	must(t, "Get", err)
	var front evidence.Item
	for _, it := range req.Evidence {
		if it.Kind == evidence.KindDocumentFront {
			front = it
		}
	}
	v := f.browser(t)
	v.login("vera")
	page := v.get("/console/requests/" + e.ID)
	action := "/evidence/" + front.ID
	p := v.submit(page, action, url.Values{"reason": {""}, "reference": {"x"}})
	if p.status != http.StatusBadRequest {
		t.Errorf("no reason: %d", p.status)
	}
	p = v.submit(page, action, url.Values{"reason": {"gossip"}, "reference": {"x"}})
	if p.status != http.StatusBadRequest {
		t.Errorf("unknown reason: %d", p.status)
	}
	p = v.submit(page, action, url.Values{"reason": {"verification"}, "reference": {"pratica 42"}})
	if p.status != http.StatusOK || p.body != string(jpeg(evidence.KindDocumentFront)) {
		t.Fatalf("open: %d", p.status)
	}
	if p.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(p.header.Get("Content-Disposition"), "inline; filename=") ||
		p.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("headers: %v", p.header)
	}
	if again := v.get(p.url.Path); again.status != http.StatusNotFound {
		t.Errorf("ticket used twice: %d", again.status)
	}
	var ok, denied int
	for _, ev := range f.audits(t, "console.evidence_open") {
		switch ev.Outcome {
		case "success":
			ok++
			if ev.Details["reason"] != "verification" || ev.Details["reference"] != "pratica 42" || ev.Details["evidence_id"] != front.ID {
				t.Errorf("access log: %v", ev.Details)
			}
		case "denied":
			denied++
		}
	}
	if ok != 1 || denied != 2 {
		t.Errorf("access log: %d openings, %d refusals; want 1 and 2", ok, denied)
	}
	// The verifier opens the recording to compare the face, for the
	// verification only (issue 12); any other reason needs a supervisor.
	must(t, "AddEvidence", f.svc.AddEvidence(t.Context(), e.ID, evidence.Item{ID: strings.Repeat("ab", 16), Kind: evidence.KindVideoRecording,
		SHA256: strings.Repeat("cd", 32), Size: 10, MediaType: "video/webm", UploadedBy: "x"}))
	target := f.srv.URL + "/console/requests/" + e.ID + "/evidence/" + strings.Repeat("ab", 16)
	_, hidden := v.form(page, action)
	hidden.Set("reason", "dispute")
	hidden.Set("reference", "r")
	if p := v.post(target, hidden); p.status != http.StatusForbidden {
		t.Errorf("verifier opened a recording for a dispute: %d", p.status)
	}
	hidden.Set("reason", "verification")
	if p := v.postNoFollow(target, hidden); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/evidence/") {
		t.Errorf("verifier could not open the recording for the verification: %d %s", p.status, p.header.Get("Location"))
	}
	last := f.audits(t, "console.evidence_open")
	if ev := last[len(last)-1]; ev.Outcome != "success" || ev.Details["kind"] != evidence.KindVideoRecording {
		t.Errorf("opening of the recording not audited: %+v", ev)
	}
}

// §2: agents do not browse or decide; auditors only read. S089: every
// forbidden action answers 403 with a page in words, never a 303.
func TestRolesS089(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "agent", enrolment.RoleShopAgent)
	f.operator(t, "agent2", enrolment.RoleShopAgent)
	f.operator(t, "audrey", enrolment.RoleAuditor)
	e := f.shopRecognised(t, "agent")

	ag := f.browser(t)
	ag.login("agent2")
	if p := ag.get("/console/queue"); p.status != http.StatusForbidden {
		t.Errorf("agent sees the queue: %d", p.status)
	}
	if p := ag.get("/console/requests/" + e.ID); p.status != http.StatusForbidden || strings.Contains(p.body, "Rossi") {
		t.Errorf("agent sees a case: %d", p.status)
	}
	target, v := ag.form(ag.get("/console/find"), "/console/find")
	_ = target
	v.Set("check", "cf_valid")
	if p := ag.postNoFollow(f.srv.URL+"/console/requests/"+e.ID+"/approve", v); p.status != http.StatusForbidden ||
		!strings.Contains(p.body, "Il tuo ruolo non consente questa azione") || p.header.Get("Location") != "" {
		t.Errorf("agent approve: %d %q", p.status, p.header.Get("Location"))
	}

	au := f.browser(t)
	p := au.login("audrey")
	if p.status != http.StatusOK || !strings.Contains(p.body, enrolment.FormatCode(e.Code)) {
		t.Fatalf("auditor queue: %d", p.status)
	}
	p = au.get("/console/requests/" + e.ID)
	if p.status != http.StatusOK || strings.Contains(p.body, "/approve") || strings.Contains(p.body, "/evidence/") {
		t.Errorf("auditor page offers actions or evidence: %d", p.status)
	}
	_, hv := au.form(p, "/console/logout")
	hv.Set("check", "cf_valid")
	for _, action := range []string{"approve", "claim", "reject", "received"} {
		if p := au.postNoFollow(f.srv.URL+"/console/requests/"+e.ID+"/"+action, hv); p.status != http.StatusForbidden ||
			!strings.Contains(p.body, "Azione non consentita") {
			t.Errorf("auditor %s: %d %q", action, p.status, p.header.Get("Location"))
		}
	}
	if f.state(t, e.ID) != string(enrolment.StateAwaitingProcessing) {
		t.Errorf("state changed to %s", f.state(t, e.ID))
	}
	if n := len(f.audits(t, "enrolment.approve")); n != 2 {
		t.Errorf("%d approve audit records, want the 2 refusals", n)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	f.operator(t, "vera", enrolment.RoleVerifier)
	b := f.browser(t)
	p := b.get("/console/login")
	if !strings.Contains(p.body, `autocomplete="current-password"`) {
		t.Error("no current-password field")
	}
	// Without the form's token: refused.
	if r := b.post(f.srv.URL+"/console/login", url.Values{"username": {"vera"}, "password": {"Password-vera-1"}}); r.status != http.StatusForbidden {
		t.Errorf("login without CSRF: %d", r.status)
	}
	p = b.get("/console/login")
	if r := b.submit(p, "/console/login", url.Values{"username": {"vera"}, "password": {"wrong"}}); r.status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", r.status)
	}
	if r := b.submit(b.get("/console/login"), "/console/login", url.Values{"username": {"nobody"}, "password": {"x"}}); r.status != http.StatusUnauthorized {
		t.Errorf("unknown user: %d", r.status)
	}
	// Throttled after 10 attempts per username in 15 minutes.
	var last page
	for range 10 {
		last = b.submit(b.get("/console/login"), "/console/login", url.Values{"username": {"vera"}, "password": {"wrong"}})
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("no throttling: %d", last.status)
	}
	f.clk.Set(f.clk.Now().Add(16 * time.Minute))
	p = b.login("vera")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Coda di verifica") {
		t.Fatalf("login: %d", p.status)
	}
	// Posts need the session's CSRF token.
	if r := b.post(f.srv.URL+"/console/logout", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("logout without token: %d", r.status)
	}
	p = b.submit(b.get("/console/queue"), "/console/logout", nil)
	if !strings.HasSuffix(p.url.Path, "/console/login") {
		t.Errorf("after logout: %s", p.url)
	}
	if r := b.get("/console/queue"); !strings.HasSuffix(r.url.Path, "/console/login") {
		t.Errorf("session alive after logout: %s", r.url)
	}
	// Idle timeout.
	b.login("vera")
	f.clk.Set(f.clk.Now().Add(SessionIdle + time.Minute))
	if r := b.get("/console/queue"); !strings.HasSuffix(r.url.Path, "/console/login") {
		t.Errorf("idle session alive: %s", r.url)
	}
	var fails, oks int
	for _, ev := range f.audits(t, "console.login") {
		switch ev.Outcome {
		case "success":
			oks++
		default:
			fails++
		}
		if strings.Contains(strings.Join(mapValues(ev.Details), " "), "wrong") {
			t.Error("a password reached the audit log")
		}
	}
	if oks != 2 || fails < 13 {
		t.Errorf("login audit: %d ok, %d failed", oks, fails)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestStateWordsEveryState: every state has console words in both
// languages, so none falls back to its code.
func TestStateWordsEveryState(t *testing.T) {
	for _, st := range enrolment.States() {
		for _, lang := range []string{"it", "en"} {
			if w := st.Words(lang); w == string(st) || w == st.Label(lang) || w == "" {
				t.Errorf("%s in %s: %q", st, lang, w)
			}
		}
	}
}
