package redisserver

import (
	"context"
	"testing"
	"time"
)

func TestRestartLosesKeysAndFreezeHangs(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	if got, err := s.Do(ctx, "SET", "k", "v"); err != nil || got != "+OK" {
		t.Fatalf("SET: %q, %v", got, err)
	}
	s.Restart()
	if got, err := s.Do(ctx, "GET", "k"); err != nil || got != "$-1" {
		t.Fatalf("GET after a restart without persistence: %q, %v (want nil)", got, err)
	}
	s.Freeze()
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if got, err := s.Do(fctx, "PING"); err == nil {
		t.Fatalf("a frozen server answered %q", got)
	}
	s.Thaw()
	if got, err := s.Do(ctx, "PING"); err != nil || got != "+PONG" {
		t.Fatalf("after thaw: %q, %v", got, err)
	}
}
