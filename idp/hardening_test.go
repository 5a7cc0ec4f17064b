package idp

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/templates"
)

// S082 / C.8: a page that hands a SAML message to an SP may post to that
// message's endpoint origin and nowhere else; the pages before it keep the
// server's policy (forms to the IdP only).
func TestS082_FormActionIsTheAnsweredFlowsOriginOnly(t *testing.T) {
	h := newHarness(t)
	sp := h.addSPWith(metadatatest.Options{EntityID: "https://sp-c.example.it", DisplayName: "Servizio C",
		ACS: []string{"https://acs.sp-c.example.it:8443/spid/acs"}})
	const acsOrigin = "https://acs.sp-c.example.it:8443"

	b := h.browser()
	q := bindingtest.Redirect{XML: h.authnRequest(sp, 1), Key: sp.Pair.Key}.Query()
	login := b.Get(h.Base + PathSSORedirect + "?" + q)
	consent := b.Submit(login, authflow.PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {h.Password},
		templates.FieldOp: {templates.OpSubmit}})
	for name, p := range map[string]page{"login": login, "consent": consent} {
		if got := p.Header.Get(csp.Header); strings.Contains(got, "sp-c") {
			t.Errorf("%s page may post to the SP before consent: %q", name, got)
		}
	}
	transfer := b.Submit(consent, authflow.PathConsent, url.Values{templates.FieldOp: {templates.OpAccept}})
	if got, want := transfer.Header.Get(csp.Header), csp.Policy(acsOrigin); got != want {
		t.Errorf("Response page CSP\n %q\nwant\n %q", got, want)
	}
	if !strings.Contains(transfer.Body, `action="https://acs.sp-c.example.it:8443/spid/acs"`) {
		t.Fatalf("no form to the ACS:\n%s", transfer.Body)
	}

	// An error Response (the citizen cancels) goes the same way.
	b2 := h.browser()
	login = b2.Get(h.Base + PathSSORedirect + "?" + bindingtest.Redirect{XML: h.authnRequest(sp, 1), Key: sp.Pair.Key}.Query())
	cancelled := b2.Submit(login, authflow.PathLogin, url.Values{templates.FieldOp: {templates.OpCancel}})
	if got, want := cancelled.Header.Get(csp.Header), csp.Policy(acsOrigin); got != want {
		t.Errorf("error Response page CSP %q, want %q", got, want)
	}

	// The session page's "sign out everywhere" redirects to the SPs' SLO
	// services: that page may reach those and no other origin.
	b.login(h.A, 1)
	sess := b.Get(h.Base + PathSession)
	got := sess.Header.Get(csp.Header)
	for _, want := range []string{"https://sp-c.example.it", "https://sp-a.example.it"} {
		if !strings.Contains(got, " "+want) {
			t.Errorf("session page CSP %q lacks the SLO origin %s", got, want)
		}
	}
	if strings.Contains(got, "sp-b") || strings.Contains(got, "acs.sp-c") {
		t.Errorf("session page CSP %q names an origin the session does not need", got)
	}
}

// lockedBuffer collects log output from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// S056 (A.14): a RelayState of 81 to 1024 bytes is accepted, returned
// unchanged and logged as a warning naming the SP (never the value); 80
// bytes are not logged; 1025 bytes are refused with nr04.
func TestS056_LongRelayStateIsLoggedWithTheSP(t *testing.T) {
	h := newHarness(t)
	var logs lockedBuffer
	h.IdP.o.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	send := func(relay string) page {
		b := h.browser()
		q := bindingtest.Redirect{XML: h.authnRequest(h.A, 1), Key: h.A.Pair.Key, RelayState: relay}.Query()
		return b.Get(h.Base + PathSSORedirect + "?" + q)
	}

	if p := send(strings.Repeat("r", 80)); p.Status != http.StatusOK {
		t.Fatalf("80-byte RelayState: %d", p.Status)
	}
	if l := logs.take(); strings.Contains(l, "RelayState") {
		t.Errorf("80 bytes logged: %s", l)
	}

	relay := strings.Repeat("s", 81)
	p := send(relay)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("81-byte RelayState not accepted: %d", p.Status)
	}
	l := logs.take()
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "RelayState longer than the 80 bytes") ||
		!strings.Contains(l, "sp="+spAEntity) || !strings.Contains(l, "bytes=81") {
		t.Errorf("want a warning with the SP and the length, got:\n%s", l)
	}
	if strings.Contains(l, relay) {
		t.Error("the RelayState value was logged")
	}

	// Returned byte for byte at the end of the flow.
	b := h.browser()
	q := bindingtest.Redirect{XML: h.authnRequest(h.A, 1), Key: h.A.Pair.Key, RelayState: strings.Repeat("x", 1024)}.Query()
	login := b.Get(h.Base + PathSSORedirect + "?" + q)
	consent := b.Submit(login, authflow.PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {h.Password},
		templates.FieldOp: {templates.OpSubmit}})
	_, v := b.Form(b.Submit(consent, authflow.PathConsent, url.Values{templates.FieldOp: {templates.OpAccept}}), h.A.EntityID)
	if v.Get("RelayState") != strings.Repeat("x", 1024) {
		t.Errorf("1024-byte RelayState not returned unchanged (%d bytes)", len(v.Get("RelayState")))
	}

	if p := send(strings.Repeat("r", 1025)); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "04") {
		t.Errorf("1025-byte RelayState: %d, want 403 nr04", p.Status)
	}
}
