package identity

import "strings"

// passwordIT and passwordEN say each CheckPassword rule to the citizen.
var (
	passwordIT = map[string]string{
		PasswordLength:   "La password deve avere da 8 a 64 caratteri.",
		PasswordControl:  "La password non può contenere caratteri di controllo (per esempio a capo o tabulazioni).",
		PasswordClasses:  "La password deve contenere almeno una lettera maiuscola, una minuscola, un numero e un carattere speciale (per esempio ! ? # %).",
		PasswordRepeats:  "La password non può ripetere lo stesso carattere più di due volte di seguito.",
		PasswordPersonal: "La password non può contenere il nome utente, il nome, il cognome, il codice fiscale o la data di nascita.",
	}
	passwordEN = map[string]string{
		PasswordLength:   "The password must have 8 to 64 characters.",
		PasswordControl:  "The password cannot contain control characters (such as line breaks or tabs).",
		PasswordClasses:  "The password must contain at least one upper-case letter, one lower-case letter, one digit and one special character (such as ! ? # %).",
		PasswordRepeats:  "The password cannot repeat the same character more than twice in a row.",
		PasswordPersonal: "The password cannot contain your username, name, surname, fiscal code or date of birth.",
	}
)

// PasswordMessage says a CheckPassword problem to the citizen in lang ("it"
// or English otherwise); ok is false for a problem that is not a password
// rule.
func PasswordMessage(lang, problem string) (string, bool) {
	key := problem
	if strings.HasPrefix(problem, PasswordLength) {
		key = PasswordLength // "…, has N"
	}
	m := passwordEN
	if lang == "it" {
		m = passwordIT
	}
	s, ok := m[key]
	return s, ok
}
