package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }

func TestOutboxWritesEML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	var logBuf bytes.Buffer
	o := Outbox{Dir: dir, From: "SPID IdP <noreply@idp.example>", Log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	if err := o.Send(context.Background(), italianMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	files, err := filepathGlob(dir)
	if err != nil || len(files) != 1 || !strings.HasSuffix(files[0], ".eml") {
		t.Fatalf("outbox holds %v (%v), want one .eml file", files, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("outbox dir mode = %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	// Any RFC 5322 reader takes it: the standard library's first.
	if _, err := netmail.ReadMessage(bytes.NewReader(raw)); err != nil {
		t.Fatalf("net/mail cannot read the file: %v", err)
	}
	checkItalian(t, raw)

	logged := logBuf.String()
	for _, want := range []string{"mail written to outbox", files[0], "to_domain=example.it"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %q: %s", want, logged)
		}
	}
	for _, leak := range []string{"niccolo.rossi", "SECRET-LINK-TOKEN", "Gentile", "identit"} {
		if strings.Contains(logged, leak) {
			t.Errorf("log leaks %q: %s", leak, logged)
		}
	}
}

func TestOutboxLast(t *testing.T) {
	o := Outbox{Dir: t.TempDir(), Log: quietLog()}
	if _, err := o.Last("a@example.it"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Last on an empty outbox = %v, want ErrEmpty", err)
	}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	send := func(i int, to, text string) {
		t.Helper()
		o.Now = func() time.Time { return base.Add(time.Duration(i) * time.Second) }
		if err := o.Send(context.Background(), Message{To: to, Subject: "Codice richiesta", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send(1, "a@example.it", "first")
	send(2, "Bea <b@example.it>", "other")
	send(3, "A@Example.IT", "second")
	r, err := o.Last("Anna <a@example.it>")
	if err != nil {
		t.Fatalf("Last: %v", err)
	}
	if strings.TrimSpace(r.Text) != "second" {
		t.Errorf("Last text = %q, want the newest (second)", r.Text)
	}
	if !r.Date.Equal(base.Add(3 * time.Second)) {
		t.Errorf("Date = %v", r.Date)
	}
	if r.HTML != "" {
		t.Errorf("HTML = %q for a text-only message", r.HTML)
	}
	if _, err := o.Last("c@example.it"); !errors.Is(err, ErrEmpty) {
		t.Errorf("Last for an unknown recipient = %v, want ErrEmpty", err)
	}
	if o.From != "" {
		t.Fatal("test expects the default sender")
	}
	if !strings.Contains(r.From, "noreply@localhost") {
		t.Errorf("From = %q, want DefaultFrom", r.From)
	}
}

func TestOutboxErrors(t *testing.T) {
	m := Message{To: "a@example.it", Subject: "s", Text: "t"}
	if err := (Outbox{}).Send(context.Background(), m); err == nil {
		t.Error("Send without a directory succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Outbox{Dir: t.TempDir()}).Send(ctx, m); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if err := (Outbox{Dir: file, Log: quietLog()}).Send(context.Background(), m); err == nil {
		t.Error("Send into a path that is a file succeeded")
	}
	if err := (Outbox{Dir: t.TempDir(), From: "bad sender"}).Send(context.Background(), m); err == nil {
		t.Error("Send with a bad sender succeeded")
	}
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"a@Example.IT":              "example.it",
		"Anna <anna@pec.comune.it>": "pec.comune.it",
		"no-at":                     "",
		"":                          "",
	} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, raw := range map[string]string{
		"bad content type":  "To: a@example.it\r\nContent-Type: ;;;\r\n\r\nx",
		"unknown encoding":  "To: a@example.it\r\nContent-Transfer-Encoding: x-uue\r\n\r\nx",
		"bad base64":        "To: a@example.it\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
		"unterminated part": "To: a@example.it\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx",
	} {
		if _, err := Parse(strings.NewReader(raw)); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("To: a@example.it\r\nSubject: =?UTF-8?q?identit=C3=A0?=\r\n\r\nciao\r\n"))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=C3=A8</p>\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n--a--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		Parse(bytes.NewReader(raw)) // must not panic or hang
	})
}
