package mail

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// An attachment (an .ics with CRLF line ends) travels in a multipart/mixed
// message and is read back byte for byte, beside the text.
func TestOutboxAttachment(t *testing.T) {
	o := Outbox{Dir: t.TempDir(), Log: quietLog()}
	ics := []byte("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")
	m := Message{To: "mario@example.it", Subject: "Appuntamento", Text: "Ciao,\nin allegato l'invito.\n",
		Attachments: []Attachment{{Name: "appuntamento.ics", ContentType: "text/calendar; charset=utf-8; method=REQUEST", Data: ics}}}
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := o.Last("mario@example.it")
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != m.Text {
		t.Errorf("text = %q, want %q", got.Text, m.Text)
	}
	if len(got.Attachments) != 1 {
		t.Fatalf("attachments = %+v, want one", got.Attachments)
	}
	a := got.Attachments[0]
	if a.Name != "appuntamento.ics" || !bytes.Equal(a.Data, ics) || !strings.HasPrefix(a.ContentType, "text/calendar; charset=utf-8; method=REQUEST") {
		t.Errorf("attachment = %q %q %q", a.Name, a.ContentType, a.Data)
	}
	raw, err := os.ReadFile(got.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"multipart/mixed", "Content-Disposition: attachment; filename=\"appuntamento.ics\"", "Content-Transfer-Encoding: base64"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("message lacks %q", want)
		}
	}
}

func TestAttachmentRefused(t *testing.T) {
	base := Message{To: "mario@example.it", Subject: "S", Text: "T"}
	for name, a := range map[string]Attachment{
		"no name":          {ContentType: "text/calendar", Data: []byte("x")},
		"name with a path": {Name: "../x.ics", ContentType: "text/calendar", Data: []byte("x")},
		"header break":     {Name: "x.ics\r\nBcc: a@b", ContentType: "text/calendar", Data: []byte("x")},
		"bad type":         {Name: "x.ics", ContentType: "text/calendar; ;;", Data: []byte("x")},
		"empty":            {Name: "x.ics", ContentType: "text/calendar"},
	} {
		m := base
		m.Attachments = []Attachment{a}
		if _, err := m.check(); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: check = %v, want ErrInvalidMessage", name, err)
		}
	}
}
