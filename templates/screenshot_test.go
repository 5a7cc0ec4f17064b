package templates

import (
	"context"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const chromium = "/usr/bin/chromium"

// csp is the policy of ui.md §11; served here so that any inline style or
// script would visibly break the screenshot.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// sampleServer serves every sample page at /page/<name>?lang=xx and the
// static files, on 127.0.0.1.
func sampleServer(t *testing.T) *httptest.Server {
	t.Helper()
	r := newRenderer(t)
	byName := map[string]struct {
		page   string
		status int
		data   any
	}{}
	for _, s := range samples() {
		byName[s.name] = struct {
			page   string
			status int
			data   any
		}{s.page, s.status, s.data}
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", Static())
	mux.HandleFunc("/page/{name}", func(w http.ResponseWriter, req *http.Request) {
		s, ok := byName[req.PathValue("name")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		if err := r.Render(w, s.status, s.page, Lang(req), s.data); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestScreenshots renders the login and consent pages in headless Chromium
// (when installed) and checks the picture: right size, header band in the
// primary colour, a white card in the middle. Set SPID_SCREENSHOT_DIR to
// keep the PNGs for a look.
func TestScreenshots(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("chromium not installed")
	}
	srv := sampleServer(t)
	dir := os.Getenv("SPID_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shots := []struct{ sample, lang, size string }{
		{"login", "it", "1280,900"},
		{"consent", "it", "1280,900"},
	}
	if extra := os.Getenv("SPID_SCREENSHOT_EXTRA"); extra != "" {
		// "name:lang:w,h;..." for a manual look at more pages.
		for _, e := range strings.Split(extra, ";") {
			p := strings.SplitN(e, ":", 3)
			if len(p) == 3 {
				shots = append(shots, struct{ sample, lang, size string }{p[0], p[1], p[2]})
			}
		}
	}
	for _, s := range shots {
		out := filepath.Join(dir, s.sample+"-"+s.lang+"-"+strings.ReplaceAll(s.size, ",", "x")+".png")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
			"--hide-scrollbars", "--no-first-run", "--disable-extensions",
			"--user-data-dir="+t.TempDir(),
			"--screenshot="+out, "--window-size="+s.size,
			srv.URL+"/page/"+s.sample+"?lang="+s.lang)
		msg, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("chromium %s: %v\n%s", s.sample, err, msg)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		ws, hs, _ := strings.Cut(s.size, ",")
		w, err1 := strconv.Atoi(ws)
		h, err2 := strconv.Atoi(hs)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad size %q", s.size)
		}
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("%s: %dx%d, want %s", s.sample, b.Dx(), b.Dy(), s.size)
		}
		// Header band: #0066CC, i.e. the stylesheet loaded under the CSP
		// (the demo SP has a darker slim bar above its band).
		y := 4 // header; the card's padding starts about 100px lower
		if strings.HasPrefix(s.sample, "demo") {
			y = 64
		}
		r, g, b, _ := img.At(4, y).RGBA()
		if r>>8 > 0x10 || g>>8 < 0x58 || g>>8 > 0x74 || b>>8 < 0xc0 {
			t.Errorf("%s: header pixel rgb(%d,%d,%d), want about #0066CC", s.sample, r>>8, g>>8, b>>8)
		}
		// On a wide window the card's top padding is white and the page
		// around it is not (on phones the card fills the width).
		if w >= 1000 {
			// The card's top padding is white, the page around it is not.
			r, g, b, _ = img.At(w/2, y+106).RGBA()
			if r>>8 != 0xff || g>>8 != 0xff || b>>8 != 0xff {
				t.Errorf("%s: card area rgb(%d,%d,%d), want white", s.sample, r>>8, g>>8, b>>8)
			}
			if r, _, _, _ = img.At(20, 200).RGBA(); r>>8 == 0xff {
				t.Errorf("%s: page background is white: card not distinguished", s.sample)
			}
		}
		t.Logf("screenshot %s", out)
	}
}
