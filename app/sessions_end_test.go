package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/sessions"
)

// signedIn reports whether the IdP's session page shows the demo citizen.
func signedIn(br *browser, base string) bool {
	return strings.Contains(br.get(base+"/session").body, "Mario")
}

// TestPasswordChangeEndsTheOtherSessions (issue 11 item 2): a password
// changed in the personal area ends every other session of the identity —
// SSO sessions and personal-area sessions in other browsers, who may have
// known the old password — and keeps the one that changed it.
func TestPasswordChangeEndsTheOtherSessions(t *testing.T) {
	a, base, info := portalApp(t)
	sso := newBrowser(t)
	l1Login(t, sso, base, info)
	otherPortal := newBrowser(t)
	if home := portalLogin(t, a, otherPortal, base, info, info.Password); !strings.Contains(home.body, "Mario Rossi") {
		t.Fatalf("portal login in the other browser:\n%s", home.body)
	}

	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	done := br.submit(home, portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {"Nuova-Parola-2027!"}})
	if done.status != http.StatusOK || done.url.Query().Get("done") != "password" || !strings.Contains(done.body, "Mario Rossi") {
		t.Fatalf("password change: %d %s; the citizen changing it should stay signed in\n%s", done.status, done.url, done.body)
	}
	if p := otherPortal.get(base + portal.PathHome); strings.Contains(p.body, "Mario Rossi") {
		t.Error("the personal-area session of another browser survived the password change")
	}
	if signedIn(sso, base) {
		t.Error("the SSO session of another browser survived the password change")
	}
	if !ssoAsksPassword(t, sso, base) {
		t.Error("after the password change a level-1 request reused the old SSO session")
	}
}

// TestDeviceRevocationEndsTheOtherSessions (issue 11 item 2): revoking a
// device ends every session of the identity (whoever holds one made with
// that device loses it) except the one revoking, which stays signed in.
func TestDeviceRevocationEndsTheOtherSessions(t *testing.T) {
	_, ts, info := testApp(t)
	other, br := newBrowser(t), newBrowser(t)
	l1Login(t, other, ts.URL, info)
	l1Login(t, br, ts.URL, info)

	list := br.get(ts.URL + authflow.PathDevices)
	after := br.submit(list, authflow.PathDevices, url.Values{"op": {"revoke"}})
	if after.status != http.StatusOK || after.url.Query().Get("revoked") == "" {
		t.Fatalf("revocation: %d %s\n%s", after.status, after.url, after.body)
	}
	if !signedIn(br, ts.URL) {
		t.Error("the session that revoked the device was ended too")
	}
	if signedIn(other, ts.URL) {
		t.Error("another browser's session survived the device revocation")
	}
	if !ssoAsksPassword(t, other, ts.URL) {
		t.Error("after the device revocation another browser's session was reused")
	}
}

// TestConsentRefusedWhenSessionsEndMidFlow (issue 11 item 2): a flow whose
// identity has its sessions ended while the citizen is on the consent page
// (a password reset, a suspension and reactivation) answers nothing and
// opens no session: what its password proved no longer holds.
func TestConsentRefusedWhenSessionsEndMidFlow(t *testing.T) {
	a, ts, info := testApp(t)
	br := newBrowser(t)
	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	if !strings.Contains(consent.body, `value="accept"`) {
		t.Fatalf("no consent page:\n%s", consent.body)
	}
	if _, err := sessions.End(t.Context(), a.Backends.Store, "demo-citizen"); err != nil {
		t.Fatal(err)
	}
	out := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	if strings.Contains(out.body, "SAMLResponse") {
		t.Fatal("consent after the identity's sessions ended still sent a Response")
	}
	if signedIn(br, ts.URL) {
		t.Error("consent after the identity's sessions ended opened a session")
	}
}

// TestPasswordChangeEndsLongOIDCSessions: a password change in the
// personal area ends the citizen's long revocable OIDC sessions as it ends
// the SSO sessions: their refresh tokens answer invalid_grant and their
// access tokens stop opening userinfo; a session opened afterwards lives.
func TestPasswordChangeEndsLongOIDCSessions(t *testing.T) {
	a, base, info := portalApp(t)
	rp := a.demoFed.RP1
	before, _ := offlineLogin(t, a, newBrowser(t), rp, info, true, nil)
	rt, _ := before["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", before)
	}
	// The long session works until the password changes.
	res, next := refreshWith(t, a, rp, rt)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh before the change: %d %v", res.StatusCode, next)
	}
	rt = next["refresh_token"].(string)

	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	newPassword := "Nuova-Parola-2027!"
	done := br.submit(home, portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {newPassword}})
	if done.status != http.StatusOK || done.url.Query().Get("done") != "password" {
		t.Fatalf("password change: %d %s\n%s", done.status, done.url, done.body)
	}

	res, out := refreshWith(t, a, rp, rt)
	wantError(t, "refresh after the password change", res, out, http.StatusBadRequest, oidc.ErrInvalidGrant)
	if st := userinfoStatus(t, a, next["access_token"].(string)); st != http.StatusUnauthorized {
		t.Errorf("the ended session's access token still opens userinfo: %d", st)
	}
	// The session stays ended (not a one-off refusal).
	res, out = refreshWith(t, a, rp, rt)
	wantError(t, "refresh of the ended session again", res, out, http.StatusBadRequest, oidc.ErrInvalidGrant)

	// A login with the new password opens a long session that works.
	info.Password = newPassword
	after, _ := offlineLogin(t, a, newBrowser(t), rp, info, true, nil)
	if res, out := refreshWith(t, a, rp, after["refresh_token"].(string)); res.StatusCode != http.StatusOK {
		t.Fatalf("refresh of a session opened after the change: %d %v", res.StatusCode, out)
	}
}
