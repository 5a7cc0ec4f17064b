package otp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage/redis"
)

// TestSMSConcurrentVerifyRedis runs the single-use race on Redis, whose
// UpdateValue retries fn under WATCH: the outcome must come from the run
// that committed.
func TestSMSConcurrentVerifyRedis(t *testing.T) {
	addr := testenv.Redis(t)
	var b [8]byte
	rand.Read(b[:])
	ctx := context.Background()
	store, err := redis.Open(ctx, redis.Options{Addr: addr, KeyPrefix: "spid-test-otp:" + hex.EncodeToString(b[:]) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	idID := "id-" + hex.EncodeToString(b[:])
	txID := "tx-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		// Leave nothing behind but what expires by itself.
		store.ResetCounter(context.Background(), "sms-sent-tx:"+txID)
		store.ResetCounter(context.Background(), "sms-sent-identity:"+idID)
		store.Close()
	})
	box := &outbox{}
	s := &SMSCodes{Values: store, Sender: box, Host: "login.example.it", Counters: store}
	if err := s.Send(ctx, txID, idID, mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	code := box.code(t)
	wrong := otherCode(code)

	var wins, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 30 {
		wg.Go(func() {
			<-start
			try := code
			if i == 0 || i == 15 { // two wrong guesses (not three: that voids the code) race the right ones
				try = wrong
			}
			switch err := s.Verify(ctx, txID, try); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrNoCode), errors.Is(err, ErrWrongCode), errors.Is(err, ErrTooManyTries):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || refused.Load() != 29 {
		t.Fatalf("%d successes, %d refusals; want 1 and 29", wins.Load(), refused.Load())
	}
	if err := s.Verify(ctx, txID, code); !errors.Is(err, ErrNoCode) {
		t.Fatalf("after use: %v", err)
	}
}
