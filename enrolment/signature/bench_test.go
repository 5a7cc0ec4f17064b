package signature

import (
	"context"
	"strings"
	"testing"
	"time"
)

func BenchmarkForm(b *testing.B) {
	req := testFormData(time.Now())
	for b.Loop() {
		if _, err := Form(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCAdES(b *testing.B) {
	e := newEnv(b)
	p7m := cades(b, e.form, e.signer(b, signerOpts{}))
	for b.Loop() {
		if _, err := e.v.VerifyCAdES(context.Background(), p7m, e.issued); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPAdES(b *testing.B) {
	e := newEnv(b)
	signed := pades(b, e.form, e.signer(b, signerOpts{}), padesOpts{})
	for b.Loop() {
		if _, err := e.v.VerifyPAdES(context.Background(), signed, e.issued); err != nil {
			b.Fatal(err)
		}
	}
}

// The costliest update the screen lets through: about 2 MB of objects just
// under the per-object bound, all resolved by pdfsign.
func BenchmarkVerifyPAdESLargestUpdate(b *testing.B) {
	e := newEnv(b)
	objs := map[int]string{}
	for k := 0; k < 30; k++ {
		objs[100+k] = "[" + strings.Repeat("0 ", 30_000) + "]"
	}
	signed := pades(b, e.form, e.signer(b, signerOpts{}), padesOpts{redefine: objs})
	b.SetBytes(int64(len(signed)))
	for b.Loop() {
		if _, err := e.v.VerifyPAdES(context.Background(), signed, e.issued); err != nil {
			b.Fatal(err)
		}
	}
}
