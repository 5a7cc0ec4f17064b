package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/redis"
)

// testAddr returns the Redis the tests may use, or skips. CI greps for the
// skip message.
func testAddr(tb testing.TB) string {
	tb.Helper()
	return testenv.Redis(tb)
}

// newTestStore opens a store under a fresh random prefix and, when the test
// ends, deletes every key under it and closes the store. It also returns a
// raw client on the same server for tests that inspect keys.
func newTestStore(tb testing.TB) (*redis.Store, *goredis.Client, string) {
	tb.Helper()
	addr := testAddr(tb)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := "spid-test:" + hex.EncodeToString(b[:]) + ":"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, redis.Options{Addr: addr, KeyPrefix: prefix})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	raw := goredis.NewClient(&goredis.Options{Addr: addr})
	// Cleanups run last-registered first: delete keys, then close.
	tb.Cleanup(func() {
		_ = raw.Close()
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, k := range scanKeys(tb, raw, prefix) {
			if err := raw.Del(ctx, k).Err(); err != nil {
				tb.Errorf("cleanup: DEL %s: %v", k, err)
			}
		}
	})
	return s, raw, prefix
}

// scanKeys lists every key under prefix. The prefix is hex and colons, so it
// holds no glob characters.
func scanKeys(tb testing.TB, raw *goredis.Client, prefix string) []string {
	tb.Helper()
	var keys []string
	iter := raw.Scan(context.Background(), 0, prefix+"*", 100).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("SCAN %s*: %v", prefix, err)
	}
	return keys
}

func TestConformance(t *testing.T) {
	testAddr(t)
	conformance.RunEphemeral(t, func(t *testing.T) storage.Ephemeral {
		s, _, _ := newTestStore(t)
		return s
	})
	t.Run("Session/Protocols", func(t *testing.T) {
		s, _, _ := newTestStore(t)
		conformance.EphemeralSessionProtocols(t, s)
	})
}

// TestKeysPrefixedHashedAndExpiring checks what lands in Redis: every key
// under the prefix, every key with a TTL, and no session ID in clear.
func TestKeysPrefixedHashedAndExpiring(t *testing.T) {
	s, raw, prefix := newTestStore(t)
	ctx := t.Context()
	now := time.Now()
	const sessionID = "cookie-secret-8f3a1c"
	if err := s.CreateSession(ctx, storage.Session{ID: sessionID, IdentityID: "i", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSession(ctx, sessionID, func(s storage.Session) (storage.Session, error) {
		s.Level = 2
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRequestID(ctx, "https://sp.example.it|_abc", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "login:alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "login:alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateValue(ctx, "push:c1", []byte(`{"state":"pending"}`), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateValue(ctx, "push:c1", func([]byte) ([]byte, error) { return []byte(`{"state":"approved"}`), nil }); err != nil {
		t.Fatal(err)
	}

	keys := scanKeys(t, raw, prefix)
	if len(keys) != 4 {
		t.Fatalf("keys under the prefix = %q, want 4 (session, request ID, counter, value)", keys)
	}
	if v, err := raw.Get(ctx, prefix+"value:push:c1").Result(); err != nil || v != `{"state":"approved"}` {
		t.Errorf("value key %svalue:push:c1 = %q, %v; want the updated value as is", prefix, v, err)
	}
	for _, k := range keys {
		if strings.Contains(k, sessionID) {
			t.Errorf("key %q carries the session ID in clear", k)
		}
		val, _ := raw.Get(ctx, k).Result()
		if strings.Contains(val, sessionID) {
			t.Errorf("value of %q carries the session ID in clear", k)
		}
		ttl, err := raw.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		// An hour, give or take the test's own run time; -1 would mean no TTL.
		if ttl < 59*time.Minute || ttl > time.Hour {
			t.Errorf("key %q has TTL %s, want about 1h", k, ttl)
		}
	}
	// The same data under another prefix is invisible.
	other, _, _ := newTestStore(t)
	if _, err := other.GetSession(ctx, sessionID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a store with another prefix sees the session: %v", err)
	}
	if err := other.InsertRequestID(ctx, "https://sp.example.it|_abc", now.Add(time.Hour)); err != nil {
		t.Errorf("a store with another prefix sees the request ID: %v", err)
	}
}

// TestIncrHealsCounterWithoutTTL covers a counter key left without expiry
// (by an operator or an older version): the next Incr gives it the window.
func TestIncrHealsCounterWithoutTTL(t *testing.T) {
	s, raw, prefix := newTestStore(t)
	ctx := t.Context()
	if err := raw.Set(ctx, prefix+"counter:k", 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := s.Incr(ctx, "k", time.Minute)
	if err != nil || n != 8 {
		t.Fatalf("Incr = %d, %v; want 8, nil", n, err)
	}
	if ttl := raw.PTTL(ctx, prefix+"counter:k").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL after Incr = %s, want up to 1m", ttl)
	}
}

func TestCorruptData(t *testing.T) {
	s, raw, prefix := newTestStore(t)
	ctx := t.Context()
	const id = "corrupt-session"
	if err := s.CreateSession(ctx, storage.Session{ID: id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	keys := scanKeys(t, raw, prefix)
	if len(keys) != 1 {
		t.Fatalf("keys = %q, want one session key", keys)
	}
	if err := raw.Set(ctx, keys[0], "{not json", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetSession(ctx, id)
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession of corrupt data: err = %v, want a decode error", err)
	}
	if strings.Contains(err.Error(), id) {
		t.Errorf("error %q names the session ID", err)
	}
	called := false
	err = s.UpdateSession(ctx, id, func(s storage.Session) (storage.Session, error) { called = true; return s, nil })
	if err == nil || called {
		t.Errorf("UpdateSession of corrupt data: err = %v, fn called = %v; want an error, false", err, called)
	}

	if err := raw.Set(ctx, prefix+"counter:k", "not a number", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "k", time.Minute); err == nil {
		t.Error("Incr on a non-integer value: want an error")
	}
}

// TestValueWithoutTTL: a value key that someone else left without expiry is
// reported as such by GetValue and UpdateValue, never served or updated as
// if it would expire, nor overwritten by CreateValue.
func TestValueWithoutTTL(t *testing.T) {
	s, raw, prefix := newTestStore(t)
	ctx := t.Context()
	if err := raw.Set(ctx, prefix+"value:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.GetValue(ctx, "k")
	if err == nil || errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "no expiry") {
		t.Errorf("GetValue of a key without TTL: err = %v, want a no-expiry error", err)
	}
	called := false
	err = s.UpdateValue(ctx, "k", func(b []byte) ([]byte, error) { called = true; return b, nil })
	if err == nil || errors.Is(err, storage.ErrNotFound) || called {
		t.Errorf("UpdateValue of a key without TTL: err = %v, fn called = %v; want an error, false", err, called)
	}
	// CreateValue must not overwrite it (SET NX), whatever its state.
	if err := s.CreateValue(ctx, "k", []byte("w"), time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateValue over a key without TTL: err = %v, want ErrAlreadyExists", err)
	}
}

func TestValueWrongType(t *testing.T) {
	s, raw, prefix := newTestStore(t)
	ctx := t.Context()
	if err := raw.LPush(ctx, prefix+"value:k", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Expire(ctx, prefix+"value:k", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetValue(ctx, "k"); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetValue of a list: err = %v, want a type error", err)
	}
	called := false
	err := s.UpdateValue(ctx, "k", func(b []byte) ([]byte, error) { called = true; return b, nil })
	if err == nil || errors.Is(err, storage.ErrNotFound) || called {
		t.Errorf("UpdateValue of a list: err = %v, fn called = %v; want a type error, false", err, called)
	}
}

func TestCloseTwice(t *testing.T) {
	s, _, _ := newTestStore(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close: want an error")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestOpenUnreachable(t *testing.T) {
	addr := closedPort(t)
	const password = "hunter2-very-secret"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, redis.Options{Addr: addr, Username: "idp", Password: password})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open on a closed port succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, addr) {
		t.Errorf("error %q does not name the address %s", msg, addr)
	}
	if strings.Contains(msg, password) {
		t.Errorf("error %q contains the password", msg)
	}
}

func TestOpenWrongPassword(t *testing.T) {
	addr := testAddr(t)
	const password = "hunter2-very-secret"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, redis.Options{Addr: addr, Username: "no-such-user", Password: password})
	if err == nil {
		_ = s.Close()
		t.Skip("this Redis accepts any credentials")
	}
	if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, addr) {
		t.Errorf("error %q: want the address and not the password", msg)
	}
}

func TestOpenInvalidOptions(t *testing.T) {
	cases := map[string]redis.Options{
		"empty address":      {},
		"no port":            {Addr: "localhost"},
		"negative DB":        {Addr: "127.0.0.1:6379", DB: -1},
		"negative pool size": {Addr: "127.0.0.1:6379", PoolSize: -1},
	}
	for name, o := range cases {
		o.Password = "hunter2-very-secret"
		s, err := redis.Open(t.Context(), o)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), o.Password) {
			t.Errorf("%s: error %q contains the password", name, err)
		}
	}
}

func TestOptionsHidePassword(t *testing.T) {
	o := redis.Options{Addr: "redis.internal:6380", Username: "idp", Password: "hunter2-very-secret", DB: 2, KeyPrefix: "spid:", TLS: true}
	for _, s := range []string{o.String(), o.GoString()} {
		if strings.Contains(s, o.Password) {
			t.Errorf("%q shows the password", s)
		}
		if !strings.Contains(s, o.Addr) || !strings.Contains(s, "password=set") {
			t.Errorf("%q should name the address and say a password is set", s)
		}
	}
}

func BenchmarkInsertRequestID(b *testing.B) {
	s, _, _ := newTestStore(b)
	conformance.BenchInsertRequestID(b, s)
}

func BenchmarkGetSession(b *testing.B) {
	s, _, _ := newTestStore(b)
	conformance.BenchGetSession(b, s)
}

func BenchmarkCreateValue(b *testing.B) {
	s, _, _ := newTestStore(b)
	conformance.BenchCreateValue(b, s)
}

func BenchmarkGetValue(b *testing.B) {
	s, _, _ := newTestStore(b)
	conformance.BenchGetValue(b, s)
}

// TestSessionSizeConstantUnderSSO (issue 14 item 5): 2,000 joins of one SP
// leave the session hash at its fixed fields and one participant, and the
// key's memory where it was after the first join: a join rewrites one field,
// the session does not grow.
func TestSessionSizeConstantUnderSSO(t *testing.T) {
	s, raw, prefix := newTestStore(t)
	ctx := t.Context()
	now := time.Now()
	sess := storage.Session{ID: "sso-load", IdentityID: "i", Level: 1, AuthnInstant: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	join := func(i int) {
		t.Helper()
		p := storage.SessionParticipant{SPEntityID: "https://sp.example.it/metadata", NameID: fmt.Sprintf("_%040d", i),
			SessionIndex: fmt.Sprintf("_%080d", i), IssuedAt: time.Now()}
		if err := s.AddParticipant(ctx, sess.ID, p, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("AddParticipant %d: %v", i, err)
		}
	}
	join(0)
	keys := scanKeys(t, raw, prefix)
	if len(keys) != 1 {
		t.Fatalf("keys = %q, want the session alone", keys)
	}
	before, err := raw.MemoryUsage(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 2000; i++ {
		join(i)
	}
	if n := raw.HLen(ctx, keys[0]).Val(); n != 3 { // m, x and the SP
		t.Errorf("after 2,000 joins of one SP the hash has %d fields, want 3", n)
	}
	after, err := raw.MemoryUsage(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("session key uses %d bytes after 2,000 joins, %d after the first", after, before)
	}
}
