package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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

	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/demo-sp/"),
		chromedp.Click(`button[name="level"][value="1"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
		chromedp.Click(`button[name="op"][value="accept"]`),
	)
	if err != nil {
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

// browserTab starts the headless Chromium at chrome for one test, with a
// profile of its own and no background traffic, and returns a tab whose
// context ends after timeout. Everything is closed at the test's cleanup.
func browserTab(t *testing.T, chrome string, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	return ctx
}
