// Package responsetest has fixtures for tests of code that builds or consumes
// the IdP's SAML messages: a throw-away signing pair and a verifier that
// trusts only a given certificate.
package responsetest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/spid-idp/spid-idp/keys"
)

var (
	mu    sync.Mutex
	pairs = map[int]keys.Pair{}
)

// Pair returns a self-signed RSA pair of the given size (2048 when bits is
// 0), valid from 2000 to 2100 so tests may pin any clock. Pairs are cached
// per size for the life of the test binary: generating RSA keys is slow.
func Pair(tb testing.TB, bits int) keys.Pair {
	tb.Helper()
	if bits == 0 {
		bits = 2048
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := pairs[bits]; ok {
		return p
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatalf("responsetest: generating key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject: pkix.Name{
			CommonName:   "spid-idp test",
			Organization: []string{"spid-idp test"},
			Country:      []string{"IT"},
		},
		NotBefore:          time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:           time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("responsetest: creating certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("responsetest: parsing certificate: %v", err)
	}
	p := keys.Pair{Key: key, Cert: cert}
	pairs[bits] = p
	return p
}

// Verify checks the enveloped signature of el (an element of a parsed
// document, e.g. the Response root or its Assertion) with goxmldsig, trusting
// only cert and ignoring the message's own KeyInfo as a trust source. It
// returns the verified copy of the element, the only one to read afterwards.
func Verify(el *etree.Element, cert *x509.Certificate, now time.Time) (*etree.Element, error) {
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	ctx.IdAttribute = "ID"
	ctx.Clock = dsig.NewFakeClockAt(now)
	// Detach the element with the namespaces it inherits, as an SP does when
	// it verifies the Assertion inside the Response.
	nsctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, fmt.Errorf("responsetest: %w", err)
	}
	nsctx, err = nsctx.SubContext(el)
	if err != nil {
		return nil, fmt.Errorf("responsetest: %w", err)
	}
	detached, err := etreeutils.NSDetatch(nsctx, el)
	if err != nil {
		return nil, fmt.Errorf("responsetest: %w", err)
	}
	return ctx.Validate(detached)
}
