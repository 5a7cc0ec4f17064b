package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/portal"
)

// auditOutcome reports whether an audit record of action for target with
// outcome exists whose detail key holds value.
func auditOutcome(t *testing.T, a *App, action, target, outcome, key, value string) bool {
	t.Helper()
	evs, err := a.Backends.Store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action && ev.Target == target && ev.Outcome == outcome && (key == "" || ev.Details[key] == value) {
			return true
		}
	}
	return false
}

// TestPortalPasswordHistory (E062): in the personal area, a password
// changed away from is refused when chosen again, with a message for the
// citizen; the refusal is audited and the stored history holds argon2id
// hashes only. The old code compared the current password alone.
func TestPortalPasswordHistory(t *testing.T) {
	a, base, info := portalApp(t)
	br := newBrowser(t)
	home := portalLogin(t, a, br, base, info, info.Password)
	if home.status != http.StatusOK {
		t.Fatalf("portal login: %d %s", home.status, home.url)
	}
	const second = "Nuova-Parola-2027!"
	done := br.submit(home, portal.PathPassword, url.Values{"current_password": {info.Password}, "new_password": {second}})
	if done.url.Query().Get("done") != "password" {
		t.Fatalf("first change: %d %s\n%s", done.status, done.url, done.body)
	}
	back := br.submit(done, portal.PathPassword, url.Values{"current_password": {second}, "new_password": {info.Password}})
	if back.status != http.StatusBadRequest {
		t.Fatalf("changing back to the first password: status %d, want 400", back.status)
	}
	if !strings.Contains(back.body, pwrules.ReusedMessage("it")) && !strings.Contains(back.body, htmlEsc(pwrules.ReusedMessage("it"))) &&
		!strings.Contains(back.body, pwrules.ReusedMessage("en")) {
		t.Errorf("the refusal does not say the password was used before:\n%s", back.body)
	}
	id := demoIdentityID(t, a)
	if !auditOutcome(t, a, "portal.password", id, "failure", "reason", "reused") {
		t.Error("the refused reuse is not audited")
	}
	c, err := a.Backends.Store.GetCredential(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := password.Verify(c.PasswordHash, second); !ok {
		t.Error("the refused change replaced the password")
	}
	if len(c.PasswordHistory) != 1 || !strings.HasPrefix(c.PasswordHistory[0].Hash, "$argon2id$") || c.PasswordSetAt.IsZero() {
		t.Errorf("credential after one change: history %+v, set at %v", c.PasswordHistory, c.PasswordSetAt)
	}
	if ok, _ := password.Verify(c.PasswordHistory[0].Hash, info.Password); !ok {
		t.Error("the history does not hold the first password's hash")
	}
}

func htmlEsc(s string) string { return strings.ReplaceAll(s, "'", "&#39;") }
