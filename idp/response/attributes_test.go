package response_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// fullIdentity holds every SPID attribute, stored the sloppy ways operators
// and enrolment forms produce.
func fullIdentity() storage.Identity {
	return storage.Identity{
		ID:   "id-1",
		Type: storage.IdentityProfessionalForLegal,
		Attributes: map[string]string{
			"spidCode":              "EXID0A1B2C3D4E",
			"name":                  " Maria   Luisa ",
			"familyName":            "De Santis",
			"placeOfBirth":          "h501",
			"countyOfBirth":         "rm",
			"dateOfBirth":           "1980-01-31",
			"gender":                "f",
			"companyName":           "Rossi & Figli  S.r.l.",
			"registeredOffice":      "Via Nazionale 10 00184 Roma RM",
			"fiscalNumber":          "rssmra85t10a562s",
			"ivaCode":               "12345678903",
			"companyFiscalNumber":   "TINIT-01234567897",
			"idCard":                "CartaIdentità CA12345AB ComuneRoma 2021-03-01 2031-03-01",
			"mobilePhone":           "+39 333 123 4567",
			"email":                 "maria.desantis@example.it",
			"address":               "Via Roma 1 00100 Roma RM",
			"domicileStreetAddress": "Via Roma 1",
			"domicilePostalCode":    "00100",
			"domicileMunicipality":  "Roma",
			"domicileProvince":      "RM",
			"domicileNation":        "it",
			"expirationDate":        "2030-12-31",
			"digitalAddress":        "maria.desantis@pec.example.it",
		},
	}
}

// The formats table of spec §4.6 and checklist C137.
func TestAttributeFormats(t *testing.T) {
	want := map[string]string{
		"spidCode":              "EXID0A1B2C3D4E",
		"name":                  "Maria Luisa",
		"familyName":            "De Santis",
		"placeOfBirth":          "H501",
		"countyOfBirth":         "RM",
		"dateOfBirth":           "1980-01-31",
		"gender":                "F",
		"companyName":           "Rossi & Figli S.r.l.",
		"registeredOffice":      "Via Nazionale 10 00184 Roma RM",
		"fiscalNumber":          "TINIT-RSSMRA85T10A562S",
		"ivaCode":               "VATIT-12345678903",
		"companyFiscalNumber":   "TINIT-01234567897",
		"idCard":                "cartaIdentita CA12345AB ComuneRoma 2021-03-01 2031-03-01",
		"mobilePhone":           "393331234567",
		"email":                 "maria.desantis@example.it",
		"address":               "Via Roma 1 00100 Roma RM",
		"domicileStreetAddress": "Via Roma 1",
		"domicilePostalCode":    "00100",
		"domicileMunicipality":  "Roma",
		"domicileProvince":      "RM",
		"domicileNation":        "IT",
		"expirationDate":        "2030-12-31",
		"digitalAddress":        "maria.desantis@pec.example.it",
	}
	patterns := map[string]*regexp.Regexp{ // C137
		"fiscalNumber":   regexp.MustCompile(`^TINIT-[A-Z0-9]{16}$`),
		"ivaCode":        regexp.MustCompile(`^VATIT-\d{11}$`),
		"gender":         regexp.MustCompile(`^[MF]$`),
		"dateOfBirth":    regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
		"expirationDate": regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
		"spidCode":       regexp.MustCompile(`^[A-Z]{4}[A-Za-z0-9]{10}$`),
		"domicileNation": regexp.MustCompile(`^[A-Z]{2}$`),
		"mobilePhone":    regexp.MustCompile(`^\d+$`),
	}
	for _, a := range goodAttributes(t) {
		if a.Value != want[a.Name] {
			t.Errorf("%s = %q, want %q", a.Name, a.Value, want[a.Name])
		}
		if re := patterns[a.Name]; re != nil && !re.MatchString(a.Value) {
			t.Errorf("%s = %q does not match %s", a.Name, a.Value, re)
		}
		if md, _ := metadata.LookupAttribute(a.Name); (md.Type == "xs:date") != (a.Name == "dateOfBirth" || a.Name == "expirationDate") {
			t.Errorf("%s typed %s", a.Name, md.Type)
		}
	}
}

func TestAttributesForSelection(t *testing.T) {
	id := fullIdentity()
	delete(id.Attributes, "email")
	id.Attributes["mobilePhone"] = "   " // blank counts as absent
	req := []metadata.RequestedAttribute{
		{Name: "fiscalNumber", IsRequired: true},
		{Name: "email", IsRequired: true}, // missing: omitted, even if required
		{Name: "name"},
		{Name: "mobilePhone"},
		{Name: "name"}, // duplicate: released once
		{Name: "dateOfBirth"},
	}
	got, err := response.AttributesFor(id, req)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range got {
		names = append(names, a.Name)
	}
	if want := []string{"fiscalNumber", "name", "dateOfBirth"}; !slices.Equal(names, want) {
		t.Errorf("released %v, want exactly %v in request order", names, want)
	}

	none, err := response.AttributesFor(storage.Identity{}, req)
	if err != nil || len(none) != 0 {
		t.Errorf("identity without attributes: %v, %v", none, err)
	}
	if _, err := response.AttributesFor(id, []metadata.RequestedAttribute{{Name: "qualification"}}); err == nil {
		t.Error("non-SPID attribute accepted")
	}
}

func TestAttributeNormalisation(t *testing.T) {
	tests := []struct {
		name, stored, want string // want "" means an error
	}{
		{"fiscalNumber", "TINIT-RSSMRA85T10A562S", "TINIT-RSSMRA85T10A562S"},
		{"fiscalNumber", "tinit-rssmra85t10a562s", "TINIT-RSSMRA85T10A562S"},
		{"fiscalNumber", "RSSMRA85T10A56NH", "TINIT-RSSMRA85T10A56NH"}, // omocodia
		{"fiscalNumber", "RSSMRA85T10A562X", ""},                       // check character
		{"fiscalNumber", "RSSMRA85T10A562", ""},
		{"fiscalNumber", "RSSMRA8AT10A562S", ""},
		{"fiscalNumber", "12345678903", ""}, // a company code is not a personal one
		{"ivaCode", "VATIT-12345678903", "VATIT-12345678903"},
		{"ivaCode", "IT12345678903", ""},
		{"ivaCode", "12345678901", ""},
		{"companyFiscalNumber", "12345678903", "TINIT-12345678903"},
		{"companyFiscalNumber", "RSSMRA85T10A562S", "TINIT-RSSMRA85T10A562S"},
		{"companyFiscalNumber", "12345678901", ""},
		{"dateOfBirth", "1980-02-29", "1980-02-29"},
		{"dateOfBirth", "1981-02-29", ""},
		{"dateOfBirth", "31/01/1980", ""},
		{"dateOfBirth", "1980-01-31T00:00:00Z", ""},
		{"expirationDate", "2030-12-31", "2030-12-31"},
		{"gender", "m", "M"},
		{"gender", "X", ""},
		{"placeOfBirth", "Z404", "Z404"},
		{"placeOfBirth", "Roma", ""},
		{"countyOfBirth", "EE", "EE"},
		{"countyOfBirth", "Roma", ""},
		{"domicileNation", "ITA", ""},
		{"spidCode", "EXID0A1B2C3D4", ""},
		{"spidCode", "exid0A1B2C3D4E", ""},
		{"mobilePhone", "3331234567", "393331234567"},
		{"mobilePhone", "0039 333-1234567", "393331234567"},
		{"mobilePhone", "+44 7700 900123", "447700900123"},
		{"mobilePhone", "333 12x4567", ""},
		{"mobilePhone", "12", ""},
		{"email", "a@b.it", "a@b.it"},
		{"email", "Maria <a@b.it>", ""},
		{"email", "not an address", ""},
		{"digitalAddress", "pec@pec.example.it", "pec@pec.example.it"},
		{"idCard", "passaporto  YA1234567 MinisteroAffariEsteri 2020-01-01 2030-01-01", "passaporto YA1234567 MinisteroAffariEsteri 2020-01-01 2030-01-01"},
		{"idCard", "tessera 1 X 2020-01-01 2030-01-01", ""},
		{"idCard", "cartaIdentita CA1 ComuneRoma 2030-01-01 2020-01-01", ""},
		{"idCard", "cartaIdentita CA1 ComuneRoma", ""},
		{"name", "Anna\u00a0Maria", "Anna Maria"},
		{"name", "Niccolò", "Niccolò"},
		{"companyName", "A\x01B", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.stored, func(t *testing.T) {
			id := storage.Identity{ID: "x", Attributes: map[string]string{tc.name: tc.stored}}
			got, err := response.AttributesFor(id, []metadata.RequestedAttribute{{Name: tc.name}})
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted, gave %v", got)
				}
				if strings.Contains(err.Error(), tc.stored) && len(tc.stored) > 2 {
					t.Errorf("error leaks the stored value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Value != tc.want {
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
}

// Every attribute of the metadata table can be released, and nothing else.
func TestAttributeTableInStep(t *testing.T) {
	for _, n := range metadata.AttributeNames() {
		id := fullIdentity()
		if _, err := response.AttributesFor(id, []metadata.RequestedAttribute{{Name: n}}); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if n := len(fullIdentity().Attributes); n != len(metadata.AttributeNames()) {
		t.Errorf("fixture has %d attributes, table %d", n, len(metadata.AttributeNames()))
	}
}
