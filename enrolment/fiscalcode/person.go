package fiscalcode

import (
	"fmt"
	"strings"
	"time"
)

// Mismatch codes of spec §4.5, one per applicant field. CodeMismatchCounty is
// ours: spec E012 requires countyOfBirth = EE exactly when the place is foreign.
const (
	CodeMismatchFamilyName   = "cf.mismatch.familyName"
	CodeMismatchName         = "cf.mismatch.name"
	CodeMismatchDateOfBirth  = "cf.mismatch.dateOfBirth"
	CodeMismatchGender       = "cf.mismatch.gender"
	CodeMismatchPlaceOfBirth = "cf.mismatch.placeOfBirth"
	CodeMismatchCounty       = "cf.mismatch.countyOfBirth"
)

// ForeignCounty is the countyOfBirth of people born abroad (spec §3.2).
const ForeignCounty = "EE"

// Person is the applicant data a fiscal code must agree with (spec §4.4).
type Person struct {
	Name, FamilyName string
	// DateOfBirth is a civil date; its Date() in its own location is used.
	DateOfBirth time.Time
	Gender      string // "M" or "F"
	// PlaceOfBirth is the Belfiore code, e.g. H501 or Z404.
	PlaceOfBirth string
	// CountyOfBirth is the two-letter province, EE when born abroad. Empty
	// means not collected, and then it is not checked.
	CountyOfBirth string
}

// Mismatch is one applicant field that disagrees with the fiscal code. It is
// also an error, so a caller may return it directly.
type Mismatch struct {
	// Field is the SPID attribute name: familyName, name, dateOfBirth,
	// gender, placeOfBirth, countyOfBirth; fiscalNumber when the code itself
	// is invalid (then Code is the §4.5 code of that defect).
	Field string
	Code  string
	// Want is what the applicant's data gives (e.g. "RSS", "80A01", "M");
	// Got is the matching part of the code (decoded).
	Want, Got string

	cause Error // set when Field is fiscalNumber
}

func (m Mismatch) Error() string { return m.Code + ": " + m.Message("en") }

// Message is the text for the applicant, naming the field: Italian unless
// lang is "en".
func (m Mismatch) Message(lang string) string {
	if m.cause != nil {
		return m.cause.Message(lang)
	}
	switch m.Field {
	case "familyName":
		return pick(lang, "Il cognome non corrisponde al codice fiscale.", "The surname does not match the fiscal code.")
	case "name":
		return pick(lang, "Il nome non corrisponde al codice fiscale.", "The first name does not match the fiscal code.")
	case "dateOfBirth":
		return pick(lang, "La data di nascita non corrisponde al codice fiscale.", "The date of birth does not match the fiscal code.")
	case "gender":
		return pick(lang, "Il sesso non corrisponde al codice fiscale.", "The sex does not match the fiscal code.")
	case "placeOfBirth":
		return pick(lang, "Il luogo di nascita non corrisponde al codice fiscale.", "The place of birth does not match the fiscal code.")
	case "countyOfBirth":
		return pick(lang,
			"La provincia di nascita non è coerente con il luogo: EE solo per i nati all'estero.",
			"The county of birth does not fit the place: EE only for people born abroad.")
	}
	return pick(lang, "Il dato non corrisponde al codice fiscale.", "The data does not match the fiscal code.")
}

// CheckAgainst compares cf with the applicant's data and returns every
// disagreement, all together (spec §4.4, E007). An invalid cf is never
// reported as consistent: each of its defects comes back as a Mismatch on
// the field fiscalNumber.
func CheckAgainst(cf string, p Person) []Mismatch {
	c, err := Parse(cf)
	if err != nil {
		var out []Mismatch
		if es, ok := err.(Errors); ok {
			for _, e := range es {
				out = append(out, Mismatch{Field: "fiscalNumber", Code: e.Code(), cause: e})
			}
		}
		return out
	}
	return c.Mismatches(p)
}

// Mismatches compares a parsed code with the applicant's data.
func (c Code) Mismatches(p Person) []Mismatch {
	var out []Mismatch
	add := func(field, code, want, got string) {
		if want != got {
			out = append(out, Mismatch{Field: field, Code: code, Want: want, Got: got})
		}
	}
	add("familyName", CodeMismatchFamilyName, SurnameLetters(p.FamilyName), c.Surname3)
	add("name", CodeMismatchName, NameLetters(p.Name), c.Name3)

	// Two year digits, month letter, day: the code's own notation on both
	// sides, without the +40 that belongs to the sex check.
	cy, cm, cd := c.BirthDate.Date()
	got := fmt.Sprintf("%02d%c%02d", cy%100, monthLetters[cm-1], cd)
	want := "?"
	if !p.DateOfBirth.IsZero() {
		py, pm, pd := p.DateOfBirth.Date()
		want = fmt.Sprintf("%02d%c%02d", py%100, monthLetters[pm-1], pd)
	}
	add("dateOfBirth", CodeMismatchDateOfBirth, want, got)

	sex := "M"
	if c.Female {
		sex = "F"
	}
	add("gender", CodeMismatchGender, strings.ToUpper(strings.TrimSpace(p.Gender)), sex)
	add("placeOfBirth", CodeMismatchPlaceOfBirth, strings.ToUpper(strings.TrimSpace(p.PlaceOfBirth)), c.Place)

	if county := strings.ToUpper(strings.TrimSpace(p.CountyOfBirth)); county != "" {
		if (county == ForeignCounty) != c.Foreign() {
			out = append(out, Mismatch{Field: "countyOfBirth", Code: CodeMismatchCounty, Want: county, Got: c.Place})
		}
	}
	return out
}

// SurnameLetters returns the three surname letters of a fiscal code: the
// consonants in order, then the vowels, padded with X (spec §4.1).
func SurnameLetters(surname string) string {
	cons, vows := split(surname)
	return first3(cons + vows)
}

// NameLetters returns the three name letters: with four or more consonants
// the 1st, 3rd and 4th; otherwise as for the surname.
func NameLetters(name string) string {
	cons, vows := split(name)
	if len(cons) >= 4 {
		return string([]byte{cons[0], cons[2], cons[3]})
	}
	return first3(cons + vows)
}

func first3(s string) string { return (s + "XXX")[:3] }

// split folds diacritics, drops everything that is not a letter A–Z
// (apostrophes, spaces, hyphens) and separates consonants from vowels. Y
// counts as a consonant, as in the Agenzia delle Entrate rule.
func split(s string) (cons, vows string) {
	var c, v strings.Builder
	for _, r := range strings.ToUpper(s) {
		for _, b := range []byte(fold(r)) {
			switch b {
			case 'A', 'E', 'I', 'O', 'U':
				v.WriteByte(b)
			default:
				if b >= 'A' && b <= 'Z' {
					c.WriteByte(b)
				}
			}
		}
	}
	return c.String(), v.String()
}

// Compute builds the fiscal code the Agenzia delle Entrate would issue first
// for p (no omocodia). It serves the demo data and tests of other packages;
// enrolment validates the code the applicant gives, it never computes one for
// them, since the issued code is authoritative (spec §4.4).
func Compute(p Person) (string, error) {
	place := strings.ToUpper(strings.TrimSpace(p.PlaceOfBirth))
	if len(place) != 4 || place[0] < 'A' || place[0] > 'Z' {
		return "", fmt.Errorf("fiscalcode: place of birth %q is not a Belfiore code", p.PlaceOfBirth)
	}
	for i := 1; i < 4; i++ {
		if place[i] < '0' || place[i] > '9' {
			return "", fmt.Errorf("fiscalcode: place of birth %q is not a Belfiore code", p.PlaceOfBirth)
		}
	}
	if p.DateOfBirth.IsZero() {
		return "", fmt.Errorf("fiscalcode: no date of birth")
	}
	y, m, d := p.DateOfBirth.Date()
	switch strings.ToUpper(strings.TrimSpace(p.Gender)) {
	case "M":
	case "F":
		d += 40
	default:
		return "", fmt.Errorf("fiscalcode: gender %q is not M or F", p.Gender)
	}
	s := fmt.Sprintf("%s%s%02d%c%02d%s", SurnameLetters(p.FamilyName), NameLetters(p.Name), y%100, monthLetters[m-1], d, place)
	c, _ := CheckChar(s)
	return s + string(c), nil
}
