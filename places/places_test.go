package places

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func table(t *testing.T) *Table {
	t.Helper()
	tb, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// The embedded table is the national lists, with where they came from.
func TestPlacesEmbeddedTable(t *testing.T) {
	tb := table(t)
	if tb.Len() < 9000 {
		t.Fatalf("only %d places: the embedded table is not the national list", tb.Len())
	}
	if len(tb.Source) < 2 || !strings.Contains(strings.Join(tb.Source, " "), "ANPR") {
		t.Fatalf("source not recorded: %q", tb.Source)
	}
	for _, c := range []struct{ code, day, name, prov string }{
		{"H501", "1980-01-01", "Roma", "RM"},
		{"D583", "1975-05-02", "Figline Valdarno", "FI"}, // merged into Figline e Incisa Valdarno in 2014
		{"M321", "", "Figline e Incisa Valdarno", "FI"},
		{"A952", "", "Bolzano", "BZ"},
		{"Z110", "", "Francia", Abroad},
		{"Z404", "", "Stati Uniti d'America", Abroad},
	} {
		p, ok := tb.Lookup(c.code, c.day)
		if !ok || p.Name != c.name || p.Province != c.prov {
			t.Errorf("Lookup(%s, %q) = %+v, %v; want %s (%s)", c.code, c.day, p, ok, c.name, c.prov)
		}
	}
	if _, ok := tb.Lookup("Q999", ""); ok {
		t.Error("an unknown code was found")
	}
}

func TestPlacesResolve(t *testing.T) {
	tb := table(t)
	for _, c := range []struct{ text, day, code, prov string }{
		{"Roma", "1980-01-01", "H501", "RM"},
		{"roma", "", "H501", "RM"},
		{"Roma (RM)", "", "H501", "RM"},
		{"H501", "", "H501", "RM"},
		{"Figline Valdarno", "1975-05-02", "D583", "FI"},
		{"Figline Valdarno (FI)", "", "D583", "FI"},
		{"figline e incisa valdarno", "2015-01-01", "M321", "FI"},
		{"L'Aquila", "", "A345", "AQ"},
		{"l aquila", "", "A345", "AQ"},
		{"Bozen", "", "A952", "BZ"},
		{"Francia", "", "Z110", Abroad},
		{"France (abroad)", "", "Z110", Abroad},
		{"Francia (estero)", "", "Z110", Abroad},
	} {
		p, err := tb.Resolve(c.text, c.day)
		if err != nil || p.Code != c.code || p.Province != c.prov {
			t.Errorf("Resolve(%q, %q) = %+v, %v; want %s %s", c.text, c.day, p, err, c.code, c.prov)
		}
	}
	if _, err := tb.Resolve("Atlantide", ""); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown name: %v", err)
	}
	// Two municipalities named Castro, in Bergamo and Lecce provinces.
	_, err := tb.Resolve("Castro", "")
	var amb *Ambiguous
	if !errors.As(err, &amb) || len(amb.Candidates) < 2 {
		t.Fatalf("Castro: %v", err)
	}
	if p, err := tb.Resolve("Castro (LE)", ""); err != nil || p.Province != "LE" {
		t.Errorf("Castro (LE): %+v %v", p, err)
	}
}

func TestPlacesSearch(t *testing.T) {
	tb := table(t)
	got := tb.Search("rom", "", 10)
	if len(got) == 0 || got[0].Code != "H501" {
		t.Fatalf("search rom: %+v", got)
	}
	// A birth date before the merger shows the old municipality, not the new one.
	got = tb.Search("figline", "1975-05-02", 10)
	var old, merged bool
	for _, p := range got {
		old = old || p.Code == "D583"
		merged = merged || p.Code == "M321"
	}
	if !old || merged {
		t.Errorf("figline in 1975: %+v", got)
	}
	if n := len(tb.Search("san", "", 5)); n != 5 {
		t.Errorf("limit: %d results", n)
	}
	if tb.Search("  ", "", 5) != nil {
		t.Error("blank query matched")
	}
}

func TestPlacesImportRoundTrip(t *testing.T) {
	muni := strings.Join([]string{
		`"ID","DATAISTITUZIONE","DATACESSAZIONE","CODISTAT","CODCATASTALE","DENOMINAZIONE_IT","DENOMTRASLITTERATA","ALTRADENOMINAZIONE","ALTRADENOMTRASLITTERATA","ID_PROVINCIA","IDPROVINCIAISTAT","IDREGIONE","IDPREFETTURA","STATO","SIGLAPROVINCIA"`,
		`1,"1864-01-29","1990-01-01","048016","D583","FIGLINE VALDARNO","","","",48,"048","09","","C","FI"`,
		`2,"1990-01-02","2013-12-31","048016","D583","FIGLINE VALDARNO","","","",48,"048","09","","C","FI"`,
		`3,"2014-01-01","9999-12-31","048052","M321","FIGLINE E INCISA VALDARNO","","","",48,"048","09","FI","A","FI"`,
		`4,"1927-01-12","9999-12-31","021008","A952","BOLZANO","","BOZEN","",21,"021","04","BZ","A","BZ"`,
	}, "\n")
	states := "ID,DENOMINAZIONE,DENOMINAZIONEISTAT,DENOMINAZIONEISTAT_EN,DATAINIZIOVALIDITA,DATAFINEVALIDITA,CODAT\n" +
		"1,FRANCIA,Francia,France,01/01/1900,31/12/9999,Z110\n90,ITALIA,,,01/01/1900,31/12/9999,\n"
	ps, err := FromANPR(strings.NewReader(muni), strings.NewReader(states))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, []string{"test lists, 2026-01-01"}, ps); err != nil {
		t.Fatal(err)
	}
	tb, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 4 || len(tb.Source) != 1 {
		t.Fatalf("%d places (two spans of D583 must merge, Italy has no Z code), source %q", tb.Len(), tb.Source)
	}
	p, _ := tb.Lookup("D583", "")
	if p.Name != "Figline Valdarno" || p.From != "1864-01-29" || p.To != "2013-12-31" {
		t.Errorf("merged span: %+v", p)
	}
	p, _ = tb.Lookup("M321", "")
	if p.Name != "Figline e Incisa Valdarno" || !p.Current() {
		t.Errorf("name case or open end: %+v", p)
	}
	if p, _ := tb.Lookup("Z110", ""); p.AltName != "France" || p.Label("en") != "France (abroad)" {
		t.Errorf("state: %+v", p)
	}
	if _, err := FromANPR(strings.NewReader("A,B\n1,2\n"), nil); err == nil {
		t.Error("a file without the ANPR columns was accepted")
	}
}

func TestPlacesNameCase(t *testing.T) {
	for in, want := range map[string]string{
		"SAN GIOVANNI IN FIORE":    "San Giovanni in Fiore",
		"L'AQUILA":                 "L'Aquila",
		"REGGIO NELL'EMILIA":       "Reggio nell'Emilia",
		"SANT'ANGELO DEI LOMBARDI": "Sant'Angelo dei Lombardi",
		"AGLIÈ":                    "Agliè",
		"Stati Uniti d'America":    "Stati Uniti d'America",
	} {
		if got := nameCase(in); got != want {
			t.Errorf("nameCase(%q) = %q, want %q", in, got, want)
		}
	}
}
