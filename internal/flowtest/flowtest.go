// Package flowtest is the fixture shared by the tests of the
// authentication flow (authflow) and of its protocol front ends (idp): a
// loopback server not yet started, a SQLite store with the demo citizen,
// an in-memory ephemeral store, the real pages and a cookie key, all on
// one clock the test moves. Each test wires its own handlers into Srv and
// builds its flow engine from these parts; flowtest does not import
// authflow, so authflow's own tests can use it.
package flowtest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/templates"
)

// FastArgon2 keeps password checks cheap in tests.
var FastArgon2 = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

// Env is what a flow test runs on.
type Env struct {
	// Srv listens on Base already; the test sets Srv.Config.Handler and
	// calls Start.
	Srv   *httptest.Server
	Base  string
	Clock *testclock.Offset
	Store storage.Store
	Eph   *memory.Store
	Pages *templates.Renderer
	// CookieKey is the flow's cookie key (one, random).
	CookieKey []byte
	// The demo citizen's credentials.
	Username, Password string
}

// New makes the parts, closed at the end of t.
func New(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	e := &Env{Clock: &testclock.Offset{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Srv = httptest.NewUnstartedServer(nil)
	e.Srv.Listener.Close()
	e.Srv.Listener = ln
	e.Base = "http://" + ln.Addr().String()

	st, err := sqlite.Open(ctx, t.TempDir()+"/idp.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.Store = st
	e.Eph = memory.New(memory.WithClock(e.Clock.Now))
	t.Cleanup(func() { e.Eph.Close() })
	if _, err := demo.EnsureCitizen(ctx, st, FastArgon2); err != nil {
		t.Fatal(err)
	}
	e.Username, e.Password = demo.CitizenUsername, demo.CitizenPassword

	e.CookieKey = make([]byte, 32)
	rand.Read(e.CookieKey)
	if e.Pages, err = templates.New(); err != nil {
		t.Fatal(err)
	}
	return e
}

// Start serves Srv.Config.Handler until the end of t.
func (e *Env) Start(t testing.TB) {
	e.Srv.Start()
	t.Cleanup(e.Srv.Close)
}

// Audit is an audit logger on the store and the clock.
func (e *Env) Audit() *audit.Logger { return &audit.Logger{Store: e.Store, Now: e.Clock.Now} }

// Regulator locks credentials on the store and the clock.
func (e *Env) Regulator() *regulation.Regulator {
	return &regulation.Regulator{Store: e.Store, Now: e.Clock.Now}
}

// DiscardLog is a logger that writes nothing.
func DiscardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
