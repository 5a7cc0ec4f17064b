package pwrules

import (
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/storage"
)

var cheap = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 16, SaltLen: 16}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := password.Hash(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// E062: a change a month for 7 months; the last 5 earlier passwords and the
// current one are refused, the 6th earlier one too while within 15 months,
// and accepted once 15 months have passed since it was retired.
func TestReusedLastFiveAndFifteenMonths(t *testing.T) {
	p := Default()
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	c := storage.Credential{IdentityID: "x"}
	now := t0
	for i := range 7 {
		now = t0.AddDate(0, i, 0)
		p.Set(&c, hash(t, pwN(i)), now)
	}
	if got := len(c.PasswordHistory); got != 6 {
		t.Fatalf("history holds %d entries, want 6 (all within 15 months)", got)
	}
	for i := range 7 {
		reused, err := p.Reused(c, pwN(i), now)
		if err != nil || !reused {
			t.Errorf("password %d: reused = %v, %v; want true (current, last 5 or within 15 months)", i, reused, err)
		}
	}
	if reused, _ := p.Reused(c, "Never-used-1", now); reused {
		t.Error("a new password is reported as reused")
	}
	// 15 months after password 0 was retired (month 1) it is older than
	// the window and not among the last 5 (1..5 are): allowed again.
	later := t0.AddDate(0, 16, 1)
	if reused, _ := p.Reused(c, pwN(0), later); reused {
		t.Error("password 0, 6th back and retired over 15 months ago, still refused")
	}
	if reused, _ := p.Reused(c, pwN(1), later); !reused {
		t.Error("password 1, among the last 5, accepted")
	}
	// Setting a password then drops entries out of force: password 0
	// goes, password 1 (retired at month 2) stays inside its 15 months.
	p.Set(&c, hash(t, "Fresh-pass-9"), later)
	if got := len(c.PasswordHistory); got != 6 {
		t.Errorf("history after a change at month 16 holds %d entries, want 6", got)
	}
	if ok, _ := password.Verify(c.PasswordHistory[len(c.PasswordHistory)-1].Hash, pwN(1)); !ok {
		t.Error("oldest entry kept is not password 1")
	}
	if !c.PasswordSetAt.Equal(later) || c.PasswordHistory[0].RetiredAt != later {
		t.Errorf("set at %v, newest history retired %v; want both %v", c.PasswordSetAt, c.PasswordHistory[0].RetiredAt, later)
	}
}

func pwN(i int) string { return "Secret-pw-" + string(rune('a'+i)) + "1" }

func TestExpiry(t *testing.T) {
	p := Default()
	set := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		c    storage.Credential
		at   time.Time
		want bool
	}{
		{"day 179", storage.Credential{PasswordHash: "h", PasswordSetAt: set}, set.Add(179 * 24 * time.Hour), false},
		{"day 180", storage.Credential{PasswordHash: "h", PasswordSetAt: set}, set.Add(180 * 24 * time.Hour), true},
		{"old row counts from UpdatedAt", storage.Credential{PasswordHash: "h", UpdatedAt: set}, set.Add(181 * 24 * time.Hour), true},
		{"no password", storage.Credential{PasswordSetAt: set}, set.Add(400 * 24 * time.Hour), false},
	} {
		if got := p.Expired(tc.c, tc.at); got != tc.want {
			t.Errorf("%s: Expired = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestUnreadableHistoryIsAnError(t *testing.T) {
	c := storage.Credential{PasswordHash: hash(t, "Current-pw-1"), PasswordHistory: []storage.PasswordUse{{Hash: "garbage"}}}
	if _, err := Default().Reused(c, "Other-pw-22", time.Now()); err == nil {
		t.Error("an unreadable history hash passed the check")
	}
}
