package response_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenPair is a fixed test-only key (testdata/golden-test-*.pem): RSA
// PKCS#1 v1.5 signatures are deterministic, so with it every byte we emit,
// signatures included, is fixed by the inputs.
func goldenPair(t *testing.T) keys.Pair {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(data)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		return blk.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(read("golden-test-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(read("golden-test-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return keys.Pair{Key: k.(*rsa.PrivateKey), Cert: c}
}

// TestGolden pins the exact bytes we emit (no indentation, canonical form,
// signatures). Run with -update after an intended change and review the diff.
func TestGolden(t *testing.T) {
	pair := goldenPair(t)
	golden := func(t *testing.T) *response.Builder {
		b := newBuilder(t)
		b.Signing = pair
		return b
	}
	b := golden(t)
	s := sampleSuccess()
	s.Attributes = goodAttributes(t)
	success, err := b.Success(s)
	if err != nil {
		t.Fatal(err)
	}
	b = golden(t)
	errResp, err := b.Error(response.ErrorResponse{InResponseTo: requestID, Destination: acsURL, Anomaly: spid.NrConsentDenied})
	if err != nil {
		t.Fatal(err)
	}
	b = golden(t)
	lreq, err := b.LogoutRequest(response.LogoutRequest{ID: "_lr1", Destination: "https://sp.example.org/slo", NameID: "_nid", SessionIndex: "_sess1"})
	if err != nil {
		t.Fatal(err)
	}
	b = golden(t)
	lresp, err := b.LogoutResponse(response.LogoutResponse{InResponseTo: "_req", Destination: "https://sp.example.org/slo",
		Status: spid.StatusRequester, SubStatus: spid.StatusPartialLogout})
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{
		"success.xml": success, "error-nr22.xml": errResp,
		"logout-request.xml": lreq, "logout-response-partial.xml": lresp,
	} {
		if _, err := responsetest.Verify(parse(t, out), pair.Cert, clock); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, out, want)
		}
	}
}
