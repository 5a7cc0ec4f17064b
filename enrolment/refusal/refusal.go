// Package refusal is the error type shared by the enrolment checks that
// refuse a piece of evidence (the CNS/CIE client certificate, the signed
// request form): a stable code for the audit log and the error page, a
// detail for the audit record, the underlying cause, and a bilingual message.
package refusal

import (
	"errors"
	"strings"
)

// Catalogue holds one check package's messages. It is a type parameter, not
// a field, so each package's Error stays a distinct type: errors.As on a
// *cns.Error never matches a signature refusal.
type Catalogue interface {
	// Text returns the Italian and English message for code, or a generic
	// refusal when the code is unknown.
	Text(code string) (it, en string)
}

// Error is a refusal. Code says which rule failed, Detail what exactly (it
// names certificate or document fields, never secrets), Err the cause if any.
// errors.Is compares the Code only, so callers can branch on the kind
// without caring about the detail.
type Error[C Catalogue] struct {
	Code   string
	Detail string
	Err    error
}

func (e *Error[C]) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(strings.TrimSuffix(e.Message("en"), "."))
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error[C]) Unwrap() error { return e.Err }

// Is matches another *Error of the same catalogue with the same Code.
func (e *Error[C]) Is(target error) bool {
	var t *Error[C]
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Message is the text for the citizen: Italian unless lang starts with "en".
func (e *Error[C]) Message(lang string) string {
	var c C
	it, en := c.Text(e.Code)
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return en
	}
	return it
}
