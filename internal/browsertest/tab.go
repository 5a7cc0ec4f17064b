package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/internal/testenv"
)

// Tab starts headless Chromium (skipping without SPID_TEST_BROWSER) for one
// test, with a profile of its own and no background traffic, and returns a
// tab whose context ends after timeout. Everything closes at the test's
// cleanup.
func Tab(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	chrome := testenv.Browser(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, Timeout(timeout))
	t.Cleanup(cancel)
	return ctx
}

// Timeout is the deadline a browser step given d should get: d itself, or
// a multiple of it under -race.
func Timeout(d time.Duration) time.Duration {
	return d * raceScale
}
