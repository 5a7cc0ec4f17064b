package authflow

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Activation inside a login (issue 6, enrolment-lifecycle.md §7.4): the
// registered mobile receives an SMS code (possession of the phone on
// file), then the citizen scans a new seed into an app and types its first
// code. Both together are the two factors of this level-2 login.

const (
	qrSize        = 240
	maxDeviceName = 64
	defaultDevice = "App"
)

// startActivation offers a citizen without an active app to activate one
// now (an SMS code to the registered mobile first) or to go back to the SP
// with nr20. Nothing is sent before the citizen asks: a password alone does
// not make the IdP send SMS. No registered mobile (or no SMS sender) leaves
// only nr20.
func (p *Engine) startActivation(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity) {
	mobile := mobileOf(id)
	if p.o.Level2.SMS == nil || mobile == "" {
		p.spAnomaly(w, r, sp, f, spid.NrLevelUnavailable, "no active second-factor device and no mobile to activate one")
		return
	}
	f.Step, f.Device = stepActivate, ""
	p.showOffer(w, r, sp, f, id)
}

// showOffer renders the activation offer with the nr20 Response ready for
// the citizen who goes back instead.
func (p *Engine) showOffer(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity) {
	ctx := r.Context()
	action, fields, err := p.refusalForm(ctx, sp, f, spid.NrLevelUnavailable)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "building error Response", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	// The Response is in the citizen's hands from now on: log it as sent.
	if err := p.o.Audit.Record(ctx, Event(id.ID, "sso.response", sp.EntityID, audit.Failure, map[string]string{
		"anomaly": spid.NrLevelUnavailable.String(), "reason": "no active device; activation offered",
		"in_response_to": f.RequestID, "flow": f.ID})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	csp.AllowFormTo(w.Header(), action)
	page := templates.ActivateOfferPage{Service: p.service(sp, f, templates.Lang(r)), CSRF: p.csrfToken(f),
		Action: flowURL(PathLoginActivateStart, sealed), PhoneLast3: lastDigits(mobileOf(id), 3),
		SPAction: action, SPFields: fields}
	// A mobile changed less than 24 hours ago gets no activation code
	// (security.md C.12, S086): say until when, offer only the way back.
	until, err := otp.Cooldown(ctx, p.o.Eph, id.ID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "reading the mobile cool-down", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if until.After(p.now()) {
		if err := p.o.Audit.Record(ctx, Event(id.ID, "device.activation.sms", f.SP, audit.Denied, map[string]string{
			"flow": f.ID, "reason": "mobile cool-down", "until": until.UTC().Format(time.RFC3339)})); err != nil {
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		local := until.In(romeLoc)
		page.CooldownDate, page.CooldownTime = local.Format("02/01/2006"), local.Format("15:04")
	}
	page.Self = flowURL(PathLogin, sealed)
	p.Render(w, r, http.StatusOK, templates.PageActivateOffer, page)
}

// activateStart sends the SMS code the citizen asked for on the offer.
func (p *Engine) activateStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, sp, ok := p.openSecond(w, r, stepActivate)
	if !ok {
		return
	}
	if f.Device != "" || p.o.Level2.SMS == nil {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
		return
	}
	mobile := mobileOf(id)
	err := p.o.Level2.SMS.Send(ctx, f.ID, id.ID, mobile, otp.PurposeActivateApp)
	if errors.Is(err, otp.ErrMobileCooldown) {
		p.showOffer(w, r, sp, f, id) // says until when, audits the refusal
		return
	} else if errors.Is(err, otp.ErrTooManySends) {
		p.showSMS(w, r, sp, f, id, templates.OTPPage{}, http.StatusTooManyRequests)
		return
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "sending activation SMS", "identity", id.ID, "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if err := p.o.Audit.Record(ctx, Event(id.ID, "device.activation.sms", f.SP, audit.Success,
		map[string]string{"flow": f.ID, "to": lastDigits(mobile, 3)})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	p.showSMS(w, r, sp, f, id, templates.OTPPage{CanResend: true}, http.StatusOK)
}

// smsSent reports whether an SMS code is out for the flow (otp.SMSCodes
// keeps it under "sms:" + the transaction ID).
func (p *Engine) smsSent(ctx context.Context, f *State) bool {
	_, _, err := p.o.Eph.GetValue(ctx, "sms:"+f.ID)
	return err == nil
}

// showSMS renders P03 for the SMS code.
func (p *Engine) showSMS(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity, page templates.OTPPage, status int) {
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	page.Service = p.service(sp, f, templates.Lang(r))
	page.Self = flowURL(PathLogin, sealed)
	page.CSRF = p.csrfToken(f)
	page.Action = flowURL(PathLoginOTP, sealed)
	page.Method = templates.OTPMethodSMS
	page.PhoneLast3 = lastDigits(mobileOf(id), 3)
	p.Render(w, r, status, templates.PageOTP, page)
}

// postSMS checks the SMS code (or sends it again) and creates the pending
// device.
func (p *Engine) postSMS(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	ctx := r.Context()
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
		return
	}
	if p.o.Level2.SMS == nil {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	if r.PostForm.Get(templates.FieldOp) == templates.OpResend {
		err := p.o.Level2.SMS.Send(ctx, f.ID, id.ID, mobileOf(id), otp.PurposeActivateApp)
		if errors.Is(err, otp.ErrMobileCooldown) {
			p.showOffer(w, r, sp, f, id)
			return
		} else if errors.Is(err, otp.ErrTooManySends) {
			p.showSMS(w, r, sp, f, id, templates.OTPPage{}, http.StatusTooManyRequests)
			return
		} else if err != nil {
			p.o.Log.ErrorContext(ctx, "sending activation SMS", "err", err)
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		p.Record(ctx, "device.activation.sms", f.SP, audit.Success, map[string]string{"flow": f.ID, "resend": "true"})
		p.showSMS(w, r, sp, f, id, templates.OTPPage{CanResend: true}, http.StatusOK)
		return
	}
	err := p.o.Level2.SMS.VerifyFor(ctx, f.ID, otp.PurposeActivateApp, formCode(r))
	if err == nil {
		p.createPending(w, r, sp, f, id)
		return
	}
	reason := "wrong code"
	switch {
	case errors.Is(err, otp.ErrWrongCode):
	case errors.Is(err, otp.ErrExpired):
		reason = "code expired"
	case errors.Is(err, otp.ErrTooManyTries):
		reason = "code void after too many tries"
	case errors.Is(err, otp.ErrNoCode):
		reason = "no code"
	default:
		p.o.Log.ErrorContext(ctx, "checking SMS code", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	left, ok := p.factorFailed(w, r, sp, f, "device.activation.sms", map[string]string{"reason": reason})
	if !ok {
		return
	}
	p.showSMS(w, r, sp, f, id, templates.OTPPage{Failed: true, AttemptsLeft: left, CanResend: true}, http.StatusUnauthorized)
}

// createPending makes the device that the activation page offers: a new
// seed, sealed to the identity and the device.
func (p *Engine) createPending(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity) {
	ctx := r.Context()
	seed, err := otp.NewSeed()
	if err != nil {
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	s := p.o.Level2.Sealer
	devID := randomHex(16)
	sealed, err := s.Seal(seed, push.SeedAD(id.ID, devID))
	if err != nil {
		p.o.Log.ErrorContext(ctx, "sealing seed", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	now := p.now()
	d := storage.Device{ID: devID, IdentityID: id.ID, Kind: storage.DeviceTOTP, Status: storage.DevicePending,
		Secret: sealed, KeyVersion: int(s.CurrentKeyID()), CreatedAt: now, UpdatedAt: now}
	if err := p.o.Store.CreateDevice(ctx, d); err != nil {
		p.o.Log.ErrorContext(ctx, "creating device", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if err := p.o.Audit.Record(ctx, Event(id.ID, "device.create", devID, audit.Success,
		map[string]string{"flow": f.ID, "status": "pending", "proof": "sms"})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	f.Device = devID
	p.showActivation(w, r, sp, f, id, templates.ActivatePage{})
}

// pendingDevice returns the flow's pending device, checking it is still
// the identity's and still pending.
func (p *Engine) pendingDevice(ctx context.Context, f *State) (storage.Device, error) {
	d, err := p.o.Store.GetDevice(ctx, f.Device)
	if err != nil {
		return d, err
	}
	if d.IdentityID != f.Identity || d.Status != storage.DevicePending {
		return d, errors.New("device is not pending for this identity")
	}
	return d, nil
}

// pendingSeed loads the flow's pending device and opens its seed. On
// failure it logs (lost names the missing-device case) and answers with the
// error page, and ok is false.
func (p *Engine) pendingSeed(w http.ResponseWriter, r *http.Request, f *State, lost string) (d storage.Device, seed []byte, ok bool) {
	ctx := r.Context()
	d, err := p.pendingDevice(ctx, f)
	if err != nil {
		p.o.Log.InfoContext(ctx, lost, "device", f.Device, "err", err)
		p.Fail(w, r, templates.ReasonFlowExpired)
		return d, nil, false
	}
	seed, err = p.openSeed(ctx, d)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "device seed does not open", "device", d.ID, "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return d, nil, false
	}
	return d, seed, true
}

// showActivation renders the activation page: QR, key, app activation code
// (until an app claims the device) and the first-code form.
func (p *Engine) showActivation(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity, page templates.ActivatePage) {
	ctx := r.Context()
	d, seed, ok := p.pendingSeed(w, r, f, "activation page without its pending device")
	if !ok {
		return
	}
	uri := otp.URI(p.issuer(), id.Username, seed)
	png, err := otp.QRPNG(uri, qrSize)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "QR code", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	if len(d.PublicKey) > 0 {
		page.AppClaimed = true
	} else {
		// A fresh code per showing: only hashes are stored, so an earlier
		// one cannot be shown again; each stays single use and expires.
		code, err := appapi.NewActivationAt(ctx, p.o.Eph, id.ID, d.ID, p.now())
		if err != nil {
			p.o.Log.ErrorContext(ctx, "activation code", "err", err)
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		page.ActivationCode = appapi.FormatCode(code)
	}
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	page.Service = p.service(sp, f, templates.Lang(r))
	page.Self = flowURL(PathLogin, sealed)
	page.CSRF = p.csrfToken(f)
	page.Action = flowURL(PathLoginActivate, sealed)
	// Made here from our own PNG bytes: safe as a URL.
	page.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	page.URI, page.Secret = uri, otp.EncodeSeed(seed)
	if page.DeviceName == "" {
		page.DeviceName = d.Name
	}
	status := http.StatusOK
	if page.Failed {
		status = http.StatusUnauthorized
	}
	p.Render(w, r, status, templates.PageActivate, page)
}

// postActivate takes the first code: right, the device is active and the
// login continues at level 2.
func (p *Engine) postActivate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, sp, ok := p.openSecond(w, r, stepActivate)
	if !ok {
		return
	}
	if f.Device == "" {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	switch r.PostForm.Get(templates.FieldOp) {
	case templates.OpCancel:
		p.cancelOp(w, r, sp, f, "activation")
		return
	case templates.OpSubmit, "":
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	name := deviceName(r.PostForm.Get(templates.FieldDeviceName))
	d, seed, ok := p.pendingSeed(w, r, f, "activation without its pending device")
	if !ok {
		return
	}
	ok, err := otp.Accept(ctx, p.o.Store, d.ID, seed, formCode(r), p.now())
	if err != nil {
		p.o.Log.ErrorContext(ctx, "accepting first code", "device", d.ID, "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if !ok {
		left, ok := p.factorFailed(w, r, sp, f, "device.activate", map[string]string{"device": d.ID, "reason": "wrong code"})
		if !ok {
			return
		}
		id, ok := p.flowIdentity(w, r, f)
		if !ok {
			return
		}
		p.showActivation(w, r, sp, f, id, templates.ActivatePage{Failed: true, AttemptsLeft: left, DeviceName: name})
		return
	}
	var kind storage.DeviceKind
	var added string
	err = p.o.Store.UpdateDevice(ctx, d.ID, func(x storage.Device) (storage.Device, error) {
		if x.Status != storage.DevicePending || x.IdentityID != f.Identity {
			return x, errors.New("device no longer pending")
		}
		x.Status, x.UpdatedAt = storage.DeviceActive, p.now()
		switch {
		case name != "":
			x.Name = name
		case x.Name == "":
			x.Name = defaultDevice
		}
		kind, added = x.Kind, x.Name
		return x, nil
	})
	if err != nil {
		p.o.Log.ErrorContext(ctx, "activating device", "device", d.ID, "err", err)
		p.Fail(w, r, templates.ReasonFlowExpired)
		return
	}
	if err := p.o.Audit.Record(ctx, Event(f.Identity, "device.activate", d.ID, audit.Success,
		map[string]string{"flow": f.ID, "kind": string(kind)})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	p.tellOwner(ctx, f.Identity, alert.Event{Kind: alert.DeviceAdded, At: p.now(), Device: added,
		Push: kind == storage.DevicePush, Lang: templates.Lang(r)})
	p.factorSucceeded(w, r, sp, f, "login.otp", map[string]string{"device": d.ID, "method": "activation"})
}

// dropPending deletes the flow's device while it is still pending (the
// citizen cancelled): it never worked and holds a seed nobody uses.
func (p *Engine) dropPending(ctx context.Context, f *State) {
	if _, err := p.pendingDevice(ctx, f); err != nil {
		return
	}
	if err := p.o.Store.DeleteDevice(ctx, f.Device); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.o.Log.WarnContext(ctx, "deleting pending device", "device", f.Device, "err", err)
	}
}

// deviceName keeps a printable, bounded name.
func deviceName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if rs := []rune(s); len(rs) > maxDeviceName {
		s = string(rs[:maxDeviceName])
	}
	return strings.TrimSpace(s)
}

// romeLoc is Italian time, for dates shown to the citizen.
var romeLoc = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600) // no tzdata: right in winter
}()
