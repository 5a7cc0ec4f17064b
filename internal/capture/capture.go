// Package capture is the sender tests hand to code that sends e-mail or
// SMS (mail.Sender, sms.Sender, ...): it keeps every message, in order, so
// the test reads what would have gone out.
package capture

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// Box keeps the messages of type M it is sent; safe for concurrent
// senders. Its zero value is empty and ready.
type Box[M any] struct {
	mu   sync.Mutex
	msgs []M
}

// Send keeps m; it never fails.
func (b *Box[M]) Send(_ context.Context, m M) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, m)
	return nil
}

// All returns a copy of every message so far.
func (b *Box[M]) All() []M {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs)
}

// Len is how many messages were sent.
func (b *Box[M]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// Last returns the newest message, failing t when none was sent.
func (b *Box[M]) Last(t testing.TB) M {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.msgs) == 0 {
		t.Fatal("nothing was sent")
	}
	return b.msgs[len(b.msgs)-1]
}
