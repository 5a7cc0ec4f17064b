package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// captured is one message as the test server received it.
type captured struct {
	from string
	rcpt []string
	data []byte
	user string // authenticated user, "" when none
}

// backend is a go-smtp backend that keeps what it receives and can refuse
// at the RCPT step.
type backend struct {
	mu       sync.Mutex
	got      []captured
	refuse   *smtp.SMTPError // returned from Rcpt when set
	user     string
	password string
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }

func (b *backend) messages() []captured {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]captured(nil), b.got...)
}

type session struct {
	b   *backend
	cur captured
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != s.b.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.cur.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.refuse != nil {
		return s.b.refuse
	}
	s.cur.rcpt = append(s.cur.rcpt, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	s.b.mu.Lock()
	s.b.got = append(s.b.got, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = captured{user: s.cur.user} }
func (s *session) Logout() error { return nil }

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// startServer runs a go-smtp server on a random loopback port. With
// starttls it offers STARTTLS; with implicit the listener is TLS.
func startServer(t *testing.T, be *backend, cert *tls.Certificate, implicit bool) int {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = cert == nil
	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*cert}}
		if implicit {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const (
	subjectIT = "Attivazione della tua identità SPID: perché è già pronta"
	textIT    = "Gentile Niccolò,\nla tua identità è stata approvata.\nAttivala entro 72 ore: https://idp.example/activate?t=SECRET-LINK-TOKEN\n"
	htmlIT    = "<p>Gentile Niccolò, la tua identità è stata approvata.</p>"
)

func italianMessage() Message {
	return Message{To: "Niccolò Rossi <niccolo.rossi@example.it>", Subject: subjectIT, Text: textIT, HTML: htmlIT}
}

func TestSMTPDelivers(t *testing.T) {
	cert, pool := testCert(t)
	tests := []struct {
		name     string
		mode     TLSMode
		cert     *tls.Certificate
		implicit bool
		user     string
	}{
		{"none on loopback", NoTLS, nil, false, ""},
		{"starttls with auth", StartTLS, &cert, false, "relay-user"},
		{"implicit tls with auth", ImplicitTLS, &cert, true, "relay-user"},
		{"starttls without auth", StartTLS, &cert, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &backend{user: "relay-user", password: "s3cret"}
			port := startServer(t, be, tc.cert, tc.implicit)
			s := &SMTP{Host: "127.0.0.1", Port: port, From: "SPID IdP <noreply@idp.example>",
				TLS: tc.mode, Timeout: 5 * time.Second, RootCAs: pool, Log: quietLog()}
			if tc.user != "" {
				s.Username, s.Password = tc.user, "s3cret"
			}
			if err := s.Send(context.Background(), italianMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := be.messages()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			c := got[0]
			if c.from != "noreply@idp.example" {
				t.Errorf("MAIL FROM = %q", c.from)
			}
			if len(c.rcpt) != 1 || c.rcpt[0] != "niccolo.rossi@example.it" {
				t.Errorf("RCPT TO = %q", c.rcpt)
			}
			if c.user != tc.user {
				t.Errorf("authenticated as %q, want %q", c.user, tc.user)
			}
			checkItalian(t, c.data)
		})
	}
}

// checkItalian parses raw as the recipient's client would and checks every
// field survived the trip, accents included.
func checkItalian(t *testing.T, raw []byte) {
	t.Helper()
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if bytes.Contains(head, []byte("identità")) {
		t.Errorf("subject not MIME-encoded in the header:\n%s", head)
	}
	for _, h := range [][]byte{[]byte("Auto-Submitted: auto-generated"), []byte("Message-ID: <")} {
		if !bytes.Contains(head, h) {
			t.Errorf("header %q missing:\n%s", h, head)
		}
	}
	if bytes.Contains(bytes.ToLower(head), []byte("go-mail")) {
		t.Errorf("header advertises the mail library:\n%s", head)
	}
	r, err := Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, raw)
	}
	if r.Subject != subjectIT {
		t.Errorf("subject = %q, want %q", r.Subject, subjectIT)
	}
	if r.Text != textIT {
		t.Errorf("text = %q, want %q", r.Text, textIT)
	}
	if r.HTML != htmlIT {
		t.Errorf("html = %q, want %q", r.HTML, htmlIT)
	}
	if !strings.Contains(r.To, "niccolo.rossi@example.it") || !strings.Contains(r.From, "noreply@idp.example") {
		t.Errorf("To %q From %q", r.To, r.From)
	}
	if !strings.HasSuffix(r.MessageID, "@idp.example>") {
		t.Errorf("Message-ID %q not in the sender's domain", r.MessageID)
	}
	if r.Date.IsZero() || time.Since(r.Date) > time.Hour {
		t.Errorf("Date = %v", r.Date)
	}
}

func TestSMTPRefused(t *testing.T) {
	tests := []struct {
		name string
		code int
		temp bool
	}{
		{"unknown recipient", 550, false},
		{"mailbox busy", 451, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &backend{refuse: &smtp.SMTPError{Code: tc.code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "no"}}
			port := startServer(t, be, nil, false)
			s := &SMTP{Host: "127.0.0.1", Port: port, From: "noreply@idp.example", TLS: NoTLS,
				Timeout: 5 * time.Second, Log: quietLog()}
			err := s.Send(context.Background(), italianMessage())
			if err == nil {
				t.Fatal("Send succeeded, want the server's refusal")
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.code)) {
				t.Errorf("error %q does not give the SMTP code %d", err, tc.code)
			}
			noSecrets(t, err)
			if got := Temporary(err); got != tc.temp {
				t.Errorf("Temporary = %v, want %v (%v)", got, tc.temp, err)
			}
			if n := len(be.messages()); n != 0 {
				t.Errorf("server stored %d messages", n)
			}
		})
	}
}

// noSecrets fails when err carries the body's link or the password.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{"SECRET-LINK-TOKEN", "s3cret", "Gentile"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks %q: %v", s, err)
		}
	}
}

func TestSMTPTimeout(t *testing.T) {
	// A server that accepts and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	s := &SMTP{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "noreply@idp.example",
		TLS: NoTLS, Timeout: 300 * time.Millisecond, Log: quietLog()}
	start := time.Now()
	err = s.Send(context.Background(), italianMessage())
	if err == nil {
		t.Fatal("Send to a silent server succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send returned after %v: the timeout did not apply", d)
	}
	if !Temporary(err) {
		t.Errorf("a timeout should be temporary: %v", err)
	}
	noSecrets(t, err)
}

func TestSMTPContextCancelled(t *testing.T) {
	be := &backend{}
	port := startServer(t, be, nil, false)
	s := &SMTP{Host: "127.0.0.1", Port: port, From: "noreply@idp.example", TLS: NoTLS, Log: quietLog()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, italianMessage()); err == nil {
		t.Fatal("Send with a cancelled context succeeded")
	}
}

func TestSMTPTLSFailures(t *testing.T) {
	cert, pool := testCert(t)
	t.Run("starttls not offered", func(t *testing.T) {
		port := startServer(t, &backend{}, nil, false)
		s := &SMTP{Host: "127.0.0.1", Port: port, From: "noreply@idp.example", TLS: StartTLS,
			Timeout: 5 * time.Second, RootCAs: pool, Log: quietLog()}
		err := s.Send(context.Background(), italianMessage())
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v, want a refusal to continue without STARTTLS", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		be := &backend{}
		port := startServer(t, be, &cert, false)
		s := &SMTP{Host: "127.0.0.1", Port: port, From: "noreply@idp.example", TLS: StartTLS,
			Timeout: 5 * time.Second, Log: quietLog()} // system roots: the test CA is unknown
		if err := s.Send(context.Background(), italianMessage()); err == nil {
			t.Fatal("Send trusted a self-signed certificate")
		}
		if n := len(be.messages()); n != 0 {
			t.Errorf("server stored %d messages", n)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		be := &backend{user: "relay-user", password: "right"}
		port := startServer(t, be, &cert, false)
		s := &SMTP{Host: "127.0.0.1", Port: port, From: "noreply@idp.example", TLS: StartTLS,
			Username: "relay-user", Password: "s3cret", Timeout: 5 * time.Second, RootCAs: pool, Log: quietLog()}
		err := s.Send(context.Background(), italianMessage())
		if err == nil {
			t.Fatal("Send with a wrong password succeeded")
		}
		noSecrets(t, err)
		if !Temporary(err) {
			t.Errorf("an authentication failure must keep the message for a retry: %v", err)
		}
		if n := len(be.messages()); n != 0 {
			t.Errorf("server stored %d messages", n)
		}
	})
}

func TestSMTPCheck(t *testing.T) {
	ok := SMTP{Host: "smtp.example.it", From: "noreply@idp.example"}
	tests := []struct {
		name   string
		mutate func(*SMTP)
		want   string // substring of the error; "" for valid
	}{
		{"defaults", func(*SMTP) {}, ""},
		{"implicit tls", func(s *SMTP) { s.TLS = ImplicitTLS }, ""},
		{"none on loopback ipv6", func(s *SMTP) { s.TLS, s.Host = NoTLS, "::1" }, ""},
		{"none on localhost", func(s *SMTP) { s.TLS, s.Host = NoTLS, "localhost" }, ""},
		{"none on a remote host", func(s *SMTP) { s.TLS = NoTLS }, "loopback"},
		{"unknown mode", func(s *SMTP) { s.TLS = "ssl3" }, "unknown tls mode"},
		{"no host", func(s *SMTP) { s.Host = " " }, "no host"},
		{"bad port", func(s *SMTP) { s.Port = 70000 }, "out of range"},
		{"negative timeout", func(s *SMTP) { s.Timeout = -1 }, "negative timeout"},
		{"bad sender", func(s *SMTP) { s.From = "not an address" }, "invalid sender"},
		{"password without user", func(s *SMTP) { s.Password = "x" }, "password without username"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.mutate(&s)
			err := s.Check()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestBadMessages(t *testing.T) {
	be := &backend{}
	port := startServer(t, be, nil, false)
	s := &SMTP{Host: "127.0.0.1", Port: port, From: "noreply@idp.example", TLS: NoTLS, Log: quietLog()}
	o := Outbox{Dir: t.TempDir(), Log: quietLog()}
	good := Message{To: "a@example.it", Subject: "Oggetto", Text: "testo"}
	tests := []struct {
		name   string
		mutate func(*Message)
		want   string
	}{
		{"no recipient", func(m *Message) { m.To = "" }, "no recipient"},
		{"two recipients", func(m *Message) { m.To = "a@example.it, b@example.it" }, "invalid recipient"},
		{"header injection in To", func(m *Message) { m.To = "a@example.it\r\nBcc: x@evil.test" }, "line break"},
		{"header injection in Subject", func(m *Message) { m.Subject = "Ciao\r\nBcc: x@evil.test" }, "line break"},
		{"empty subject", func(m *Message) { m.Subject = "" }, "empty subject"},
		{"empty text", func(m *Message) { m.Text = " " }, "empty text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.mutate(&m)
			for name, send := range map[string]func(context.Context, Message) error{"smtp": s.Send, "outbox": o.Send} {
				err := send(context.Background(), m)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidMessage) {
					t.Errorf("%s: err = %v, want ErrInvalidMessage with %q", name, err, tc.want)
				}
			}
		})
	}
	if n := len(be.messages()); n != 0 {
		t.Errorf("server stored %d messages", n)
	}
	if entries, _ := filepathGlob(o.Dir); len(entries) != 0 {
		t.Errorf("outbox holds %v", entries)
	}
}

func TestTemporary(t *testing.T) {
	if Temporary(nil) {
		t.Error("nil is not a temporary error")
	}
	_, err := build("a@example.it", Message{To: "b@example.it"}, time.Now())
	if !errors.Is(err, ErrInvalidMessage) || Temporary(err) {
		t.Errorf("a bad message is invalid and not temporary: %v", err)
	}
	if !Temporary(errors.New("dial tcp: connection refused")) {
		t.Error("a network failure is temporary")
	}
	if !Temporary(context.DeadlineExceeded) {
		t.Error("a deadline is temporary")
	}
}
