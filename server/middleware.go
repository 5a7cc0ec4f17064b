package server

import (
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/server/requestctx"
)

// validRequestID limits what a trusted proxy may hand us as a request ID, so
// it cannot inject text into logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
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
	csp := s.csp()
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
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// SAML messages travel in query strings: never leak them to other sites.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.opts.HSTS {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(r.URL.Path))
		}

		rec := &recorder{ResponseWriter: w}
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
			s.log.InfoContext(ctx, "http", "method", r.Method, "path", r.URL.Path, "status", code,
				"bytes", rec.bytes, "duration_ms", elapsed.Milliseconds(), "client", requestctx.ClientIP(ctx))
		}()
		next.ServeHTTP(rec, r)
	})
}

func (s *Server) csp() string {
	forms := append([]string{"'self'"}, s.opts.FormAction...)
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action " + strings.Join(forms, " ")
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
