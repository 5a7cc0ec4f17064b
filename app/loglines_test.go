package app

import (
	"bytes"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// TestOneInfoLinePerSSOResponse: an SSO Response (AuthnRequest, consent,
// Response) writes at most one line at info (its record is in the audit
// log and the register); a refused request is still logged at info.
func TestOneInfoLinePerSSOResponse(t *testing.T) {
	logs := &syncBuffer{}
	_, ts, info := startApp(t, appOpts{LogTo: logs})
	br := newBrowser(t)
	login := br.get(ssoURL(t, br, ts.URL))
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	br.submit(consent, "/consent", url.Values{"op": {"accept"}})

	u := ssoURL(t, br, ts.URL)
	logs.take()
	res := br.submit(br.get(u), "/consent", url.Values{"op": {"accept"}})
	if !strings.Contains(res.body, "SAMLResponse") {
		t.Fatalf("no Response: %d", res.status)
	}
	var lines []string
	for _, l := range strings.Split(logs.take(), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 1 {
		t.Errorf("%d lines at info for one SSO Response, want at most one:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	if bad := br.get(ts.URL + "/sso/redirect?SAMLRequest=x"); bad.status < 400 {
		t.Fatalf("bad request answered %d", bad.status)
	}
	if out := logs.take(); !strings.Contains(out, "msg=http") || !strings.Contains(out, "status=4") {
		t.Errorf("a refused request left no access line at info:\n%s", out)
	}
}
