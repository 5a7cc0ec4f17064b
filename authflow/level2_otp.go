package authflow

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// maxCodeLen bounds what is read from a code field; longer input is wrong
// anyway and never reaches the comparison.
const maxCodeLen = 16

func formCode(r *http.Request) string {
	c := strings.TrimSpace(r.PostForm.Get(templates.FieldOTP))
	if len(c) > maxCodeLen {
		return ""
	}
	return c
}

// showOTP renders P03 for a code from the app; withPush links to P02.
func (p *Engine) showOTP(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, page templates.OTPPage, withPush bool, status int) {
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	page.Service = p.service(sp, f, templates.Lang(r))
	page.Self = flowURL(PathLogin, sealed)
	page.CSRF = p.csrfToken(f)
	page.Action = flowURL(PathLoginOTP, sealed)
	page.Method = templates.OTPMethodTOTP
	if withPush {
		page.OtherMethodURL = flowURL(PathLoginMethod, sealed)
	}
	p.Render(w, r, status, templates.PageOTP, page)
}

// showMethod renders P02: push approval (pre-selected) or a code.
func (p *Engine) showMethod(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	page := templates.MethodPage{Service: p.service(sp, f, templates.Lang(r)), CSRF: p.csrfToken(f),
		Action: flowURL(PathLoginMethod, sealed), Preferred: p.preferredMethod(r.Context(), f.Identity)}
	page.Self = flowURL(PathLoginMethod, sealed)
	p.Render(w, r, http.StatusOK, templates.PageMethod, page)
}

// viewMethod is GET P02 ("Usa un altro metodo" on P03).
func (p *Engine) viewMethod(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.viewOpen(w, r)
	if !ok {
		return
	}
	if f.Identity == "" || f.authenticated() || f.Step != stepSecond || p.o.Level2.Push == nil || !p.secondStepCurrent(r.Context(), f) {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	p.showMethod(w, r, sp, f)
}

// chooseMethod handles P02.
func (p *Engine) chooseMethod(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.openSecond(w, r, stepSecond)
	if !ok {
		return
	}
	switch r.PostForm.Get(templates.FieldOp) {
	case templates.OpPush:
		p.startPush(w, r, sp, f)
	case templates.OpTOTP:
		p.cancelChallenge(r.Context(), f)
		f.Challenge = ""
		p.showOTP(w, r, sp, f, templates.OTPPage{}, p.o.Level2.Push != nil, http.StatusOK)
	case templates.OpCancel:
		p.cancelOp(w, r, sp, f, "method choice")
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
	}
}

// postOTP handles P03: a code from the app at the second step, or the SMS
// code that starts an activation.
func (p *Engine) postOTP(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.openSecond(w, r, stepSecond, stepActivate)
	if !ok {
		return
	}
	if r.PostForm.Get(templates.FieldOp) == templates.OpCancel {
		p.cancelOp(w, r, sp, f, "code")
		return
	}
	switch {
	case f.Step == stepSecond:
		p.checkTOTP(w, r, sp, f)
	case f.Device == "":
		p.postSMS(w, r, sp, f)
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
	}
}

// checkTOTP accepts a code of any of the identity's active devices. The
// code is first checked without writing (which device, if any, it belongs
// to); the matching device then accepts it atomically, so a code works once
// even when two requests race. A wrong code counts against every device
// (none of them produced it), the account and the flow.
func (p *Engine) checkTOTP(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	ctx := r.Context()
	code := formCode(r)
	devs, err := p.activeDevices(ctx, f.Identity)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "listing devices", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	now := p.now()
	seeds := make([][]byte, len(devs))
	for i, d := range devs {
		if seeds[i], err = p.openSeed(ctx, d); err != nil {
			// A seed that does not open (moved row, lost key) is a device
			// that cannot be used: say so in the log, try the others.
			p.o.Log.ErrorContext(ctx, "device seed does not open", "device", d.ID, "err", err)
		}
	}
	reason := "wrong code"
	if code != "" {
		for i, d := range devs {
			if seeds[i] == nil {
				continue
			}
			if _, ok := otp.Check(seeds[i], code, now, d.LastStep); !ok {
				continue
			}
			ok, err := otp.Accept(ctx, p.o.Store, d.ID, seeds[i], code, now)
			if err != nil {
				p.o.Log.ErrorContext(ctx, "accepting code", "device", d.ID, "err", err)
				p.Fail(w, r, templates.ReasonUnavailable)
				return
			}
			if ok {
				p.cancelChallenge(ctx, f)
				f.Device = d.ID
				p.factorSucceeded(w, r, sp, f, "login.otp", map[string]string{"device": d.ID, "method": "totp"})
				return
			}
			reason = "code already used" // another request took this step first
			break
		}
	}
	if reason == "wrong code" {
		for i, d := range devs {
			if seeds[i] != nil {
				// Records the failure on the device (FailedAttempts).
				if _, err := otp.Accept(ctx, p.o.Store, d.ID, seeds[i], code, now); err != nil {
					p.o.Log.WarnContext(ctx, "recording a wrong code", "device", d.ID, "err", err)
				}
			}
		}
	}
	left, ok := p.factorFailed(w, r, sp, f, "login.otp", map[string]string{"method": "totp", "reason": reason,
		"devices": strconv.Itoa(len(devs))})
	if !ok {
		return
	}
	p.showOTP(w, r, sp, f, templates.OTPPage{Failed: true, AttemptsLeft: left}, p.pushAvailable(devs), http.StatusUnauthorized)
}

// lastDigits returns the last n digits of a phone number.
func lastDigits(number string, n int) string {
	var d []byte
	for i := len(number) - 1; i >= 0 && len(d) < n; i-- {
		if c := number[i]; c >= '0' && c <= '9' {
			d = append([]byte{c}, d...)
		}
	}
	return string(d)
}

// mobileOf returns the identity's registered mobile in E.164 form ("" when
// none): attributes may hold it with or without the "+".
func mobileOf(id storage.Identity) string {
	m := strings.Join(strings.Fields(id.Attributes["mobilePhone"]), "")
	if m == "" {
		return ""
	}
	if strings.HasPrefix(m, "+") {
		return m
	}
	if strings.HasPrefix(m, "00") {
		return "+" + m[2:]
	}
	if strings.HasPrefix(m, "39") && len(m) > 10 {
		return "+" + m
	}
	return "+39" + m
}
