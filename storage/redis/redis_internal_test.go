package redis

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

func TestTTLUntil(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := &Store{now: func() time.Time { return now }}
	cases := []struct {
		exp  time.Time
		want time.Duration
	}{
		{now.Add(time.Hour), time.Hour},
		{now.Add(1500 * time.Microsecond), 2 * time.Millisecond}, // rounded up, never early
		{now.Add(time.Nanosecond), time.Millisecond},
		{now, 0},
		{now.Add(-time.Second), -time.Second},
		{time.Time{}, time.Time{}.Sub(now)},
	}
	for _, c := range cases {
		if got := s.ttlUntil(c.exp); got != c.want && !(c.want <= 0 && got <= 0) {
			t.Errorf("ttlUntil(now%+v) = %s, want %s", c.exp.Sub(now), got, c.want)
		}
	}
}

// asFields turns encodeSession's field, value pairs into what HGETALL gives.
func asFields(t testing.TB, pairs []any) map[string]string {
	t.Helper()
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i].(string)] = pairs[i+1].(string)
	}
	return m
}

func TestSessionRecordRoundTrip(t *testing.T) {
	rome := time.FixedZone("CET", 3600)
	in := storage.Session{
		ID: "id", IdentityID: "identity", Level: 2, Epoch: 7,
		AuthnInstant: time.Date(2026, 1, 2, 3, 4, 5, 6, rome),
		CreatedAt:    time.Date(2026, 1, 2, 3, 4, 5, 7, rome),
		ExpiresAt:    time.Date(2026, 1, 2, 4, 4, 5, 8000, rome),
		Participants: []storage.SessionParticipant{
			{SPEntityID: "sp", NameID: "n", SessionIndex: "i", IssuedAt: time.Date(2026, 1, 2, 3, 4, 6, 9, rome)},
			{SPEntityID: "https://a.example/sp:x", NameID: "m", IssuedAt: time.Date(2026, 1, 2, 3, 4, 7, 0, rome)},
		},
	}
	data, err := encodeSession(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeSession("id", asFields(t, data))
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.AuthnInstant, want.CreatedAt, want.ExpiresAt = in.AuthnInstant.UTC(), in.CreatedAt.UTC(), in.ExpiresAt.UTC()
	// By SP, whatever order they were written in.
	want.Participants = []storage.SessionParticipant{in.Participants[1], in.Participants[0]}
	want.Participants[0].IssuedAt = in.Participants[1].IssuedAt.UTC()
	want.Participants[1].IssuedAt = in.Participants[0].IssuedAt.UTC()
	if !reflect.DeepEqual(out, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, want)
	}
}

// FuzzDecodeSession feeds arbitrary stored fields to the decoder: it must
// never panic, and whatever it accepts and can re-encode must come back
// unchanged.
func FuzzDecodeSession(f *testing.F) {
	f.Add([]byte(`{"identity_id":"i","level":1,"authn_instant":"2026-01-02T03:04:05.000000006Z","created_at":"2026-01-02T03:04:05Z","epoch":3}`),
		"1767326645000000", "sp", []byte(`{"name_id":"n","issued_at":"2026-01-02T03:04:06+01:00"}`))
	f.Add([]byte(`{}`), "0", "", []byte(`{}`))
	f.Add([]byte(`{"created_at":"not a time"}`), "x", "sp", []byte(`[`))
	f.Add([]byte(`[`), "-1", "p:", []byte(`null`))
	f.Fuzz(func(t *testing.T, meta []byte, expiry, sp string, part []byte) {
		fields := map[string]string{fieldMeta: string(meta), fieldExpiry: expiry, fieldPartPfx + sp: string(part)}
		s, err := decodeSession("id", fields)
		if err != nil {
			return
		}
		again, err := encodeSession(s)
		if err != nil {
			// A time near year 9999 with a negative offset decodes but lands
			// past 9999 in UTC, which JSON cannot carry: an error, not a panic.
			return
		}
		s2, err := decodeSession("id", asFields(t, again))
		if err != nil {
			t.Fatalf("decode of a re-encoded record: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("not stable:\n%+v\n%+v", s, s2)
		}
	})
}

func TestCheckValueTTL(t *testing.T) {
	for _, c := range []struct {
		ttl      time.Duration
		ok       bool
		notFound bool
	}{
		{time.Millisecond, true, false},
		{time.Hour, true, false},
		{0, false, true},
		{-2, false, true},
		{-1, false, false},
	} {
		err := checkValueTTL(c.ttl)
		if (err == nil) != c.ok || errors.Is(err, storage.ErrNotFound) != c.notFound {
			t.Errorf("checkValueTTL(%d) = %v", c.ttl, err)
		}
	}
}
