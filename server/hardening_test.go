package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// S082: every response carries a CSP that allows nothing by default, names
// each source the pages use, lets forms post only to the IdP, and contains
// no 'unsafe-inline'; HSTS is two years with subdomains over https, absent
// over plain http.
func TestS082_SecurityHeadersOnEveryResponse(t *testing.T) {
	app := http.NewServeMux()
	app.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<p>hi</p>") })
	app.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	for _, hsts := range []bool{true, false} {
		s := newTest(t, Options{HSTS: hsts, App: app})
		for _, path := range []string{"/page", "/missing", "/boom", "/healthz", "/metrics", "/static/idp.css"} {
			res := do(t, s.Handler(), httptest.NewRequest("GET", path, nil))
			h := res.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
				"connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %q", path, csp, want)
				}
			}
			if !strings.HasSuffix(csp, "form-action 'self'") {
				t.Errorf("%s: CSP %q: forms must post to the IdP only", path, csp)
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "https:") || strings.Contains(csp, "http:") {
				t.Errorf("%s: CSP %q allows inline code or whole schemes", path, csp)
			}
			want := ""
			if hsts {
				want = "max-age=63072000; includeSubDomains"
			}
			if got := h.Get("Strict-Transport-Security"); got != want {
				t.Errorf("%s (https %v): HSTS %q, want %q", path, hsts, got, want)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: frame/referrer/nosniff headers %v", path, h)
			}
		}
	}
}

// S033: a 10 MiB POST gets 413 with the configured page, before the handler
// runs, and a body over the limit sent without a length (chunked) gets 413
// too whatever error the handler would have given, without the handler's
// own page.
func TestS033_OversizedBodyIs413(t *testing.T) {
	handled := 0
	s := newTest(t, Options{MaxBodyBytes: 128 << 10,
		TooLarge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "<h1>Richiesta troppo grande</h1>")
		}),
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handled++
			if err := r.ParseForm(); err != nil {
				// What the SSO endpoint answers for an unreadable request.
				w.Header().Set("Content-Length", "27")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, "nr04: malformed request...")
				return
			}
			io.WriteString(w, "ok")
		})})

	big := bytes.Repeat([]byte("A"), 10<<20)
	r := httptest.NewRequest("POST", "/sso/post", bytes.NewReader(big))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := do(t, s.Handler(), r)
	if b := body(t, res); res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b, "troppo grande") {
		t.Fatalf("10 MiB POST: %d %q", res.StatusCode, b)
	}
	if handled != 0 {
		t.Fatal("the handler ran for a body announced over the limit")
	}

	// No Content-Length: the handler reads, trips the limit, answers 403.
	r = httptest.NewRequest("POST", "/sso/post", io.MultiReader(bytes.NewReader(big)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res = do(t, s.Handler(), r)
	if b := body(t, res); res.StatusCode != http.StatusRequestEntityTooLarge || strings.Contains(b, "nr04") || !strings.Contains(b, "troppo grande") {
		t.Fatalf("chunked 10 MiB POST: %d %q", res.StatusCode, b)
	}

	// Within the limit nothing changes, errors included.
	r = httptest.NewRequest("POST", "/sso/post", strings.NewReader("a=%zz"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := do(t, s.Handler(), r); res.StatusCode != http.StatusForbidden {
		t.Fatalf("small malformed POST: %d, want the handler's 403", res.StatusCode)
	}
	r = httptest.NewRequest("POST", "/sso/post", strings.NewReader("a=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := do(t, s.Handler(), r); res.StatusCode != http.StatusOK {
		t.Fatalf("small POST: %d", res.StatusCode)
	}
}

// Issue 11 item 6 / issue 14 item 6: with a metrics address, /metrics and
// the profiler are served there and are 404 on the public listener.
func TestMetricsAndPprofOffThePublicListener(t *testing.T) {
	s := newTest(t, Options{MetricsAddr: "127.0.0.1:0"})
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if res := do(t, s.Handler(), httptest.NewRequest("GET", path, nil)); res.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", path, res.StatusCode)
		}
	}
	ops := s.MetricsHandler()
	if ops == nil {
		t.Fatal("no metrics handler")
	}
	res := do(t, ops, httptest.NewRequest("GET", "/metrics", nil))
	if b := body(t, res); res.StatusCode != 200 || !strings.Contains(b, "spid_idp_http_requests_total") {
		t.Fatalf("metrics listener /metrics: %d", res.StatusCode)
	}
	res = do(t, ops, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if b := body(t, res); res.StatusCode != 200 || !strings.Contains(b, "goroutine") {
		t.Fatalf("metrics listener /debug/pprof/: %d", res.StatusCode)
	}

	// Without a metrics address /metrics stays on the public listener (demo
	// mode) and the profiler is nowhere.
	s = newTest(t, Options{})
	if res := do(t, s.Handler(), httptest.NewRequest("GET", "/metrics", nil)); res.StatusCode != 200 {
		t.Errorf("public /metrics without a metrics listener: %d", res.StatusCode)
	}
	if res := do(t, s.Handler(), httptest.NewRequest("GET", "/debug/pprof/", nil)); res.StatusCode != http.StatusNotFound {
		t.Errorf("public /debug/pprof/: %d, want 404", res.StatusCode)
	}
	if s.MetricsHandler() != nil {
		t.Error("a metrics handler without a metrics address")
	}
}

// A metrics token is asked for on whichever listener serves /metrics.
func TestMetricsBearerToken(t *testing.T) {
	const tok = "s3cret-token-for-prometheus"
	for name, o := range map[string]Options{
		"public listener":  {MetricsToken: tok},
		"metrics listener": {MetricsToken: tok, MetricsAddr: "127.0.0.1:0"},
	} {
		t.Run(name, func(t *testing.T) {
			s := newTest(t, o)
			h := s.MetricsHandler()
			paths := []string{"/metrics", "/debug/pprof/"}
			if h == nil {
				h, paths = s.Handler(), paths[:1]
			}
			for _, path := range paths {
				for auth, want := range map[string]int{
					"": 401, "Bearer wrong": 401, "Basic " + tok: 401, "Bearer " + tok + "x": 401, "Bearer " + tok: 200,
				} {
					r := httptest.NewRequest("GET", path, nil)
					if auth != "" {
						r.Header.Set("Authorization", auth)
					}
					res := do(t, h, r)
					if res.StatusCode != want {
						t.Errorf("%s with %q: %d, want %d", path, auth, res.StatusCode, want)
					}
					if want == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s: 401 without a Bearer challenge", path)
					}
				}
			}
		})
	}
}

// Serve opens the metrics listener next to the public one and closes both.
func TestServeOpensTheMetricsListener(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	s := newTest(t, Options{MetricsAddr: addr, ShutdownTimeout: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var res *http.Response
	for i := 0; i < 100; i++ {
		if res, err = http.Get("http://" + addr + "/metrics"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("metrics listener: %v %v", res, err)
	}
	res.Body.Close()
	if res, err := http.Get("http://" + ln.Addr().String() + "/metrics"); err != nil || res.StatusCode != 404 {
		t.Fatalf("public /metrics: %v %v", res, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("metrics listener still open after shutdown")
	}
}
