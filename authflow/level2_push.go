package authflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// startPush sends a push request to the identity's app(s) and shows P04
// with the number to match.
func (p *Engine) startPush(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State) {
	ctx := r.Context()
	svc := p.o.Level2.Push
	if svc == nil {
		p.showOTP(w, r, sp, f, templates.OTPPage{}, false, http.StatusOK)
		return
	}
	p.cancelChallenge(ctx, f)
	f.Challenge = ""
	// The app shows the SP in Italian, as the SMS and the pages do by default.
	ch, err := svc.CreateFor(ctx, push.Login{IdentityID: f.Identity, FlowID: f.ID, SP: f.SP,
		SPName: spName(sp, "it"), Level: int(spid.L2), ClientIP: requestctx.ClientIP(ctx)})
	switch {
	case errors.Is(err, push.ErrTooManyPushes):
		p.showPush(w, r, sp, f, templates.PushPage{TooMany: true}, http.StatusTooManyRequests)
		return
	case errors.Is(err, push.ErrNoDevice):
		p.showOTP(w, r, sp, f, templates.OTPPage{}, false, http.StatusOK)
		return
	case err != nil:
		p.o.Log.ErrorContext(ctx, "creating push challenge", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	f.Challenge = ch.ID
	p.showPush(w, r, sp, f, templates.PushPage{Number: ch.Number, DeviceName: p.deviceNames(ctx, ch.DeviceIDs)}, http.StatusOK)
}

// deviceNames names the devices a challenge went to, for P04.
func (p *Engine) deviceNames(ctx context.Context, ids []string) string {
	name := ""
	for _, id := range ids {
		d, err := p.o.Store.GetDevice(ctx, id)
		if err != nil || d.Name == "" {
			continue
		}
		if name != "" {
			name += ", "
		}
		name += d.Name
	}
	if name == "" {
		name = "App"
	}
	return name
}

func (p *Engine) showPush(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, page templates.PushPage, status int) {
	sealed, ok := p.sealOrFail(w, r, f)
	if !ok {
		return
	}
	page.Service = p.service(sp, f, templates.Lang(r))
	page.Self = flowURL(PathLogin, sealed)
	page.CSRF = p.csrfToken(f)
	page.Action = flowURL(PathLoginPushDone, sealed)
	page.PollURL = flowURL(PathLoginPush, sealed)
	p.Render(w, r, status, templates.PagePush, page)
}

// showPushStatus shows P04 for the flow's challenge as it stands.
func (p *Engine) showPushStatus(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, pressed bool) {
	ch, err := p.o.Level2.Push.Status(r.Context(), f.Challenge, f.ID)
	if err != nil || ch.Status == push.StatusExpired {
		f.Challenge = ""
		p.showPush(w, r, sp, f, templates.PushPage{Expired: true}, http.StatusOK)
		return
	}
	p.showPush(w, r, sp, f, templates.PushPage{Number: ch.Number, DeviceName: p.deviceNames(r.Context(), ch.DeviceIDs),
		StillPending: pressed}, http.StatusOK)
}

// cancelChallenge ends the flow's pending push request, if any, so the app
// stops offering it once the citizen moved on.
func (p *Engine) cancelChallenge(ctx context.Context, f *State) {
	if f.Challenge == "" || p.o.Level2.Push == nil {
		return
	}
	if err := p.o.Level2.Push.Cancel(ctx, f.Challenge, f.ID); err != nil && !errors.Is(err, push.ErrNotFound) {
		p.o.Log.WarnContext(ctx, "cancelling push challenge", "err", err)
	}
}

// pushStart handles POST /login/push/start.
func (p *Engine) pushStart(w http.ResponseWriter, r *http.Request) {
	f, sp, ok := p.openSecond(w, r, stepSecond)
	if !ok {
		return
	}
	p.startPush(w, r, sp, f)
}

// pushStatus answers push.js: {"status": "pending"|"approved"|"denied"|
// "expired"}. It reveals nothing else (never the number), and only to the
// browser the flow belongs to.
func (p *Engine) pushStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	status := http.StatusOK
	answer := push.StatusExpired // the flow cannot go on waiting: let the form post say why
	f, err := p.flows.open(r.URL.Query().Get(fieldFlow))
	switch {
	case err != nil:
		status = http.StatusBadRequest
	case p.cookies.get(r, browserCookie) != f.Browser:
		status = http.StatusForbidden
	case f.Challenge == "" || p.o.Level2.Push == nil || p.now().Sub(f.created()) > p.o.ConsentTimeout:
	default:
		if ch, err := p.o.Level2.Push.Status(r.Context(), f.Challenge, f.ID); err == nil {
			answer = ch.Status
		} else if !errors.Is(err, push.ErrNotFound) {
			p.o.Log.ErrorContext(r.Context(), "push status", "err", err)
			status, answer = http.StatusServiceUnavailable, "unavailable"
		}
	}
	w.WriteHeader(status)
	if status != http.StatusOK && answer == push.StatusExpired {
		answer = "refused"
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": answer})
}

// pushDone handles P04: "Ho confermato" (or push.js once the app
// answered), a new request, the code fallback, or "Annulla".
func (p *Engine) pushDone(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, sp, ok := p.openSecond(w, r, stepSecond)
	if !ok {
		return
	}
	op := r.PostForm.Get(templates.FieldOp)
	if op != templates.OpCancel && f.Challenge != "" && p.o.Level2.Push != nil {
		// A request refused in the app ends this second step whatever the
		// page asks next (a new request, a code): say so first.
		if ch, err := p.o.Level2.Push.Status(ctx, f.Challenge, f.ID); err == nil && ch.Status == push.StatusDenied {
			p.pushDenied(w, r, sp, f, ch)
			return
		}
	}
	switch op {
	case templates.OpCancel:
		p.cancelOp(w, r, sp, f, "push")
		return
	case templates.OpTOTP:
		p.cancelChallenge(ctx, f)
		f.Challenge = ""
		p.showOTP(w, r, sp, f, templates.OTPPage{}, p.o.Level2.Push != nil, http.StatusOK)
		return
	case templates.OpRetry, templates.OpPush:
		p.startPush(w, r, sp, f)
		return
	case templates.OpSubmit, "":
	default:
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	if f.Challenge == "" || p.o.Level2.Push == nil {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	ch, err := p.o.Level2.Push.Status(ctx, f.Challenge, f.ID)
	if errors.Is(err, push.ErrNotFound) {
		ch.Status = push.StatusExpired
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "push status", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	switch ch.Status {
	case push.StatusApproved:
		// One approval completes one login: an old copy of this page posted
		// again finds the mark.
		err := p.o.Eph.InsertRequestID(ctx, "pushused:"+ch.ID, ch.Expires.Add(time.Hour))
		if errors.Is(err, storage.ErrAlreadyExists) {
			p.Fail(w, r, templates.ReasonFlowExpired)
			return
		} else if err != nil {
			p.o.Log.ErrorContext(ctx, "marking push approval", "err", err)
			p.Fail(w, r, templates.ReasonUnavailable)
			return
		}
		f.Device = ch.DecidedBy
		p.factorSucceeded(w, r, sp, f, "login.push", map[string]string{"device": ch.DecidedBy, "method": "push", "challenge": ch.ID})
	case push.StatusDenied:
		p.pushDenied(w, r, sp, f, ch)
	case push.StatusPending:
		p.showPushStatus(w, r, sp, f, true)
	default: // expired: no effect, offer a new request or a code
		f.Challenge = ""
		p.showPush(w, r, sp, f, templates.PushPage{Expired: true}, http.StatusOK)
	}
}

// pushDenied: "Non sono stato io" or a wrong number in the app. The
// refusal was counted toward the lock and audited when the app answered
// (pushRefused); here it counts once for this flow (nr19) and sends the
// citizen back to P01 (ui.md P04) with what happened, not the wrong-password
// text: every page of this second step sealed so far stops working, so the
// password is needed again (security.md C.10: a denial ends the attempt).
func (p *Engine) pushDenied(w http.ResponseWriter, r *http.Request, sp *metadata.SP, f *State, ch push.Challenge) {
	ctx := r.Context()
	if err := p.setFlowReset(ctx, f); err != nil {
		p.o.Log.ErrorContext(ctx, "resetting flow after push denial", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	left := 0
	err := p.o.Eph.InsertRequestID(ctx, "pushfail:"+ch.ID, ch.Expires.Add(time.Hour))
	switch {
	case err == nil:
		var ok bool
		if left, ok = p.flowFailed(w, r, sp, f); !ok {
			return
		}
	case !errors.Is(err, storage.ErrAlreadyExists):
		p.o.Log.ErrorContext(ctx, "marking push refusal", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	notice := templates.LoginNoticePushDenied
	if ch.Reason == push.ReasonWrongNumber {
		notice = templates.LoginNoticeWrongNumber
	}
	back := *f
	back.Identity, back.Step, back.Device, back.Challenge, back.AuthnInstant = "", stepPassword, "", "", 0
	p.showLogin(w, r, sp, &back, templates.LoginPage{Notice: notice, AttemptsLeft: left})
}
