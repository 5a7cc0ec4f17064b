// Package places is the table of places of birth a codice fiscale and the
// placeOfBirth attribute name by cadastral (Belfiore) code: every Italian
// municipality, including the suppressed and merged ones with the dates
// each name was valid, and the foreign states (Z codes). The table is
// built from the public national code lists (see Source) and embedded in
// the binary, so an enrolment form can turn "Roma" into H501 (RM) and an
// old birth in a municipality merged since still resolves.
package places

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Kinds of place.
const (
	Municipality = "C" // comune
	State        = "S" // foreign state
)

// Abroad is the province attribute of a birth abroad (countyOfBirth EE).
const Abroad = "EE"

// Place is one name a cadastral code had over a span of time.
type Place struct {
	Kind     string // Municipality or State
	Code     string // Belfiore code: H501, Z404
	Name     string // Italian name, as written: "Figline Valdarno"
	AltName  string // the name in the other official language, or the English name of a state
	Province string // two-letter abbreviation; Abroad for a state
	From, To string // YYYY-MM-DD; To "" while the name is in use
}

// Current reports whether the name is still in use.
func (p Place) Current() bool { return p.To == "" }

// ValidOn reports whether the name was in use on day (YYYY-MM-DD); an
// empty day matches every place.
func (p Place) ValidOn(day string) bool {
	if day == "" {
		return true
	}
	return (p.From == "" || p.From <= day) && (p.To == "" || day <= p.To)
}

// Label is what a person picks: "Roma (RM)", "Francia (estero)" in
// Italian, "France (abroad)" in English.
func (p Place) Label(lang string) string {
	if p.Kind == State {
		name := p.Name
		if lang == "en" && p.AltName != "" {
			name = p.AltName
		}
		if lang == "en" {
			return name + " (abroad)"
		}
		return name + " (estero)"
	}
	return p.Name + " (" + p.Province + ")"
}

// Table is a loaded set of places with the source it was built from.
type Table struct {
	// Source says which lists, of which date, the table was built from.
	Source []string
	places []Place
	byCode map[string][]int
}

//go:embed data/places.tsv.gz
var embedded []byte

var (
	defaultOnce  sync.Once
	defaultTable *Table
	defaultErr   error
)

// Default is the embedded table, parsed on first use.
func Default() (*Table, error) {
	defaultOnce.Do(func() { defaultTable, defaultErr = Read(bytes.NewReader(embedded)) })
	return defaultTable, defaultErr
}

// Read parses a table written by Write (gzip'd TSV: "#" lines carry the
// source, then kind, code, name, alt name, province, from, to).
func Read(r io.Reader) (*Table, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	defer zr.Close()
	t := &Table{byCode: map[string][]int{}}
	sc := bufio.NewScanner(zr)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" {
			continue
		}
		if src, ok := strings.CutPrefix(s, "#"); ok {
			if src = strings.TrimSpace(src); src != "" {
				t.Source = append(t.Source, src)
			}
			continue
		}
		f := strings.Split(s, "\t")
		if len(f) != 7 || (f[0] != Municipality && f[0] != State) || len(f[1]) != 4 {
			return nil, fmt.Errorf("places: line %d is not kind, code, name, alt name, province, from, to", line)
		}
		t.add(Place{Kind: f[0], Code: f[1], Name: f[2], AltName: f[3], Province: f[4], From: f[5], To: f[6]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	if len(t.places) == 0 {
		return nil, errors.New("places: the table is empty")
	}
	return t, nil
}

func (t *Table) add(p Place) {
	t.byCode[p.Code] = append(t.byCode[p.Code], len(t.places))
	t.places = append(t.places, p)
}

// Len is the number of names in the table.
func (t *Table) Len() int { return len(t.places) }

// Lookup returns the name code had on day (YYYY-MM-DD; "" for the latest),
// and whether the code is known at all. A code known but not on that day
// gives its nearest name (a birth registered under a code shortly before
// or after a change of name is still that place).
func (t *Table) Lookup(code, day string) (Place, bool) {
	idx := t.byCode[strings.ToUpper(strings.TrimSpace(code))]
	if len(idx) == 0 {
		return Place{}, false
	}
	best := t.places[idx[0]]
	for _, i := range idx {
		p := t.places[i]
		if day != "" && p.ValidOn(day) {
			return p, true
		}
		if later(p, best) {
			best = p
		}
	}
	return best, true
}

// later orders the names of a code: the current one, else the one that
// ended last.
func later(a, b Place) bool {
	if a.To == "" || b.To == "" {
		return a.To == "" && b.To != ""
	}
	return a.To > b.To
}

// Search returns up to limit places whose name (or other name) starts
// with q, or contains it as a word, ignoring case, accents and
// punctuation; with day, only the names in use on that day. Exact names
// come first, then names in use today, then the rest alphabetically.
func (t *Table) Search(q, day string, limit int) []Place {
	key := Fold(q)
	if key == "" || limit <= 0 {
		return nil
	}
	type hit struct {
		p    Place
		rank int
	}
	var hits []hit
	for _, p := range t.places {
		if !p.ValidOn(day) {
			continue
		}
		r := matchRank(key, Fold(p.Name))
		if p.AltName != "" {
			r = min(r, matchRank(key, Fold(p.AltName)))
		}
		if r < 0 || r > 2 {
			continue
		}
		if !p.Current() {
			r += 3
		}
		hits = append(hits, hit{p, r})
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.p.Name, b.p.Name)
	})
	out := make([]Place, 0, min(limit, len(hits)))
	seen := map[string]bool{}
	for _, h := range hits {
		// One suggestion per code: its best-ranked name (the current
		// one, unless the day picked an older one).
		if seen[h.p.Code] {
			continue
		}
		seen[h.p.Code] = true
		out = append(out, h.p)
		if len(out) == limit {
			break
		}
	}
	return out
}

// matchRank: 0 the same name, 1 a prefix, 2 a word inside; 3 no match.
func matchRank(key, name string) int {
	switch {
	case name == key:
		return 0
	case strings.HasPrefix(name, key):
		return 1
	case strings.Contains(" "+name, " "+key):
		return 2
	}
	return 3
}

// ErrUnknown: no place has that name (on that day).
var ErrUnknown = errors.New("places: no place with that name")

// Ambiguous is returned by Resolve when several places have the name.
type Ambiguous struct{ Candidates []Place }

func (a *Ambiguous) Error() string {
	return fmt.Sprintf("places: %d places have that name", len(a.Candidates))
}

// Resolve turns what a person typed into one place: a cadastral code
// ("H501"), a label as Label writes it ("Roma (RM)", "Francia (estero)")
// or a bare name ("Roma"). day (the birth date) picks the name in use
// then. ErrUnknown when nothing matches; *Ambiguous with the candidates
// when several do.
func (t *Table) Resolve(text, day string) (Place, error) {
	text = strings.TrimSpace(text)
	if len(text) == 4 && unicode.IsLetter(rune(text[0])) && strings.Trim(text[1:], "0123456789") == "" {
		if p, ok := t.Lookup(text, day); ok {
			return p, nil
		}
		return Place{}, ErrUnknown
	}
	name, qual := text, ""
	if i := strings.LastIndexByte(text, '('); i > 0 && strings.HasSuffix(text, ")") {
		name, qual = strings.TrimSpace(text[:i]), strings.ToUpper(strings.TrimSpace(text[i+1:len(text)-1]))
	}
	key := Fold(name)
	var found []Place
	seen := map[string]int{} // code -> index in found: one place per code, its latest name
	for _, pass := range []string{day, ""} {
		for _, p := range t.places {
			if !p.ValidOn(pass) || (Fold(p.Name) != key && (p.AltName == "" || Fold(p.AltName) != key)) {
				continue
			}
			if qual != "" && qual != p.Province && !(p.Kind == State && (qual == "ESTERO" || qual == "ABROAD" || qual == Abroad)) {
				continue
			}
			if i, ok := seen[p.Code]; !ok {
				seen[p.Code] = len(found)
				found = append(found, p)
			} else if later(p, found[i]) {
				found[i] = p
			}
		}
		if len(found) > 0 || day == "" {
			break
		}
	}
	switch len(found) {
	case 0:
		return Place{}, ErrUnknown
	case 1:
		return found[0], nil
	}
	return Place{}, &Ambiguous{Candidates: found}
}

// Fold is the form names are compared in: upper case, no accents, every
// run of punctuation and space one space ("Sant'Angelo" = "SANT ANGELO").
func Fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToUpper(r))
		default:
			space = true
		}
	}
	return b.String()
}
