// Package sms delivers text messages (one-time codes) to mobile phones: an
// outbox directory for demos and tests, and a generic HTTP gateway for
// production. Neither ever logs or reports the text of a message, which
// holds a code.
package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/notify/outbox"
)

// Message is one SMS: To is the number in E.164 form (+39…).
type Message struct {
	To   string
	Text string
}

func (m Message) check() error {
	if strings.TrimSpace(m.To) == "" {
		return errors.New("sms: message without recipient")
	}
	if m.Text == "" {
		return errors.New("sms: empty message")
	}
	return nil
}

// Outbox "sends" a message by writing it to a file in Dir, one file per
// message, readable only by the service user. It is the demo default: the
// citizen (or a test) reads the code from the file.
//
// File format (UTF-8):
//
//	To: +393331234567
//	Date: 2026-11-25T10:41:54.123456789Z
//
//	<text>
type Outbox struct {
	Dir string
	Log *slog.Logger // nil: slog.Default()
}

// outboxExt ends every delivered file; files being written carry another
// name, so a reader never sees half a message.
const outboxExt = ".sms"

// Send implements the sender used by idp/otp.
func (o Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sms outbox: %w", err)
	}
	if err := m.check(); err != nil {
		return err
	}
	if o.Dir == "" {
		return errors.New("sms outbox: no directory configured")
	}
	now := time.Now().UTC()
	body := "To: " + oneLine(m.To) + "\nDate: " + now.Format(time.RFC3339Nano) + "\n\n" + m.Text + "\n"
	final, err := outbox.Write(o.Dir, outboxExt, now, []byte(body))
	if err != nil {
		return fmt.Errorf("sms outbox: %w", err)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "SMS written to outbox", "path", final, "to", Mask(m.To))
	return nil
}

// OutboxEntry is a message read back from an outbox.
type OutboxEntry struct {
	Message
	Path string
	Sent time.Time
}

// Last returns the newest message in the outbox addressed to to, so a test
// or the demo instructions can read the code. ErrEmpty when there is none.
func (o Outbox) Last(to string) (OutboxEntry, error) {
	paths, err := outbox.Newest(o.Dir, outboxExt)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("sms outbox: %w", err)
	}
	for _, p := range paths {
		e, err := readEntry(p)
		if err != nil {
			return OutboxEntry{}, err
		}
		if e.To == to {
			return e, nil
		}
	}
	return OutboxEntry{}, ErrEmpty
}

// ErrEmpty: no message for that recipient in the outbox.
var ErrEmpty = errors.New("sms outbox: no message")

func readEntry(path string) (OutboxEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("sms outbox: %w", err)
	}
	head, text, ok := strings.Cut(string(data), "\n\n")
	if !ok {
		return OutboxEntry{}, fmt.Errorf("sms outbox: %s: no header", filepath.Base(path))
	}
	e := OutboxEntry{Path: path, Message: Message{Text: strings.TrimSuffix(text, "\n")}}
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "To":
			e.To = v
		case "Date":
			e.Sent, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	return e, nil
}

// oneLine keeps a header value on its line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// Mask shows only the last 3 digits of a number, as the login pages do
// (ui.md P02), for logs and pages.
func Mask(number string) string {
	n := strings.TrimSpace(number)
	if len(n) <= 3 {
		return strings.Repeat("•", len(n))
	}
	return strings.Repeat("•", len(n)-3) + n[len(n)-3:]
}
