package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/signature"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// InPersonChecklist is what the shop agent or counter operator confirms
// with the applicant in front of them (§5.5).
func InPersonChecklist() []string {
	return []string{"document_original", "document_intact_valid", "face_match", "data_match", "taxcode_card_match", "form_signed_by_hand"}
}

// VideoChecklist is the REG art. 8 script of §5.4, each item ticked and
// time-stamped during the call. "otp_confirmed" is ticked by the system
// when the code the operator typed is right, never by hand.
func VideoChecklist() []string {
	return []string{"consent_confirmed", "operator_identified", "personal_data_confirmed", "date_time_stated",
		"will_confirmed", "contacts_confirmed", "otp_confirmed", "email_link_opened", "credential_types_known",
		"document_shown", "health_card_shown", "terms_accepted", "random_action_done", "summary_confirmed"}
}

const itemOTP = "otp_confirmed"

// agentUploads are the kinds an agent may upload, per path.
func agentUploads(video bool) []string {
	if video {
		return []string{evidence.KindVideoRecording, evidence.KindDocumentFront, evidence.KindDocumentBack, evidence.KindTaxcodeFront}
	}
	return []string{evidence.KindDocumentFront, evidence.KindDocumentBack, evidence.KindTaxcodeFront, evidence.KindTaxcodeBack, evidence.KindAdhesionFormSigned}
}

// required evidence before an agent's confirmation (E040, E036).
func requiredEvidence(video bool) []string {
	if video {
		return []string{evidence.KindVideoRecording}
	}
	return []string{evidence.KindDocumentFront, evidence.KindDocumentBack, evidence.KindAdhesionFormSigned}
}

func (c *Console) findPage(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	if !o.can(enrolment.ActRecognise) {
		c.message(w, r, http.StatusForbidden, o, msg(o.lang, "Accesso negato", "Access denied"), notice(o.lang, "forbidden"))
		return
	}
	c.render(w, http.StatusOK, templates.PageConsoleFind, o.lang, templates.ConsoleFindPage{ConsoleFrame: c.frameWith(o, r), Action: "/console/find"})
}

// find is E039: the exact code and the CF's last 4 characters, nothing
// else; a miss says nothing about which half was wrong.
func (c *Console) find(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	code := r.PostFormValue("code")
	e, err := c.Service.FindForAgent(ctx, o.op.ID, code, r.PostFormValue("cf_suffix"))
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, enrolment.ErrForbidden) {
			status = http.StatusForbidden
		}
		c.render(w, status, templates.PageConsoleFind, o.lang, templates.ConsoleFindPage{ConsoleFrame: c.frame(o),
			Action: "/console/find", Code: oneLine(code, 16), NotFound: true})
		return
	}
	if err := c.saveSession(ctx, o.sess, func(s *session) {
		if s.Found == nil {
			s.Found = map[string]time.Time{}
		}
		s.Found[e.ID] = c.now()
	}); err != nil {
		c.fail(w, err)
		return
	}
	http.Redirect(w, r, "/console/recognise/"+e.ID, http.StatusSeeOther)
}

// found loads a request the agent opened by code in this session, still
// awaiting recognition on an operator path the agent's role serves.
func (c *Console) found(w http.ResponseWriter, r *http.Request, o *operatorCtx) (storage.Enrolment, *enrolment.Request, bool) {
	id := r.PathValue("id")
	_, ok := o.sess.Found[id]
	if !ok || !o.can(enrolment.ActRecognise) {
		c.record(r.Context(), o.op.ID, "console.recognise_view", id, audit.Denied, map[string]string{"error": "not found by code in this session"})
		c.message(w, r, http.StatusNotFound, o, msg(o.lang, "Richiesta non trovata", "Request not found"),
			msg(o.lang, "Cerca la richiesta con il suo codice e le ultime 4 lettere del codice fiscale.", "Look the request up with its code and the last 4 characters of the fiscal code."))
		return storage.Enrolment{}, nil, false
	}
	e, req, err := c.Service.Get(r.Context(), id)
	if err != nil {
		c.fail(w, err)
		return e, nil, false
	}
	video := e.Path == enrolment.PathVideo
	roleOK := o.has(enrolment.RoleShopAgent, enrolment.RoleCounterOperator)
	if video {
		roleOK = o.has(enrolment.RoleVideoOperator)
	}
	if enrolment.State(e.State) != enrolment.StateAwaitingRecognition || !roleOK {
		c.message(w, r, http.StatusConflict, o, msg(o.lang, "Riconoscimento non possibile", "Recognition not possible"), notice(o.lang, "state"))
		return e, nil, false
	}
	return e, req, true
}

func (c *Console) rec(o *operatorCtx, id string) *recState {
	if st := o.sess.Rec[id]; st != nil {
		return st
	}
	return &recState{}
}

func (c *Console) recognisePage(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	e, req, ok := c.found(w, r, o)
	if !ok {
		return
	}
	c.record(r.Context(), o.op.ID, "console.recognise_view", e.ID, audit.Success, map[string]string{"code": e.Code})
	video := e.Path == enrolment.PathVideo
	st := c.rec(o, e.ID)
	base := "/console/recognise/" + e.ID + "/"
	p := templates.ConsoleRecognisePage{ConsoleFrame: c.frameWith(o, r), Code: enrolment.FormatCode(e.Code), Path: e.Path, Video: video,
		Upload: base + "upload", SendOTP: base + "otp-send", CheckOTP: base + "otp-check", Confirm: base + "confirm", Tick: base + "tick",
		OTPSent: !st.OTPSentAt.IsZero(), OTPConfirmed: !st.OTPOKAt.IsZero()}
	if !video {
		p.Form = base + "form"
	}
	p.Applicant, p.Document = applicantFields(req, o.lang, true)
	items := InPersonChecklist()
	if video {
		items = VideoChecklist()
	}
	for _, k := range items {
		at := st.Ticks[k]
		p.Checklist = append(p.Checklist, templates.ConsoleCheck{Key: k, Label: checkLabel(k, o.lang), Done: !at.IsZero(), At: at})
	}
	for _, k := range agentUploads(video) {
		p.UploadKinds = append(p.UploadKinds, templates.ConsoleOption{Value: k, Label: kindLabel(k, o.lang)})
	}
	for _, it := range req.Evidence {
		if it.UploadedBy == o.op.ID {
			p.Uploaded = append(p.Uploaded, templates.ConsoleEvidence{ID: it.ID, Kind: it.Kind, Label: kindLabel(it.Kind, o.lang), MediaType: it.MediaType, Size: it.Size, Created: it.CreatedAt})
		} else if compareKinds[it.Kind] && c.mayOpen(o, it, "verification") {
			// The citizen's scans, to compare with the person and the
			// document in front of the agent; each opening audited.
			p.Scans = append(p.Scans, templates.ConsoleEvidence{ID: it.ID, Kind: it.Kind, Label: kindLabel(it.Kind, o.lang),
				MediaType: it.MediaType, Size: it.Size, Created: it.CreatedAt, Open: "/console/requests/" + e.ID + "/evidence/" + it.ID})
		}
	}
	p.Missing = c.missing(req, st, video, nil, o.lang)
	c.render(w, http.StatusOK, templates.PageConsoleRecognise, o.lang, p)
}

// missing lists what blocks the confirmation. checks is the in-person
// checklist as submitted (nil on the page view: not listed).
func (c *Console) missing(req *enrolment.Request, st *recState, video bool, checks map[string]bool, lang string) []string {
	var out []string
	for _, k := range requiredEvidence(video) {
		if !req.HasEvidence(k) {
			out = append(out, msg(lang, "manca: ", "missing: ")+kindLabel(k, lang))
		}
	}
	if st.OTPOKAt.IsZero() {
		out = append(out, msg(lang, "il codice SMS del richiedente non è stato verificato", "the applicant's SMS code is not verified"))
	}
	if video {
		for _, k := range VideoChecklist() {
			if st.Ticks[k].IsZero() {
				out = append(out, msg(lang, "voce non spuntata: ", "item not ticked: ")+checkLabel(k, lang))
			}
		}
	} else if checks != nil {
		for _, k := range InPersonChecklist() {
			if !checks[k] {
				out = append(out, msg(lang, "voce non spuntata: ", "item not ticked: ")+checkLabel(k, lang))
			}
		}
	}
	return out
}

func (c *Console) recognise(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	e, req, ok := c.found(w, r, o)
	if !ok {
		return
	}
	ctx := r.Context()
	video := e.Path == enrolment.PathVideo
	page := "/console/recognise/" + e.ID
	purpose := otp.PurposeSignRequest
	if video {
		purpose = otp.PurposeVideoSession
	}
	st := c.rec(o, e.ID)
	switch r.PathValue("action") {
	case "upload":
		kind := r.FormValue("kind")
		if !slices.Contains(agentUploads(video), kind) {
			redirect(w, r, page, "err", "upload")
			return
		}
		f, hdr, err := r.FormFile("file")
		if err != nil {
			redirect(w, r, page, "err", "upload")
			return
		}
		defer f.Close()
		max := c.MaxUpload
		if kind == evidence.KindVideoRecording {
			max = 0 // the store's recording limit
		}
		if _, err := c.Service.Upload(ctx, e.ID, kind, hdr.Header.Get("Content-Type"), o.op.ID, f, max); err != nil {
			c.record(ctx, o.op.ID, "console.upload", e.ID, audit.Failure, map[string]string{"kind": kind, "error": err.Error()})
			redirect(w, r, page, "err", "upload")
			return
		}
		redirect(w, r, page, "ok", "uploaded")
	case "otp-send":
		nonce, err := randomID()
		if err != nil {
			c.fail(w, err)
			return
		}
		// A new session nonce per send: only the last code, sent in this
		// console session for this request, is accepted (E037).
		err = c.Service.SMS.Send(ctx, otpTx(e.ID, nonce), e.ID, req.MobileVerified, purpose)
		outcome := audit.Success
		if err != nil {
			outcome = audit.Failure
		}
		c.record(ctx, o.op.ID, "console.otp_send", e.ID, outcome, map[string]string{"purpose": purpose})
		if err != nil {
			if errors.Is(err, otp.ErrTooManySends) {
				redirect(w, r, page, "err", "otp_limit")
				return
			}
			c.fail(w, err)
			return
		}
		if err := c.saveSession(ctx, o.sess, func(s *session) {
			rs := recOf(s, e.ID)
			rs.Nonce, rs.OTPSentAt, rs.OTPOKAt = nonce, c.now(), time.Time{}
			delete(rs.Ticks, itemOTP)
		}); err != nil {
			c.fail(w, err)
			return
		}
		redirect(w, r, page, "ok", "otp_sent")
	case "otp-check":
		if st.Nonce == "" {
			redirect(w, r, page, "err", "otp_wrong")
			return
		}
		err := c.Service.SMS.VerifyFor(ctx, otpTx(e.ID, st.Nonce), purpose, r.PostFormValue("otp"))
		if err != nil {
			c.record(ctx, o.op.ID, "console.otp_check", e.ID, audit.Failure, nil)
			redirect(w, r, page, "err", "otp_wrong")
			return
		}
		c.record(ctx, o.op.ID, "console.otp_check", e.ID, audit.Success, nil)
		if err := c.saveSession(ctx, o.sess, func(s *session) {
			rs := recOf(s, e.ID)
			rs.OTPOKAt = c.now()
			if video {
				rs.Ticks[itemOTP] = rs.OTPOKAt
			}
		}); err != nil {
			c.fail(w, err)
			return
		}
		redirect(w, r, page, "ok", "otp_ok")
	case "tick":
		// One form for the whole video checklist: every item ticked is
		// recorded at once, with the time it was sent.
		_ = r.ParseForm()
		items := r.PostForm["item"]
		if !video || len(items) == 0 {
			redirect(w, r, page, "err", "unticked")
			return
		}
		for _, item := range items {
			if item == itemOTP || !slices.Contains(VideoChecklist(), item) {
				redirect(w, r, page, "err", "unticked")
				return
			}
		}
		var added []string
		if err := c.saveSession(ctx, o.sess, func(s *session) {
			rs := recOf(s, e.ID)
			added = added[:0]
			for _, item := range items {
				if rs.Ticks[item].IsZero() {
					rs.Ticks[item] = c.now()
					added = append(added, item)
				}
			}
		}); err != nil {
			c.fail(w, err)
			return
		}
		for _, item := range added {
			c.record(ctx, o.op.ID, "console.video_tick", e.ID, audit.Success, map[string]string{"item": item})
		}
		redirect(w, r, page, "ok", "ticked")
	case "confirm":
		c.confirm(w, r, o, e, req, st, video)
	default:
		http.NotFound(w, r)
	}
}

func otpTx(id, nonce string) string { return "console-recognise:" + id + ":" + nonce }

func recOf(s *session, id string) *recState {
	if s.Rec == nil {
		s.Rec = map[string]*recState{}
	}
	rs := s.Rec[id]
	if rs == nil {
		rs = &recState{}
		s.Rec[id] = rs
	}
	if rs.Ticks == nil {
		rs.Ticks = map[string]time.Time{}
	}
	return rs
}

// confirm stores the checklist as evidence and records the recognition.
func (c *Console) confirm(w http.ResponseWriter, r *http.Request, o *operatorCtx, e storage.Enrolment, req *enrolment.Request, st *recState, video bool) {
	ctx := r.Context()
	checks := map[string]bool{}
	if video {
		for _, k := range VideoChecklist() {
			checks[k] = !st.Ticks[k].IsZero()
		}
	} else {
		for _, k := range InPersonChecklist() {
			checks[k] = false
		}
		for _, k := range r.PostForm["check"] {
			if _, ok := checks[k]; ok {
				checks[k] = true
			}
		}
	}
	if miss := c.missing(req, st, video, checks, o.lang); len(miss) > 0 {
		c.record(ctx, o.op.ID, "enrolment.recognise", e.ID, audit.Denied, map[string]string{"error": "incomplete", "missing": oneLine(joinShort(miss), 500)})
		p := templates.ConsoleMessagePage{ConsoleFrame: c.frame(o), Title: msg(o.lang, "Riconoscimento incompleto", "Recognition incomplete"),
			Text: joinShort(miss), Back: "/console/recognise/" + e.ID}
		c.render(w, http.StatusConflict, templates.PageConsoleMessage, o.lang, p)
		return
	}
	// The checklist with its times is evidence of the path (§5.7).
	record := map[string]any{"request": e.ID, "operator": o.op.ID, "shop_id": o.op.ShopID, "path": e.Path,
		"otp_confirmed_at": st.OTPOKAt, "confirmed_at": c.now()}
	kind := evidence.KindAgentChecklist
	if video {
		kind = evidence.KindVideoChecklist
		record["items"] = st.Ticks
	} else {
		record["items"] = checks
	}
	b, _ := json.Marshal(record)
	if _, err := c.Service.Upload(ctx, e.ID, kind, "application/json", o.op.ID, bytes.NewReader(b), 0); err != nil {
		c.fail(w, err)
		return
	}
	if _, err := c.Service.Recognise(ctx, e.ID, o.op.ID, checks); err != nil {
		if c.forbidden(w, r, o, err, "/console/recognise/"+e.ID) {
			return
		}
		redirect(w, r, "/console/recognise/"+e.ID, "err", errKey(err))
		return
	}
	_ = c.saveSession(ctx, o.sess, func(s *session) {
		delete(s.Rec, e.ID)
		delete(s.Found, e.ID)
	})
	c.render(w, http.StatusOK, templates.PageConsoleMessage, o.lang, templates.ConsoleMessagePage{ConsoleFrame: c.frame(o),
		Title: msg(o.lang, "Riconoscimento confermato", "Recognition confirmed"), Text: notice(o.lang, "recognised"), Back: "/console/find"})
}

func joinShort(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// adhesionForm is the form the applicant signs by hand at the shop or
// counter (§5.5): every attribute, the consents' versions and the SHA-256
// of the request as stored, so the scan of the signed paper names exactly
// what was confirmed.
func (c *Console) adhesionForm(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	e, req, ok := c.found(w, r, o)
	if !ok {
		return
	}
	if e.Path == enrolment.PathVideo || req.Applicant == nil {
		http.NotFound(w, r)
		return
	}
	a := req.Applicant
	attrs := map[string]string{"name": a.Name, "familyName": a.FamilyName, "fiscalNumber": "TINIT-" + a.FiscalNumber,
		"dateOfBirth": a.DateOfBirth, "placeOfBirth": a.PlaceOfBirth, "gender": a.Gender, "email": a.Email, "mobilePhone": a.MobilePhone}
	if d := req.Document; d != nil {
		attrs["idCard"] = strings.Join([]string{d.Type, d.Number, d.Issuer, d.IssueDate, d.ExpiryDate}, " ")
	}
	for k, v := range attrs {
		if strings.TrimSpace(v) == "" {
			delete(attrs, k)
		}
	}
	var privacy, terms string
	for _, cs := range req.Consents {
		switch cs.Kind {
		case "privacy":
			privacy = cs.Version
		case "terms":
			terms = cs.Version
		}
	}
	sum := sha256.Sum256(e.Data)
	pdf, err := signature.Form(signature.FormData{Code: enrolment.FormatCode(e.Code), Attributes: attrs,
		Declaration:  "Il richiedente dichiara che i dati sono veri (art. 76 DPR 445/2000) e firma di proprio pugno davanti all'operatore. / The applicant declares the data true and signs by hand before the operator.",
		TermsVersion: terms, PrivacyVersion: privacy, RequestHash: hex.EncodeToString(sum[:]), IssuedAt: c.now()})
	if err != nil {
		c.fail(w, err)
		return
	}
	c.record(r.Context(), o.op.ID, "console.adhesion_form", e.ID, audit.Success, map[string]string{"sha256": hex.EncodeToString(sum[:])})
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="modulo-`+e.Code+`.pdf"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(pdf)
}
