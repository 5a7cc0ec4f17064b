package app

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/lifecycle"
)

// twoNodes builds two IdP nodes the way `spid-idp serve` does, sharing one
// PostgreSQL schema, one Redis prefix and one configuration (data dir, keys)
// as a cluster behind a load balancer does, with the demo SP and citizen.
// The returned server is the balancer: route picks the node that serves the
// requests from then on.
func twoNodes(t *testing.T) (nodes [2]*App, ts *httptest.Server, route func(int), info DemoInfo) {
	t.Helper()
	dsn, _ := testenv.PostgresSchema(t, "sess_nodes_")
	redisAddr := testenv.Redis(t)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	prefix := "spid-test-" + hex.EncodeToString(suffix) + ":"
	dir := t.TempDir()

	var current atomic.Int32
	ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes[current.Load()].Server.Handler().ServeHTTP(w, r)
	}))
	env := []string{
		"SPID_IDP_DATA_DIR=" + dir,
		"SPID_IDP_SERVER_BASE_URL=http://" + ts.Listener.Addr().String(),
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN=" + dsn,
		"SPID_IDP_CACHE_DRIVER=redis",
		"SPID_IDP_CACHE_REDIS_ADDR=" + redisAddr,
		"SPID_IDP_CACHE_REDIS_KEY_PREFIX=" + prefix,
		"SPID_IDP_SECURITY_THROTTLE_MAX_ATTEMPTS=1000000",
		"SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=19456", "SPID_IDP_SECURITY_ARGON2_TIME=2", "SPID_IDP_SECURITY_ARGON2_THREADS=1",
	}
	// One after the other: the first migrates the schema and seeds the
	// demo, the second finds both done.
	for i := range nodes {
		nodes[i], info = demoNode(t, env)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return nodes, ts, func(i int) { current.Store(int32(i)) }, info
}

// l1Login signs the browser in at SpidL1 through the demo SP and returns
// the SP's result page.
func l1Login(t *testing.T, br *browser, base string, info DemoInfo) page {
	t.Helper()
	login := br.submit(br.get(base+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	result := br.submit(br.submit(consent, "/consent", url.Values{"op": {"accept"}}), "/demo-sp/acs", nil)
	if !strings.Contains(result.body, "Mario") {
		t.Fatalf("level-1 login did not reach the SP:\n%s", result.body)
	}
	return result
}

// ssoAsksPassword reports whether a new SpidL1 request from the browser is
// met by the password form (true) rather than by the consent page of a
// reused session.
func ssoAsksPassword(t *testing.T, br *browser, base string) bool {
	t.Helper()
	p := br.submit(br.get(base+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	return strings.Contains(p.body, `name="password"`)
}

// TestSessionsEndWithTheIdentityAcrossNodes (issue 11 item 2; security.md
// C.7 "server-side sessions so SLO and suspension take effect at once"):
// the citizen is signed in on node 0; a suspension made on node 1 ends the
// session on both nodes at once; after reactivation the citizen must type
// the password again.
func TestSessionsEndWithTheIdentityAcrossNodes(t *testing.T) {
	nodes, ts, route, info := twoNodes(t)
	ctx := t.Context()
	const citizen = "demo-citizen"
	br := newBrowser(t)

	route(0)
	l1Login(t, br, ts.URL, info)
	route(1)
	if p := br.get(ts.URL + "/session"); !strings.Contains(p.body, "Mario") {
		t.Fatalf("node 1 does not see the session opened on node 0:\n%s", p.body)
	}

	if _, err := nodes[1].Lifecycle.Suspend(ctx, citizen, lifecycle.SuspendRequest{
		Actor: lifecycle.Actor{ID: citizen, Role: lifecycle.RoleHolder}, Cause: lifecycle.CauseHolderRequest,
		Channel: lifecycle.ChannelPortal,
	}); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	for i := range nodes {
		route(i)
		if p := br.get(ts.URL + "/session"); strings.Contains(p.body, "Mario") {
			t.Errorf("node %d: the session page still shows the suspended citizen signed in", i)
		}
	}

	// The holder's suspension ends by itself after 30 days (lifecycle).
	sc := nodes[1].Scheduler()
	sc.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	if rep, err := sc.RunOnce(ctx); err != nil || rep.Reactivated != 1 {
		t.Fatalf("scheduler: %+v, %v; want one reactivation", rep, err)
	}
	for i := range nodes {
		route(i)
		if !ssoAsksPassword(t, br, ts.URL) {
			t.Errorf("node %d: after reactivation a level-1 request reused the session from before the suspension", i)
		}
	}
	// Logging in again works and opens a new session, seen by both nodes.
	route(0)
	l1Login(t, br, ts.URL, info)
	route(1)
	if ssoAsksPassword(t, br, ts.URL) {
		t.Error("the session opened after reactivation is not reused on the other node")
	}
}
