package fiscalcode

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Partita IVA error codes. Spec §4.6 gives the rule but no codes; these
// follow the cf.* naming.
const (
	CodePIVALength  = "piva.length"
	CodePIVACharset = "piva.charset"
	CodePIVACheck   = "piva.check"
)

// PIVALength is the length of a partita IVA.
const PIVALength = 11

// PIVAError is a defect of a partita IVA. It implements Error.
type PIVAError struct {
	Kind   string // CodePIVALength, CodePIVACharset or CodePIVACheck
	Length int    // characters after trimming (for CodePIVALength)
}

func (e PIVAError) Code() string  { return e.Kind }
func (e PIVAError) Error() string { return e.Kind + ": " + e.Message("en") }
func (e PIVAError) Message(lang string) string {
	switch e.Kind {
	case CodePIVALength:
		return pick(lang,
			fmt.Sprintf("La partita IVA deve avere 11 cifre (ne ha %d).", e.Length),
			fmt.Sprintf("The VAT number must have 11 digits (it has %d).", e.Length))
	case CodePIVACharset:
		return pick(lang,
			"La partita IVA contiene solo cifre, senza spazi né prefisso IT.",
			"The VAT number holds digits only, without spaces or the IT prefix.")
	}
	return pick(lang,
		"La cifra di controllo della partita IVA (l'ultima) non corrisponde: verificare il numero.",
		"The check digit of the VAT number (the last one) does not match: please check the number.")
}

// ValidatePIVA checks an 11-digit partita IVA with the check digit of spec
// §4.6. The input is trimmed; the office code (positions 8–10) is not checked.
func ValidatePIVA(s string) error {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return PIVAError{Kind: CodePIVACharset}
		}
	}
	if n := utf8.RuneCountInString(s); n != PIVALength {
		return PIVAError{Kind: CodePIVALength, Length: n}
	}
	if want, _ := PIVACheckDigit(s); want != s[10] {
		return PIVAError{Kind: CodePIVACheck}
	}
	return nil
}

// PIVACheckDigit returns the check digit for the first 10 digits of s; ok is
// false when s has fewer than 10 leading digits.
func PIVACheckDigit(s string) (digit byte, ok bool) {
	if len(s) < 10 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		d := int(s[i] - '0')
		if d < 0 || d > 9 {
			return 0, false
		}
		if i%2 == 1 { // 1-based positions 2, 4, 6, 8, 10
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10), true
}
