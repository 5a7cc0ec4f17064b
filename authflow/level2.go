package authflow

// Level 2: after the password, a second factor (a code from the app, or a
// push approval with number matching), or, for a citizen without an active
// app, its activation inside the login (an SMS code to the registered mobile,
// then a first code from the new app). The flow stays sealed in the page as
// for level 1; what must not be replayed lives server-side: the flow's
// failure counter, the device's last accepted step, the push challenge.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Level2 configures second factors. Devices are Options.Store's; SMS codes
// and push challenges live in Options.Eph (through SMS and Push).
type Level2 struct {
	// Sealer opens the TOTP seeds and device keys stored sealed. Without it
	// no second factor works and level-2 requests get nr20.
	Sealer *datakey.Sealer
	// SMS sends the activation code to the registered mobile; nil: a
	// citizen without an active app gets nr20 instead of activation.
	SMS *otp.SMSCodes
	// Push runs push approval; nil: codes only.
	Push *push.Service
	// Issuer names the IdP in authenticator apps (otpauth URI); default
	// "SPID IdP".
	Issuer string
}

// Level-2 paths. Every POST carries the sealed flow and the CSRF token, as
// P01 does.
const (
	PathLoginMethod    = "/login/method"     // GET: P02; POST: the choice
	PathLoginOTP       = "/login/otp"        // POST: P03 (app code, or the SMS code of an activation)
	PathLoginPush      = "/login/push"       // GET: push status (JSON) for push.js
	PathLoginPushStart = "/login/push/start" // POST: send a push request
	PathLoginPushDone  = "/login/push/done"  // POST: P04 ("Ho confermato", other method, cancel)
	PathLoginActivate  = "/login/activate"   // POST: app activation (first code)
	// PathLoginActivateStart: POST, the citizen accepts the activation offer.
	PathLoginActivateStart = "/login/activate/start"
	PathDevices            = "/account/devices" // GET/POST: the citizen's devices
)

func (p *Engine) registerLevel2(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathLoginMethod, p.viewMethod)
	mux.HandleFunc("POST "+PathLoginMethod, p.chooseMethod)
	mux.HandleFunc("POST "+PathLoginOTP, p.postOTP)
	mux.HandleFunc("GET "+PathLoginPush, p.pushStatus)
	mux.HandleFunc("POST "+PathLoginPushStart, p.pushStart)
	mux.HandleFunc("POST "+PathLoginPushDone, p.pushDone)
	mux.HandleFunc("POST "+PathLoginActivate, p.postActivate)
	mux.HandleFunc("POST "+PathLoginActivateStart, p.activateStart)
	mux.HandleFunc("GET "+PathDevices, p.devicesPage)
	mux.HandleFunc("POST "+PathDevices, p.revokeDevice)
}

func (p *Engine) issuer() string {
	if p.o.Level2.Issuer != "" {
		return p.o.Level2.Issuer
	}
	return "SPID IdP"
}

// flowURL is path with the sealed flow in its query.
func flowURL(path, sealed string) string { return path + "?" + fieldFlow + "=" + sealed }

// sealOrFail seals f; on failure it has answered.
func (p *Engine) sealOrFail(w http.ResponseWriter, r *http.Request, f *State) (string, bool) {
	sealed, err := p.flows.seal(f)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "sealing flow", "err", err)
		p.Fail(w, r, templates.ReasonInternal)
		return "", false
	}
	return sealed, true
}

// flowIdentity loads the identity the flow authenticated; when the store
// cannot answer, the citizen gets the unavailable page and ok is false.
func (p *Engine) flowIdentity(w http.ResponseWriter, r *http.Request, f *State) (storage.Identity, bool) {
	id, err := p.o.Store.GetIdentity(r.Context(), f.Identity)
	if err != nil {
		p.o.Log.ErrorContext(r.Context(), "identity of flow", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return storage.Identity{}, false
	}
	return id, true
}

// secondFactor continues a flow whose password step succeeded and which
// needs SpidL2: the OTP page (P03), the method choice (P02) when a push
// device exists, or the activation of an app when there is none.
func (p *Engine) secondFactor(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, id storage.Identity) {
	ctx := r.Context()
	if p.o.Level2.Sealer == nil {
		p.spAnomaly(w, r, sp, f, spid.NrLevelUnavailable, "level 2 is not configured")
		return
	}
	// The password step's time: pages sealed before a push denial carry an
	// earlier one and are refused (see pushDenied).
	now := p.now().UnixMilli()
	if reset, ok := p.flowReset(ctx, f.ID); ok && now <= reset {
		now = reset + 1
	}
	f.AuthnInstant, f.Device, f.Challenge = now, "", ""
	devs, err := p.activeDevices(ctx, id.ID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "listing devices", "identity", id.ID, "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if len(devs) == 0 {
		p.startActivation(w, r, sp, f, id)
		return
	}
	if p.pushAvailable(devs) {
		p.showMethod(w, r, sp, f)
		return
	}
	p.showOTP(w, r, sp, f, templates.OTPPage{}, false, http.StatusOK)
}

// showSecondFactor shows the current second-factor step of f again (the
// language switch and a reload land here).
func (p *Engine) showSecondFactor(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	ctx := r.Context()
	if !p.secondStepCurrent(ctx, f) {
		p.Fail(w, r, templates.ReasonFlowExpired)
		return
	}
	switch {
	case f.Step == stepActivate && f.Device == "":
		id, ok := p.flowIdentity(w, r, f)
		if !ok {
			return
		}
		if !p.smsSent(ctx, f) {
			p.showOffer(w, r, sp, f, id)
			return
		}
		p.showSMS(w, r, sp, f, id, templates.OTPPage{CanResend: true}, http.StatusOK)
	case f.Step == stepActivate:
		id, ok := p.flowIdentity(w, r, f)
		if !ok {
			return
		}
		p.showActivation(w, r, sp, f, id, templates.ActivatePage{})
	case f.Step == stepSecond && f.Challenge != "":
		p.showPushStatus(w, r, sp, f, false)
	case f.Step == stepSecond:
		devs, err := p.activeDevices(ctx, f.Identity)
		if err != nil {
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		p.showOTP(w, r, sp, f, templates.OTPPage{}, p.pushAvailable(devs), http.StatusOK)
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
	}
}

// openSecond is openFlow for the second-factor forms: the flow must be past
// the password and at one of steps, level 2 configured, and not reset by a
// push denial since its password step.
func (p *Engine) openSecond(w http.ResponseWriter, r *http.Request, steps ...string) (*State, *metadata.SP, bool) {
	f, sp, ok := p.openFlow(w, r)
	if !ok {
		return nil, nil, false
	}
	if f.Identity == "" || f.authenticated() || p.o.Level2.Sealer == nil || !p.secondStepCurrent(r.Context(), f) {
		// A page of another step, or older than a push denial.
		p.Fail(w, r, templates.ReasonBadRequest)
		return nil, nil, false
	}
	if p.refuseLocked(w, r, sp, f) {
		// Locked since the password step: no code is even looked at.
		return nil, nil, false
	}
	for _, s := range steps {
		if f.Step == s {
			return f, sp, true
		}
	}
	p.Fail(w, r, templates.ReasonBadRequest)
	return nil, nil, false
}

// viewOpen opens the flow of a GET (no CSRF: nothing changes) with the
// checks of viewFlow.
func (p *Engine) viewOpen(w http.ResponseWriter, r *http.Request) (*State, *metadata.SP, bool) {
	templates.SetLang(w, r)
	f, err := p.flows.open(r.URL.Query().Get(fieldFlow))
	if err != nil || p.cookies.get(r, browserCookie) != f.Browser || p.now().Sub(f.created()) > p.o.ConsentTimeout {
		p.Fail(w, r, templates.ReasonFlowExpired)
		return nil, nil, false
	}
	sp, err := p.flowSP(r.Context(), f)
	if err != nil {
		p.Fail(w, r, templates.ReasonFlowExpired)
		return nil, nil, false
	}
	return f, sp, true
}

// ---- a factor's outcome ----

// factorSucceeded completes the authentication at level 2 and shows consent.
func (p *Engine) factorSucceeded(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, action string, details map[string]string) {
	ctx := r.Context()
	id, ok := p.flowIdentity(w, r, f)
	if !ok {
		return
	}
	// A lock made meanwhile (a parallel wrong code, a refusal in the app)
	// wins over this right answer.
	if p.refuseLocked(w, r, sp, f) {
		return
	}
	// The authentication is complete at level 2: every failure is
	// forgotten, second-factor ones included.
	if err := p.o.Regulator.Succeed(ctx, id.ID); err != nil {
		p.o.Log.ErrorContext(ctx, "resetting failure counter", "err", err)
	}
	if !p.rotateBrowser(w, r, f) {
		return
	}
	f.Performed, f.AuthnInstant, f.Step, f.Challenge = int(spid.L2), p.now().UnixMilli(), stepConsent, ""
	d := map[string]string{"flow": f.ID, "level": "2"}
	for k, v := range details {
		d[k] = v
	}
	if err := p.o.Audit.Record(ctx, Event(id.ID, action, f.SP, audit.Success, d)); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if m := details["method"]; m == templates.OpPush || m == templates.OpTOTP {
		p.rememberMethod(ctx, id.ID, m)
	}
	if id.Status != storage.IdentityActive {
		p.spAnomaly(w, r, sp, f, spid.NrSuspendedRevoked, "identity is "+string(id.Status))
		return
	}
	p.showConsent(w, r, sp, f, id)
}

// factorFailed records a failed second-factor attempt for the account lock
// and the flow (nr19 after MaxFailures, as on P01) and returns the attempts
// left; when the failure locked the credentials (nr23) or the flow is at
// its limit (nr19) it has answered the SP and returns ok=false.
func (p *Engine) factorFailed(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, action string, details map[string]string) (left int, ok bool) {
	ctx := r.Context()
	d := map[string]string{"flow": f.ID, "sp": f.SP}
	for k, v := range details {
		d[k] = v
	}
	if err := p.o.Audit.Record(ctx, Event(f.Identity, action, f.SP, audit.Failure, d)); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return 0, false
	}
	fl, err := p.o.Regulator.FailFactor(ctx, f.Identity)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "recording failed second factor", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return 0, false
	}
	if !fl.LockedUntil.IsZero() {
		// This failure locked the credentials (or they already were).
		if err := p.lockedNow(ctx, f.Identity, alert.FactorLock, fl, f.ID, f.SP); err != nil {
			p.Fail(w, r, templates.ReasonUnavailable)
			return 0, false
		}
		p.cancelChallenge(ctx, f)
		p.spAnomaly(w, r, sp, f, spid.NrSuspendedRevoked, "credentials locked after repeated second-factor failures")
		return 0, false
	}
	return p.flowFailed(w, r, sp, f)
}

// flowFailed counts a failure for the flow only: nr19 after MaxFailures.
func (p *Engine) flowFailed(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) (left int, ok bool) {
	ctx := r.Context()
	n, err := p.o.Eph.Incr(ctx, "flowfail:"+f.ID, p.o.ConsentTimeout)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "counting flow failures", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return 0, false
	}
	if int(n) >= p.o.MaxFailures {
		p.cancelChallenge(ctx, f)
		p.spAnomaly(w, r, sp, f, spid.NrCredentialsExhausted, "attempts exhausted at the second factor")
		return 0, false
	}
	return p.o.MaxFailures - int(n), true
}

// cancelOp answers "Annulla" on a second-factor page: nr25.
func (p *Engine) cancelOp(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, where string) {
	p.cancelChallenge(r.Context(), f)
	if f.Step == stepActivate && f.Device != "" {
		p.dropPending(r.Context(), f)
	}
	p.spAnomaly(w, r, sp, f, spid.NrCancelled, "cancelled by the user on the "+where+" page")
}

// ---- the citizen's last method (ui.md P02: pre-select it) ----

const methodMemory = 180 * 24 * time.Hour

func methodKey(identityID string) string { return "l2method:" + identityID }

// rememberMethod keeps the method of the last level-2 login; losing it
// (cache restart) only changes which button P02 puts first.
func (p *Engine) rememberMethod(ctx context.Context, identityID, method string) {
	err := p.o.Eph.CreateValue(ctx, methodKey(identityID), []byte(method), p.now().Add(methodMemory))
	if errors.Is(err, storage.ErrAlreadyExists) {
		err = p.o.Eph.UpdateValue(ctx, methodKey(identityID), func([]byte) ([]byte, error) { return []byte(method), nil })
	}
	if err != nil {
		p.o.Log.WarnContext(ctx, "remembering the second-factor method", "err", err)
	}
}

// preferredMethod is the method P02 pre-selects: the last one used, push
// otherwise.
func (p *Engine) preferredMethod(ctx context.Context, identityID string) string {
	if v, _, err := p.o.Eph.GetValue(ctx, methodKey(identityID)); err == nil && string(v) == templates.OpTOTP {
		return templates.OpTOTP
	}
	return templates.OpPush
}

// ---- flow resets (push denial) ----

func flowResetKey(flowID string) string { return "l2reset:" + flowID }

// flowReset returns when a push denial sent the flow back to P01, if it did.
func (p *Engine) flowReset(ctx context.Context, flowID string) (int64, bool) {
	v, _, err := p.o.Eph.GetValue(ctx, flowResetKey(flowID))
	if err != nil || len(v) != 8 {
		return 0, false
	}
	var t int64
	for _, b := range v {
		t = t<<8 | int64(b)
	}
	return t, true
}

// secondStepCurrent: f's password step is later than any push denial of
// the flow (a denial ends every page of the second step sealed before it).
func (p *Engine) secondStepCurrent(ctx context.Context, f *State) bool {
	reset, ok := p.flowReset(ctx, f.ID)
	return !ok || f.AuthnInstant > reset
}

func (p *Engine) setFlowReset(ctx context.Context, f *State) error {
	t := p.now().UnixMilli()
	v := make([]byte, 8)
	for i := range v {
		v[i] = byte(t >> (56 - 8*i))
	}
	expires := f.created().Add(p.o.ConsentTimeout + time.Hour)
	err := p.o.Eph.CreateValue(ctx, flowResetKey(f.ID), v, expires)
	if errors.Is(err, storage.ErrAlreadyExists) {
		err = p.o.Eph.UpdateValue(ctx, flowResetKey(f.ID), func([]byte) ([]byte, error) { return v, nil })
	}
	return err
}

// ---- devices ----

// activeDevices lists the identity's active devices.
func (p *Engine) activeDevices(ctx context.Context, identityID string) ([]storage.Device, error) {
	all, err := p.o.Store.ListDevices(ctx, identityID)
	if err != nil {
		return nil, err
	}
	var out []storage.Device
	for _, d := range all {
		if d.Status == storage.DeviceActive {
			out = append(out, d)
		}
	}
	return out, nil
}

func (p *Engine) pushAvailable(devs []storage.Device) bool {
	if p.o.Level2.Push == nil {
		return false
	}
	for _, d := range devs {
		if d.Kind == storage.DevicePush {
			return true
		}
	}
	return false
}

// openSeed opens a device's TOTP seed. A seed sealed with a retired data
// key is sealed again with the current one (best effort), so the old key
// can go.
func (p *Engine) openSeed(ctx context.Context, d storage.Device) ([]byte, error) {
	s := p.o.Level2.Sealer
	ad := push.SeedAD(d.IdentityID, d.ID)
	seed, current, err := s.Open(d.Secret, ad)
	if err != nil {
		return nil, err
	}
	if !current {
		if resealed, err := s.Seal(seed, ad); err == nil {
			err = p.o.Store.UpdateDevice(ctx, d.ID, func(x storage.Device) (storage.Device, error) {
				if bytes.Equal(x.Secret, d.Secret) {
					x.Secret, x.KeyVersion, x.UpdatedAt = resealed, int(s.CurrentKeyID()), p.now()
				}
				return x, nil
			})
			if err != nil {
				p.o.Log.WarnContext(ctx, "re-sealing a device seed", "device", d.ID, "err", err)
			}
		}
	}
	return seed, nil
}
