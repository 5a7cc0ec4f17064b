package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/otp"
	notifymail "github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Contact changes (enrolment-lifecycle.md §7.6, ui.md §8.1 "Contatti"): a
// code or link to the new contact, a notice to the old one.
const (
	// emailLinkTTL is how long the confirmation link sent to a new address
	// works.
	emailLinkTTL = 30 * time.Minute
	// mobileCodeTTL bounds the wait for the SMS code sent to a new number.
	mobileCodeTTL = 10 * time.Minute
	// MobileCooldown: the new number receives no login codes for this long
	// (enforced by otp.SMSCodes.Send, S086).
	MobileCooldown = otp.MobileCooldown
)

// MobileCooldownKey is the Values key present (until the cool-down ends)
// after a mobile change; otp.SMSCodes.Send sends no login or activation
// code while it exists.
func MobileCooldownKey(identityID string) string { return otp.MobileCooldownKey(identityID) }

func emailKey(token string) string      { return "portal:email:" + token }
func mobileKey(sessionID string) string { return "portal:mobile:" + sessionID }

// validEmail accepts a bare address (no display name), as stored in the
// email attribute.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254 && !strings.ContainsAny(s, "\r\n")
}

var mobileRE = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

type emailChange struct {
	IdentityID string `json:"identity"`
	Email      string `json:"email"`
}

type mobileChange struct {
	TxID   string `json:"tx"`
	Mobile string `json:"mobile"`
}

// changeEmail sends a confirmation link to the new address.
func (p *Portal) changeEmail(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	addr := strings.TrimSpace(r.PostForm.Get(templates.FieldEmail))
	if !validEmail(addr) {
		_ = p.record(ctx, s.IdentityID, "portal.email", s.IdentityID, audit.Failure, map[string]string{"reason": "invalid address"})
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.email")})
		return
	}
	if p.o.Mailer == nil {
		p.unavailable(w, r)
		return
	}
	token := newID()
	val, _ := json.Marshal(emailChange{IdentityID: s.IdentityID, Email: addr})
	if err := p.o.Eph.CreateValue(ctx, emailKey(token), val, p.o.Now().Add(emailLinkTTL)); err != nil {
		p.unavailable(w, r)
		return
	}
	link := p.base() + PathEmailConfirm + "?t=" + token
	err := p.o.Mailer.Send(ctx, mailMessage(addr, "SPID: conferma il nuovo indirizzo / confirm your new address",
		"Per usare questo indirizzo per la tua identità SPID apri il collegamento entro 30 minuti:\n"+link+
			"\n\nTo use this address for your SPID identity open the link within 30 minutes:\n"+link+"\n"))
	if err != nil {
		p.o.Log.WarnContext(ctx, "portal: confirmation link not sent", "err", err)
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.emailnotsent")})
		return
	}
	_ = p.record(ctx, s.IdentityID, "portal.email.link", s.IdentityID, audit.Success, nil)
	p.redirectDone(w, r, "emailsent")
}

// confirmEmail is the link's target: one use, then the new address is the
// identity's, and the old one gets a notice.
func (p *Portal) confirmEmail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.URL.Query().Get("t")
	var ch emailChange
	raw, _, err := p.o.Eph.GetValue(ctx, emailKey(token))
	// Deleting decides who used the link when two requests race.
	if len(token) != 32 || err != nil || p.o.Eph.DeleteValue(ctx, emailKey(token)) != nil || json.Unmarshal(raw, &ch) != nil {
		_ = p.record(ctx, "anonymous", "portal.email", "", audit.Failure, map[string]string{"reason": "unknown, used or expired link"})
		http.Redirect(w, r, PathHome+"?done=linkexpired", http.StatusSeeOther)
		return
	}
	var old storage.Identity
	err = p.o.Store.UpdateIdentity(ctx, ch.IdentityID, func(id storage.Identity) (storage.Identity, error) {
		old = id
		if id.Status != storage.IdentityActive {
			return id, errors.New("identity not active")
		}
		attrs := make(map[string]string, len(id.Attributes)+1)
		for k, v := range id.Attributes {
			attrs[k] = v
		}
		attrs["email"] = ch.Email
		id.Attributes, id.UpdatedAt = attrs, p.o.Now().UTC()
		return id, nil
	})
	if err != nil {
		_ = p.record(ctx, ch.IdentityID, "portal.email", ch.IdentityID, audit.Failure, map[string]string{"reason": err.Error()})
		http.Redirect(w, r, PathHome+"?done=linkexpired", http.StatusSeeOther)
		return
	}
	_ = p.record(ctx, ch.IdentityID, "portal.email", ch.IdentityID, audit.Success, nil)
	p.mail(ctx, old, "SPID: indirizzo e-mail cambiato / e-mail address changed",
		"L'indirizzo e-mail della tua identità SPID è stato cambiato dall'area personale. Se non sei stato tu, sospendi subito l'identità o contatta l'assistenza.\n\n"+
			"The e-mail address of your SPID identity was changed from the personal area. If it was not you, suspend the identity at once or contact customer care.\n")
	http.Redirect(w, r, PathHome+"?done=email", http.StatusSeeOther)
}

// changeMobile sends an SMS code to the new number.
func (p *Portal) changeMobile(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	num := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get(templates.FieldMobile)), " ", "")
	if !mobileRE.MatchString(num) {
		_ = p.record(ctx, s.IdentityID, "portal.mobile", s.IdentityID, audit.Failure, map[string]string{"reason": "invalid number"})
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.mobile")})
		return
	}
	if p.o.SMS == nil {
		p.unavailable(w, r)
		return
	}
	ch := mobileChange{TxID: "portal-" + newID(), Mobile: num}
	if err := p.o.SMS.Send(ctx, ch.TxID, s.IdentityID, num, otp.PurposeVerifyMobile); err != nil {
		_ = p.record(ctx, s.IdentityID, "portal.mobile", s.IdentityID, audit.Failure, map[string]string{"reason": "code not sent"})
		p.refused(w, r, s, http.StatusTooManyRequests, []string{smsProblem(templates.Lang(r), err)})
		return
	}
	val, _ := json.Marshal(ch)
	_ = p.o.Eph.DeleteValue(ctx, mobileKey(s.ID))
	if err := p.o.Eph.CreateValue(ctx, mobileKey(s.ID), val, p.o.Now().Add(mobileCodeTTL)); err != nil {
		p.unavailable(w, r)
		return
	}
	_ = p.record(ctx, s.IdentityID, "portal.mobile.code", s.IdentityID, audit.Success, nil)
	p.redirectDone(w, r, "mobilesent")
}

// confirmMobile checks the code and makes the number the identity's.
func (p *Portal) confirmMobile(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	var ch mobileChange
	raw, _, err := p.o.Eph.GetValue(ctx, mobileKey(s.ID))
	if err != nil || json.Unmarshal(raw, &ch) != nil || p.o.SMS == nil {
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.nocode")})
		return
	}
	if err := p.o.SMS.VerifyFor(ctx, ch.TxID, otp.PurposeVerifyMobile, strings.TrimSpace(r.PostForm.Get(templates.FieldOTP))); err != nil {
		_ = p.record(ctx, s.IdentityID, "portal.mobile", s.IdentityID, audit.Failure, map[string]string{"reason": "wrong code"})
		p.refused(w, r, s, http.StatusBadRequest, []string{templates.Text(templates.Lang(r), "portal.problem.code")})
		return
	}
	_ = p.o.Eph.DeleteValue(ctx, mobileKey(s.ID))
	var old storage.Identity
	err = p.o.Store.UpdateIdentity(ctx, s.IdentityID, func(id storage.Identity) (storage.Identity, error) {
		old = id
		attrs := make(map[string]string, len(id.Attributes)+1)
		for k, v := range id.Attributes {
			attrs[k] = v
		}
		attrs["mobilePhone"] = ch.Mobile
		id.Attributes, id.UpdatedAt = attrs, p.o.Now().UTC()
		return id, nil
	})
	if err != nil {
		p.unavailable(w, r)
		return
	}
	now := p.o.Now()
	_ = p.o.Eph.DeleteValue(ctx, MobileCooldownKey(s.IdentityID))
	if err := p.o.Eph.CreateValue(ctx, MobileCooldownKey(s.IdentityID), []byte(now.UTC().Format(time.RFC3339)), now.Add(MobileCooldown)); err != nil {
		p.o.Log.WarnContext(ctx, "portal: mobile cool-down not recorded", "err", err)
	}
	_ = p.record(ctx, s.IdentityID, "portal.mobile", s.IdentityID, audit.Success, map[string]string{"cooldown_until": now.Add(MobileCooldown).UTC().Format(time.RFC3339)})
	notice := "Il numero di cellulare della tua identità SPID è stato cambiato. Se non sei stato tu, sospendi subito l'identità o contatta l'assistenza."
	if oldNum := old.Attributes["mobilePhone"]; oldNum != "" && p.o.SMS.Sender != nil {
		if err := p.o.SMS.Sender.Send(ctx, sms.Message{To: oldNum, Text: notice}); err != nil {
			p.o.Log.WarnContext(ctx, "portal: notice to the old number not sent", "err", err)
		}
	}
	p.mail(ctx, old, "SPID: cellulare cambiato / mobile number changed", notice+"\n\n"+
		"The mobile number of your SPID identity was changed. Login codes go to the new number after 24 hours. If it was not you, suspend the identity at once or contact customer care.\n")
	p.redirectDone(w, r, "mobile")
}

func (p *Portal) base() string { return strings.TrimSuffix(p.entityID, Prefix) }

func mailMessage(to, subject, text string) notifymail.Message {
	return notifymail.Message{To: to, Subject: subject, Text: text}
}

// smsProblem says why the code to a new number was not sent.
func smsProblem(lang string, err error) string {
	if errors.Is(err, otp.ErrTooManySends) {
		return templates.Text(lang, "portal.problem.toomanycodes")
	}
	return templates.Text(lang, "portal.problem.smsnotsent")
}
