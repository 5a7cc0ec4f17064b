package app

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
)

// TestSSOAcrossSAMLAndOIDC: one SpidL1 session for both protocols
// (oidc-federation.md §3.5, §7). After a SAML login at level 1 an OIDC
// SpidL1 authorization goes straight to consent and joins the session as
// an OIDC participant; an SpidL2 one, or one with prompt=consent login,
// asks for the password again; Single
// Logout started by the SAML SP then completes without a LogoutRequest to
// the relying party, whose access token stops working.
func TestSSOAcrossSAMLAndOIDC(t *testing.T) {
	a, ts, info := testApp(t)
	issuer := a.Config.OIDC.Issuer
	rp := a.demoFed.RP1
	br := newBrowser(t)

	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	result := br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	if !strings.Contains(result.body, "TINIT-RSSMRA80A01H501U") {
		t.Fatalf("SAML login: %d\n%s", result.status, result.body)
	}

	// OIDC at SpidL1: the session answers, no password page.
	ro, pend := rp.Request(issuer, []string{testAcrL1}, testClaims)
	ro["prompt"] = "consent" // "consent login" would never reuse it
	p := authorize(br, issuer, rp, ro)
	if strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, `value="accept"`) {
		t.Fatalf("OIDC SpidL1 after a SAML login did not reuse the session: %d\n%s", p.status, p.body)
	}
	back := br.submit(p, "/consent", url.Values{"op": {"accept"}})
	code := back.url.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", back.url)
	}
	tok := redeem(t, rp, issuer, code, pend)
	at, _ := tok["access_token"].(string)
	if at == "" {
		t.Fatalf("token: no access_token in %v", tok)
	}
	if got := userinfoStatus(t, a, at); got != http.StatusOK {
		t.Fatalf("userinfo before logout: %d", got)
	}
	sess := onlySession(t, a, br, ts.URL)
	var protos []string
	for _, part := range sess.Participants {
		protos = append(protos, part.Protocol+"|"+part.SPEntityID)
	}
	if !slices.Contains(protos, storage.ProtocolOIDC+"|"+rp.ID) || len(protos) != 2 {
		t.Fatalf("session participants %q, want the SAML SP and the OIDC RP %s", protos, rp.ID)
	}

	// OIDC at SpidL2: never the SpidL1 session.
	ro2, _ := rp.Request(issuer, []string{testAcrL2}, testClaims)
	ro2["prompt"] = "consent"
	if p := authorize(br, issuer, rp, ro2); !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("OIDC SpidL2 reused the SpidL1 session: %d\n%s", p.status, p.body)
	}

	// prompt=consent login: never the session either.
	ro4, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
	if p := authorize(br, issuer, rp, ro4); !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("OIDC prompt=consent login reused the SpidL1 session: %d\n%s", p.status, p.body)
	}

	// SAML Single Logout from the SP: success, though the session holds an
	// OIDC participant that no LogoutRequest can reach.
	out := br.submit(result, "/demo-sp/logout", nil)
	if out.url.Path != "/demo-sp/slo" || !strings.Contains(out.body, "alert-success") {
		t.Fatalf("logout did not complete at the SP: %s\n%s", out.url, out.body)
	}
	if got := userinfoStatus(t, a, at); got != http.StatusUnauthorized {
		t.Fatalf("userinfo after Single Logout: %d, want 401", got)
	}
	evs, err := a.Backends.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	ended := slices.ContainsFunc(evs, func(e storage.AuditEvent) bool {
		return e.Action == "oidc.session_ended" && e.Target == rp.ID
	})
	if !ended {
		t.Fatal("no oidc.session_ended audit record for the relying party")
	}
	// And the next OIDC SpidL1 request asks for the password again.
	ro3, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
	ro3["prompt"] = "consent"
	if p := authorize(br, issuer, rp, ro3); !strings.Contains(p.body, `name="password"`) {
		t.Fatal("after Single Logout the session was still reused by OIDC")
	}
}

// onlySession returns the SSO session the browser's cookie names.
func onlySession(t *testing.T, a *App, br *browser, base string) storage.Session {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/session", nil)
	u, _ := url.Parse(base)
	for _, c := range br.c.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	s, _, ok := a.Flow.CurrentSession(context.Background(), req)
	if !ok {
		t.Fatal("the browser has no SSO session")
	}
	return s
}
