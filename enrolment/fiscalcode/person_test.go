package fiscalcode

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func mario() Person {
	return Person{Name: "Mario", FamilyName: "Rossi", DateOfBirth: date(1980, 1, 1), Gender: "M", PlaceOfBirth: "H501", CountyOfBirth: "RM"}
}

func mismatchCodes(ms []Mismatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Code)
	}
	return out
}

func TestE007_Mismatches(t *testing.T) {
	if ms := CheckAgainst(marioRossi, mario()); ms != nil {
		t.Fatalf("matching data: %v", ms)
	}
	maria := mario()
	maria.Name, maria.Gender = "Maria", "F" // MRA as well
	if ms := CheckAgainst(mariaRossi, maria); ms != nil {
		t.Fatalf("matching woman: %v", ms)
	}
	john := Person{Name: "John", FamilyName: "Smith", DateOfBirth: date(1985, 8, 10), Gender: "m", PlaceOfBirth: "z404", CountyOfBirth: "EE"}
	if ms := CheckAgainst(johnSmith, john); ms != nil {
		t.Fatalf("matching foreign-born: %v", ms)
	}

	tests := []struct {
		name   string
		change func(*Person)
		field  string
		code   string
		want   string
		got    string
	}{
		{"surname", func(p *Person) { p.FamilyName = "Russo" }, "familyName", CodeMismatchFamilyName, "RSS", "RSS"},
		{"surname2", func(p *Person) { p.FamilyName = "Bianchi" }, "familyName", CodeMismatchFamilyName, "BNC", "RSS"},
		{"name", func(p *Person) { p.Name = "Marco" }, "name", CodeMismatchName, "MRC", "MRA"},
		{"year", func(p *Person) { p.DateOfBirth = date(1981, 1, 1) }, "dateOfBirth", CodeMismatchDateOfBirth, "81A01", "80A01"},
		{"month", func(p *Person) { p.DateOfBirth = date(1980, 2, 1) }, "dateOfBirth", CodeMismatchDateOfBirth, "80B01", "80A01"},
		{"day", func(p *Person) { p.DateOfBirth = date(1980, 1, 2) }, "dateOfBirth", CodeMismatchDateOfBirth, "80A02", "80A01"},
		{"no date", func(p *Person) { p.DateOfBirth = time.Time{} }, "dateOfBirth", CodeMismatchDateOfBirth, "?", "80A01"},
		{"gender", func(p *Person) { p.Gender = "F" }, "gender", CodeMismatchGender, "F", "M"},
		{"gender other", func(p *Person) { p.Gender = "X" }, "gender", CodeMismatchGender, "X", "M"},
		{"place", func(p *Person) { p.PlaceOfBirth = "F205" }, "placeOfBirth", CodeMismatchPlaceOfBirth, "F205", "H501"},
		{"county EE for Rome", func(p *Person) { p.CountyOfBirth = "EE" }, "countyOfBirth", CodeMismatchCounty, "EE", "H501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mario()
			tt.change(&p)
			ms := CheckAgainst(marioRossi, p)
			if tt.name == "surname" { // Russo gives RSS too: no mismatch
				if ms != nil {
					t.Fatalf("Russo: %v", ms)
				}
				return
			}
			if len(ms) != 1 || ms[0].Field != tt.field || ms[0].Code != tt.code || ms[0].Want != tt.want || ms[0].Got != tt.got {
				t.Fatalf("got %+v, want one %s %s want=%s got=%s", ms, tt.field, tt.code, tt.want, tt.got)
			}
			m := ms[0]
			if m.Message("it") == m.Message("en") || m.Message("en") == "" || !strings.HasPrefix(m.Error(), tt.code+": ") {
				t.Errorf("messages: %q / %q / %q", m.Message("it"), m.Message("en"), m.Error())
			}
		})
	}

	// All mismatches together, in field order.
	all := Person{Name: "Luca", FamilyName: "Bianchi", DateOfBirth: date(1990, 5, 5), Gender: "F", PlaceOfBirth: "F205"}
	got := mismatchCodes(CheckAgainst(marioRossi, all))
	want := []string{CodeMismatchFamilyName, CodeMismatchName, CodeMismatchDateOfBirth, CodeMismatchGender, CodeMismatchPlaceOfBirth}
	if !slices.Equal(got, want) {
		t.Errorf("all mismatches: %v, want %v", got, want)
	}

	// The woman's +40 is a sex matter, not a date one.
	p := mario()
	if got := mismatchCodes(CheckAgainst(mariaRossi, p)); !slices.Equal(got, []string{CodeMismatchGender}) {
		t.Errorf("man against a woman's code: %v", got)
	}

	// An omocodic code is compared after decoding.
	if ms := CheckAgainst(omocode(t, marioRossi, 7), mario()); ms != nil {
		t.Errorf("omocode: %v", ms)
	}
	// The full year does not matter, only its two digits (the code has no more).
	p.DateOfBirth = date(1880, 1, 1)
	if ms := CheckAgainst(marioRossi, p); ms != nil {
		t.Errorf("1880: %v", ms)
	}
}

func TestE007_InvalidCodeNeverMatches(t *testing.T) {
	ms := CheckAgainst("RSSMRA80Z35H501A", mario())
	if got := mismatchCodes(ms); !slices.Equal(got, []string{CodeMonth, CodeDay, CodeCheck}) {
		t.Fatalf("codes %v", got)
	}
	for _, m := range ms {
		if m.Field != "fiscalNumber" || m.Message("en") == "" || m.Message("it") == m.Message("en") {
			t.Errorf("%+v: %q", m, m.Message("en"))
		}
	}
	if ms := CheckAgainst("", mario()); len(ms) != 1 || ms[0].Code != CodeLength {
		t.Errorf("empty: %+v", ms)
	}
}

func TestE008_Letters(t *testing.T) {
	surnames := map[string]string{
		"Rossi":           "RSS",
		"D'Angelo":        "DNG",
		"De Luca":         "DLC",
		"Fo":              "FOX",
		"Re":              "REX",
		"Poe":             "POE",
		"Aiello":          "LLA",
		"Müller":          "MLL",
		"Nuñez":           "NNZ",
		"Ó Súilleabháin":  "SLL",
		"Łukasiewicz":     "LKS",
		"O":               "OXX",
		"":                "XXX",
		"Dell'Orto-Rossi": "DLL",
		"Yates":           "YTS", // Y is a consonant
	}
	for in, want := range surnames {
		if got := SurnameLetters(in); got != want {
			t.Errorf("SurnameLetters(%q) = %s, want %s", in, got, want)
		}
	}
	names := map[string]string{
		"Mario":      "MRA",
		"Nicolò":     "NCL",
		"Gianfranco": "GFR", // G N F R N C: 1st, 3rd, 4th
		"Giuseppe":   "GPP", // G S P P
		"Francesca":  "FNC", // F R N C S C
		"Alessandro": "LSN", // L S S N D R
		"Luca":       "LCU",
		"Ugo":        "GUO",
		"Al":         "LAX",
		"Anna Maria": "NMR", // N N M R
		"Zoë":        "ZOE",
		"Éric":       "RCE",
	}
	for in, want := range names {
		if got := NameLetters(in); got != want {
			t.Errorf("NameLetters(%q) = %s, want %s", in, got, want)
		}
	}
	p := mario()
	p.FamilyName, p.Name = "  ròssi ", "MÀRIO"
	if ms := CheckAgainst(marioRossi, p); ms != nil {
		t.Errorf("diacritics and case: %v", ms)
	}
}

func TestE012_PlaceAndCounty(t *testing.T) {
	p := mario()
	p.PlaceOfBirth = "h501 "
	if ms := CheckAgainst(marioRossi, p); ms != nil {
		t.Errorf("place normalised: %v", ms)
	}
	// Place decoded from omocodia letters before the comparison: H50M is H501.
	if ms := CheckAgainst(marioOmo1, mario()); ms != nil {
		t.Errorf("omocodic place: %v", ms)
	}
	p = mario()
	p.PlaceOfBirth = "H50M" // the code as written is not the Belfiore code
	if got := mismatchCodes(CheckAgainst(marioRossi, p)); !slices.Equal(got, []string{CodeMismatchPlaceOfBirth}) {
		t.Errorf("undecoded place: %v", got)
	}

	john := Person{Name: "John", FamilyName: "Smith", DateOfBirth: date(1985, 8, 10), Gender: "M", PlaceOfBirth: "Z404"}
	for county, want := range map[string][]string{
		"EE": nil,
		"ee": nil,
		"":   nil, // not collected: not checked
		"RM": {CodeMismatchCounty},
	} {
		john.CountyOfBirth = county
		if got := mismatchCodes(CheckAgainst(johnSmith, john)); !slices.Equal(got, want) {
			t.Errorf("Z404 with county %q: %v, want %v", county, got, want)
		}
	}
}

func TestFoldTable(t *testing.T) {
	if len(latinExtA) != 0x80 {
		t.Fatalf("latinExtA has %d entries, want 128", len(latinExtA))
	}
	for r, want := range map[rune]string{
		'Ā': "A", 'č': "C", 'Đ': "D", 'ě': "E", 'ğ': "G", 'ħ': "H", 'ı': "I", 'Ĳ': "IJ", 'ĵ': "J",
		'ĸ': "K", 'Ł': "L", 'ň': "N", 'ő': "O", 'Œ': "OE", 'ř': "R", 'Š': "S", 'ť': "T", 'ů': "U",
		'ŵ': "W", 'Ÿ': "Y", 'ž': "Z", 'ſ': "S", 'ß': "SS", 'Æ': "AE", 'Þ': "TH", '\'': "", ' ': "",
		'-': "", 'Ж': "", '1': "",
	} {
		if got := fold(r); got != want {
			t.Errorf("fold(%q) = %q, want %q", r, got, want)
		}
	}
}

func TestCompute(t *testing.T) {
	maria := mario()
	maria.Name, maria.Gender = "Maria", "F"
	john := Person{Name: "John", FamilyName: "Smith", DateOfBirth: date(1985, 8, 10), Gender: "M", PlaceOfBirth: "Z404"}
	for want, p := range map[string]Person{marioRossi: mario(), mariaRossi: maria, johnSmith: john} {
		got, err := Compute(p)
		if err != nil || got != want {
			t.Errorf("Compute(%+v) = %q, %v; want %s", p, got, err, want)
		}
		if ms := CheckAgainst(got, p); ms != nil {
			t.Errorf("%s against its own data: %v", got, ms)
		}
	}
	for _, change := range []func(*Person){
		func(p *Person) { p.PlaceOfBirth = "H50" },
		func(p *Person) { p.PlaceOfBirth = "1501" },
		func(p *Person) { p.PlaceOfBirth = "H5O1" },
		func(p *Person) { p.Gender = "" },
		func(p *Person) { p.DateOfBirth = time.Time{} },
	} {
		p := mario()
		change(&p)
		if got, err := Compute(p); err == nil {
			t.Errorf("Compute(%+v) = %s, want an error", p, got)
		}
	}
}
