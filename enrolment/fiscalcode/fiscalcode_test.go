package fiscalcode

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// The spec §4.2 examples.
const (
	marioRossi  = "RSSMRA80A01H501U" // M, 1980-01-01, Roma H501
	mariaRossi  = "RSSMRA80A41H501Y" // same data, F
	johnSmith   = "SMTJHN85M10Z404I" // born abroad, Z404
	marioOmo1   = "RSSMRA80A01H50MM" // spec §4.3: one substitution of marioRossi
	testNowYear = 2026
)

var testNow = time.Date(testNowYear, time.November, 25, 12, 0, 0, 0, time.UTC)

// withCheck completes 15 characters with their check character.
func withCheck(t testing.TB, s15 string) string {
	t.Helper()
	c, ok := CheckChar(s15)
	if !ok {
		t.Fatalf("CheckChar(%q) not ok", s15)
	}
	return s15 + string(c)
}

func codesOf(t testing.TB, cf string) []string {
	t.Helper()
	_, err := ParseAt(cf, testNow)
	if err == nil {
		return nil
	}
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("Parse(%q) error %v is not a non-empty Errors", cf, err)
	}
	return es.Codes()
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestE001_SpecExamplesValidate(t *testing.T) {
	tests := []struct {
		cf     string
		female bool
		birth  time.Time
		place  string
	}{
		{marioRossi, false, date(1980, 1, 1), "H501"},
		{mariaRossi, true, date(1980, 1, 1), "H501"},
		{johnSmith, false, date(1985, 8, 10), "Z404"},
	}
	for _, tt := range tests {
		t.Run(tt.cf, func(t *testing.T) {
			c, err := ParseAt(tt.cf, testNow)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Normalised != tt.cf || c.Female != tt.female || !c.BirthDate.Equal(tt.birth) || c.Place != tt.place || c.Omocode {
				t.Errorf("Parse = %+v", c)
			}
			if c.Surname3 != tt.cf[:3] || c.Name3 != tt.cf[3:6] {
				t.Errorf("letters %s %s", c.Surname3, c.Name3)
			}
			if c.Foreign() != strings.HasPrefix(tt.place, "Z") {
				t.Errorf("Foreign() = %v", c.Foreign())
			}
			// Any other last character is a check error, and only that.
			for ch := byte('A'); ch <= 'Z'; ch++ {
				if ch == tt.cf[15] {
					continue
				}
				bad := tt.cf[:15] + string(ch)
				if got := codesOf(t, bad); !slices.Equal(got, []string{CodeCheck}) {
					t.Errorf("%s: codes %v, want [cf.check]", bad, got)
				}
				_, err := ParseAt(bad, testNow)
				var ce CheckError
				if !errors.As(err, &ce) || ce.Got != ch || ce.Want != tt.cf[15] {
					t.Errorf("%s: %v is not the CheckError expected", bad, err)
				}
			}
		})
	}
}

func TestE002_NormalisationCharsetLength(t *testing.T) {
	for _, in := range []string{" rssmra80a01h501u ", "\tRssMra80A01h501U\n", "rssmra80a01h501u"} {
		c, err := ParseAt(in, testNow)
		if err != nil || c.Normalised != marioRossi {
			t.Errorf("Parse(%q) = %q, %v; want %s", in, c.Normalised, err, marioRossi)
		}
	}
	charset := []string{
		"RSSMRA80A01 H501U", // inner space (also 17 long)
		"RSSMRA80 01H501U",  // inner space in place of a letter, 16 long
		"RSSMRA80A01-501U",
		"RSSMRA80A01H501.",
		"RSSMRÀ80A01H501U", // non-ASCII letter
		"RSS'RA80A01H501U",
	}
	for _, in := range charset {
		got := codesOf(t, in)
		if !slices.Contains(got, CodeCharset) {
			t.Errorf("%q: codes %v, want cf.charset", in, got)
		}
		if utf8Len(strings.TrimSpace(in)) == Length && slices.Contains(got, CodeLength) {
			t.Errorf("%q: 16 characters reported as cf.length", in)
		}
	}
	_, err := ParseAt("RSSMRÀ80A01H501U", testNow)
	var ce CharsetError
	if !errors.As(err, &ce) || ce.Position != 6 || ce.Char != 'À' {
		t.Errorf("CharsetError = %+v (%v), want position 6 'À'", ce, err)
	}
	for _, in := range []string{"", "   ", "RSSMRA80A01H501", "RSSMRA80A01H501UX", "RSSMRA80A01H501U1234"} {
		got := codesOf(t, in)
		if !slices.Equal(got, []string{CodeLength}) {
			t.Errorf("%q: codes %v, want [cf.length]", in, got)
		}
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

func TestE003_MonthLetter(t *testing.T) {
	for ch := byte('A'); ch <= 'Z'; ch++ {
		cf := withCheck(t, "RSSMRA80"+string(ch)+"01H501")
		got := codesOf(t, cf)
		if strings.IndexByte(monthLetters, ch) >= 0 {
			if got != nil {
				t.Errorf("month %c: %v", ch, got)
			}
			continue
		}
		if !slices.Equal(got, []string{CodeMonth}) {
			t.Errorf("month %c: codes %v, want [cf.month]", ch, got)
		}
	}
	// The twelve letters map to January…December.
	for i, ch := range monthLetters {
		c, err := ParseAt(withCheck(t, "RSSMRA80"+string(ch)+"01H501"), testNow)
		if err != nil || c.BirthDate.Month() != time.Month(i+1) {
			t.Errorf("month %c → %v, %v", ch, c.BirthDate, err)
		}
	}
	// A digit in the month position is a structure error, not a month one.
	if got := codesOf(t, withCheck(t, "RSSMRA8001"+"01H50")); !slices.Contains(got, CodeStructure) || slices.Contains(got, CodeMonth) {
		t.Errorf("digit month: %v", got)
	}
}

func TestE004_DayAndDate(t *testing.T) {
	var badDays []string
	for d := 32; d <= 40; d++ {
		badDays = append(badDays, twoDigit(d))
	}
	for d := 72; d <= 99; d++ {
		badDays = append(badDays, twoDigit(d))
	}
	badDays = append(badDays, "00")
	for _, dd := range badDays {
		cf := withCheck(t, "RSSMRA80A"+dd+"H501")
		if got := codesOf(t, cf); !slices.Equal(got, []string{CodeDay}) {
			t.Errorf("day %s: codes %v, want [cf.day]", dd, got)
		}
	}
	// Omocodia letters are decoded before the range check: Q R = 45 (a woman's 5th).
	if got := codesOf(t, withCheck(t, "RSSMRA80AQRH501")); got != nil {
		t.Errorf("decoded day 45: %v", got)
	}
	if got := codesOf(t, withCheck(t, "RSSMRA80AQLH501")); !slices.Equal(got, []string{CodeDay}) {
		t.Errorf("decoded day 40: %v", got)
	}

	dates := []struct {
		s15  string
		want []string
	}{
		{"RSSMRA80B30H501", []string{CodeDate}}, // 30 February
		{"RSSMRA80B70H501", []string{CodeDate}}, // 30 February, woman
		{"RSSMRA81B29H501", []string{CodeDate}}, // 29 February, YY not divisible by 4
		{"RSSMRA80D31H501", []string{CodeDate}}, // 31 April
		{"RSSMRA80B29H501", nil},                // 29 February 1980
		{"RSSMRA80B69H501", nil},                // 29 February 1980, woman
		{"RSSMRA00B29H501", nil},                // YY 00 counts as leap (code alone)
		{"RSSMRA81B28H501", nil},
		{"RSSMRA80A31H501", nil},
	}
	for _, tt := range dates {
		if got := codesOf(t, withCheck(t, tt.s15)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: codes %v, want %v", tt.s15, got, tt.want)
		}
	}
	c, err := ParseAt(withCheck(t, "RSSMRA80B69H501"), testNow)
	if err != nil || !c.Female || !c.BirthDate.Equal(date(1980, 2, 29)) {
		t.Errorf("woman 29 Feb 1980: %+v %v", c, err)
	}
}

func twoDigit(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// omocode substitutes the n rightmost digit positions, as the issuing office
// does, and recomputes the check character.
func omocode(t testing.TB, cf string, n int) string {
	t.Helper()
	order := []int{14, 13, 12, 10, 9, 7, 6} // 0-based, right to left
	b := []byte(cf[:15])
	for _, i := range order[:n] {
		b[i] = omocodiaLetters[b[i]-'0']
	}
	return withCheck(t, string(b))
}

func TestE005_Omocodia(t *testing.T) {
	if got := omocode(t, marioRossi, 1); got != marioOmo1 {
		t.Fatalf("one substitution of %s = %s, spec says %s", marioRossi, got, marioOmo1)
	}
	for _, base := range []string{marioRossi, mariaRossi, johnSmith} {
		orig, err := ParseAt(base, testNow)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 3, 7} {
			cf := omocode(t, base, n)
			c, err := ParseAt(cf, testNow)
			if err != nil {
				t.Errorf("%s (%d substitutions): %v", cf, n, err)
				continue
			}
			if !c.Omocode || c.Normalised != cf || c.Decoded[:15] != base[:15] {
				t.Errorf("%s: %+v", cf, c)
			}
			if !c.BirthDate.Equal(orig.BirthDate) || c.Female != orig.Female || c.Place != orig.Place {
				t.Errorf("%s decodes to %v %v %s, want %v %v %s", cf, c.BirthDate, c.Female, c.Place, orig.BirthDate, orig.Female, orig.Place)
			}
			// The check character covers the code as written: the base's one fails.
			if n > 0 && cf[15] != base[15] {
				if got := codesOf(t, cf[:15]+base[15:]); !slices.Equal(got, []string{CodeCheck}) {
					t.Errorf("%s with the unsubstituted check char: %v", cf[:15], got)
				}
			}
		}
	}
	// [DEC 5, lenient]: a substitute at any digit position, not only from the right.
	for _, i := range []int{6, 7, 9, 10, 12, 13, 14} {
		b := []byte(marioRossi[:15])
		b[i] = omocodiaLetters[b[i]-'0']
		cf := withCheck(t, string(b))
		if c, err := ParseAt(cf, testNow); err != nil || c.Place != "H501" || !c.BirthDate.Equal(date(1980, 1, 1)) {
			t.Errorf("substitute at position %d (%s): %+v %v", i+1, cf, c, err)
		}
	}
}

func TestE006_Structure(t *testing.T) {
	tests := []struct {
		s15 string
		pos int
		as  any // pointer to the typed error expected
	}{
		{"RSSMRAO0A01H501", 7, new(OmocodiaError)},  // O in the year
		{"RSSMRA8OA01H501", 8, new(OmocodiaError)},  // O in the year
		{"RSSMRA80A0KH501", 11, new(OmocodiaError)}, // K is not a substitute
		{"RSSMRA80A01H5A1", 14, new(OmocodiaError)},
		{"R5SMRA80A01H501", 2, new(StructureError)}, // digit in the surname
		{"RSSMR480A01H501", 6, new(StructureError)}, // digit in the name
		{"RSSMRA80A011501", 12, new(StructureError)},
	}
	for _, tt := range tests {
		cf := withCheck(t, tt.s15)
		_, err := ParseAt(cf, testNow)
		if got := Codes(err); !slices.Equal(got, []string{CodeStructure}) {
			t.Errorf("%s: codes %v, want [cf.structure]", cf, got)
			continue
		}
		switch want := tt.as.(type) {
		case *OmocodiaError:
			if !errors.As(err, want) || want.Position != tt.pos {
				t.Errorf("%s: %v, want OmocodiaError at %d", cf, err, tt.pos)
			}
		case *StructureError:
			if !errors.As(err, want) || want.Position != tt.pos {
				t.Errorf("%s: %v, want StructureError at %d", cf, err, tt.pos)
			}
		}
	}
	// A digit as the check character.
	if got := codesOf(t, "RSSMRA80A01H5011"); !slices.Equal(got, []string{CodeStructure}) {
		t.Errorf("digit check char: %v", got)
	}
}

func TestErrorsAreAllReported(t *testing.T) {
	// Bad month, bad day and bad check character at once.
	_, err := ParseAt("RSSMRA80Z35H501A", testNow)
	got := Codes(err)
	want := []string{CodeMonth, CodeDay, CodeCheck}
	if !slices.Equal(got, want) {
		t.Fatalf("codes %v, want %v", got, want)
	}
	var me MonthError
	var de DayError
	var ce CheckError
	if !errors.As(err, &me) || !errors.As(err, &de) || !errors.As(err, &ce) || me.Letter != 'Z' || de.Day != 35 {
		t.Errorf("errors.As failed on %v", err)
	}
	if Validate("RSSMRA80Z35H501A") == nil || Validate(marioRossi) != nil {
		t.Error("Validate disagrees with Parse")
	}
	if Codes(nil) != nil || Codes(errors.New("x")) != nil {
		t.Error("Codes of a foreign error")
	}
}

func TestMessages(t *testing.T) {
	all := []Error{
		LengthError{Length: 15}, CharsetError{Position: 3, Char: ' '}, StructureError{Position: 2, Char: '5'},
		OmocodiaError{Position: 7, Char: 'O'}, MonthError{Letter: 'F'}, DayError{Day: 35},
		DateError{YY: 81, Month: 2, Day: 29}, CheckError{Want: 'U', Got: 'A'},
		PIVAError{Kind: CodePIVALength, Length: 10}, PIVAError{Kind: CodePIVACharset}, PIVAError{Kind: CodePIVACheck},
	}
	seen := map[string]bool{}
	for _, e := range all {
		it, en := e.Message("it"), e.Message("en")
		if it == "" || en == "" || it == en {
			t.Errorf("%T: it %q en %q", e, it, en)
		}
		if e.Message("") != it || e.Message("en-GB") != en {
			t.Errorf("%T: default language is not Italian or en-GB not English", e)
		}
		if seen[en] {
			t.Errorf("%T: message shared with another kind: %q", e, en)
		}
		seen[en] = true
		if !strings.HasPrefix(e.Error(), e.Code()+": ") {
			t.Errorf("%T: Error() %q lacks its code", e, e.Error())
		}
	}
	// The check message must not hand out the right character.
	for _, lang := range []string{"it", "en"} {
		if (CheckError{Want: 'U', Got: 'A'}).Message(lang) != (CheckError{Want: 'K', Got: 'A'}).Message(lang) {
			t.Errorf("%s check message depends on the expected character", lang)
		}
	}
}

func TestCenturyResolution(t *testing.T) {
	tests := []struct {
		s15  string
		now  time.Time
		want time.Time
	}{
		{"RSSMRA80A01H501", testNow, date(1980, 1, 1)},
		{"RSSMRA26A01H501", testNow, date(2026, 1, 1)},                                      // this year, already past
		{"RSSMRA26T01H501", testNow, date(1926, 12, 1)},                                     // this year, not yet: a centenarian
		{"RSSMRA26S25H501", testNow, date(2026, 11, 25)},                                    // born today
		{"RSSMRA08A01H501", testNow, date(2008, 1, 1)},                                      // 18 years old
		{"RSSMRA27A01H501", testNow, date(1927, 1, 1)},                                      // next year's digits
		{"RSSMRA00B29H501", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), date(2000, 2, 29)}, // not 2000 → fine
		{"RSSMRA00B29H501", time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC), date(2000, 2, 29)}, // 2100 is not leap
		// 00:30 in Rome on 26 Nov is still 25 Nov in UTC: the Italian date decides.
		{"RSSMRA26S26H501", time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC), date(2026, 11, 26)},
	}
	for _, tt := range tests {
		c, err := ParseAt(withCheck(t, tt.s15), tt.now)
		if err != nil || !c.BirthDate.Equal(tt.want) {
			t.Errorf("%s at %v: %v %v, want %v", tt.s15, tt.now, c.BirthDate, err, tt.want)
		}
	}
	// Parse uses the clock: a code of 1980 resolves to 1980 today.
	if c, err := Parse(marioRossi); err != nil || c.BirthDate.Year() != 1980 {
		t.Errorf("Parse: %v %v", c.BirthDate, err)
	}
}

func TestCheckCharInput(t *testing.T) {
	if _, ok := CheckChar("SHORT"); ok {
		t.Error("short input accepted")
	}
	if _, ok := CheckChar("RSSMRA80A01H50-"); ok {
		t.Error("bad character accepted")
	}
}
