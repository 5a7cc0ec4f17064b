// Package browsertest holds what the headless-Chromium tests share: a tab
// with its own profile, the axe-core accessibility check and the
// screenshots of `make screenshots`.
//
// axe-core is installed from npm at test time (`make axe`, run by .ci/run)
// and never shipped or committed.
//
// Where axe.min.js is looked up, in order: $SPID_TEST_AXE (the file, or a
// directory holding node_modules/axe-core/axe.min.js), then .axe/ at the
// module root. When it is missing the check skips with a message, except
// under SPID_TEST_REQUIRE_BACKENDS=1 where a skipped check would hide
// untested pages, so it fails.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxeTags are the rule sets every page must pass: WCAG 2.0 and 2.1, levels A
// and AA (axe names WCAG 2.1 rules separately from the 2.0 ones).
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

var (
	loadOnce sync.Once
	source   string
	loadErr  error
)

// moduleRoot walks up from the working directory (a package directory under
// go test) to the directory holding go.mod.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// AxePath returns where axe.min.js is expected, and whether it is there.
func AxePath() (string, bool) {
	const rel = "node_modules/axe-core/axe.min.js"
	var candidates []string
	if v := os.Getenv("SPID_TEST_AXE"); v != "" {
		if strings.HasSuffix(v, ".js") {
			candidates = append(candidates, v)
		} else {
			candidates = append(candidates, filepath.Join(v, rel))
		}
	}
	if root := moduleRoot(); root != "" {
		candidates = append(candidates, filepath.Join(root, ".axe", rel))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, true
		}
	}
	if len(candidates) == 0 {
		return "", false
	}
	return candidates[0], false
}

// script returns axe-core's source, or skips (fails in CI) when absent.
func script(t testing.TB) string {
	t.Helper()
	loadOnce.Do(func() {
		p, ok := AxePath()
		if !ok {
			loadErr = fmt.Errorf("axe-core not found (looked for %s): run `make axe` or set SPID_TEST_AXE", p)
			return
		}
		b, err := os.ReadFile(p)
		if err != nil {
			loadErr = err
			return
		}
		source = string(b)
	})
	if loadErr != nil {
		msg := loadErr.Error() + ": skipping the accessibility check"
		if os.Getenv("SPID_TEST_REQUIRE_BACKENDS") != "" {
			t.Fatalf("%s (SPID_TEST_REQUIRE_BACKENDS is set, so this must run)", msg)
		}
		t.Skip(msg)
	}
	return source
}

// Violation is one failed axe rule with the elements it failed on.
type Violation struct {
	ID          string `json:"id"`
	Impact      string `json:"impact"`
	Help        string `json:"help"`
	Description string `json:"description"`
	HelpURL     string `json:"helpUrl"`
	Nodes       []struct {
		Target         []any  `json:"target"`
		HTML           string `json:"html"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

// AxeRun injects axe-core into the page loaded in ctx (a chromedp tab) and
// returns the WCAG 2.1 A/AA violations. Injection goes through the DevTools
// protocol, which the page's Content-Security-Policy does not restrict, so
// the page is tested under its real policy.
func AxeRun(t testing.TB, ctx context.Context) ([]Violation, error) {
	t.Helper()
	src := script(t)
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("axe: probing the page: %w", err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;true")); err != nil {
			return nil, fmt.Errorf("axe: injecting axe-core: %w", err)
		}
	}
	tags, _ := json.Marshal(AxeTags)
	js := `axe.run(document, {runOnly: {type: "tag", values: ` + string(tags) + `}, resultTypes: ["violations"]})
		.then(r => JSON.stringify(r.violations))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe: running: %w", err)
	}
	var v []Violation
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, fmt.Errorf("axe: reading the result: %w", err)
	}
	return v, nil
}

// Axe fails the test when the current page of ctx has any WCAG 2.1 A/AA
// violation, listing each one in words with the elements concerned. page
// names the page in the message (e.g. "personal area, 390 px").
func Axe(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	v, err := AxeRun(t, ctx)
	if err != nil {
		t.Errorf("accessibility check of %s: %v", page, err)
		return
	}
	if len(v) > 0 {
		t.Errorf("accessibility check of %s: %s", page, DescribeViolations(v))
	}
}

// DescribeViolations renders violations as readable lines.
func DescribeViolations(v []Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d WCAG 2.1 A/AA violation(s):", len(v))
	for _, x := range v {
		fmt.Fprintf(&b, "\n- [%s, %s] %s (%s)", x.ID, x.Impact, x.Help, x.HelpURL)
		for i, n := range x.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "\n    … and %d more element(s)", len(x.Nodes)-5)
				break
			}
			html := n.HTML
			if len(html) > 160 {
				html = html[:160] + "…"
			}
			fmt.Fprintf(&b, "\n    at %v: %s", n.Target, html)
			if s := strings.TrimSpace(n.FailureSummary); s != "" {
				fmt.Fprintf(&b, "\n      %s", strings.ReplaceAll(s, "\n", "\n      "))
			}
		}
	}
	return b.String()
}
