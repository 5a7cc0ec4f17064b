package otp

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// rfcSeed is the SHA-1 seed of RFC 6238 appendix B.
var rfcSeed = []byte("12345678901234567890")

func TestCodeRFC6238Vectors(t *testing.T) {
	// Appendix B gives 8 digits; 6-digit codes are their last 6.
	for unix, want := range map[int64]string{
		59:          "287082",
		1111111109:  "081804",
		1111111111:  "050471",
		1234567890:  "005924",
		2000000000:  "279037",
		20000000000: "353130",
	} {
		if got := Code(rfcSeed, time.Unix(unix, 0)); got != want {
			t.Errorf("Code(T=%d) = %s, want %s", unix, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	now := time.Unix(1234567890, 0)
	cur := Step(now)
	at := func(step int64) string { return Code(rfcSeed, time.Unix(step*30, 0)) }
	tests := []struct {
		name     string
		code     string
		lastStep int64
		wantOK   bool
		wantStep int64
	}{
		{"current step", at(cur), 0, true, cur},
		{"one step behind", at(cur - 1), 0, true, cur - 1},
		{"one step ahead", at(cur + 1), 0, true, cur + 1},
		{"two steps behind", at(cur - 2), 0, false, 0},
		{"two steps ahead", at(cur + 2), 0, false, 0},
		{"reuse of the accepted step", at(cur), cur, false, 0},
		{"earlier step after a later one was accepted", at(cur - 1), cur, false, 0},
		{"next step after the previous was accepted", at(cur), cur - 1, true, cur},
		{"ahead code after current accepted", at(cur + 1), cur, true, cur + 1},
		{"empty", "", 0, false, 0},
		{"five digits", at(cur)[:5], 0, false, 0},
		{"seven digits", at(cur) + "0", 0, false, 0},
		{"letter", "12a456", 0, false, 0},
		{"leading space", " " + at(cur)[:5], 0, false, 0},
		{"trailing newline", at(cur) + "\n", 0, false, 0},
		{"signed", "+" + at(cur)[1:], 0, false, 0},
		{"fullwidth digits", "１２３４５６", 0, false, 0},
		{"arabic-indic digits", "٠١٢٣٤٥", 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := Check(rfcSeed, tc.code, now, tc.lastStep)
			if ok != tc.wantOK || step != tc.wantStep {
				t.Fatalf("Check(%q, last %d) = %d, %v; want %d, %v", tc.code, tc.lastStep, step, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
	if _, ok := Check([]byte("another seed 12345678"), at(cur), now, 0); ok {
		t.Fatal("code accepted with another seed")
	}
}

// TestCheckAgainstPquerna makes sure our window agrees with the library the
// apps' algorithm is taken from.
func TestCheckAgainstPquerna(t *testing.T) {
	seed, err := NewSeed()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 7, 0, time.UTC)
	code, err := totp.GenerateCodeCustom(EncodeSeed(seed), now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if code != Code(seed, now) {
		t.Fatalf("pquerna %s, ours %s", code, Code(seed, now))
	}
	if step, ok := Check(seed, code, now.Add(29*time.Second), 0); !ok || step != Step(now) {
		t.Fatal("code of the previous step refused")
	}
}

func TestSeedURIAndQR(t *testing.T) {
	seed, err := NewSeed()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSeed()
	if len(seed) != SeedSize || bytes.Equal(seed, other) {
		t.Fatalf("NewSeed: %x %x", seed, other)
	}
	uri := URI("SPID IdP Demo", "mario.rossi@example.it", seed)
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if key.Type() != "totp" || key.Issuer() != "SPID IdP Demo" || key.AccountName() != "mario.rossi@example.it" ||
		key.Secret() != EncodeSeed(seed) || key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("URI %s read back as %+v", uri, key)
	}
	if strings.Contains(uri, "+") || strings.Contains(uri, " ") {
		t.Fatalf("URI has a space or '+': %s", uri)
	}
	// An issuer holding URI syntax stays one label and one parameter.
	tricky := URI("Ente & Co: IdP?", "a/b", seed)
	if k, err := otp.NewKeyFromURL(tricky); err != nil || k.Issuer() != "Ente & Co: IdP?" || k.Secret() != EncodeSeed(seed) {
		t.Fatalf("tricky URI %s: %v", tricky, err)
	}

	back, err := DecodeSeed(strings.ToLower(EncodeSeed(seed)[:8]) + " " + EncodeSeed(seed)[8:] + "====")
	if err != nil || !bytes.Equal(back, seed) {
		t.Fatalf("DecodeSeed: %x %v", back, err)
	}
	// 80-bit seeds (old Google Authenticator examples) are below RFC 4226's floor.
	for _, bad := range []string{"", "not base32!", "AAAA", "JBSWY3DPEHPK3PXP"} {
		if _, err := DecodeSeed(bad); err == nil {
			t.Errorf("DecodeSeed(%q) accepted", bad)
		}
	}

	img, err := QRPNG(uri, 256)
	if err != nil {
		t.Fatal(err)
	}
	pic, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if b := pic.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Fatalf("QR is %v", b)
	}
	// Quiet zone: the border rows are white.
	for x := range 256 {
		if r, _, _, _ := pic.At(x, 0).RGBA(); r == 0 {
			t.Fatal("QR touches the top edge")
		}
	}
	// The top-left finder pattern starts after the 4-module quiet zone.
	first := 0
	for x := range 256 { // first dark pixel on the first dark row gives the offset
		if r, _, _, _ := pic.At(x, x).RGBA(); r == 0 {
			first = x
			break
		}
	}
	if first == 0 || first > 256/4 {
		t.Fatalf("no finder pattern where expected (first dark diagonal pixel at %d)", first)
	}
	for _, tc := range []struct {
		uri  string
		size int
	}{{uri, 10}, {uri, 5000}, {"https://evil.example/", 256}, {uri + strings.Repeat("x", 4000), 256}} {
		if _, err := QRPNG(tc.uri, tc.size); err == nil {
			t.Errorf("QRPNG(%.30q, %d) accepted", tc.uri, tc.size)
		}
	}
}

// newDeviceStore opens a real SQLite store holding one identity with one
// device using seed.
func newDeviceStore(t *testing.T, seed []byte, status storage.DeviceStatus) storage.Devices {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	if err := st.CreateIdentity(ctx, storage.Identity{
		ID: "id-1", Username: "mario", Type: storage.IdentityCitizen, Status: storage.IdentityActive,
		Attributes: map[string]string{"name": "Mario"}, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevice(ctx, storage.Device{
		ID: "dev-1", IdentityID: "id-1", Name: "Telefono", Kind: storage.DeviceTOTP, Status: status,
		Secret: []byte("sealed elsewhere"), CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAccept(t *testing.T) {
	ctx := context.Background()
	seed, _ := NewSeed()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	devs := newDeviceStore(t, seed, storage.DevicePending)

	ok, err := Accept(ctx, devs, "dev-1", seed, "000000", now)
	if err != nil || ok && Code(seed, now) != "000000" {
		t.Fatalf("wrong code: %v %v", ok, err)
	}
	ok, err = Accept(ctx, devs, "dev-1", seed, "12345x", now)
	if err != nil || ok {
		t.Fatalf("malformed code: %v %v", ok, err)
	}
	d, _ := devs.GetDevice(ctx, "dev-1")
	if d.FailedAttempts != 2 || d.LastStep != 0 || !d.LastUsedAt.IsZero() {
		t.Fatalf("after two failures: %+v", d)
	}

	code := Code(seed, now)
	if ok, err := Accept(ctx, devs, "dev-1", seed, code, now); err != nil || !ok {
		t.Fatalf("valid code on a pending device: %v %v", ok, err)
	}
	d, _ = devs.GetDevice(ctx, "dev-1")
	if d.FailedAttempts != 0 || d.LastStep != Step(now) || !d.LastUsedAt.Equal(now) {
		t.Fatalf("after success: %+v", d)
	}
	// Same code again within its 30 s: refused, counted.
	if ok, err := Accept(ctx, devs, "dev-1", seed, code, now.Add(10*time.Second)); err != nil || ok {
		t.Fatalf("replayed code: %v %v", ok, err)
	}
	d, _ = devs.GetDevice(ctx, "dev-1")
	if d.FailedAttempts != 1 || d.LastStep != Step(now) {
		t.Fatalf("after replay: %+v", d)
	}

	if _, err := Accept(ctx, devs, "nope", seed, code, now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown device: %v", err)
	}
	if _, err := Accept(ctx, devs, "", seed, code, now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("empty device ID: %v", err)
	}

	if err := devs.UpdateDevice(ctx, "dev-1", func(d storage.Device) (storage.Device, error) {
		d.Status = storage.DeviceRevoked
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	if ok, err := Accept(ctx, devs, "dev-1", seed, Code(seed, later), later); !errors.Is(err, ErrDeviceRevoked) || ok {
		t.Fatalf("revoked device: %v %v", ok, err)
	}
	if d2, _ := devs.GetDevice(ctx, "dev-1"); d2.LastStep != d.LastStep || d2.FailedAttempts != d.FailedAttempts {
		t.Fatalf("revoked device changed: %+v", d2)
	}
}

// TestAcceptConcurrent: 50 parallel submissions of one valid code, exactly
// one success (security.md C.4).
func TestAcceptConcurrent(t *testing.T) {
	ctx := context.Background()
	seed, _ := NewSeed()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	devs := newDeviceStore(t, seed, storage.DeviceActive)
	code := Code(seed, now)
	var wins, fails atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			ok, err := Accept(ctx, devs, "dev-1", seed, code, now)
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				wins.Add(1)
			default:
				fails.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || fails.Load() != 49 {
		t.Fatalf("%d successes and %d refusals, want 1 and 49", wins.Load(), fails.Load())
	}
	if d, _ := devs.GetDevice(ctx, "dev-1"); d.LastStep != Step(now) {
		t.Fatalf("LastStep %d, want %d", d.LastStep, Step(now))
	}
}

func FuzzCheck(f *testing.F) {
	now := time.Unix(1234567890, 0)
	f.Add("005924", int64(0))
	f.Add("", int64(-1))
	f.Add("１２３４５６", int64(1<<62))
	f.Fuzz(func(t *testing.T, code string, last int64) {
		step, ok := Check(rfcSeed, code, now, last)
		if !ok {
			if step != 0 {
				t.Fatalf("refused with step %d", step)
			}
			return
		}
		if !wellFormed(code) || step <= last || step < Step(now)-Skew || step > Step(now)+Skew {
			t.Fatalf("accepted %q last %d step %d", code, last, step)
		}
		if Code(rfcSeed, time.Unix(step*30, 0)) != code {
			t.Fatalf("accepted %q for step %d whose code differs", code, step)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	seed, _ := NewSeed()
	now := time.Now()
	code := Code(seed, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Check(seed, code, now, 0); !ok {
			b.Fatal("refused")
		}
	}
}

func TestDecodeImportedSeed(t *testing.T) {
	// An 80-bit seed as authenticator apps show it: refused for new
	// devices, accepted for migration, and its codes are the ones the
	// citizen's app already shows (RFC 6238 with the same seed).
	const legacy = "JBSWY3DPEHPK3PXP"
	if _, err := DecodeSeed(legacy); err == nil {
		t.Fatal("DecodeSeed accepted an 80-bit seed")
	}
	seed, err := DecodeImportedSeed("jbsw y3dp ehpk 3pxp")
	if err != nil || len(seed) != 10 {
		t.Fatalf("DecodeImportedSeed: %x %v", seed, err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	want, err := totp.GenerateCodeCustom(legacy, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if got := Code(seed, now); got != want {
		t.Fatalf("Code = %s, want %s", got, want)
	}
	if long, err := DecodeImportedSeed(EncodeSeed(bytes.Repeat([]byte{7}, 20))); err != nil || len(long) != 20 {
		t.Fatalf("160-bit seed: %v", err)
	}
	for _, tt := range []struct{ in, msg string }{
		{"", "empty"},
		{"   ", "empty"},
		{"not base32!", "not valid base32"},
		{"JBSWY3DPEHPK3P", "too short"}, // 70 bits
		{EncodeSeed(make([]byte, 65)), "too long"},
	} {
		_, err := DecodeImportedSeed(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("DecodeImportedSeed(%q) = %v, want an error about %q", tt.in, err, tt.msg)
		}
	}
}
