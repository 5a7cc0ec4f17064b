package authflow

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/alert"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The citizen's devices, for whoever holds a live SSO session in this
// browser: a list with a revoke button each. (The self-service portal is
// the full place for this; this page keeps revocation possible meanwhile.)

func (p *Engine) devicesCSRF(browser string) string { return csrf.Token(p.csrfKey, browser+"|devices") }

// devicesPage is GET /account/devices.
func (p *Engine) devicesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	templates.SetLang(w, r)
	browser, err := p.cookies.browserID(w, r)
	if err != nil {
		p.Fail(w, r, templates.ReasonInternal)
		return
	}
	page := templates.DevicesPage{CSRF: p.devicesCSRF(browser), Action: PathDevices, Back: "/account/"}
	id, _, ok := p.devicesHolder(ctx, r)
	if !ok {
		p.Render(w, r, http.StatusOK, templates.PageDevices, page)
		return
	}
	devs, err := p.o.Store.ListDevices(ctx, id.ID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "listing devices", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	page.Name = id.Attributes["name"] + " " + id.Attributes["familyName"]
	revoked := r.URL.Query().Get("revoked")
	for _, d := range devs {
		page.Devices = append(page.Devices, templates.Device{ID: d.ID, Name: d.Name, Kind: string(d.Kind),
			Status: string(d.Status), Created: d.CreatedAt, LastUsed: d.LastUsedAt})
		if d.ID == revoked && d.Status == storage.DeviceRevoked {
			page.Revoked = d.Name
		}
	}
	p.Render(w, r, http.StatusOK, templates.PageDevices, page)
}

// keeper moves the session the devices page was used with to a new epoch.
type keeper struct {
	kind string // "sso" or "personal_area", for the audit record
	fn   func(epoch int64) error
}

// devicesHolder is the identity whose devices the page shows: the SSO
// session's, or else the personal area's (its own level-2 login).
func (p *Engine) devicesHolder(ctx context.Context, r *http.Request) (storage.Identity, keeper, bool) {
	if s, id, ok := p.currentSession(ctx, r); ok {
		return id, keeper{kind: "sso", fn: func(epoch int64) error {
			err := p.o.Eph.UpdateSession(ctx, s.ID, func(cur storage.Session) (storage.Session, error) {
				cur.Epoch = epoch
				return cur, nil
			})
			if errors.Is(err, storage.ErrNotFound) {
				err = nil // ended meanwhile: nothing to keep
			}
			return err
		}}, true
	}
	if p.o.PersonalArea == nil {
		return storage.Identity{}, keeper{}, false
	}
	idID, keep, ok := p.o.PersonalArea(r)
	if !ok {
		return storage.Identity{}, keeper{}, false
	}
	id, err := p.o.Store.GetIdentity(ctx, idID)
	if err != nil {
		return storage.Identity{}, keeper{}, false
	}
	return id, keeper{kind: "personal_area", fn: keep}, true
}

// revokeDevice is POST /account/devices: revoke one of the session
// identity's devices, then show the list again (Post/Redirect/Get).
func (p *Engine) revokeDevice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := csrf.CheckOrigin(r, p.origin); err != nil {
		p.Fail(w, r, templates.ReasonForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.Fail(w, r, templates.ReasonBadRequest)
		return
	}
	browser := p.cookies.get(r, browserCookie)
	if browser == "" || !csrf.Valid(p.csrfKey, browser+"|devices", r.PostForm.Get(templates.FieldCSRF)) {
		p.Fail(w, r, templates.ReasonForbidden)
		return
	}
	holder, keep, ok := p.devicesHolder(ctx, r)
	if !ok || r.PostForm.Get(templates.FieldOp) != templates.OpRevoke {
		p.Fail(w, r, templates.ReasonForbidden)
		return
	}
	devID := r.PostForm.Get(templates.FieldDevice)
	var removed *storage.Device // set when this request removed it
	err := p.o.Store.UpdateDevice(ctx, devID, func(d storage.Device) (storage.Device, error) {
		removed = nil
		if d.IdentityID != holder.ID {
			return d, storage.ErrNotFound // another identity's device is no business of this session
		}
		if d.Status != storage.DeviceRevoked {
			d.Status, d.UpdatedAt = storage.DeviceRevoked, p.now()
			removed = &d
		}
		return d, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		_ = p.o.Audit.Record(ctx, Event(holder.ID, "device.revoke", devID, audit.Denied, map[string]string{"reason": "not a device of the identity"}))
		p.Fail(w, r, templates.ReasonNotFound)
		return
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "revoking device", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if err := p.o.Audit.Record(ctx, Event(holder.ID, "device.revoke", devID, audit.Success,
		map[string]string{"by": "holder", "session": keep.kind})); err != nil {
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	if removed != nil {
		p.tellOwner(ctx, holder.ID, alert.Event{Kind: alert.DeviceRemoved, At: removed.UpdatedAt, Device: removed.Name,
			Push: removed.Kind == storage.DevicePush, Lang: templates.Lang(r)})
	}
	// Whoever holds a session made with that device loses it: every
	// session of the identity ends. The one revoking stays signed in: it
	// moves to the new epoch, keeping its ID so the SessionIndexes its
	// SPs hold still name it for logout.
	epoch, err := sessions.End(ctx, p.o.Store, holder.ID)
	if err == nil {
		err = keep.fn(epoch)
	}
	if err != nil {
		p.o.Log.ErrorContext(ctx, "ending sessions after a device revocation", "err", err)
		p.Fail(w, r, templates.ReasonUnavailable)
		return
	}
	http.Redirect(w, r, PathDevices+"?revoked="+url.QueryEscape(devID), http.StatusSeeOther)
}
