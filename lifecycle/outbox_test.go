package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/queue"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// gateway records what reached the mail and SMS gateways; down makes
// every delivery fail.
type gateway struct {
	mu   sync.Mutex
	to   []string
	down bool
}

func (g *gateway) deliver(to string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		return errors.New("gateway down")
	}
	g.to = append(g.to, to)
	return nil
}

type gwMail struct{ g *gateway }

func (m gwMail) Send(_ context.Context, msg mail.Message) error { return m.g.deliver(msg.To) }

type gwSMS struct{ g *gateway }

func (s gwSMS) Send(_ context.Context, msg sms.Message) error { return s.g.deliver(msg.To) }

func (g *gateway) sent() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.to...)
}

// TestNoticesCommitWithTheTransition: with the durable queue, a
// transition's notices are written in the transition's own transaction
// (storage.Outbox): a refused transition queues nothing; a committed one
// has its e-mail and SMS in the queue, tried at once, and kept for the
// workers when the gateway is down, so the change is never announced
// without having happened nor happens unannounced.
func TestNoticesCommitWithTheTransition(t *testing.T) {
	e := newEnv(t)
	key, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	gw := &gateway{}
	q := &queue.Queue{Store: e.st, Sealer: sealer, Mail: gwMail{gw}, SMS: gwSMS{gw}, Owner: "node-a"}
	notifier := lifecycle.MailSMS{Mail: q.Mailer(), SMS: q.SMSer()}
	if !notifier.Stages() {
		t.Fatal("the queue's senders do not stage into the outbox")
	}
	e.svc.Notifier = notifier
	pending := func() int64 {
		t.Helper()
		st, err := e.st.MessageQueueStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Pending
	}

	id := e.identity(1, "")
	e.suspendByHolder(id)
	if got := gw.sent(); len(got) != 2 || got[0] != "u1@example.it" || got[1] != "+393331234567" {
		t.Errorf("delivered to %v, want the e-mail and the SMS of the suspension", got)
	}
	if n := pending(); n != 0 {
		t.Errorf("%d messages left pending after delivery", n)
	}
	if ev := e.lastAudit("lifecycle.notice", id); ev.Outcome != "success" || ev.Details["queued"] != "with the change" {
		t.Errorf("notice audit %+v", ev)
	}

	// A refused transition (already suspended): nothing queued or sent.
	_, err = e.svc.Suspend(t.Context(), id, lifecycle.SuspendRequest{Actor: holderOf(id),
		Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal})
	if !errors.Is(err, lifecycle.ErrTransition) {
		t.Fatalf("second suspension: %v", err)
	}
	if n, got := pending(), gw.sent(); n != 0 || len(got) != 2 {
		t.Errorf("after a refused transition: %d pending, delivered %v", n, got)
	}

	// The gateway down: the suspension commits and its two messages stay
	// in the queue for the workers.
	other := e.identity(2, "")
	gw.mu.Lock()
	gw.down = true
	gw.mu.Unlock()
	e.suspendByHolder(other)
	e.state(other, storage.IdentitySuspended)
	if n := pending(); n != 2 {
		t.Errorf("%d pending with the gateway down, want the suspension's 2", n)
	}
}
