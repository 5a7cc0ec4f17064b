package fiscalcode

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes of spec §4.5. They are stable identifiers: the UI maps them to
// field messages and the audit log records them.
const (
	CodeLength    = "cf.length"
	CodeCharset   = "cf.charset"
	CodeStructure = "cf.structure"
	CodeMonth     = "cf.month"
	CodeDay       = "cf.day"
	CodeDate      = "cf.date"
	CodeCheck     = "cf.check"
)

// Error is one defect of a fiscal code. Every kind is its own type, so callers
// can use errors.As on the value returned by Parse or Validate.
type Error interface {
	error
	// Code is the spec §4.5 error code.
	Code() string
	// Message is the text for the applicant: Italian unless lang is "en".
	Message(lang string) string
}

// english reports whether lang asks for English; Italian is the default, as
// on every page of the IdP.
func english(lang string) bool {
	return strings.HasPrefix(strings.ToLower(lang), "en")
}

func pick(lang, it, en string) string {
	if english(lang) {
		return en
	}
	return it
}

// LengthError: the normalised code does not have 16 characters.
type LengthError struct {
	Length int // characters after trimming
}

func (e LengthError) Code() string  { return CodeLength }
func (e LengthError) Error() string { return CodeLength + ": " + e.Message("en") }
func (e LengthError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("Il codice fiscale deve avere 16 caratteri (ne ha %d).", e.Length),
		fmt.Sprintf("The fiscal code must have 16 characters (it has %d).", e.Length))
}

// CharsetError: a character outside A–Z and 0–9 (after upper-casing).
type CharsetError struct {
	Position int  // 1-based
	Char     rune // the offending character
}

func (e CharsetError) Code() string  { return CodeCharset }
func (e CharsetError) Error() string { return CodeCharset + ": " + e.Message("en") }
func (e CharsetError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("Il carattere %q in posizione %d non è ammesso: usare solo lettere A–Z e cifre 0–9, senza spazi.", e.Char, e.Position),
		fmt.Sprintf("The character %q at position %d is not allowed: use only letters A–Z and digits 0–9, without spaces.", e.Char, e.Position))
}

// StructureError: a digit where the structure requires a letter (surname,
// name, month, place letter, check character).
type StructureError struct {
	Position int  // 1-based
	Char     byte // the digit found
}

func (e StructureError) Code() string  { return CodeStructure }
func (e StructureError) Error() string { return CodeStructure + ": " + e.Message("en") }
func (e StructureError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("In posizione %d il codice fiscale richiede una lettera, non la cifra %c.", e.Position, e.Char),
		fmt.Sprintf("Position %d of the fiscal code must be a letter, not the digit %c.", e.Position, e.Char))
}

// OmocodiaError: a letter at a digit position (7, 8, 10, 11, 13, 14, 15) that
// is not one of the omocodia substitutes L M N P Q R S T U V. Its spec code
// is cf.structure (E006); the message names the allowed letters.
type OmocodiaError struct {
	Position int  // 1-based
	Char     byte // the letter found
}

func (e OmocodiaError) Code() string  { return CodeStructure }
func (e OmocodiaError) Error() string { return CodeStructure + ": " + e.Message("en") }
func (e OmocodiaError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("In posizione %d il codice fiscale richiede una cifra (o una lettera di omocodia L M N P Q R S T U V), non la lettera %c.", e.Position, e.Char),
		fmt.Sprintf("Position %d of the fiscal code must be a digit (or an omocodia letter L M N P Q R S T U V), not the letter %c.", e.Position, e.Char))
}

// MonthError: the month letter (position 9) is not one of A B C D E H L M P R S T.
type MonthError struct {
	Letter byte
}

func (e MonthError) Code() string  { return CodeMonth }
func (e MonthError) Error() string { return CodeMonth + ": " + e.Message("en") }
func (e MonthError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("La lettera del mese (posizione 9) è %c: deve essere una di A B C D E H L M P R S T.", e.Letter),
		fmt.Sprintf("The month letter (position 9) is %c: it must be one of A B C D E H L M P R S T.", e.Letter))
}

// DayError: the day (positions 10–11, after omocodia decoding) is not 01–31
// (men) or 41–71 (women).
type DayError struct {
	Day int // the two-digit value as decoded
}

func (e DayError) Code() string  { return CodeDay }
func (e DayError) Error() string { return CodeDay + ": " + e.Message("en") }
func (e DayError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("Il giorno di nascita (posizioni 10–11) vale %02d: deve essere tra 01 e 31 per gli uomini o tra 41 e 71 per le donne.", e.Day),
		fmt.Sprintf("The day of birth (positions 10–11) is %02d: it must be 01–31 for men or 41–71 for women.", e.Day))
}

// DateError: day and month are in range but do not form a real date (30
// February, 31 April, 29 February of a year YY not divisible by 4).
type DateError struct {
	YY, Month, Day int
}

func (e DateError) Code() string  { return CodeDate }
func (e DateError) Error() string { return CodeDate + ": " + e.Message("en") }
func (e DateError) Message(lang string) string {
	return pick(lang,
		fmt.Sprintf("La data di nascita del codice fiscale non esiste (giorno %d del mese %d, anno ..%02d).", e.Day, e.Month, e.YY),
		fmt.Sprintf("The date of birth in the fiscal code does not exist (day %d of month %d, year ..%02d).", e.Day, e.Month, e.YY))
}

// CheckError: the check character (position 16) does not match characters 1–15.
type CheckError struct {
	Want, Got byte
}

func (e CheckError) Code() string  { return CodeCheck }
func (e CheckError) Error() string { return CodeCheck + ": " + e.Message("en") }

// Message deliberately does not reveal the expected character: the applicant
// must re-read the code from the card, not copy our suggestion.
func (e CheckError) Message(lang string) string {
	return pick(lang,
		"Il carattere di controllo (l'ultimo) non corrisponde: verificare di aver copiato il codice fiscale senza errori.",
		"The check character (the last one) does not match: make sure the fiscal code was copied without mistakes.")
}

// Errors is every defect found in one code (spec §4.5: all of them, not only
// the first). It unwraps to its members, so errors.As finds each kind.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "fiscal code: " + strings.Join(parts, "; ")
}

// Unwrap exposes the members to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Codes lists the spec codes in the order found, without repeats.
func (es Errors) Codes() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range es {
		if c := e.Code(); !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// Codes returns the spec §4.5 codes carried by err (an Errors, a single
// Error, or anything wrapping them); nil when err carries none.
func Codes(err error) []string {
	var es Errors
	if errors.As(err, &es) {
		return es.Codes()
	}
	var e Error
	if errors.As(err, &e) {
		return []string{e.Code()}
	}
	return nil
}
