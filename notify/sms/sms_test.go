package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const secretText = "Il tuo codice è 123456.\n\n@login.example.it #123456"

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "outbox")
	var logBuf bytes.Buffer
	o := Outbox{Dir: dir, Log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	ctx := context.Background()
	if err := o.Send(ctx, Message{To: "+393331234567", Text: "first"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, Message{To: "+393339999999", Text: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, Message{To: "+393331234567", Text: secretText}); err != nil {
		t.Fatal(err)
	}

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("outbox dir mode %o, want 700", st.Mode().Perm())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 3 {
		t.Fatalf("%d files in outbox, want 3: %v", len(files), files)
	}
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", f, st.Mode().Perm())
		}
	}

	last, err := o.Last("+393331234567")
	if err != nil {
		t.Fatal(err)
	}
	if last.Text != secretText || last.To != "+393331234567" || last.Sent.IsZero() {
		t.Fatalf("Last = %+v", last)
	}
	if _, err := o.Last("+390000000"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Last(unknown) err = %v", err)
	}
	if _, err := (Outbox{Dir: filepath.Join(dir, "missing")}).Last("+39"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Last(missing dir) err = %v", err)
	}

	logs := logBuf.String()
	if strings.Count(logs, "SMS written to outbox") != 3 || !strings.Contains(logs, last.Path) {
		t.Fatalf("log lacks the notice or the path:\n%s", logs)
	}
	for _, leak := range []string{"123456", "first", "+393331234567"} {
		if strings.Contains(logs, leak) {
			t.Errorf("log contains %q:\n%s", leak, logs)
		}
	}
}

func TestOutboxConcurrentNamesUnique(t *testing.T) {
	dir := t.TempDir()
	o := Outbox{Dir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := o.Send(context.Background(), Message{To: "+39333", Text: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+outboxExt))
	if len(files) != 20 {
		t.Fatalf("%d files, want 20", len(files))
	}
}

func TestOutboxRejects(t *testing.T) {
	ctx := context.Background()
	o := Outbox{Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		o    Outbox
		ctx  context.Context
		m    Message
	}{
		{"no recipient", o, ctx, Message{Text: "x"}},
		{"no text", o, ctx, Message{To: "+39333"}},
		{"no dir", Outbox{}, ctx, Message{To: "+39333", Text: "x"}},
		{"cancelled", o, cancelled, Message{To: "+39333", Text: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.Send(tc.ctx, tc.m); err == nil {
				t.Fatal("Send succeeded")
			}
		})
	}
}

// gatewayServer records what it receives and answers with status.
type gatewayServer struct {
	mu     sync.Mutex
	bodies [][]byte
	auth   []string
	ctype  string
}

func newGateway(t *testing.T, status int, delay time.Duration) (*httptest.Server, *gatewayServer) {
	t.Helper()
	g := &gatewayServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.bodies = append(g.bodies, b)
		g.auth = append(g.auth, r.Header.Get("X-Api-Key"))
		g.ctype = r.Header.Get("Content-Type")
		g.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
		// A gateway that echoes the message must not get it into our errors.
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, g
}

const tmpl = `{"to": "{{.To}}", "text": "{{.Text}}", "sender": "SPID"}`

func TestHTTPGatewaySend(t *testing.T) {
	srv, rec := newGateway(t, http.StatusAccepted, 0)
	g, err := NewHTTPGateway(HTTPGateway{URL: srv.URL + "/send", Header: "X-Api-Key", Token: "s3cret", BodyTemplate: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	tricky := "Codice \"123456\"\nriga due \\ tab\t </script> è ok"
	if err := g.Send(context.Background(), Message{To: "+393331234567", Text: tricky}); err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 1 {
		t.Fatalf("%d requests", len(rec.bodies))
	}
	var got struct{ To, Text, Sender string }
	if err := json.Unmarshal(rec.bodies[0], &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, rec.bodies[0])
	}
	if got.To != "+393331234567" || got.Text != tricky || got.Sender != "SPID" {
		t.Fatalf("gateway received %+v", got)
	}
	if rec.auth[0] != "s3cret" || rec.ctype != "application/json" {
		t.Fatalf("auth %q content-type %q", rec.auth[0], rec.ctype)
	}
}

func TestHTTPGatewayDefaultAuthorizationHeader(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
	}))
	defer srv.Close()
	// A struct literal, not NewHTTPGateway: checked on Send.
	g := &HTTPGateway{URL: srv.URL, Token: "Bearer abc", BodyTemplate: tmpl}
	if err := g.Send(context.Background(), Message{To: "+39333", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if auth != "Bearer abc" {
		t.Fatalf("Authorization = %q", auth)
	}
}

func TestHTTPGatewayErrors(t *testing.T) {
	msg := Message{To: "+393331234567", Text: secretText}
	t.Run("non-2xx names the status, not the body", func(t *testing.T) {
		srv, _ := newGateway(t, http.StatusBadRequest, 0)
		g, err := NewHTTPGateway(HTTPGateway{URL: srv.URL + "/send?apikey=topsecret", BodyTemplate: tmpl})
		if err != nil {
			t.Fatal(err)
		}
		err = g.Send(context.Background(), msg)
		if err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("err = %v, want the 400 status", err)
		}
		for _, leak := range []string{"123456", "topsecret", "Il tuo codice"} {
			if strings.Contains(err.Error(), leak) {
				t.Fatalf("error leaks %q: %v", leak, err)
			}
		}
	})
	t.Run("redirect is not followed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}))
		defer srv.Close()
		g, _ := NewHTTPGateway(HTTPGateway{URL: srv.URL, BodyTemplate: tmpl})
		if err := g.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "302") {
			t.Fatalf("err = %v, want 302", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv, _ := newGateway(t, http.StatusOK, 5*time.Second)
		g, _ := NewHTTPGateway(HTTPGateway{URL: srv.URL + "/?key=topsecret", BodyTemplate: tmpl, Timeout: 100 * time.Millisecond})
		start := time.Now()
		err := g.Send(context.Background(), msg)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Fatalf("error leaks the URL's key: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Send took %v despite a 100 ms timeout", d)
		}
	})
	t.Run("caller's context cancelled", func(t *testing.T) {
		srv, _ := newGateway(t, http.StatusOK, 0)
		g, _ := NewHTTPGateway(HTTPGateway{URL: srv.URL, BodyTemplate: tmpl})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.Send(ctx, msg); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv, _ := newGateway(t, http.StatusOK, 0)
		u := srv.URL
		srv.Close()
		g, _ := NewHTTPGateway(HTTPGateway{URL: u, BodyTemplate: tmpl})
		if err := g.Send(context.Background(), msg); err == nil {
			t.Fatal("Send to a closed server succeeded")
		}
	})
	t.Run("bad message", func(t *testing.T) {
		srv, rec := newGateway(t, http.StatusOK, 0)
		g, _ := NewHTTPGateway(HTTPGateway{URL: srv.URL, BodyTemplate: tmpl})
		if err := g.Send(context.Background(), Message{Text: "x"}); err == nil {
			t.Fatal("Send without recipient succeeded")
		}
		if len(rec.bodies) != 0 {
			t.Fatal("gateway called for an invalid message")
		}
	})
}

func TestNewHTTPGatewayRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  HTTPGateway
	}{
		{"no URL", HTTPGateway{BodyTemplate: tmpl}},
		{"relative URL", HTTPGateway{URL: "/send", BodyTemplate: tmpl}},
		{"ftp URL", HTTPGateway{URL: "ftp://gw.example/", BodyTemplate: tmpl}},
		{"no template", HTTPGateway{URL: "https://gw.example/"}},
		{"template syntax", HTTPGateway{URL: "https://gw.example/", BodyTemplate: `{"to": "{{.To"}`}},
		{"unknown field", HTTPGateway{URL: "https://gw.example/", BodyTemplate: `{"to": "{{.Number}}"}`}},
		{"field outside quotes", HTTPGateway{URL: "https://gw.example/", BodyTemplate: `{"to": "{{.To}}", "text": {{.Text}}}`}},
		{"not JSON", HTTPGateway{URL: "https://gw.example/", BodyTemplate: `to={{.To}}&text={{.Text}}`}},
		{"bad header name", HTTPGateway{URL: "https://gw.example/", Header: "X Key", Token: "t", BodyTemplate: tmpl}},
		{"token with newline", HTTPGateway{URL: "https://gw.example/", Token: "t\nX-Evil: 1", BodyTemplate: tmpl}},
		{"negative timeout", HTTPGateway{URL: "https://gw.example/", BodyTemplate: tmpl, Timeout: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewHTTPGateway(tc.cfg); err == nil {
				t.Fatal("NewHTTPGateway accepted a bad configuration")
			}
			// The same configuration as a literal fails on Send.
			g := tc.cfg
			if err := g.Send(context.Background(), Message{To: "+39", Text: "x"}); err == nil {
				t.Fatal("Send succeeded with a bad configuration")
			}
		})
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"+393331234567": "••••••••••567",
		"123":           "•••",
		"":              "",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzGatewayBody(f *testing.F) {
	t, err := (&HTTPGateway{URL: "https://gw.example/", BodyTemplate: tmpl}).compile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("+39333", secretText)
	f.Add("\"", "\x00\xff\u2028")
	f.Fuzz(func(tt *testing.T, to, text string) {
		b, err := body(t, Message{To: to, Text: text})
		if err != nil {
			tt.Fatalf("body: %v", err)
		}
		var got struct{ To, Text string }
		if err := json.Unmarshal(b, &got); err != nil {
			tt.Fatal(err)
		}
		// Invalid UTF-8 becomes U+FFFD; valid text arrives unchanged.
		if utf8.ValidString(text) && text != got.Text {
			tt.Fatalf("text changed: %q -> %q", text, got.Text)
		}
	})
}
