package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/server/requestctx"
)

func newTest(t *testing.T, o Options) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, r *http.Request) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOperationalEndpoints(t *testing.T) {
	var down atomic.Bool
	s := newTest(t, Options{Ready: func(context.Context) error {
		if down.Load() {
			return errors.New("dial tcp 127.0.0.1:5432: connection refused")
		}
		return nil
	}, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })})
	h := s.Handler()

	if res := do(t, h, httptest.NewRequest("GET", "/healthz", nil)); res.StatusCode != 200 {
		t.Fatalf("healthz %d", res.StatusCode)
	}
	if res := do(t, h, httptest.NewRequest("GET", "/readyz", nil)); res.StatusCode != 200 {
		t.Fatalf("readyz %d", res.StatusCode)
	}
	// The database goes away: readiness and application requests turn 503,
	// health stays 200 (the process is alive), and nothing leaks the error.
	down.Store(true)
	res := do(t, h, httptest.NewRequest("GET", "/readyz", nil))
	if b := body(t, res); res.StatusCode != 503 || strings.Contains(b, "5432") {
		t.Fatalf("readyz while down: %d %q", res.StatusCode, b)
	}
	if res := do(t, h, httptest.NewRequest("GET", "/login", nil)); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("app while down: %d", res.StatusCode)
	}
	if res := do(t, h, httptest.NewRequest("GET", "/healthz", nil)); res.StatusCode != 200 {
		t.Fatalf("healthz while down %d", res.StatusCode)
	}
	// Back again.
	down.Store(false)
	do(t, h, httptest.NewRequest("GET", "/readyz", nil))
	if res := do(t, h, httptest.NewRequest("GET", "/login", nil)); res.StatusCode != 200 || body(t, res) != "app" {
		t.Fatalf("app after recovery: %d", res.StatusCode)
	}

	res = do(t, h, httptest.NewRequest("GET", "/metrics", nil))
	m := body(t, res)
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", "spid_idp_http_requests_total", "spid_idp_ready 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestSecurityHeadersAndRequestID(t *testing.T) {
	var seen string
	s := newTest(t, Options{HSTS: true, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = requestctx.ID(r.Context())
	})})
	res := do(t, s.Handler(), httptest.NewRequest("GET", "/x", nil))
	h := res.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	for k, v := range map[string]string{
		"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Cache-Control": "no-store", "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
	} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if seen == "" || h.Get("X-Request-ID") != seen {
		t.Errorf("request id: header %q, context %q", h.Get("X-Request-ID"), seen)
	}
	// An untrusted client cannot choose its request ID.
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("X-Request-ID", "chosen")
	if res := do(t, s.Handler(), r); res.Header.Get("X-Request-ID") == "chosen" {
		t.Error("request ID taken from an untrusted client")
	}
}

func TestClientIPBehindTrustedProxy(t *testing.T) {
	var got string
	s := newTest(t, Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = requestctx.ClientIP(r.Context())
		}),
	})
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct", "198.51.100.1:1234", "", "198.51.100.1"},
		{"untrusted peer's header ignored", "198.51.100.1:1234", "203.0.113.9", "198.51.100.1"},
		{"trusted proxy", "10.1.2.3:1234", "203.0.113.9", "203.0.113.9"},
		{"spoofed left part skipped", "10.1.2.3:1234", "1.2.3.4, 203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"garbage stops the walk", "10.1.2.3:1234", "nonsense", "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			do(t, s.Handler(), r)
			if got != tt.want {
				t.Fatalf("client IP %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBodyLimitAndPanic(t *testing.T) {
	s := newTest(t, Options{MaxBodyBytes: 10, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
	})})
	r := httptest.NewRequest("POST", "/form", strings.NewReader("a="+strings.Repeat("x", 100)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := do(t, s.Handler(), r); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", res.StatusCode)
	}
	if res := do(t, s.Handler(), httptest.NewRequest("GET", "/panic", nil)); res.StatusCode != 500 {
		t.Fatalf("panic: %d", res.StatusCode)
	}
}

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	s := newTest(t, Options{ShutdownTimeout: 5 * time.Second, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resc := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			resc <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		resc <- string(b)
	}()
	<-started
	cancel() // SIGTERM arrives while a request is in flight
	if got := <-resc; got != "finished" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
}

func TestBodyLimitsPerRoute(t *testing.T) {
	s := newTest(t, Options{MaxBodyBytes: 10, BodyLimits: map[string]int64{"/upload/": 1000, "/upload/small": 20},
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			}
		})})
	for _, tt := range []struct {
		path string
		size int
		want int
	}{
		{"/form", 11, 413}, {"/form", 10, 200},
		{"/upload/scan", 1000, 200}, {"/upload/scan", 1001, 413},
		{"/upload/small", 21, 413}, {"/upload/small", 20, 200},
	} {
		res := do(t, s.Handler(), httptest.NewRequest("POST", tt.path, strings.NewReader(strings.Repeat("x", tt.size))))
		if res.StatusCode != tt.want {
			t.Errorf("%s with %d bytes: %d, want %d", tt.path, tt.size, res.StatusCode, tt.want)
		}
	}
}
