package otp

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage/memory"
)

// clock is a time the test moves by hand.
type clock = testclock.Clock

// outbox records what was sent.
type outbox struct {
	mu   sync.Mutex
	msgs []sms.Message
	fail error
}

func (o *outbox) Send(ctx context.Context, m sms.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.msgs = append(o.msgs, m)
	return nil
}

var lastLine = regexp.MustCompile(`\n@login\.example\.it #([0-9]{6})$`)

// code is the code in the last message sent.
func (o *outbox) code(t *testing.T) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == 0 {
		t.Fatal("no SMS sent")
	}
	m := lastLine.FindStringSubmatch(o.msgs[len(o.msgs)-1].Text)
	if m == nil {
		t.Fatalf("SMS text does not end with @host #code: %q", o.msgs[len(o.msgs)-1].Text)
	}
	return m[1]
}

func (o *outbox) count() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.msgs) }

func newCodes(t *testing.T) (*SMSCodes, *outbox, *clock) {
	t.Helper()
	c := testclock.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	store := memory.New(memory.WithClock(c.Now), memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	box := &outbox{}
	return &SMSCodes{Values: store, Sender: box, Host: "login.example.it", Now: c.Now, Counters: store}, box, c
}

const mobile = "+393331234567"

// otherCode is a well-formed code different from code.
func otherCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestSMSSendAndVerify(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeActivateApp); err != nil {
		t.Fatal(err)
	}
	if box.msgs[0].To != mobile {
		t.Fatalf("sent to %q", box.msgs[0].To)
	}
	text := box.msgs[0].Text
	code := box.code(t)
	if !strings.HasPrefix(text, "Codice SPID per attivare l'app: "+code+".") {
		t.Fatalf("text: %q", text)
	}
	for _, link := range []string{"http", "://", "www.", "spid.gov"} {
		if strings.Contains(strings.ToLower(text), link) {
			t.Fatalf("SMS text holds a link (%q): %q", link, text)
		}
	}
	// Nothing but the last line names a host.
	if strings.Count(text, "login.example.it") != 1 {
		t.Fatalf("host appears outside the last line: %q", text)
	}
	if err := s.Verify(ctx, "tx1", code); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := s.Verify(ctx, "tx1", code); !errors.Is(err, ErrNoCode) {
		t.Fatalf("second use: %v, want ErrNoCode", err)
	}
}

func TestSMSText(t *testing.T) {
	for purpose := range purposeText {
		text := smsText(purpose, "login.example.it", "123456")
		if n := utf8.RuneCountInString(text); n > 160 {
			t.Errorf("%s: %d characters, more than one SMS: %q", purpose, n, text)
		}
		if !strings.HasSuffix(text, "\n@login.example.it #123456") {
			t.Errorf("%s: %q", purpose, text)
		}
	}
	if got := smsText("unknown", "h.example", "000111"); !strings.HasPrefix(got, "Il tuo codice SPID è 000111.") {
		t.Errorf("unknown purpose: %q", got)
	}
}

func TestSMSSendLimits(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	for i := range 3 {
		if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); !errors.Is(err, ErrTooManySends) {
		t.Fatalf("4th send in a transaction: %v", err)
	}
	if box.count() != 3 {
		t.Fatalf("%d SMS sent, want 3", box.count())
	}
	// The code of the 3rd send still works after the refused 4th.
	if err := s.Verify(ctx, "tx1", box.code(t)); err != nil {
		t.Fatal(err)
	}

	// Per identity per day: 10 across transactions (3 already used).
	sent := 3
	for tx := 2; sent < 10; tx++ {
		for i := 0; i < 3 && sent < 10; i++ {
			if err := s.Send(ctx, "tx"+string(rune('0'+tx)), "id-1", mobile, PurposeLogin); err != nil {
				t.Fatalf("send %d: %v", sent+1, err)
			}
			sent++
		}
	}
	if err := s.Send(ctx, "tx-new", "id-1", mobile, PurposeLogin); !errors.Is(err, ErrTooManySends) {
		t.Fatalf("11th send of the day: %v", err)
	}
	// Another identity is not affected.
	if err := s.Send(ctx, "tx-other", "id-2", "+393339999999", PurposeLogin); err != nil {
		t.Fatal(err)
	}
	if box.count() != 11 {
		t.Fatalf("%d SMS sent, want 11", box.count())
	}
}

func TestSMSHourlyLimit(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newCodes(t)
	s.HourlyLimit = 2
	for i, id := range []string{"a", "b"} {
		if err := s.Send(ctx, "tx-"+id, id, mobile, PurposeLogin); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := s.Send(ctx, "tx-c", "c", mobile, PurposeLogin); !errors.Is(err, ErrTooManySends) {
		t.Fatalf("over the hourly cap: %v", err)
	}
}

func TestSMSResendReplaces(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	first := box.code(t)
	var second string
	for second == "" || second == first { // two equal codes in a row: 1 in a million
		if box.count() >= 3 {
			t.Skip("three equal random codes")
		}
		if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
			t.Fatal(err)
		}
		second = box.code(t)
	}
	if err := s.Verify(ctx, "tx1", first); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("old code after a resend: %v", err)
	}
	if err := s.Verify(ctx, "tx1", second); err != nil {
		t.Fatalf("new code: %v", err)
	}
}

func TestSMSBoundToTransaction(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "txA", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	codeA := box.code(t)
	if err := s.Verify(ctx, "txB", codeA); !errors.Is(err, ErrNoCode) {
		t.Fatalf("code of A in B (no code in B): %v", err)
	}
	if err := s.Send(ctx, "txB", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	if box.code(t) != codeA {
		if err := s.Verify(ctx, "txB", codeA); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("code of A in B: %v", err)
		}
	}
	if err := s.Verify(ctx, "txA", codeA); err != nil {
		t.Fatalf("code of A in A: %v", err)
	}
	if err := s.Verify(ctx, "", codeA); !errors.Is(err, ErrNoCode) {
		t.Fatalf("empty transaction: %v", err)
	}
}

func TestSMSExpiry(t *testing.T) {
	ctx := context.Background()
	s, box, clk := newCodes(t)
	if err := s.Send(ctx, "late", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	late := box.code(t)
	if err := s.Send(ctx, "intime", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	intime := box.code(t)

	clk.Advance(SMSCodeTTL - time.Second)
	if err := s.Verify(ctx, "intime", intime); err != nil {
		t.Fatalf("at 4:59: %v", err)
	}
	clk.Advance(2 * time.Second) // 5 min + 1 s
	if err := s.Verify(ctx, "late", late); !errors.Is(err, ErrExpired) {
		t.Fatalf("at 5:01: %v, want ErrExpired", err)
	}
	clk.Advance(time.Hour)
	if err := s.Verify(ctx, "late", late); !errors.Is(err, ErrNoCode) {
		t.Fatalf("an hour later: %v, want ErrNoCode", err)
	}
	// A resend after expiry gives a working code.
	if err := s.Send(ctx, "late", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx, "late", box.code(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSMSTriesVoidTheCode(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	code := box.code(t)
	wrong := otherCode(code)
	var we *WrongCodeError

	// Malformed input is answered like a wrong code but spends no try.
	for _, bad := range []string{"", "12345", "1234567", "12a456", "１２３４５６", code + " "} {
		if err := s.Verify(ctx, "tx1", bad); !errors.As(err, &we) || we.TriesLeft != 3 {
			t.Fatalf("malformed %q: %v", bad, err)
		}
	}
	for left := 2; left >= 1; left-- {
		err := s.Verify(ctx, "tx1", wrong)
		if !errors.Is(err, ErrWrongCode) || !errors.As(err, &we) || we.TriesLeft != left {
			t.Fatalf("wrong code: %v, want %d tries left", err, left)
		}
	}
	if err := s.Verify(ctx, "tx1", wrong); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("3rd wrong code: %v", err)
	}
	if err := s.Verify(ctx, "tx1", code); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("right code after 3 wrong ones: %v", err)
	}
	// A new code (within the send limits) starts over.
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx, "tx1", box.code(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSMSVerifyFor(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeActivateApp); err != nil {
		t.Fatal(err)
	}
	code := box.code(t)
	if err := s.VerifyFor(ctx, "tx1", PurposeRecoverPassword, code); !errors.Is(err, ErrNoCode) {
		t.Fatalf("other purpose: %v", err)
	}
	if err := s.VerifyFor(ctx, "tx1", PurposeActivateApp, code); err != nil {
		t.Fatalf("right purpose (after a mismatch that spent no try): %v", err)
	}
}

func TestSMSConcurrentVerify(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	code := box.code(t)
	var wins, noCode atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			switch err := s.Verify(ctx, "tx1", code); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrNoCode):
				noCode.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || noCode.Load() != 49 {
		t.Fatalf("%d successes, %d ErrNoCode; want 1 and 49", wins.Load(), noCode.Load())
	}
}

func TestSMSSendFailure(t *testing.T) {
	ctx := context.Background()
	s, box, _ := newCodes(t)
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	old := box.code(t)
	box.fail = errors.New("gateway down")
	if err := s.Send(ctx, "tx1", "id-1", mobile, PurposeLogin); err == nil || !strings.Contains(err.Error(), "gateway down") {
		t.Fatalf("failed delivery: %v", err)
	}
	// The previous code was replaced and the undelivered one removed.
	if err := s.Verify(ctx, "tx1", old); !errors.Is(err, ErrNoCode) {
		t.Fatalf("after a failed resend: %v", err)
	}
}

func TestSMSConfigAndInput(t *testing.T) {
	ctx := context.Background()
	base, _, _ := newCodes(t)
	tests := []struct {
		name                   string
		mutate                 func(*SMSCodes)
		tx, id, mobile, reason string
	}{
		{"no host", func(s *SMSCodes) { s.Host = "" }, "tx", "id", mobile, ""},
		{"host with scheme", func(s *SMSCodes) { s.Host = "https://login.example.it" }, "tx", "id", mobile, ""},
		{"host with space", func(s *SMSCodes) { s.Host = "login example" }, "tx", "id", mobile, ""},
		{"no sender", func(s *SMSCodes) { s.Sender = nil }, "tx", "id", mobile, ""},
		{"no values", func(s *SMSCodes) { s.Values = nil }, "tx", "id", mobile, ""},
		{"no counters", func(s *SMSCodes) { s.Counters = nil }, "tx", "id", mobile, ""},
		{"no transaction", func(*SMSCodes) {}, "", "id", mobile, ""},
		{"no identity", func(*SMSCodes) {}, "tx", "", mobile, ""},
		{"no mobile", func(*SMSCodes) {}, "tx", "id", " ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := *base
			tc.mutate(&s)
			if err := s.Send(ctx, tc.tx, tc.id, tc.mobile, PurposeLogin); err == nil {
				t.Fatal("Send accepted")
			}
		})
	}
}

func FuzzSMSVerify(f *testing.F) {
	f.Add("123456")
	f.Add("")
	f.Add("12345\x00")
	f.Add("９９９９９９")
	f.Fuzz(func(t *testing.T, input string) {
		ctx := context.Background()
		c := testclock.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
		store := memory.New(memory.WithClock(c.Now), memory.WithSweepInterval(0))
		defer store.Close()
		box := &outbox{}
		s := &SMSCodes{Values: store, Sender: box, Host: "login.example.it", Now: c.Now, Counters: store}
		if err := s.Send(ctx, "tx", "id", mobile, PurposeLogin); err != nil {
			t.Fatal(err)
		}
		code := box.code(t)
		err := s.Verify(ctx, "tx", input)
		switch {
		case input == code:
			if err != nil {
				t.Fatalf("right code refused: %v", err)
			}
		case err == nil:
			t.Fatalf("%q accepted for code %s", input, code)
		case !errors.Is(err, ErrWrongCode):
			t.Fatalf("%q: unexpected error %v", input, err)
		}
	})
}

// S086: during the 24 hours after a mobile change no login or activation
// code goes out to the identity; verifying a number or care still does;
// another identity is not affected; at the end codes go out again.
func TestSMSMobileCooldown(t *testing.T) {
	ctx := context.Background()
	s, box, c := newCodes(t)
	changed := c.Now()
	if err := s.Values.CreateValue(ctx, MobileCooldownKey("id-1"), []byte(changed.Format(time.RFC3339)), changed.Add(MobileCooldown)); err != nil {
		t.Fatal(err)
	}
	for _, purpose := range []string{PurposeLogin, PurposeActivateApp, PurposeActivateIdentity, PurposeRecoverPassword} {
		err := s.Send(ctx, "tx-"+purpose, "id-1", mobile, purpose)
		var ce *CooldownError
		if !errors.Is(err, ErrMobileCooldown) || !errors.As(err, &ce) || !ce.Until.Equal(changed.Add(MobileCooldown)) {
			t.Errorf("%s during the cool-down: %v, want ErrMobileCooldown until %v", purpose, err, changed.Add(MobileCooldown))
		}
	}
	if box.count() != 0 {
		t.Fatalf("%d SMS sent during the cool-down", box.count())
	}
	for _, purpose := range []string{PurposeVerifyMobile, PurposeCareVerification} {
		if err := s.Send(ctx, "tx-"+purpose, "id-1", mobile, purpose); err != nil {
			t.Errorf("%s during the cool-down: %v", purpose, err)
		}
	}
	if err := s.Send(ctx, "tx-other", "id-2", mobile, PurposeActivateApp); err != nil {
		t.Errorf("another identity: %v", err)
	}
	c.Advance(MobileCooldown)
	if err := s.Send(ctx, "tx-after", "id-1", mobile, PurposeActivateApp); err != nil {
		t.Errorf("after 24 hours: %v", err)
	}
}
