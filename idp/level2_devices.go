package idp

import (
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

func (p *IdP) devicesCSRF(browser string) string { return csrf.Token(p.csrfKey, browser+"|devices") }

// devicesPage is GET /account/devices.
func (p *IdP) devicesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	templates.SetLang(w, r)
	browser, err := p.cookies.browserID(w, r)
	if err != nil {
		p.fail(w, r, templates.ReasonInternal)
		return
	}
	page := templates.DevicesPage{CSRF: p.devicesCSRF(browser), Action: PathDevices}
	_, id, ok := p.currentSession(ctx, r)
	if !ok {
		p.render(w, r, http.StatusOK, templates.PageDevices, page)
		return
	}
	devs, err := p.o.Store.ListDevices(ctx, id.ID)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "listing devices", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
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
	p.render(w, r, http.StatusOK, templates.PageDevices, page)
}

// revokeDevice is POST /account/devices: revoke one of the session
// identity's devices, then show the list again (Post/Redirect/Get).
func (p *IdP) revokeDevice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := csrf.CheckOrigin(r, p.origin); err != nil {
		p.fail(w, r, templates.ReasonForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, templates.ReasonBadRequest)
		return
	}
	browser := p.cookies.get(r, browserCookie)
	if browser == "" || !csrf.Valid(p.csrfKey, browser+"|devices", r.PostForm.Get(templates.FieldCSRF)) {
		p.fail(w, r, templates.ReasonForbidden)
		return
	}
	s, _, ok := p.currentSession(ctx, r)
	if !ok || r.PostForm.Get(templates.FieldOp) != templates.OpRevoke {
		p.fail(w, r, templates.ReasonForbidden)
		return
	}
	devID := r.PostForm.Get(templates.FieldDevice)
	var removed *storage.Device // set when this request removed it
	err := p.o.Store.UpdateDevice(ctx, devID, func(d storage.Device) (storage.Device, error) {
		removed = nil
		if d.IdentityID != s.IdentityID {
			return d, storage.ErrNotFound // another identity's device is no business of this session
		}
		if d.Status != storage.DeviceRevoked {
			d.Status, d.UpdatedAt = storage.DeviceRevoked, p.now()
			removed = &d
		}
		return d, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		_ = p.o.Audit.Record(ctx, storageEvent(s.IdentityID, "device.revoke", devID, audit.Denied, map[string]string{"reason": "not a device of the identity"}))
		p.fail(w, r, templates.ReasonNotFound)
		return
	} else if err != nil {
		p.o.Log.ErrorContext(ctx, "revoking device", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	if err := p.o.Audit.Record(ctx, storageEvent(s.IdentityID, "device.revoke", devID, audit.Success,
		map[string]string{"by": "holder", "session": "sso"})); err != nil {
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	if removed != nil {
		p.tellOwner(ctx, s.IdentityID, alert.Event{Kind: alert.DeviceRemoved, At: removed.UpdatedAt, Device: removed.Name,
			Push: removed.Kind == storage.DevicePush, Lang: templates.Lang(r)})
	}
	// Whoever holds a session made with that device loses it: every
	// session of the identity ends. The one revoking stays signed in: it
	// moves to the new epoch, keeping its ID so the SessionIndexes its
	// SPs hold still name it for logout.
	epoch, err := sessions.End(ctx, p.o.Store, s.IdentityID)
	if err == nil {
		err = p.o.Eph.UpdateSession(ctx, s.ID, func(cur storage.Session) (storage.Session, error) {
			cur.Epoch = epoch
			return cur, nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			err = nil // ended meanwhile: nothing to keep
		}
	}
	if err != nil {
		p.o.Log.ErrorContext(ctx, "ending sessions after a device revocation", "err", err)
		p.fail(w, r, templates.ReasonUnavailable)
		return
	}
	http.Redirect(w, r, PathDevices+"?revoked="+url.QueryEscape(devID), http.StatusSeeOther)
}
