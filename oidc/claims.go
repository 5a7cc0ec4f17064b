package oidc

import (
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// ClaimPrefix is SPID's claim namespace (spec §0); the older
// attributes.spid.gov.it prefix is never emitted.
const ClaimPrefix = "https://attributes.eid.gov.it/"

// claimSources maps each of the 17 SPID claims (spec §8) to the SAML
// attributes its value is made from. The values come from the same
// normalisers as the SAML Response (response.AttributesFor).
var claimSources = map[string][]string{
	ClaimPrefix + "spid_code":             {"spidCode"},
	"given_name":                          {"name"},
	"family_name":                         {"familyName"},
	"place_of_birth":                      {"placeOfBirth", "countyOfBirth"},
	"birthdate":                           {"dateOfBirth"},
	"gender":                              {"gender"},
	ClaimPrefix + "company_name":          {"companyName"},
	ClaimPrefix + "registered_office":     {"registeredOffice"},
	ClaimPrefix + "fiscal_number":         {"fiscalNumber"},
	ClaimPrefix + "company_fiscal_number": {"companyFiscalNumber"},
	ClaimPrefix + "vat_number":            {"ivaCode"},
	"document_details":                    {"idCard"},
	"phone_number":                        {"mobilePhone"},
	"email":                               {"email"},
	ClaimPrefix + "e_delivery_service":    {"digitalAddress"},
	ClaimPrefix + "eid_exp_date":          {"expirationDate"},
	"address":                             {"address"},
}

// SupportedClaims are the 17 claim names, in a stable order (F012).
func SupportedClaims() []string {
	return []string{
		ClaimPrefix + "spid_code", "given_name", "family_name", "place_of_birth", "birthdate", "gender",
		ClaimPrefix + "company_name", ClaimPrefix + "registered_office", ClaimPrefix + "fiscal_number",
		ClaimPrefix + "company_fiscal_number", ClaimPrefix + "vat_number", "document_details", "phone_number",
		"email", ClaimPrefix + "e_delivery_service", ClaimPrefix + "eid_exp_date", "address",
	}
}

// IsClaim reports whether name is one of the SPID claims.
func IsClaim(name string) bool {
	_, ok := claimSources[name]
	return ok
}

// SAMLAttributes are the SAML attributes behind claims (for the consent
// page, which lists attributes as the SAML flow does).
func SAMLAttributes(claims []string) []metadata.RequestedAttribute {
	var out []metadata.RequestedAttribute
	seen := map[string]bool{}
	for _, c := range claims {
		for _, a := range claimSources[c] {
			if !seen[a] {
				seen[a] = true
				out = append(out, metadata.RequestedAttribute{Name: a})
			}
		}
	}
	return out
}

// Claims returns the requested claims the identity holds, in their OIDC
// form (spec §8); claims the identity lacks are omitted.
func Claims(id storage.Identity, requested []string) (map[string]any, error) {
	attrs, err := response.AttributesFor(id, SAMLAttributes(requested))
	if err != nil {
		return nil, err
	}
	v := make(map[string]string, len(attrs))
	for _, a := range attrs {
		v[a.Name] = a.Value
	}
	out := map[string]any{}
	for _, c := range requested {
		src := claimSources[c]
		if src == nil {
			continue
		}
		val, ok, err := claimValue(c, v)
		if err != nil {
			return nil, err
		}
		if ok {
			out[c] = val
		}
	}
	return out, nil
}

func claimValue(claim string, v map[string]string) (any, bool, error) {
	switch claim {
	case "place_of_birth":
		m := map[string]string{}
		if s := v["placeOfBirth"]; s != "" {
			m["locality"] = s
		}
		if s := v["countyOfBirth"]; s != "" {
			m["region"] = s
		}
		return m, len(m) > 0, nil
	case "gender":
		switch v["gender"] {
		case "M":
			return "male", true, nil
		case "F":
			return "female", true, nil
		case "":
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("oidc: gender value not M or F")
	case ClaimPrefix + "registered_office":
		if s := v["registeredOffice"]; s != "" {
			return map[string]string{"formatted": s}, true, nil
		}
		return nil, false, nil
	case "address":
		if s := v["address"]; s != "" {
			return map[string]string{"formatted": s}, true, nil
		}
		return nil, false, nil
	case "document_details":
		s := v["idCard"]
		if s == "" {
			return nil, false, nil
		}
		f := strings.Fields(s)
		if len(f) != 5 {
			return nil, false, fmt.Errorf("oidc: idCard not in five fields")
		}
		return map[string]any{"type": f[0], "document_number": f[1], "issuer": map[string]string{"name": f[2]},
			"date_of_issuance": f[3], "date_of_expiry": f[4]}, true, nil
	case "phone_number":
		s := v["mobilePhone"]
		return s, s != "", nil
	}
	s := v[claimSources[claim][0]]
	return s, s != "", nil
}
