package pos

import (
	"strings"
	"testing"
)

func TestPosParseAndFind(t *testing.T) {
	ps, err := Parse(strings.NewReader("kind,name,address,province,hours\n" +
		"shop,Tabaccheria Centrale,\"Via Roma 1, 00184 Roma\",rm,lun-sab 8-20\n" +
		"counter,Sportello SPID Milano,Piazza Duomo 2 20121 Milano,MI,lun-ven 9-17\n" +
		"shop,Edicola Navigli,Alzaia Naviglio Grande 4 20144 Milano,MI,tutti i giorni 7-13\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Province != "RM" || ps[0].Address != "Via Roma 1, 00184 Roma" {
		t.Fatalf("parsed: %+v", ps)
	}
	if got := Find(ps, Shop, "mi"); len(got) != 1 || got[0].Name != "Edicola Navigli" {
		t.Errorf("shops in MI: %+v", got)
	}
	if got := Find(ps, Shop, ""); len(got) != 2 || got[0].Province != "MI" {
		t.Errorf("every shop, by province: %+v", got)
	}
	if got := Provinces(ps, Shop); strings.Join(got, " ") != "MI RM" {
		t.Errorf("provinces: %v", got)
	}
}

func TestPosParseProblems(t *testing.T) {
	for name, in := range map[string]string{
		"no header":    "shop,A,B,RM,9-17\n",
		"bad kind":     "kind,name,address,province,hours\nkiosk,A,B,RM,9-17\n",
		"bad province": "kind,name,address,province,hours\nshop,A,B,Roma,9-17\n",
		"no address":   "kind,name,address,province,hours\nshop,A,,RM,9-17\n",
		"fields":       "kind,name,address,province,hours\nshop,A,B,RM\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := Parse(strings.NewReader("kind,name,address,province,hours\nkiosk,A,B,RM,9\nshop,A,B,Roma,9\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("every problem at once: %v", err)
	}
}

// TestPosParseHoursEN: the optional hours_en column gives English pages
// their own opening hours; a row must then have all six fields.
func TestPosParseHoursEN(t *testing.T) {
	ps, err := Parse(strings.NewReader("kind,name,address,province,hours,hours_en\n" +
		"shop,Tabaccheria Centrale,Via Roma 1 00184 Roma,RM,lun-sab 8-20,Mon-Sat 8-20\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Hours != "lun-sab 8-20" || ps[0].HoursEN != "Mon-Sat 8-20" {
		t.Fatalf("parsed: %+v", ps)
	}
	_, err = Parse(strings.NewReader("kind,name,address,province,hours,hours_en\n" +
		"shop,Tabaccheria Centrale,Via Roma 1 00184 Roma,RM,lun-sab 8-20\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2: 5 fields, want 6") {
		t.Errorf("a short row: %v", err)
	}
}
