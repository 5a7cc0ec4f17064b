package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/server/requestctx"
)

// validRequestID limits what a trusted proxy may hand us as a request ID, so
// it cannot inject text into logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
	// body is the request body's guard: when the handler hit the body limit
	// and then answers an error, the answer becomes 413 (tooLarge).
	body     *limitedBody
	tooLarge func(w http.ResponseWriter)
	// swallow drops the handler's own page once another answer (413, the
	// 503 page) was sent instead.
	swallow bool
	// With srv set, a dependency outage reaches the client the same way
	// whichever handler met it (see WriteHeader).
	srv *Server
	req *http.Request
	// deadline is the request's RequestTimeout deadline, zero without one.
	deadline time.Time
}

// WriteHeader also makes every dependency outage answer the same way — 503,
// Retry-After and the page in words: a 500 answered while a backend does
// not answer the readiness check becomes that 503, a plain-text 503 gets
// the page, and every 503 carries Retry-After and has readiness rechecked.
func (r *recorder) WriteHeader(code int) {
	if r.code != 0 {
		return // a second call is a handler bug; net/http would only log it
	}
	if code >= 400 && r.body != nil && r.body.exceeded && r.tooLarge != nil {
		// The handler read past the body limit (a chunked body, or one that
		// lied about its length) and reports it as whatever error it knows —
		// nr04, a bad form: the client is told the truth instead (S033).
		r.swallow = true
		r.code = http.StatusRequestEntityTooLarge
		// The handler's own page may have set its length already.
		r.ResponseWriter.Header().Del("Content-Length")
		r.tooLarge(r.ResponseWriter)
		return
	}
	if r.srv != nil {
		switch {
		case code >= 500 && code != http.StatusServiceUnavailable && r.outOfTime():
			// The request's time ran out while it waited on a dependency:
			// that is an outage whatever the last probe said, and checking
			// now would only make the client wait longer.
			r.srv.recheck()
			r.unavailable()
			return
		case code == http.StatusInternalServerError && r.srv.backendDown(r.req.Context()):
			r.unavailable()
			return
		case code == http.StatusServiceUnavailable && r.srv.opts.Unavailable != nil &&
			strings.HasPrefix(r.Header().Get("Content-Type"), "text/plain") && r.req.URL.Path != "/readyz":
			r.unavailable()
			return
		case code == http.StatusServiceUnavailable:
			if r.Header().Get("Retry-After") == "" {
				r.Header().Set("Retry-After", retryAfter)
			}
			r.srv.recheck()
		}
	}
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// outOfTime reports whether the request's own deadline (RequestTimeout)
// has passed.
func (r *recorder) outOfTime() bool {
	return !r.deadline.IsZero() && !time.Now().Before(r.deadline)
}

// unavailable answers with the server's 503 page instead of what the
// handler started.
func (r *recorder) unavailable() {
	r.swallow = true
	r.code = http.StatusServiceUnavailable
	h := r.Header()
	h.Del("Content-Length")
	h.Set("Retry-After", retryAfter)
	out := &recorder{ResponseWriter: r.ResponseWriter}
	if r.srv.opts.Unavailable != nil {
		r.srv.opts.Unavailable.ServeHTTP(out, r.req)
	} else {
		http.Error(out, "service temporarily unavailable, retry later", http.StatusServiceUnavailable)
	}
	r.bytes += out.bytes
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.swallow {
		return len(b), nil
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// limitedBody is http.MaxBytesReader that remembers it was tripped.
type limitedBody struct {
	io.ReadCloser
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.exceeded = true
	}
	return n, err
}

// Flush lets server-sent events and long polls through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) middleware(next http.Handler) http.Handler {
	policy := csp.Policy()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		trusted := s.fromTrustedProxy(r)
		id := r.Header.Get("X-Request-ID")
		if !trusted || !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		ctx := requestctx.WithID(r.Context(), id)
		ctx = requestctx.WithClientIP(ctx, s.clientIP(r, trusted))
		r = r.WithContext(ctx)

		h := w.Header()
		h.Set("X-Request-ID", id)
		h.Set(csp.Header, policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// SAML messages travel in query strings: never leak them to other sites.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.opts.HSTS {
			// Two years, the value browsers' preload lists ask for (S082).
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		rec := &recorder{ResponseWriter: w, tooLarge: s.tooLarge(r), srv: s, req: r}
		if d := s.requestTimeout(r.URL.Path); d > 0 {
			rec.deadline = start.Add(d)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, rec.deadline)
			defer cancel()
			r = r.WithContext(ctx)
			rec.req = r
		}
		if r.Body != nil && r.Body != http.NoBody {
			limit := s.bodyLimit(r.URL.Path)
			if r.ContentLength > limit {
				// Announced too large: answer before reading a byte (S033).
				s.log.WarnContext(ctx, "request body over the limit", "path", r.URL.Path, "length", r.ContentLength, "limit", limit)
				rec.tooLarge(rec)
				s.logRequest(ctx, r, rec, start)
				return
			}
			rec.body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit)}
			r.Body = rec.body
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic while serving request", "path", r.URL.Path, "panic", p)
				if rec.code == 0 {
					if s.opts.Failure != nil {
						s.opts.Failure.ServeHTTP(rec, r)
					} else {
						http.Error(rec, "internal error", http.StatusInternalServerError)
					}
				}
			}
			s.logRequest(ctx, r, rec, start)
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest counts the request in the metrics and writes the access log.
func (s *Server) logRequest(ctx context.Context, r *http.Request, rec *recorder, start time.Time) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	elapsed := time.Since(start)
	s.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Inc()
	s.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	// The path only: query strings carry SAML messages and RelayState.
	// Answered requests are counted above and their outcomes are in the
	// audit log (one info line per authentication), so their line is
	// debug; refused and failed ones stay at info.
	level := slog.LevelDebug
	if code >= 400 {
		level = slog.LevelInfo
	}
	if s.log.Enabled(ctx, level) {
		s.log.Log(ctx, level, "http", "method", r.Method, "path", r.URL.Path, "status", code,
			"bytes", rec.bytes, "duration_ms", elapsed.Milliseconds(), "client", requestctx.ClientIP(ctx))
	}
}

// tooLarge answers 413 with the configured page (or plain text), closing
// the connection so the rest of the body is not read.
func (s *Server) tooLarge(r *http.Request) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Connection", "close")
		if s.opts.TooLarge != nil {
			s.opts.TooLarge.ServeHTTP(w, r)
			return
		}
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
	}
}

func remoteAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (s *Server) trustedAddr(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	a, ok := remoteAddr(r)
	return ok && s.trustedAddr(a)
}

// clientIP is the peer address, or — when the peer is a trusted proxy — the
// right-most X-Forwarded-For entry that is not itself a trusted proxy (the
// left part of the header is client-controlled).
func (s *Server) clientIP(r *http.Request, trusted bool) string {
	a, ok := remoteAddr(r)
	if !ok {
		return ""
	}
	if trusted {
		parts := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			fa, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
			if err != nil {
				break
			}
			fa = fa.Unmap()
			if !s.trustedAddr(fa) {
				return fa.String()
			}
		}
	}
	return a.String()
}

// requestTimeout is the deadline RequestTimeout gives a request for path:
// none for the operational endpoints (/readyz bounds itself), static
// files and the LongRequests prefixes.
func (s *Server) requestTimeout(path string) time.Duration {
	if s.opts.RequestTimeout <= 0 || strings.HasPrefix(path, "/static/") {
		return 0
	}
	switch path {
	case "/readyz", "/healthz", "/metrics":
		return 0
	}
	for _, p := range s.opts.LongRequests {
		if strings.HasPrefix(path, p) {
			return 0
		}
	}
	return s.opts.RequestTimeout
}

// bodyLimit is the body cap for path: MaxBodyBytes, or the BodyLimits entry
// with the longest prefix of path.
func (s *Server) bodyLimit(path string) int64 {
	limit, best := s.opts.MaxBodyBytes, -1
	for prefix, n := range s.opts.BodyLimits {
		if len(prefix) > best && strings.HasPrefix(path, prefix) {
			limit, best = n, len(prefix)
		}
	}
	return limit
}
