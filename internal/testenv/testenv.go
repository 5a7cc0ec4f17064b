// Package testenv tells tests which real backends they may use. A backend
// whose variable is unset is skipped with a message naming the variable —
// except in CI (SPID_TEST_REQUIRE_BACKENDS=1), where a skip would hide an
// untested backend and so fails the test instead.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

func need(t testing.TB, variable, what string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v != "" {
		return v
	}
	msg := variable + " not set: skipping " + what
	if os.Getenv("SPID_TEST_REQUIRE_BACKENDS") != "" {
		t.Fatalf("%s (SPID_TEST_REQUIRE_BACKENDS is set, so this must run)", msg)
	}
	t.Skip(msg)
	return ""
}

// Postgres returns the DSN in SPID_TEST_POSTGRES.
func Postgres(t testing.TB) string {
	t.Helper()
	return need(t, "SPID_TEST_POSTGRES", "PostgreSQL tests")
}

// Redis returns the host:port in SPID_TEST_REDIS.
func Redis(t testing.TB) string {
	t.Helper()
	return need(t, "SPID_TEST_REDIS", "Redis tests")
}

// Browser returns the path of a headless-capable Chromium when
// SPID_TEST_BROWSER=1.
func Browser(t testing.TB) string {
	t.Helper()
	need(t, "SPID_TEST_BROWSER", "browser tests")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("SPID_TEST_BROWSER is set but no chromium binary is on PATH")
	return ""
}
