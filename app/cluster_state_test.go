package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// clusterNodes builds n nodes the way `serve` does, on one PostgreSQL schema
// and one Redis prefix, each with its own data_dir (as on separate hosts)
// and the configuration they must share (base URL, keys), behind one
// listener that hands requests to the nodes in turn. The first node is
// built and its demo set up first; the others start after it.
func clusterNodes(t *testing.T, n int) ([]*App, string, DemoInfo) {
	t.Helper()
	dsn, _ := testenv.PostgresSchema(t, "cluster_state_")
	redisAddr := testenv.Redis(t)
	rnd := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	prefix := "spid-test-" + hex.EncodeToString(rnd(6)) + ":"
	shared := t.TempDir() // the signing key every node is configured with
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	sharedEnv := []string{
		"SPID_IDP_SERVER_BASE_URL=" + base,
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN=" + dsn,
		"SPID_IDP_CACHE_DRIVER=redis",
		"SPID_IDP_CACHE_REDIS_ADDR=" + redisAddr,
		"SPID_IDP_CACHE_REDIS_KEY_PREFIX=" + prefix,
		"SPID_IDP_IDP_SESSION_COOKIE_KEY=" + base64.StdEncoding.EncodeToString(rnd(32)),
		"SPID_IDP_SECURITY_DATA_KEY=" + base64.StdEncoding.EncodeToString(rnd(32)),
		"SPID_IDP_IDP_SIGNING_KEY_FILE=" + filepath.Join(shared, "signing.key"),
		"SPID_IDP_IDP_SIGNING_CERT_FILE=" + filepath.Join(shared, "signing.crt"),
		"SPID_IDP_SECURITY_THROTTLE_MAX_ATTEMPTS=1000000",
		"SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=19456", "SPID_IDP_SECURITY_ARGON2_TIME=2", "SPID_IDP_SECURITY_ARGON2_THREADS=1",
	}
	var nodes []*App
	var info DemoInfo
	for range n {
		var a *App
		a, info = demoNode(t, append([]string{"SPID_IDP_DATA_DIR=" + t.TempDir()}, sharedEnv...))
		nodes = append(nodes, a)
	}
	var next atomic.Uint64
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes[int(next.Add(1))%len(nodes)].Server.Handler().ServeHTTP(w, r)
	})
	ts.Start()
	t.Cleanup(ts.Close)
	return nodes, base, info
}

// TestPortalLoginAcrossNodes: the personal area works whichever node
// answers each request. Each node used to make its own portal SP key under
// its data_dir and register it at start, so the registry held only the
// last starter's certificate and the others' AuthnRequests got nr05.
// demoNode builds one IdP node, as the binary does, from the configuration
// env gives, with the demo set up (migrated and seeded by the first node of
// a shared database, found done by the others).
func demoNode(t *testing.T, env []string) (*App, DemoInfo) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureDemoKeys(); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBackends(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a, err := Build(ctx, cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := a.SetupDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a, info
}

func TestPortalLoginAcrossNodes(t *testing.T) {
	nodes, base, info := clusterNodes(t, 2)
	for round := range 2 {
		home := portalLogin(t, nodes[0], newBrowser(t), base, info, info.Password)
		if home.status != http.StatusOK || !strings.Contains(home.body, "Mario Rossi") {
			t.Fatalf("round %d: personal area after login through both nodes: %d %s\n%s", round, home.status, home.url, home.body)
		}
	}
	// Every node serves the same portal metadata key, the one registered.
	var certs []string
	for _, a := range nodes {
		rec := httptest.NewRecorder()
		a.Server.Handler().ServeHTTP(rec, httptest.NewRequest("GET", base+"/account/metadata", nil))
		body := rec.Body.String()
		i := strings.Index(body, "X509Certificate>")
		if rec.Code != http.StatusOK || i < 0 {
			t.Fatalf("portal metadata: %d\n%s", rec.Code, body)
		}
		certs = append(certs, body[i:i+200])
	}
	if certs[0] != certs[1] {
		t.Errorf("the nodes' personal areas publish different certificates")
	}
}
