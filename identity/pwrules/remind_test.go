package pwrules_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// TestE063Reminders: the reminders go out 7 and 2 days before the expiry,
// once each however often the job runs; none for a fresh, an expired or a
// suspended identity's password, nor without an e-mail address. A new
// password starts its own reminders.
func TestE063Reminders(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/r.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := pwrules.Default()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	add := func(id string, status storage.IdentityStatus, email string, setAt time.Time) {
		t.Helper()
		attrs := map[string]string{}
		if email != "" {
			attrs["email"] = email
		}
		if err := st.CreateIdentity(ctx, storage.Identity{ID: id, Username: id + "@example.it", Type: storage.IdentityCitizen,
			Status: status, Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateCredential(ctx, storage.Credential{IdentityID: id, PasswordHash: "$argon2id$x", PasswordSetAt: setAt, UpdatedAt: setAt}); err != nil {
			t.Fatal(err)
		}
	}
	// The clock starts 10 days before "due"'s password expires.
	add("due", storage.IdentityActive, "due@example.it", start.Add(-p.MaxAge+10*24*time.Hour))
	add("fresh", storage.IdentityActive, "fresh@example.it", start)
	add("expired", storage.IdentityActive, "old@example.it", start.Add(-p.MaxAge-time.Hour))
	add("suspended", storage.IdentitySuspended, "s@example.it", start.Add(-p.MaxAge+5*24*time.Hour))
	add("nomail", storage.IdentityActive, "", start.Add(-p.MaxAge+5*24*time.Hour))

	var got []string
	run := func(now time.Time) int {
		t.Helper()
		n, err := p.Remind(ctx, st, st, now, func(_ context.Context, r pwrules.Reminder) error {
			subject, body := pwrules.ReminderText(r, "https://idp.example.it/account/", time.UTC)
			if subject == "" || !strings.Contains(body, r.ExpiresAt.Format("02/01/2006")) {
				t.Errorf("reminder text: %q %q", subject, body)
			}
			got = append(got, r.Identity.ID+"@"+strings.Repeat("d", r.Days))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []struct {
		at   time.Duration // after start
		want int
	}{
		{0, 0},                   // 10 days before
		{3*24*time.Hour + 1, 1},  // just inside 7 days
		{4 * 24 * time.Hour, 0},  // again: already sent
		{8*24*time.Hour + 1, 1},  // inside 2 days
		{9 * 24 * time.Hour, 0},  // again
		{11 * 24 * time.Hour, 0}, // expired: the login asks instead
	}
	for _, s := range steps {
		if n := run(start.Add(s.at)); n != s.want {
			t.Errorf("at start+%v: %d reminders, want %d (so far %v)", s.at, n, s.want, got)
		}
	}
	if want := []string{"due@ddddddd", "due@dd"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("reminders sent %v, want %v", got, want)
	}

	// A new password (set 175 days before now) gets its own 7-day reminder.
	now := start.Add(12 * 24 * time.Hour)
	if err := st.UpdateCredential(ctx, "due", func(c storage.Credential) (storage.Credential, error) {
		c.PasswordSetAt = now.Add(-p.MaxAge + 5*24*time.Hour)
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := run(now); n != 1 {
		t.Errorf("new password inside 7 days: %d reminders, want 1", n)
	}
}
