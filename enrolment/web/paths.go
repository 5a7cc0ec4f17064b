package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/cns"
	"github.com/spid-idp/spid-idp/enrolment/signature"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/revocation"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// systemActor recognises on the automatic paths (enrolment.Recognise).
const systemActor = "system"

// IssuedForm rebuilds the adhesion form of a submitted request. It is a
// pure function of the request as submitted (the issue time is the
// submission time), so the exact bytes the applicant downloaded can be
// rebuilt for verification without storing them.
func IssuedForm(e storage.Enrolment, r *enrolment.Request) ([]byte, signature.Issued, error) {
	if r.Applicant == nil || r.Document == nil || r.RequestSignedAt.IsZero() {
		return nil, signature.Issued{}, errors.New("enrolment/web: the request is not submitted")
	}
	a, d := r.Applicant, r.Document
	attrs := map[string]string{
		"name": a.Name, "familyName": a.FamilyName, "fiscalNumber": "TINIT-" + a.FiscalNumber,
		"dateOfBirth": a.DateOfBirth, "placeOfBirth": a.PlaceOfBirth, "countyOfBirth": a.CountyOfBirth,
		"gender": a.Gender, "email": a.Email, "mobilePhone": a.MobilePhone, "address": a.Address,
		"idCard": strings.Join([]string{d.Type, d.Number, d.Issuer, d.IssueDate, d.ExpiryDate}, " "),
	}
	for k, v := range attrs {
		if strings.TrimSpace(v) == "" {
			delete(attrs, k)
		}
	}
	canon, err := json.Marshal(struct {
		Code      string               `json:"code"`
		Type      string               `json:"identityType"`
		Applicant *enrolment.Applicant `json:"applicant"`
		Document  *enrolment.Document  `json:"document"`
		Consents  []enrolment.Consent  `json:"consents"`
	}{e.Code, e.IdentityType, a, d, r.Consents})
	if err != nil {
		return nil, signature.Issued{}, err
	}
	sum := sha256.Sum256(canon)
	var privacy, terms string
	for _, c := range r.Consents {
		switch c.Kind {
		case "privacy":
			privacy = c.Version
		case "terms":
			terms = c.Version
		}
	}
	form, err := signature.Form(signature.FormData{Code: enrolment.FormatCode(e.Code), Attributes: attrs,
		Declaration:  "Il richiedente dichiara che i dati sono veri (art. 76 DPR 445/2000). / The applicant declares the data true.",
		TermsVersion: terms, PrivacyVersion: privacy, RequestHash: hex.EncodeToString(sum[:]), IssuedAt: r.RequestSignedAt})
	if err != nil {
		return nil, signature.Issued{}, err
	}
	return form, signature.Issued{Form: form, IssuedAt: r.RequestSignedAt, FiscalCode: a.FiscalNumber}, nil
}

// form downloads the adhesion form of a signature-path request.
func (h *Handler) form(w http.ResponseWriter, r *http.Request) {
	_, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if e.Path != enrolment.PathSignature || enrolment.State(e.State) != enrolment.StateAwaitingRecognition {
		h.noRequest(w, r)
		return
	}
	form, _, err := IssuedForm(e, req)
	if err != nil {
		h.fail(w, r, "form", err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="richiesta-`+e.Code+`.pdf"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(form)
}

// signed verifies the uploaded signed form (CAdES or PAdES): on success
// the signed file and the report are kept as evidence and the request is
// recognised by the system; a refusal leaves the request unchanged and is
// audited with its check code.
func (h *Handler) signed(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxUpload+maxFormBytes)
	if err := r.ParseMultipartForm(maxFormBytes); err != nil {
		h.render(w, r, http.StatusRequestEntityTooLarge, templates.EnrolPage{Step: templates.EnrolStepMessage,
			Title: h.t(r, "File non accettato", "File not accepted"),
			Text:  h.t(r, "Il file firmato deve essere un .p7m o un .pdf di al massimo 10 MB.", "The signed file must be a .p7m or .pdf of at most 10 MB.")})
		return
	}
	defer r.MultipartForm.RemoveAll()
	st, e, req, ok := h.current(w, r)
	if !ok {
		return
	}
	if e.Path != enrolment.PathSignature || enrolment.State(e.State) != enrolment.StateAwaitingRecognition || h.Signature == nil {
		http.Redirect(w, r, PathDone, http.StatusSeeOther)
		return
	}
	p := h.page(st, e, templates.EnrolStepDone, "")
	p.FormURL, p.UploadAction = PathForm, PathSigned
	refuse := func(msg string, details map[string]string) {
		h.audit(r.Context(), "enrolment.signature", e.ID, details)
		p.Errors = []string{msg}
		h.render(w, r, http.StatusUnprocessableEntity, p)
	}
	// Like cards, refused files are limited per request: a signer cannot
	// try certificates or forgeries without end.
	if max := h.signatureMaxAttempts(); req.RefusedAttempts(enrolment.PathSignature) >= max {
		se := &signature.Error{Code: signature.CodeTooManyAttempts}
		h.audit(r.Context(), "enrolment.signature", e.ID, map[string]string{"error": se.Code, "detail": fmt.Sprintf("%d refused attempts", max)})
		p.Errors = []string{se.Message(lang(r))}
		h.render(w, r, http.StatusTooManyRequests, p)
		return
	}
	fhs := r.MultipartForm.File["signed"]
	if len(fhs) == 0 || fhs[0].Size == 0 {
		refuse(h.t(r, "Scegli il file firmato.", "Choose the signed file."), map[string]string{"error": "no file"})
		return
	}
	f, err := fhs[0].Open()
	if err != nil {
		h.fail(w, r, "signed", err)
		return
	}
	file, err := io.ReadAll(io.LimitReader(f, h.MaxUpload+1))
	f.Close()
	if err != nil {
		h.fail(w, r, "signed", err)
		return
	}
	if int64(len(file)) > h.MaxUpload {
		refuse(h.t(r, "Il file supera i 10 MB.", "The file is larger than 10 MB."), map[string]string{"error": "too large"})
		return
	}
	_, issued, err := IssuedForm(e, req)
	if err != nil {
		h.fail(w, r, "signed", err)
		return
	}
	var rep signature.Report
	if bytes.HasPrefix(file, []byte("%PDF")) {
		rep, err = h.Signature.VerifyPAdES(r.Context(), file, issued)
	} else {
		rep, err = h.Signature.VerifyCAdES(r.Context(), file, issued)
	}
	if err != nil {
		var se *signature.Error
		if errors.As(err, &se) {
			details := map[string]string{"error": se.Code, "detail": se.Detail}
			if n, aerr := h.Service.RecordAttempt(r.Context(), e.ID, enrolment.Attempt{Path: enrolment.PathSignature,
				Code: se.Code, Detail: se.Detail, IP: clientIP(r)}); aerr == nil {
				details["attempt"] = strconv.Itoa(n)
			}
			refuse(se.Message(lang(r)), details)
			return
		}
		h.fail(w, r, "signature", err)
		return
	}
	if msg := h.store(r, e.ID, evidence.KindAdhesionFormSigned, fhs[0]); msg != "" {
		refuse(msg, map[string]string{"error": "evidence"})
		return
	}
	repJSON, err := json.Marshal(rep)
	if err == nil {
		_, err = h.Service.Upload(r.Context(), e.ID, evidence.KindSignatureReport, "application/json", systemActor, bytes.NewReader(repJSON), 0)
	}
	if err != nil {
		h.fail(w, r, "signature report", err)
		return
	}
	checklist := map[string]bool{"signature_verified": true, "signer_fiscal_code_matches": true, "signed_content_is_issued_form": true}
	notRevoked(checklist, rep.Revocation)
	if _, err := h.Service.RecogniseChecked(r.Context(), e.ID, checklist, rep.Revocation); err != nil {
		p.Errors = problems(err)
		h.render(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	http.Redirect(w, r, PathDone, http.StatusSeeOther)
}

// cnsLink is the link to the CNS listener: a signed, encrypted capability
// naming the request, valid cnsLinkMaxAge, so the listener (another port,
// possibly another cookie scope) needs no cookie.
func (h *Handler) cnsLink(id, nonce string) (string, error) {
	sc := securecookie.New(derive(h.CookieKeys[0], "enrol-cns-mac"), derive(h.CookieKeys[0], "enrol-cns-enc"))
	sc.MaxAge(int(cnsLinkMaxAge / time.Second))
	tok, err := sc.Encode("cns", id+"|"+hashHex(nonce))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(h.CNSBase, "/") + PathCNS + "?t=" + url.QueryEscape(tok), nil
}

func (h *Handler) cnsRequest(tok string) (id, session string, ok bool) {
	for _, k := range h.CookieKeys {
		sc := securecookie.New(derive(k, "enrol-cns-mac"), derive(k, "enrol-cns-enc"))
		sc.MaxAge(int(cnsLinkMaxAge / time.Second))
		var v string
		if sc.Decode("cns", tok, &v) == nil {
			id, session, ok = strings.Cut(v, "|")
			return id, session, ok
		}
	}
	return "", "", false
}

// CNSHandler serves the CNS listener (a TLS server configured with
// cns.TLSConfig): the card's certificate is verified, its fiscal code must
// be the request's, and the request is recognised by the system with the
// certificate chain and the transaction log as evidence.
func (h *Handler) CNSHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET "+PathCNS, h.cnsRecognise)
	// The pages' own CSS and images, which the main listener serves
	// elsewhere (another origin from here).
	m.Handle("GET /static/", templates.Static())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// This listener sits outside the main server's middleware: the
		// same page-security headers (ui.md §11), and no request bodies.
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		r.Body = http.MaxBytesReader(w, r.Body, 0)
		m.ServeHTTP(w, r)
	})
}

func (h *Handler) cnsRecognise(w http.ResponseWriter, r *http.Request) {
	id, session, ok := h.cnsRequest(r.URL.Query().Get("t"))
	if !ok {
		h.message(w, r, http.StatusGone,
			[2]string{"Link non valido", "Il link è scaduto: torna alla pagina della richiesta e aprilo di nuovo."},
			[2]string{"Link not valid", "The link has expired: go back to the request page and open it again."})
		return
	}
	e, req, err := h.Service.Get(r.Context(), id)
	if err != nil {
		h.noRequest(w, r)
		return
	}
	p := templates.EnrolPage{Step: templates.EnrolStepRecognised, Code: enrolment.FormatCode(e.Code), Path: e.Path}
	if e.Path != enrolment.PathCNS || enrolment.State(e.State) != enrolment.StateAwaitingRecognition {
		h.render(w, r, http.StatusOK, p)
		return
	}
	refuse := func(err error) {
		details := map[string]string{"error": err.Error()}
		msg := h.t(r, "Il certificato non è stato accettato.", "The certificate was not accepted.")
		status := http.StatusForbidden
		var ce *cns.Error
		if errors.As(err, &ce) {
			details = map[string]string{"error": ce.Code, "detail": ce.Detail}
			msg = ce.Message(lang(r))
		}
		if ce == nil || ce.Code != cns.CodeTooManyAttempts {
			// Every refused card counts, another person's card included, and
			// is shown to the verifier.
			code, detail := details["error"], details["detail"]
			if n, aerr := h.Service.RecordAttempt(r.Context(), id, enrolment.Attempt{Path: enrolment.PathCNS, Code: code, Detail: detail, IP: clientIP(r)}); aerr == nil {
				details["attempt"] = strconv.Itoa(n)
			} else {
				h.Log.Error("cns attempt not recorded", "error", aerr)
			}
		} else {
			status = http.StatusTooManyRequests
		}
		h.audit(r.Context(), "enrolment.cns", id, details)
		p.Step, p.Title, p.Text = templates.EnrolStepMessage, h.t(r, "Riconoscimento non riuscito", "Recognition failed"), msg
		h.render(w, r, status, p)
	}
	if max := h.cnsMaxAttempts(); req.RefusedAttempts(enrolment.PathCNS) >= max {
		refuse(&cns.Error{Code: cns.CodeTooManyAttempts, Detail: fmt.Sprintf("%d refused attempts", max)})
		return
	}
	chain, err := cns.FromRequest(r)
	if err != nil {
		refuse(err)
		return
	}
	res, err := h.CNS.Verify(r.Context(), chain)
	if err != nil {
		refuse(err)
		return
	}
	if req.Applicant == nil {
		refuse(errors.New("no applicant"))
		return
	}
	if err := cns.Match(res, req.Applicant.FiscalNumber); err != nil {
		refuse(err)
		return
	}
	tx, err := json.Marshal(cns.NewTransaction(res, e.ID, session, clientIP(r), r.UserAgent(), time.Now()))
	if err == nil {
		_, err = h.Service.Upload(r.Context(), e.ID, evidence.KindCNSTransactionLog, "application/json", systemActor, bytes.NewReader(tx), 0)
	}
	if err == nil {
		_, err = h.Service.Upload(r.Context(), e.ID, evidence.KindClientCertificateChain, "application/x-pem-file", systemActor, bytes.NewReader(res.ChainPEM()), 0)
	}
	if err != nil {
		h.fail(w, r, "cns evidence", err)
		return
	}
	checklist := map[string]bool{"certificate_chain_verified": true, "fiscal_code_matches": true}
	notRevoked(checklist, res.Revocation)
	if _, err := h.Service.RecogniseChecked(r.Context(), e.ID, checklist, res.Revocation); err != nil {
		p.Step, p.Title, p.Text = templates.EnrolStepMessage, h.t(r, "Riconoscimento non riuscito", "Recognition failed"), strings.Join(problems(err), "; ")
		h.render(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	h.render(w, r, http.StatusOK, p)
}

// DefaultCNSMaxAttempts is the refused card attempts allowed per request
// when CNSMaxAttempts is not set.
const DefaultCNSMaxAttempts = 5

// DefaultSignatureMaxAttempts is the refused signed files allowed per
// request when SignatureMaxAttempts is not set.
const DefaultSignatureMaxAttempts = 5

func (h *Handler) signatureMaxAttempts() int {
	if h.SignatureMaxAttempts > 0 {
		return h.SignatureMaxAttempts
	}
	return DefaultSignatureMaxAttempts
}

func (h *Handler) cnsMaxAttempts() int {
	if h.CNSMaxAttempts > 0 {
		return h.CNSMaxAttempts
	}
	return DefaultCNSMaxAttempts
}

// notRevoked ticks certificate_not_revoked when every certificate's
// status was established; a soft-fail acceptance leaves it out, and the
// verifier sees the unchecked status with the recognition.
func notRevoked(checklist map[string]bool, status []revocation.Result) {
	if len(status) == 0 {
		return
	}
	for _, r := range status {
		if r.SoftFail {
			return
		}
	}
	checklist["certificate_not_revoked"] = true
}

// activate is the activation link (§7.1): SMS code to the verified
// mobile, then username and password (§7.2).
func (h *Handler) activate(w http.ResponseWriter, r *http.Request) {
	st, err := h.ensureState(w, r)
	if err != nil {
		h.fail(w, r, "activate", err)
		return
	}
	token := r.URL.Query().Get("token")
	p := templates.EnrolPage{Step: templates.EnrolStepActivate, Action: PathActivate + "?token=" + url.QueryEscape(token),
		CSRF: csrf.Token(h.csrf, st.Nonce), Values: map[string]string{}}
	linkGone := func() {
		h.message(w, r, http.StatusGone,
			[2]string{"Link non valido", "Il link di attivazione è scaduto o è già stato usato. Puoi chiederne uno nuovo con il codice della richiesta."},
			[2]string{"Link not valid", "The activation link has expired or was already used. You can ask for a new one with the request code."})
	}
	if r.Method != http.MethodPost {
		// Say at once when the link is used or expired, rather than after
		// the citizen has typed everything.
		if _, err := h.Service.Store.GetToken(r.Context(), enrolment.TokenHash(token), enrolment.PurposeActivate, time.Now()); err != nil {
			linkGone()
			return
		}
	} else {
		if !h.checkPost(r, st) {
			h.forbidden(w, r)
			return
		}
		p.Values["username"] = strings.TrimSpace(r.PostFormValue("username"))
		p.CodeSent = true
		if r.PostFormValue("op") == "resend" {
			if err := h.Service.SendActivationCode(r.Context(), token); errors.Is(err, enrolment.ErrLinkInvalid) {
				linkGone()
				return
			} else if err != nil {
				p.Errors = []string{h.t(r, "Non è stato possibile inviare il codice: riprova tra poco.", "The code could not be sent: try again shortly.")}
			} else {
				p.Notice = h.t(r, "Codice inviato.", "Code sent.")
			}
		} else if code := strings.TrimSpace(r.PostFormValue("otp")); r.PostFormValue("password") != r.PostFormValue("repeat") {
			// Checked before the code, which stays usable.
			p.Values["otp"] = code
			p.Errors = []string{h.t(r, "Le due password non coincidono: scrivi la stessa password nei due campi.",
				"The two passwords differ: enter the same password in both fields.")}
		} else {
			idn, err := h.Service.Activate(r.Context(), token, code, p.Values["username"], r.PostFormValue("password"))
			var ps identity.Problems
			switch {
			case err == nil:
				h.render(w, r, http.StatusOK, templates.EnrolPage{Step: templates.EnrolStepActivated,
					Values: map[string]string{"username": idn.Username}, LoginURL: h.LoginURL, AccountURL: h.AccountURL})
				return
			case errors.Is(err, enrolment.ErrLinkInvalid):
				linkGone()
				return
			case errors.As(err, &ps):
				p.Values["otp"] = code // not spent on a refused choice
				for _, pr := range ps {
					if m, ok := identity.PasswordMessage(lang(r), pr); ok {
						p.Errors = append(p.Errors, m)
					} else {
						p.Errors = append(p.Errors, localise(lang(r), pr))
					}
				}
			case isCodeError(err):
				p.Errors = []string{codeMessage(lang(r), err)}
			default:
				h.fail(w, r, "activate", err)
				return
			}
		}
	}
	h.render(w, r, statusFor(p), p)
}
