// Package pwrules holds the rules on a password's life that need more than
// the password itself (enrolment-lifecycle.md §3.6, §7.2, E062, E063): it
// must differ from the last N passwords and from every password used in
// the last months; it expires a fixed time after it was set, with
// reminders before. Every path that sets a password (activation, the
// personal area, `spid-idp user passwd`, the forced change at login) goes
// through Policy.Reused and Policy.Set, so none can skip the history.
package pwrules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/storage"
)

// Policy is the credential rules' configuration.
type Policy struct {
	// HistoryCount is how many earlier passwords may not be chosen again
	// (spec: 5).
	HistoryCount int
	// HistoryMonths: a password used within this many months may not be
	// chosen again either, however many changes ago (spec: 15).
	HistoryMonths int
	// MaxAge is a password's lifetime from when it was set (spec: 180 days).
	MaxAge time.Duration
	// ReminderDays are the days before expiry a reminder is e-mailed
	// (spec: 7 and 2), each once.
	ReminderDays []int
}

// Default is the spec's policy.
func Default() Policy {
	return Policy{HistoryCount: 5, HistoryMonths: 15, MaxAge: 180 * 24 * time.Hour, ReminderDays: []int{7, 2}}
}

// WithDefaults fills the unset fields from Default.
func (p Policy) WithDefaults() Policy {
	d := Default()
	if p.HistoryCount == 0 {
		p.HistoryCount = d.HistoryCount
	}
	if p.HistoryMonths == 0 {
		p.HistoryMonths = d.HistoryMonths
	}
	if p.MaxAge == 0 {
		p.MaxAge = d.MaxAge
	}
	if len(p.ReminderDays) == 0 {
		p.ReminderDays = d.ReminderDays
	}
	return p
}

// ErrReused is returned (wrapped) when a new password is the current one
// or one in the history still in force.
var ErrReused = errors.New("password: used before")

// ReusedMessage is the refusal shown to the citizen, in lang ("it" or
// anything else for English). It never says which earlier password matched.
func ReusedMessage(lang string) string {
	if lang == "it" {
		return "Hai già usato questa password: scegline una che non hai usato negli ultimi 15 mesi né tra le ultime 5."
	}
	return "You have used this password before: choose one you have not used in the last 15 months nor among your last 5."
}

// ExpiredMessage tells the citizen at login why a new password is needed.
func ExpiredMessage(lang string) string {
	if lang == "it" {
		return "La tua password è scaduta: per continuare scegline una nuova."
	}
	return "Your password has expired: choose a new one to continue."
}

// inForce reports whether an earlier password still may not be reused:
// among the newest HistoryCount, or retired within HistoryMonths.
func (p Policy) inForce(i int, u storage.PasswordUse, now time.Time) bool {
	return i < p.HistoryCount || now.Before(u.RetiredAt.AddDate(0, p.HistoryMonths, 0))
}

// Reused reports whether pw is the credential's current password or an
// earlier one still in force. Each check is one argon2id verification, so
// it costs up to HistoryCount+1 of them plus those within the window; it
// runs only after the current password or a one-time code proved the
// holder. An unreadable stored hash is an error, not a pass.
func (p Policy) Reused(c storage.Credential, pw string, now time.Time) (bool, error) {
	p = p.WithDefaults()
	hashes := []string{}
	if c.PasswordHash != "" {
		hashes = append(hashes, c.PasswordHash)
	}
	for i, u := range c.PasswordHistory {
		if p.inForce(i, u, now) {
			hashes = append(hashes, u.Hash)
		}
	}
	for _, h := range hashes {
		same, err := password.Verify(h, pw)
		if err != nil {
			return false, fmt.Errorf("checking the password history: %w", err)
		}
		if same {
			return true, nil
		}
	}
	return false, nil
}

// Set makes hash the credential's password from now: the current one goes
// to the head of the history, entries no longer in force are dropped, and
// the wrong-password count of the old password is cleared. The caller stores
// c in the same read-modify-write that checked Reused.
func (p Policy) Set(c *storage.Credential, hash string, now time.Time) {
	p = p.WithDefaults()
	if c.PasswordHash != "" {
		prev := storage.PasswordUse{Hash: c.PasswordHash, SetAt: c.PasswordSetAt, RetiredAt: now}
		if prev.SetAt.IsZero() {
			prev.SetAt = c.UpdatedAt
		}
		c.PasswordHistory = append([]storage.PasswordUse{prev}, c.PasswordHistory...)
	}
	kept := c.PasswordHistory[:0]
	for i, u := range c.PasswordHistory {
		if p.inForce(i, u, now) {
			kept = append(kept, u)
		}
	}
	c.PasswordHistory = slices.Clip(kept)
	if len(c.PasswordHistory) == 0 {
		c.PasswordHistory = nil
	}
	c.PasswordHash, c.PasswordSetAt, c.UpdatedAt = hash, now, now
	c.FailedAttempts = 0
}

// SetAt is when the credential's password was set: PasswordSetAt, or for a
// row written before that was kept, its last update.
func SetAt(c storage.Credential) time.Time {
	if !c.PasswordSetAt.IsZero() {
		return c.PasswordSetAt
	}
	return c.UpdatedAt
}

// ExpiresAt is when the password stops being accepted without a change;
// zero when the credential has no password or no date.
func (p Policy) ExpiresAt(c storage.Credential) time.Time {
	p = p.WithDefaults()
	set := SetAt(c)
	if c.PasswordHash == "" || set.IsZero() {
		return time.Time{}
	}
	return set.Add(p.MaxAge)
}

// Expired reports whether the password must be changed before a login
// completes.
func (p Policy) Expired(c storage.Credential, now time.Time) bool {
	exp := p.ExpiresAt(c)
	return !exp.IsZero() && !now.Before(exp)
}

// Credentials is what Change needs of storage.Store.
type Credentials interface {
	GetCredential(ctx context.Context, identityID string) (storage.Credential, error)
	UpdateCredential(ctx context.Context, identityID string, fn func(storage.Credential) (storage.Credential, error)) error
}

// ErrChangedMeanwhile is returned when another change of the same password
// landed between the history check and the write; the caller may retry.
var ErrChangedMeanwhile = errors.New("password: changed meanwhile, retry")

// Change sets pw as the identity's password if it is not reused: the
// history is checked on the stored credential (the argon2id work runs
// outside the store's transaction), then the write goes through only if
// the password is still the one checked against. The composition rules
// (identity.CheckPassword) are the caller's, since they need the identity.
// Errors: ErrReused, ErrChangedMeanwhile, storage errors (ErrNotFound when
// the identity has no credential).
func (p Policy) Change(ctx context.Context, st Credentials, identityID, pw string, params password.Params, now time.Time) error {
	cur, err := st.GetCredential(ctx, identityID)
	if err != nil {
		return err
	}
	reused, err := p.Reused(cur, pw, now)
	if err != nil {
		return err
	}
	if reused {
		return ErrReused
	}
	hash, err := password.Hash(pw, params)
	if err != nil {
		return fmt.Errorf("hashing the password: %w", err)
	}
	return st.UpdateCredential(ctx, identityID, func(c storage.Credential) (storage.Credential, error) {
		if c.PasswordHash != cur.PasswordHash {
			return c, ErrChangedMeanwhile
		}
		p.Set(&c, hash, now)
		return c, nil
	})
}
