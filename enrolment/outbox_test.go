package enrolment

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/queue"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
)

// flakyMail is a mail gateway that can be down.
type flakyMail struct {
	box  *mailbox
	down atomic.Bool
}

func (m *flakyMail) Send(ctx context.Context, msg mail.Message) error {
	if m.down.Load() {
		return errors.New("relay down")
	}
	return m.box.Send(ctx, msg)
}

type noSMS struct{}

func (noSMS) Send(context.Context, sms.Message) error { return errors.New("no SMS in this test") }

// TestDecisionMailCommitsWithTheDecision: with the durable queue, the
// rejection e-mail is written in the rejection's own transaction: a
// refused rejection queues nothing, a stored one has its e-mail (with the
// correction link) queued and tried at once, and kept in the queue when
// the relay is down.
func TestDecisionMailCommitsWithTheDecision(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	key, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	mq := f.st.(storage.MessageQueue)
	relay := &flakyMail{box: &mailbox{}}
	q := &queue.Queue{Store: mq, Sealer: sealer, Mail: relay, SMS: noSMS{}, Owner: "node-a", Log: slog.New(slog.DiscardHandler)}
	// The request first, through the test mailbox the helpers read.
	e := f.queued(t)
	f.svc.Mail = q.Mailer()
	pending := func() int64 {
		t.Helper()
		st, err := mq.MessageQueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Pending
	}
	ver := f.operator(t, "ver", RoleVerifier)

	// Relay down: asking for documents commits with its e-mail left in the
	// queue, which a worker delivers later.
	relay.down.Store(true)
	must(t, "AskDocuments", f.svc.AskDocuments(ctx, e.ID, ver, []string{"codice fiscale"}))
	if n := pending(); n != 1 {
		t.Errorf("%d pending with the relay down, want the documents e-mail", n)
	}
	if cur, _ := f.st.GetEnrolment(ctx, e.ID); cur.State != string(StateAwaitingDocuments) {
		t.Errorf("state %s", cur.State)
	}
	relay.down.Store(false)
	q.Now = func() time.Time { return time.Now().Add(time.Hour) } // past the lease and the backoff
	if _, err := q.Work(ctx); err != nil {
		t.Fatal(err)
	}
	if got := relay.box.all(); len(got) != 1 || !strings.Contains(got[0].Subject, "documenti richiesti") {
		t.Fatalf("the worker delivered %+v", got)
	}
	q.Now = nil
	if _, err := f.svc.DocumentsReceived(ctx, e.ID, "applicant"); err != nil {
		t.Fatal(err)
	}

	video := "op-video1" // recognised it: four eyes refuse its decision
	if err := f.svc.Reject(ctx, e.ID, video, []Reason{{Code: "document_illegible"}}); err == nil {
		t.Fatal("the recognising operator rejected the request")
	}
	if n, got := pending(), relay.box.all(); n != 0 || len(got) != 1 {
		t.Fatalf("after a refused rejection: %d pending, %d sent", n, len(got))
	}

	must(t, "Reject", f.svc.Reject(ctx, e.ID, ver, []Reason{{Code: "document_illegible"}}))
	got := relay.box.all()
	if len(got) != 2 || got[1].To != "mario.rossi@example.it" || !strings.Contains(got[1].Subject, "respinta") {
		t.Fatalf("sent %+v, want the rejection e-mail", got)
	}
	// The correction link in it was made before the rejection and kept.
	if !strings.Contains(got[1].Text, "https://idp.example.it"+PathCorrect+"?token=") {
		t.Errorf("no correction link in the rejection e-mail: %s", got[1].Text)
	}
	if n := pending(); n != 0 {
		t.Errorf("%d pending after delivery", n)
	}
}
