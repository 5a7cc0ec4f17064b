package conformance

import (
	"strconv"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// The Bench functions below measure one hot-path operation of an
// ephemeral backend, so that every backend is timed on the same work.

// BenchInsertRequestID measures recording one fresh request ID.
func BenchInsertRequestID(b *testing.B, s storage.Ephemeral) {
	ctx := b.Context()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.InsertRequestID(ctx, "https://sp.example.it|_"+strconv.Itoa(i), exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchGetSession measures reading a session with two participants.
func BenchGetSession(b *testing.B, s storage.Ephemeral) {
	ctx := b.Context()
	now := time.Now()
	sess := storage.Session{
		ID: "bench-session", IdentityID: "identity", Level: 1,
		AuthnInstant: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		Participants: []storage.SessionParticipant{
			{SPEntityID: "https://sp1.example.it", NameID: "_n1", SessionIndex: "_s1", IssuedAt: now},
			{SPEntityID: "https://sp2.example.it", NameID: "_n2", SessionIndex: "_s2", IssuedAt: now},
		},
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetSession(ctx, sess.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// benchValue is a push challenge of a typical size.
var benchValue = []byte(`{"device":"dev-8f3a1c","nonce":"q3JmZ3Vhc2RmYXNkZmFzZGY","state":"pending","binding":"4 7 1"}`)

// BenchCreateValue measures storing one fresh push-challenge-sized value.
func BenchCreateValue(b *testing.B, s storage.Ephemeral) {
	ctx := b.Context()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.CreateValue(ctx, "push:"+strconv.Itoa(i), benchValue, exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchGetValue measures reading one push-challenge-sized value.
func BenchGetValue(b *testing.B, s storage.Ephemeral) {
	ctx := b.Context()
	if err := s.CreateValue(ctx, "push:bench", benchValue, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.GetValue(ctx, "push:bench"); err != nil {
			b.Fatal(err)
		}
	}
}
