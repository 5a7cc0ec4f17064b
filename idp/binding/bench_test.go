package binding_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// BenchmarkDeflateBomb: rejecting 50 MiB of deflated zeros (target: well
// under 100 ms, security.md A.10).
func BenchmarkDeflateBomb(b *testing.B) {
	pairs(b)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 50; i++ {
		w.Write(zeros)
	}
	w.Close()
	q := bindingtest.Redirect{Encoded: base64.StdEncoding.EncodeToString(buf.Bytes()), Key: spPair.Key}.Query()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := binding.Decode(bindingtest.GET(target, q), spid.BindingRedirect, binding.Limits{}); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkParseDeep: rejecting 10 000 nested elements (target: < 50 ms, S022).
func BenchmarkParseDeep(b *testing.B) {
	s := []byte(strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000))
	for i := 0; i < b.N; i++ {
		if _, err := binding.Parse(s, 0); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkParse: a typical signed AuthnRequest.
func BenchmarkParse(b *testing.B) {
	pairs(b)
	x := bindingtest.Sign(b, []byte(reqXML), spPair)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := binding.Parse(x, 0); err != nil {
			b.Fatal(err)
		}
	}
}
