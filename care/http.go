package care

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Paths of the citizen's forms and of the desk.
const (
	PathHome          = "/care/"
	PathTicketForm    = "/care/tickets/new"
	PathComplaintForm = "/care/complaints/new"
	PathFiled         = "/care/filed"
	PathConfirm       = "/care/confirm"
	PathDesk          = "/console/care/"
	PathDeskTicket    = "/console/care/tickets/"
	PathDeskRegister  = "/console/care/complaints/register"
	PathDeskIdentity  = "/console/care/identity"
)

// OperatorAuth tells who is signed in to the console (enrolment/console's
// session); the desk trusts it and checks roles itself.
type OperatorAuth interface {
	Operator(r *http.Request) (storage.Operator, bool)
}

// logoutForm is the console's logout, offered on every desk page when the
// console session provides it.
type logoutForm interface {
	LogoutToken(r *http.Request) string
}

// Ephemeral is what the forms need of the short-lived store: the
// throttle counter and the single-use form IDs.
type Ephemeral interface {
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error
}

// Handler serves the forms and the desk.
type Handler struct {
	Desk  *Desk
	Pages *templates.Renderer
	Auth  OperatorAuth
	Eph   Ephemeral
	// CSRFKey (at least 32 bytes) signs form tokens and receipts.
	CSRFKey []byte
	// Origin is the IdP's scheme://host[:port]; https makes cookies Secure.
	Origin string
	// MaxPerHour bounds the forms one client address sends per hour
	// (default 10).
	MaxPerHour int
	// MaxBody bounds a form post (default 3 × 10 MB + 64 KB); the server's
	// own body limit applies too.
	MaxBody int64
	Log     *slog.Logger
}

// formTTL is how long a blank form may be sent.
const formTTL = 2 * time.Hour

func (h *Handler) secure() bool { return strings.HasPrefix(h.Origin, "https://") }

func (h *Handler) cookieName() string {
	if h.secure() {
		return "__Host-spid-care"
	}
	return "spid-care"
}

// Register mounts every route on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathHome+"{$}", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusOK, templates.PageCareHome, templates.CareHomePage{
			Ticket: PathTicketForm, Complaint: PathComplaintForm, Portal: "/account/",
			Reactivate: PathTicketForm + "?topic=" + topicReactivation})
	})
	mux.HandleFunc("GET /care", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, PathHome, http.StatusFound) })
	mux.HandleFunc("GET "+PathTicketForm, h.form(storage.TicketKindTicket))
	mux.HandleFunc("POST "+PathTicketForm, h.submit(storage.TicketKindTicket))
	mux.HandleFunc("GET "+PathComplaintForm, h.form(storage.TicketKindComplaint))
	mux.HandleFunc("POST "+PathComplaintForm, h.submit(storage.TicketKindComplaint))
	mux.HandleFunc("GET "+PathFiled, h.filed)
	mux.HandleFunc("GET "+PathConfirm, h.confirm)
	mux.HandleFunc("GET "+PathDesk+"{$}", h.desk(h.deskHome))
	mux.HandleFunc("GET "+PathDeskTicket+"{id}", h.desk(h.ticketPage))
	mux.HandleFunc("POST "+PathDeskTicket+"{id}", h.desk(h.ticketPost))
	mux.HandleFunc("GET "+PathDeskTicket+"{id}/attachments/{eid}", h.desk(h.attachment))
	mux.HandleFunc("GET "+PathDeskRegister, h.desk(h.registerPage))
	mux.HandleFunc("POST "+PathDeskRegister, h.desk(h.registerPost))
	mux.HandleFunc("GET "+PathDeskIdentity, h.desk(h.identityPage))
	mux.HandleFunc("POST "+PathDeskIdentity+"/{id}", h.desk(h.identityPost))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// browser returns the care cookie, setting a new one when absent.
func (h *Handler) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.cookieName()); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := randomHex(16)
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: v, Path: "/", HttpOnly: true, Secure: h.secure(),
		SameSite: http.SameSiteLaxMode})
	return v
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if err := h.Pages.Render(w, status, page, templates.Lang(r), data); err != nil {
		h.log().ErrorContext(r.Context(), "care: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// formToken binds a token to the browser and one form (formID): a token
// from another browser or another form is refused.
func (h *Handler) formToken(browser, formID string) string {
	return csrf.Token(h.CSRFKey, browser+"|care-form|"+formID)
}

func (h *Handler) blankForm(w http.ResponseWriter, r *http.Request, kind string, desk bool, op string) templates.CareFormPage {
	b := h.browser(w, r)
	// The form ID carries its issue time, so an old blank form expires.
	formID := strconv.FormatInt(time.Now().Unix(), 10) + "." + randomHex(12)
	action := PathTicketForm
	if kind == storage.TicketKindComplaint {
		action = PathComplaintForm
	}
	if desk {
		action = PathDeskRegister
	}
	f := templates.CareFrame{Operator: op, CSRF: h.formToken(b+"|"+op, formID)}
	if desk {
		f = h.bar(r, f)
	}
	return templates.CareFormPage{CareFrame: f,
		Action: action, FormID: formID, Complaint: kind == storage.TicketKindComplaint, Desk: desk}
}

// topicReactivation in the assistance form's query fills in the subject
// that the desk recognises as a reactivation request.
const topicReactivation = "reactivation"

func (h *Handler) form(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := h.blankForm(w, r, kind, false, "")
		if kind == storage.TicketKindTicket && r.URL.Query().Get("topic") == topicReactivation {
			p.Subject = templates.Text(templates.Lang(r), "care.topic.reactivation")
		}
		h.render(w, r, http.StatusOK, templates.PageCareForm, p)
	}
}

// errKey maps a refusal to the message shown and its status.
func errKey(err error) (string, int) {
	switch {
	case errors.Is(err, ErrAttachment):
		return "care.err.attachment", http.StatusBadRequest
	case errors.Is(err, ErrInvalid):
		return "care.err.invalid", http.StatusBadRequest
	case errors.Is(err, errExpired):
		return "care.err.expired", http.StatusForbidden
	case errors.Is(err, errThrottled):
		return "care.err.throttled", http.StatusTooManyRequests
	}
	return "care.err.internal", http.StatusInternalServerError
}

var (
	errExpired   = errors.New("care: form expired, forged or already sent")
	errThrottled = errors.New("care: too many forms from this address")
)

// checkForm parses a multipart post and checks origin, token, age and
// single use of the form. op is the operator's ID on the desk ("" for the
// public forms).
func (h *Handler) checkForm(w http.ResponseWriter, r *http.Request, op string) error {
	max := h.MaxBody
	if max <= 0 {
		max = MaxAttachments*(10<<20) + 64<<10
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: the form is larger than %d bytes", ErrAttachment, tooBig.Limit)
		}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := csrf.CheckOrigin(r, h.Origin); err != nil {
		return fmt.Errorf("%w: %w", errExpired, err)
	}
	c, err := r.Cookie(h.cookieName())
	formID := r.PostFormValue("form_id")
	if err != nil || !csrf.Valid(h.CSRFKey, c.Value+"|"+op+"|care-form|"+formID, r.PostFormValue(templates.FieldCSRF)) {
		return fmt.Errorf("%w: bad token", errExpired)
	}
	issued, _, _ := strings.Cut(formID, ".")
	sec, err := strconv.ParseInt(issued, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)) > formTTL {
		return fmt.Errorf("%w: form too old", errExpired)
	}
	if h.Eph != nil {
		key := "care:ip:" + requestctx.ClientIP(r.Context())
		if op != "" {
			key = "care:op:" + op
		}
		n, err := h.Eph.Incr(r.Context(), key, time.Hour)
		if err != nil {
			return err
		}
		limit := h.MaxPerHour
		if limit <= 0 {
			limit = 10
		}
		if op != "" {
			limit *= 20 // an agent registers many letters a day
		}
		if n > int64(limit) {
			return errThrottled
		}
		// Used last, so a throttled or invalid post leaves the form usable.
		if err := h.Eph.InsertRequestID(r.Context(), "care-form:"+formID, time.Now().Add(formTTL)); err != nil {
			if errors.Is(err, storage.ErrAlreadyExists) {
				return fmt.Errorf("%w: replayed", errExpired)
			}
			return err
		}
	}
	return nil
}

func uploads(r *http.Request) ([]Upload, func(), error) {
	var files []multipart.File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	var out []Upload
	if r.MultipartForm == nil {
		return nil, closeAll, nil
	}
	hs := r.MultipartForm.File["attachments"]
	if len(hs) > MaxAttachments {
		return nil, closeAll, fmt.Errorf("%w: at most %d attachments", ErrAttachment, MaxAttachments)
	}
	for _, fh := range hs {
		if fh.Filename == "" && fh.Size == 0 {
			continue // the browser sends an empty part when no file was chosen
		}
		f, err := fh.Open()
		if err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("%w: %w", ErrAttachment, err)
		}
		files = append(files, f)
		out = append(out, Upload{Name: fh.Filename, Body: f})
	}
	return out, closeAll, nil
}

func (h *Handler) submit(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.file(w, r, kind, Actor{ID: "requester"}, "")
	}
}

// file handles a form post, public or from the desk.
func (h *Handler) file(w http.ResponseWriter, r *http.Request, kind string, by Actor, op string) {
	desk := op != ""
	fail := func(err error) {
		if errors.Is(err, errExpired) || errors.Is(err, errThrottled) {
			_ = h.Desk.record(r.Context(), by.ID, "care.file", "", audit.Denied, map[string]string{"kind": kind, "reason": err.Error()})
		}
		key, status := errKey(err)
		if status == http.StatusInternalServerError {
			h.log().ErrorContext(r.Context(), "care: file", "err", err)
		}
		p := h.blankForm(w, r, kind, desk, op)
		p.ErrorKey = key
		if r.MultipartForm != nil { // give back what was typed, never the files
			p.Product, p.Subject, p.Message = r.PostFormValue("product"), r.PostFormValue("subject"), r.PostFormValue("message")
			p.Email, p.Name = r.PostFormValue("email"), r.PostFormValue("name")
		}
		h.render(w, r, status, templates.PageCareForm, p)
	}
	if err := h.checkForm(w, r, op); err != nil {
		fail(err)
		return
	}
	defer func() {
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	}()
	ups, closeAll, err := uploads(r)
	defer closeAll()
	if err != nil {
		_ = h.Desk.record(r.Context(), by.ID, "care.file", "", audit.Denied, map[string]string{"kind": kind, "reason": err.Error()})
		fail(err)
		return
	}
	req := Request{Kind: kind, Channel: "web", Product: r.PostFormValue("product"), Subject: r.PostFormValue("subject"),
		Message: r.PostFormValue("message"), ContactEmail: strings.TrimSpace(r.PostFormValue("email")),
		ContactName: r.PostFormValue("name"), Uploads: ups, Unverified: !desk}
	if desk {
		req.Channel = r.PostFormValue("channel")
		if req.Channel != "pec" && req.Channel != "letter" {
			fail(fmt.Errorf("%w: channel", ErrInvalid))
			return
		}
		if d, err := time.ParseInLocation("2006-01-02", r.PostFormValue("received"), rome); err == nil {
			req.ReceivedAt = d.Add(12 * time.Hour) // the day counts, not the hour
		} else {
			fail(fmt.Errorf("%w: date received", ErrInvalid))
			return
		}
	}
	t, err := h.Desk.File(r.Context(), by, req)
	if err != nil && t.ID == "" {
		fail(err)
		return
	}
	if err != nil { // stored, but the acknowledgement failed: the receipt still shows the number
		h.log().WarnContext(r.Context(), "care: acknowledgement", "reference", t.Reference, "err", err)
	}
	if desk {
		http.Redirect(w, r, PathDeskTicket+t.ID+"?notice=filed", http.StatusSeeOther)
		return
	}
	link := h.Origin + PathConfirm + "?" + url.Values{"id": {t.ID}, "sig": {csrf.Token(h.CSRFKey, "care-confirm|"+t.ID)}}.Encode()
	if err := h.Desk.MailConfirmation(r.Context(), t, link); err != nil {
		fail(err)
		return
	}
	b := h.browser(w, r)
	q := url.Values{"ref": {t.Reference}, "sig": {csrf.Token(h.CSRFKey, b+"|care-filed|"+t.Reference)}}
	http.Redirect(w, r, PathFiled+"?"+q.Encode(), http.StatusSeeOther)
}

// filed shows the reference to the browser that filed it only.
func (h *Handler) filed(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	c, err := r.Cookie(h.cookieName())
	if err != nil || !csrf.Valid(h.CSRFKey, c.Value+"|care-filed|"+ref, r.URL.Query().Get("sig")) {
		http.NotFound(w, r)
		return
	}
	t, err := h.Desk.Store.GetTicketByReference(r.Context(), ref)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h.render(w, r, http.StatusOK, templates.PageCareFiled, templates.CareFiledPage{Reference: t.Reference,
		Complaint: t.Kind == storage.TicketKindComplaint, Deadline: t.DeadlineAt, Pending: t.State == StateEmailPending})
}

// confirm is the e-mail link of an unverified filing (E110).
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if !csrf.Valid(h.CSRFKey, "care-confirm|"+id, r.URL.Query().Get("sig")) {
		_ = h.Desk.record(r.Context(), "requester", "care.confirm", "", audit.Denied, map[string]string{"reason": "bad link"})
		http.NotFound(w, r)
		return
	}
	t, err := h.Desk.Confirm(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		http.NotFound(w, r)
		return
	case errors.Is(err, ErrLinkExpired):
		p := h.blankForm(w, r, storage.TicketKindTicket, false, "")
		p.ErrorKey = "care.err.expired"
		h.render(w, r, http.StatusGone, templates.PageCareForm, p)
		return
	case err != nil && t.ID == "":
		h.serverError(w, r, err)
		return
	case err != nil:
		h.log().WarnContext(r.Context(), "care: acknowledgement", "reference", t.Reference, "err", err)
	}
	h.render(w, r, http.StatusOK, templates.PageCareFiled, templates.CareFiledPage{Reference: t.Reference,
		Complaint: t.Kind == storage.TicketKindComplaint, Deadline: t.DeadlineAt})
}

// deskCtx is a signed-in operator at the desk.
type deskCtx struct {
	op      storage.Operator
	actor   Actor
	browser string
}

func (d deskCtx) frame(h *Handler, r *http.Request) templates.CareFrame {
	f := h.bar(r, templates.CareFrame{Operator: d.op.Username, CSRF: csrf.Token(h.CSRFKey, d.browser+"|care-desk|"+d.op.ID)})
	switch r.URL.Query().Get("notice") {
	case "filed":
		f.Notice = msg(r, "Registrato.", "Registered.")
	case "done":
		f.Notice = msg(r, "Fatto.", "Done.")
	}
	return f
}

// bar adds the desk's navigation to f: the desk's home, the console's and
// the console's logout.
func (h *Handler) bar(r *http.Request, f templates.CareFrame) templates.CareFrame {
	f.Desk, f.Console = PathDesk, "/console/"
	if l, ok := h.Auth.(logoutForm); ok {
		if tok := l.LogoutToken(r); tok != "" {
			f.Logout, f.LogoutCSRF = "/console/logout", tok
		}
	}
	return f
}

func msg(r *http.Request, it, en string) string {
	if templates.Lang(r) == "en" {
		return en
	}
	return it
}

type deskHandler func(w http.ResponseWriter, r *http.Request, d deskCtx)

// desk admits signed-in operators with a desk role; others get 403 and an
// audit record.
func (h *Handler) desk(next deskHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, ok := h.Auth.Operator(r)
		if !ok {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		d := deskCtx{op: op, actor: Actor{ID: op.ID, Roles: op.Roles}, browser: h.browser(w, r)}
		if !d.actor.has(deskRoles...) {
			_ = h.Desk.record(r.Context(), op.ID, "care.desk", r.URL.Path, audit.Denied, map[string]string{"reason": "no care role"})
			h.forbidden(w, r, d, msg(r, "Il tuo ruolo non ha accesso all'assistenza clienti.", "Your role has no access to customer care."), "/console/")
			return
		}
		if r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, PathDeskRegister) {
			_ = r.ParseForm()
			if err := csrf.CheckOrigin(r, h.Origin); err != nil ||
				!csrf.Valid(h.CSRFKey, d.browser+"|care-desk|"+op.ID, r.PostFormValue(templates.FieldCSRF)) {
				_ = h.Desk.record(r.Context(), op.ID, "care.desk", r.URL.Path, audit.Denied, map[string]string{"reason": "bad csrf token"})
				http.Error(w, msg(r, "Modulo non valido: ricarica la pagina.", "Invalid form: reload the page."), http.StatusForbidden)
				return
			}
		}
		next(w, r, d)
	}
}

func row(t storage.Ticket, now time.Time) templates.CareRow {
	return templates.CareRow{Reference: t.Reference, Link: PathDeskTicket + t.ID, Complaint: t.Kind == storage.TicketKindComplaint,
		State: t.State, Channel: t.Channel, Category: t.Category, Subject: t.Subject, Assigned: t.AssignedTo,
		OpenedAt: t.OpenedAt, Deadline: t.DeadlineAt, DeadlineStatus: DeadlineStatus(t, now)}
}

func (h *Handler) deskHome(w http.ResponseWriter, r *http.Request, d deskCtx) {
	now := h.Desk.now()
	p := templates.CareDeskPage{CareFrame: d.frame(h, r), Register: PathDeskRegister, Identity: PathDeskIdentity}
	cs, err := h.Desk.List(r.Context(), d.actor, storage.TicketFilter{Kind: storage.TicketKindComplaint, States: []string{StateAssigned}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	// Most urgent first: the list is oldest-opened first, the deadline
	// follows the opening, so only late letters move up.
	for _, t := range cs {
		p.Complaints = append(p.Complaints, row(t, now))
	}
	ts, err := h.Desk.List(r.Context(), d.actor, storage.TicketFilter{Kind: storage.TicketKindTicket,
		States: []string{StateReceived, StateOpen, StateInProgress, StateWaitingRequester, StateEscalated, StateSolutionReady, StateSolved}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, t := range ts {
		p.Tickets = append(p.Tickets, row(t, now))
	}
	h.render(w, r, http.StatusOK, templates.PageCareDesk, p)
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log().ErrorContext(r.Context(), "care desk", "err", err)
	http.Error(w, msg(r, "Errore interno.", "Internal error."), http.StatusInternalServerError)
}

func (h *Handler) ticketPage(w http.ResponseWriter, r *http.Request, d deskCtx) {
	h.showTicket(w, r, d, http.StatusOK, "")
}

func (h *Handler) showTicket(w http.ResponseWriter, r *http.Request, d deskCtx, status int, errText string) {
	t, err := h.Desk.Get(r.Context(), d.actor, r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p := templates.CareTicketPage{CareFrame: d.frame(h, r), Row: row(t, h.Desk.now()), Action: PathDeskTicket + t.ID,
		Back: PathDesk, Product: t.Product, Message: t.Message, Contact: t.ContactEmail, Level: t.Level,
		Categories: Categories, ADRBody: h.Desk.ADRBody}
	p.Error = errText
	if errText != "" {
		p.Analysis, p.Resolution = r.PostFormValue("analysis"), r.PostFormValue("resolution")
		p.Expected, p.Indemnity = r.PostFormValue("expected_time"), r.PostFormValue("indemnity_amount")
	}
	for _, m := range t.Thread {
		p.Thread = append(p.Thread, templates.CareMessage{At: m.At, Author: m.Author, Kind: m.Kind, Text: m.Text})
	}
	for _, a := range t.Attachments {
		p.Attachments = append(p.Attachments, templates.CareAttachment{Name: a.FileName,
			Link: PathDeskTicket + t.ID + "/attachments/" + a.EvidenceID, MediaType: a.MediaType, Size: a.Size})
	}
	if t.Kind == storage.TicketKindTicket {
		p.Moves = ticketMoves[t.State]
		p.CanAnswer = t.State == StateSolutionReady
	} else {
		p.CanComplain = t.State == StateAssigned
	}
	h.render(w, r, status, templates.PageCareTicket, p)
}

func (h *Handler) ticketPost(w http.ResponseWriter, r *http.Request, d deskCtx) {
	id := r.PathValue("id")
	var err error
	switch r.PostFormValue(templates.FieldOp) {
	case "move":
		level, _ := strconv.Atoi(r.PostFormValue("level"))
		_, err = h.Desk.Move(r.Context(), d.actor, id, r.PostFormValue("state"), r.PostFormValue("category"), level, r.PostFormValue("note"))
	case "answer":
		_, err = h.Desk.AnswerTicket(r.Context(), d.actor, id, r.PostFormValue("answer"))
	case "complaint":
		_, err = h.Desk.AnswerComplaint(r.Context(), d.actor, id, ComplaintAnswer{
			Analysis: r.PostFormValue("analysis"), Resolution: r.PostFormValue("resolution"),
			ActionNeeded: r.PostFormValue("action_needed") != "", ExpectedTime: r.PostFormValue("expected_time"),
			IndemnityDue: r.PostFormValue("indemnity_due") != "", IndemnityAmount: r.PostFormValue("indemnity_amount")})
	default:
		err = fmt.Errorf("%w: unknown action", ErrInvalid)
	}
	switch {
	case err == nil:
		http.Redirect(w, r, PathDeskTicket+id+"?notice=done", http.StatusSeeOther)
	case errors.Is(err, storage.ErrNotFound):
		http.NotFound(w, r)
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrTransition):
		h.showTicket(w, r, d, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrForbidden):
		h.forbidden(w, r, d, msg(r, "Il tuo ruolo non consente questa azione.", "Your role does not allow this action."), PathDeskTicket+id)
	default:
		// The answer was stored but its e-mail failed, or the store failed.
		h.showTicket(w, r, d, http.StatusInternalServerError, err.Error())
	}
}

// attachment sends a blob as a download, never rendered inline.
func (h *Handler) attachment(w http.ResponseWriter, r *http.Request, d deskCtx) {
	t, err := h.Desk.Get(r.Context(), d.actor, r.PathValue("id"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	rc, a, err := h.Desk.Open(r.Context(), d.actor, t, r.PathValue("eid"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", a.MediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+a.EvidenceID+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if _, err := io.Copy(w, rc); err != nil {
		h.log().WarnContext(r.Context(), "care: attachment", "err", err)
	}
}

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request, d deskCtx) {
	p := h.blankForm(w, r, storage.TicketKindComplaint, true, d.op.ID)
	p.Operator = d.op.Username
	h.render(w, r, http.StatusOK, templates.PageCareForm, p)
}

func (h *Handler) registerPost(w http.ResponseWriter, r *http.Request, d deskCtx) {
	h.file(w, r, storage.TicketKindComplaint, d.actor, d.op.ID)
}

func (h *Handler) identityPage(w http.ResponseWriter, r *http.Request, d deskCtx) {
	p := templates.CareIdentityPage{CareFrame: d.frame(h, r), Search: PathDeskIdentity, Back: PathDesk,
		Query: r.URL.Query().Get("q")}
	if p.Query != "" {
		p.Searched = true
		l, err := h.Desk.Find(r.Context(), d.actor, p.Query)
		if err == nil {
			p.Found, p.Action = true, PathDeskIdentity+"/"+l.ID
			p.Username, p.Name, p.FiscalNumber, p.Email, p.Mobile = l.Username, l.Name, l.FiscalNumber, l.Email, l.Mobile
			p.State = string(l.State)
			if s := l.Lifecycle.Suspension; s != nil {
				p.Until = s.Until
			}
			if pp := l.Lifecycle.Pending; pp != nil {
				p.Pending, p.PendingBy = pp.Action, pp.ProposedBy
			}
		} else if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, ErrInvalid) {
			h.serverError(w, r, err)
			return
		}
	}
	e := r.URL.Query().Get("error")
	if m, ok := identityErrors[e]; ok {
		p.Error = msg(r, m[0], m[1])
	}
	if r.URL.Query().Get("notice") == "code_sent" {
		p.Notice = msg(r, "Codice inviato al cellulare registrato: chiedi al chiamante di leggertelo.",
			"Code sent to the registered mobile: ask the caller to read it to you.")
	}
	// The code field shows while a code waits: just sent, or a wrong entry
	// with tries left.
	p.CodeSent = r.URL.Query().Get("notice") == "code_sent" || e == "code_wrong"
	h.render(w, r, http.StatusOK, templates.PageCareIdentity, p)
}

// identityErrors are the refusals shown after a redirect (fixed texts, so
// the query string cannot inject any), Italian and English.
var identityErrors = map[string][2]string{
	"unverified": {"Verifica prima il chiamante: invia il codice al cellulare registrato e scrivi quello che ti legge.",
		"Verify the caller first: send the code to the registered mobile and type what they read to you."},
	"code_wrong": {"Il codice non corrisponde: chiedi al chiamante di rileggerlo (al terzo errore il codice non vale più).",
		"The code does not match: ask the caller to read it again (after the third error the code is void)."},
	"code_void": {"Nessun codice valido: è scaduto, già usato o annullato dopo troppi errori. Inviane uno nuovo.",
		"No valid code: it expired, was used or was voided after too many errors. Send a new one."},
	"no_mobile": {"L'identità non ha un cellulare registrato: la richiesta va fatta per PEC o e-mail firmata.",
		"The identity has no registered mobile: the request must come by PEC or signed e-mail."},
	"code_limit": {"Troppi codici inviati per questa identità: riprova più tardi.",
		"Too many codes sent for this identity: try again later."},
	"state": {"Operazione non possibile nello stato attuale.", "Not possible in the current state."},
}

func (h *Handler) identityPost(w http.ResponseWriter, r *http.Request, d deskCtx) {
	id := r.PathValue("id")
	ident, err := h.Desk.Identities.GetIdentity(r.Context(), id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	q := url.Values{"q": {ident.Username}}
	switch r.PostFormValue(templates.FieldOp) {
	case "send_code":
		if _, err = h.Desk.SendCallerCode(r.Context(), d.actor, id); err == nil {
			q.Set("notice", "code_sent")
			http.Redirect(w, r, PathDeskIdentity+"?"+q.Encode(), http.StatusSeeOther)
			return
		}
	case "suspend":
		_, err = h.Desk.Suspend(r.Context(), d.actor, id, r.PostFormValue("channel"), r.PostFormValue("caller_code"))
	case "propose":
		_, err = h.Desk.ProposeReactivation(r.Context(), d.actor, id)
	case "approve":
		_, err = h.Desk.Approve(r.Context(), d.actor, id)
	default:
		err = ErrInvalid
	}
	switch {
	case err == nil:
		q.Set("notice", "done")
	case errors.Is(err, ErrForbidden), errors.Is(err, lifecycle.ErrForbidden):
		h.forbidden(w, r, d, msg(r, "Il tuo ruolo non consente questa azione.", "Your role does not allow this action."),
			PathDeskIdentity+"?"+q.Encode())
		return
	case errors.Is(err, lifecycle.ErrFourEyes):
		h.forbidden(w, r, d, msg(r, "Serve una seconda persona: un supervisore diverso da chi ha proposto deve approvare.",
			"A second person must approve: a supervisor other than the proposer."), PathDeskIdentity+"?"+q.Encode())
		return
	case errors.Is(err, ErrCodeWrong):
		q.Set("error", "code_wrong")
	case errors.Is(err, ErrCodeVoid):
		q.Set("error", "code_void")
	case errors.Is(err, ErrCallerNotVerified), errors.Is(err, lifecycle.ErrOriginNotVerified):
		q.Set("error", "unverified")
	case errors.Is(err, ErrNoMobile):
		q.Set("error", "no_mobile")
	case errors.Is(err, ErrTooManyCodes):
		q.Set("error", "code_limit")
	case errors.Is(err, ErrInvalid), errors.Is(err, lifecycle.ErrTransition):
		q.Set("error", "state")
	default:
		if !errors.Is(err, storage.ErrNotFound) {
			h.serverError(w, r, err)
			return
		}
		q.Set("error", "state")
	}
	http.Redirect(w, r, PathDeskIdentity+"?"+q.Encode(), http.StatusSeeOther)
}

// forbidden answers a refusal of rights with 403 and a page in words,
// never a redirect (S089).
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, d deskCtx, text, back string) {
	h.render(w, r, http.StatusForbidden, templates.PageCareMessage, templates.CareMessagePage{CareFrame: d.frame(h, r),
		Title: msg(r, "Azione non consentita", "Action not allowed"), Text: text, Back: back})
}
