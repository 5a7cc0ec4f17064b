package app

import (
	"fmt"
	"log/slog"
	"net/url"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/queue"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// Mailer sends e-mail: the queue, or a gateway (notify/mail's Outbox and
// SMTP).
type Mailer = queue.MailSender

// SMSer sends SMS: the queue, or a gateway (notify/sms's Outbox and HTTP).
type SMSer = queue.SMSSender

// MailSender is how the application sends e-mail: through the durable
// queue in shared storage (notify/queue), which hands each message to the
// configured gateway (mailGateway) and retries it until delivered; the
// gateway itself when there is no queue (a store without one, or no data
// key to seal messages with: only in tests).
func MailSender(cfg *config.Config, b *Backends, log *slog.Logger) (Mailer, error) {
	q, err := b.Outbox(cfg, log)
	switch {
	case err != nil:
		return nil, err
	case q != nil:
		return q.Mailer(), nil
	}
	return mailGateway(cfg, log)
}

// SMSSender is MailSender for SMS.
func SMSSender(cfg *config.Config, b *Backends, log *slog.Logger) (SMSer, error) {
	q, err := b.Outbox(cfg, log)
	switch {
	case err != nil:
		return nil, err
	case q != nil:
		return q.SMSer(), nil
	}
	return smsGateway(cfg, log)
}

// Outbox is the message queue of b's store over the configured gateways,
// made once; nil without a queue (see MailSender). serve runs its worker
// and registers it in /metrics.
func (b *Backends) Outbox(cfg *config.Config, log *slog.Logger) (*queue.Queue, error) {
	if b == nil {
		return nil, nil
	}
	b.outboxOnce.Do(func() {
		store, ok := b.Store.(storage.MessageQueue)
		if !ok || len(cfg.Security.DataKey) == 0 {
			return
		}
		log = log.With("component", "outbox")
		q := &queue.Queue{Store: store, Log: log}
		if q.Sealer, b.outboxErr = DataSealer(cfg); b.outboxErr != nil {
			return
		}
		if q.Mail, b.outboxErr = mailGateway(cfg, log); b.outboxErr != nil {
			return
		}
		if q.SMS, b.outboxErr = smsGateway(cfg, log); b.outboxErr != nil {
			return
		}
		b.outbox = q
	})
	return b.outbox, b.outboxErr
}

// mailGateway is the configured e-mail gateway: the outbox directory (demo,
// tests) or an SMTP relay.
func mailGateway(cfg *config.Config, log *slog.Logger) (Mailer, error) {
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

// smsGateway is the configured SMS gateway: the outbox directory (demo,
// tests) or a generic HTTP gateway.
func smsGateway(cfg *config.Config, log *slog.Logger) (SMSer, error) {
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
