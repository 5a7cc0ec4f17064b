package authapp_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/push/pushtest"
	"github.com/spid-idp/spid-idp/storage"
)

// app is an activated and confirmed reference app against a real app API
// on 127.0.0.1.
type app struct {
	e        *pushtest.Env
	c        *authapp.Client
	st       *authapp.State
	identity string
	url      string
}

func newApp(t testing.TB) *app {
	t.Helper()
	e := pushtest.New(t, false)
	_, srv := e.API()
	a := &app{e: e, url: srv.URL, identity: e.Identity(),
		c: &authapp.Client{HTTP: &http.Client{Timeout: 10 * time.Second}, Now: e.Clock.Now}}
	dev, seed, code := e.Activation(a.identity)
	st, err := a.c.Activate(context.Background(), srv.URL, code, "Telefono di prova")
	if err != nil {
		t.Fatal(err)
	}
	if st.DeviceID != dev {
		t.Fatalf("device %q, want %q", st.DeviceID, dev)
	}
	// The app shows the code the activation page then accepts.
	code6, _, err := st.OTP(e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := otp.Accept(context.Background(), e.Store, dev, seed, code6, e.Clock.Now()); err != nil || !ok {
		t.Fatalf("first code %s refused: %v", code6, err)
	}
	e.SetDevice(dev, func(d *storage.Device) { d.Status = storage.DeviceActive }) // what the activation page does
	a.st = st
	return a
}

func (a *app) challenge(t testing.TB) push.Challenge {
	t.Helper()
	c, err := a.e.Push.Create(context.Background(), a.identity, "flow", "Agenzia delle Entrate", 2)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (a *app) status(t testing.TB, id string) string {
	t.Helper()
	c, err := a.e.Push.Status(context.Background(), id, "flow")
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

func other(c push.Challenge) int {
	for _, o := range c.Options {
		if o != c.Number {
			return o
		}
	}
	panic("no decoy")
}

func wantAPIError(t *testing.T, err error, status int) {
	t.Helper()
	var ae *authapp.Error
	if !errors.As(err, &ae) || ae.Status != status || ae.Message == "" {
		t.Fatalf("error %v, want IdP answer %d with a message", err, status)
	}
}

func TestAppApprove(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	c := a.challenge(t)
	list, err := a.c.Challenges(ctx, a.st, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != c.ID || list[0].SPName != "Agenzia delle Entrate" || list[0].Level != 2 ||
		list[0].Options != c.Options || !list[0].ExpiresAt.Equal(c.Expires) {
		t.Fatalf("challenges %+v, want %+v", list, c)
	}
	if err := a.c.Approve(ctx, a.st, c.ID, c.Number); err != nil {
		t.Fatal(err)
	}
	if s := a.status(t, c.ID); s != push.StatusApproved {
		t.Errorf("status %q", s)
	}
	// A second approval is refused and changes nothing.
	wantAPIError(t, a.c.Approve(ctx, a.st, c.ID, c.Number), http.StatusConflict)
	if list, _ := a.c.Challenges(ctx, a.st, 0); len(list) != 0 {
		t.Errorf("decided challenge still listed: %v", list)
	}
}

func TestAppWrongNumber(t *testing.T) {
	a := newApp(t)
	c := a.challenge(t)
	wantAPIError(t, a.c.Approve(context.Background(), a.st, c.ID, other(c)), http.StatusUnprocessableEntity)
	if s := a.status(t, c.ID); s != push.StatusDenied {
		t.Errorf("status %q", s)
	}
}

func TestAppDeny(t *testing.T) {
	a := newApp(t)
	c := a.challenge(t)
	if err := a.c.Deny(context.Background(), a.st, c.ID); err != nil {
		t.Fatal(err)
	}
	if s := a.status(t, c.ID); s != push.StatusDenied {
		t.Errorf("status %q", s)
	}
}

func TestAppRevoked(t *testing.T) {
	a := newApp(t)
	c := a.challenge(t)
	a.e.SetDevice(a.st.DeviceID, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
	wantAPIError(t, a.c.Approve(context.Background(), a.st, c.ID, c.Number), http.StatusUnauthorized)
	_, err := a.c.Challenges(context.Background(), a.st, 0)
	wantAPIError(t, err, http.StatusUnauthorized)
	if s := a.status(t, c.ID); s != push.StatusPending {
		t.Errorf("status %q", s)
	}
}

func TestAppExpired(t *testing.T) {
	a := newApp(t)
	c := a.challenge(t)
	a.e.Clock.Advance(push.DefaultTTL + time.Second)
	wantAPIError(t, a.c.Approve(context.Background(), a.st, c.ID, c.Number), http.StatusGone)
	if s := a.status(t, c.ID); s != push.StatusExpired {
		t.Errorf("status %q", s)
	}
}

// A device whose clock is off by more than a minute is told so.
func TestAppClockSkew(t *testing.T) {
	a := newApp(t)
	c := a.challenge(t)
	a.c.Now = func() time.Time { return a.e.Clock.Now().Add(-2 * time.Minute) }
	err := a.c.Approve(context.Background(), a.st, c.ID, c.Number)
	wantAPIError(t, err, http.StatusUnauthorized)
	if !strings.Contains(err.Error(), "clock") {
		t.Errorf("message %v", err)
	}
}

func TestAppActivateRefused(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	c := &authapp.Client{Now: e.Clock.Now}
	_, err := c.Activate(context.Background(), srv.URL, "ABCDEFGHJKMN", "")
	wantAPIError(t, err, http.StatusBadRequest)
	for _, u := range []string{"http://idp.example.it", "ftp://127.0.0.1", "https://user:pw@idp.example.it", "https://idp.example.it/?x=1", "idp.example.it"} {
		if _, err := c.Activate(context.Background(), u, "ABCDEFGHJKMN", ""); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if _, err := c.Activate(context.Background(), srv.URL, " ", ""); err == nil {
		t.Error("empty code accepted")
	}
}

func TestAppStateFile(t *testing.T) {
	a := newApp(t)
	path := filepath.Join(t.TempDir(), "sub", "app-device.json")
	if err := a.st.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", di.Mode())
	}
	got, err := authapp.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := a.challenge(t)
	if err := a.c.Approve(context.Background(), got, c.ID, c.Number); err != nil {
		t.Fatalf("approve with the reloaded state: %v", err)
	}
	code, left, err := got.OTP(time.Unix(1_700_000_020, 0)) // 10 s into a step
	if err != nil || len(code) != 6 || left != 20*time.Second {
		t.Errorf("OTP %q %v %v", code, left, err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := authapp.Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable state: %v", err)
	}
	if _, err := authapp.Load(filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "activate") {
		t.Errorf("missing state: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"idp":"http://127.0.0.1","device_id":"d","private_key":"AAAA"}`), 0o600)
	if _, err := authapp.Load(bad); err == nil {
		t.Error("state with a broken key accepted")
	}
}

// BenchmarkPushApproval is one push login's app side and IdP side over
// loopback HTTP: create the challenge, the app fetches it and signs its
// approval, the IdP verifies and records it, the login page reads Status.
func BenchmarkPushApproval(b *testing.B) {
	a := newApp(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// Three logins per 10 minutes, as the limit allows.
		a.e.Clock.Advance(200 * time.Second)
		c, err := a.e.Push.Create(ctx, a.identity, "flow", "SP", 2)
		if err != nil {
			b.Fatal(err)
		}
		list, err := a.c.Challenges(ctx, a.st, 0)
		if err != nil || len(list) == 0 {
			b.Fatal(err, list)
		}
		if err := a.c.Approve(ctx, a.st, c.ID, c.Number); err != nil {
			b.Fatal(err)
		}
		got, err := a.e.Push.Status(ctx, c.ID, "flow")
		if err != nil || got.Status != push.StatusApproved {
			b.Fatal(err, got.Status)
		}
	}
}
