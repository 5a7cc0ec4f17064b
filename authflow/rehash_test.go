package authflow

import (
	"context"
	"testing"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/internal/flowtest"
	"github.com/spid-idp/spid-idp/storage"
)

// TestRehash: a right password whose hash was made with other parameters
// is stored again with the configured ones; but when the password was
// changed while the old one was being checked, the new one stays.
func TestRehash(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	id, err := h.Store.GetIdentityByUsername(ctx, h.Username)
	if err != nil {
		t.Fatal(err)
	}
	older := flowtest.FastArgon2
	older.Time++
	setHash := func(pw string, p password.Params) string {
		t.Helper()
		hash, err := password.Hash(pw, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Store.UpdateCredential(ctx, id.ID, func(c storage.Credential) (storage.Credential, error) {
			c.PasswordHash = hash
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
		return hash
	}
	stored := func() string {
		t.Helper()
		c, err := h.Store.GetCredential(ctx, id.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.PasswordHash
	}

	setHash(h.Password, older)
	cred, err := h.Store.GetCredential(ctx, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	h.Flow.rehash(ctx, id.ID, cred, h.Password)
	got := stored()
	if p, err := password.Parse(got); err != nil || p != flowtest.FastArgon2 {
		t.Fatalf("after rehash: parameters %v (%v), want %v", p, err, flowtest.FastArgon2)
	}
	if ok, err := password.Verify(got, h.Password); !ok || err != nil {
		t.Fatalf("the rehashed password does not verify: %v %v", ok, err)
	}

	setHash(h.Password, older)
	cred, err = h.Store.GetCredential(ctx, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	changed := setHash("Nuova-Parola-d1-Accesso", flowtest.FastArgon2)
	h.Flow.rehash(ctx, id.ID, cred, h.Password)
	if got := stored(); got != changed {
		t.Fatal("rehash put the old password back over the one changed meanwhile")
	}
}
