package audit

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
)

// chain is an in-memory log used to test the logger and the verifier in
// isolation; the storage backends run their own suite against real databases.
type chain struct {
	mu  sync.Mutex
	evs []storage.AuditEvent
}

func (c *chain) AppendAudit(_ context.Context, ev storage.AuditEvent) (storage.AuditEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var prev *storage.AuditEvent
	if n := len(c.evs); n > 0 {
		prev = &c.evs[n-1]
	}
	ev = storage.ChainAudit(prev, ev)
	c.evs = append(c.evs, ev)
	return ev, nil
}

func (c *chain) ListAudit(_ context.Context, after int64, limit int) ([]storage.AuditEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []storage.AuditEvent
	for _, ev := range c.evs {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func filled(t *testing.T, n int) *chain {
	t.Helper()
	c := &chain{}
	l := &Logger{Store: c}
	for i := 0; i < n; i++ {
		err := l.Record(context.Background(), storage.AuditEvent{Actor: "u", Action: "login", Outcome: Success,
			Details: map[string]string{"i": strings.Repeat("x", i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestRecordFillsContextAndScrubsSecrets(t *testing.T) {
	c := &chain{}
	l := &Logger{Store: c, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	ctx := requestctx.WithClientIP(requestctx.WithID(context.Background(), "req-1"), "192.0.2.7")
	err := l.Record(ctx, storage.AuditEvent{Actor: "id-1", Action: "login", Outcome: Failure, Details: map[string]string{
		"password": "hunter2", "OTP": "123456", "session_key": "abc", "reason": "wrong password",
	}})
	if err != nil {
		t.Fatal(err)
	}
	ev := c.evs[0]
	if ev.RequestID != "req-1" || ev.Details["client_ip"] != "192.0.2.7" || !ev.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("context not recorded: %+v", ev)
	}
	for _, k := range []string{"password", "OTP", "session_key"} {
		if _, ok := ev.Details[k]; ok {
			t.Errorf("secret detail %q was recorded", k)
		}
	}
	if ev.Details["reason"] != "wrong password" {
		t.Errorf("ordinary detail lost: %v", ev.Details)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(c *chain)
		wantSeq int64
		want    string
	}{
		{name: "intact", tamper: func(*chain) {}},
		{name: "modified", tamper: func(c *chain) { c.evs[4].Outcome = Failure }, wantSeq: 5, want: "modified"},
		{name: "detail modified", tamper: func(c *chain) { c.evs[2].Details["i"] = "y" }, wantSeq: 3, want: "modified"},
		{name: "removed", tamper: func(c *chain) { c.evs = append(c.evs[:3], c.evs[4:]...) }, wantSeq: 5, want: "removed"},
		{name: "rewritten and rehashed", tamper: func(c *chain) {
			c.evs[6].Actor = "mallory"
			c.evs[6].Hash = storage.AuditHash(c.evs[6])
		}, wantSeq: 8, want: "previous-hash"},
		{name: "reordered", tamper: func(c *chain) {
			c.evs[2], c.evs[3] = c.evs[3], c.evs[2]
		}, wantSeq: 4, want: "removed or reordered"},
		{name: "renumbered after removal", tamper: func(c *chain) {
			c.evs = append(c.evs[:1], c.evs[2:]...)
			for i := range c.evs {
				c.evs[i].Seq = int64(i + 1)
			}
		}, wantSeq: 2, want: "previous-hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := filled(t, 10)
			tt.tamper(c)
			res, err := Verify(context.Background(), c, 3) // small pages cross page boundaries
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSeq == 0 {
				if res.First != nil || res.Records != 10 {
					t.Fatalf("intact chain reported %+v", res)
				}
				return
			}
			if res.First == nil {
				t.Fatalf("tampering not detected")
			}
			if res.First.Seq != tt.wantSeq || !strings.Contains(res.First.Error(), tt.want) {
				t.Fatalf("got %v, want record %d with %q", res.First, tt.wantSeq, tt.want)
			}
		})
	}
}
