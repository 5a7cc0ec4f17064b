package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// storeTestOutbox: messages staged in a storage.Outbox commit in the same
// transaction as the state change made with its context, and only then: a
// change refused by its function, or one whose message cannot be stored,
// leaves neither; a transaction run again drops what the earlier run
// staged; a second write with the same context does not write them again.
func storeTestOutbox(t *testing.T, s storage.Store) {
	q, ok := s.(storage.MessageQueue)
	if !ok {
		t.Skip("this store keeps no message queue")
	}
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	msg := func(id string) storage.QueuedMessage {
		return storage.QueuedMessage{ID: id, Kind: "mail", Payload: []byte("sealed " + id), CreatedAt: now, NextAttempt: now}
	}
	pending := func() int64 {
		t.Helper()
		st, err := q.MessageQueueStats(ctx)
		storeMust(t, "MessageQueueStats", err)
		return st.Pending
	}
	e := storeEnrolment(1, "draft")
	storeMust(t, "CreateEnrolment", s.CreateEnrolment(ctx, e))

	// A refused change: nothing is enqueued, the state stays.
	refused := errors.New("refused by the transition")
	ob := &storage.Outbox{}
	octx := storage.WithOutbox(ctx, ob)
	err := s.UpdateEnrolment(octx, e.ID, func(e storage.Enrolment) (storage.Enrolment, error) {
		ob.Stage(msg("refused-1"))
		return e, refused
	})
	storeWantErr(t, "UpdateEnrolment(fn error)", err, refused)
	if n := pending(); n != 0 || ob.Committed() {
		t.Errorf("after a refused change: %d pending, committed %v; want none", n, ob.Committed())
	}

	// The change and its two messages (one staged before the update, one
	// inside it) commit together.
	ob = &storage.Outbox{}
	ob.Stage(msg("before"))
	octx = storage.WithOutbox(ctx, ob)
	runs := 0
	storeMust(t, "UpdateEnrolment with outbox", s.UpdateEnrolment(octx, e.ID, func(e storage.Enrolment) (storage.Enrolment, error) {
		runs++
		ob.Stage(msg(fmt.Sprintf("inside-%d", runs)))
		e.State = "awaiting_recognition"
		return e, nil
	}))
	if !ob.Committed() {
		t.Error("the outbox does not report its commit")
	}
	if got, _ := s.GetEnrolment(ctx, e.ID); got.State != "awaiting_recognition" {
		t.Errorf("state %q after the committed change", got.State)
	}
	ms, err := q.ClaimMessages(ctx, "node-a", now, time.Hour, 10)
	storeMust(t, "ClaimMessages", err)
	ids := map[string]bool{}
	for _, m := range ms {
		ids[m.ID] = true
	}
	if len(ms) != 2 || !ids["before"] || !ids[fmt.Sprintf("inside-%d", runs)] {
		t.Errorf("queued %v, want the message staged before and the one staged by the last run", ids)
	}
	// The same context again: the messages are not written twice.
	storeMust(t, "second update with the same context", s.UpdateEnrolment(octx, e.ID, func(e storage.Enrolment) (storage.Enrolment, error) {
		return e, nil
	}))
	if n := pending(); n != 2 {
		t.Errorf("%d pending after a second write with the same context, want 2", n)
	}

	// A message that cannot be stored (its ID is taken) undoes the change.
	ob = &storage.Outbox{}
	ob.Stage(msg("before"))
	err = s.UpdateEnrolment(storage.WithOutbox(ctx, ob), e.ID, func(e storage.Enrolment) (storage.Enrolment, error) {
		e.State = "rejected"
		return e, nil
	})
	storeWantErr(t, "UpdateEnrolment with a duplicate message", err, storage.ErrAlreadyExists)
	if got, _ := s.GetEnrolment(ctx, e.ID); got.State != "awaiting_recognition" {
		t.Errorf("state %q: the change committed without its message", got.State)
	}
	if ob.Committed() {
		t.Error("the failed outbox reports a commit")
	}

	// Lifecycle transitions (suspension, revocation) take it too.
	ls, ok := s.(storage.Lifecycles)
	if !ok {
		return
	}
	id := storeIdentity(7)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	storeMust(t, "CreateLifecycle", ls.CreateLifecycle(ctx, storage.IdentityLifecycle{IdentityID: id.ID, State: storage.IdentityActive}))
	ob = &storage.Outbox{}
	ob.Stage(msg("suspended"))
	err = ls.UpdateLifecycle(storage.WithOutbox(ctx, ob), id.ID, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		return l, i, refused
	})
	storeWantErr(t, "UpdateLifecycle(fn error)", err, refused)
	if n := pending(); n != 2 {
		t.Errorf("%d pending after a refused lifecycle change, want still 2", n)
	}
	ob = &storage.Outbox{}
	ob.Stage(msg("suspended"))
	storeMust(t, "UpdateLifecycle with outbox", ls.UpdateLifecycle(storage.WithOutbox(ctx, ob), id.ID,
		func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
			l.State = storage.IdentitySuspended
			return l, i, nil
		}))
	if n := pending(); n != 3 || !ob.Committed() {
		t.Errorf("%d pending (committed %v) after the suspension, want 3", n, ob.Committed())
	}
}
