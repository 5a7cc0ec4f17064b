package web

import (
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/places"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Routes returns the handler of /enrol/… and /activate.
func (h *Handler) Routes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET "+PathStart+"{$}", h.start)
	m.HandleFunc("POST "+PathStart+"{$}", h.start)
	m.HandleFunc(PathData, h.data)
	m.HandleFunc("GET "+PathCheckCF, h.checkCF)
	m.HandleFunc("GET "+PathPlaces, h.suggestPlaces)
	m.HandleFunc(PathStatus, h.status)
	m.HandleFunc(PathCorrect, h.correct)
	m.HandleFunc(PathEmail, h.email)
	m.HandleFunc(PathVerifyEmail, h.verifyEmail)
	m.HandleFunc(PathMobile, h.mobile)
	m.HandleFunc(PathConsents, h.consents)
	m.HandleFunc(PathSubmit, h.submit)
	m.HandleFunc("GET "+PathDone, h.done)
	m.HandleFunc("GET "+PathForm, h.form)
	m.HandleFunc("POST "+PathSigned, h.signed)
	m.HandleFunc(PathActivate, h.activate)
	return m
}

// paths offered: those whose machinery is configured.
func (h *Handler) paths() []string {
	var ps []string
	if h.CNSBase != "" && h.CNS != nil {
		ps = append(ps, enrolment.PathCNS)
	}
	if h.Signature != nil {
		ps = append(ps, enrolment.PathSignature)
	}
	return append(ps, enrolment.PathVideo, enrolment.PathShop, enrolment.PathCounter)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	st, err := h.ensureState(w, r)
	if err != nil {
		h.fail(w, r, "start", err)
		return
	}
	p := templates.EnrolPage{Step: templates.EnrolStepStart, Action: PathStart, Paths: h.paths()}
	if r.Method == http.MethodPost {
		if !h.checkPost(r, st) {
			h.forbidden(w, r)
			return
		}
		path, typ := r.PostFormValue("path"), r.PostFormValue("identity_type")
		if !slices.Contains(p.Paths, path) {
			p.Errors = []string{h.t(r, "Scegli una modalità di riconoscimento.", "Choose a recognition method.")}
		} else if e, err := h.Service.Start(r.Context(), typ, path, enrolment.OrderNew); err != nil {
			p.Errors = citizenAll(lang(r), problems(err))
		} else {
			st.Request = e.ID
			if err := h.writeState(w, st); err != nil {
				h.fail(w, r, "start", err)
				return
			}
			http.Redirect(w, r, PathData, http.StatusSeeOther)
			return
		}
	}
	p.CSRF = csrf.Token(h.csrf, st.Nonce)
	h.render(w, r, statusFor(p), p)
}

func statusFor(p templates.EnrolPage) int {
	if len(p.Errors) > 0 {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

func (h *Handler) t(r *http.Request, it, en string) string {
	if lang(r) == "en" {
		return en
	}
	return it
}

// problems lists an error for the page: Problems one by one, anything
// else as its text.
func problems(err error) []string {
	var ps identity.Problems
	if errors.As(err, &ps) {
		return []string(ps)
	}
	return []string{err.Error()}
}

// current loads the browser's request; ok false when there is none (the
// page has been answered).
func (h *Handler) current(w http.ResponseWriter, r *http.Request) (state, storage.Enrolment, *enrolment.Request, bool) {
	st := h.readState(r)
	if st.Request == "" {
		h.noRequest(w, r)
		return st, storage.Enrolment{}, nil, false
	}
	e, req, err := h.Service.Get(r.Context(), st.Request)
	if errors.Is(err, storage.ErrNotFound) {
		h.noRequest(w, r)
		return st, e, nil, false
	} else if err != nil {
		h.fail(w, r, "load", err)
		return st, e, nil, false
	}
	if r.Method == http.MethodPost && !h.checkPost(r, st) {
		h.forbidden(w, r)
		return st, e, nil, false
	}
	return st, e, req, true
}

func (h *Handler) page(st state, e storage.Enrolment, step, action string) templates.EnrolPage {
	return templates.EnrolPage{Step: step, Action: action, CSRF: csrf.Token(h.csrf, st.Nonce),
		Code: enrolment.FormatCode(e.Code), Path: e.Path, IdentityType: e.IdentityType, State: e.State}
}

var dataFields = []string{"name", "family_name", "fiscal_number", "date_of_birth", "place_name", "place_of_birth", "county_of_birth",
	"gender", "email", "mobile_phone", "address", "iva_code", "doc_type", "doc_number", "doc_issuer", "doc_issue_date", "doc_expiry_date"}

// data is personal data, document and scans. The scans are kept with the
// draft first, whatever else is wrong, so an error never asks for them
// again; the place of birth is resolved from its name; every message is a
// sentence for the applicant in the page's language; and the fiscal code,
// e-mail and mobile are checked against other requests and identities
// here, before any e-mail or SMS is sent.
func (h *Handler) data(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, int64(len(scanKinds))*h.MaxUpload+maxFormBytes)
		if err := r.ParseMultipartForm(maxFormBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			h.render(w, r, http.StatusRequestEntityTooLarge, templates.EnrolPage{Step: templates.EnrolStepMessage,
				Title: h.t(r, "File troppo grande", "File too large"),
				Text:  h.t(r, "Le scansioni inviate sono troppo grandi: riducine la dimensione e riprova.", "The scans sent are too large: make them smaller and try again.")})
			return
		}
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
	}
	st, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if !editable(e, req, h.now()) {
		http.Redirect(w, r, PathDone, http.StatusSeeOther)
		return
	}
	l := lang(r)
	p := h.page(st, e, templates.EnrolStepData, PathData)
	p.Values = map[string]string{}
	if r.Method != http.MethodPost {
		p.Values = h.storedValues(req, l)
		p.Scans = scansKept(req, l)
		if enrolment.State(e.State) == enrolment.StateRejected {
			p.Notice = h.t(r, "Correggi i dati indicati nell'e-mail e continua: le scansioni già caricate restano valide se non le sostituisci.",
				"Correct the data named in the e-mail and continue: the scans already uploaded stay unless you replace them.")
		}
		h.render(w, r, http.StatusOK, p)
		return
	}
	for _, f := range dataFields {
		p.Values[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	// The scans first: kept with the draft even if the rest is refused.
	for _, kind := range scanKinds {
		if msg := h.upload(r, e.ID, kind); msg != "" {
			p.Errors = append(p.Errors, msg)
		}
	}
	v := p.Values
	placeMsg := h.resolvePlace(l, v)
	a := enrolment.Applicant{Name: v["name"], FamilyName: v["family_name"], FiscalNumber: v["fiscal_number"],
		DateOfBirth: v["date_of_birth"], PlaceOfBirth: strings.ToUpper(v["place_of_birth"]), CountyOfBirth: strings.ToUpper(v["county_of_birth"]),
		Gender: v["gender"], Email: v["email"], MobilePhone: v["mobile_phone"], Address: v["address"], IvaCode: v["iva_code"]}
	d := enrolment.Document{Type: v["doc_type"], Number: v["doc_number"], Issuer: v["doc_issuer"],
		IssueDate: v["doc_issue_date"], ExpiryDate: v["doc_expiry_date"]}
	cfMsgs, replaced := cfFindings(l, v)
	err := h.Service.SetApplicant(r.Context(), e.ID, a, d, nil)
	_, cur, gerr := h.Service.Get(r.Context(), e.ID)
	if gerr != nil {
		h.fail(w, r, "data", gerr)
		return
	}
	p.Scans = scansKept(cur, l)
	if err != nil || placeMsg != "" {
		var msgs []string
		if placeMsg != "" {
			msgs = append(msgs, placeMsg)
		}
		msgs = append(msgs, cfMsgs...)
		// An empty field is reported once, as empty, not also as wrong.
		empty := map[string]bool{}
		for _, s := range problems(err) {
			if f, t, _ := strings.Cut(s, ": "); t == "required" {
				empty[f] = true
			}
		}
		for _, s := range problems(err) {
			if f, t, _ := strings.Cut(s, ": "); empty[f] && t != "required" {
				continue
			}
			if replaced[s] || (placeMsg != "" && (strings.HasPrefix(s, "placeOfBirth:") || strings.HasPrefix(s, "countyOfBirth:"))) {
				continue
			}
			msgs = append(msgs, citizen(l, s))
		}
		if err == nil {
			msgs = msgs[:1]
		}
		p.Errors = append(citizenDedup(msgs), p.Errors...)
		h.render(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	if len(p.Errors) == 0 && scansRequired[e.Path] {
		// The online paths collect the images here (§5.1, §5.7); shop and
		// counter agents scan the originals themselves.
		for _, kind := range scanKinds {
			if !cur.HasEvidence(kind) {
				p.Errors = append(p.Errors, scanMissing(l, kind))
			}
		}
	}
	if len(p.Errors) > 0 {
		h.render(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	if err := h.Service.CheckInUse(r.Context(), e.ID); err != nil {
		msg, link, ok := h.inUse(l, err)
		if !ok {
			h.fail(w, r, "duplicates", err)
			return
		}
		p.Errors, p.Actions = []string{msg}, []templates.EnrolLink{link}
		h.render(w, r, http.StatusConflict, p)
		return
	}
	if enrolment.State(e.State) == enrolment.StateRejected {
		http.Redirect(w, r, PathCorrect, http.StatusSeeOther)
		return
	}
	if req.EmailVerified != "" && req.EmailVerified == cur.Applicant.Email {
		http.Redirect(w, r, PathMobile, http.StatusSeeOther)
		return
	}
	if err := h.Service.SendEmailLink(r.Context(), e.ID); err != nil {
		h.fail(w, r, "email link", err)
		return
	}
	http.Redirect(w, r, PathEmail, http.StatusSeeOther)
}

func citizenDedup(ms []string) []string {
	seen := map[string]bool{}
	out := ms[:0]
	for _, m := range ms {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// storedValues refill the form from the request.
func (h *Handler) storedValues(req *enrolment.Request, l string) map[string]string {
	v := map[string]string{}
	if a := req.Applicant; a != nil {
		v = map[string]string{"name": a.Name, "family_name": a.FamilyName, "fiscal_number": a.FiscalNumber,
			"date_of_birth": a.DateOfBirth, "place_of_birth": a.PlaceOfBirth, "county_of_birth": a.CountyOfBirth,
			"gender": a.Gender, "email": a.Email, "mobile_phone": a.MobilePhone, "address": a.Address, "iva_code": a.IvaCode}
		if t, err := places.Default(); err == nil && a.PlaceOfBirth != "" {
			if p, ok := t.Lookup(a.PlaceOfBirth, a.DateOfBirth); ok {
				v["place_name"] = p.Label(l)
			}
		}
	}
	if d := req.Document; d != nil {
		v["doc_type"], v["doc_number"], v["doc_issue_date"], v["doc_expiry_date"] = d.Type, d.Number, d.IssueDate, d.ExpiryDate
		v["doc_issuer"] = d.IssuerName
		if v["doc_issuer"] == "" {
			v["doc_issuer"] = d.Issuer
		}
	}
	return v
}

// resolvePlace turns the typed place of birth into its cadastral code and
// province (v place_of_birth, county_of_birth), using the birth date to
// pick the name in use then. It returns the message when it cannot.
func (h *Handler) resolvePlace(l string, v map[string]string) string {
	name := v["place_name"]
	t, err := places.Default()
	if err != nil {
		h.Log.Error("places table", "error", err)
		return "" // the Service still checks the code's shape
	}
	if name == "" {
		// A client that posts the code itself (no name typed).
		name = v["place_of_birth"]
	}
	if name == "" {
		v["place_of_birth"], v["county_of_birth"] = "", ""
		return templates.Text(l, "enrolform.err.required", "field", templates.Text(l, "enrolform.place.name"))
	}
	p, err := t.Resolve(name, v["date_of_birth"])
	var amb *places.Ambiguous
	switch {
	case err == nil:
		v["place_of_birth"], v["county_of_birth"], v["place_name"] = p.Code, p.Province, p.Label(l)
		return ""
	case errors.As(err, &amb):
		labels := make([]string, 0, len(amb.Candidates))
		for _, c := range amb.Candidates {
			labels = append(labels, pick(l, "«"+c.Label(l)+"»", "“"+c.Label(l)+"”"))
		}
		slices.Sort(labels)
		v["place_of_birth"], v["county_of_birth"] = "", ""
		return templates.Text(l, "enrolform.err.place.ambiguous", "place", name, "list", strings.Join(labels, ", "))
	}
	v["place_of_birth"], v["county_of_birth"] = "", ""
	return templates.Text(l, "enrolform.err.place.unknown", "place", name)
}

// scansKept describes the scans the request already holds, by kind (the
// latest of each).
func scansKept(req *enrolment.Request, l string) map[string]string {
	out := map[string]string{}
	for _, it := range req.Evidence {
		if !slices.Contains(scanKinds, it.Kind) {
			continue
		}
		kind := strings.ToUpper(strings.TrimPrefix(it.MediaType, "image/"))
		if it.MediaType == "application/pdf" {
			kind = "PDF"
		}
		size := fmt.Sprintf("%d kB", (it.Size+1023)/1024)
		out[it.Kind] = kind + ", " + size + ", " + it.CreatedAt.In(rome).Format("02/01/2006 15:04")
	}
	return out
}

// upload stores one optional scan; it returns the message for the page
// when the file is refused (nothing is kept then).
func (h *Handler) upload(r *http.Request, id, kind string) string {
	if r.MultipartForm == nil || len(r.MultipartForm.File[kind]) == 0 {
		return ""
	}
	fh := r.MultipartForm.File[kind][0]
	if fh.Size == 0 {
		return ""
	}
	return h.store(r, id, kind, fh)
}

func (h *Handler) store(r *http.Request, id, kind string, fh *multipart.FileHeader) string {
	if fh.Size > h.MaxUpload {
		h.audit(r.Context(), "enrolment.upload", id, map[string]string{"kind": kind, "error": "too large"})
		return h.t(r, "Il file «"+fh.Filename+"» supera i 10 MB.", "The file “"+fh.Filename+"” is larger than 10 MB.")
	}
	f, err := fh.Open()
	if err != nil {
		return h.t(r, "Il file «"+fh.Filename+"» non è leggibile.", "The file “"+fh.Filename+"” cannot be read.")
	}
	defer f.Close()
	_, err = h.Service.Upload(r.Context(), id, kind, fh.Header.Get("Content-Type"), "applicant", f, h.MaxUpload)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, evidence.ErrTooLarge):
		h.audit(r.Context(), "enrolment.upload", id, map[string]string{"kind": kind, "error": "too large"})
		return h.t(r, "Il file «"+fh.Filename+"» supera i 10 MB.", "The file “"+fh.Filename+"” is larger than 10 MB.")
	case errors.Is(err, evidence.ErrMediaType), errors.Is(err, evidence.ErrEmpty):
		h.audit(r.Context(), "enrolment.upload", id, map[string]string{"kind": kind, "error": "media type"})
		return h.t(r, "Il file «"+fh.Filename+"» non è un JPEG, PNG o PDF.", "The file “"+fh.Filename+"” is not a JPEG, PNG or PDF.")
	}
	h.Log.Error("upload", "kind", kind, "error", err)
	return h.t(r, "Il file «"+fh.Filename+"» non è stato salvato: riprova.", "The file “"+fh.Filename+"” was not saved: please try again.")
}

// email waits for the e-mailed link; "continue" moves on once it is used.
func (h *Handler) email(w http.ResponseWriter, r *http.Request) {
	st, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if req.Applicant == nil {
		http.Redirect(w, r, PathData, http.StatusSeeOther)
		return
	}
	verified := req.EmailVerified != "" && req.EmailVerified == req.Applicant.Email
	if verified {
		h.toMobile(w, r, e, req)
		return
	}
	p := h.page(st, e, templates.EnrolStepEmail, PathEmail)
	p.Contact = mask(req.Applicant.Email)
	if r.Method == http.MethodPost {
		if r.PostFormValue("op") != "resend" {
			p.Errors = []string{h.t(r, "L'indirizzo non è ancora confermato: apri il link che ti abbiamo inviato.",
				"The address is not confirmed yet: open the link we sent you.")}
		} else if err := h.Service.SendEmailLink(r.Context(), e.ID); err != nil {
			p.Errors = problems(err)
		} else {
			p.Notice = h.t(r, "Link inviato di nuovo.", "Link sent again.")
		}
	}
	h.render(w, r, statusFor(p), p)
}

// toMobile sends the mobile code once and moves to its page.
func (h *Handler) toMobile(w http.ResponseWriter, r *http.Request, e storage.Enrolment, req *enrolment.Request) {
	if req.MobileVerified != "" && req.MobileVerified == req.Applicant.MobilePhone {
		http.Redirect(w, r, PathConsents, http.StatusSeeOther)
		return
	}
	if err := h.Service.SendMobileCode(r.Context(), e.ID); err != nil {
		h.fail(w, r, "mobile code", err)
		return
	}
	http.Redirect(w, r, PathMobile, http.StatusSeeOther)
}

// verifyEmail is the e-mailed link. GET only shows a button (mail
// scanners follow links); the POST uses the token.
func (h *Handler) verifyEmail(w http.ResponseWriter, r *http.Request) {
	st, err := h.ensureState(w, r)
	if err != nil {
		h.fail(w, r, "verify email", err)
		return
	}
	token := r.URL.Query().Get("token")
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, templates.EnrolPage{Step: templates.EnrolStepEmail + "-confirm",
			Action: PathVerifyEmail + "?token=" + token, CSRF: csrf.Token(h.csrf, st.Nonce)})
		return
	}
	if !h.checkPost(r, st) {
		h.forbidden(w, r)
		return
	}
	e, err := h.Service.ConfirmEmail(r.Context(), token)
	if err != nil {
		h.message(w, r, http.StatusGone,
			[2]string{"Link non valido", "Il link è scaduto o è già stato usato: chiedine uno nuovo dalla pagina della richiesta."},
			[2]string{"Link not valid", "The link has expired or was already used: ask for a new one from the request page."})
		return
	}
	if st.Request == e.ID {
		_, req, err := h.Service.Get(r.Context(), e.ID)
		if err != nil {
			h.fail(w, r, "verify email", err)
			return
		}
		h.toMobile(w, r, e, req)
		return
	}
	h.message(w, r, http.StatusOK,
		[2]string{"Indirizzo confermato", "Grazie: torna alla pagina della richiesta per continuare."},
		[2]string{"Address confirmed", "Thank you: go back to the request page to continue."})
}

func (h *Handler) mobile(w http.ResponseWriter, r *http.Request) {
	st, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if req.Applicant == nil {
		http.Redirect(w, r, PathData, http.StatusSeeOther)
		return
	}
	p := h.page(st, e, templates.EnrolStepMobile, PathMobile)
	p.Contact = mask(req.Applicant.MobilePhone)
	if r.Method == http.MethodPost && h.codeStep(w, r, &p,
		func() error { return h.Service.SendMobileCode(r.Context(), e.ID) },
		func(code string) error { return h.Service.ConfirmMobile(r.Context(), e.ID, code) },
		PathConsents) {
		return
	}
	h.render(w, r, statusFor(p), p)
}

// codeStep handles the post of a page that asks for an SMS code: "resend"
// sends a new one, otherwise the code is checked and, when right, the
// browser goes on to next (true: answered). Errors land on the page.
func (h *Handler) codeStep(w http.ResponseWriter, r *http.Request, p *templates.EnrolPage,
	resend func() error, verify func(code string) error, next string) bool {
	if r.PostFormValue("op") == "resend" {
		if err := resend(); err != nil {
			p.Errors = problems(err)
		} else {
			p.Notice = h.t(r, "Codice inviato di nuovo.", "Code sent again.")
		}
		return false
	}
	if err := verify(strings.TrimSpace(r.PostFormValue("otp"))); err != nil {
		if errors.Is(err, enrolment.ErrNotReady) {
			p.Errors = problems(err)
		} else {
			p.Errors = []string{codeMessage(lang(r), err)}
		}
		return false
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return true
}

// legalVersion is the version of the text kind the applicant was shown.
func (h *Handler) legalVersion(kind, lang, fallback string) string {
	if h.Legal == nil {
		return fallback
	}
	if v := h.Legal.Version(kind, lang); v != "" {
		return v
	}
	return fallback
}

func (h *Handler) consents(w http.ResponseWriter, r *http.Request) {
	st, e, _, ok := h.current(w, r)
	if !ok {
		return
	}
	p := h.page(st, e, templates.EnrolStepConsents, PathConsents)
	if r.Method == http.MethodPost {
		c := enrolment.Consents{Declaration: r.PostFormValue("declaration") == "1",
			VideoRecording: r.PostFormValue("video_recording") == "1", AccessNotifications: r.PostFormValue("access_notifications")}
		if r.PostFormValue("privacy") == "1" {
			c.PrivacyVersion = h.legalVersion("privacy", lang(r), PrivacyVersion)
		}
		if r.PostFormValue("terms") == "1" {
			c.TermsVersion = h.legalVersion("terms", lang(r), TermsVersion)
		}
		if err := h.Service.AcceptConsents(r.Context(), e.ID, c, clientIP(r)); err != nil {
			p.Errors = citizenAll(lang(r), problems(err))
		} else if err := h.Service.SendSignCode(r.Context(), e.ID); err != nil {
			p.Errors = problems(err)
		} else {
			http.Redirect(w, r, PathSubmit, http.StatusSeeOther)
			return
		}
	}
	h.render(w, r, statusFor(p), p)
}

// submit confirms the request with the SMS code (E025).
func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	st, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if !editable(e, req, h.now()) {
		http.Redirect(w, r, PathDone, http.StatusSeeOther)
		return
	}
	p := h.page(st, e, templates.EnrolStepSubmit, PathSubmit)
	if req.MobileVerified != "" {
		p.Contact = mask(req.MobileVerified)
	}
	submit := h.Service.Submit
	if enrolment.State(e.State) == enrolment.StateRejected {
		submit = h.Service.ResubmitSigned // a corrected request goes back where its reasons say
	}
	if r.Method == http.MethodPost && h.codeStep(w, r, &p,
		func() error { return h.Service.SendSignCode(r.Context(), e.ID) },
		func(code string) error { _, err := submit(r.Context(), e.ID, code); return err },
		PathDone) {
		return
	}
	h.render(w, r, statusFor(p), p)
}

// done shows the code and what to do next on the request's path.
func (h *Handler) done(w http.ResponseWriter, r *http.Request) {
	st, e, _, ok := h.current(w, r)
	if !ok {
		return
	}
	switch enrolment.State(e.State) {
	case enrolment.StateDraft:
		http.Redirect(w, r, PathData, http.StatusSeeOther)
		return
	case enrolment.StateAwaitingRecognition:
	case enrolment.StateRejected:
		// Being corrected in this browser: back to the data.
		http.Redirect(w, r, PathData, http.StatusSeeOther)
		return
	default:
		p := h.page(st, e, templates.EnrolStepRecognised, "")
		h.render(w, r, http.StatusOK, p)
		return
	}
	p := h.page(st, e, templates.EnrolStepDone, "")
	switch e.Path {
	case enrolment.PathSignature:
		p.FormURL, p.UploadAction = PathForm, PathSigned
	case enrolment.PathCNS:
		link, err := h.cnsLink(e.ID, st.Nonce)
		if err != nil {
			h.fail(w, r, "cns link", err)
			return
		}
		p.CNSURL = link
	}
	h.points(&p, e.Path, r.URL.Query().Get("province"))
	h.video(r.Context(), &p, e, lang(r))
	h.render(w, r, http.StatusOK, p)
}

// correct is the correction link of a rejection e-mail (with its token:
// GET shows a button, as mail scanners follow links; the POST opens the
// request in this browser and goes to its data), and, without a token,
// the step after the corrected data: the contacts are verified again if
// they changed, then the request is confirmed with an SMS code.
func (h *Handler) correct(w http.ResponseWriter, r *http.Request) {
	if token := r.URL.Query().Get("token"); token != "" {
		st, err := h.ensureState(w, r)
		if err != nil {
			h.fail(w, r, "correct", err)
			return
		}
		if r.Method != http.MethodPost {
			h.render(w, r, http.StatusOK, templates.EnrolPage{Step: "correct-confirm",
				Action: PathCorrect + "?token=" + url.QueryEscape(token), CSRF: csrf.Token(h.csrf, st.Nonce)})
			return
		}
		if !h.checkPost(r, st) {
			h.forbidden(w, r)
			return
		}
		e, err := h.Service.OpenCorrection(r.Context(), token)
		if err != nil {
			h.message(w, r, http.StatusGone,
				[2]string{"Link non valido", "Il link per correggere la richiesta è scaduto, oppure la richiesta è già stata ripresentata: puoi vederne lo stato con il codice della richiesta."},
				[2]string{"Link not valid", "The link to correct the request has expired, or the request was already resubmitted: you can see its status with the request code."})
			return
		}
		st.Request = e.ID
		if err := h.writeState(w, st); err != nil {
			h.fail(w, r, "correct", err)
			return
		}
		http.Redirect(w, r, PathData, http.StatusSeeOther)
		return
	}
	_, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if enrolment.State(e.State) != enrolment.StateRejected || !editable(e, req, h.now()) || req.Applicant == nil {
		http.Redirect(w, r, PathDone, http.StatusSeeOther)
		return
	}
	switch {
	case req.EmailVerified != req.Applicant.Email:
		if err := h.Service.SendEmailLink(r.Context(), e.ID); err != nil {
			h.fail(w, r, "email link", err)
			return
		}
		http.Redirect(w, r, PathEmail, http.StatusSeeOther)
	case req.MobileVerified != req.Applicant.MobilePhone:
		h.toMobile(w, r, e, req)
	default:
		if err := h.Service.SendSignCode(r.Context(), e.ID); err != nil {
			h.fail(w, r, "sign code", err)
			return
		}
		http.Redirect(w, r, PathSubmit, http.StatusSeeOther)
	}
}

// scanKinds are the images of the data page.
var scanKinds = []string{evidence.KindDocumentFront, evidence.KindDocumentBack, evidence.KindTaxcodeFront}

// scansRequired: the paths where nobody sees the originals in person.
var scansRequired = map[string]bool{enrolment.PathCNS: true, enrolment.PathCIE: true,
	enrolment.PathSignature: true, enrolment.PathVideo: true}

func scanMissing(lang, kind string) string {
	switch kind {
	case evidence.KindDocumentFront:
		return pick(lang, "Carica la scansione del fronte del documento.", "Upload the scan of the front of the document.")
	case evidence.KindDocumentBack:
		return pick(lang, "Carica la scansione del retro del documento.", "Upload the scan of the back of the document.")
	}
	return pick(lang, "Carica la scansione della tessera sanitaria o del codice fiscale.", "Upload the scan of the health card or fiscal-code card.")
}
