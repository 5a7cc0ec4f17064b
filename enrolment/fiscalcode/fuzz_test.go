package fiscalcode

import (
	"errors"
	"testing"
)

var knownCodes = map[string]bool{
	CodeLength: true, CodeCharset: true, CodeStructure: true, CodeMonth: true,
	CodeDay: true, CodeDate: true, CodeCheck: true,
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		marioRossi, mariaRossi, johnSmith, marioOmo1, " rssmra80a01h501u ", "RSSMRA80Z35H501A",
		"RSSMRAO0A01H501U", "RSSMRÀ80A01H501U", "", "RSSMRA80B30H501X", "LLLLLLLLLLLLLLLL", "0000000000000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseAt(in, testNow)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v is not a non-empty Errors", err)
			}
			for _, e := range es {
				if !knownCodes[e.Code()] || e.Message("it") == "" || e.Message("en") == "" {
					t.Fatalf("bad member %#v", e)
				}
			}
			_ = CheckAgainst(in, mario())
			return
		}
		if len(c.Normalised) != Length || c.Normalised != Normalise(in) {
			t.Fatalf("Normalised %q from %q", c.Normalised, in)
		}
		if want, _ := CheckChar(c.Normalised); want != c.Normalised[15] {
			t.Fatalf("accepted %q with a wrong check character", c.Normalised)
		}
		if c.BirthDate.After(testNow) || testNow.Sub(c.BirthDate).Hours() > 101*366*24 {
			t.Fatalf("birth date %v out of the resolution window", c.BirthDate)
		}
		again, err := ParseAt(c.Normalised, testNow)
		if err != nil || again != c {
			t.Fatalf("re-parse of %q: %+v %v", c.Normalised, again, err)
		}
		_ = c.Mismatches(mario())
	})
}

func FuzzValidatePIVA(f *testing.F) {
	for _, s := range []string{"12345670017", "12345670018", "", "IT12345670017", "1234567001７"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := ValidatePIVA(in)
		if err == nil {
			return
		}
		var pe PIVAError
		if !errors.As(err, &pe) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
