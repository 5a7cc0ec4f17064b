package bindingtest

import (
	"embed"
	"fmt"
	"testing"

	"github.com/spid-idp/spid-idp/keys"
)

// Pre-generated RSA-2048 test keys with self-signed certificates valid
// 2000–2099: key generation under coverage instrumentation (fuzzing) takes
// seconds, and fuzz workers each pay it. Test material only.
//
//go:embed keys
var fixedKeys embed.FS

// FixedPair returns pre-generated test pair n (1, 2 or 3); distinct n give
// distinct keys.
func FixedPair(t testing.TB, n int) keys.Pair {
	t.Helper()
	k, err := fixedKeys.ReadFile(fmt.Sprintf("keys/sp%d.key", n))
	if err != nil {
		t.Fatal(err)
	}
	c, err := fixedKeys.ReadFile(fmt.Sprintf("keys/sp%d.crt", n))
	if err != nil {
		t.Fatal(err)
	}
	p, err := keys.Parse(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
