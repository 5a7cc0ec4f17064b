// Package queue is the durable outbox of e-mail and SMS (spec §9, E112):
// every message is stored, sealed, in shared storage before it is sent,
// the node that made it tries it at once, and a worker on every node
// claims what is due under a lease, so a gateway outage or a node's death
// loses nothing and each message is sent once across the cluster. A
// failed message is retried with backoff and given up (kept as dead,
// counted in /metrics) after MaxAttempts.
//
// Once: a message is settled only by its lease holder, so two nodes never
// both send it. The one exception is a node that dies after the gateway
// accepted a message and before it recorded that: the message is sent
// again when the lease expires (at least once beats lost).
package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// MailSender delivers one e-mail (notify/mail's Outbox or SMTP).
type MailSender interface {
	Send(ctx context.Context, m mail.Message) error
}

// SMSSender delivers one SMS (notify/sms's Outbox or HTTP gateway).
type SMSSender interface {
	Send(ctx context.Context, m sms.Message) error
}

// Defaults of the Queue's tunables.
const (
	DefaultLease       = 2 * time.Minute
	DefaultInterval    = 5 * time.Second
	DefaultMaxAttempts = 8
	// DefaultSendTimeout bounds one delivery by the worker.
	DefaultSendTimeout = 30 * time.Second
)

// Queue enqueues and delivers messages. Set the fields before first use.
type Queue struct {
	Store  storage.MessageQueue
	Sealer *datakey.Sealer // seals payloads: they carry links and one-time codes
	Mail   MailSender
	SMS    SMSSender
	Log    *slog.Logger
	// Owner names this node's leases; a random one when empty.
	Owner string
	// Lease is how long a claimed message is held (DefaultLease).
	Lease time.Duration
	// Interval is how often Run claims due messages (DefaultInterval).
	Interval time.Duration
	// MaxAttempts is how many deliveries are tried before a message is
	// given up (DefaultMaxAttempts).
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1, 2, ...); by default
	// 30 s doubling, at most an hour.
	Backoff func(attempt int) time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	once                  sync.Once
	sent, failed, retries *prometheus.CounterVec
	depth                 *prometheus.Desc
}

func (q *Queue) init() {
	q.once.Do(func() {
		if q.Owner == "" {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			q.Owner = "node-" + hex.EncodeToString(b)
		}
		if q.Lease <= 0 {
			q.Lease = DefaultLease
		}
		if q.Interval <= 0 {
			q.Interval = DefaultInterval
		}
		if q.MaxAttempts <= 0 {
			q.MaxAttempts = DefaultMaxAttempts
		}
		if q.Backoff == nil {
			q.Backoff = func(n int) time.Duration {
				d := 30 * time.Second << min(n-1, 10)
				return min(d, time.Hour)
			}
		}
		if q.Log == nil {
			q.Log = slog.Default()
		}
		q.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spid_idp_messages_sent_total",
			Help: "E-mail and SMS delivered from the outbox queue by this node, by kind."}, []string{"kind"})
		q.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spid_idp_messages_failed_total",
			Help: "E-mail and SMS given up by this node after their last attempt or a permanent refusal, by kind."}, []string{"kind"})
		q.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spid_idp_message_retries_total",
			Help: "Failed deliveries this node scheduled again, by kind."}, []string{"kind"})
		q.depth = prometheus.NewDesc("spid_idp_message_queue_depth",
			"Messages in the shared outbox queue by state (pending: waiting or being sent; dead: given up).", []string{"state"}, nil)
	})
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// payload is what is sealed into a queued message.
type payload struct {
	To      string `json:"to"`
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
	// Attachments ride sealed with the text (an appointment's .ics).
	Attachments []mail.Attachment `json:"attachments,omitempty"`
}

// Mailer is the queue as an e-mail sender.
func (q *Queue) Mailer() MailSender { return mailer{q} }

// SMSer is the queue as an SMS sender.
func (q *Queue) SMSer() SMSSender { return smser{q} }

type mailer struct{ q *Queue }

func (m mailer) Send(ctx context.Context, msg mail.Message) error {
	return m.q.send(ctx, "mail", payload{To: msg.To, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Attachments: msg.Attachments})
}

type smser struct{ q *Queue }

// Stages: called with a context carrying a storage.Outbox, Send stages
// the message there for the change's own transaction.
func (mailer) Stages() bool { return true }

// Stages is mailer's.
func (smser) Stages() bool { return true }

func (s smser) Send(ctx context.Context, msg sms.Message) error {
	return s.q.send(ctx, "sms", payload{To: msg.To, Text: msg.Text})
}

// send stores the message leased to this node, then tries it at once: the
// caller learns of a message refused for good (a bad address) as before,
// while a gateway failure only schedules a retry. An error storing the
// message is returned: nothing was sent, nothing will be.
func (q *Queue) send(ctx context.Context, kind string, p payload) error {
	q.init()
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	plain, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	sealed, err := q.Sealer.Seal(plain, ad(id))
	if err != nil {
		return fmt.Errorf("outbox: sealing: %w", err)
	}
	now := q.now()
	m := storage.QueuedMessage{ID: id, Kind: kind, Payload: sealed, CreatedAt: now, NextAttempt: now,
		LeaseOwner: q.Owner, LeaseUntil: now.Add(q.Lease), Attempts: 1}
	if ob := storage.OutboxFrom(ctx); ob != nil && !ob.Committed() {
		// Part of a state change: the store writes it in the change's
		// transaction, and the caller's Outbox.Deliver tries it once that
		// committed. A refusal for good is then only logged and counted.
		ob.StageWithDelivery(m, func(ctx context.Context) {
			if err := q.deliver(ctx, m, p); err != nil {
				q.Log.Warn("outbox: message refused", "message", m.ID, "kind", kind, "err", err)
			}
		})
		return nil
	}
	if err := q.Store.EnqueueMessage(ctx, m); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return q.deliver(ctx, m, p)
}

func ad(id string) []byte { return []byte("outbox:" + id) }

// deliver sends m (whose payload is p) and settles it: removed when sent,
// due again after the backoff when the gateway failed, dead after the last
// attempt or a permanent refusal (returned, so a caller trying at once
// hears of it).
func (q *Queue) deliver(ctx context.Context, m storage.QueuedMessage, p payload) error {
	var err error
	switch m.Kind {
	case "mail":
		err = q.Mail.Send(ctx, mail.Message{To: p.To, Subject: p.Subject, Text: p.Text, HTML: p.HTML, Attachments: p.Attachments})
	case "sms":
		err = q.SMS.Send(ctx, sms.Message{To: p.To, Text: p.Text})
	default:
		err = fmt.Errorf("%w: unknown kind %q", errPermanent, m.Kind)
	}
	// Settling outlives a request that ended: the message is stored.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	log := q.Log.With("message", m.ID, "kind", m.Kind, "attempt", m.Attempts)
	if err == nil {
		q.sent.WithLabelValues(m.Kind).Inc()
		if serr := q.Store.CompleteMessage(sctx, m.ID, q.Owner); serr != nil {
			// Sent: the lease will expire and it may go once more.
			log.Warn("outbox: sent, but not recorded as sent", "err", serr)
		}
		return nil
	}
	permanent := errors.Is(err, errPermanent) || (m.Kind == "mail" && !mail.Temporary(err))
	dead := permanent || m.Attempts >= q.MaxAttempts
	next := q.now().Add(q.Backoff(m.Attempts))
	if dead {
		q.failed.WithLabelValues(m.Kind).Inc()
		log.Error("outbox: message given up", "err", err)
	} else {
		q.retries.WithLabelValues(m.Kind).Inc()
		log.Warn("outbox: delivery failed, will retry", "err", err, "next", next)
	}
	if serr := q.Store.RetryMessage(sctx, m.ID, q.Owner, next, errText(err), dead); serr != nil {
		log.Warn("outbox: failure not recorded; retried when the lease expires", "err", serr)
	}
	if permanent {
		return err
	}
	return nil
}

var errPermanent = errors.New("outbox: refused for good")

// errText is what the queue keeps of an error: the gateways' errors never
// carry the body (notify/mail, notify/sms), only the cause.
func errText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return strings.ToValidUTF8(s, "?")
}

// Work claims the messages due now and delivers them, and says how many it
// claimed.
func (q *Queue) Work(ctx context.Context) (int, error) {
	q.init()
	ms, err := q.Store.ClaimMessages(ctx, q.Owner, q.now(), q.Lease, 20)
	if err != nil {
		return len(ms), err
	}
	for _, m := range ms {
		plain, _, err := q.Sealer.Open(m.Payload, ad(m.ID))
		var p payload
		if err == nil {
			err = json.Unmarshal(plain, &p)
		}
		if err != nil {
			// Sealed under a key no longer configured: never deliverable.
			q.failed.WithLabelValues(m.Kind).Inc()
			q.Log.Error("outbox: message cannot be opened; given up", "message", m.ID, "err", err)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = q.Store.RetryMessage(sctx, m.ID, q.Owner, q.now(), "cannot be opened: "+err.Error(), true)
			cancel()
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, DefaultSendTimeout)
		_ = q.deliver(dctx, m, p)
		cancel()
	}
	return len(ms), nil
}

// Run delivers due messages every Interval until ctx ends. Every node runs
// it; the leases share the work out.
func (q *Queue) Run(ctx context.Context) {
	q.init()
	t := time.NewTicker(q.Interval)
	defer t.Stop()
	for {
		for {
			n, err := q.Work(ctx)
			if err != nil {
				if ctx.Err() == nil {
					q.Log.Warn("outbox: claiming due messages", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Describe implements prometheus.Collector.
func (q *Queue) Describe(ch chan<- *prometheus.Desc) {
	q.init()
	q.sent.Describe(ch)
	q.failed.Describe(ch)
	q.retries.Describe(ch)
	ch <- q.depth
}

// Collect implements prometheus.Collector: the counters of this node and
// the depth of the shared queue (skipped when storage does not answer).
func (q *Queue) Collect(ch chan<- prometheus.Metric) {
	q.init()
	q.sent.Collect(ch)
	q.failed.Collect(ch)
	q.retries.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := q.Store.MessageQueueStats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(q.depth, prometheus.GaugeValue, float64(st.Pending), "pending")
	ch <- prometheus.MustNewConstMetric(q.depth, prometheus.GaugeValue, float64(st.Dead), "dead")
}
