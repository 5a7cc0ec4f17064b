package register

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Queue writes records off the request path: Enqueue seals the entry and
// returns; one goroutine commits what has queued up in one transaction
// (group commit), so a burst of requests costs one commit. It records the
// messages whose answer does not wait for them (an incoming AuthnRequest,
// the logout messages); a Response goes through Register.Record, durable
// before it is answered. Each node's queue is drained within milliseconds
// and on shutdown; a node that dies loses at most what it had not
// committed yet, and Failed counts what could not be written.
type Queue struct {
	mu     sync.RWMutex // Close takes it to stop Enqueue sending on a closed channel
	closed bool
	r      *Register
	ch     chan item
	done   chan struct{}
	batch  int
}

type item struct {
	rec   storage.RegisterRecord
	flush chan error // set on a flush marker
}

// QueueSize bounds what waits for the writer; Enqueue beyond it writes
// synchronously rather than dropping a record.
const QueueSize = 4096

// NewQueue starts the writer; Close stops it after writing what is queued.
func (r *Register) NewQueue() *Queue {
	q := &Queue{r: r, ch: make(chan item, QueueSize), done: make(chan struct{}), batch: 256}
	go q.run()
	return q
}

// Enqueue seals e and queues it. An error means it was not queued (sealing
// failed, or the queue was full and the direct write failed).
func (q *Queue) Enqueue(ctx context.Context, e Entry) error {
	rec, err := q.r.Seal(e)
	if err != nil {
		return err
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if !q.closed {
		select {
		case q.ch <- item{rec: rec}:
			return nil
		default:
		}
	}
	_, err = q.r.Store.AppendRegister(ctx, []storage.RegisterRecord{rec}, nil)
	return err
}

// Flush waits until everything queued before it is committed.
func (q *Queue) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return nil
	}
	select {
	case q.ch <- item{flush: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the writer.
func (q *Queue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	<-q.done
}

func (q *Queue) run() {
	defer close(q.done)
	for first := range q.ch {
		recs, flushes := q.collect(first)
		err := q.write(recs)
		for _, f := range flushes {
			f <- err
		}
	}
}

// collect takes first and whatever else is already waiting, up to a batch.
func (q *Queue) collect(first item) ([]storage.RegisterRecord, []chan error) {
	var recs []storage.RegisterRecord
	var flushes []chan error
	add := func(it item) {
		if it.flush != nil {
			flushes = append(flushes, it.flush)
		} else {
			recs = append(recs, it.rec)
		}
	}
	add(first)
	for len(recs) < q.batch {
		select {
		case it, ok := <-q.ch:
			if !ok {
				return recs, flushes
			}
			add(it)
		default:
			return recs, flushes
		}
	}
	return recs, flushes
}

// write commits a batch, retrying a failing store for about a minute (an
// outage answers 503 elsewhere; the records wait here meanwhile).
func (q *Queue) write(recs []storage.RegisterRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var err error
	for attempt := range 12 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// Nobody waits for these records: their commit need not wait for
		// the disk either; the next synced one (a Response's) covers it.
		_, err = q.r.Store.AppendRegister(storage.SyncLater(ctx), recs, nil)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	if q.r.Log != nil {
		q.r.Log.Error("transaction register: records could not be written", "records", len(recs), "err", err)
	}
	return errors.Join(errors.New("register: queued records not written"), err)
}
