package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/register"
)

// TestOIDCLogoutEndsEveryTokenOfTheSession: logout by revocation (spec §7,
// O084) ends the SSO session the access token came from, and with it every
// access token and code the session gave: those of the other relying party
// and the older ones of the same relying party, which logged in twice
// (the session's participant list keeps only the latest of each). A token
// of another session stays valid.
func TestOIDCLogoutEndsEveryTokenOfTheSession(t *testing.T) {
	a, _, info := testApp(t)
	issuer := a.Config.OIDC.Issuer
	rp1, rp2 := a.demoFed.RP1, a.demoFed.RP2
	br := newBrowser(t)
	sso := func(ro map[string]any) { ro["prompt"] = "consent" }
	first, _ := offlineLogin(t, a, br, rp1, info, false, sso)  // opens the session
	second, _ := offlineLogin(t, a, br, rp1, info, false, sso) // reuses it
	other, _ := offlineLogin(t, a, br, rp2, info, false, sso)
	elsewhere, _ := offlineLogin(t, a, newBrowser(t), rp1, info, false, sso)

	// A code of the session not yet exchanged when the session ends.
	ro, pend := rp1.Request(issuer, []string{testAcrL1}, testClaims)
	sso(ro)
	p := authorize(br, issuer, rp1, ro)
	if strings.Contains(p.body, `name="password"`) {
		t.Fatal("the session was not reused")
	}
	code := br.submit(p, "/consent", url.Values{"op": {"accept"}}).url.Query().Get("code")
	if code == "" {
		t.Fatal("no code")
	}
	// The latest login of RP1 now holds the session's participant entry.
	latest, _ := offlineLogin(t, a, br, rp1, info, false, sso)

	at := func(tok map[string]any) string { return tok["access_token"].(string) }
	for name, tok := range map[string]map[string]any{"first": first, "second": second, "other RP": other, "elsewhere": elsewhere} {
		if st := userinfoStatus(t, a, at(tok)); st != http.StatusOK {
			t.Fatalf("%s before logout: userinfo %d", name, st)
		}
	}
	if res, _ := revokeWith(t, a, rp1, at(latest)); res.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %d", res.StatusCode)
	}
	for name, tok := range map[string]map[string]any{"latest": latest, "second": second, "first": first, "other RP": other} {
		if st := userinfoStatus(t, a, at(tok)); st != http.StatusUnauthorized {
			t.Errorf("O084: the %s access token of the ended session answers userinfo: %d", name, st)
		}
		rp := rp1
		if name == "other RP" {
			rp = rp2
		}
		if res, out := introspectWith(t, a, rp, at(tok)); res.StatusCode != http.StatusOK || out["active"] != false {
			t.Errorf("the %s access token of the ended session is active: %d %v", name, res.StatusCode, out)
		}
	}
	form, err := rp1.TokenForm(issuer+"/token", code, pend)
	if err != nil {
		t.Fatal(err)
	}
	if res, out := postForm(t, issuer+"/token", form); res.StatusCode != http.StatusBadRequest || out["error"] != oidc.ErrInvalidGrant {
		t.Errorf("a code of the ended session bought tokens: %d %v", res.StatusCode, out)
	}
	if st := userinfoStatus(t, a, at(elsewhere)); st != http.StatusOK {
		t.Errorf("O084: the citizen's token of another session died: %d", st)
	}
}

// TestOIDCErrorPagesInRegister: an authorization request refused on a
// page (not redirected) is in the transaction register with the page that
// answered it, like the requests whose errors go back to the client (O086);
// so is the page that ends a login whose request is gone by consent.
func TestOIDCErrorPagesInRegister(t *testing.T) {
	a, _, info := testApp(t)
	ctx := t.Context()
	issuer, rp := a.Config.OIDC.Issuer, a.demoFed.RP1
	ro, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
	ro["redirect_uri"] = "https://elsewhere.example.it/cb"
	nobody := a.Config.Server.BaseURL + "/no-such-rp" // in process, no network
	signed, err := rp.SignRequest(ro)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, client, code string
		q                  url.Values
	}{
		{"request missing", rp.ID, "invalid_request", url.Values{"client_id": {rp.ID}, "scope": {"openid"}}},
		{"redirect_uri not registered", rp.ID, oidc.ErrInvalidRequest, url.Values{"client_id": {rp.ID}, "request": {signed}}},
		{"unknown client", nobody, "", url.Values{"client_id": {nobody}, "request": {"a.b.c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newBrowser(t).get(issuer + "/authorization?" + tc.q.Encode())
			if p.status < 400 || strings.Contains(p.url.String(), "elsewhere") {
				t.Fatalf("not an error page: %d %s", p.status, p.url)
			}
			if err := a.RegisterQueue.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			msgs, err := a.Register.Search(ctx, register.Query{SP: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			var req, page *register.Message
			for i := range msgs {
				m := &msgs[i]
				switch {
				case m.Kind == oidc.KindAuthorizationRequest && string(m.XML) == tc.q.Encode():
					req = m
				case m.Kind == oidc.KindAuthorizationErrorPage && req != nil && m.RequestID == req.RequestID:
					page = m
				}
			}
			if req == nil || page == nil || req.Direction != register.Received || page.Direction != register.Sent {
				t.Fatalf("register holds no request and error page for it: %+v", msgs)
			}
			if tc.code != "" && !strings.Contains(string(page.XML), "error="+tc.code) {
				t.Errorf("error page record %s, want error %s", page.XML, tc.code)
			}
		})
	}
	t.Run("request gone by consent", func(t *testing.T) {
		br := newBrowser(t)
		ro, _ := rp.Request(issuer, []string{testAcrL1}, testClaims)
		lp := authorize(br, issuer, rp, ro)
		consent := br.submit(lp, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
		if err := a.RegisterQueue.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		msgs, err := a.Register.Search(ctx, register.Query{SP: rp.ID})
		if err != nil || len(msgs) == 0 || msgs[len(msgs)-1].Kind != oidc.KindAuthorizationRequest {
			t.Fatalf("authorization request not in the register: %v %+v", err, msgs)
		}
		handle := msgs[len(msgs)-1].RequestID
		if err := a.Backends.Eph.DeleteValue(ctx, "oidc:ar:"+handle); err != nil {
			t.Fatal(err)
		}
		if p := br.submit(consent, "/consent", url.Values{"op": {"accept"}}); p.status < 400 {
			t.Fatalf("consent answered %d %s", p.status, p.url)
		}
		if err := a.RegisterQueue.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		msgs, err = a.Register.Search(ctx, register.Query{SP: rp.ID, RequestID: handle})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, m := range msgs {
			kinds = append(kinds, m.Kind)
		}
		if strings.Join(kinds, " ") != oidc.KindAuthorizationRequest+" "+oidc.KindAuthorizationErrorPage {
			t.Fatalf("register holds %v for the login", kinds)
		}
	})
}

// TestOIDCLogoutAcrossNodes: the end of the session is shared state: an
// RP's older access token, used on another node of the cluster, dies with
// the logout done on the first (PostgreSQL + Redis, as in production).
func TestOIDCLogoutAcrossNodes(t *testing.T) {
	nodes, _, route, info := twoNodes(t)
	rp := nodes[0].demoFed.RP1
	br := newBrowser(t)
	sso := func(ro map[string]any) { ro["prompt"] = "consent" }
	route(0)
	first, _ := offlineLogin(t, nodes[0], br, rp, info, false, sso)
	route(1)
	latest, _ := offlineLogin(t, nodes[1], br, rp, info, false, sso)
	if st := userinfoStatus(t, nodes[1], first["access_token"].(string)); st != http.StatusOK {
		t.Fatalf("userinfo before logout: %d", st)
	}
	route(0)
	if res, _ := revokeWith(t, nodes[0], rp, latest["access_token"].(string)); res.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %d", res.StatusCode)
	}
	route(1)
	if st := userinfoStatus(t, nodes[1], first["access_token"].(string)); st != http.StatusUnauthorized {
		t.Fatalf("O084: the older access token of the ended session answers userinfo on the other node: %d", st)
	}
}
