package cns

import (
	"context"
	"crypto/x509"
	"testing"
)

func BenchmarkVerify(b *testing.B) {
	p := newPKI(b)
	leaf, _ := newLeaf(b, p.inter, leafOpts{serialNumber: "TINIT-" + cf})
	chain := []*x509.Certificate{leaf, p.inter.cert}
	for b.Loop() {
		if _, err := p.v.Verify(context.Background(), chain); err != nil {
			b.Fatal(err)
		}
	}
}
