package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/places"
	"github.com/spid-idp/spid-idp/storage"
)

// maxSuggestions is how many places the data page's list shows at once.
const maxSuggestions = 12

// suggestPlaces answers the place-of-birth field (static/enrol.js): GET
// q (at least 2 characters) and optionally born (YYYY-MM-DD), whose date
// keeps only the names in use then; the answer is {"places": [{"label",
// "code", "province"}]}. The form works without it: the name typed is
// resolved on submission.
func (h *Handler) suggestPlaces(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	born := r.URL.Query().Get("born")
	if len(q) > 80 {
		http.Error(w, "too long", http.StatusBadRequest)
		return
	}
	if _, err := time.Parse(time.DateOnly, born); err != nil {
		born = ""
	}
	type suggestion struct {
		Label    string `json:"label"`
		Code     string `json:"code"`
		Province string `json:"province"`
	}
	out := []suggestion{}
	if t, err := places.Default(); err == nil && len([]rune(q)) >= 2 {
		for _, p := range t.Search(q, born, maxSuggestions) {
			out = append(out, suggestion{Label: p.Label(lang(r)), Code: p.Code, Province: p.Province})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"places": out})
}

// editable: the applicant may change the data of a draft, or of a
// rejected request being corrected.
func editable(e storage.Enrolment, req *enrolment.Request, now time.Time) bool {
	return enrolment.Editable(e, req, now)
}

func (h *Handler) now() time.Time { return time.Now() }
