// Package pos is the list of points of service where an applicant is
// recognised in person (enrolment-lifecycle.md §5.5, §5.6): partner shops
// and registration counters, each with its address, province and opening
// hours. The operator keeps the list in a CSV file
// (enrolment.points_of_service); the citizen's pages show it after
// submission and on the request's status page, searchable by province.
package pos

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Kinds of point, as the request's path names them.
const (
	Shop    = "shop"
	Counter = "counter"
)

// Point is one place where applicants are recognised.
type Point struct {
	Kind     string // Shop or Counter
	Name     string
	Address  string
	Province string // two-letter abbreviation
	Hours    string // opening hours, as the operator writes them
	HoursEN  string // the same for English pages; "": Hours
}

// header is the first line of the file; headerEN adds the hours' English
// text as a last column, optional so that older lists still load.
var (
	header   = []string{"kind", "name", "address", "province", "hours"}
	headerEN = append(slices.Clone(header), "hours_en")
)

// Parse reads the CSV list (header kind,name,address,province,hours, and
// optionally hours_en). It reports every problem, one per line of the file.
func Parse(r io.Reader) ([]Point, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("the first line must be %s: %w", strings.Join(header, ","), err)
	}
	for i := range head {
		head[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(head[i], "\ufeff")))
	}
	want := header
	if slices.Equal(head, headerEN) {
		want = headerEN
	} else if !slices.Equal(head, header) {
		return nil, fmt.Errorf("the first line must be %s (or with a last column hours_en)", strings.Join(header, ","))
	}
	var ps []Point
	var errs []error
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) != len(want) {
			errs = append(errs, fmt.Errorf("line %d: %d fields, want %d (%s)", line, len(rec), len(want), strings.Join(want, ",")))
			continue
		}
		p := Point{Kind: strings.ToLower(strings.TrimSpace(rec[0])), Name: strings.TrimSpace(rec[1]), Address: strings.TrimSpace(rec[2]),
			Province: strings.ToUpper(strings.TrimSpace(rec[3])), Hours: strings.TrimSpace(rec[4])}
		if len(want) == len(headerEN) {
			p.HoursEN = strings.TrimSpace(rec[5])
		}
		switch {
		case p.Kind != Shop && p.Kind != Counter:
			errs = append(errs, fmt.Errorf("line %d: kind must be shop or counter, got %q", line, rec[0]))
		case p.Name == "" || p.Address == "":
			errs = append(errs, fmt.Errorf("line %d: name and address are required", line))
		case len(p.Province) != 2 || strings.Trim(p.Province, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
			errs = append(errs, fmt.Errorf("line %d: province must be two letters such as RM, got %q", line, rec[3]))
		default:
			ps = append(ps, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ps, nil
}

// Load reads the list from file.
func Load(file string) ([]Point, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Find returns the points of kind (every kind when "") in province
// (every province when ""), by province then name.
func Find(ps []Point, kind, province string) []Point {
	province = strings.ToUpper(strings.TrimSpace(province))
	var out []Point
	for _, p := range ps {
		if (kind == "" || p.Kind == kind) && (province == "" || p.Province == province) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Point) int {
		if c := strings.Compare(a.Province, b.Province); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Provinces lists the provinces that have a point of kind, sorted.
func Provinces(ps []Point, kind string) []string {
	var out []string
	for _, p := range ps {
		if (kind == "" || p.Kind == kind) && !slices.Contains(out, p.Province) {
			out = append(out, p.Province)
		}
	}
	slices.Sort(out)
	return out
}
