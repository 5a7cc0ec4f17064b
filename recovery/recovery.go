// Package recovery lets citizens recover their credentials on their own
// (ui.md P09, security.md C.11, issue 12): a forgotten username is e-mailed
// to the registered address; a forgotten password is reset through a
// single-use e-mailed link, then an SMS code to the registered mobile, then
// a new password under the policy (identity.CheckPassword and the history
// of identity/pwrules); a lost phone or app disconnects every device, to be
// re-activated with an SMS code at the next level-2 login. A lost mobile
// cannot be solved online: the pages send the citizen to customer care,
// which checks the caller's identity.
//
// Requests by fiscal code get the same answer whether or not the data
// match (U019), are rate-limited per fiscal code and per client address,
// and every one is audited. A reset ends every session of the identity
// (package sessions) and is notified to the registered e-mail and mobile.
package recovery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
)

// PurposeReset is the purpose of the e-mailed reset link's token.
const PurposeReset = "recover_password_link"

// Errors callers tell apart.
var (
	// ErrLinkInvalid: the reset link is unknown, used or expired.
	ErrLinkInvalid = errors.New("recovery: link not valid")
	// ErrMismatch: the repeated password differs.
	ErrMismatch = errors.New("recovery: the two passwords differ")
	// ErrCredentials: wrong username or password (lost-app request).
	ErrCredentials = errors.New("recovery: wrong credentials")
	// ErrLocked: too many wrong passwords, the credential is locked.
	ErrLocked = errors.New("recovery: credential locked")
	// ErrNotActive: the identity is suspended or revoked.
	ErrNotActive = errors.New("recovery: identity not active")
)

// Mailer sends e-mail.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// SMSer sends plain SMS (notices, not codes).
type SMSer interface {
	Send(ctx context.Context, m sms.Message) error
}

// Service runs the recovery requests. Store, Eph, SMS, Mail and Audit are
// required.
type Service struct {
	Store   storage.Store
	Eph     storage.Ephemeral
	SMS     *otp.SMSCodes
	Notices SMSer // nil: no SMS notices
	Mail    Mailer
	Audit   *audit.Logger
	Rules   pwrules.Policy
	Argon2  password.Params
	// Regulator counts wrong passwords of the lost-app request with the
	// login's (5 → lock) and clears the lock on a reset.
	Regulator *regulation.Regulator
	// Limit caps requests per fiscal code and per client address.
	Limit *regulation.Limiter
	// BaseURL is the IdP's public URL, for the link.
	BaseURL string
	LinkTTL time.Duration // 30 minutes when 0
	Log     *slog.Logger
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) linkTTL() time.Duration {
	if s.LinkTTL > 0 {
		return s.LinkTTL
	}
	return 30 * time.Minute
}

// LinkMinutes is the reset link's validity in minutes, for the pages.
func (s *Service) LinkMinutes() int { return int(s.linkTTL() / time.Minute) }

func (s *Service) record(ctx context.Context, actor, action, target, outcome string, details map[string]string) error {
	return s.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details})
}

// NormaliseCF upper-cases a fiscal code and drops spaces and a TINIT- prefix.
func NormaliseCF(cf string) string {
	cf = strings.ToUpper(strings.Join(strings.Fields(cf), ""))
	return strings.TrimPrefix(cf, "TINIT-")
}

func cfOf(id storage.Identity) string { return NormaliseCF(id.Attributes["fiscalNumber"]) }

func sameText(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// allowed counts one request against the per-fiscal-code and per-address
// limits. Over the limit the caller answers as usual and sends nothing, so
// the answer still says nothing about the data.
func (s *Service) allowed(ctx context.Context, cf, ip string) (bool, error) {
	if s.Limit == nil {
		return true, nil
	}
	byCF, err := s.Limit.Allow(ctx, "cf:"+cf)
	if err != nil {
		return false, err
	}
	byIP, err := s.Limit.Allow(ctx, "ip:"+ip)
	if err != nil {
		return false, err
	}
	return byCF && byIP, nil
}

// ForgotUsername e-mails the username of the identity with fiscal code cf
// and registered e-mail address email. It returns an error only when a
// dependency failed: whether the data matched is in the audit log only.
func (s *Service) ForgotUsername(ctx context.Context, cf, email, ip, lang string) error {
	cf, email = NormaliseCF(cf), strings.ToLower(strings.TrimSpace(email))
	ok, err := s.allowed(ctx, cf, ip)
	if err != nil {
		return err
	}
	details := map[string]string{"ip": ip}
	if !ok {
		details["result"] = "rate limited"
		return s.record(ctx, "anonymous", "recover.username", "", audit.Denied, details)
	}
	all, err := s.Store.ListIdentities(ctx)
	if err != nil {
		return err
	}
	var found *storage.Identity
	for i := range all {
		id := &all[i]
		if id.Status != storage.IdentityActive && id.Status != storage.IdentitySuspended {
			continue
		}
		if cfOf(*id) == cf && sameText(strings.ToLower(id.Attributes["email"]), email) {
			found = id
			break
		}
	}
	if found == nil {
		details["result"] = "no match"
		return s.record(ctx, "anonymous", "recover.username", "", audit.Failure, details)
	}
	if err := s.Mail.Send(ctx, mail.Message{To: found.Attributes["email"], Subject: subject(lang, "il tuo nome utente", "your username"),
		Text: usernameText(lang, found.Username, s.BaseURL)}); err != nil {
		return fmt.Errorf("recovery: sending the username: %w", err)
	}
	details["result"] = "sent"
	return s.record(ctx, found.ID, "recover.username", found.ID, audit.Success, details)
}

// TokenHash is the stored form of a link's secret.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() (string, error) {
	b := make([]byte, 16) // 128 bits (security.md C.11)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ForgotPassword e-mails a single-use reset link to the identity with
// fiscal code cf and username user, when it is active. Errors only for
// failed dependencies, as ForgotUsername.
func (s *Service) ForgotPassword(ctx context.Context, cf, user, ip, lang, linkPath string) error {
	cf, user = NormaliseCF(cf), strings.ToLower(strings.TrimSpace(user))
	ok, err := s.allowed(ctx, cf, ip)
	if err != nil {
		return err
	}
	details := map[string]string{"ip": ip}
	if !ok {
		details["result"] = "rate limited"
		return s.record(ctx, "anonymous", "recover.password.request", "", audit.Denied, details)
	}
	id, err := s.Store.GetIdentityByUsername(ctx, user)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (!sameText(cfOf(id), cf) || id.Status != storage.IdentityActive)) {
		details["result"] = "no match"
		if err == nil && sameText(cfOf(id), cf) {
			details["result"] = "identity " + string(id.Status)
		}
		return s.record(ctx, "anonymous", "recover.password.request", "", audit.Failure, details)
	} else if err != nil {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.Store.CreateToken(ctx, storage.Token{Hash: TokenHash(token), Purpose: PurposeReset, Subject: id.ID,
		ExpiresAt: now.Add(s.linkTTL()), CreatedAt: now}); err != nil {
		return err
	}
	link := s.BaseURL + linkPath + "?token=" + token
	if err := s.Mail.Send(ctx, mail.Message{To: id.Attributes["email"], Subject: subject(lang, "reimposta la password", "reset your password"),
		Text: resetLinkText(lang, link, s.LinkMinutes())}); err != nil {
		return fmt.Errorf("recovery: sending the reset link: %w", err)
	}
	details["result"] = "link sent"
	return s.record(ctx, id.ID, "recover.password.request", id.ID, audit.Success, details)
}

// ResetTarget resolves a reset link to its identity without using it.
func (s *Service) ResetTarget(ctx context.Context, token string) (storage.Identity, error) {
	if token == "" {
		return storage.Identity{}, ErrLinkInvalid
	}
	t, err := s.Store.GetToken(ctx, TokenHash(token), PurposeReset, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Identity{}, ErrLinkInvalid
	} else if err != nil {
		return storage.Identity{}, err
	}
	id, err := s.Store.GetIdentity(ctx, t.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		return id, ErrLinkInvalid
	} else if err != nil {
		return id, err
	}
	if id.Status != storage.IdentityActive {
		return id, ErrLinkInvalid
	}
	return id, nil
}

func resetTx(token string) string { return "recover:" + TokenHash(token) }

// SendResetCode sends the SMS code the reset page asks for to the
// registered mobile of the link's identity.
func (s *Service) SendResetCode(ctx context.Context, token string) error {
	id, err := s.ResetTarget(ctx, token)
	if err != nil {
		return err
	}
	return s.SMS.Send(ctx, resetTx(token), id.ID, id.Attributes["mobilePhone"], otp.PurposeRecoverPassword)
}

// Reset sets a new password: the link must be valid, pw must pass the
// composition rules and equal repeat (identity.Problems, ErrMismatch: the
// SMS code is not spent on them), the SMS code must be right (otp errors),
// and pw must not be reused (pwrules.ErrReused: the code is spent, the
// link is not). Then the link is used up, the lock lifted, every session
// ended, and the holder told on the registered e-mail and mobile.
func (s *Service) Reset(ctx context.Context, token, code, pw, repeat, lang string) (storage.Identity, error) {
	id, err := s.ResetTarget(ctx, token)
	if err != nil {
		return id, err
	}
	if ps := identity.CheckPassword(pw, id.Username, id.Attributes); len(ps) > 0 {
		return id, ps
	}
	if pw != repeat {
		return id, ErrMismatch
	}
	if err := s.SMS.VerifyFor(ctx, resetTx(token), otp.PurposeRecoverPassword, code); err != nil {
		_ = s.record(ctx, id.ID, "recover.password.reset", id.ID, audit.Failure, map[string]string{"error": "sms code"})
		return id, err
	}
	now := s.now()
	err = s.Rules.Change(ctx, s.Store, id.ID, pw, s.Argon2, now.UTC())
	if errors.Is(err, pwrules.ErrReused) {
		_ = s.record(ctx, id.ID, "recover.password.reset", id.ID, audit.Failure, map[string]string{"error": "reused"})
		return id, err
	} else if err != nil {
		return id, err
	}
	if _, err := s.Store.ConsumeToken(ctx, TokenHash(token), PurposeReset, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return id, err
	}
	if s.Regulator != nil {
		if err := s.Regulator.Unlock(ctx, id.ID); err != nil {
			return id, err
		}
	}
	if _, err := sessions.End(ctx, s.Store, id.ID); err != nil {
		return id, err
	}
	if err := s.record(ctx, id.ID, "recover.password.reset", id.ID, audit.Success, map[string]string{"sessions": "ended"}); err != nil {
		return id, err
	}
	s.notify(ctx, id, lang, subject(lang, "password cambiata", "password changed"), passwordChangedText(lang, s.BaseURL, now),
		pick(lang, "SPID: la password della tua identità è stata cambiata. Se non sei stato tu, contatta subito l'assistenza.",
			"SPID: the password of your identity was changed. If it was not you, contact customer care at once."))
	return id, nil
}

// LostApp disconnects every app device of the identity that username and
// pw prove, ends its sessions and tells the holder. Wrong credentials count
// towards the lock as at login (ErrCredentials, ErrLocked). It returns the
// number of devices disconnected.
func (s *Service) LostApp(ctx context.Context, username, pw, ip, lang string) (storage.Identity, int, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	ok, err := s.allowed(ctx, "user:"+username, ip)
	if err != nil {
		return storage.Identity{}, 0, err
	}
	if !ok {
		_ = s.record(ctx, "anonymous", "recover.app", "", audit.Denied, map[string]string{"ip": ip, "result": "rate limited"})
		return storage.Identity{}, 0, ErrCredentials
	}
	id, err := s.Store.GetIdentityByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		// The same work as for a real account, so the time says nothing.
		_, _ = password.Verify(dummyHash(), pw)
		_ = s.record(ctx, "anonymous", "recover.app", "", audit.Failure, map[string]string{"ip": ip, "result": "no match"})
		return id, 0, ErrCredentials
	} else if err != nil {
		return id, 0, err
	}
	cred, err := s.Store.GetCredential(ctx, id.ID)
	if err != nil {
		return id, 0, err
	}
	if s.Regulator != nil {
		if locked, _, err := s.Regulator.Check(ctx, id.ID); err != nil {
			return id, 0, err
		} else if locked {
			_ = s.record(ctx, id.ID, "recover.app", id.ID, audit.Denied, map[string]string{"ip": ip, "result": "locked"})
			return id, 0, ErrLocked
		}
	}
	if good, err := password.Verify(cred.PasswordHash, pw); err != nil || !good {
		if s.Regulator != nil {
			_, _ = s.Regulator.FailPassword(ctx, id.ID)
		}
		_ = s.record(ctx, id.ID, "recover.app", id.ID, audit.Failure, map[string]string{"ip": ip, "result": "wrong password"})
		return id, 0, ErrCredentials
	}
	if id.Status != storage.IdentityActive {
		_ = s.record(ctx, id.ID, "recover.app", id.ID, audit.Denied, map[string]string{"ip": ip, "result": "identity " + string(id.Status)})
		return id, 0, ErrNotActive
	}
	devs, err := s.Store.ListDevices(ctx, id.ID)
	if err != nil {
		return id, 0, err
	}
	now := s.now()
	n := 0
	var names []string
	for _, d := range devs {
		if d.Status == storage.DeviceRevoked {
			continue
		}
		err := s.Store.UpdateDevice(ctx, d.ID, func(cur storage.Device) (storage.Device, error) {
			cur.Status, cur.UpdatedAt = storage.DeviceRevoked, now
			return cur, nil
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return id, n, err
		}
		n++
		names = append(names, d.Name)
	}
	if _, err := sessions.End(ctx, s.Store, id.ID); err != nil {
		return id, n, err
	}
	if err := s.record(ctx, id.ID, "recover.app", id.ID, audit.Success, map[string]string{"ip": ip,
		"devices_revoked": fmt.Sprint(n), "sessions": "ended"}); err != nil {
		return id, n, err
	}
	s.notify(ctx, id, lang, subject(lang, "app scollegata", "app disconnected"), appRevokedText(lang, names, s.BaseURL, now),
		pick(lang, "SPID: l'app è stata scollegata dalla tua identità. Se non sei stato tu, contatta subito l'assistenza.",
			"SPID: the app was disconnected from your identity. If it was not you, contact customer care at once."))
	return id, n, nil
}

// dummyHash is verified when the username is unknown (a hash of a random
// password, made on first use).
var dummyHash = sync.OnceValue(func() string {
	h, err := password.Hash(rand.Text(), password.Default)
	if err != nil {
		return ""
	}
	return h
})

// notify tells the holder on the registered e-mail and mobile; a notice
// that cannot be sent is logged, the change stands.
func (s *Service) notify(ctx context.Context, id storage.Identity, lang, subj, text, smsText string) {
	if to := id.Attributes["email"]; to != "" && s.Mail != nil {
		if err := s.Mail.Send(ctx, mail.Message{To: to, Subject: subj, Text: text}); err != nil && s.Log != nil {
			s.Log.WarnContext(ctx, "recovery notice not e-mailed", "identity", id.ID, "err", err)
		}
	}
	if to := id.Attributes["mobilePhone"]; to != "" && s.Notices != nil {
		if err := s.Notices.Send(ctx, sms.Message{To: to, Text: smsText}); err != nil && s.Log != nil {
			s.Log.WarnContext(ctx, "recovery notice not sent by SMS", "identity", id.ID, "err", err)
		}
	}
}
