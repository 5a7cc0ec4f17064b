// Package fiscalcode validates Italian fiscal codes (codice fiscale) and VAT
// numbers (partita IVA) as spec enrolment-lifecycle.md §4 describes: the
// structure, omocodia substitutes, the check character, and the consistency
// of the code with the applicant's name, surname, birth date, sex and place.
//
// The Belfiore place code is checked for its shape only; whether it names a
// real municipality or state is the verifier's call (spec §3.2).
package fiscalcode

import (
	"strings"
	"time"
	_ "time/tzdata" // century resolution uses the Italian date even on hosts without tzdata
	"unicode/utf8"
)

// Length is the length of a personal fiscal code.
const Length = 16

// Code is a parsed fiscal code.
type Code struct {
	// Normalised is the code as written, trimmed and upper-cased. Omocodic
	// codes stay omocodic: the substitute letters are part of the person's code.
	Normalised string
	// Decoded is Normalised with the omocodia letters at positions 7, 8, 10,
	// 11, 13, 14, 15 turned back into digits (the check character is kept).
	Decoded  string
	Surname3 string // positions 1–3
	Name3    string // positions 4–6
	// BirthDate is the date in the code at 00:00 UTC. The code holds only two
	// year digits: the century is the most recent one that does not put the
	// birth after today in Italy (so ages resolve to 0–99 years). The full
	// year of the applicant's dateOfBirth is authoritative; CheckAgainst
	// compares only the two digits.
	BirthDate time.Time
	Female    bool
	// Place is the Belfiore code (positions 12–15) after omocodia decoding,
	// e.g. H501; a leading Z marks a foreign state.
	Place string
	// Omocode reports whether any omocodia letter was used.
	Omocode bool
}

// Foreign reports whether the code's place is a foreign state (Z + 3 digits).
func (c Code) Foreign() bool { return strings.HasPrefix(c.Place, "Z") }

// monthLetters maps January…December, in order.
const monthLetters = "ABCDEHLMPRST"

// omocodiaLetters substitute the digits 0…9, in order.
const omocodiaLetters = "LMNPQRSTUV"

// digitPos marks the 0-based positions that hold digits, possibly replaced
// by omocodia letters (1-based 7, 8, 10, 11, 13, 14, 15).
var digitPos = [Length]bool{6: true, 7: true, 9: true, 10: true, 12: true, 13: true, 14: true}

// Odd-position values of the check-character algorithm (spec §4.2), for
// digits 0–9 and letters A–Z.
var (
	oddDigit  = [10]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21}
	oddLetter = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}
)

var rome = mustRome()

func mustRome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil { // unreachable: time/tzdata is embedded
		return time.UTC
	}
	return loc
}

// Normalise trims the input and upper-cases ASCII letters (spec §4.1).
func Normalise(cf string) string {
	return strings.ToUpper(strings.TrimSpace(cf))
}

// CheckChar returns the check character for the first 15 characters of a
// normalised code. ok is false when s is shorter than 15 characters or any of
// them is outside A–Z0–9.
func CheckChar(s string) (c byte, ok bool) {
	if len(s) < Length-1 {
		return 0, false
	}
	sum := 0
	for i := 0; i < Length-1; i++ {
		ch := s[i]
		var odd, even int
		switch {
		case ch >= '0' && ch <= '9':
			odd, even = oddDigit[ch-'0'], int(ch-'0')
		case ch >= 'A' && ch <= 'Z':
			odd, even = oddLetter[ch-'A'], int(ch-'A')
		default:
			return 0, false
		}
		// Position i+1 is odd when i is even.
		if i%2 == 0 {
			sum += odd
		} else {
			sum += even
		}
	}
	return byte('A' + sum%26), true
}

// Validate reports every defect of cf as an Errors value, or nil.
func Validate(cf string) error {
	_, err := Parse(cf)
	return err
}

// Parse validates cf and returns its fields. On failure the error is an
// Errors value holding every defect found; Code is then zero.
func Parse(cf string) (Code, error) {
	return ParseAt(cf, time.Now())
}

// ParseAt is Parse with the century resolved against now instead of the clock.
func ParseAt(cf string, now time.Time) (Code, error) {
	s := Normalise(cf)
	var errs Errors

	// Charset first, over runes so that a stray "à" is named as itself.
	pos := 0
	for _, r := range s {
		pos++
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			errs = append(errs, CharsetError{Position: pos, Char: r})
		}
	}
	if n := utf8.RuneCountInString(s); n != Length {
		errs = append(errs, LengthError{Length: n})
	}
	if len(errs) > 0 {
		// Positions are meaningless in a code of the wrong length or alphabet.
		return Code{}, errs
	}

	decoded := []byte(s)
	omocode := false
	structureOK := true
	for i := 0; i < Length; i++ {
		ch := s[i]
		isDigit := ch >= '0' && ch <= '9'
		if digitPos[i] {
			if isDigit {
				continue
			}
			if k := strings.IndexByte(omocodiaLetters, ch); k >= 0 {
				decoded[i] = byte('0' + k)
				omocode = true
				continue
			}
			errs = append(errs, OmocodiaError{Position: i + 1, Char: ch})
			structureOK = false
			continue
		}
		if isDigit {
			errs = append(errs, StructureError{Position: i + 1, Char: ch})
			structureOK = false
		}
	}

	month := 0
	if k := strings.IndexByte(monthLetters, s[8]); k >= 0 {
		month = k + 1
	} else if s[8] >= 'A' && s[8] <= 'Z' { // a digit is already a structure error
		errs = append(errs, MonthError{Letter: s[8]})
	}

	yy, yyOK := twoDigits(decoded[6:8])
	rawDay, dayOK := twoDigits(decoded[9:11])
	female := false
	day := 0
	if dayOK {
		switch {
		case rawDay >= 1 && rawDay <= 31:
			day = rawDay
		case rawDay >= 41 && rawDay <= 71:
			day, female = rawDay-40, true
		default:
			errs = append(errs, DayError{Day: rawDay})
			dayOK = false
		}
	}
	if yyOK && dayOK && month > 0 && day > daysIn(month, yy%4 == 0) {
		errs = append(errs, DateError{YY: yy, Month: month, Day: day})
	}

	if want, _ := CheckChar(s); s[15] >= 'A' && s[15] <= 'Z' && want != s[15] {
		errs = append(errs, CheckError{Want: want, Got: s[15]})
	}
	if len(errs) > 0 || !structureOK {
		return Code{}, errs
	}

	return Code{
		Normalised: s,
		Decoded:    string(decoded),
		Surname3:   s[0:3],
		Name3:      s[3:6],
		BirthDate:  resolveCentury(yy, time.Month(month), day, now),
		Female:     female,
		Place:      string(decoded[11:15]),
		Omocode:    omocode,
	}, nil
}

// twoDigits reads two decoded characters as a number; ok is false when
// either is not a digit (already reported as a structure error).
func twoDigits(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func daysIn(month int, leap bool) int {
	switch month {
	case 2:
		if leap {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// resolveCentury picks the most recent year ending in yy for which the date
// is not after today's date in Italy; a 29 February skips centuries that are
// not leap years (1900, 2100).
func resolveCentury(yy int, m time.Month, d int, now time.Time) time.Time {
	ty, tm, td := now.In(rome).Date()
	today := time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)
	y := ty - (ty%100+100-yy)%100
	for range 8 {
		if (m != time.February || d != 29 || isLeap(y)) && !time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(today) {
			break
		}
		y -= 100
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
