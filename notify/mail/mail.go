// Package mail delivers e-mail to citizens and operators: an outbox
// directory of RFC 5322 files (the demo default, and what tests read) and
// SMTP submission through github.com/wneessen/go-mail for production.
//
// Bodies carry single-use links (e-mail confirmation, activation), so
// neither sender ever logs a body or puts it in an error; logs name the
// recipient's domain only.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail to one recipient. Text is required; HTML, when
// set, is sent as the alternative part of a multipart/alternative message.
// Attachments, when any, make the message multipart/mixed.
type Message struct {
	To          string // a single address, optionally with a display name
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
}

// Attachment is a file sent with a message (an appointment's .ics). It
// travels base64-encoded, so its bytes (the CRLF line ends iCalendar
// needs) arrive unchanged.
type Attachment struct {
	Name        string // file name shown to the recipient, e.g. "appuntamento.ics"
	ContentType string // media type with parameters, e.g. "text/calendar; charset=utf-8; method=REQUEST"
	Data        []byte
}

// maxAttachments bounds what one notification carries.
const maxAttachments = 4

// ErrInvalidMessage wraps every refusal of a message itself (no or bad
// recipient, empty subject or body, a line break in a header): sending it
// again will never work.
var ErrInvalidMessage = errors.New("mail: invalid message")

// DefaultFrom is the sender an Outbox uses when From is empty.
const DefaultFrom = "SPID IdP <noreply@localhost>"

// check refuses messages that could not be delivered or would let a value
// break out of its header.
func (m Message) check() (*netmail.Address, error) {
	to, err := parseOne("recipient", m.To)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if strings.TrimSpace(m.Subject) == "" {
		return nil, fmt.Errorf("%w: empty subject", ErrInvalidMessage)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: subject contains a line break", ErrInvalidMessage)
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, fmt.Errorf("%w: empty text body", ErrInvalidMessage)
	}
	if len(m.Attachments) > maxAttachments {
		return nil, fmt.Errorf("%w: %d attachments, at most %d", ErrInvalidMessage, len(m.Attachments), maxAttachments)
	}
	for _, a := range m.Attachments {
		if strings.TrimSpace(a.Name) == "" || strings.ContainsAny(a.Name, "\r\n\"/\\") {
			return nil, fmt.Errorf("%w: attachment without a plain file name", ErrInvalidMessage)
		}
		if _, _, err := mime.ParseMediaType(a.ContentType); err != nil || strings.ContainsAny(a.ContentType, "\r\n") {
			return nil, fmt.Errorf("%w: attachment %q: bad content type", ErrInvalidMessage, a.Name)
		}
		if len(a.Data) == 0 {
			return nil, fmt.Errorf("%w: attachment %q is empty", ErrInvalidMessage, a.Name)
		}
	}
	return to, nil
}

// parseOne parses exactly one address; what names the field in errors.
func parseOne(what, s string) (*netmail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("mail: no %s address", what)
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("mail: %s address contains a line break", what)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		// The address itself stays out of the error: it is personal data.
		return nil, fmt.Errorf("mail: invalid %s address: %w", what, err)
	}
	return a, nil
}

// Domain is the part of an address after the last '@', lower-cased: what
// logs show instead of the address.
func Domain(addr string) string {
	if a, err := netmail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// build renders m from sender as a go-mail message: both senders write
// the same bytes, so what the outbox shows is what SMTP would deliver.
func build(from string, m Message, now time.Time) (*gomail.Msg, error) {
	to, err := m.check()
	if err != nil {
		return nil, err
	}
	sender, err := parseOne("sender", from)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(sender)
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(now)
	id, err := messageID(sender.Address)
	if err != nil {
		return nil, err
	}
	msg.SetMessageIDWithValue(id)
	// RFC 3834: an automatic notification; well-behaved responders do not
	// answer it, so out-of-office replies do not bounce back to us.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return nil, fmt.Errorf("mail: attachment %q: %w", a.Name, err)
		}
	}
	return msg, nil
}

// messageID is random@domain-of-the-sender, so IDs do not leak the host
// name of the machine that wrote them.
func messageID(from string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mail: message ID: %w", err)
	}
	domain := Domain(from)
	if domain == "" {
		domain = "localhost"
	}
	return hex.EncodeToString(b[:]) + "@" + domain, nil
}
