package federation_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/federation"
)

func TestF027_SchemesAndAddresses(t *testing.T) {
	prod := &federation.Fetcher{}
	demo := &federation.Fetcher{AllowHTTP: true, AllowPrivate: true}
	cases := []struct {
		url            string
		prodOK, demoOK bool
	}{
		{"https://rp.example.it", true, true},
		{"http://rp.example.it", false, true},
		{"http://127.0.0.1:8080/demo-rp", false, true},
		{"https://127.0.0.1/rp", false, true},
		{"https://10.1.2.3/rp", false, true},
		{"https://[::1]/rp", false, true},
		{"https://169.254.169.254/latest", false, true},
		{"https://localhost/rp", false, true},
		{"ftp://rp.example.it", false, false},
		{"https://user@rp.example.it", false, false},
		{"rp.example.it", false, false},
	}
	for _, tc := range cases {
		t.Run("F027 "+tc.url, func(t *testing.T) {
			_, errP := prod.CheckURL(tc.url)
			_, errD := demo.CheckURL(tc.url)
			if (errP == nil) != tc.prodOK || (errD == nil) != tc.demoOK {
				t.Fatalf("production err %v (want ok %v), demo err %v (want ok %v)", errP, tc.prodOK, errD, tc.demoOK)
			}
		})
	}
}

func TestF027_DialerRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	defer srv.Close()
	// A public-looking name that resolves to loopback is caught at dial
	// time: the client for production refuses the address itself.
	c := federation.NewHTTPClient(false)
	if _, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "not public") {
		t.Fatalf("err %v, want a refused private address", err)
	}
}

func TestF028_FetchLimits(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("a", federation.MaxFetchBytes+1)))
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("a", federation.MaxFetchBytes)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := &federation.Fetcher{AllowHTTP: true, AllowPrivate: true}
	ctx := context.Background()
	if b, err := f.Get(ctx, srv.URL+"/ok"); err != nil || string(b) != "ok" {
		t.Fatalf("plain fetch: %q, %v", b, err)
	}
	for _, p := range []string{"/redirect", "/big"} {
		t.Run("F028 "+p, func(t *testing.T) {
			if _, err := f.Get(ctx, srv.URL+p); !errors.Is(err, federation.ErrUnreachable) {
				t.Fatalf("err %v, want ErrUnreachable", err)
			}
		})
	}
	if b, err := f.Get(ctx, srv.URL+"/exact"); err != nil || len(b) != federation.MaxFetchBytes {
		t.Fatalf("a body of exactly the limit: %d bytes, %v", len(b), err)
	}
}
