package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// oidcTests are part of RunStore.
var oidcTests = []struct {
	name string
	run  func(t *testing.T, s storage.Store)
}{
	{"OIDCSessionRoundTrip", storeTestOIDCSessionRoundTrip},
	{"OIDCRotation", storeTestOIDCRotation},
	{"OIDCRotationErrors", storeTestOIDCRotationErrors},
	{"OIDCConcurrentRotation", storeTestOIDCConcurrentRotation},
	{"OIDCRevokeAndExpire", storeTestOIDCRevokeAndExpire},
}

var oidcBase = time.Date(2026, 4, 1, 9, 0, 0, 250000000, time.UTC)

func oidcSession(id string) (storage.OIDCSession, storage.OIDCRefreshToken) {
	s := storage.OIDCSession{ID: id, ClientID: "https://rp.example.it", IdentityID: "id-" + id, Subject: "sub-" + id,
		Scope: []string{"openid", "offline_access"}, Claims: []string{"given_name", "https://attributes.eid.gov.it/fiscal_number"},
		Nonce: "n0nce", UseCase: "CU2", SessionStart: oidcBase, ExpiresAt: oidcBase.Add(30 * 24 * time.Hour),
		AccessJTI: "at-" + id, SSOSession: "sso-" + id, Epoch: 7, CreatedAt: oidcBase, UpdatedAt: oidcBase}
	t := storage.OIDCRefreshToken{Hash: fmt.Sprintf("%064x", len(id)) + id, SessionID: id, IssuedAt: oidcBase,
		ExpiresAt: oidcBase.Add(30 * 24 * time.Hour)}
	return s, t
}

// A session and its first token are read back exactly, by id and by hash.
func storeTestOIDCSessionRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sess, tok := oidcSession("s1")
	storeMust(t, "CreateOIDCSession", s.CreateOIDCSession(ctx, sess, tok))
	got, err := s.GetOIDCSession(ctx, "s1")
	storeMust(t, "GetOIDCSession", err)
	if !reflect.DeepEqual(got, sess) {
		t.Fatalf("GetOIDCSession =\n%+v\nwant\n%+v", got, sess)
	}
	gt, gs, err := s.GetOIDCRefreshToken(ctx, tok.Hash)
	storeMust(t, "GetOIDCRefreshToken", err)
	if !reflect.DeepEqual(gt, tok) || !reflect.DeepEqual(gs, sess) {
		t.Fatalf("GetOIDCRefreshToken = %+v %+v", gt, gs)
	}
	if _, _, err := s.GetOIDCRefreshToken(ctx, "unknown"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown hash: %v, want ErrNotFound", err)
	}
	if _, err := s.GetOIDCSession(ctx, "nope\x00"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("odd id: %v, want ErrNotFound", err)
	}
	if err := s.CreateOIDCSession(ctx, sess, tok); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("same session again: %v, want ErrAlreadyExists", err)
	}
	other, otherTok := oidcSession("s2")
	otherTok.SessionID = "s1"
	if err := s.CreateOIDCSession(ctx, other, otherTok); err == nil {
		t.Fatal("a first token of another session was accepted")
	}
	if _, err := s.GetOIDCSession(ctx, "s2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused session was stored: %v", err)
	}
	storeMust(t, "SetOIDCSessionAccess", s.SetOIDCSessionAccess(ctx, "s1", "at-new"))
	list, err := s.ListOIDCSessions(ctx, "id-s1")
	storeMust(t, "ListOIDCSessions", err)
	if len(list) != 1 || list[0].AccessJTI != "at-new" {
		t.Fatalf("ListOIDCSessions = %+v", list)
	}
	if list, _ := s.ListOIDCSessions(ctx, "someone-else"); len(list) != 0 {
		t.Fatalf("another identity's list: %+v", list)
	}
}

// A rotation marks the token used, stores the next one and the session's
// changes; presenting the used token revokes the session.
func storeTestOIDCRotation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sess, tok := oidcSession("r1")
	storeMust(t, "CreateOIDCSession", s.CreateOIDCSession(ctx, sess, tok))
	now := oidcBase.Add(time.Hour)
	next := storage.OIDCRefreshToken{Hash: "next-hash", SessionID: "r1", IssuedAt: now, ExpiresAt: now.Add(30*24*time.Hour - time.Second)}
	storeMust(t, "RotateOIDCRefreshToken", s.RotateOIDCRefreshToken(ctx, tok.Hash, now,
		func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
			if gt.Hash != tok.Hash || gs.ID != "r1" {
				return next, gs, fmt.Errorf("fn got %+v %+v", gt, gs)
			}
			gs.AccessJTI, gs.ExpiresAt, gs.UpdatedAt = "at-2", next.ExpiresAt, now
			return next, gs, nil
		}))
	old, gs, err := s.GetOIDCRefreshToken(ctx, tok.Hash)
	storeMust(t, "GetOIDCRefreshToken", err)
	if !old.UsedAt.Equal(now) || gs.AccessJTI != "at-2" || !gs.ExpiresAt.Equal(next.ExpiresAt) || !gs.RevokedAt.IsZero() {
		t.Fatalf("after rotation: token %+v session %+v", old, gs)
	}
	if got, _, err := s.GetOIDCRefreshToken(ctx, "next-hash"); err != nil || !reflect.DeepEqual(got, next) {
		t.Fatalf("next token: %+v %v", got, err)
	}
	called := false
	err = s.RotateOIDCRefreshToken(ctx, tok.Hash, now.Add(time.Minute),
		func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
			called = true
			return gt, gs, nil
		})
	if !errors.Is(err, storage.ErrRefreshReused) || called {
		t.Fatalf("reused token: %v (fn called %v), want ErrRefreshReused", err, called)
	}
	gs, err = s.GetOIDCSession(ctx, "r1")
	storeMust(t, "GetOIDCSession", err)
	if !gs.RevokedAt.Equal(now.Add(time.Minute)) || gs.RevokeReason != storage.OIDCRevokedReuse {
		t.Fatalf("reuse did not revoke the session: %+v", gs)
	}
	// The newest token of a revoked session is refused too.
	err = s.RotateOIDCRefreshToken(ctx, "next-hash", now.Add(2*time.Minute),
		func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
			called = true
			return gt, gs, nil
		})
	if !errors.Is(err, storage.ErrNotFound) || called {
		t.Fatalf("token of a revoked session: %v (fn called %v), want ErrNotFound", err, called)
	}
}

// Unknown and expired tokens are not found; an error from fn changes
// nothing.
func storeTestOIDCRotationErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sess, tok := oidcSession("e1")
	storeMust(t, "CreateOIDCSession", s.CreateOIDCSession(ctx, sess, tok))
	never := func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
		return gt, gs, errors.New("fn must not run")
	}
	if err := s.RotateOIDCRefreshToken(ctx, "unknown", oidcBase, never); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.RotateOIDCRefreshToken(ctx, tok.Hash, tok.ExpiresAt, never); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired: %v", err)
	}
	boom := errors.New("boom")
	err := s.RotateOIDCRefreshToken(ctx, tok.Hash, oidcBase.Add(time.Minute),
		func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
			return storage.OIDCRefreshToken{}, gs, boom
		})
	if !errors.Is(err, boom) {
		t.Fatalf("failing fn: %v, want its error", err)
	}
	if got, _, _ := s.GetOIDCRefreshToken(ctx, tok.Hash); !got.UsedAt.IsZero() {
		t.Fatal("a failed rotation used the token")
	}
	err = s.RotateOIDCRefreshToken(ctx, tok.Hash, oidcBase.Add(time.Minute),
		func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
			return storage.OIDCRefreshToken{Hash: "x", SessionID: "other", IssuedAt: oidcBase, ExpiresAt: oidcBase.Add(time.Hour)}, gs, nil
		})
	if err == nil {
		t.Fatal("a next token of another session was stored")
	}
	if got, _, _ := s.GetOIDCRefreshToken(ctx, tok.Hash); !got.UsedAt.IsZero() {
		t.Fatal("a refused rotation used the token")
	}
}

// Of concurrent rotations of one token exactly one reaches fn; the others
// see it reused, which revokes the family.
func storeTestOIDCConcurrentRotation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sess, tok := oidcSession("c1")
	storeMust(t, "CreateOIDCSession", s.CreateOIDCSession(ctx, sess, tok))
	const n = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, reused := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			now := oidcBase.Add(time.Duration(i+1) * time.Second)
			err := s.RotateOIDCRefreshToken(ctx, tok.Hash, now,
				func(gt storage.OIDCRefreshToken, gs storage.OIDCSession) (storage.OIDCRefreshToken, storage.OIDCSession, error) {
					return storage.OIDCRefreshToken{Hash: fmt.Sprintf("next-%d", i), SessionID: gs.ID, IssuedAt: now,
						ExpiresAt: now.Add(time.Hour)}, gs, nil
				})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, storage.ErrRefreshReused):
				reused++
			default:
				t.Errorf("rotation %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || reused != n-1 {
		t.Fatalf("%d rotations won and %d saw reuse, want 1 and %d", wins, reused, n-1)
	}
	if gs, _ := s.GetOIDCSession(ctx, "c1"); gs.RevokeReason != storage.OIDCRevokedReuse {
		t.Fatalf("concurrent reuse left the session %+v", gs)
	}
}

// Revocation keeps its first reason; expired sessions go with their tokens.
func storeTestOIDCRevokeAndExpire(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, at := oidcSession("v1")
	b, bt := oidcSession("v22")
	b.ExpiresAt = oidcBase.Add(time.Hour)
	storeMust(t, "CreateOIDCSession", s.CreateOIDCSession(ctx, a, at))
	storeMust(t, "CreateOIDCSession", s.CreateOIDCSession(ctx, b, bt))
	now := oidcBase.Add(time.Minute)
	got, err := s.RevokeOIDCSession(ctx, "v1", now, storage.OIDCRevokedByClient)
	storeMust(t, "RevokeOIDCSession", err)
	if !got.RevokedAt.Equal(now) || got.RevokeReason != storage.OIDCRevokedByClient {
		t.Fatalf("revoked: %+v", got)
	}
	got, err = s.RevokeOIDCSession(ctx, "v1", now.Add(time.Hour), storage.OIDCRevokedLogout)
	storeMust(t, "RevokeOIDCSession", err)
	if !got.RevokedAt.Equal(now) || got.RevokeReason != storage.OIDCRevokedByClient {
		t.Fatalf("second revocation changed the first: %+v", got)
	}
	if _, err := s.RevokeOIDCSession(ctx, "unknown", now, "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	n, err := s.DeleteExpiredOIDCSessions(ctx, oidcBase.Add(2*time.Hour))
	storeMust(t, "DeleteExpiredOIDCSessions", err)
	if n != 1 {
		t.Fatalf("deleted %d sessions, want 1", n)
	}
	if _, _, err := s.GetOIDCRefreshToken(ctx, bt.Hash); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("token of a deleted session: %v", err)
	}
	if _, _, err := s.GetOIDCRefreshToken(ctx, at.Hash); err != nil {
		t.Fatalf("token of a live session: %v", err)
	}
}
