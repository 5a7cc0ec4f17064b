package places

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// The lists the table is built from, as published.
//
// Municipalities: the ANPR archive of Italian municipalities (Ministero
// dell'Interno, CC BY 4.0), one CSV row per administrative span of a
// municipality, with the columns DATAISTITUZIONE, DATACESSAZIONE,
// CODCATASTALE, DENOMINAZIONE_IT, ALTRADENOMINAZIONE, SIGLAPROVINCIA.
//
// Foreign states: the ANPR table of foreign states (tab_Stati_Esteri)
// saved as CSV, with the columns DENOMINAZIONEISTAT (or DENOMINAZIONE),
// DENOMINAZIONEISTAT_EN, DATAINIZIOVALIDITA, DATAFINEVALIDITA (dd/mm/yyyy)
// and CODAT (the Z code the Agenzia delle Entrate assigned).

// FromANPR builds the places from the two lists. Consecutive spans of a
// code with the same name and province become one place.
func FromANPR(municipalities, states io.Reader) ([]Place, error) {
	var out []Place
	ms, err := readCSV(municipalities, "DATAISTITUZIONE", "DATACESSAZIONE", "CODCATASTALE", "DENOMINAZIONE_IT", "ALTRADENOMINAZIONE", "SIGLAPROVINCIA")
	if err != nil {
		return nil, fmt.Errorf("places: municipalities: %w", err)
	}
	for _, r := range ms {
		p := Place{Kind: Municipality, Code: strings.ToUpper(r[2]), Name: nameCase(r[3]), AltName: nameCase(r[4]),
			Province: strings.ToUpper(r[5]), From: r[0], To: openEnd(r[1])}
		if len(p.Code) != 4 || p.Name == "" {
			continue
		}
		out = append(out, p)
	}
	if states != nil {
		ss, err := readCSV(states, "DENOMINAZIONEISTAT|DENOMINAZIONE", "DENOMINAZIONEISTAT_EN", "DATAINIZIOVALIDITA", "DATAFINEVALIDITA", "CODAT")
		if err != nil {
			return nil, fmt.Errorf("places: states: %w", err)
		}
		for _, r := range ss {
			code := strings.ToUpper(strings.TrimSpace(r[4]))
			if len(code) != 4 || code[0] != 'Z' || strings.TrimSpace(r[0]) == "" {
				continue // Italy itself, stateless, "not attributable": no Z code
			}
			out = append(out, Place{Kind: State, Code: code, Name: nameCase(r[0]), AltName: strings.TrimSpace(r[1]),
				Province: Abroad, From: isoDate(r[2]), To: openEnd(isoDate(r[3]))})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("places: the lists hold no place")
	}
	return merge(out), nil
}

// merge joins the spans of one code that differ only in dates.
func merge(ps []Place) []Place {
	slices.SortStableFunc(ps, func(a, b Place) int {
		if c := strings.Compare(a.Kind+a.Code, b.Kind+b.Code); c != 0 {
			return c
		}
		return strings.Compare(a.From, b.From)
	})
	var out []Place
	for _, p := range ps {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Kind == p.Kind && last.Code == p.Code && last.Name == p.Name && last.Province == p.Province && last.AltName == p.AltName {
				if p.To == "" || (last.To != "" && p.To > last.To) {
					last.To = p.To
				}
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// Write stores places as Read reads them, source lines first.
func Write(w io.Writer, source []string, ps []Place) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	for _, s := range source {
		if strings.ContainsAny(s, "\r\n") {
			return errors.New("places: a source line has a line break")
		}
		fmt.Fprintf(zw, "# %s\n", s)
	}
	for _, p := range ps {
		f := []string{p.Kind, p.Code, p.Name, p.AltName, p.Province, p.From, p.To}
		for _, v := range f {
			if strings.ContainsAny(v, "\t\r\n") {
				return fmt.Errorf("places: %s has a tab or line break", p.Code)
			}
		}
		if _, err := io.WriteString(zw, strings.Join(f, "\t")+"\n"); err != nil {
			return err
		}
	}
	return zw.Close()
}

// readCSV returns the named columns of every row; a name may list
// alternatives with "|".
func readCSV(r io.Reader, cols ...string) ([][]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for _, alt := range strings.Split(c, "|") {
			for j, h := range head {
				if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), alt) && idx[i] < 0 {
					idx[i] = j
				}
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("no column %s", c)
		}
	}
	var out [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, j := range idx {
			if j < len(rec) {
				row[i] = strings.TrimSpace(rec[j])
			}
		}
		out = append(out, row)
	}
}

// openEnd: the lists mark "still valid" with 9999-12-31.
func openEnd(d string) string {
	if strings.HasPrefix(d, "9999") {
		return ""
	}
	return d
}

// isoDate turns dd/mm/yyyy into yyyy-mm-dd; other forms are kept.
func isoDate(d string) string {
	d = strings.TrimSpace(d)
	if len(d) == 10 && d[2] == '/' && d[5] == '/' {
		return d[6:] + "-" + d[3:5] + "-" + d[:2]
	}
	return d
}

// small words stay lower case inside a name ("San Giovanni in Fiore").
var small = map[string]bool{"a": true, "ad": true, "al": true, "alla": true, "alle": true, "allo": true, "ai": true, "agli": true,
	"con": true, "d": true, "da": true, "dal": true, "dalla": true, "dai": true, "de": true, "dei": true, "del": true, "della": true,
	"delle": true, "dello": true, "degli": true, "di": true, "e": true, "ed": true, "il": true, "in": true, "la": true, "le": true,
	"lo": true, "gli": true, "nel": true, "nell": true, "nella": true, "sul": true, "sull": true, "sulla": true, "sui": true, "sugli": true,
	"su": true, "all": true, "dell": true}

// nameCase writes an upper-case official name the way it is read: each
// word capitalised, small words inside in lower case.
func nameCase(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ToUpper(s) != s {
		return s // already mixed case
	}
	rs := []rune(strings.ToLower(s))
	start, word := 0, true
	for i := 0; i <= len(rs); i++ {
		if i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])) {
			if word {
				start, word = i, false
			}
			continue
		}
		if !word {
			w := string(rs[start:i])
			if start == 0 || !small[w] || (i < len(rs) && rs[i] == '-') {
				rs[start] = unicode.ToUpper(rs[start])
			}
			word = true
		}
	}
	return string(rs)
}
