package portal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// "Add a device" (ui.md §8.1 "Dispositivi e app", enrolment-lifecycle.md
// §7.4): a holder who already signs in at level 2 adds a second
// authenticator app, on another phone for instance. The same proofs as the
// activation inside a login: a level-2 login less than 5 minutes old, then
// an SMS code to the registered mobile (the phone on file), then the new
// app's first code. The owner is told by e-mail, every step is audited.
//
// The procedure's state lives in the ephemeral store under the portal
// session, so it is bound to this browser's session and ends with it.

// PathDeviceAdd is the "add a device" page.
const PathDeviceAdd = Prefix + "/devices/add"

const (
	// addTTL bounds the whole procedure after the SMS code was asked for.
	addTTL = 15 * time.Minute
	// maxFirstCodeFailures wrong first codes drop the pending device: the
	// procedure starts over with a new SMS code.
	maxFirstCodeFailures = 5
	qrSize               = 240
	maxDeviceName        = 64
	defaultDeviceName    = "App"
)

// Alerter e-mails a security notice to the owner (idp/alert).
type Alerter interface {
	Send(ctx context.Context, e alert.Event) error
}

// addState is the procedure under way for a portal session.
type addState struct {
	Identity string `json:"identity"`
	TxID     string `json:"tx"`               // the SMS code's transaction
	DeviceID string `json:"device,omitempty"` // set once the SMS code is right
}

func addKey(sessionID string) string { return "portal:devadd:" + sessionID }

func (p *Portal) addState(ctx context.Context, s *session) (addState, error) {
	var st addState
	raw, _, err := p.o.Eph.GetValue(ctx, addKey(s.ID))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, err
	}
	if st.Identity != s.IdentityID {
		return addState{}, storage.ErrNotFound
	}
	return st, nil
}

func (p *Portal) saveAddState(ctx context.Context, s *session, st addState) error {
	val, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// Replace: delete then create (Values creates first-wins).
	_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
	return p.o.Eph.CreateValue(ctx, addKey(s.ID), val, p.o.Now().Add(addTTL))
}

// canAdd says whether the portal was given what adding an app needs.
func (p *Portal) canAdd() bool { return p.o.DeviceSealer != nil && p.o.SMS != nil }

func (p *Portal) renderAdd(w http.ResponseWriter, r *http.Request, status int, page templates.DeviceAddPage) {
	page.Action, page.DevicesURL, page.HomeURL = PathDeviceAdd, PathDevices, PathHome
	if err := p.o.Pages.Render(w, status, templates.PageDeviceAdd, templates.Lang(r), page); err != nil {
		p.o.Log.ErrorContext(r.Context(), "add-device page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// unavailable answers a storage failure in the page's language.
func (p *Portal) unavailable(w http.ResponseWriter, r *http.Request) {
	if err := p.o.Pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: templates.ReasonUnavailable}); err != nil {
		http.Error(w, "service unavailable, retry later", http.StatusServiceUnavailable)
	}
}

// loginStep asks for a (new) level-2 login that comes back here.
func (p *Portal) loginStep(w http.ResponseWriter, r *http.Request, step string) {
	b := p.browser(w, r)
	p.renderAdd(w, r, http.StatusOK, templates.DeviceAddPage{Step: step, LoginAction: PathLogin, Next: PathDeviceAdd,
		CSRF: csrf.Token(p.o.CSRFKey, "login:"+b)})
}

// deviceAddPage is GET /account/devices/add: the step the procedure is at.
func (p *Portal) deviceAddPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, ok := p.session(r)
	if !ok {
		p.loginStep(w, r, templates.DeviceAddLogin)
		return
	}
	page := templates.DeviceAddPage{CSRF: csrf.Token(p.o.CSRFKey, s.ID)}
	if added := r.URL.Query().Get("added"); added != "" {
		d, err := p.o.Store.GetDevice(ctx, added)
		if err == nil && d.IdentityID == s.IdentityID && d.Status == storage.DeviceActive {
			page.Step, page.Added, page.Push = templates.DeviceAddDone, d.Name, d.Kind == storage.DevicePush
			p.renderAdd(w, r, http.StatusOK, page)
			return
		}
	}
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	st, err := p.addState(ctx, s)
	switch {
	case err == nil && st.DeviceID != "":
		p.showAddActivate(w, r, s, id, st, page, http.StatusOK)
		return
	case err == nil:
		page.Step, page.PhoneLast3 = templates.DeviceAddCode, lastDigits(id.Attributes["mobilePhone"], 3)
		p.renderAdd(w, r, http.StatusOK, page)
		return
	}
	p.showAddStart(w, r, s, id, page, http.StatusOK)
}

// showAddStart renders the first step, or what stands in its way: no
// mobile, the mobile cool-down, a login too old.
func (p *Portal) showAddStart(w http.ResponseWriter, r *http.Request, s *session, id storage.Identity, page templates.DeviceAddPage, status int) {
	ctx := r.Context()
	mobile := id.Attributes["mobilePhone"]
	page.PhoneLast3 = lastDigits(mobile, 3)
	if !p.canAdd() || mobile == "" {
		page.Step = templates.DeviceAddNoMobile
		p.renderAdd(w, r, status, page)
		return
	}
	until, err := otp.Cooldown(ctx, p.o.Eph, id.ID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "reading the mobile cool-down", "err", err)
		p.unavailable(w, r)
		return
	}
	if until.After(p.o.Now()) {
		local := until.In(rome)
		page.Step, page.CooldownDate, page.CooldownTime = templates.DeviceAddCooldown, local.Format("02/01/2006"), local.Format("15:04")
		p.renderAdd(w, r, status, page)
		return
	}
	if !p.isFresh(s) {
		p.loginStep(w, r, templates.DeviceAddReauth)
		return
	}
	page.Step = templates.DeviceAddStart
	p.renderAdd(w, r, status, page)
}

func (p *Portal) isFresh(s *session) bool { return p.o.Now().Sub(s.Created) <= recentAuth }

// showAddActivate renders the seed to scan (QR, text, activation code of
// the reference app) and the first-code form.
func (p *Portal) showAddActivate(w http.ResponseWriter, r *http.Request, s *session, id storage.Identity, st addState, page templates.DeviceAddPage, status int) {
	ctx := r.Context()
	d, seed, err := p.pendingSeed(ctx, s, st)
	if err != nil {
		p.o.Log.InfoContext(ctx, "add-device page without its pending device", "err", err)
		_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
		page.Problem = "expiredflow"
		p.showAddStart(w, r, s, id, page, http.StatusConflict)
		return
	}
	uri := otp.URI(p.issuer(), id.Username, seed)
	png, err := otp.QRPNG(uri, qrSize)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "QR code", "err", err)
		p.unavailable(w, r)
		return
	}
	if len(d.PublicKey) > 0 {
		page.AppClaimed = true
	} else {
		// Only hashes are kept: each showing makes a fresh single-use code.
		code, err := appapi.NewActivationAt(ctx, p.o.Eph, id.ID, d.ID, p.o.Now())
		if err != nil {
			p.o.Log.ErrorContext(ctx, "activation code", "err", err)
			p.unavailable(w, r)
			return
		}
		page.ActivationCode = appapi.FormatCode(code)
	}
	page.Step = templates.DeviceAddActivate
	// Made here from our own PNG bytes: safe as a URL.
	page.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	page.URI, page.Secret = uri, otp.EncodeSeed(seed)
	if page.DeviceName == "" {
		page.DeviceName = d.Name
	}
	p.renderAdd(w, r, status, page)
}

func (p *Portal) issuer() string {
	if p.o.Issuer != "" {
		return p.o.Issuer
	}
	return "SPID IdP"
}

// pendingSeed loads the procedure's pending device, still the holder's and
// still pending, and opens its seed.
func (p *Portal) pendingSeed(ctx context.Context, s *session, st addState) (storage.Device, []byte, error) {
	d, err := p.o.Store.GetDevice(ctx, st.DeviceID)
	if err != nil {
		return d, nil, err
	}
	if d.IdentityID != s.IdentityID || d.Status != storage.DevicePending {
		return d, nil, errors.New("device is not pending for this identity")
	}
	seed, _, err := p.o.DeviceSealer.Open(d.Secret, push.SeedAD(d.IdentityID, d.ID))
	if err != nil {
		return d, nil, err
	}
	return d, seed, nil
}

// deviceAdd is POST /account/devices/add, one step of the procedure.
func (p *Portal) deviceAdd(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	if !p.canAdd() {
		http.Redirect(w, r, PathDeviceAdd, http.StatusSeeOther)
		return
	}
	id, err := p.o.Store.GetIdentity(ctx, s.IdentityID)
	if err != nil {
		p.unavailable(w, r)
		return
	}
	page := templates.DeviceAddPage{CSRF: csrf.Token(p.o.CSRFKey, s.ID)}
	op := r.PostForm.Get(templates.FieldOp)
	st, stErr := p.addState(ctx, s)
	switch op {
	case templates.OpSendCode:
		if !p.isFresh(s) {
			_ = p.record(ctx, s.IdentityID, "device.activation.sms", PathDeviceAdd, audit.Denied,
				map[string]string{"channel": "personal_area", "reason": "authentication older than 5 minutes"})
			p.loginStep(w, r, templates.DeviceAddReauth)
			return
		}
		if stErr == nil && st.DeviceID != "" {
			p.dropPending(ctx, s, st)
		}
		st = addState{Identity: s.IdentityID, TxID: "portal-devadd-" + newID()}
		p.sendAddCode(w, r, s, id, st, page)
	case templates.OpResend:
		if stErr != nil || st.DeviceID != "" {
			p.addExpired(w, r, s, id, page)
			return
		}
		p.sendAddCode(w, r, s, id, st, page)
	case templates.OpCheck:
		if stErr != nil || st.DeviceID != "" {
			p.addExpired(w, r, s, id, page)
			return
		}
		p.checkAddCode(w, r, s, id, st, page)
	case templates.OpActivate:
		if stErr != nil || st.DeviceID == "" {
			p.addExpired(w, r, s, id, page)
			return
		}
		p.activateAdded(w, r, s, id, st, page)
	case templates.OpCancel:
		if stErr == nil {
			p.dropPending(ctx, s, st)
			_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
			_ = p.record(ctx, s.IdentityID, "device.activation.cancel", st.DeviceID, audit.Success,
				map[string]string{"channel": "personal_area"})
		}
		http.Redirect(w, r, PathDevices, http.StatusSeeOther)
	default:
		http.Error(w, "unknown operation", http.StatusBadRequest)
	}
}

// addExpired: a step posted without the procedure it belongs to (expired,
// cancelled, or done in another tab).
func (p *Portal) addExpired(w http.ResponseWriter, r *http.Request, s *session, id storage.Identity, page templates.DeviceAddPage) {
	page.Problem = "expiredflow"
	p.showAddStart(w, r, s, id, page, http.StatusConflict)
}

// sendAddCode sends the SMS code to the registered mobile.
func (p *Portal) sendAddCode(w http.ResponseWriter, r *http.Request, s *session, id storage.Identity, st addState, page templates.DeviceAddPage) {
	ctx := r.Context()
	mobile := id.Attributes["mobilePhone"]
	if mobile == "" {
		p.showAddStart(w, r, s, id, page, http.StatusConflict)
		return
	}
	err := p.o.SMS.Send(ctx, st.TxID, id.ID, mobile, otp.PurposeActivateApp)
	switch {
	case errors.Is(err, otp.ErrMobileCooldown):
		_ = p.record(ctx, id.ID, "device.activation.sms", PathDeviceAdd, audit.Denied,
			map[string]string{"channel": "personal_area", "reason": "mobile cool-down"})
		p.showAddStart(w, r, s, id, page, http.StatusConflict)
		return
	case errors.Is(err, otp.ErrTooManySends):
		_ = p.record(ctx, id.ID, "device.activation.sms", PathDeviceAdd, audit.Denied,
			map[string]string{"channel": "personal_area", "reason": "too many codes sent"})
		page.Problem = "toomany"
		p.showAddStart(w, r, s, id, page, http.StatusTooManyRequests)
		return
	case err != nil:
		p.o.Log.ErrorContext(ctx, "sending the add-device SMS", "identity", id.ID, "err", err)
		p.unavailable(w, r)
		return
	}
	if err := p.saveAddState(ctx, s, st); err != nil {
		p.o.Log.ErrorContext(ctx, "saving the add-device state", "err", err)
		p.unavailable(w, r)
		return
	}
	if err := p.record(ctx, id.ID, "device.activation.sms", PathDeviceAdd, audit.Success,
		map[string]string{"channel": "personal_area", "to": lastDigits(mobile, 3)}); err != nil {
		p.unavailable(w, r)
		return
	}
	http.Redirect(w, r, PathDeviceAdd, http.StatusSeeOther)
}

// checkAddCode checks the SMS code and creates the pending device.
func (p *Portal) checkAddCode(w http.ResponseWriter, r *http.Request, s *session, id storage.Identity, st addState, page templates.DeviceAddPage) {
	ctx := r.Context()
	err := p.o.SMS.VerifyFor(ctx, st.TxID, otp.PurposeActivateApp, strings.TrimSpace(r.PostForm.Get(templates.FieldOTP)))
	if err != nil {
		var wrong *otp.WrongCodeError
		reason := "wrong code"
		page.Problem = "wrong"
		switch {
		case errors.As(err, &wrong):
			page.TriesLeft = wrong.TriesLeft
		case errors.Is(err, otp.ErrExpired):
			reason, page.Problem = "code expired", "expired"
		case errors.Is(err, otp.ErrTooManyTries):
			reason, page.Problem = "code void after too many tries", "void"
		case errors.Is(err, otp.ErrNoCode):
			reason, page.Problem = "no code", "nocode"
		default:
			p.o.Log.ErrorContext(ctx, "checking the add-device SMS code", "err", err)
			p.unavailable(w, r)
			return
		}
		_ = p.record(ctx, id.ID, "device.activation.sms", PathDeviceAdd, audit.Failure,
			map[string]string{"channel": "personal_area", "reason": reason})
		page.Step, page.PhoneLast3 = templates.DeviceAddCode, lastDigits(id.Attributes["mobilePhone"], 3)
		p.renderAdd(w, r, http.StatusUnauthorized, page)
		return
	}
	seed, err := otp.NewSeed()
	if err != nil {
		p.unavailable(w, r)
		return
	}
	devID := newID()
	sealed, err := p.o.DeviceSealer.Seal(seed, push.SeedAD(id.ID, devID))
	if err != nil {
		p.o.Log.ErrorContext(ctx, "sealing seed", "err", err)
		p.unavailable(w, r)
		return
	}
	now := p.o.Now().UTC()
	d := storage.Device{ID: devID, IdentityID: id.ID, Kind: storage.DeviceTOTP, Status: storage.DevicePending,
		Secret: sealed, KeyVersion: int(p.o.DeviceSealer.CurrentKeyID()), CreatedAt: now, UpdatedAt: now}
	if err := p.o.Store.CreateDevice(ctx, d); err != nil {
		p.o.Log.ErrorContext(ctx, "creating device", "err", err)
		p.unavailable(w, r)
		return
	}
	st.DeviceID = devID
	if err := p.saveAddState(ctx, s, st); err != nil {
		p.o.Log.ErrorContext(ctx, "saving the add-device state", "err", err)
		p.unavailable(w, r)
		return
	}
	if err := p.record(ctx, id.ID, "device.create", devID, audit.Success,
		map[string]string{"channel": "personal_area", "status": "pending", "proof": "sms"}); err != nil {
		p.unavailable(w, r)
		return
	}
	http.Redirect(w, r, PathDeviceAdd, http.StatusSeeOther)
}

// activateAdded takes the new app's first code: right, the device is
// active and the owner is told.
func (p *Portal) activateAdded(w http.ResponseWriter, r *http.Request, s *session, id storage.Identity, st addState, page templates.DeviceAddPage) {
	ctx := r.Context()
	name := deviceName(r.PostForm.Get(templates.FieldDeviceName))
	d, seed, err := p.pendingSeed(ctx, s, st)
	if err != nil {
		p.o.Log.InfoContext(ctx, "activation without its pending device", "err", err)
		_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
		p.addExpired(w, r, s, id, page)
		return
	}
	ok, err := otp.Accept(ctx, p.o.Store, d.ID, seed, strings.TrimSpace(r.PostForm.Get(templates.FieldOTP)), p.o.Now())
	if err != nil {
		p.o.Log.ErrorContext(ctx, "accepting the first code", "device", d.ID, "err", err)
		p.unavailable(w, r)
		return
	}
	if !ok {
		_ = p.record(ctx, id.ID, "device.activate", d.ID, audit.Failure,
			map[string]string{"channel": "personal_area", "reason": "wrong code"})
		if d.FailedAttempts+1 >= maxFirstCodeFailures {
			// Guessing is not an option: the device and the SMS proof go.
			p.dropPending(ctx, s, st)
			_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
			page.Problem = "restart"
			p.showAddStart(w, r, s, id, page, http.StatusUnauthorized)
			return
		}
		page.Problem, page.DeviceName = "appcode", name
		page.TriesLeft = maxFirstCodeFailures - d.FailedAttempts - 1
		p.showAddActivate(w, r, s, id, st, page, http.StatusUnauthorized)
		return
	}
	var added storage.Device
	err = p.o.Store.UpdateDevice(ctx, d.ID, func(x storage.Device) (storage.Device, error) {
		if x.Status != storage.DevicePending || x.IdentityID != id.ID {
			return x, errors.New("device no longer pending")
		}
		x.Status, x.UpdatedAt = storage.DeviceActive, p.o.Now().UTC()
		switch {
		case name != "":
			x.Name = name
		case x.Name == "":
			x.Name = defaultDeviceName
		}
		added = x
		return x, nil
	})
	if err != nil {
		p.o.Log.ErrorContext(ctx, "activating device", "device", d.ID, "err", err)
		_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
		p.addExpired(w, r, s, id, page)
		return
	}
	_ = p.o.Eph.DeleteValue(ctx, addKey(s.ID))
	if err := p.record(ctx, id.ID, "device.activate", d.ID, audit.Success,
		map[string]string{"channel": "personal_area", "kind": string(added.Kind)}); err != nil {
		p.unavailable(w, r)
		return
	}
	p.tellOwner(ctx, id, alert.Event{Kind: alert.DeviceAdded, At: added.UpdatedAt, Device: added.Name,
		Push: added.Kind == storage.DevicePush, Lang: templates.Lang(r)})
	http.Redirect(w, r, PathDeviceAdd+"?added="+url.QueryEscape(d.ID), http.StatusSeeOther)
}

// dropPending deletes the procedure's device while still pending: it never
// worked and holds a seed nobody uses.
func (p *Portal) dropPending(ctx context.Context, s *session, st addState) {
	if st.DeviceID == "" {
		return
	}
	d, err := p.o.Store.GetDevice(ctx, st.DeviceID)
	if err != nil || d.IdentityID != s.IdentityID || d.Status != storage.DevicePending {
		return
	}
	if err := p.o.Store.DeleteDevice(ctx, d.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.o.Log.WarnContext(ctx, "deleting pending device", "device", d.ID, "err", err)
	}
}

// tellOwner e-mails the notice (through the outbox queue when configured)
// and audits the attempt, sent or not.
func (p *Portal) tellOwner(ctx context.Context, id storage.Identity, e alert.Event) {
	if p.o.Alerts == nil {
		return
	}
	e.Email = id.Attributes["email"]
	details := map[string]string{"kind": string(e.Kind)}
	outcome := audit.Success
	err := p.o.Alerts.Send(context.WithoutCancel(ctx), e)
	switch {
	case errors.Is(err, alert.ErrNoAddress):
		outcome, details["reason"] = audit.Failure, "no e-mail address"
	case err != nil:
		outcome, details["reason"] = audit.Failure, "not sent"
		p.o.Log.ErrorContext(ctx, "device notice to the owner not sent", "identity", id.ID, "err", err)
	}
	_ = p.record(ctx, id.ID, "alert.email", id.ID, outcome, details)
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

func lastDigits(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// rome is Italian time, for the dates shown to the holder.
var rome = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600)
}()
