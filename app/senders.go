package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
)

// Mailer sends e-mail (notify/mail's Outbox and SMTP).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// SMSer sends SMS (notify/sms's Outbox and HTTP gateway).
type SMSer interface {
	Send(ctx context.Context, m sms.Message) error
}

// MailSender is the configured e-mail sender: the outbox directory (demo,
// tests) or an SMTP relay.
func MailSender(cfg *config.Config, log *slog.Logger) (Mailer, error) {
	m := cfg.Mail
	if m.Driver != "smtp" {
		log.Info("e-mail is written to the outbox, not sent", "dir", m.OutboxDir)
		return mail.Outbox{Dir: m.OutboxDir, From: m.From, Log: log}, nil
	}
	s := &mail.SMTP{Host: m.SMTP.Host, Port: m.SMTP.Port, Username: m.SMTP.Username, Password: string(m.SMTP.Password),
		From: m.From, TLS: mail.TLSMode(m.SMTP.TLS), Log: log}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("mail.smtp: %w", err)
	}
	return s, nil
}

// SMSSender is the configured SMS sender: the outbox directory (demo,
// tests) or a generic HTTP gateway.
func SMSSender(cfg *config.Config, log *slog.Logger) (SMSer, error) {
	s := cfg.SMS
	if s.Driver != "http" {
		log.Info("SMS are written to the outbox, not sent", "dir", s.OutboxDir)
		return sms.Outbox{Dir: s.OutboxDir, Log: log}, nil
	}
	g, err := sms.NewHTTPGateway(sms.HTTPGateway{URL: s.HTTP.URL, Header: s.HTTP.Header, Token: string(s.HTTP.Token),
		BodyTemplate: s.HTTP.BodyTemplate})
	if err != nil {
		return nil, fmt.Errorf("sms.http: %w", err)
	}
	return g, nil
}

// SMSCodes issues and checks SMS one-time codes through sender; the login
// host ends every text ("@host #code") so browsers autofill it only there.
func SMSCodes(cfg *config.Config, b *Backends, sender SMSer) *otp.SMSCodes {
	host := ""
	if u, err := url.Parse(cfg.Server.BaseURL); err == nil {
		host = u.Host
	}
	return &otp.SMSCodes{Values: b.Eph, Sender: sender, Host: host, Counters: b.Eph}
}
