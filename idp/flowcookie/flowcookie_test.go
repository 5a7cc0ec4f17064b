package flowcookie

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func pair(b byte) KeyPair {
	return KeyPair{Hash: bytes.Repeat([]byte{b}, 32), Block: bytes.Repeat([]byte{b + 100}, 32)}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCodec(t *testing.T, clk *clock, keys ...KeyPair) *Codec {
	t.Helper()
	c, err := New("", 10*time.Minute, keys...)
	if err != nil {
		t.Fatal(err)
	}
	c.Now = clk.now
	return c
}

func TestSetAndRead(t *testing.T) {
	clk := &clock{time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	c := newCodec(t, clk, pair(1))
	rec := httptest.NewRecorder()
	if err := c.Set(rec, "flow-123"); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("got %d cookies", len(cookies))
	}
	ck := cookies[0]
	if ck.Name != DefaultName || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie attributes wrong: %+v", ck)
	}
	if strings.Contains(ck.Value, "flow-123") {
		t.Fatal("flow ID visible in the cookie: not encrypted")
	}
	req := httptest.NewRequest("GET", "/login/flow-123", nil)
	req.AddCookie(ck)
	id, stale, err := c.Read(req)
	if err != nil || id != "flow-123" || stale {
		t.Fatalf("Read = %q, %v, %v", id, stale, err)
	}
}

func TestMissingCookie(t *testing.T) {
	c := newCodec(t, &clock{time.Now()}, pair(1))
	if _, _, err := c.Read(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, ErrNoCookie) {
		t.Fatalf("got %v", err)
	}
}

func TestTamperedCookieRefused(t *testing.T) {
	c := newCodec(t, &clock{time.Now()}, pair(1))
	v, err := c.Encode("flow")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(v); i += 7 {
		b := []byte(v)
		b[i] ^= 0x01
		if _, _, err := c.Decode(string(b)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("byte %d flipped: got %v, want ErrInvalid", i, err)
		}
	}
	// A valid value of another cookie name does not decode as the flow cookie.
	other, _ := New("other", time.Minute, pair(1))
	ov, _ := other.Encode("flow")
	if _, _, err := c.Decode(ov); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cookie of another name accepted: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	clk := &clock{time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	c := newCodec(t, clk, pair(1))
	v, _ := c.Encode("flow")
	clk.t = clk.t.Add(10*time.Minute - time.Second)
	if _, _, err := c.Decode(v); err != nil {
		t.Fatalf("within max age: %v", err)
	}
	clk.t = clk.t.Add(time.Second)
	if _, _, err := c.Decode(v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("at max age: got %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	clk := &clock{time.Now()}
	old := newCodec(t, clk, pair(1))
	v, _ := old.Encode("flow")

	// Overlap: new key first, old kept → accepted, reported stale.
	rotating := newCodec(t, clk, pair(2), pair(1))
	id, stale, err := rotating.Decode(v)
	if err != nil || id != "flow" || !stale {
		t.Fatalf("during overlap: %q, stale=%v, %v", id, stale, err)
	}
	// Re-issued under the new key: not stale.
	nv, _ := rotating.Encode(id)
	if _, stale, err := rotating.Decode(nv); err != nil || stale {
		t.Fatalf("re-issued cookie: stale=%v, %v", stale, err)
	}
	// Old key retired → refused.
	retired := newCodec(t, clk, pair(2))
	if _, _, err := retired.Decode(v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("retired key accepted: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]struct {
		age  time.Duration
		keys []KeyPair
	}{
		"no keys":      {time.Minute, nil},
		"zero age":     {0, []KeyPair{pair(1)}},
		"short hash":   {time.Minute, []KeyPair{{Hash: make([]byte, 16), Block: make([]byte, 16)}}},
		"bad block":    {time.Minute, []KeyPair{{Hash: bytes.Repeat([]byte{1}, 32), Block: make([]byte, 20)}}},
		"same as hash": {time.Minute, []KeyPair{{Hash: bytes.Repeat([]byte{1}, 32), Block: bytes.Repeat([]byte{1}, 32)}}},
	}
	for name, c := range cases {
		if _, err := New("", c.age, c.keys...); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	c := newCodec(t, &clock{time.Now()}, pair(1))
	for _, id := range []string{"", strings.Repeat("a", MaxFlowIDLen+1), "a|b"} {
		if _, err := c.Encode(id); !errors.Is(err, ErrConfig) {
			t.Errorf("Encode(%q): got %v", id, err)
		}
	}
}

func TestClear(t *testing.T) {
	c := newCodec(t, &clock{time.Now()}, pair(1))
	rec := httptest.NewRecorder()
	c.Clear(rec)
	ck := rec.Result().Cookies()[0]
	if ck.Name != DefaultName || ck.MaxAge >= 0 {
		t.Fatalf("Clear wrote %+v", ck)
	}
}

func FuzzDecode(f *testing.F) {
	c, _ := New("", time.Minute, pair(1))
	v, _ := c.Encode("flow")
	f.Add(v)
	f.Add("")
	f.Add("MTIz")
	f.Fuzz(func(t *testing.T, s string) {
		id, _, err := c.Decode(s)
		if err == nil && s != v && id == "" {
			t.Fatal("decoded to empty flow ID without error")
		}
	})
}
