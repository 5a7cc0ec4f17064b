package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/queue"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// gateway is a mail and SMS gateway shared by the nodes: it refuses while
// down and records every message it accepts.
type gateway struct {
	down     atomic.Bool
	refusals atomic.Int64
	mu       sync.Mutex
	got      map[string]int
}

func (g *gateway) accept(key string) error {
	if g.down.Load() {
		g.refusals.Add(1)
		return errors.New("gateway: connection refused")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got[key]++
	return nil
}

type gwMail struct{ g *gateway }

func (m gwMail) Send(_ context.Context, msg mail.Message) error {
	if msg.To == "bad" {
		return fmt.Errorf("%w: no recipient", mail.ErrInvalidMessage)
	}
	return m.g.accept("mail " + msg.To + " " + msg.Text)
}

type gwSMS struct{ g *gateway }

func (s gwSMS) Send(_ context.Context, msg sms.Message) error {
	return s.g.accept("sms " + msg.To + " " + msg.Text)
}

func sealer(t *testing.T) *datakey.Sealer {
	t.Helper()
	key, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestE112TwoNodesOnePostgres is spec E112 across a cluster: two nodes
// (their own connections to one PostgreSQL database) enqueue e-mail and
// SMS while the gateway is down; nothing is lost, and once it is back
// both nodes' workers deliver every message exactly once.
func TestE112TwoNodesOnePostgres(t *testing.T) {
	dsn, _ := testenv.PostgresSchema(t, "queue_")
	g := &gateway{got: map[string]int{}}
	g.down.Store(true)
	seal := sealer(t)
	var nodes []*queue.Queue
	for i := range 2 {
		st, err := postgres.Open(t.Context(), dsn, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		nodes = append(nodes, &queue.Queue{Store: st, Sealer: seal, Mail: gwMail{g}, SMS: gwSMS{g},
			Owner: fmt.Sprintf("node-%d", i), MaxAttempts: 1000, Interval: 20 * time.Millisecond,
			Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	}
	const perNode = 15
	want := map[string]int{}
	for i, q := range nodes {
		for j := range perNode {
			to, text := fmt.Sprintf("c%d-%d@example.it", i, j), fmt.Sprintf("message %d of node %d", j, i)
			// The gateway is down: the message is kept, the caller is not
			// told of a failure it cannot act on.
			if err := q.Mailer().Send(t.Context(), mail.Message{To: to, Subject: "s", Text: text}); err != nil {
				t.Fatalf("send while the gateway is down: %v", err)
			}
			want["mail "+to+" "+text] = 1
			phone := fmt.Sprintf("+39333%07d", i*100+j)
			if err := q.SMSer().Send(t.Context(), sms.Message{To: phone, Text: text}); err != nil {
				t.Fatalf("SMS while the gateway is down: %v", err)
			}
			want["sms "+phone+" "+text] = 1
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, q := range nodes {
		wg.Go(func() { q.Run(ctx) })
	}
	// Let the workers fail a few rounds, then bring the gateway back.
	for g.refusals.Load() < int64(len(want))*2 {
		time.Sleep(10 * time.Millisecond)
	}
	g.down.Store(false)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := nodes[0].Store.MessageQueueStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 {
			if st.Dead != 0 {
				t.Errorf("%d messages given up", st.Dead)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d messages pending a minute after the gateway came back", st.Pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, n := range g.got {
		if want[k] != n {
			t.Errorf("%q delivered %d times, want %d", k, n, want[k])
		}
	}
	for k := range want {
		if g.got[k] == 0 {
			t.Errorf("%q never delivered", k)
		}
	}
	var sent, retries float64
	for _, q := range nodes {
		sent += metric(t, q, "spid_idp_messages_sent_total")
		retries += metric(t, q, "spid_idp_message_retries_total")
	}
	if int(sent) != len(want) || retries < float64(len(want)) {
		t.Errorf("metrics: %v sent, %v retries; want %d sent and at least as many retries", sent, retries, len(want))
	}
}

// metric gathers q's metrics and returns the sum of the family name
// (counters or gauges) and how many series it has.
func metric(t *testing.T, q *queue.Queue, name string) float64 {
	v, _ := series(t, q, name)
	return v
}

func series(t *testing.T, q *queue.Queue, name string) (float64, int) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(q); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	var n int
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				n++
			}
		}
	}
	return total, n
}

// TestE112GivesUp: a message the gateway keeps refusing is retried, then
// dead after MaxAttempts and counted; one refused for good (a bad address)
// is dead at once and the caller hears of it.
func TestE112GivesUp(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/q.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := &gateway{got: map[string]int{}}
	g.down.Store(true)
	now := time.Now()
	q := &queue.Queue{Store: st, Sealer: sealer(t), Mail: gwMail{g}, SMS: gwSMS{g}, MaxAttempts: 3,
		Now: func() time.Time { return now }}
	if err := q.Mailer().Send(t.Context(), mail.Message{To: "bad", Subject: "s", Text: "t"}); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("a message refused for good: %v, want mail.ErrInvalidMessage", err)
	}
	if err := q.SMSer().Send(t.Context(), sms.Message{To: "+393330000000", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	for round := 2; round <= 3; round++ {
		// Not due before its backoff.
		if n, err := q.Work(t.Context()); err != nil || n != 0 {
			t.Fatalf("round %d before the backoff: %d claimed, %v", round, n, err)
		}
		now = now.Add(2 * time.Hour)
		if n, err := q.Work(t.Context()); err != nil || n != 1 {
			t.Fatalf("round %d: %d claimed, %v", round, n, err)
		}
	}
	now = now.Add(2 * time.Hour)
	if n, err := q.Work(t.Context()); err != nil || n != 0 {
		t.Errorf("after the last attempt: %d claimed, %v", n, err)
	}
	stats, err := st.MessageQueueStats(t.Context())
	if err != nil || stats.Pending != 0 || stats.Dead != 2 {
		t.Errorf("stats %+v, %v; want 2 dead", stats, err)
	}
	if g.refusals.Load() != 3 {
		t.Errorf("the gateway saw %d attempts, want 3", g.refusals.Load())
	}
	if dead, n := series(t, q, "spid_idp_messages_failed_total"); dead != 2 || n != 2 {
		t.Errorf("failed_total: %v over %d series, want 2 (mail and sms)", dead, n)
	}
	if depth, _ := series(t, q, "spid_idp_message_queue_depth"); depth != 2 {
		t.Errorf("queue depth (pending + dead): %v, want 2", depth)
	}
	var _ storage.MessageQueue = st
}
