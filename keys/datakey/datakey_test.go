package datakey

import (
	"bytes"
	"errors"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	oldKey, newKey := key(1), key(2)
	oldSealer, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := New(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(key(3))
	if err != nil {
		t.Fatal(err)
	}
	seed := []byte("12345678901234567890")
	ad := []byte("identity-1|device-1")
	byOld, err := oldSealer.Seal(seed, ad)
	if err != nil {
		t.Fatal(err)
	}
	byNew, err := rotated.Seal(seed, ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}

	tests := []struct {
		name        string
		s           *Sealer
		sealed, ad  []byte
		wantCurrent bool
		wantErr     error
	}{
		{"round trip", rotated, byNew, ad, true, nil},
		{"previous key opens, not current", rotated, byOld, ad, false, nil},
		{"old sealer opens its own", oldSealer, byOld, ad, true, nil},
		{"wrong AD (another row)", rotated, byNew, []byte("identity-2|device-1"), false, ErrAuthentication},
		{"empty AD", rotated, byNew, nil, false, ErrAuthentication},
		{"tampered ciphertext byte", rotated, flip(byNew, headerSize+3), ad, false, ErrAuthentication},
		{"tampered tag byte", rotated, flip(byNew, len(byNew)-1), ad, false, ErrAuthentication},
		{"tampered nonce byte", rotated, flip(byNew, 1+idSize), ad, false, ErrAuthentication},
		{"tampered key ID", rotated, flip(byNew, 1), ad, false, ErrUnknownKey},
		{"unknown key", other, byNew, ad, false, ErrUnknownKey},
		{"retired key", oldSealer, byNew, ad, false, ErrUnknownKey},
		{"unknown version", rotated, flip(byNew, 0), ad, false, ErrMalformed},
		{"truncated below overhead", rotated, byNew[:Overhead-1], ad, false, ErrMalformed},
		{"truncated tag", rotated, byNew[:len(byNew)-1], ad, false, ErrAuthentication},
		{"empty", rotated, nil, ad, false, ErrMalformed},
		{"plaintext seed is not sealed", rotated, append([]byte{1}, make([]byte, 40)...), ad, false, ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, current, err := tc.s.Open(tc.sealed, tc.ad)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if pt != nil || current {
					t.Fatalf("failed Open returned plaintext %q current=%v", pt, current)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, seed) || current != tc.wantCurrent {
				t.Fatalf("got %q current=%v, want %q current=%v", pt, current, seed, tc.wantCurrent)
			}
		})
	}
}

func TestSealFormat(t *testing.T) {
	s, err := New(key(7))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Seal([]byte("seed"), nil)
	b, _ := s.Seal([]byte("seed"), nil)
	if len(a) != Overhead+4 {
		t.Fatalf("len = %d, want %d", len(a), Overhead+4)
	}
	if a[0] != 1 {
		t.Fatalf("version byte = %d", a[0])
	}
	id, err := SealedKeyID(a)
	if err != nil || id != KeyID(key(7)) || id != s.CurrentKeyID() {
		t.Fatalf("SealedKeyID = %08x, %v; KeyID = %08x", id, err, KeyID(key(7)))
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one plaintext are equal: nonce not random")
	}
	if bytes.Contains(a, []byte("seed")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	// An empty secret still round-trips to an empty, non-nil slice.
	e, _ := s.Seal(nil, []byte("x"))
	pt, cur, err := s.Open(e, []byte("x"))
	if err != nil || pt == nil || len(pt) != 0 || !cur {
		t.Fatalf("empty round trip: %q %v %v", pt, cur, err)
	}
}

func TestKeyIDIsPositionIndependent(t *testing.T) {
	k1, k2 := key(1), key(2)
	a, _ := New(k1, k2)
	b, _ := New(k2, k1)
	sealed, _ := a.Seal([]byte("x"), nil)
	if _, cur, err := b.Open(sealed, nil); err != nil || cur {
		t.Fatalf("reordered keys: current=%v err=%v", cur, err)
	}
	if a.CurrentKeyID() != KeyID(k1) || b.CurrentKeyID() != KeyID(k2) {
		t.Fatal("CurrentKeyID does not follow the first key")
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name     string
		current  []byte
		previous [][]byte
	}{
		{"short current", make([]byte, 16), nil},
		{"long current", make([]byte, 33), nil},
		{"nil current", nil, nil},
		{"zero current", make([]byte, KeySize), nil},
		{"short previous", key(1), [][]byte{key(2)[:31]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.current, tc.previous...); err == nil {
				t.Fatal("New accepted a bad key")
			}
		})
	}
	if _, err := New(key(1), key(1)); err != nil {
		t.Fatalf("the same key listed twice: %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateKey()
	if len(a) != KeySize || bytes.Equal(a, b) {
		t.Fatalf("GenerateKey gave %x and %x", a, b)
	}
	if _, err := New(a, b); err != nil {
		t.Fatal(err)
	}
}

func FuzzOpen(f *testing.F) {
	s, err := New(key(1), key(2))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.Seal([]byte("12345678901234567890"), []byte("id"))
	f.Add(good, []byte("id"))
	f.Add(good[:Overhead], []byte("id"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 0, 0, 0, 0}, []byte("id"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, current, err := s.Open(sealed, ad)
		if err != nil {
			if pt != nil || current {
				t.Fatalf("error with output: %q %v", pt, current)
			}
			return
		}
		// Only a value we sealed opens (the fuzzer runs in worker processes
		// with other nonces, so compare what it holds, not its bytes).
		if !bytes.Equal(pt, []byte("12345678901234567890")) || !bytes.Equal(ad, []byte("id")) {
			t.Fatalf("forged value opened: %x -> %q", sealed, pt)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	s, _ := New(key(1))
	seed := make([]byte, 20)
	ad := []byte("identity|device")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(seed, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s, _ := New(key(1))
	ad := []byte("identity|device")
	sealed, _ := s.Seal(make([]byte, 20), ad)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Open(sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}
