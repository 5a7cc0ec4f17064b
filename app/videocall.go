package app

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
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
	pages, err := a.Pages()
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.Server.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("server.base_url: %w", err)
	}
	hours, err := VideoHours(cfg)
	if err != nil {
		return nil, err
	}
	svc := &videocall.Service{Store: store, Enrolment: a.Enrolment, Audit: a.Audit, Mail: mailer, Calendar: cal, Hours: hours,
		Retention: cfg.Enrolment.VideoRetention,
		Brand:     cfg.IdP.Name, UIDHost: base.Hostname(), BaseURL: cfg.Server.BaseURL,
		LinkKey: derive32(cfg.IdP.Session.CookieKey, "videocall-link"), Log: log}
	// A request leaving recognition frees its appointment; the applicant
	// is told with the invitation's cancellation.
	a.Enrolment.VideoBookings = svc
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

// VideoHours reads the video calls' service hours (enrolment.video_days,
// video_hours, video_slot_minutes) with the parsers config.Validate uses.
func VideoHours(cfg *config.Config) (videocall.ServiceHours, error) {
	var h videocall.ServiceHours
	days, err := workinghours.ParseWeekdays(cfg.Enrolment.VideoDays)
	if err != nil {
		return h, fmt.Errorf("enrolment.video_days: %w", err)
	}
	oh, err := workinghours.ParseOfficeHours(cfg.Enrolment.VideoHours)
	if err != nil {
		return h, fmt.Errorf("enrolment.video_hours: %w", err)
	}
	h = videocall.ServiceHours{Days: days, Open: oh.Start, Close: oh.End}
	for _, m := range cfg.Enrolment.VideoSlotMinutes {
		n, err := strconv.Atoi(strings.TrimSpace(m))
		if err != nil {
			return h, fmt.Errorf("enrolment.video_slot_minutes: %q is not a number of minutes", m)
		}
		h.Lengths = append(h.Lengths, n)
	}
	slices.Sort(h.Lengths)
	if err := h.Validate(); err != nil {
		return h, fmt.Errorf("enrolment video hours: %w", err)
	}
	return h, nil
}

// videoRetentionJob deletes past video appointments after
// enrolment.video_retention, under the scheduler's lease.
func (a *App) videoRetentionJob() lifecycle.Job {
	return lifecycle.Job{Name: "video-retention", Run: func(ctx context.Context, now time.Time) (string, error) {
		h, err := a.videoCalls()
		if err != nil {
			return "", err
		}
		if h == nil {
			return "no video appointments kept", nil
		}
		n, err := h.Service.Sweep(ctx, now)
		return fmt.Sprintf("%d past video appointments deleted", n), err
	}}
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
	// 14:00–18:00 in 30-minute appointments, fitted into the configured
	// service hours.
	hh := h.Service.ServiceHours()
	length := 30 * time.Minute
	if !slices.Contains(hh.Lengths, 30) {
		length = time.Duration(hh.DefaultLength()) * time.Minute
	}
	from, to := max(14*time.Hour, hh.Open), min(18*time.Hour, hh.Close)
	if to-from < length {
		from, to = hh.Open, hh.Close
	}
	day := time.Now().In(videocall.Rome)
	for published, tried := 0, 0; published < 3 && tried < 60; tried++ {
		day = day.AddDate(0, 0, 1)
		_, err := h.Service.Publish(ctx, actor, videocall.Availability{Date: day, From: from, To: to,
			Length: length, Weeks: 1})
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
