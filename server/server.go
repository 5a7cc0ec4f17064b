// Package server runs the IdP's HTTP server: the middleware every request
// goes through (request ID, client address behind trusted proxies, access
// log, metrics, security headers, body limit, panic recovery, readiness
// gate), the operational endpoints (/healthz, /readyz, /metrics) and graceful
// shutdown.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Server. Zero durations take safe defaults.
type Options struct {
	Addr                    string
	TLSCertFile, TLSKeyFile string
	TrustedProxies          []netip.Prefix
	ReadHeaderTimeout       time.Duration
	ReadTimeout             time.Duration
	WriteTimeout            time.Duration
	IdleTimeout             time.Duration
	ShutdownTimeout         time.Duration
	MaxBodyBytes            int64
	// BodyLimits raises MaxBodyBytes for upload routes: the longest path
	// prefix that matches wins (document scans, signed files, recordings).
	BodyLimits     map[string]int64
	MaxHeaderBytes int
	// TLSMinVersion is tls.VersionTLS12 (default) or tls.VersionTLS13.
	TLSMinVersion uint16
	// HSTS sends Strict-Transport-Security: set when the public URL is https
	// (TLS here or at a proxy).
	HSTS bool
	// MetricsAddr is the host:port of the operations listener serving
	// /metrics and /debug/pprof/ (issue 11 item 6, issue 14 item 6); empty
	// serves /metrics on the public listener and pprof nowhere.
	MetricsAddr string
	// MetricsToken, when set, is the bearer token /metrics and pprof ask
	// for (Authorization: Bearer <token>), on whichever listener.
	MetricsToken string
	Logger       *slog.Logger
	// Registry receives the server's metrics; Go and process collectors are
	// added to it. A new registry is made when nil.
	Registry *prometheus.Registry
	// Ready makes a real round trip to every backend; nil means always ready.
	Ready func(ctx context.Context) error
	// ReadyInterval is how often the background probe refreshes the state
	// that gates application requests (default 5s).
	ReadyInterval time.Duration
	// ReadyTimeout bounds one readiness check (default 800ms), so /readyz
	// answers within a second even when a backend hangs.
	ReadyTimeout time.Duration
	// RequestTimeout, when positive, is every application request's
	// deadline, inherited by each storage and cache call through the
	// request's context: however many dependency waits a handler makes in
	// turn, together they end by then, and a handler that fails because
	// the time ran out answers the 503 page at once (issue 13: no request
	// waits more than 3 s during an outage).
	RequestTimeout time.Duration
	// LongRequests are path prefixes RequestTimeout does not apply to: long
	// polls and uploads, which wait by design (each dependency wait in them
	// is still bounded by the storage timeouts).
	LongRequests []string
	// App serves everything but the operational endpoints.
	App http.Handler
	// Unavailable renders the page shown while a backend is down; nil gives
	// a plain-text 503.
	Unavailable http.Handler
	// Failure renders the page shown after a panic; nil gives plain text.
	Failure http.Handler
	// TooLarge renders the 413 page for a body over its limit; nil gives
	// plain text.
	TooLarge http.Handler
}

// Server is the IdP's HTTP server.
type Server struct {
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	handler  http.Handler
	ops      http.Handler // the operations listener's handler, nil without one
	ready    atomic.Bool
	probing  atomic.Bool // a recheck after an application 503 is running
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New builds the server and registers its metrics.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, 5*time.Second)
	def(&o.ReadTimeout, 15*time.Second)
	def(&o.WriteTimeout, 30*time.Second)
	def(&o.IdleTimeout, 120*time.Second)
	def(&o.ShutdownTimeout, 20*time.Second)
	def(&o.ReadyInterval, 5*time.Second)
	def(&o.ReadyTimeout, 800*time.Millisecond)
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 256 << 10
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 16 << 10
	}
	if o.TLSMinVersion < tls.VersionTLS12 {
		o.TLSMinVersion = tls.VersionTLS12
	}
	if o.App == nil {
		o.App = http.NotFoundHandler()
	}
	s := &Server{opts: o, log: o.Logger, reg: o.Registry}
	s.ready.Store(true)
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spid_idp_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "spid_idp_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	readyGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "spid_idp_ready", Help: "1 when every storage backend answered the last readiness probe.",
	}, func() float64 {
		if s.ready.Load() {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{
		s.requests, s.duration, readyGauge,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := s.reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: registering metrics: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	metrics := s.bearer(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if o.MetricsAddr == "" {
		mux.Handle("GET /metrics", metrics)
	} else {
		// /metrics and the profiler stay off the public listener: per-route
		// counts and queue sizes help an attacker, and a profile costs CPU
		// anyone could spend.
		ops := http.NewServeMux()
		ops.Handle("GET /metrics", metrics)
		ops.Handle("/debug/pprof/", s.bearer(http.HandlerFunc(pprof.Index)))
		ops.Handle("/debug/pprof/cmdline", s.bearer(http.HandlerFunc(pprof.Cmdline)))
		ops.Handle("/debug/pprof/profile", s.bearer(http.HandlerFunc(pprof.Profile)))
		ops.Handle("/debug/pprof/symbol", s.bearer(http.HandlerFunc(pprof.Symbol)))
		ops.Handle("/debug/pprof/trace", s.bearer(http.HandlerFunc(pprof.Trace)))
		s.ops = ops
	}
	mux.Handle("/", s.gate(o.App))
	s.handler = s.middleware(mux)
	return s, nil
}

// Handler is the complete handler, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler is the operations listener's handler (/metrics,
// /debug/pprof/), nil when Options.MetricsAddr is empty.
func (s *Server) MetricsHandler() http.Handler { return s.ops }

// bearer asks for MetricsToken when one is configured; the comparison takes
// the same time whatever the guess.
func (s *Server) bearer(next http.Handler) http.Handler {
	if s.opts.MetricsToken == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.opts.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Registry is the metrics registry, for other packages' collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.check(r.Context()); err != nil {
		s.setReady(err)
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: a storage backend is unreachable")
		return
	}
	s.setReady(nil)
	fmt.Fprintln(w, "ready")
}

// retryAfter is what 503 answers tell clients to wait, in seconds: about
// two probe intervals.
const retryAfter = "10"

// errCheckTimeout: a backend did not answer the readiness check in time.
var errCheckTimeout = errors.New("readiness check timed out")

// check runs the Ready probe within ReadyTimeout. It returns when the
// timeout passes even if a backend ignores its context.
func (s *Server) check(ctx context.Context) error {
	if s.opts.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.opts.Ready(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errCheckTimeout
	}
}

// setReady records the outcome of a check, logging the transitions.
func (s *Server) setReady(err error) {
	was := s.ready.Swap(err == nil)
	switch {
	case err != nil && was:
		s.log.Error("storage unreachable: answering 503 until it is back", "err", err)
	case err == nil && !was:
		s.log.Info("storage reachable again: serving requests")
	}
}

// backendDown reports whether a backend is down, checking at once (within
// ReadyTimeout) unless the last check already said so: an application
// error answered while a dependency is out is an outage, not a fault.
func (s *Server) backendDown(ctx context.Context) bool {
	if s.opts.Ready == nil {
		return false
	}
	if !s.ready.Load() {
		return true
	}
	err := s.check(context.WithoutCancel(ctx))
	if err != nil {
		s.setReady(err)
	}
	return err != nil
}

// recheck runs one check in the background after the application answered
// 503, so the gate closes for the requests that follow without waiting for
// the next probe.
func (s *Server) recheck() {
	if s.opts.Ready == nil || !s.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.probing.Store(false)
		s.setReady(s.check(context.Background()))
	}()
}

// gate answers 503 while the last readiness probe failed, so a citizen sees
// a clear page instead of a half-finished login when the database is down.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() && !strings.HasPrefix(r.URL.Path, "/static/") {
			w.Header().Set("Retry-After", retryAfter)
			if s.opts.Unavailable != nil {
				s.opts.Unavailable.ServeHTTP(w, r)
				return
			}
			http.Error(w, "service temporarily unavailable, retry later", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// probe refreshes the readiness state until ctx ends.
func (s *Server) probe(ctx context.Context) {
	if s.opts.Ready == nil {
		return
	}
	t := time.NewTicker(s.opts.ReadyInterval)
	defer t.Stop()
	for {
		s.setReady(s.check(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Serve listens on ln until ctx is cancelled, then shuts down gracefully:
// no new connections, in-flight requests get ShutdownTimeout to finish.
// With Options.MetricsAddr set it also listens there for the operations
// endpoints.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var opsLn net.Listener
	if s.ops != nil {
		var err error
		if opsLn, err = net.Listen("tcp", s.opts.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("server: metrics listener on %s: %w", s.opts.MetricsAddr, err)
		}
	}
	return s.serve(ctx, ln, opsLn)
}

// serve runs the public listener and, when opsLn is not nil, the
// operations one, until ctx ends or either fails.
func (s *Server) serve(ctx context.Context, ln, opsLn net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadTimeout:       s.opts.ReadTimeout,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		TLSConfig:         &tls.Config{MinVersion: s.opts.TLSMinVersion},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	servers := []*http.Server{srv}
	pctx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	go s.probe(pctx)

	errc := make(chan error, 2)
	go func() {
		if s.opts.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, s.opts.TLSCertFile, s.opts.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if opsLn != nil {
		// Plain HTTP on a private address (or behind the token): Prometheus
		// scrapes it from inside the network. A CPU profile runs for 30 s by
		// default, hence the longer write timeout.
		ops := &http.Server{
			Handler:           s.ops,
			ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
			ReadTimeout:       s.opts.ReadTimeout,
			WriteTimeout:      2 * time.Minute,
			IdleTimeout:       s.opts.IdleTimeout,
			MaxHeaderBytes:    s.opts.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		servers = append(servers, ops)
		s.log.Info("metrics listener started", "addr", opsLn.Addr().String())
		go func() { errc <- ops.Serve(opsLn) }()
	}
	var first error
	select {
	case err := <-errc:
		first = fmt.Errorf("server: %w", err)
	case <-ctx.Done():
		s.log.Info("shutting down", "grace", s.opts.ShutdownTimeout)
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	for _, x := range servers {
		if err := x.Shutdown(sctx); err != nil && first == nil {
			first = fmt.Errorf("server: graceful shutdown: %w", err)
		}
	}
	if first != nil {
		return first
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// ListenAndServe listens on Options.Addr (and Options.MetricsAddr) and
// serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.opts.Addr, err)
	}
	return s.Serve(ctx, ln)
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
