package oidc

import (
	"reflect"
	"slices"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
)

// TestO078_ClaimMapping: each row of spec §8, from the stored SAML value
// to the OIDC claim.
func TestO078_ClaimMapping(t *testing.T) {
	id := storage.Identity{ID: "id1", Attributes: map[string]string{
		"spidCode": "DEMO0000000001", "name": "Mario", "familyName": "Rossi", "placeOfBirth": "H501",
		"countyOfBirth": "RM", "dateOfBirth": "1980-01-01", "gender": "M", "companyName": "ACME S.p.A.",
		"registeredOffice": "Via Roma 1 00100 Roma RM", "fiscalNumber": "RSSMRA80A01H501U",
		"companyFiscalNumber": "TINIT-RSSMRA80A01H501U", "ivaCode": "12345678903",
		"idCard": "cartaIdentita AA1234567 ComuneRoma 2020-01-01 2030-01-01", "mobilePhone": "+39 333 1234567",
		"email": "mario@example.it", "digitalAddress": "mario@pec.example.it", "expirationDate": "2030-12-31",
		"address": "Via Milano 2 00100 Roma RM",
	}}
	want := map[string]any{
		ClaimPrefix + "spid_code":             "DEMO0000000001",
		"given_name":                          "Mario",
		"family_name":                         "Rossi",
		"place_of_birth":                      map[string]string{"locality": "H501", "region": "RM"},
		"birthdate":                           "1980-01-01",
		"gender":                              "male",
		ClaimPrefix + "company_name":          "ACME S.p.A.",
		ClaimPrefix + "registered_office":     map[string]string{"formatted": "Via Roma 1 00100 Roma RM"},
		ClaimPrefix + "fiscal_number":         "TINIT-RSSMRA80A01H501U",
		ClaimPrefix + "company_fiscal_number": "TINIT-RSSMRA80A01H501U",
		ClaimPrefix + "vat_number":            "VATIT-12345678903",
		"document_details": map[string]any{"type": "cartaIdentita", "document_number": "AA1234567",
			"issuer": map[string]string{"name": "ComuneRoma"}, "date_of_issuance": "2020-01-01", "date_of_expiry": "2030-01-01"},
		"phone_number":                     "393331234567",
		"email":                            "mario@example.it",
		ClaimPrefix + "e_delivery_service": "mario@pec.example.it",
		ClaimPrefix + "eid_exp_date":       "2030-12-31",
		"address":                          map[string]string{"formatted": "Via Milano 2 00100 Roma RM"},
	}
	if len(want) != 17 {
		t.Fatalf("table has %d rows, spec §8 has 17", len(want))
	}
	for claim, w := range want {
		t.Run("O078 "+claim, func(t *testing.T) {
			got, err := Claims(id, []string{claim})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[claim], w) {
				t.Fatalf("got %#v, want %#v", got, w)
			}
		})
	}
	// Absent attributes are omitted; female maps to female.
	id2 := storage.Identity{ID: "id2", Attributes: map[string]string{"gender": "F"}}
	got, err := Claims(id2, []string{"gender", "given_name", "place_of_birth"})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"gender": "female"}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestF012_ClaimsSupportedExactly17(t *testing.T) {
	c := SupportedClaims()
	if len(c) != 17 {
		t.Fatalf("%d claims", len(c))
	}
	for _, n := range c {
		if !IsClaim(n) {
			t.Errorf("%s not mapped", n)
		}
	}
	for _, n := range []string{"email_verified", "phone_number_verified", ClaimPrefix + "landline_number", "https://attributes.spid.gov.it/fiscal_number"} {
		if IsClaim(n) || slices.Contains(c, n) {
			t.Errorf("%s is not a SPID claim", n)
		}
	}
}
