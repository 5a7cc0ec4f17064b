package app

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
	"github.com/spid-idp/spid-idp/videocall"
)

// videoCalls builds the booking of video identification calls
// (enrolment-lifecycle.md §5.4), once; nil when the store keeps no video
// slots.
func (a *App) videoCalls() (*videocall.Handler, error) {
	if a.video != nil {
		return a.video, nil
	}
	cfg := a.Config
	store, ok := a.Backends.Store.(videocall.Store)
	if !ok {
		return nil, nil
	}
	log := a.Log.With("component", "videocall")
	mailer, err := MailSender(cfg, a.Backends, log)
	if err != nil {
		return nil, err
	}
	cal, err := Calendar(cfg)
	if err != nil {
		return nil, err
	}
	pages, err := templates.New(Brand(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("video-call templates: %w", err)
	}
	base, err := url.Parse(cfg.Server.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("server.base_url: %w", err)
	}
	svc := &videocall.Service{Store: store, Enrolment: a.Enrolment, Audit: a.Audit, Mail: mailer, Calendar: cal,
		Brand: cfg.IdP.Name, UIDHost: base.Hostname(), BaseURL: cfg.Server.BaseURL,
		LinkKey: derive32(cfg.IdP.Session.CookieKey, "videocall-link"), Log: log}
	if addr, err := mail.ParseAddress(cfg.Mail.From); err == nil {
		svc.Organizer = addr.Address
	}
	if room := strings.TrimSpace(cfg.Enrolment.VideoRoomURL); room != "" {
		svc.RoomURL = func(_ storage.VideoSlot, code string) string {
			return strings.ReplaceAll(room, "{code}", url.PathEscape(strings.ReplaceAll(code, "-", "")))
		}
	}
	a.video = &videocall.Handler{Service: svc, Pages: pages, CSRFKey: derive32(cfg.IdP.Session.CookieKey, "videocall-csrf"),
		Origin: base.Scheme + "://" + base.Host, Responsible: cfg.Enrolment.Responsible, ResponsibleEN: cfg.Enrolment.ResponsibleEN, Log: log}
	return a.video, nil
}

// mountVideoDesk serves the video operators' availability and agenda
// under /console/video/, signed in through the console.
func (a *App) mountVideoDesk(auth videocall.OperatorAuth) error {
	h, err := a.videoCalls()
	if err != nil || h == nil {
		return err
	}
	return h.RegisterDesk(a.Mux, auth)
}

// ensureDemoVideoSlots gives the demo video operator afternoons of
// availability (the next three days that take appointments, 14:00–18:00,
// 30 minutes each) when none lies ahead, so the video path can be tried
// without publishing first.
func (a *App) ensureDemoVideoSlots(ctx context.Context) error {
	h, err := a.videoCalls()
	if err != nil || h == nil {
		return err
	}
	const opID = "demo-op-video"
	op, err := a.Backends.Store.GetOperator(ctx, opID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	actor := videocall.Actor{ID: op.ID, Roles: op.Roles}
	ahead, err := h.Service.Slots(ctx, actor, time.Now(), false)
	if err != nil || len(ahead) > 0 {
		return err
	}
	day := time.Now().In(videocall.Rome)
	for published := 0; published < 3; {
		day = day.AddDate(0, 0, 1)
		_, err := h.Service.Publish(ctx, actor, videocall.Availability{Date: day, From: 14 * time.Hour, To: 18 * time.Hour,
			Length: 30 * time.Minute, Weeks: 1})
		switch {
		case err == nil:
			published++
		case errors.Is(err, videocall.ErrClosed):
			// a Sunday or a holiday: the next day
		default:
			return fmt.Errorf("demo video availability: %w", err)
		}
	}
	return nil
}
