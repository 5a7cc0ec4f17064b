package main

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:1: SPID_TEST_POSTGRES not set: skipping PostgreSQL tests\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:1: SPID_TEST_BROWSER not set: skipping browser tests\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:1: slow\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Test":"TestD","Output":"    d_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestD"}`,
		`{"Action":"output","Package":"p","Test":"TestE","Output":"=== RUN   TestE\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestE"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	if code := run(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSpace(got), "\n")
	last := lines[len(lines)-1]
	if last != "skipped: 3 test(s); 2 of them run with SPID_TEST_BROWSER, SPID_TEST_POSTGRES set; 1 skip for other reasons (go test -v -run NAME shows why)." {
		t.Errorf("last line %q", last)
	}
	if !strings.Contains(got, "boom") || strings.Contains(got, "TestE") || !strings.Contains(got, "FAIL\tp") {
		t.Errorf("output:\n%s", got)
	}
	// A package killed by its timeout: the running test never ends, and
	// the panic's list of running tests is its output.
	timeout := strings.Join([]string{
		`{"Action":"run","Package":"q","Test":"TestSlow"}`,
		`{"Action":"output","Package":"q","Test":"TestSlow","Output":"panic: test timed out after 30m0s\n"}`,
		`{"Action":"output","Package":"q","Test":"TestSlow","Output":"\tTestSlow (29m58s)\n"}`,
		`{"Action":"output","Package":"q","Output":"FAIL\tq\t1800.1s\n"}`,
		`{"Action":"fail","Package":"q"}`,
	}, "\n")
	var to strings.Builder
	if code := run(strings.NewReader(timeout), &to); code != 1 || !strings.Contains(to.String(), "--- UNFINISHED: TestSlow (q)") ||
		!strings.Contains(to.String(), "TestSlow (29m58s)") {
		t.Errorf("timeout: %d\n%s", code, to.String())
	}
	var ok strings.Builder
	if code := run(strings.NewReader(`{"Action":"pass","Package":"p"}`), &ok); code != 0 || strings.TrimSpace(ok.String()) != "skipped: no test." {
		t.Errorf("%d %q", code, ok.String())
	}
}
