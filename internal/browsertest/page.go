package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// Widths are the window widths every page is checked and pictured at: a
// desktop and a phone (ui.md: mobile first, 390 px is a common phone).
var Widths = []int64{1280, 390}

var unsafeName = regexp.MustCompile(`[^a-z0-9._-]+`)

// Page checks the page currently loaded in ctx as a person would meet it:
// at each of Widths it runs axe-core's WCAG 2.1 A/AA rules and, when
// SPID_TEST_SCREENSHOTS names a folder (`make screenshots`), writes a
// full-page PNG named <name>-<width>.png there. The window is left at
// 1280 px. name is short and unique per page ("portal-home").
func Page(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SPID_TEST_SCREENSHOTS")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := unsafeName.ReplaceAllString(name, "-")
	for _, w := range Widths {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)); err != nil {
			t.Fatalf("%s: resizing to %d px: %v", name, w, err)
		}
		Axe(t, ctx, fmt.Sprintf("%s at %d px", name, w))
		if dir == "" {
			continue
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("%s: screenshot at %d px: %v", name, w, err)
			continue
		}
		out := filepath.Join(dir, fmt.Sprintf("%s-%d.png", file, w))
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Error(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(Widths[0], 900)); err != nil {
		t.Fatalf("%s: resizing back: %v", name, err)
	}
}
