package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
)

// PathCheckCF answers the data page's live check (static/enrol.js).
const PathCheckCF = "/enrol/check-cf"

// cfFindings checks the fiscal code (§4) and, when it is valid and the
// data are there, its consistency with name, surname, birth date, sex and
// place. It returns the applicant's messages in lang and the Service's
// problem texts they stand for (so the form shows each defect once, in
// the page's language).
func cfFindings(lang string, v map[string]string) (msgs []string, replaces map[string]bool) {
	replaces = map[string]bool{}
	cf := fiscalcode.Normalise(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(v["fiscal_number"])), "TINIT-"))
	if cf == "" {
		return nil, replaces
	}
	if err := fiscalcode.Validate(cf); err != nil {
		// Every defect found, each with its own §4 message.
		var es fiscalcode.Errors
		var fe fiscalcode.Error
		if errors.As(err, &es) {
			for _, e := range es {
				msgs = append(msgs, pick(lang, "Codice fiscale: ", "Fiscal code: ")+e.Message(lang))
			}
		} else if errors.As(err, &fe) {
			msgs = append(msgs, pick(lang, "Codice fiscale: ", "Fiscal code: ")+fe.Message(lang))
		} else {
			msgs = append(msgs, pick(lang, "Codice fiscale non valido.", "Invalid fiscal code."))
		}
		replaces["fiscalNumber: "+err.Error()] = true
		return msgs, replaces
	}
	birth, err := time.ParseInLocation(time.DateOnly, v["date_of_birth"], rome)
	if err != nil || v["name"] == "" || v["family_name"] == "" {
		return nil, replaces
	}
	for _, m := range fiscalcode.CheckAgainst(cf, fiscalcode.Person{Name: v["name"], FamilyName: v["family_name"],
		DateOfBirth: birth, Gender: strings.ToUpper(v["gender"]), PlaceOfBirth: strings.ToUpper(v["place_of_birth"]),
		CountyOfBirth: strings.ToUpper(v["county_of_birth"])}) {
		msgs = append(msgs, m.Message(lang))
		replaces[m.Field+": "+m.Error()] = true
	}
	return msgs, replaces
}

func pick(lang, it, en string) string {
	if lang == "en" {
		return en
	}
	return it
}

var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return l
}()

// checkCF is the live check: GET with the form's fields as query
// parameters; the answer is {"messages": [...]} (empty when all is well).
// It reveals nothing the applicant did not type.
func (h *Handler) checkCF(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := map[string]string{}
	for _, f := range []string{"fiscal_number", "name", "family_name", "date_of_birth", "gender", "place_of_birth", "county_of_birth"} {
		v[f] = strings.TrimSpace(q.Get(f))
		if len(v[f]) > 200 {
			http.Error(w, "too long", http.StatusBadRequest)
			return
		}
	}
	msgs, _ := cfFindings(lang(r), v)
	if msgs == nil {
		msgs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string][]string{"messages": msgs})
}
