package web

import (
	"errors"
	"strings"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/templates"
)

// fieldLabel is the catalogue key of the form label of each field the
// Service names in its problems, so a message names the field as the
// page does.
var fieldLabel = map[string]string{
	"name": "enrol.f.name", "familyName": "enrol.f.family_name", "fiscalNumber": "enrol.f.fiscal_number",
	"dateOfBirth": "enrol.f.date_of_birth", "placeOfBirth": "enrolform.place.name", "countyOfBirth": "enrolform.place.province",
	"gender": "enrol.f.gender", "email": "enrol.f.email", "mobilePhone": "enrol.f.mobile_phone", "address": "enrol.f.address",
	"ivaCode": "enrol.f.iva_code", "idCard": "enrol.f.doc_type",
}

// citizen turns a Service problem ("field: rule") into a sentence for the
// applicant in lang: what is wrong and how to put it right, naming the
// field as the form does. The rule text never reaches the page.
func citizen(lang, problem string) string {
	field, text, _ := strings.Cut(problem, ": ")
	tx := func(key string, args ...string) string { return templates.Text(lang, key, args...) }
	label := field
	if k, ok := fieldLabel[field]; ok {
		label = tx(k)
	}
	switch {
	case text == "required" && field == "idCard":
		return tx("enrolform.err.required", "field", tx("enrol.f.doc_type"))
	case text == "required":
		return tx("enrolform.err.required", "field", label)
	case field == "dateOfBirth" && strings.Contains(text, "years old"):
		return tx("enrolform.err.adult")
	case field == "idCard" && strings.Contains(text, "has expired"):
		return tx("enrolform.err.doc.expired")
	case field == "idCard" && strings.Contains(text, "issue date is in the future"):
		return tx("enrolform.err.doc.future")
	case field == "idCard" && strings.Contains(text, "expires before"):
		return tx("enrolform.err.doc.order")
	case field == "name" || field == "familyName":
		return tx("enrolform.err.name", "field", label)
	case field == "privacy", field == "terms", field == "declaration":
		return tx("enrolform.err." + field)
	case field == "identity type":
		return tx("enrolform.err.type")
	case field == "path":
		return tx("enrolform.err.path")
	}
	if templates.HasText("enrolform.err." + field) {
		return tx("enrolform.err." + field)
	}
	if strings.Contains(problem, "recording consent") {
		return tx("enrolform.err.video")
	}
	if _, ok := fieldLabel[field]; ok {
		return tx("enrolform.err.other", "field", label)
	}
	// Activation (username, password) keeps its own translations.
	return localise(lang, problem)
}

func citizenAll(lang string, ps []string) []string {
	out := make([]string, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		if m := citizen(lang, p); !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// inUse explains a duplicate found at the data step, with where to go.
func (h *Handler) inUse(lang string, err error) (string, templates.EnrolLink, bool) {
	var u *enrolment.InUse
	if !errors.As(err, &u) {
		return "", templates.EnrolLink{}, false
	}
	tx := func(key string, args ...string) string { return templates.Text(lang, key, args...) }
	switch {
	case u.Field == "fiscalNumber" && u.Identity:
		return tx("enrolform.inuse.identity"), templates.EnrolLink{Href: PathRecover, Text: tx("enrolform.inuse.identity.link")}, true
	case u.Field == "fiscalNumber":
		return tx("enrolform.inuse.request", "code", enrolment.FormatCode(u.Code)),
			templates.EnrolLink{Href: PathStatus, Text: tx("enrolform.inuse.request.link")}, true
	}
	return tx("enrolform.inuse." + u.Field), templates.EnrolLink{Href: PathRecover, Text: tx("enrolform.inuse.contact.link")}, true
}
