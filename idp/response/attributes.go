package response

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// Attribute is one SPID attribute released in the AttributeStatement. Its
// xsi:type follows from Name (metadata.LookupAttribute).
type Attribute struct {
	Name  string // SPID attribute name, e.g. "fiscalNumber"
	Value string // value in the SPID format, as AttributesFor produces it
}

// normalisers turn a stored value (trimmed, non-empty) into the asserted one
// in its SPID format (spec §4.6), or explain why it cannot be asserted. The
// names are exactly metadata.SPIDAttributes (a test keeps them in step);
// the xsi:type comes from that table.
var normalisers = map[string]func(string) (string, error){
	"spidCode":              normSpidCode,
	"name":                  normWords,
	"familyName":            normWords,
	"placeOfBirth":          normPlaceOfBirth,
	"countyOfBirth":         normProvince,
	"dateOfBirth":           normDate,
	"gender":                normGender,
	"companyName":           normWords,
	"registeredOffice":      normWords,
	"fiscalNumber":          normFiscalNumber,
	"ivaCode":               normIvaCode,
	"companyFiscalNumber":   normCompanyFiscalNumber,
	"idCard":                normIDCard,
	"mobilePhone":           normMobilePhone,
	"email":                 normEmail,
	"address":               normWords,
	"domicileStreetAddress": normWords,
	"domicilePostalCode":    normWords,
	"domicileMunicipality":  normWords,
	"domicileProvince":      normWords,
	"domicileNation":        normNation,
	"expirationDate":        normDate,
	"digitalAddress":        normEmail,
}

// AttributesFor returns the attributes to release to an SP that requested
// the given set: exactly the requested attributes the identity holds, in the
// requested order, each normalised to its SPID format (spec §4.6).
//
// A requested attribute the identity does not hold (absent or blank) is
// omitted — never sent empty or as a placeholder, which SP validators reject
// (spec §4.6 [DEC]); isRequired does not change this. The result may be
// empty, in which case the Response carries no AttributeStatement.
//
// A stored value that cannot be put in its SPID format is an error naming the
// attribute but not the value (personal data stays out of logs): asserting a
// malformed fiscal number is worse than refusing the login.
func AttributesFor(identity storage.Identity, requested []metadata.RequestedAttribute) ([]Attribute, error) {
	out := make([]Attribute, 0, len(requested))
	seen := make(map[string]bool, len(requested))
	for _, r := range requested {
		norm, ok := normalisers[r.Name]
		if !ok {
			return nil, fmt.Errorf("response: requested attribute %q is not a SPID attribute", r.Name)
		}
		if seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		stored := strings.TrimSpace(identity.Attributes[r.Name])
		if stored == "" {
			continue
		}
		v, err := norm(stored)
		if err != nil {
			return nil, fmt.Errorf("response: stored attribute %s of identity %s: %w", r.Name, identity.ID, err)
		}
		if err := checkValue("attribute "+r.Name, v); err != nil {
			return nil, err
		}
		out = append(out, Attribute{Name: r.Name, Value: v})
	}
	return out, nil
}

// normWords collapses runs of white space into single spaces.
func normWords(s string) (string, error) {
	return strings.Join(strings.Fields(s), " "), nil
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isUpper(c) || isDigit(c) || (c >= 'a' && c <= 'z') }

// normSpidCode: 4 uppercase letters (IdP code) + 10 alphanumerics.
func normSpidCode(s string) (string, error) {
	ok := len(s) == 14
	for i := 0; ok && i < len(s); i++ {
		ok = (i < 4 && isUpper(s[i])) || (i >= 4 && isAlnum(s[i]))
	}
	if !ok {
		return "", fmt.Errorf("spidCode must be 4 uppercase letters and 10 alphanumerics")
	}
	return s, nil
}

// normPlaceOfBirth: a Belfiore cadastral code, letter + 3 digits (Z… for
// foreign countries).
func normPlaceOfBirth(s string) (string, error) {
	s = strings.ToUpper(s)
	if len(s) != 4 || !isUpper(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return "", fmt.Errorf("placeOfBirth must be a cadastral code such as H501")
	}
	return s, nil
}

// normProvince: a two-letter province abbreviation ("EE" for abroad).
func normProvince(s string) (string, error) {
	s = strings.ToUpper(s)
	if len(s) != 2 || !isUpper(s[0]) || !isUpper(s[1]) {
		return "", fmt.Errorf("province must be two letters")
	}
	return s, nil
}

// normNation: ISO 3166-1 alpha-2.
func normNation(s string) (string, error) {
	s = strings.ToUpper(s)
	if len(s) != 2 || !isUpper(s[0]) || !isUpper(s[1]) {
		return "", fmt.Errorf("domicileNation must be an ISO 3166-1 alpha-2 code")
	}
	return s, nil
}

// normDate: xs:date without time zone, YYYY-MM-DD, a real calendar date.
func normDate(s string) (string, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", fmt.Errorf("date must be YYYY-MM-DD")
	}
	return t.Format(time.DateOnly), nil
}

func normGender(s string) (string, error) {
	switch s = strings.ToUpper(s); s {
	case "M", "F":
		return s, nil
	}
	return "", fmt.Errorf("gender must be M or F")
}

// stripPrefix removes an ETSI-style country prefix (TINIT-, VATIT-) if
// present, case-insensitively, and upper-cases the rest without spaces.
func stripPrefix(s, prefix string) string {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		s = s[len(prefix):]
	}
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

func normFiscalNumber(s string) (string, error) {
	cf := stripPrefix(s, "TINIT-")
	if err := checkCodiceFiscale(cf); err != nil {
		return "", err
	}
	return "TINIT-" + cf, nil
}

func normIvaCode(s string) (string, error) {
	p := stripPrefix(s, "VATIT-")
	if err := checkPartitaIVA(p); err != nil {
		return "", err
	}
	return "VATIT-" + p, nil
}

// normCompanyFiscalNumber: a legal person's codice fiscale is numeric (11
// digits, same check as a partita IVA); sole proprietors use a personal one.
func normCompanyFiscalNumber(s string) (string, error) {
	cf := stripPrefix(s, "TINIT-")
	if len(cf) == 11 {
		if err := checkPartitaIVA(cf); err != nil {
			return "", err
		}
	} else if err := checkCodiceFiscale(cf); err != nil {
		return "", err
	}
	return "TINIT-" + cf, nil
}

// cfOdd is the value of a character in an odd (1-based) position of the
// codice fiscale check computation, indexed by digit or letter.
var cfOdd = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// cfOmocodia are the letters that replace digits in the numeric positions of
// a codice fiscale issued to resolve a collision (omocodia), 0..9.
const cfOmocodia = "LMNPQRSTUV"

// checkCodiceFiscale validates the 16-character personal codice fiscale:
// layout AAAAAA99A99A999A (digits possibly replaced by omocodia letters)
// and the check character.
func checkCodiceFiscale(cf string) error {
	if len(cf) != 16 {
		return fmt.Errorf("codice fiscale must have 16 characters")
	}
	for i := 0; i < 16; i++ {
		c := cf[i]
		switch i {
		case 6, 7, 9, 10, 12, 13, 14:
			if !isDigit(c) && strings.IndexByte(cfOmocodia, c) < 0 {
				return fmt.Errorf("codice fiscale has a bad character at position %d", i+1)
			}
		default:
			if !isUpper(c) {
				return fmt.Errorf("codice fiscale has a bad character at position %d", i+1)
			}
		}
	}
	sum := 0
	for i := 0; i < 15; i++ {
		c := cf[i]
		var idx int
		if isDigit(c) {
			idx = int(c - '0')
		} else {
			idx = int(c - 'A')
		}
		if i%2 == 0 { // 1-based odd position
			sum += cfOdd[idx]
		} else {
			sum += idx
		}
	}
	if cf[15] != byte('A'+sum%26) {
		return fmt.Errorf("codice fiscale check character is wrong")
	}
	return nil
}

// checkPartitaIVA validates an 11-digit partita IVA (or numeric codice
// fiscale) and its Luhn-style check digit.
func checkPartitaIVA(p string) error {
	if len(p) != 11 {
		return fmt.Errorf("partita IVA must have 11 digits")
	}
	sum := 0
	for i := 0; i < 11; i++ {
		if !isDigit(p[i]) {
			return fmt.Errorf("partita IVA must have 11 digits")
		}
		d := int(p[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 != 0 {
		return fmt.Errorf("partita IVA check digit is wrong")
	}
	return nil
}

// idCardTypes are the document types the rules list for idCard.
var idCardTypes = map[string]bool{
	"cartaIdentita": true, "passaporto": true, "patenteGuida": true, "patenteNautica": true,
	"librettoPensione": true, "patentinoImpTermici": true, "portoArmi": true, "tesseraRiconoscimento": true,
}

// normIDCard: "type number issuer issueDate expiryDate", single spaces.
// The rules' own example spells the type "CartaIdentità"; the listed value
// is cartaIdentita (spec §9), so that spelling is mapped to it.
func normIDCard(s string) (string, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return "", fmt.Errorf("idCard must have 5 space-separated fields: type number issuer issueDate expiryDate")
	}
	if f[0] == "CartaIdentità" || f[0] == "cartaIdentità" || f[0] == "CartaIdentita" {
		f[0] = "cartaIdentita"
	}
	if !idCardTypes[f[0]] {
		return "", fmt.Errorf("idCard document type is not one of the SPID types")
	}
	for _, i := range []int{3, 4} {
		d, err := normDate(f[i])
		if err != nil {
			return "", fmt.Errorf("idCard issue and expiry dates must be YYYY-MM-DD")
		}
		f[i] = d
	}
	if f[3] > f[4] {
		return "", fmt.Errorf("idCard expires before it was issued")
	}
	return strings.Join(f, " "), nil
}

// normMobilePhone: digits only, with the country prefix (spec §9 [DEC]).
// "+" and "00" international prefixes and separators are removed; a bare
// 10-digit Italian mobile number (3xx…) gets the 39 prefix.
func normMobilePhone(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')':
		case c == '+' && b.Len() == 0 && i == 0:
		default:
			return "", fmt.Errorf("mobilePhone may contain only digits, +, spaces and separators")
		}
	}
	d := b.String()
	switch {
	case s[0] == '+':
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case len(d) == 10 && d[0] == '3':
		d = "39" + d
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("mobilePhone must be an international number of 8 to 15 digits")
	}
	return d, nil
}

// normEmail accepts a bare address (no display name, no comments).
func normEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, " <>") {
		return "", fmt.Errorf("must be a plain e-mail address")
	}
	return s, nil
}
