// Package softhsmtest gives a test a private SoftHSM token in a temporary
// directory. Without softhsm2 installed the test is skipped with a message,
// except in CI (SPID_TEST_REQUIRE_BACKENDS=1), where it fails instead.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/spid-idp/spid-idp/keys/pkcs11"
)

// modules are where Debian and others install the SoftHSM module.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// Token initialises a token labelled label with the given user PIN in a
// directory of its own and points SOFTHSM2_CONF at it for the rest of the
// test. It returns the configuration to open it.
func Token(t *testing.T, label, pin string) pkcs11.Config {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	module := ""
	for _, m := range modules {
		if _, err := os.Stat(m); err == nil {
			module = m
			break
		}
	}
	if err != nil || module == "" {
		msg := "softhsm2 not installed (apt-get install softhsm2): skipping PKCS#11 tests"
		if os.Getenv("SPID_TEST_REQUIRE_BACKENDS") != "" {
			t.Fatalf("%s (SPID_TEST_REQUIRE_BACKENDS is set, so this must run)", msg)
		}
		t.Skip(msg)
	}
	if !pkcs11.Available {
		t.Fatal("softhsm2 is installed but this test binary was built without cgo")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin+"-so").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return pkcs11.Config{Module: module, TokenLabel: label, PIN: pin}
}
