// Package regulation slows down password guessing (security.md §C.1, §C.2).
//
// Regulator is the per-account lockout kept on the durable credential row:
// after MaxFailures consecutive failures the credential is locked for
// Duration, and each further lock doubles up to MaxDuration. Limiter is a
// counter over the ephemeral store for rate limits keyed by source address
// or submitted username, which works the same whether the user exists or not.
//
// How the login handler uses them (the order matters for enumeration):
//
//  1. Limiter.Allow for the IP key and the username key; refused → 429 page.
//  2. Look up the identity; unknown → password.DummyVerify, generic error.
//  3. Regulator.Check, then verify the password whatever Check said, so a
//     lock costs the same time.
//  4. Wrong password → Regulator.Fail (unless locked), generic error on P01.
//  5. Right password but locked (or identity suspended) → nr23.
//  6. Right password, not locked: at level 1 (the authentication is
//     complete) → Regulator.SucceedPassword; at level 2 nothing yet.
//  7. Wrong second factor (app code, push denial, wrong number) →
//     Regulator.FailFactor; right one → Regulator.Succeed.
//
// A right password never clears the wrong second-factor answers: otherwise
// whoever knows the password could guess codes forever, a few per login
// (security.md C.4, S070).
package regulation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Defaults follow security.md §C.2 (5 failures, 30 min lock).
const (
	DefaultMaxFailures = 5
	DefaultWindow      = 24 * time.Hour
	DefaultDuration    = 30 * time.Minute
	DefaultMaxDuration = 24 * time.Hour
)

// Regulator locks a credential after repeated failures. Zero fields take the
// defaults above.
type Regulator struct {
	Store storage.Store
	// MaxFailures consecutive failures lock the credential.
	MaxFailures int
	// Window: a failure more than Window after the previous one starts the
	// count again, so old typos do not add up to a lock.
	Window time.Duration
	// Duration of the first lock; each further lock (another MaxFailures
	// failures without a success) doubles it, capped at MaxDuration.
	Duration    time.Duration
	MaxDuration time.Duration
	Now         func() time.Time
}

func (r *Regulator) maxFailures() int {
	if r.MaxFailures > 0 {
		return r.MaxFailures
	}
	return DefaultMaxFailures
}

func (r *Regulator) window() time.Duration {
	if r.Window > 0 {
		return r.Window
	}
	return DefaultWindow
}

func (r *Regulator) duration() time.Duration {
	if r.Duration > 0 {
		return r.Duration
	}
	return DefaultDuration
}

func (r *Regulator) maxDuration() time.Duration {
	if r.MaxDuration > 0 {
		return r.MaxDuration
	}
	return DefaultMaxDuration
}

func (r *Regulator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Check reports whether the credential of identityID is locked now, and
// until when.
func (r *Regulator) Check(ctx context.Context, identityID string) (locked bool, until time.Time, err error) {
	c, locked, err := r.Current(ctx, identityID)
	if !locked {
		return locked, time.Time{}, err
	}
	return true, c.LockedUntil, nil
}

// Current reads the credential of identityID and reports whether it is
// locked now: Check, keeping the row it read so that a login going on to
// SucceedPasswordAfter does not read it again.
func (r *Regulator) Current(ctx context.Context, identityID string) (storage.Credential, bool, error) {
	c, err := r.Store.GetCredential(ctx, identityID)
	if err != nil {
		return storage.Credential{}, false, fmt.Errorf("regulation: reading credential of %s: %w", identityID, err)
	}
	return c, r.now().Before(c.LockedUntil), nil
}

// Failure is what recording a failed attempt did.
type Failure struct {
	// AttemptsLeft before the next lock (0 when this failure locked, or
	// when the credential was already locked).
	AttemptsLeft int
	// LockedNow: this failure locked the credential, until LockedUntil.
	LockedNow   bool
	LockedUntil time.Time
	// Failures counted toward the lock, second-factor ones included.
	Failures int
}

// Fail records a wrong password atomically. It returns how many attempts
// remain before the next lock, and whether this failure locked the
// credential. A failure while already locked changes nothing (the lock is
// not extended, so an attacker cannot keep the owner out indefinitely by
// guessing during the lock).
func (r *Regulator) Fail(ctx context.Context, identityID string) (attemptsLeft int, lockedNow bool, err error) {
	f, err := r.record(ctx, identityID, false)
	return f.AttemptsLeft, f.LockedNow, err
}

// FailPassword is Fail with the whole outcome (the lock's end, for the
// notice to the owner).
func (r *Regulator) FailPassword(ctx context.Context, identityID string) (Failure, error) {
	return r.record(ctx, identityID, false)
}

// FailFactor records a wrong second-factor answer: an app code, a push
// denied in the app or approved with the wrong number. It counts toward
// the same lock as passwords, and only Succeed (a completed level-2
// authentication) forgets it.
func (r *Regulator) FailFactor(ctx context.Context, identityID string) (Failure, error) {
	return r.record(ctx, identityID, true)
}

func (r *Regulator) record(ctx context.Context, identityID string, factor bool) (Failure, error) {
	now := r.now()
	max := r.maxFailures()
	var f Failure
	err := r.Store.UpdateCredential(ctx, identityID, func(c storage.Credential) (storage.Credential, error) {
		// fn may run more than once: derive everything from c.
		f = Failure{Failures: c.FailedAttempts}
		if now.Before(c.LockedUntil) {
			f.LockedUntil = c.LockedUntil
			return c, nil
		}
		if !c.LastFailureAt.IsZero() && now.Sub(c.LastFailureAt) > r.window() {
			c.FailedAttempts, c.FactorFailures = 0, 0
		}
		c.FailedAttempts++
		if factor {
			c.FactorFailures++
		}
		c.LastFailureAt = now
		if c.FailedAttempts%max == 0 {
			c.LockedUntil = now.Add(r.lockFor(c.FailedAttempts / max))
			f.LockedNow, f.LockedUntil = true, c.LockedUntil
		} else {
			f.AttemptsLeft = max - c.FailedAttempts%max
		}
		f.Failures = c.FailedAttempts
		c.UpdatedAt = now
		return c, nil
	})
	if err != nil {
		return Failure{}, fmt.Errorf("regulation: recording failure of %s: %w", identityID, err)
	}
	return f, nil
}

// lockFor is the duration of the n-th lock (n ≥ 1).
func (r *Regulator) lockFor(n int) time.Duration {
	d, max := r.duration(), r.maxDuration()
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Succeed resets the failure count after an authentication completed with
// every factor the request needed, second factors included. It does not
// lift a lock still running (a correct password during a lock is answered
// with nr23, not a login); an expired lock is cleared. Nothing is written
// when there is nothing to reset.
func (r *Regulator) Succeed(ctx context.Context, identityID string) error {
	return r.reset(ctx, identityID, false)
}

// SucceedPassword resets the count after a level-1 authentication (the
// password was all the request needed): wrong passwords are forgotten, the
// wrong second-factor answers still count. Otherwise someone who knows the
// password could clear the code failures with a level-1 login between two
// rounds of guesses.
func (r *Regulator) SucceedPassword(ctx context.Context, identityID string) error {
	return r.reset(ctx, identityID, true)
}

// SucceedPasswordAfter is SucceedPassword for a credential c just read
// with Current: when c holds nothing a password clears (the usual login),
// nothing is read or written again. A failure recorded in between stays
// counted, the safe side.
func (r *Regulator) SucceedPasswordAfter(ctx context.Context, identityID string, c storage.Credential) error {
	return r.resetFrom(ctx, identityID, true, c)
}

func (r *Regulator) reset(ctx context.Context, identityID string, keepFactor bool) error {
	c, err := r.Store.GetCredential(ctx, identityID)
	if err != nil {
		return fmt.Errorf("regulation: reading credential of %s: %w", identityID, err)
	}
	return r.resetFrom(ctx, identityID, keepFactor, c)
}

// resetFrom resets the count of identityID, whose credential read c.
func (r *Regulator) resetFrom(ctx context.Context, identityID string, keepFactor bool, c storage.Credential) error {
	now := r.now()
	if c.FailedAttempts == 0 && c.LastFailureAt.IsZero() && c.LockedUntil.IsZero() {
		return nil
	}
	if keepFactor && c.FailedAttempts == c.FactorFailures && c.LockedUntil.IsZero() {
		return nil // nothing a password can clear
	}
	err := r.Store.UpdateCredential(ctx, identityID, func(c storage.Credential) (storage.Credential, error) {
		if now.Before(c.LockedUntil) {
			return c, nil
		}
		if keepFactor && c.FactorFailures > 0 && (c.LastFailureAt.IsZero() || now.Sub(c.LastFailureAt) <= r.window()) {
			// Keep only the second-factor failures (and the lock count
			// they imply: FailedAttempts/MaxFailures locks so far).
			c.FailedAttempts = c.FactorFailures
		} else {
			c.FailedAttempts, c.FactorFailures = 0, 0
			c.LastFailureAt = time.Time{}
		}
		c.LockedUntil = time.Time{}
		c.UpdatedAt = now
		return c, nil
	})
	if err != nil {
		return fmt.Errorf("regulation: resetting failures of %s: %w", identityID, err)
	}
	return nil
}

// Unlock lifts a lock and resets the count: for an operator, or for the
// owner's self-unlock link.
func (r *Regulator) Unlock(ctx context.Context, identityID string) error {
	now := r.now()
	err := r.Store.UpdateCredential(ctx, identityID, func(c storage.Credential) (storage.Credential, error) {
		c.FailedAttempts, c.FactorFailures = 0, 0
		c.LastFailureAt = time.Time{}
		c.LockedUntil = time.Time{}
		c.UpdatedAt = now
		return c, nil
	})
	if err != nil {
		return fmt.Errorf("regulation: unlocking %s: %w", identityID, err)
	}
	return nil
}

// Limiter counts attempts per key in fixed windows over the ephemeral store
// (shared by all nodes when it is Redis).
type Limiter struct {
	Eph storage.Ephemeral
	// Max attempts allowed per key in one Window.
	Max    int
	Window time.Duration
	// Prefix separates this limiter's counters from others ("login:").
	Prefix string
}

// ErrConfig reports a Limiter without a positive Max or Window.
var ErrConfig = errors.New("regulation: limiter needs positive Max and Window")

// Allow counts one attempt for key and reports whether it is within the
// limit. Every call counts, refused ones included, so hammering does not
// reopen the window early.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, error) {
	if l.Max <= 0 || l.Window <= 0 {
		return false, ErrConfig
	}
	n, err := l.Eph.Incr(ctx, l.Prefix+key, l.Window)
	if err != nil {
		return false, fmt.Errorf("regulation: counting %s: %w", l.Prefix+key, err)
	}
	return n <= int64(l.Max), nil
}

// Reset forgets the count for key (for example the username key after a
// successful login).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.Eph.ResetCounter(ctx, l.Prefix+key); err != nil {
		return fmt.Errorf("regulation: resetting %s: %w", l.Prefix+key, err)
	}
	return nil
}

// IPKey is the rate-limit key of a client address: the /24 for IPv4 and the
// /64 for IPv6 (one host or one customer link), as security.md §C.1 asks.
// IPv4-mapped IPv6 addresses count as IPv4.
func IPKey(addr netip.Addr) string {
	if !addr.IsValid() {
		return "ip:invalid"
	}
	addr = addr.Unmap()
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "ip:invalid"
	}
	return "ip:" + p.String()
}

// UserKey is the rate-limit key of a submitted username, whether or not such
// a user exists. The name is normalised like usernames are (trimmed, lower
// case) and hashed, so the ephemeral store holds no usernames.
func UserKey(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username))))
	return "user:" + hex.EncodeToString(sum[:16])
}
