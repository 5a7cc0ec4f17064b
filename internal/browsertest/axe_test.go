package browsertest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAxeFindsViolations proves the check can fail: a page with an image
// without alt text, an unlabelled input and grey-on-white text is reported
// with each rule, and a clean page under a strict CSP passes.
func TestAxeFindsViolations(t *testing.T) {
	ctx := Tab(t, 60*time.Second)
	mux := http.NewServeMux()
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="it"><head><title>Bad</title><style>.pale{color:#bbb}</style></head>
<body><main><h1>Bad</h1><img src="/x.png"><form><input type="text" name="q"></form>
<p class="pale">Testo poco leggibile</p></main></body></html>`))
	})
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="it"><head><title>Good</title></head>
<body><main><h1>Good</h1><form><label for="q">Cerca</label><input id="q" type="text" name="q"></form></main></body></html>`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	v, err := AxeRun(t, ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, x := range v {
		got[x.ID] = true
	}
	for _, want := range []string{"image-alt", "label", "color-contrast"} {
		if !got[want] {
			t.Errorf("axe missed %q; reported:\n%s", want, DescribeViolations(v))
		}
	}
	if d := DescribeViolations(v); !strings.Contains(d, "<img") {
		t.Errorf("description does not show the element:\n%s", d)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	if v, err = AxeRun(t, ctx); err != nil || len(v) != 0 {
		t.Errorf("clean page under CSP: err %v, %s", err, DescribeViolations(v))
	}
}
