package authflow

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// TestE063ExpiredPasswordForcesChange: a right password past its maximum
// age does not complete the login: the citizen gets the change page (in
// Italian or English), every refusal of the new password is said in
// words, and once a good new one is set the login goes on to consent and
// a Response; the next login with the new password goes straight through.
func TestE063ExpiredPasswordForcesChange(t *testing.T) {
	h := newHarness(t)
	rules := pwrules.Default()
	h.Flow.o.PasswordRules = &rules
	ctx := t.Context()
	id, err := h.Store.GetIdentityByUsername(ctx, h.Username)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.UpdateCredential(ctx, id.ID, func(c storage.Credential) (storage.Credential, error) {
		c.PasswordSetAt = h.Clock.Now().Add(-181 * 24 * time.Hour)
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}

	b := h.browser()
	start := b.start(h.A, 1)
	p := b.Submit(start, PathLogin, url.Values{templates.FieldUsername: {h.Username}, templates.FieldPassword: {h.Password},
		templates.FieldOp: {templates.OpSubmit}})
	if !strings.Contains(p.Body, `name="new_password"`) || strings.Contains(p.Body, `value="accept"`) {
		t.Fatalf("an expired password reached %d without the change page:\n%s", p.Status, p.Body)
	}
	if !strings.Contains(p.Body, "Password scaduta") && !strings.Contains(p.Body, "Password expired") {
		t.Errorf("the change page does not say why:\n%s", p.Body)
	}

	const good = "Girasole#Blu2026"
	for _, c := range []struct {
		name, pw, confirm, want string
	}{
		{"mismatch", good, good + "x", "pwexpired.mismatch"},
		// The rules in the page's language (Italian here), not the
		// checker's English.
		{"too weak", "abc", "abc", "La password deve avere da 8 a 64 caratteri"},
		{"the expired one again", h.Password, h.Password, "15"},
	} {
		r := b.Submit(p, PathNewPassword, url.Values{templates.FieldNewPassword: {c.pw}, templates.FieldConfirm: {c.confirm},
			templates.FieldOp: {templates.OpSubmit}})
		want := c.want
		if c.name == "mismatch" {
			want = "coincidono"
			if !strings.Contains(r.Body, want) {
				want = "passwords differ"
			}
		}
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, want) || !strings.Contains(r.Body, `name="new_password"`) {
			t.Errorf("%s: %d, want 422 with %q:\n%s", c.name, r.Status, want, r.Body)
		}
		p = r
	}
	p = b.Submit(p, PathNewPassword, url.Values{templates.FieldNewPassword: {good}, templates.FieldConfirm: {good},
		templates.FieldOp: {templates.OpSubmit}})
	if !strings.Contains(p.Body, `value="accept"`) {
		t.Fatalf("after the change: %d, want consent:\n%s", p.Status, p.Body)
	}
	p = b.Submit(p, PathConsent, url.Values{templates.FieldOp: {templates.OpAccept}})
	if o := b.rpOutcome(p, h.A); !o.OK {
		t.Fatalf("no answer after the change: %+v", o)
	}
	cred, err := h.Store.GetCredential(ctx, id.ID)
	if err != nil || rules.Expired(cred, h.Clock.Now()) || len(cred.PasswordHistory) == 0 {
		t.Errorf("credential after the change: expired %v, history %d, %v", rules.Expired(cred, h.Clock.Now()), len(cred.PasswordHistory), err)
	}
	h.Password = good
	h.browser().login(h.A, 1) // fails the test if the login does not go through
}
