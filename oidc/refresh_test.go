package oidc

import (
	"testing"
	"time"
)

// refreshExpiry follows the Avviso 41 use cases and never gives a token 30
// days or more (O065–O067).
func TestRefreshExpiry(t *testing.T) {
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	d30 := 30 * 24 * time.Hour
	for _, tc := range []struct {
		name, uc string
		iat      time.Time
		want     time.Time
	}{
		{"CU2 first token", UseCase2, start.Add(40 * time.Second), start.Add(d30)},
		{"CU1 after 10 days", UseCase1, start.Add(10 * 24 * time.Hour), start.Add(d30)},
		{"CU2 in the session's first second", UseCase2, start, start.Add(d30 - time.Second)},
		{"CU2 with a request object from the future", UseCase2, start.Add(-30 * time.Second), start.Add(d30 - 31*time.Second)},
		{"CU3 first token", UseCase3, start.Add(40 * time.Second), start.Add(40*time.Second + d30 - time.Second)},
		{"CU3 after 20 days", UseCase3, start.Add(20 * 24 * time.Hour), start.Add(20*24*time.Hour + d30 - time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := refreshExpiry(tc.uc, start, tc.iat)
			if !got.Equal(tc.want) {
				t.Fatalf("exp %s, want %s", got, tc.want)
			}
			if got.Sub(tc.iat) >= d30 {
				t.Fatalf("O065: lasts %s", got.Sub(tc.iat))
			}
		})
	}
}

// A refresh token is kept as the hex SHA-256 of the token as issued.
func TestTokenHash(t *testing.T) {
	if h := tokenHash("abc"); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || len(h) != 64 {
		t.Fatalf("tokenHash = %s", h)
	}
}

// redactForm replaces what could still be used by its hash and keeps the
// rest as received.
func TestRedactForm(t *testing.T) {
	got := string(redactForm(map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {"abc"}, "code_verifier": {"abc"}}))
	want := "code_verifier=sha256%3Aba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad&grant_type=refresh_token&refresh_token=sha256%3Aba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got != want {
		t.Fatalf("redactForm = %s", got)
	}
}
