package push_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/push/pushtest"
	"github.com/spid-idp/spid-idp/storage"
)

func sign(t testing.TB, key *ecdsa.PrivateKey, id, decision string, number int) []byte {
	t.Helper()
	h := sha256.Sum256(push.DecisionMessage(id, decision, number))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// world is an identity with one push device and a pending challenge.
type world struct {
	*pushtest.Env
	identity, device string
	key              *ecdsa.PrivateKey
	c                push.Challenge
}

func newWorld(t *testing.T) *world {
	t.Helper()
	e := pushtest.New(t, false)
	w := &world{Env: e, identity: e.Identity()}
	w.device, w.key = e.PushDevice(w.identity)
	var err error
	w.c, err = e.Push.Create(context.Background(), w.identity, "flow-1", "Comune di Roma", 2)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) status(t *testing.T) push.Challenge {
	t.Helper()
	c, err := w.Push.Status(context.Background(), w.c.ID, "flow-1")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wrong(n int) int {
	if n == 99 {
		return 10
	}
	return n + 1
}

func TestPushCreate(t *testing.T) {
	w := newWorld(t)
	c := w.c
	if c.Number < 10 || c.Number > 99 {
		t.Errorf("number %d outside 10–99", c.Number)
	}
	if !slices.Contains(c.Options[:], c.Number) {
		t.Errorf("options %v do not contain the number %d", c.Options, c.Number)
	}
	seen := map[int]bool{}
	for _, o := range c.Options {
		if o < 10 || o > 99 || seen[o] {
			t.Errorf("options %v: want three distinct two-digit numbers", c.Options)
		}
		seen[o] = true
	}
	if c.Status != push.StatusPending || c.Expires.Sub(c.Created) != push.DefaultTTL {
		t.Errorf("status %q, life %v", c.Status, c.Expires.Sub(c.Created))
	}
	if !slices.Equal(c.DeviceIDs, []string{w.device}) {
		t.Errorf("devices %v", c.DeviceIDs)
	}
	if ev := w.LastAudit("push.create"); ev.Outcome != audit.Success || ev.Actor != w.identity || ev.Target != c.ID {
		t.Errorf("audit %+v", ev)
	}
}

// The number's position among the options is drawn, not fixed.
func TestPushOptionsShuffled(t *testing.T) {
	e := pushtest.New(t, false)
	e.Push.Limit = 1000
	id := e.Identity()
	e.PushDevice(id)
	pos := map[int]bool{}
	for range 60 {
		c, err := e.Push.Create(context.Background(), id, "f", "SP", 2)
		if err != nil {
			t.Fatal(err)
		}
		pos[slices.Index(c.Options[:], c.Number)] = true
	}
	if len(pos) != 3 {
		t.Errorf("the number appeared only at positions %v in 60 challenges", pos)
	}
}

func TestPushCreateNeedsActivePushDevice(t *testing.T) {
	e := pushtest.New(t, false)
	ctx := context.Background()
	id := e.Identity()
	if _, err := e.Push.Create(ctx, id, "f", "SP", 2); !errors.Is(err, push.ErrNoDevice) {
		t.Fatalf("no device: %v", err)
	}
	e.PendingDevice(id) // a TOTP device being activated
	dev, _ := e.PushDevice(id)
	e.SetDevice(dev, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
	if _, err := e.Push.Create(ctx, id, "f", "SP", 2); !errors.Is(err, push.ErrNoDevice) {
		t.Fatalf("only pending and revoked devices: %v", err)
	}
}

func TestPushPending(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	list, err := w.Push.Pending(ctx, w.device)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != w.c.ID {
		t.Fatalf("pending %+v", list)
	}
	if list[0].Number != 0 || list[0].FlowID != "" {
		t.Errorf("the app must not learn the number or the flow: %+v", list[0])
	}
	if list[0].Options != w.c.Options || list[0].SPName != "Comune di Roma" || list[0].Level != 2 {
		t.Errorf("pending %+v", list[0])
	}

	other := w.Identity()
	otherDev, _ := w.PushDevice(other)
	if list, err := w.Push.Pending(ctx, otherDev); err != nil || len(list) != 0 {
		t.Errorf("another identity's device sees %v, %v", list, err)
	}
	pending, _ := w.PendingDevice(w.identity)
	if list, err := w.Push.Pending(ctx, pending); err != nil || len(list) != 0 {
		t.Errorf("an unconfirmed device sees %v, %v", list, err)
	}
	if _, err := w.Push.Pending(ctx, "nope"); !errors.Is(err, push.ErrDevice) {
		t.Errorf("unknown device: %v", err)
	}
	w.Clock.Advance(push.DefaultTTL)
	if list, err := w.Push.Pending(ctx, w.device); err != nil || len(list) != 0 {
		t.Errorf("expired challenge still pending: %v, %v", list, err)
	}
	w.SetDevice(w.device, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
	if _, err := w.Push.Pending(ctx, w.device); !errors.Is(err, push.ErrDevice) {
		t.Errorf("revoked device: %v", err)
	}
}

func TestPushApprove(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.SetDevice(w.device, func(d *storage.Device) { d.FailedAttempts = 2 })
	sig := sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number)
	if err := w.Push.Decide(ctx, w.device, w.c.ID, true, w.c.Number, sig); err != nil {
		t.Fatal(err)
	}
	c := w.status(t)
	if c.Status != push.StatusApproved || c.DecidedBy != w.device || c.Reason != "" {
		t.Errorf("after approval: %+v", c)
	}
	if d := w.Device(w.device); d.LastUsedAt.IsZero() || d.FailedAttempts != 0 {
		t.Errorf("device after approval: %+v", d)
	}
	if ev := w.LastAudit("push.decide"); ev.Outcome != audit.Success || ev.Actor != w.identity ||
		ev.Details["device"] != w.device || ev.Details["decision"] != "approve" {
		t.Errorf("audit %+v", ev)
	}
	// The same approval again: a replay.
	err := w.Push.Decide(ctx, w.device, w.c.ID, true, w.c.Number, sig)
	if !errors.Is(err, push.ErrDecided) {
		t.Errorf("replayed approval: %v", err)
	}
	if ev := w.LastAudit("push.decide"); ev.Outcome != audit.Denied || ev.Details["reason"] != "already_decided" {
		t.Errorf("replay audit %+v", ev)
	}
	// Nor can a later denial undo it.
	err = w.Push.Decide(ctx, w.device, w.c.ID, false, 0, sign(t, w.key, w.c.ID, push.DecisionDeny, 0))
	if !errors.Is(err, push.ErrDecided) || w.status(t).Status != push.StatusApproved {
		t.Errorf("deny after approve: %v, %+v", err, w.status(t))
	}
}

func TestPushWrongNumber(t *testing.T) {
	w := newWorld(t)
	n := wrong(w.c.Number)
	err := w.Push.Decide(context.Background(), w.device, w.c.ID, true, n, sign(t, w.key, w.c.ID, push.DecisionApprove, n))
	if !errors.Is(err, push.ErrWrongNumber) {
		t.Fatalf("wrong number: %v", err)
	}
	if c := w.status(t); c.Status != push.StatusDenied || c.Reason != push.ReasonWrongNumber {
		t.Errorf("after a wrong number: %+v", c)
	}
	if d := w.Device(w.device); d.FailedAttempts != 1 {
		t.Errorf("failed attempts %d, want 1", d.FailedAttempts)
	}
	if ev := w.LastAudit("push.decide"); ev.Outcome != audit.Failure || ev.Details["reason"] != push.ReasonWrongNumber {
		t.Errorf("audit %+v", ev)
	}
	// The right number afterwards changes nothing.
	err = w.Push.Decide(context.Background(), w.device, w.c.ID, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number))
	if !errors.Is(err, push.ErrDecided) || w.status(t).Status != push.StatusDenied {
		t.Errorf("right number after wrong: %v", err)
	}
}

func TestPushDeny(t *testing.T) {
	w := newWorld(t)
	err := w.Push.Decide(context.Background(), w.device, w.c.ID, false, 0, sign(t, w.key, w.c.ID, push.DecisionDeny, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c := w.status(t); c.Status != push.StatusDenied || c.Reason != push.ReasonUserDenied {
		t.Errorf("after deny: %+v", c)
	}
	if ev := w.LastAudit("push.decide"); ev.Outcome != audit.Denied || ev.Details["reason"] != push.ReasonUserDenied {
		t.Errorf("audit %+v", ev)
	}
}

// Each refusal leaves the challenge pending and the device untouched.
func TestPushRefusals(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(w *world) (device string, approve bool, number int, sig []byte)
		want   error
		reason string
	}{
		{"forged signature: another key", func(w *world) (string, bool, int, []byte) {
			_, other := w.PushDevice(w.identity)
			return w.device, true, w.c.Number, sign(t, other, w.c.ID, push.DecisionApprove, w.c.Number)
		}, push.ErrBadSignature, "bad_signature"},
		{"signature of a denial presented as approval", func(w *world) (string, bool, int, []byte) {
			return w.device, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionDeny, w.c.Number)
		}, push.ErrBadSignature, "bad_signature"},
		{"signature of another number", func(w *world) (string, bool, int, []byte) {
			return w.device, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, wrong(w.c.Number))
		}, push.ErrBadSignature, "bad_signature"},
		{"signature of another challenge", func(w *world) (string, bool, int, []byte) {
			return w.device, true, w.c.Number, sign(t, w.key, "other", push.DecisionApprove, w.c.Number)
		}, push.ErrBadSignature, "bad_signature"},
		{"garbage signature", func(w *world) (string, bool, int, []byte) {
			return w.device, true, w.c.Number, []byte("not a signature")
		}, push.ErrBadSignature, "bad_signature"},
		{"device of another identity", func(w *world) (string, bool, int, []byte) {
			dev, key := w.PushDevice(w.Identity())
			return dev, true, w.c.Number, sign(t, key, w.c.ID, push.DecisionApprove, w.c.Number)
		}, push.ErrWrongDevice, "other_identity_or_device"},
		{"device added after the challenge", func(w *world) (string, bool, int, []byte) {
			dev, key := w.PushDevice(w.identity)
			return dev, true, w.c.Number, sign(t, key, w.c.ID, push.DecisionApprove, w.c.Number)
		}, push.ErrWrongDevice, "other_identity_or_device"},
		{"revoked device", func(w *world) (string, bool, int, []byte) {
			w.SetDevice(w.device, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
			return w.device, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number)
		}, push.ErrDevice, "device"},
		{"unknown device", func(w *world) (string, bool, int, []byte) {
			return "nope", true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number)
		}, push.ErrDevice, "device"},
		{"expired", func(w *world) (string, bool, int, []byte) {
			w.Clock.Advance(push.DefaultTTL)
			return w.device, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number)
		}, push.ErrExpired, "expired"},
		{"key sealed for another device", func(w *world) (string, bool, int, []byte) {
			other, _ := w.PushDevice(w.identity)
			moved := w.Device(other).PublicKey
			w.SetDevice(w.device, func(d *storage.Device) { d.PublicKey = moved })
			return w.device, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number)
		}, nil, "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			before := w.Device(w.device)
			dev, approve, number, sig := tc.setup(w)
			err := w.Push.Decide(context.Background(), dev, w.c.ID, approve, number, sig)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			c := w.status(t)
			if c.Status != push.StatusPending && c.Status != push.StatusExpired || c.DecidedBy != "" {
				t.Errorf("challenge changed: %+v", c)
			}
			if after := w.Device(w.device); after.FailedAttempts != before.FailedAttempts || !after.LastUsedAt.Equal(before.LastUsedAt) {
				t.Errorf("device changed: %+v", after)
			}
			if tc.reason != "error" {
				if ev := w.LastAudit("push.decide"); ev.Outcome != audit.Denied || ev.Details["reason"] != tc.reason {
					t.Errorf("audit %+v, want reason %s", ev, tc.reason)
				}
			}
		})
	}
}

func TestPushStatus(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.Push.Status(ctx, w.c.ID, "flow-2"); !errors.Is(err, push.ErrNotFound) {
		t.Errorf("another flow: %v", err)
	}
	if _, err := w.Push.Status(ctx, "nope", "flow-1"); !errors.Is(err, push.ErrNotFound) {
		t.Errorf("unknown challenge: %v", err)
	}
	if c := w.status(t); c.Number != w.c.Number {
		t.Errorf("the login page needs the number: %+v", c)
	}
	w.Clock.Advance(push.DefaultTTL)
	if c := w.status(t); c.Status != push.StatusExpired {
		t.Errorf("after expiry: %q", c.Status)
	}
}

func TestPushCancel(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.Push.Cancel(ctx, w.c.ID, "flow-2"); !errors.Is(err, push.ErrNotFound) {
		t.Errorf("cancel from another flow: %v", err)
	}
	if err := w.Push.Cancel(ctx, w.c.ID, "flow-1"); err != nil {
		t.Fatal(err)
	}
	if c := w.status(t); c.Status != push.StatusExpired || c.Reason != push.ReasonCancelled {
		t.Errorf("after cancel: %+v", c)
	}
	if list, _ := w.Push.Pending(ctx, w.device); len(list) != 0 {
		t.Errorf("cancelled challenge still offered: %v", list)
	}
	err := w.Push.Decide(ctx, w.device, w.c.ID, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number))
	if !errors.Is(err, push.ErrDecided) {
		t.Errorf("approve after cancel: %v", err)
	}
}

// C.10: at most 3 pushes per identity in any 10 minutes; the fourth is
// refused and audited; other identities are not affected.
func TestPushLimit(t *testing.T) {
	e := pushtest.New(t, false)
	ctx := context.Background()
	id := e.Identity()
	e.PushDevice(id)
	e.Clock.Advance(5 * time.Minute) // 09:05:05, so the pushes straddle the 09:10 bucket boundary
	for i := range 3 {
		if _, err := e.Push.Create(ctx, id, "f", "SP", 2); err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
		e.Clock.Advance(3 * time.Minute) // 09:05, 09:08, 09:11
	}
	if _, err := e.Push.Create(ctx, id, "f", "SP", 2); !errors.Is(err, push.ErrTooManyPushes) {
		t.Fatalf("4th push at 09:14: %v", err)
	}
	if ev := e.LastAudit("push.create"); ev.Outcome != audit.Denied || ev.Details["reason"] != "rate_limit" {
		t.Errorf("audit %+v", ev)
	}
	other := e.Identity()
	e.PushDevice(other)
	if _, err := e.Push.Create(ctx, other, "f", "SP", 2); err != nil {
		t.Errorf("another identity: %v", err)
	}
	e.Clock.Advance(61 * time.Second) // 09:15:06: the 09:05 push left the window
	if _, err := e.Push.Create(ctx, id, "f", "SP", 2); err != nil {
		t.Fatalf("after the first left the window: %v", err)
	}
	if _, err := e.Push.Create(ctx, id, "f", "SP", 2); !errors.Is(err, push.ErrTooManyPushes) {
		t.Fatalf("then the window is full again: %v", err)
	}
}

// Concurrent logins cannot exceed the limit, and of concurrent decisions
// on one challenge exactly one wins.
func TestPushConcurrent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.Push.Decide(ctx, w.device, w.c.ID, true, w.c.Number, sign(t, w.key, w.c.ID, push.DecisionApprove, w.c.Number))
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, push.ErrDecided) {
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d approvals succeeded, want 1", ok)
	}

	id := w.Identity()
	w.PushDevice(id)
	created := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.Push.Create(ctx, id, "f", "SP", 2)
			created <- err
		}()
	}
	wg.Wait()
	close(created)
	ok = 0
	for err := range created {
		if err == nil {
			ok++
		} else if !errors.Is(err, push.ErrTooManyPushes) {
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != push.DefaultLimit {
		t.Errorf("%d pushes created concurrently, want %d", ok, push.DefaultLimit)
	}
}

func TestPushParsePublicKey(t *testing.T) {
	if _, err := push.ParsePublicKey([]byte("junk")); err == nil {
		t.Error("junk accepted")
	}
}

// BenchmarkPushDecide is the IdP's share of a push login without HTTP:
// create, the device's signed approval, Decide, Status. The audit records
// go to SQLite with fsync, which dominates.
func BenchmarkPushDecide(b *testing.B) {
	e := pushtest.New(b, false)
	ctx := context.Background()
	id := e.Identity()
	dev, key := e.PushDevice(id)
	b.ReportAllocs()
	for b.Loop() {
		e.Clock.Advance(200 * time.Second) // within the 3-per-10-minutes limit
		c, err := e.Push.Create(ctx, id, "flow", "SP", 2)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Push.Decide(ctx, dev, c.ID, true, c.Number, sign(b, key, c.ID, push.DecisionApprove, c.Number)); err != nil {
			b.Fatal(err)
		}
		if got, err := e.Push.Status(ctx, c.ID, "flow"); err != nil || got.Status != push.StatusApproved {
			b.Fatal(err, got.Status)
		}
	}
}
