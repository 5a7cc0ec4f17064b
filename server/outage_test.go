package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestOutageAnswers: whichever handler meets a dependency outage, the
// client gets 503, Retry-After and the unavailable page; a 500 stays a 500
// when every backend answers; /readyz answers within a second even when a
// backend hangs and ignores its context.
func TestOutageAnswers(t *testing.T) {
	var down, hang atomic.Bool
	ready := func(ctx context.Context) error {
		if hang.Load() {
			time.Sleep(3 * time.Second) // a backend that ignores ctx
		}
		if down.Load() {
			return errors.New("cache: connection refused")
		}
		return nil
	}
	app := http.NewServeMux()
	app.HandleFunc("/fault", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	app.HandleFunc("/plain503", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "service unavailable, retry later", http.StatusServiceUnavailable)
	})
	app.HandleFunc("/page503", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<p>the handler's own page</p>"))
	})
	s := newTest(t, Options{Ready: ready, App: app,
		Unavailable: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<h1>Servizio non disponibile</h1>"))
		})})
	h := s.Handler()
	get := func(path string) (*http.Response, string) {
		res := do(t, h, httptest.NewRequest("GET", path, nil))
		return res, body(t, res)
	}

	// Backends fine: a fault is a fault.
	if res, _ := get("/fault"); res.StatusCode != http.StatusInternalServerError {
		t.Errorf("500 with every backend up became %d", res.StatusCode)
	}
	// A plain-text 503 gets the page; every 503 has Retry-After.
	if res, b := get("/plain503"); res.StatusCode != 503 || b != "<h1>Servizio non disponibile</h1>" || res.Header.Get("Retry-After") == "" {
		t.Errorf("plain-text 503: %d %q Retry-After %q", res.StatusCode, b, res.Header.Get("Retry-After"))
	}
	if res, b := get("/page503"); res.StatusCode != 503 || b != "<p>the handler's own page</p>" || res.Header.Get("Retry-After") == "" {
		t.Errorf("503 page: %d %q Retry-After %q", res.StatusCode, b, res.Header.Get("Retry-After"))
	}

	// A backend goes down: the handler's 500 becomes the 503 page, and the
	// gate is closed for what follows without waiting for the probe.
	down.Store(true)
	if res, b := get("/fault"); res.StatusCode != 503 || b != "<h1>Servizio non disponibile</h1>" || res.Header.Get("Retry-After") == "" {
		t.Errorf("500 during an outage: %d %q Retry-After %q", res.StatusCode, b, res.Header.Get("Retry-After"))
	}
	if res, _ := get("/anything"); res.StatusCode != 503 {
		t.Errorf("gate after the outage was seen: %d", res.StatusCode)
	}

	// A hanging backend: /readyz still answers within a second.
	hang.Store(true)
	start := time.Now()
	res, _ := get("/readyz")
	if took := time.Since(start); res.StatusCode != 503 || took > time.Second || res.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz with a hanging backend: %d after %s (Retry-After %q)", res.StatusCode, took, res.Header.Get("Retry-After"))
	}
	hang.Store(false)
	down.Store(false)
	if res, _ := get("/readyz"); res.StatusCode != 200 {
		t.Errorf("/readyz after recovery: %d", res.StatusCode)
	}
	if res, _ := get("/fault"); res.StatusCode != 500 {
		t.Errorf("after recovery a fault is a fault again: %d", res.StatusCode)
	}
}

// TestRequestDeadline: a handler that waits on a frozen dependency several
// times in turn, each wait bounded by its own timeout (as every storage
// statement is), ends when the request's deadline passes, not after the
// sum of the waits, and the client gets the 503 page with Retry-After; a
// long-request prefix gets no deadline (issue 13 item 4: no request waits
// more than 3 s).
func TestRequestDeadline(t *testing.T) {
	const statement = 400 * time.Millisecond // one wait's own bound
	type wait struct {
		byOwnTimeout bool
		err          error
	}
	var seen []wait
	var hadDeadline atomic.Bool
	frozen := func(ctx context.Context) {
		select {
		case <-time.After(statement):
			seen = append(seen, wait{byOwnTimeout: true})
		case <-ctx.Done():
			seen = append(seen, wait{err: ctx.Err()})
		}
	}
	app := http.NewServeMux()
	handler := func(w http.ResponseWriter, r *http.Request) {
		_, ok := r.Context().Deadline()
		hadDeadline.Store(ok)
		for range 3 {
			frozen(r.Context())
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
	app.HandleFunc("/sso", handler)
	app.HandleFunc("/app/poll", handler)
	s := newTest(t, Options{App: app, RequestTimeout: 600 * time.Millisecond, LongRequests: []string{"/app/"},
		Ready: func(context.Context) error { return nil },
		Unavailable: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<h1>Servizio non disponibile</h1>"))
		})})
	res := do(t, s.Handler(), httptest.NewRequest("GET", "/sso", nil))
	if b := body(t, res); res.StatusCode != 503 || b != "<h1>Servizio non disponibile</h1>" || res.Header.Get("Retry-After") == "" {
		t.Errorf("out of time: %d %q Retry-After %q, want the 503 page", res.StatusCode, b, res.Header.Get("Retry-After"))
	}
	want := []wait{{byOwnTimeout: true}, {err: context.DeadlineExceeded}, {err: context.DeadlineExceeded}}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Errorf("the waits ended as %+v, want the first by its own timeout and the others by the request's deadline", seen)
	}

	// A long poll keeps its waits, and a fault with every backend up
	// stays a 500.
	seen = nil
	res = do(t, s.Handler(), httptest.NewRequest("GET", "/app/poll", nil))
	if hadDeadline.Load() || len(seen) != 3 || !seen[2].byOwnTimeout {
		t.Errorf("long request: deadline %v, waits %+v; want no deadline", hadDeadline.Load(), seen)
	}
	if res.StatusCode != 500 {
		t.Errorf("long request fault with backends up: %d, want 500", res.StatusCode)
	}
}
