package storage

import (
	"context"
	"sync"
)

// Outbox is the transactional outbox of one state change: the e-mail and
// SMS that announce it, written by the store in the same transaction as
// the change, so a crash between the two can neither lose a message for a
// change that happened nor leave one for a change that did not.
//
// A caller makes one per change, attaches it to the context of the update
// with WithOutbox, and stages the messages (notify/queue does, when its
// senders are called with that context), before the update or inside the
// update's function. The first write transaction of a MessageQueue store
// run with that context inserts the staged messages before it commits;
// when the transaction runs its function again (a serialisation retry),
// the messages staged by the earlier run are dropped first. After the
// update returned nil, Committed reports true and the messages are in the
// queue; after an error nothing of them was stored.
//
// Only stores that keep a MessageQueue honour it (the SQL stores). The
// Redis cache keeps no durable state and no queue.
type Outbox struct {
	mu        sync.Mutex
	msgs      []QueuedMessage
	deliver   map[string]func(context.Context) // by message ID
	taken     bool                             // a write transaction is writing the messages
	committed bool
}

type outboxKey struct{}

// WithOutbox returns ctx carrying o for the next write transaction.
func WithOutbox(ctx context.Context, o *Outbox) context.Context {
	return context.WithValue(ctx, outboxKey{}, o)
}

// OutboxFrom returns the outbox ctx carries, or nil.
func OutboxFrom(ctx context.Context) *Outbox {
	o, _ := ctx.Value(outboxKey{}).(*Outbox)
	return o
}

// Stage adds m to the messages the transaction will write.
func (o *Outbox) Stage(m QueuedMessage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
}

// StageWithDelivery is Stage, and deliver is what Deliver runs for m once
// it is committed (the stager's immediate first attempt).
func (o *Outbox) StageWithDelivery(m QueuedMessage, deliver func(context.Context)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	if o.deliver == nil {
		o.deliver = map[string]func(context.Context){}
	}
	o.deliver[m.ID] = deliver
}

// Deliver makes the first delivery attempt of each committed message
// staged with one, once; it does nothing unless the change committed. The
// caller runs it after the update returned: a node that dies first leaves
// the messages to the queue's workers.
func (o *Outbox) Deliver(ctx context.Context) {
	o.mu.Lock()
	if !o.committed {
		o.mu.Unlock()
		return
	}
	var run []func(context.Context)
	for _, m := range o.msgs {
		if f := o.deliver[m.ID]; f != nil {
			run = append(run, f)
			delete(o.deliver, m.ID)
		}
	}
	o.mu.Unlock()
	for _, f := range run {
		f(ctx)
	}
}

// Messages are the staged messages, in staging order.
func (o *Outbox) Messages() []QueuedMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]QueuedMessage(nil), o.msgs...)
}

// Committed reports whether a transaction stored the messages.
func (o *Outbox) Committed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.committed
}

// OutboxTx is what a store's write transaction does with the outbox of
// its context: Take it before the first run (false: none, or another
// transaction has it), Rewind before each run, Messages after the
// function, then Done with the outcome.
type OutboxTx struct {
	o    *Outbox
	base int // messages staged before the transaction began
}

// TakeOutbox claims ctx's outbox for one write transaction.
func TakeOutbox(ctx context.Context) (*OutboxTx, bool) {
	o := OutboxFrom(ctx)
	if o == nil {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.taken || o.committed {
		return nil, false
	}
	o.taken = true
	return &OutboxTx{o: o, base: len(o.msgs)}, true
}

// Rewind drops what an earlier run of the transaction's function staged.
func (t *OutboxTx) Rewind() {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	t.o.msgs = t.o.msgs[:t.base]
}

// Messages are the messages to insert now.
func (t *OutboxTx) Messages() []QueuedMessage { return t.o.Messages() }

// Done records the transaction's outcome; after a failure the outbox may
// be taken again.
func (t *OutboxTx) Done(err error) {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	t.o.taken = false
	t.o.committed = err == nil
	if err != nil {
		t.o.msgs = t.o.msgs[:t.base]
	}
}
