// Package pushtest builds, for tests, the world push approval lives in: a
// real SQLite store (identities, devices, audit log), an in-memory
// Ephemeral store (values, replay cache), a data key, a movable clock and a
// push.Service over them.
package pushtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/storage/sqlstore"
)

// Clock is the clock the test moves by hand.
type Clock = testclock.Clock

// Env is one test's world.
type Env struct {
	T      testing.TB
	Store  *sqlstore.Store
	Eph    *memory.Store
	Sealer *datakey.Sealer
	Audit  *audit.Logger
	Clock  *Clock
	Push   *push.Service
	n      atomic.Int64
}

// New builds an Env. With real set, the clock is the wall clock (for tests
// over HTTP whose requests carry real timestamps); otherwise it starts at a
// fixed instant and moves only by Advance.
func New(t testing.TB, real bool) *Env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 5, 0, time.UTC))
	now := clock.Now
	if real {
		now = time.Now
	}
	eph := memory.New(memory.WithClock(now))
	t.Cleanup(func() { eph.Close() })
	key, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Store: st, Eph: eph, Sealer: sealer, Clock: clock}
	e.Audit = &audit.Logger{Store: st, Now: now}
	e.Push = &push.Service{Values: eph, Devices: st, Sealer: sealer, Audit: e.Audit, Now: now}
	return e
}

// Identity creates an active citizen and returns its ID.
func (e *Env) Identity() string {
	e.T.Helper()
	n := e.n.Add(1)
	id := storage.Identity{
		ID: fmt.Sprintf("identity-%d", n), Username: fmt.Sprintf("citizen%d@example.it", n),
		Type: storage.IdentityCitizen, Status: storage.IdentityActive,
		Attributes: map[string]string{"name": "Mario", "familyName": "Rossi"},
	}
	if err := e.Store.CreateIdentity(context.Background(), id); err != nil {
		e.T.Fatal(err)
	}
	return id.ID
}

// PendingDevice creates a pending device of identityID holding a fresh
// sealed TOTP seed, as the activation page does, and returns its ID and
// the seed.
func (e *Env) PendingDevice(identityID string) (string, []byte) {
	e.T.Helper()
	seed, err := otp.NewSeed()
	if err != nil {
		e.T.Fatal(err)
	}
	id := fmt.Sprintf("device-%d", e.n.Add(1))
	sealed, err := e.Sealer.Seal(seed, push.SeedAD(identityID, id))
	if err != nil {
		e.T.Fatal(err)
	}
	d := storage.Device{ID: id, IdentityID: identityID, Name: "Telefono", Kind: storage.DeviceTOTP,
		Status: storage.DevicePending, Secret: sealed, CreatedAt: e.Clock.Now()}
	if err := e.Store.CreateDevice(context.Background(), d); err != nil {
		e.T.Fatal(err)
	}
	return id, seed
}

// PushDevice creates an active push device of identityID and returns its ID
// and private key.
func (e *Env) PushDevice(identityID string) (string, *ecdsa.PrivateKey) {
	e.T.Helper()
	id, _ := e.PendingDevice(identityID)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.T.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		e.T.Fatal(err)
	}
	sealed, err := e.Sealer.Seal(der, push.PublicKeyAD(identityID, id))
	if err != nil {
		e.T.Fatal(err)
	}
	e.SetDevice(id, func(d *storage.Device) {
		d.Kind, d.Status, d.PublicKey = storage.DevicePush, storage.DeviceActive, sealed
	})
	return id, key
}

// SetDevice changes a stored device.
func (e *Env) SetDevice(id string, fn func(*storage.Device)) {
	e.T.Helper()
	err := e.Store.UpdateDevice(context.Background(), id, func(d storage.Device) (storage.Device, error) {
		fn(&d)
		return d, nil
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

// Device reads a stored device.
func (e *Env) Device(id string) storage.Device {
	e.T.Helper()
	d, err := e.Store.GetDevice(context.Background(), id)
	if err != nil {
		e.T.Fatal(err)
	}
	return d
}

// AuditLog returns every audit record.
func (e *Env) AuditLog() []storage.AuditEvent {
	e.T.Helper()
	evs, err := e.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		e.T.Fatal(err)
	}
	return evs
}

// LastAudit returns the last audit record with action, or fails the test.
func (e *Env) LastAudit(action string) storage.AuditEvent {
	e.T.Helper()
	evs := e.AuditLog()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == action {
			return evs[i]
		}
	}
	e.T.Fatalf("no audit record %q", action)
	return storage.AuditEvent{}
}

// API builds the app API over the Env and serves it on 127.0.0.1; the
// handler polls every 50 ms so long-poll tests stay short.
func (e *Env) API() (*appapi.Handler, *httptest.Server) {
	e.T.Helper()
	h, err := appapi.New(appapi.Config{
		Push: e.Push, Devices: e.Store, Values: e.Eph, Ephemeral: e.Eph, Sealer: e.Sealer,
		Audit: e.Audit, Issuer: "SPID IdP di prova", Identities: e.Store, Now: e.Push.Now,
		PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		e.T.Fatal(err)
	}
	srv := httptest.NewServer(h)
	e.T.Cleanup(srv.Close)
	return h, srv
}

// Activation makes a pending device of identityID and its activation code.
func (e *Env) Activation(identityID string) (deviceID string, seed []byte, code string) {
	e.T.Helper()
	deviceID, seed = e.PendingDevice(identityID)
	code, err := appapi.NewActivationAt(context.Background(), e.Eph, identityID, deviceID, e.Push.Now())
	if err != nil {
		e.T.Fatal(err)
	}
	return deviceID, seed, code
}
