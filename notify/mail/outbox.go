package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/notify/outbox"
)

// Outbox "sends" a message by writing it to Dir as an RFC 5322 file (.eml),
// one file per message, mode 0600 in a 0700 directory: the demo default.
// A mail client opens the files as they are; tests and the demo read them
// back with Last.
type Outbox struct {
	Dir  string
	From string           // empty: DefaultFrom
	Log  *slog.Logger     // nil: slog.Default()
	Now  func() time.Time // nil: time.Now; the Date header and file name
}

// outboxExt ends every delivered file; a file being written has another
// name, so a reader never sees half a message.
const outboxExt = ".eml"

// Send writes m to a new file in Dir.
func (o Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail outbox: %w", err)
	}
	if o.Dir == "" {
		return errors.New("mail outbox: no directory configured")
	}
	from := o.From
	if from == "" {
		from = DefaultFrom
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	t := now().UTC()
	msg, err := build(from, m, t)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return fmt.Errorf("mail outbox: render: %w", err)
	}
	final, err := outbox.Write(o.Dir, outboxExt, t, buf.Bytes())
	if err != nil {
		return fmt.Errorf("mail outbox: %w", err)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "mail written to outbox", "path", final, "to_domain", Domain(m.To))
	return nil
}

// Received is a message read back from an outbox file.
type Received struct {
	Message
	From      string
	MessageID string
	Date      time.Time
	Path      string
}

// ErrEmpty: no message for that recipient in the outbox.
var ErrEmpty = errors.New("mail outbox: no message")

// Last returns the newest message in the outbox addressed to to (compared
// case-insensitively on the address), e.g. for a test to follow the
// activation link. ErrEmpty when there is none.
func (o Outbox) Last(to string) (Received, error) {
	want, err := parseOne("recipient", to)
	if err != nil {
		return Received{}, err
	}
	paths, err := outbox.Newest(o.Dir, outboxExt)
	if err != nil {
		return Received{}, fmt.Errorf("mail outbox: %w", err)
	}
	for _, p := range paths {
		r, err := ReadFile(p)
		if err != nil {
			return Received{}, err
		}
		got, err := netmail.ParseAddress(r.To)
		if err == nil && strings.EqualFold(got.Address, want.Address) {
			return r, nil
		}
	}
	return Received{}, ErrEmpty
}

// maxMessageBytes bounds what ReadFile and Parse accept: far above any
// notification we write.
const maxMessageBytes = 4 << 20

// ReadFile parses one outbox file.
func ReadFile(path string) (Received, error) {
	f, err := os.Open(path)
	if err != nil {
		return Received{}, fmt.Errorf("mail outbox: %w", err)
	}
	defer f.Close()
	r, err := Parse(f)
	if err != nil {
		return Received{}, fmt.Errorf("mail outbox: %s: %w", filepath.Base(path), err)
	}
	r.Path = path
	return r, nil
}

// Parse reads an RFC 5322 message with a text/plain body, or a
// multipart/alternative one with text/plain and text/html parts (inside a
// multipart/mixed one with attachments, whose bytes are kept as sent), in
// 7bit, 8bit, quoted-printable or base64: what this package writes.
func Parse(r io.Reader) (Received, error) {
	msg, err := netmail.ReadMessage(io.LimitReader(r, maxMessageBytes))
	if err != nil {
		return Received{}, fmt.Errorf("parse message: %w", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Received{}, fmt.Errorf("parse subject: %w", err)
	}
	out := Received{
		Message:   Message{To: msg.Header.Get("To"), Subject: subject},
		From:      msg.Header.Get("From"),
		MessageID: msg.Header.Get("Message-Id"),
	}
	if d, err := msg.Header.Date(); err == nil {
		out.Date = d
	}
	if err := readBody(&out.Message, msg.Header.Get("Content-Type"),
		msg.Header.Get("Content-Transfer-Encoding"), msg.Header.Get("Content-Disposition"), msg.Body, 0); err != nil {
		return Received{}, err
	}
	return out, nil
}

// readBody fills the text and HTML of m from one entity, descending into
// multiparts (depth-limited, as input may come from a hand-edited file).
func readBody(m *Message, ctype, cte, disp string, body io.Reader, depth int) error {
	if depth > 3 {
		return errors.New("parse body: multipart nested too deeply")
	}
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("parse body: content type: %w", err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parse body: %w", err)
			}
			err = readBody(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p, depth+1)
			if err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("parse body: unknown transfer encoding %q", cte)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("parse body: %w", err)
	}
	if disp != "" {
		if d, dp, err := mime.ParseMediaType(disp); err == nil && d == "attachment" {
			m.Attachments = append(m.Attachments, Attachment{Name: dp["filename"], ContentType: ctype, Data: data})
			return nil
		}
	}
	// SMTP carries CRLF line ends; callers compare with the text they
	// composed, which uses LF.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	switch mt {
	case "text/plain":
		m.Text = text
	case "text/html":
		m.HTML = text
	}
	return nil
}
