package enrolment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/storage"
)

// pendingIdentity resolves an activation link to its identity, without
// using the link.
func (s *Service) pendingIdentity(ctx context.Context, token string) (storage.Token, storage.Identity, error) {
	t, err := s.Store.GetToken(ctx, TokenHash(token), PurposeActivate, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return t, storage.Identity{}, ErrLinkInvalid
	} else if err != nil {
		return t, storage.Identity{}, err
	}
	idn, err := s.Store.GetIdentity(ctx, t.Subject)
	if err != nil {
		return t, idn, fmt.Errorf("activation: %w", err)
	}
	if idn.Status != storage.IdentityPending {
		return t, idn, ErrLinkInvalid
	}
	return t, idn, nil
}

func activationTx(hash string) string { return "activate:" + hash }

// SendActivationCode sends the SMS code the activation page asks for, to
// the verified mobile of the identity the link names (REG art. 16).
func (s *Service) SendActivationCode(ctx context.Context, token string) error {
	t, idn, err := s.pendingIdentity(ctx, token)
	if err != nil {
		return err
	}
	return s.SMS.Send(ctx, activationTx(t.Hash), idn.ID, idn.Attributes["mobilePhone"], PurposeActivate)
}

// Activate completes §7.1: with the SMS code sent for this link, the holder
// chooses a username and a password (§7.2); the identity becomes active
// with its credential and the link is used up (E058). Invalid choices are
// identity.Problems and leave the link and the SMS code usable.
func (s *Service) Activate(ctx context.Context, token, smsCode, username, pw string) (storage.Identity, error) {
	t, idn, err := s.pendingIdentity(ctx, token)
	if err != nil {
		return idn, err
	}
	// The choices first: a refused username or password must not spend the
	// SMS code the holder has just typed (issue 12).
	username = strings.ToLower(strings.TrimSpace(username))
	var ps identity.Problems
	if !identity.UsernameRE.MatchString(username) || strings.HasPrefix(username, pendingUsernameHead) {
		ps = append(ps, "username: 3 to 64 characters among a-z 0-9 . _ @ -")
	} else if _, err := s.Store.GetIdentityByUsername(ctx, username); err == nil {
		ps = append(ps, "username: already taken")
	} else if !errors.Is(err, storage.ErrNotFound) {
		return idn, err
	}
	ps = append(ps, identity.CheckPassword(pw, username, idn.Attributes)...)
	if len(ps) > 0 {
		return idn, ps
	}
	if err := s.SMS.VerifyFor(ctx, activationTx(t.Hash), PurposeActivate, smsCode); err != nil {
		_ = s.record(ctx, idn.ID, "identity.activate", idn.ID, audit.Failure, map[string]string{"error": "sms code"})
		return idn, fmt.Errorf("activation: SMS code: %w", err)
	}
	params := s.PasswordParams
	if params == (password.Params{}) {
		params = password.Default
	}
	hash, err := password.Hash(pw, params)
	if err != nil {
		return idn, fmt.Errorf("activation: %w", err)
	}
	now := s.now()
	if _, err := s.Store.ConsumeToken(ctx, t.Hash, PurposeActivate, now); errors.Is(err, storage.ErrNotFound) {
		return idn, ErrLinkInvalid // used meanwhile by a concurrent activation
	} else if err != nil {
		return idn, err
	}
	err = s.Store.UpdateIdentity(ctx, idn.ID, func(cur storage.Identity) (storage.Identity, error) {
		if cur.Status != storage.IdentityPending {
			return cur, ErrLinkInvalid
		}
		cur.Status, cur.Username, cur.UpdatedAt = storage.IdentityActive, username, now
		idn = cur
		return cur, nil
	})
	// The "identity active" e-mail commits with the credential, the last
	// step of the activation, when the mailer is the durable queue.
	email := idn.Attributes["email"]
	var activeMail *mail.Message
	if email != "" {
		activeMail = &mail.Message{To: email, Subject: "SPID: identità attiva / identity active",
			Text: activeText(idn.Attributes["spidCode"], username, s.BaseURL)}
	}
	cctx, ob := ctx, (*storage.Outbox)(nil)
	if activeMail != nil {
		cctx, ob = s.outbox(ctx)
	}
	if err == nil && ob != nil {
		err = s.Mail.Send(cctx, *activeMail)
	}
	if err == nil {
		err = s.Store.CreateCredential(cctx, storage.Credential{IdentityID: idn.ID, PasswordHash: hash, PasswordSetAt: now, UpdatedAt: now})
		if err != nil {
			// Back to pending, so the link given back below works again.
			err = errors.Join(err, s.Store.UpdateIdentity(ctx, idn.ID, func(cur storage.Identity) (storage.Identity, error) {
				cur.Status, cur.Username = storage.IdentityPending, pendingUsernameHead+cur.ID
				return cur, nil
			}))
		}
	}
	if err != nil {
		// The holder did nothing wrong (a username taken in the same
		// instant, a store error): give the link back.
		if errors.Is(err, storage.ErrAlreadyExists) {
			err = identity.Problems{"username: already taken"}
		}
		if rerr := s.Store.CreateToken(ctx, t); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return idn, err
	}
	if err := s.record(ctx, idn.ID, "identity.activate", idn.ID, audit.Success, map[string]string{
		"username": username, "spid_code": idn.Attributes["spidCode"], "from": string(storage.IdentityPending),
		"to": string(storage.IdentityActive)}); err != nil {
		return idn, err
	}
	switch {
	case ob != nil:
		ob.Deliver(ctx)
	case activeMail != nil:
		return idn, s.send(ctx, *activeMail, "activated")
	}
	return idn, nil
}

// newLinkTarget finds the identity still waiting for activation behind a
// request code.
func (s *Service) newLinkTarget(ctx context.Context, code string) (storage.Enrolment, storage.Identity, error) {
	e, err := s.Store.GetEnrolmentByCode(ctx, NormaliseCode(code))
	if errors.Is(err, storage.ErrNotFound) {
		return e, storage.Identity{}, ErrLinkInvalid
	} else if err != nil {
		return e, storage.Identity{}, err
	}
	r, err := Decode(e.Data)
	if err != nil {
		return e, storage.Identity{}, err
	}
	if State(e.State) != StateApproved || r.IdentityID == "" {
		return e, storage.Identity{}, ErrLinkInvalid
	}
	idn, err := s.Store.GetIdentity(ctx, r.IdentityID)
	if err != nil || idn.Status != storage.IdentityPending {
		return e, idn, ErrLinkInvalid
	}
	return e, idn, nil
}

// SendNewLinkCode starts "send a new link" (§7.1) for an expired or lost
// activation link: an SMS code goes to the identity's verified mobile.
func (s *Service) SendNewLinkCode(ctx context.Context, requestCode string) error {
	_, idn, err := s.newLinkTarget(ctx, requestCode)
	if err != nil {
		return err
	}
	return s.SMS.Send(ctx, "relink:"+idn.ID, idn.ID, idn.Attributes["mobilePhone"], PurposeActivate)
}

// NewActivationLink checks the SMS code of SendNewLinkCode and e-mails a
// fresh single-use 72-hour link.
func (s *Service) NewActivationLink(ctx context.Context, requestCode, smsCode string) error {
	e, idn, err := s.newLinkTarget(ctx, requestCode)
	if err != nil {
		return err
	}
	if err := s.SMS.VerifyFor(ctx, "relink:"+idn.ID, PurposeActivate, smsCode); err != nil {
		return fmt.Errorf("new activation link: SMS code: %w", err)
	}
	secret, hash, err := newToken()
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.Store.CreateToken(ctx, storage.Token{Hash: hash, Purpose: PurposeActivate, Subject: idn.ID,
		ExpiresAt: now.Add(ActivationLinkTTL), CreatedAt: now}); err != nil {
		return err
	}
	if err := s.record(ctx, idn.ID, "identity.activation_link", idn.ID, audit.Success, map[string]string{"enrolment": e.ID}); err != nil {
		return err
	}
	until, _ := time.ParseInLocation(time.DateOnly, idn.Attributes["expirationDate"], rome())
	return s.send(ctx, mail.Message{To: idn.Attributes["email"],
		Subject: "SPID: nuovo link di attivazione / new activation link",
		Text:    approvedText(e.Code, s.link("/activate", secret), until, s.responsible())}, "activation")
}
