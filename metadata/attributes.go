package metadata

// Attribute describes one of the SPID attributes an IdP can certify.
type Attribute struct {
	Name    string // SPID identifier, e.g. "fiscalNumber"
	Italian string // label for metadata FriendlyName and Italian pages
	English string // label for English pages
	Type    string // xsi:type of its AttributeValue: "xs:string" or "xs:date"
}

// SPIDAttributes are the 23 attribute names of the current AgID validators
// (spec §1.3, §4.6), in the order of the AgID attribute table.
var SPIDAttributes = []Attribute{
	{"spidCode", "Codice identificativo SPID", "SPID identification code", "xs:string"},
	{"name", "Nome", "Name", "xs:string"},
	{"familyName", "Cognome", "Family name", "xs:string"},
	{"placeOfBirth", "Luogo di nascita", "Place of birth", "xs:string"},
	{"countyOfBirth", "Provincia di nascita", "County of birth", "xs:string"},
	{"dateOfBirth", "Data di nascita", "Date of birth", "xs:date"},
	{"gender", "Sesso", "Gender", "xs:string"},
	{"companyName", "Ragione o denominazione sociale", "Company name", "xs:string"},
	{"registeredOffice", "Sede legale", "Registered office", "xs:string"},
	{"fiscalNumber", "Codice fiscale", "Fiscal number", "xs:string"},
	{"ivaCode", "Partita IVA", "VAT number", "xs:string"},
	{"idCard", "Documento d'identità", "Identity document", "xs:string"},
	{"mobilePhone", "Numero di telefono mobile", "Mobile phone number", "xs:string"},
	{"email", "Indirizzo di posta elettronica", "E-mail address", "xs:string"},
	{"address", "Domicilio fisico", "Physical address", "xs:string"},
	{"expirationDate", "Data di scadenza dell'identità", "Identity expiration date", "xs:date"},
	{"digitalAddress", "Domicilio digitale", "Digital address (PEC)", "xs:string"},
	{"companyFiscalNumber", "Codice fiscale della persona giuridica", "Company fiscal number", "xs:string"},
	{"domicileStreetAddress", "Indirizzo del domicilio", "Domicile street address", "xs:string"},
	{"domicilePostalCode", "CAP del domicilio", "Domicile postal code", "xs:string"},
	{"domicileMunicipality", "Comune del domicilio", "Domicile municipality", "xs:string"},
	{"domicileProvince", "Provincia del domicilio", "Domicile province", "xs:string"},
	{"domicileNation", "Nazione del domicilio", "Domicile nation", "xs:string"},
}

var attributeByName = func() map[string]Attribute {
	m := make(map[string]Attribute, len(SPIDAttributes))
	for _, a := range SPIDAttributes {
		m[a.Name] = a
	}
	return m
}()

// LookupAttribute returns the SPID attribute called name; ok is false for
// anything outside the 23 names (matching is case-sensitive, as in SAML).
func LookupAttribute(name string) (Attribute, bool) {
	a, ok := attributeByName[name]
	return a, ok
}

// AttributeNames returns the 23 SPID attribute names in table order.
func AttributeNames() []string {
	out := make([]string, len(SPIDAttributes))
	for i, a := range SPIDAttributes {
		out[i] = a.Name
	}
	return out
}
