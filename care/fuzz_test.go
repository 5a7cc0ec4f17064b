package care_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/storage"
)

// FuzzFile: whatever a form carries, filing either stores exactly what was
// sent or refuses it with ErrInvalid / ErrAttachment; it never panics and
// never leaves a blob behind a refusal.
func FuzzFile(f *testing.F) {
	f.Add("Accesso", "Non riesco", "mario@example.it", "Mario", "a.pdf", []byte("%PDF-1.4\n%%EOF\n"))
	f.Add("", "x", "x", "", "setup.exe", []byte("MZ"))
	f.Add("a\x00", "\xff", "a@b.it\r\nBcc: c@d.it", "<script>", "x.HTML", []byte("<html>"))
	f.Add("ok", "ok", "\"a b\"@example.it", "名前", "", []byte{})
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, subject, message, email, name, file string, content []byte) {
		r := care.Request{Kind: storage.TicketKindTicket, Channel: "web", Subject: subject, Message: message,
			ContactEmail: email, ContactName: name}
		if file != "" {
			r.Uploads = []care.Upload{{Name: file, Body: bytes.NewReader(content)}}
		}
		before := e.blobs(t)
		tk, err := e.desk.File(t.Context(), web, r)
		if err != nil {
			if tk.ID == "" && !errors.Is(err, care.ErrInvalid) && !errors.Is(err, care.ErrAttachment) {
				t.Fatalf("unexpected error: %v", err)
			}
			if tk.ID == "" && e.blobs(t) != before {
				t.Fatal("a refused upload left a blob")
			}
			return
		}
		got, err := e.store.GetTicket(t.Context(), tk.ID)
		if err != nil || got.Subject != subject || got.Message != message || got.ContactEmail != email {
			t.Fatalf("stored %+v, %v", got, err)
		}
	})
}
