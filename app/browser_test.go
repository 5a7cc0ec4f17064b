package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserDemoLogin clicks through the demo in headless Chromium: demo SP
// → "Entra con SPID" → credentials → consent → back at the SP with the
// attributes. It proves the pages work with the real CSP (no inline script),
// cookies, and the auto-submitting form.
func TestBrowserDemoLogin(t *testing.T) {
	chrome := testenv.Browser(t)
	_, ts, info := testApp(t)

	ctx := browserTab(t, chrome, 60*time.Second)

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/demo-sp/")); err != nil {
		t.Fatal(err)
	}
	browsertest.Page(t, ctx, "demo-sp-home")
	err := chromedp.Do(ctx,
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	browsertest.Page(t, ctx, "login-level1")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	browsertest.Page(t, ctx, "consent")
	if err := chromedp.Do(ctx, chromedp.Click(`button[name="op"][value="accept"]`)); err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	// The transfer page submits itself through /static/autosubmit.js.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`body.demo .meta-list`)); err != nil {
		t.Fatalf("never reached the SP's result page: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/demo-sp/acs") {
		t.Fatalf("result page at %q (%v), want the SP's ACS", loc, err)
	}
	browsertest.Page(t, ctx, "demo-sp-result")
	result, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("SPID_TEST_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "demo-result.jpg"), shot, 0o644)
	}
	for _, want := range []string{"Mario", "Rossi", "TINIT-RSSMRA80A01H501U"} {
		if !strings.Contains(result, want) {
			t.Errorf("the SP's page lacks %q:\n%s", want, result)
		}
	}
}

// browserTab opens a headless Chromium tab for one test (see
// browsertest.Tab); chrome is the binary testenv.Browser found.
func browserTab(t *testing.T, chrome string, timeout time.Duration) context.Context {
	t.Helper()
	_ = chrome
	return browsertest.Tab(t, timeout)
}
