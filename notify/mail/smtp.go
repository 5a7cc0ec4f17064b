package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode says how the SMTP connection is protected.
type TLSMode string

const (
	// StartTLS (the default) connects in clear and upgrades with STARTTLS;
	// a server that does not offer it is refused, never silently used in
	// clear. Port 587 by default.
	StartTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (RFC 8314). Port 465.
	ImplicitTLS TLSMode = "tls"
	// NoTLS sends in clear; allowed only to a loopback host (a local relay
	// or a test server), because bodies hold single-use links. Port 25.
	NoTLS TLSMode = "none"
)

// DefaultTimeout bounds connecting and each SMTP exchange when
// SMTP.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// SMTP submits messages to a mail server (a relay or the provider's
// submission service), one connection per message: notification volume is
// low and a fresh connection never inherits a half-broken session.
type SMTP struct {
	Host     string
	Port     int    // zero: 587 (starttls), 465 (tls) or 25 (none)
	Username string // empty: no authentication
	Password string // a secret; never logged
	From     string // envelope and header sender
	TLS      TLSMode
	Timeout  time.Duration  // zero: DefaultTimeout
	RootCAs  *x509.CertPool // nil: the system roots
	HELO     string         // empty: this machine's host name
	Log      *slog.Logger   // nil: slog.Default()
}

// Check validates the configuration, so a mistake fails at start-up
// rather than on the first activation e-mail.
func (s *SMTP) Check() error {
	if strings.TrimSpace(s.Host) == "" {
		return errors.New("mail smtp: no host configured")
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("mail smtp: port %d out of range", s.Port)
	}
	if s.Timeout < 0 {
		return errors.New("mail smtp: negative timeout")
	}
	if _, err := parseOne("sender", s.From); err != nil {
		return fmt.Errorf("mail smtp: %w", err)
	}
	if s.Password != "" && s.Username == "" {
		return errors.New("mail smtp: password without username")
	}
	switch s.mode() {
	case StartTLS, ImplicitTLS:
	case NoTLS:
		if !isLoopback(s.Host) {
			return fmt.Errorf("mail smtp: tls mode %q is allowed only to a loopback host, not %q", NoTLS, s.Host)
		}
	default:
		return fmt.Errorf("mail smtp: unknown tls mode %q (want starttls, tls or none)", s.TLS)
	}
	return nil
}

func (s *SMTP) mode() TLSMode {
	if s.TLS == "" {
		return StartTLS
	}
	return TLSMode(strings.ToLower(string(s.TLS)))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Send delivers m. The error names the server and the failed step; it
// never holds the body (which carries single-use links) or the password.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := s.Check(); err != nil {
		return err
	}
	msg, err := build(s.From, m, time.Now().UTC())
	if err != nil {
		return err
	}
	client, err := s.client()
	if err != nil {
		return err
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail smtp: send via %s: %w", client.ServerAddr(), err)
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "mail sent", "server", client.ServerAddr(), "to_domain", Domain(m.To),
		"message_id", msg.GetMessageID())
	return nil
}

// client builds the go-mail client for one delivery.
func (s *SMTP) client() (*gomail.Client, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	opts := []gomail.Option{
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(&tls.Config{
			ServerName: strings.Trim(s.Host, "[]"),
			RootCAs:    s.RootCAs,
			MinVersion: tls.VersionTLS12,
		}),
	}
	port := s.Port
	switch s.mode() {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		if port == 0 {
			port = 587
		}
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
		if port == 0 {
			port = 465
		}
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		if port == 0 {
			port = 25
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if s.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.HELO))
	}
	if s.Username != "" {
		// Strongest mechanism the server offers; go-mail refuses PLAIN and
		// LOGIN over an unencrypted connection to a non-loopback host.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(strings.Trim(s.Host, "[]"), opts...)
	if err != nil {
		return nil, fmt.Errorf("mail smtp: client: %w", err)
	}
	return c, nil
}

// Temporary reports whether sending the same message again later may
// work, for the notification outbox's retries (spec §9): false only when
// the message itself was refused, by us (ErrInvalidMessage) or by the
// server with a 5xx answer (unknown recipient, content rejected). Network
// failures, timeouts, 4xx answers, TLS and authentication failures are
// temporary: they need the server or the configuration fixed, not the
// message dropped.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, ErrInvalidMessage) {
		return false
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return false
		}
	}
	return true
}
