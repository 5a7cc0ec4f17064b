package videocall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Paths served by Handler.
const (
	PathBooking = "/enrol/video"         // the applicant's page (with the link's token)
	PathAgenda  = "/console/video/"      // the video operator's agenda
	PathSlots   = "/console/video/slots" // availability: publish, list, cancel
	pathFind    = "/console/find"        // the console's lookup, which opens a recognition
	pathStatus  = "/enrol/status"        // a request's status page
	pathLogin   = "/console/login"
	pathLogout  = "/console/logout"
	pathOps     = "/console/operators"
)

// OperatorAuth is the console's session (enrolment/console.Console): who
// is signed in, and the token of the console's own forms (logout, lookup).
type OperatorAuth interface {
	Operator(r *http.Request) (storage.Operator, bool)
	LogoutToken(r *http.Request) string
}

// Handler serves the applicant's booking page and the console's
// availability and agenda pages.
type Handler struct {
	Service *Service
	Pages   *templates.Renderer
	Auth    OperatorAuth
	// CSRFKey (at least 32 bytes) signs this package's form tokens.
	CSRFKey []byte
	// Origin is the IdP's scheme://host[:port], for the Origin check.
	Origin        string
	Responsible   string
	ResponsibleEN string // on English pages; "": Responsible
	Log           *slog.Logger
}

// RegisterApplicant mounts the applicant's page on mux, beside the
// enrolment pages (which leave this path to it).
func (h *Handler) RegisterApplicant(mux *http.ServeMux) error {
	if h.Service == nil || h.Pages == nil || len(h.CSRFKey) < csrf.MinSecretLen {
		return errors.New("videocall: Service, Pages and a CSRF key are required")
	}
	if len(h.Service.LinkKey) < 32 || h.Service.Store == nil || h.Service.Enrolment == nil || h.Service.Audit == nil {
		return errors.New("videocall: the service needs Store, Enrolment, Audit and a link key")
	}
	mux.HandleFunc("GET "+PathBooking, h.booking)
	mux.HandleFunc("POST "+PathBooking, h.bookingPost)
	return nil
}

// RegisterDesk mounts the console's pages on mux, operators signed in
// through auth (the console's session).
func (h *Handler) RegisterDesk(mux *http.ServeMux, auth OperatorAuth) error {
	if auth == nil {
		return errors.New("videocall: no operator authentication")
	}
	h.Auth = auth
	mux.HandleFunc("GET "+PathAgenda+"{$}", h.desk(h.agenda))
	mux.HandleFunc("GET "+PathSlots, h.desk(h.slots))
	mux.HandleFunc("POST "+PathSlots, h.desk(h.publish))
	mux.HandleFunc("POST "+PathSlots+"/{id}/cancel", h.desk(h.cancelSlot))
	return nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page, lang string, data any) {
	if err := h.Pages.Render(w, status, page, lang, data); err != nil {
		h.log().ErrorContext(r.Context(), "videocall: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func tx(lang, key string, args ...string) string { return templates.Text(lang, key, args...) }

var weekdays = map[string][7]string{
	"it": {"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
	"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
}

// day is a civil day in words: "mercoledì 09/12/2026".
func day(lang string, t time.Time) string {
	t = t.In(Rome)
	names, ok := weekdays[lang]
	if !ok {
		names = weekdays["it"]
	}
	return names[t.Weekday()] + " " + t.Format("02/01/2006")
}

func span(s storage.VideoSlot) string {
	return s.Start.In(Rome).Format("15:04") + "–" + s.End.In(Rome).Format("15:04")
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.In(Rome).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Rome)
}

// --- the applicant's page ---

func (h *Handler) formToken(tok string) string { return csrf.Token(h.CSRFKey, "video-book|"+tok) }

func (h *Handler) bookingURL(tok string, extra ...string) string {
	q := url.Values{"t": {tok}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return PathBooking + "?" + q.Encode()
}

// notices and errors carried by the redirect after a post (keys, never text).
var (
	bookingNotices = map[string]string{"booked": "video.msg.booked", "changed": "video.msg.changed", "cancelled": "video.msg.cancelled"}
	bookingErrors  = map[string]string{"taken": "video.err.taken", "toolate": "video.err.toolate", "nobooking": "video.err.nobooking",
		"choose": "video.err.choose", "form": "video.err.form"}
)

func (h *Handler) booking(w http.ResponseWriter, r *http.Request) {
	lang := templates.SetLang(w, r)
	tok := r.URL.Query().Get("t")
	p := templates.VideoBookingPage{Action: PathBooking, Token: tok, CSRF: h.formToken(tok), StatusURL: pathStatus,
		CutOffHours: int(CutOff / time.Hour)}
	if k := bookingNotices[r.URL.Query().Get("done")]; k != "" {
		p.Notice = tx(lang, k)
	}
	if k := bookingErrors[r.URL.Query().Get("err")]; k != "" {
		p.Error = tx(lang, k, "hours", strconv.Itoa(p.CutOffHours))
	}
	h.showBooking(w, r, lang, p, r.URL.Query().Get("change") == "1")
}

func (h *Handler) showBooking(w http.ResponseWriter, r *http.Request, lang string, p templates.VideoBookingPage, change bool) {
	ctx := r.Context()
	svc := h.Service
	id, err := svc.request(p.Token)
	if err != nil {
		p.Token, p.CSRF, p.Closed, p.Error, p.Text = "", "", true, "", tx(lang, "video.err.badlink.text")
		p.Notice = ""
		h.render(w, r, http.StatusNotFound, templates.PageVideoBooking, lang, p)
		return
	}
	e, _, err := svc.bookable(ctx, id)
	if e.Code != "" {
		p.Code = enrolment.FormatCode(e.Code)
	}
	if errors.Is(err, ErrNotBookable) {
		p.Closed, p.Text = true, tx(lang, "video.err.closed")
		h.render(w, r, http.StatusOK, templates.PageVideoBooking, lang, p)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := svc.Booking(ctx, id)
	switch {
	case err == nil:
		p.Booked = &templates.VideoAppointment{ID: b.ID, When: When(b.Start), Minutes: int(b.End.Sub(b.Start) / time.Minute),
			Room: svc.room(b, p.Code), CanChange: !b.Start.Before(svc.now().Add(CutOff))}
		p.Choose = change && p.Booked.CanChange
	case errors.Is(err, ErrNoBooking):
		p.Choose = true
	default:
		h.fail(w, r, err)
		return
	}
	p.ChangeURL, p.KeepURL = h.bookingURL(p.Token, "change", "1"), h.bookingURL(p.Token)
	if p.Choose {
		free, err := svc.Free(ctx, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, s := range free {
			label := day(lang, s.Start)
			if n := len(p.Days); n == 0 || p.Days[n-1].Label != label {
				p.Days = append(p.Days, templates.VideoDay{Label: label})
			}
			d := &p.Days[len(p.Days)-1]
			d.Choices = append(d.Choices, templates.VideoChoice{ID: s.ID, Time: span(s)})
		}
	}
	h.render(w, r, http.StatusOK, templates.PageVideoBooking, lang, p)
}

func (h *Handler) bookingPost(w http.ResponseWriter, r *http.Request) {
	lang := templates.SetLang(w, r)
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, tx(lang, "video.err.form"), http.StatusBadRequest)
		return
	}
	tok := r.PostFormValue("t")
	id, err := h.Service.request(tok)
	if err != nil {
		h.showBooking(w, r, lang, templates.VideoBookingPage{Action: PathBooking, StatusURL: pathStatus}, false)
		return
	}
	if csrf.CheckOrigin(r, h.Origin) != nil || !csrf.Valid(h.CSRFKey, "video-book|"+tok, r.PostFormValue(csrf.FieldName)) {
		h.Service.record(r.Context(), "applicant", "video.book", id, audit.Denied, map[string]string{"reason": "bad csrf token"})
		http.Redirect(w, r, h.bookingURL(tok, "err", "form"), http.StatusSeeOther)
		return
	}
	slot := r.PostFormValue("slot")
	var done string
	switch r.PostFormValue("op") {
	case "cancel":
		_, err = h.Service.CancelBooking(r.Context(), id, slot)
		done = "cancelled"
	default:
		if slot == "" {
			http.Redirect(w, r, h.bookingURL(tok, "err", "choose"), http.StatusSeeOther)
			return
		}
		replaces := r.PostFormValue("replaces")
		_, _, err = h.Service.Book(r.Context(), id, slot, replaces)
		done = "booked"
		if replaces != "" {
			done = "changed"
		}
	}
	code := ""
	switch {
	case err == nil:
		http.Redirect(w, r, h.bookingURL(tok, "done", done), http.StatusSeeOther)
		return
	case errors.Is(err, ErrTaken):
		code = "taken"
	case errors.Is(err, ErrTooLate):
		code = "toolate"
	case errors.Is(err, ErrNoBooking):
		code = "nobooking"
	case errors.Is(err, ErrNotBookable):
		http.Redirect(w, r, h.bookingURL(tok), http.StatusSeeOther)
		return
	default:
		h.fail(w, r, err)
		return
	}
	q := []string{"err", code}
	if code == "taken" && r.PostFormValue("replaces") != "" {
		q = append(q, "change", "1")
	}
	http.Redirect(w, r, h.bookingURL(tok, q...), http.StatusSeeOther)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log().ErrorContext(r.Context(), "videocall", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// --- the console's pages ---

type deskCtx struct {
	op      storage.Operator
	actor   Actor
	lang    string
	tok     string // the console's form token (logout, lookup)
	browser string // this package's browser cookie, which its tokens are bound to
}

func (h *Handler) deskToken(d deskCtx) string {
	return csrf.Token(h.CSRFKey, "video-desk|"+d.op.ID+"|"+d.browser)
}

func (h *Handler) cookieName() string {
	if strings.HasPrefix(h.Origin, "https://") {
		return "__Host-spid-video"
	}
	return "spid-video"
}

// browserID returns the desk's cookie, setting a new one when absent: the
// console's own token changes at every page (it is masked), so this
// package's tokens are bound to a value of their own.
func (h *Handler) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.cookieName()); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := newID()
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: v, Path: "/", HttpOnly: true,
		Secure: strings.HasPrefix(h.Origin, "https://"), SameSite: http.SameSiteLaxMode})
	return v
}

func (h *Handler) frame(d deskCtx) templates.ConsoleFrame {
	f := templates.ConsoleFrame{Operator: d.op.Username, Roles: d.op.Roles, CSRF: d.tok, Logout: pathLogout, Home: "/console/",
		Responsible: h.Responsible, ResponsibleEN: h.ResponsibleEN, VideoPage: PathAgenda}
	if d.actor.Admin() {
		f.OperatorsPage = pathOps
	}
	return f
}

type deskHandler func(w http.ResponseWriter, r *http.Request, d deskCtx)

// desk admits signed-in video operators and supervisors; posts carry this
// package's token, bound to the console session.
func (h *Handler) desk(next deskHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lang := templates.SetLang(w, r)
		op, ok := h.Auth.Operator(r)
		if !ok {
			http.Redirect(w, r, pathLogin, http.StatusSeeOther)
			return
		}
		d := deskCtx{op: op, actor: Actor{ID: op.ID, Roles: op.Roles}, lang: lang, tok: h.Auth.LogoutToken(r), browser: h.browserID(w, r)}
		if !d.actor.Video() && !d.actor.Admin() {
			h.Service.record(r.Context(), op.ID, "video.desk", r.URL.Path, audit.Denied, map[string]string{"reason": "no video role"})
			h.render(w, r, http.StatusForbidden, templates.PageConsoleMessage, lang, templates.ConsoleMessagePage{ConsoleFrame: h.frame(d),
				Title: tx(lang, "console.video.agenda.title"), Text: tx(lang, "console.video.err.forbidden"), Back: "/console/"})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			_ = r.ParseForm()
			if csrf.CheckOrigin(r, h.Origin) != nil || !csrf.Valid(h.CSRFKey, "video-desk|"+op.ID+"|"+d.browser, r.PostFormValue(csrf.FieldName)) {
				h.Service.record(r.Context(), op.ID, "video.desk", r.URL.Path, audit.Denied, map[string]string{"reason": "bad csrf token"})
				h.render(w, r, http.StatusForbidden, templates.PageConsoleMessage, lang, templates.ConsoleMessagePage{ConsoleFrame: h.frame(d),
					Title: tx(lang, "console.video.slots.title"), Text: tx(lang, "video.err.form"), Back: PathSlots})
				return
			}
		}
		next(w, r, d)
	}
}

// openHours are the service hours as "08:00" and "20:00".
func openHours(s *Service) (from, to string) {
	hh := s.hours()
	f := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return f(hh.Open), f(hh.Close)
}

// openDays are the service days in words: "dal lunedì al sabato" for a run
// of three or more, else a list ("lunedì, mercoledì e venerdì").
func openDays(lang string, h ServiceHours) string {
	names, ok := weekdays[lang]
	if !ok {
		names = weekdays["it"]
	}
	var open []int // Monday first, as weeks are read in Italy
	for i := 1; i <= 7; i++ {
		if h.Days[i%7] {
			open = append(open, i%7)
		}
	}
	run := len(open) >= 3
	for i := 1; i < len(open); i++ {
		if (open[i-1]+1)%7 != open[i] {
			run = false
		}
	}
	if len(open) == 7 {
		return tx(lang, "video.days.all")
	}
	if run {
		key := "video.days.range"
		if open[len(open)-1] == int(time.Sunday) {
			key = "video.days.range.sunday" // "alla domenica"
		}
		return tx(lang, key, "from", names[open[0]], "to", names[open[len(open)-1]])
	}
	var words []string
	for _, d := range open {
		words = append(words, names[d])
	}
	if len(words) == 1 {
		return words[0]
	}
	return tx(lang, "video.days.list", "list", strings.Join(words[:len(words)-1], ", "), "last", words[len(words)-1])
}

var skippedDays = regexp.MustCompile(`^\d{2}/\d{2}/\d{4}(,\d{2}/\d{2}/\d{4})*$`)

func (h *Handler) slots(w http.ResponseWriter, r *http.Request, d deskCtx) {
	p, err := h.slotsPage(r.Context(), d, map[string]string{"weeks": "1", "length": strconv.Itoa(h.Service.hours().DefaultLength()), "from": "09:00", "to": "12:00",
		"date": h.Service.now().In(Rome).AddDate(0, 0, 1).Format("2006-01-02")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	switch q.Get("notice") {
	case "published":
		if n, err := strconv.Atoi(q.Get("n")); err == nil {
			p.Notice = tx(d.lang, "console.video.msg.published", "n", strconv.Itoa(n))
			for _, op := range p.Operators {
				if op.ID == q.Get("for") {
					p.Notice = tx(d.lang, "console.video.msg.published.for", "n", strconv.Itoa(n), "name", op.Name)
				}
			}
			if sk := q.Get("skipped"); skippedDays.MatchString(sk) {
				p.Notice += " " + tx(d.lang, "console.video.msg.skipped", "days", strings.ReplaceAll(sk, ",", ", "))
			}
		}
	case "cancelled":
		p.Notice = tx(d.lang, "console.video.msg.cancelled")
	case "cancelled_booked":
		p.Notice = tx(d.lang, "console.video.msg.cancelled_booked")
	}
	h.showSlots(w, r, d, http.StatusOK, p)
}

func (h *Handler) slotsPage(ctx context.Context, d deskCtx, values map[string]string) (templates.ConsoleVideoSlotsPage, error) {
	from, to := openHours(h.Service)
	p := templates.ConsoleVideoSlotsPage{ConsoleFrame: h.frame(d), Action: PathSlots, VideoCSRF: h.deskToken(d),
		CanPublish: d.actor.Video(), Admin: d.actor.Admin(), Values: values, Lengths: h.Service.hours().Lengths, Agenda: PathAgenda,
		OpenFrom: from, OpenTo: to, OpenDays: openDays(d.lang, h.Service.hours())}
	if d.actor.Admin() {
		// A supervisor publishes for a video operator of their choice.
		ops, err := h.Service.VideoOperators(ctx)
		if err != nil {
			return p, err
		}
		for _, op := range ops {
			name := op.Name + " (" + op.Username + ")"
			if op.Name == "" || op.Name == op.Username {
				name = op.Username
			}
			p.Operators = append(p.Operators, templates.ConsoleVideoOperator{ID: op.ID, Name: name})
		}
		p.CanPublish = len(ops) > 0
		if values["operator"] == "" && d.actor.Video() {
			values["operator"] = d.op.ID
		}
	}
	return p, nil
}

func (h *Handler) showSlots(w http.ResponseWriter, r *http.Request, d deskCtx, status int, p templates.ConsoleVideoSlotsPage) {
	ctx := r.Context()
	now := h.Service.now()
	list, err := h.Service.Slots(ctx, d.actor, startOfDay(now), false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := map[string]string{}
	for _, s := range list {
		row := templates.ConsoleVideoSlotRow{Day: day(d.lang, s.Start), Time: span(s), Booked: s.RequestID != ""}
		if p.Admin {
			if _, ok := names[s.OperatorID]; !ok {
				names[s.OperatorID] = s.OperatorID
				if op, err := h.Service.Store.GetOperator(ctx, s.OperatorID); err == nil {
					names[s.OperatorID] = op.Name
				}
			}
			row.Operator = names[s.OperatorID]
		}
		if row.Booked {
			if en, _, err := h.Service.Enrolment.Get(ctx, s.RequestID); err == nil {
				row.Code = enrolment.FormatCode(en.Code)
			}
		}
		if s.Start.After(now) {
			row.Cancel = PathSlots + "/" + url.PathEscape(s.ID) + "/cancel"
		}
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, status, templates.PageConsoleVideoSlots, d.lang, p)
}

func parseClock(s string) (time.Duration, bool) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, true
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request, d deskCtx) {
	values := map[string]string{}
	for _, k := range []string{"date", "from", "to", "length", "weeks", "operator"} {
		v := strings.TrimSpace(r.PostFormValue(k))
		if len(v) > 64 {
			v = v[:64]
		}
		values[k] = v
	}
	p, err := h.slotsPage(r.Context(), d, values)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var a Availability
	date, errDate := time.ParseInLocation("2006-01-02", values["date"], Rome)
	from, okFrom := parseClock(values["from"])
	to, okTo := parseClock(values["to"])
	length, errLen := strconv.Atoi(values["length"])
	weeks, errWeeks := strconv.Atoi(values["weeks"])
	if errDate != nil || !okFrom || !okTo || errLen != nil || errWeeks != nil {
		err = ErrInvalid
	} else {
		a = Availability{Date: date.Add(12 * time.Hour), From: from, To: to, Length: time.Duration(length) * time.Minute, Weeks: weeks,
			For: values["operator"]}
		var out Published
		out, err = h.Service.Publish(r.Context(), d.actor, a)
		if err == nil {
			var sk []string
			for _, t := range out.Skipped {
				sk = append(sk, t.In(Rome).Format("02/01/2006"))
			}
			q := url.Values{"notice": {"published"}, "n": {strconv.Itoa(len(out.Slots))}}
			if a.For != "" && a.For != d.op.ID {
				q.Set("for", a.For)
			}
			if len(sk) > 0 {
				q.Set("skipped", strings.Join(sk, ","))
			}
			http.Redirect(w, r, PathSlots+"?"+q.Encode(), http.StatusSeeOther)
			return
		}
	}
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrForbidden):
		status, p.Error = http.StatusForbidden, tx(d.lang, "console.video.err.forbidden")
	case errors.Is(err, ErrNoOperator):
		p.Error = tx(d.lang, "console.video.err.operator")
	case errors.Is(err, ErrOverlap):
		status, p.Error = http.StatusConflict, tx(d.lang, "console.video.err.overlap")
	case errors.Is(err, ErrClosed):
		from, to := openHours(h.Service)
		p.Error = tx(d.lang, "console.video.err.closed", "from", from, "to", to, "days", openDays(d.lang, h.Service.hours()))
	case errors.Is(err, ErrInvalid):
		p.Error = tx(d.lang, "console.video.err.invalid")
	default:
		h.fail(w, r, err)
		return
	}
	h.showSlots(w, r, d, status, p)
}

func (h *Handler) cancelSlot(w http.ResponseWriter, r *http.Request, d deskCtx) {
	slot, err := h.Service.CancelSlot(r.Context(), d.actor, r.PathValue("id"))
	p, perr := h.slotsPage(r.Context(), d, map[string]string{"weeks": "1", "length": strconv.Itoa(h.Service.hours().DefaultLength())})
	if perr != nil {
		h.fail(w, r, perr)
		return
	}
	switch {
	case err == nil:
		notice := "cancelled"
		if slot.RequestID != "" {
			notice = "cancelled_booked"
		}
		http.Redirect(w, r, PathSlots+"?notice="+notice, http.StatusSeeOther)
		return
	case errors.Is(err, storage.ErrNotFound):
		p.Error = tx(d.lang, "console.video.err.notfound")
		h.showSlots(w, r, d, http.StatusNotFound, p)
	case errors.Is(err, ErrForbidden):
		p.Error = tx(d.lang, "console.video.err.forbidden")
		h.showSlots(w, r, d, http.StatusForbidden, p)
	case errors.Is(err, ErrTooLate):
		p.Error = tx(d.lang, "console.video.err.past")
		h.showSlots(w, r, d, http.StatusConflict, p)
	default:
		h.fail(w, r, err)
	}
}

func (h *Handler) agenda(w http.ResponseWriter, r *http.Request, d deskCtx) {
	now := h.Service.now()
	today := startOfDay(now)
	list, err := h.Service.Agenda(r.Context(), d.actor, today)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := templates.ConsoleVideoAgendaPage{ConsoleFrame: h.frame(d), Slots: PathSlots, Admin: d.actor.Admin(),
		TodayLabel: day(d.lang, now),
		Sections:   []templates.ConsoleVideoSection{{Key: "today"}, {Key: "upcoming"}}}
	tomorrow := today.AddDate(0, 0, 1)
	for _, a := range list {
		row := templates.ConsoleVideoAppointment{Time: span(a.Slot), Name: a.Name, Code: a.Code, Operator: a.Operator,
			CodeRaw: strings.ReplaceAll(a.Code, "-", ""), CFSuffix: a.CFSuffix}
		if a.State != "" {
			row.State = enrolment.State(a.State).Words(d.lang)
		}
		// Only the operator of the appointment runs it.
		if a.CFSuffix != "" && a.Slot.OperatorID == d.op.ID && d.actor.Video() {
			row.Start = pathFind
		}
		sec := &p.Sections[0]
		if !a.Slot.Start.Before(tomorrow) {
			sec, row.Day = &p.Sections[1], day(d.lang, a.Slot.Start)
		}
		sec.Rows = append(sec.Rows, row)
	}
	h.render(w, r, http.StatusOK, templates.PageConsoleVideoAgenda, d.lang, p)
}
