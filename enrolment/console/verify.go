package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/places"
	"github.com/spid-idp/spid-idp/revocation"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// notices are the outcomes a redirect may name (?ok= / ?err=): only these
// keys are shown, so nothing typed by anyone reaches the page this way.
var notices = map[string][2]string{
	"claimed":      {"Richiesta presa in carico per 30 minuti.", "Request claimed for 30 minutes."},
	"released":     {"Presa in carico rilasciata.", "Claim released."},
	"approved":     {"Richiesta approvata: l'e-mail di attivazione è stata inviata.", "Request approved: the activation e-mail was sent."},
	"rejected":     {"Richiesta respinta: l'e-mail con i motivi è stata inviata.", "Request rejected: the e-mail with the reasons was sent."},
	"documents":    {"Documenti richiesti: il termine è sospeso.", "Documents requested: the deadline is paused."},
	"received":     {"Documenti ricevuti: la richiesta è tornata in coda.", "Documents received: the request is back in the queue."},
	"uploaded":     {"File caricato.", "File uploaded."},
	"otp_sent":     {"Codice inviato al cellulare verificato del richiedente.", "Code sent to the applicant's verified mobile."},
	"otp_ok":       {"Codice corretto.", "Code correct."},
	"ticked":       {"Voce registrata con l'ora.", "Item recorded with the time."},
	"recognised":   {"Riconoscimento confermato: la richiesta è in coda di verifica.", "Recognition confirmed: the request is in the verification queue."},
	"four_eyes":    {"Hai riconosciuto tu il richiedente: la decisione spetta a un altro operatore.", "You recognised the applicant: another operator must decide."},
	"forbidden":    {"Il tuo ruolo non consente questa azione.", "Your role does not allow this action."},
	"claimed_by":   {"La richiesta è in carico a un altro operatore.", "Another operator holds the request."},
	"not_ready":    {"Mancano dei passaggi: vedi i dettagli nella pagina.", "Steps are missing: see the page."},
	"checklist":    {"Ogni voce della lista di verifica deve essere superata.", "Every checklist item must pass."},
	"no_reason":    {"Indica almeno un motivo (per «dati non corrispondenti» anche il campo).", "Give at least one reason (and the field for «data mismatch»)."},
	"no_documents": {"Indica quali documenti mancano.", "Say which documents are missing."},
	"state":        {"L'azione non è possibile nello stato attuale della richiesta.", "The action is not possible in the request's current state."},
	"duplicate":    {"Esiste già un'identità dello stesso tipo per questo codice fiscale.", "An identity of the same type exists for this fiscal code."},
	"upload":       {"File rifiutato: solo JPEG, PNG, PDF o P7M entro 10 MB (per le registrazioni, video).", "File refused: only JPEG, PNG, PDF or P7M up to 10 MB (video for recordings)."},
	"otp_wrong":    {"Codice errato, scaduto o non inviato in questa sessione.", "Wrong or expired code, or not sent in this session."},
	"otp_limit":    {"Troppi codici inviati: riprova più tardi.", "Too many codes sent: try again later."},
	"unticked":     {"Spunta ogni voce prima di confermare.", "Tick every item before confirming."},
	"failed":       {"L'azione non è riuscita: riprova.", "The action failed: try again."},
	"evidence":     {"Indica il motivo dell'accesso e un riferimento.", "Give the reason for the access and a reference."},
}

func notice(lang, key string) string {
	n, ok := notices[key]
	if !ok {
		return ""
	}
	if lang == "en" {
		return n[1]
	}
	return n[0]
}

// forbidden answers a refusal of rights (the role lacks the action, or
// the four-eyes rule: the same person may not decide) with 403 and a page
// in words, never a redirect that a script would follow as a success
// (security.md E.1–E.2). It reports whether it answered.
func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, o *operatorCtx, err error, back string) bool {
	key := ""
	switch {
	case errors.Is(err, enrolment.ErrForbidden):
		key = "forbidden"
	case errors.Is(err, enrolment.ErrFourEyes):
		key = "four_eyes"
	default:
		return false
	}
	f := c.frame(o)
	c.render(w, http.StatusForbidden, templates.PageConsoleMessage, o.lang, templates.ConsoleMessagePage{ConsoleFrame: f,
		Title: msg(o.lang, "Azione non consentita", "Action not allowed"), Text: notice(o.lang, key), Back: back})
	return true
}

// errKey maps a Service error to a notice key.
func errKey(err error) string {
	switch {
	case errors.Is(err, enrolment.ErrFourEyes):
		return "four_eyes"
	case errors.Is(err, enrolment.ErrForbidden):
		return "forbidden"
	case errors.Is(err, enrolment.ErrClaimed):
		return "claimed_by"
	case errors.Is(err, enrolment.ErrTransition):
		return "state"
	case errors.Is(err, enrolment.ErrDuplicate):
		return "duplicate"
	case errors.Is(err, enrolment.ErrNotReady):
		if strings.Contains(err.Error(), "checklist") {
			return "checklist"
		}
		return "not_ready"
	}
	return "failed"
}

// Access reasons of §12.3.
var accessReasons = []struct{ code, it, en string }{
	{"verification", "verifica della richiesta", "verification of the request"},
	{"holder_request", "richiesta del titolare", "holder's request"},
	{"judicial_authority", "autorità giudiziaria", "judicial authority"},
	{"agid_supervision", "vigilanza AgID", "AgID supervision"},
	{"dispute", "contenzioso", "dispute"},
}

func validAccessReason(s string) bool {
	for _, a := range accessReasons {
		if a.code == s {
			return true
		}
	}
	return false
}

func (c *Console) frameWith(o *operatorCtx, r *http.Request) templates.ConsoleFrame {
	f := c.frame(o)
	f.Notice = notice(o.lang, r.URL.Query().Get("ok"))
	f.Error = notice(o.lang, r.URL.Query().Get("err"))
	return f
}

// usernames resolves operator IDs for display; unknown IDs stay as they are.
func (c *Console) username(ctx context.Context, id string, cache map[string]string) string {
	if id == "" {
		return ""
	}
	if u, ok := cache[id]; ok {
		return u
	}
	u := id
	if op, err := c.Store.GetOperator(ctx, id); err == nil {
		u = op.Username
	}
	cache[id] = u
	return u
}

// queue is ui.md §9.1, for verifiers, supervisors and auditors.
func (c *Console) queue(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	if !o.can(enrolment.ActClaim) && !o.can(enrolment.ActReadAudit) {
		c.message(w, r, http.StatusForbidden, o, msg(o.lang, "Accesso negato", "Access denied"), notice(o.lang, "forbidden"))
		return
	}
	items, err := c.Service.Queue(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	p := templates.ConsoleQueuePage{ConsoleFrame: c.frameWith(o, r), ReadOnly: !o.can(enrolment.ActDecide)}
	if o.can(enrolment.ActRecognise) {
		p.FindLink = "/console/find"
	}
	names := map[string]string{}
	for _, it := range items {
		switch it.Status {
		case "on_time":
			p.OnTime++
		case "at_risk":
			p.AtRisk++
		case "late":
			p.Late++
		default:
			p.Paused++
		}
		p.Rows = append(p.Rows, templates.ConsoleQueueRow{Code: enrolment.FormatCode(it.Enrolment.Code),
			Link: "/console/requests/" + it.Enrolment.ID, State: enrolment.State(it.Enrolment.State).Words(o.lang), Path: it.Enrolment.Path,
			Type: words(o.lang, identityTypeWords, it.Enrolment.IdentityType), QueuedAt: it.Enrolment.QueuedAt, Deadline: it.Enrolment.DeadlineAt,
			Status: it.Status, ClaimedBy: c.username(r.Context(), it.ClaimedBy, names), Recheck: it.Request.Recheck})
	}
	c.render(w, http.StatusOK, templates.PageConsoleQueue, o.lang, p)
}

func (c *Console) readable(o *operatorCtx) bool {
	return o.can(enrolment.ActClaim) || o.can(enrolment.ActReadAudit)
}

// request is the case page (ui.md §9.2). Every view is audited: the page
// shows personal data.
func (c *Console) request(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !c.readable(o) {
		c.record(ctx, o.op.ID, "console.view", id, audit.Denied, nil)
		c.message(w, r, http.StatusForbidden, o, msg(o.lang, "Accesso negato", "Access denied"), notice(o.lang, "forbidden"))
		return
	}
	e, req, err := c.Service.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		c.message(w, r, http.StatusNotFound, o, msg(o.lang, "Richiesta non trovata", "Request not found"), "")
		return
	} else if err != nil {
		c.fail(w, err)
		return
	}
	c.record(ctx, o.op.ID, "console.view", id, audit.Success, map[string]string{"code": e.Code})
	now := c.now()
	names := map[string]string{}
	st := enrolment.State(e.State)
	p := templates.ConsoleRequestPage{ConsoleFrame: c.frameWith(o, r), Code: enrolment.FormatCode(e.Code), State: e.State,
		StateLabel: st.Words(o.lang), Path: e.Path, Type: words(o.lang, identityTypeWords, e.IdentityType), QueuedAt: e.QueuedAt, Deadline: e.DeadlineAt,
		Status: "paused", DocumentsRequested: req.DocumentsRequested, Queue: "/console/queue"}
	if st == enrolment.StateAwaitingProcessing {
		p.Status = c.Service.Calendar.Status(now, e.QueuedAt, e.DeadlineAt)
	} else if st != enrolment.StateAwaitingDocuments {
		p.Status = "closed"
	}
	claimLive := req.ClaimedBy != "" && now.Before(req.ClaimedUntil)
	if claimLive {
		p.ClaimedBy = c.username(ctx, req.ClaimedBy, names)
		p.ClaimedByMe = req.ClaimedBy == o.op.ID
	}
	p.Applicant, p.Document = applicantFields(req, o.lang, false)
	if rc := req.Recognition; rc != nil {
		p.RecognisedBy, p.RecognisedAt = c.username(ctx, rc.By, names), rc.At
		for _, k := range slices.Sorted(mapsKeys(rc.Checklist)) {
			p.Recognition = append(p.Recognition, templates.ConsoleCheck{Key: k, Label: checkLabel(k, o.lang), Done: rc.Checklist[k]})
		}
		for _, st := range rc.Revocation {
			p.Revocation = append(p.Revocation, templates.ConsoleCheck{Key: string(st.Status), Label: revocationLabel(st, o.lang),
				Done: st.Status == revocation.Good || st.Status == revocation.Revoked && !st.RevokedBy(), At: st.CheckedAt})
		}
	}
	for _, at := range req.Attempts {
		p.Attempts = append(p.Attempts, templates.ConsoleAttempt{At: at.At, Path: at.Path, Reason: attemptReason(at.Code, o.lang),
			Code: at.Code, Detail: at.Detail, IP: at.IP})
	}
	if req.DecidedBy != "" {
		p.Decided = fmt.Sprintf("%s – %s", c.username(ctx, req.DecidedBy, names), req.DecidedAt.In(rome).Format("02/01/2006 15:04"))
		for _, rs := range req.Reasons {
			p.Decided += "; " + rs.Title(o.lang)
		}
	}
	for _, it := range req.Evidence {
		ev := templates.ConsoleEvidence{ID: it.ID, Kind: it.Kind, Label: kindLabel(it.Kind, o.lang), MediaType: it.MediaType, SHA256: it.SHA256, Size: it.Size,
			Created: it.CreatedAt, UploadedBy: c.username(ctx, it.UploadedBy, names)}
		if c.mayOpen(o, it, "") {
			ev.Open = "/console/requests/" + id + "/evidence/" + it.ID
		} else {
			ev.NeedsSupervisor = it.Kind == evidence.KindVideoRecording
		}
		p.Evidence = append(p.Evidence, ev)
	}
	for _, a := range accessReasons {
		p.AccessReasons = append(p.AccessReasons, templates.ConsoleOption{Value: a.code, Label: msg(o.lang, a.it, a.en)})
	}
	// Actions for deciders; the reason a decision is blocked is shown and
	// the buttons disabled, and the Service refuses anyway.
	if o.can(enrolment.ActDecide) {
		base := "/console/requests/" + id + "/"
		switch st {
		case enrolment.StateAwaitingProcessing:
			p.Approve, p.Reject, p.AskDocuments = base+"approve", base+"reject", base+"documents"
			if p.ClaimedByMe {
				p.Release = base + "release"
			} else {
				p.Claim = base + "claim"
			}
			for _, k := range enrolment.VerifierChecklist(e.Path, e.IdentityType) {
				p.Checklist = append(p.Checklist, templates.ConsoleOption{Value: k, Label: checkLabel(k, o.lang)})
			}
			for _, code := range enrolment.ReasonCodes() {
				rs := enrolment.Reason{Code: code, Field: msg(o.lang, "campo", "field")}
				p.Reasons = append(p.Reasons, templates.ConsoleOption{Value: code, Label: rs.Title(o.lang), Hint: rs.CorrectiveAction(o.lang)})
			}
		case enrolment.StateAwaitingDocuments:
			p.DocumentsReceived = base + "received"
			p.Reject = base + "reject"
			for _, code := range enrolment.ReasonCodes() {
				rs := enrolment.Reason{Code: code, Field: msg(o.lang, "campo", "field")}
				p.Reasons = append(p.Reasons, templates.ConsoleOption{Value: code, Label: rs.Title(o.lang), Hint: rs.CorrectiveAction(o.lang)})
			}
		}
		switch {
		case req.Recognition != nil && req.Recognition.By == o.op.ID:
			p.Blocked = notice(o.lang, "four_eyes")
		case claimLive && !p.ClaimedByMe:
			p.Blocked = notice(o.lang, "claimed_by")
		}
	} else {
		p.Blocked = msg(o.lang, "Consultazione in sola lettura: il tuo ruolo non decide sulle richieste.", "Read-only: your role does not decide on requests.")
	}
	c.render(w, http.StatusOK, templates.PageConsoleRequest, o.lang, p)
}

// mayOpen: deciders and supervisors open evidence for a reason; recordings
// only supervisors (§12.3: recordings need a supervisor's approval, which
// here is the supervisor's own stated, audited access).
// mayOpen says whether o may open the item for reason ("" when not yet
// chosen: whether some reason would do). Whoever must compare a person with
// the scans and the recording may open them for the verification: the
// verifier (the recording too: the face must match) and the agent
// recognising in person (the document scans); a supervisor opens anything.
// Every opening is audited by openEvidence.
func (c *Console) mayOpen(o *operatorCtx, it evidence.Item, reason string) bool {
	verification := reason == "" || reason == "verification"
	switch {
	case o.has(enrolment.RoleSupervisor):
		return true
	case it.Kind == evidence.KindVideoRecording:
		return o.can(enrolment.ActDecide) && verification
	case o.can(enrolment.ActDecide):
		return true
	case o.can(enrolment.ActRecognise) && verification:
		return compareKinds[it.Kind]
	}
	return false
}

// compareKinds are the citizen's scans an agent compares with the person
// and the document in front of them.
var compareKinds = map[string]bool{evidence.KindDocumentFront: true, evidence.KindDocumentBack: true,
	evidence.KindTaxcodeFront: true, evidence.KindTaxcodeBack: true}

// decide runs claim, release, approve, reject, documents and received.
func (c *Console) decide(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	id, action := r.PathValue("id"), r.PathValue("action")
	page := "/console/requests/" + id
	// The role first: a role without the action gets 403 whatever the
	// form says (S089); the Service checks again and audits.
	need := enrolment.ActDecide
	if action == "claim" || action == "release" {
		need = enrolment.ActClaim
	}
	if !o.can(need) {
		c.record(ctx, o.op.ID, "enrolment."+oneLine(action, 20), id, audit.Denied, map[string]string{"reason": "role"})
		c.forbidden(w, r, o, enrolment.ErrForbidden, page)
		return
	}
	var err error
	ok := ""
	switch action {
	case "claim":
		_, err = c.Service.Claim(ctx, id, o.op.ID)
		ok = "claimed"
	case "release":
		err = c.Service.Release(ctx, id, o.op.ID)
		ok = "released"
	case "approve":
		checks := map[string]bool{}
		for _, k := range r.PostForm["check"] {
			checks[k] = true
		}
		_, err = c.Service.Approve(ctx, id, o.op.ID, checks)
		ok = "approved"
	case "reject":
		var rs []enrolment.Reason
		note := oneLine(r.PostFormValue("note"), 500)
		for _, code := range r.PostForm["reason"] {
			rs = append(rs, enrolment.Reason{Code: code, Field: oneLine(strings.TrimSpace(r.PostFormValue("field")), 60), Note: note})
		}
		if len(rs) == 0 {
			redirect(w, r, page, "err", "no_reason")
			return
		}
		for _, x := range rs {
			if x.Check() != nil {
				redirect(w, r, page, "err", "no_reason")
				return
			}
		}
		err = c.Service.Reject(ctx, id, o.op.ID, rs)
		ok = "rejected"
	case "documents":
		var missing []string
		for _, m := range strings.Split(r.PostFormValue("missing"), ";") {
			if m = oneLine(strings.TrimSpace(m), 200); m != "" {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			redirect(w, r, page, "err", "no_documents")
			return
		}
		err = c.Service.AskDocuments(ctx, id, o.op.ID, missing)
		ok = "documents"
	case "received":
		if !o.can(enrolment.ActDecide) {
			err = enrolment.ErrForbidden
			c.record(ctx, o.op.ID, "enrolment.documents_received", id, audit.Denied, nil)
			break
		}
		_, err = c.Service.DocumentsReceived(ctx, id, o.op.ID)
		ok = "received"
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		if c.Log != nil {
			c.Log.Info("console: action refused", "action", action, "request", id, "err", err)
		}
		if c.forbidden(w, r, o, err, page) {
			return
		}
		redirect(w, r, page, "err", errKey(err))
		return
	}
	redirect(w, r, page, "ok", ok)
}

// ticket is a one-minute, single-use grant to stream one evidence item,
// made after the reason was given and the access audited.
type ticket struct {
	Session string `json:"session"`
	Request string `json:"request"`
	Item    string `json:"item"`
}

// openEvidence is §12.3: a reason from the list and a reference, audited
// in the access log, then a 303 to the one-time stream URL.
func (c *Console) openEvidence(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	id, itemID := r.PathValue("id"), r.PathValue("item")
	reason, ref := r.PostFormValue("reason"), oneLine(strings.TrimSpace(r.PostFormValue("reference")), 120)
	_, req, err := c.Service.Get(ctx, id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	i := slices.IndexFunc(req.Evidence, func(it evidence.Item) bool { return it.ID == itemID })
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	it := req.Evidence[i]
	details := map[string]string{"evidence_id": it.ID, "kind": it.Kind, "reason": oneLine(reason, 40), "reference": ref}
	if !c.mayOpen(o, it, reason) {
		details["error"] = "role"
		c.record(ctx, o.op.ID, "console.evidence_open", id, audit.Denied, details)
		c.message(w, r, http.StatusForbidden, o, msg(o.lang, "Accesso negato", "Access denied"), notice(o.lang, "forbidden"))
		return
	}
	if !validAccessReason(reason) || ref == "" {
		details["error"] = "no_reason"
		c.record(ctx, o.op.ID, "console.evidence_open", id, audit.Denied, details)
		c.message(w, r, http.StatusBadRequest, o, msg(o.lang, "Motivo mancante", "Reason missing"), notice(o.lang, "evidence"))
		return
	}
	tk, err := randomID()
	if err != nil {
		c.fail(w, err)
		return
	}
	b, _ := json.Marshal(ticket{Session: sessionKey(o.sess.ID), Request: id, Item: it.ID})
	if err := c.Eph.CreateValue(ctx, "console:ticket:"+tk, b, c.now().Add(ticketTTL)); err != nil {
		c.fail(w, err)
		return
	}
	c.record(ctx, o.op.ID, "console.evidence_open", id, audit.Success, details)
	http.Redirect(w, r, "/console/evidence/"+tk, http.StatusSeeOther)
}

// streamEvidence sends the item once per ticket, never cached, as a
// download except for images (shown in the browser, sandboxed).
func (c *Console) streamEvidence(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	key := "console:ticket:" + r.PathValue("ticket")
	b, _, err := c.Eph.GetValue(ctx, key)
	if err != nil || c.Eph.DeleteValue(ctx, key) != nil {
		http.NotFound(w, r)
		return
	}
	var tk ticket
	if json.Unmarshal(b, &tk) != nil || tk.Session != sessionKey(o.sess.ID) {
		http.NotFound(w, r)
		return
	}
	_, req, err := c.Service.Get(ctx, tk.Request)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	i := slices.IndexFunc(req.Evidence, func(it evidence.Item) bool { return it.ID == tk.Item })
	if i < 0 || c.Service.Evidence == nil {
		http.NotFound(w, r)
		return
	}
	it := req.Evidence[i]
	rc, err := c.Service.Evidence.Open(ctx, it)
	if err != nil {
		c.fail(w, err)
		return
	}
	defer rc.Close()
	disp := "attachment"
	if it.MediaType == evidence.TypeJPEG || it.MediaType == evidence.TypePNG || it.MediaType == evidence.TypePDF {
		disp = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", it.MediaType)
	h.Set("Content-Disposition", disp+`; filename="`+it.Kind+"-"+it.ID[:8]+ext(it.MediaType)+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
	h.Set("Content-Length", strconv.FormatInt(it.Size, 10))
	if _, err := io.Copy(w, rc); err != nil && c.Log != nil {
		// The integrity check fails at the end of a tampered blob: the
		// client gets a truncated body and the log says why.
		c.Log.Error("console: evidence stream", "item", it.ID, "err", err)
	}
}

func ext(mt string) string {
	switch mt {
	case evidence.TypeJPEG:
		return ".jpg"
	case evidence.TypePNG:
		return ".png"
	case evidence.TypePDF:
		return ".pdf"
	case evidence.TypeP7M:
		return ".p7m"
	}
	return ".bin"
}

var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return l
}()

func mapsKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// applicantFields lists what the case page shows; agents (minimal) see
// only what the in-person check needs (§5.5).
func applicantFields(req *enrolment.Request, lang string, minimal bool) (app, doc []templates.ConsoleField) {
	a := req.Applicant
	if a == nil {
		return nil, nil
	}
	f := func(it, en, v string) {
		if v != "" {
			app = append(app, templates.ConsoleField{Label: msg(lang, it, en), Value: v})
		}
	}
	f("Nome", "Name", a.Name)
	f("Cognome", "Family name", a.FamilyName)
	f("Codice fiscale", "Fiscal code", a.FiscalNumber)
	f("Data di nascita", "Date of birth", civilDate(a.DateOfBirth))
	f("Luogo di nascita", "Place of birth", placeWords(lang, a.PlaceOfBirth, a.DateOfBirth))
	f("Sesso", "Gender", words(lang, genderWords, a.Gender))
	if !minimal {
		f("E-mail", "E-mail", a.Email)
		f("Cellulare", "Mobile", a.MobilePhone)
		f("E-mail verificata", "E-mail verified", boolText(lang, req.EmailVerified != "" && req.EmailVerified == a.Email))
		f("Cellulare verificato", "Mobile verified", boolText(lang, req.MobileVerified != "" && req.MobileVerified == a.MobilePhone))
		f("Indirizzo", "Address", a.Address)
	}
	if d := req.Document; d != nil {
		g := func(it, en, v string) {
			if v != "" {
				doc = append(doc, templates.ConsoleField{Label: msg(lang, it, en), Value: v})
			}
		}
		g("Tipo", "Type", words(lang, documentWords, d.Type))
		g("Numero", "Number", d.Number)
		// As the applicant typed it ("Comune di Roma"); the token
		// released in idCard ("ComuneRoma") only for older requests.
		issuer := d.IssuerName
		if issuer == "" {
			issuer = d.Issuer
		}
		g("Rilasciato da", "Issued by", issuer)
		g("Data di rilascio", "Issue date", civilDate(d.IssueDate))
		g("Scadenza", "Expiry date", civilDate(d.ExpiryDate))
	}
	return app, doc
}

// placeWords names a cadastral code as the applicant picked it, "Milano
// (MI) – F205": the operator compares it with the document, which names
// the municipality. The bare code when the table does not know it.
func placeWords(lang, code, born string) string {
	if code == "" {
		return ""
	}
	if t, err := places.Default(); err == nil {
		if p, ok := t.Lookup(code, born); ok {
			return p.Label(lang) + " – " + code
		}
	}
	return code
}

// Codes the console shows in words (issue 12: no "cartaIdentita", no
// "personal" on an operator's screen).
var (
	documentWords = map[string][2]string{
		"cartaIdentita":         {"Carta d'identità", "Identity card"},
		"passaporto":            {"Passaporto", "Passport"},
		"patenteGuida":          {"Patente di guida", "Driving licence"},
		"patenteNautica":        {"Patente nautica", "Boating licence"},
		"librettoPensione":      {"Libretto di pensione", "Pension book"},
		"patentinoImpTermici":   {"Patentino per impianti termici", "Heating-system operator licence"},
		"portoArmi":             {"Porto d'armi", "Firearms licence"},
		"tesseraRiconoscimento": {"Tessera di riconoscimento", "Identification card"},
	}
	genderWords       = map[string][2]string{"M": {"Maschio", "Male"}, "F": {"Femmina", "Female"}}
	identityTypeWords = map[string][2]string{
		"personal":           {"Persona fisica", "Natural person"},
		"professional":       {"Uso professionale", "Professional use"},
		"professional_legal": {"Persona giuridica", "Legal person"},
	}
)

// words says code in lang from table, or the code itself when unknown.
func words(lang string, table map[string][2]string, code string) string {
	w, ok := table[code]
	if !ok {
		return code
	}
	return msg(lang, w[0], w[1])
}

// civilDate shows an ISO date (yyyy-mm-dd) as dd/mm/yyyy, like every date
// of the pages; anything else unchanged.
func civilDate(v string) string {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.Format("02/01/2006")
	}
	return v
}

func boolText(lang string, b bool) string {
	if b {
		return msg(lang, "sì", "yes")
	}
	return msg(lang, "no", "no")
}
