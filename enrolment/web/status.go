package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/pos"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// status is the request's status page (no dead ends): the applicant types
// the request code and the last four characters of the fiscal code and
// sees the state, its deadline, the next step and, on the shop and
// counter paths, the points of service (filtered by province).
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.ensureState(w, r)
	if err != nil {
		h.fail(w, r, "status", err)
		return
	}
	l := lang(r)
	p := templates.EnrolPage{Step: templates.EnrolStepStatus, Action: PathStatus, CSRF: csrf.Token(h.csrf, st.Nonce), Values: map[string]string{}}
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, p)
		return
	}
	if !h.checkPost(r, st) {
		h.forbidden(w, r)
		return
	}
	code, suffix := strings.TrimSpace(r.PostFormValue("code")), strings.ToUpper(strings.TrimSpace(r.PostFormValue("cf_suffix")))
	p.Values["code"], p.Values["cf_suffix"] = code, suffix
	e, req, err := h.Service.Lookup(r.Context(), code, suffix)
	if errors.Is(err, storage.ErrNotFound) {
		p.Errors = []string{templates.Text(l, "enrolform.status.notfound")}
		h.render(w, r, http.StatusNotFound, p)
		return
	} else if err != nil {
		h.fail(w, r, "status", err)
		return
	}
	if r.PostFormValue("op") == "resend" {
		if err := h.Service.SendCorrectionLink(r.Context(), e.ID); err != nil {
			p.Errors = []string{templates.Text(l, "enrolform.status.noresend")}
		} else {
			p.Notice = templates.Text(l, "enrolform.status.resent")
		}
	}
	p.Code, p.Path, p.State = enrolment.FormatCode(e.Code), e.Path, e.State
	p.Status = h.describe(l, e, req)
	p.Status.Code, p.Status.Suffix = enrolment.FormatCode(e.Code), suffix
	if enrolment.State(e.State) == enrolment.StateAwaitingRecognition {
		h.points(&p, e.Path, r.PostFormValue("province"))
		h.video(r.Context(), &p, e, l)
	}
	h.render(w, r, http.StatusOK, p)
}

// VideoBooking is the booking of the video call: the link to the
// applicant's page and the appointment a request holds.
type VideoBooking interface {
	Link(requestID string) (string, error)
	Booking(ctx context.Context, requestID string) (storage.VideoSlot, error)
}

// video fills the booking link and the appointment of a request on the
// video path waiting for its call.
func (h *Handler) video(ctx context.Context, p *templates.EnrolPage, e storage.Enrolment, l string) {
	if h.Video == nil || e.Path != enrolment.PathVideo || enrolment.State(e.State) != enrolment.StateAwaitingRecognition {
		return
	}
	link, err := h.Video.Link(e.ID)
	if err != nil {
		h.Log.Error("video booking link", "error", err)
		return
	}
	if u, err := url.Parse(link); err == nil {
		q := u.Query()
		q.Set("lang", l) // the booking page in the language of these pages
		u.RawQuery = q.Encode()
		link = u.RequestURI() // same origin: a relative link
	}
	p.VideoURL = link
	if b, err := h.Video.Booking(ctx, e.ID); err == nil {
		p.VideoWhen = when(b.Start)
		// Booked: the next step is the call itself, not booking it.
		if p.Status != nil {
			p.Status.Next = templates.Text(l, "enrolform.next.recognition.video_booked", "when", p.VideoWhen)
		}
	}
}

// describe says, in l, where a request is and what comes next.
func (h *Handler) describe(l string, e storage.Enrolment, req *enrolment.Request) *templates.EnrolStatus {
	s := enrolment.State(e.State)
	tx := func(key string, args ...string) string { return templates.Text(l, key, args...) }
	out := &templates.EnrolStatus{Label: s.Label(l), Meaning: tx("enrolform.state." + e.State)}
	switch s {
	case enrolment.StateAwaitingRecognition:
		out.Deadline = when(req.StateSince.Add(enrolment.RecognitionTimeout))
		out.Next = tx("enrolform.next.recognition." + e.Path)
	case enrolment.StateAwaitingProcessing:
		if !e.DeadlineAt.IsZero() {
			out.Deadline = when(e.DeadlineAt)
		}
		out.Next = tx("enrolform.next.processing")
	case enrolment.StateAwaitingDocuments:
		out.Deadline = when(req.StateSince.Add(enrolment.DocumentsTimeout))
		out.Next = tx("enrolform.next.documents", "documents", strings.Join(req.DocumentsRequested, "; "))
	case enrolment.StateRejected:
		for _, rs := range req.Reasons {
			line := rs.Title(l)
			if a := rs.CorrectiveAction(l); a != "" {
				line += ": " + a
			}
			out.Reasons = append(out.Reasons, line)
		}
		if enrolment.Correctable(req, h.now()) {
			out.Deadline = when(req.DecidedAt.Add(enrolment.CorrectionWindow))
			out.Next, out.Resend = tx("enrolform.next.correct"), true
		} else {
			out.Next = tx("enrolform.next.new")
		}
	case enrolment.StateApproved:
		out.Next = tx("enrolform.next.approved")
	case enrolment.StateDraft, enrolment.StateAwaitingPayment:
		out.Next = tx("enrolform.next." + e.State)
	default:
		out.Next = tx("enrolform.next.new")
	}
	return out
}

// when is a deadline as pages show dates (dd/mm/yyyy HH:MM, Europe/Rome).
func when(t time.Time) string { return t.In(rome).Format("02/01/2006 15:04") }

// points fills the page's points of service for path (shop, counter),
// those in province when it has any.
func (h *Handler) points(p *templates.EnrolPage, path, province string) {
	kind := map[string]string{enrolment.PathShop: pos.Shop, enrolment.PathCounter: pos.Counter}[path]
	if kind == "" {
		return
	}
	p.Provinces = pos.Provinces(h.Points, kind)
	province = strings.ToUpper(strings.TrimSpace(province))
	if len(pos.Find(h.Points, kind, province)) == 0 {
		province = ""
	}
	p.Province = province
	for _, pt := range pos.Find(h.Points, kind, province) {
		p.Points = append(p.Points, templates.EnrolPoint{Name: pt.Name, Address: pt.Address, Province: pt.Province, Hours: pt.Hours, HoursEN: pt.HoursEN})
	}
}
