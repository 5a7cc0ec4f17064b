package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/internal/browsertest"
	"github.com/spid-idp/spid-idp/internal/testenv"
)

// TestBrowserAttributeAuthority clicks through an AA login from the demo
// SP in headless Chromium: "Entra con SPID (con attribute authority)" →
// credentials → consent → the AA choice (logo and name, checked by axe) →
// the AA consent → back at the SP, which shows what the demo AA certified
// after presenting the grant token.
func TestBrowserAttributeAuthority(t *testing.T) {
	chrome := testenv.Browser(t)
	a, ts, info := testApp(t)
	ctx := browserTab(t, chrome, 90*time.Second)

	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/demo-sp/"),
		chromedp.Click(`button[name="level"][value="1aa"]`),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, info.Username),
		chromedp.SendKeys(`#password`, info.Password),
		chromedp.Click(`button[name="op"][value="submit"]`),
		chromedp.WaitVisible(`button[name="op"][value="accept"]`),
		chromedp.Click(`button[name="op"][value="accept"]`),
		chromedp.WaitVisible(`input[type="checkbox"][name="aa"]`),
	)
	if err != nil {
		t.Fatalf("browser flow up to the AA choice: %v", err)
	}
	browsertest.Page(t, ctx, "aa-select")
	// The logo loaded under the page's policy (A012, A017).
	logoWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector("img.aa-logo").naturalWidth`))
	if err != nil || logoWidth == 0 {
		t.Errorf("AA logo did not load (%d, %v)", logoWidth, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`label[for="aa-0"]`),
		chromedp.Click(`button[name="op"][value="continue"]`),
		chromedp.WaitVisible(`button[name="op"][value="authorise"]`),
	)
	if err != nil {
		t.Fatalf("browser flow to the AA consent: %v", err)
	}
	browsertest.Page(t, ctx, "aa-confirm")
	err = chromedp.Do(ctx,
		chromedp.Click(`button[name="op"][value="authorise"]`),
		chromedp.WaitVisible(`body.demo .meta-list`),
	)
	if err != nil {
		t.Fatalf("never reached the SP's result page: %v", err)
	}
	browsertest.Page(t, ctx, "demo-sp-result-aa")
	result, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{a.demoFed.AA.ID, "Iscritto all'albo dimostrativo n. 1234", info.Username} {
		if !strings.Contains(result, want) {
			t.Errorf("the SP's page lacks %q:\n%s", want, result)
		}
	}
}
