package signature

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Interoperability: .p7m files made by another implementation (OpenSSL's
// cms tool) with the same test PKI. Skipped where openssl is not installed.
func TestCAdESFromOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER, err := x509MarshalEC(s)
	if err != nil {
		t.Fatal(err)
	}
	// A form of several pages, so that streamed output splits the content
	// into more than one 4 KiB chunk.
	req := e.req
	req.Attributes = map[string]string{}
	for i := 0; i < 60; i++ {
		req.Attributes[fmt.Sprintf("note%02d", i)] = strings.Repeat("testo di prova ", 10)
	}
	big, err := Form(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(big) < 3*4096 {
		t.Fatalf("form of %d bytes is too small for this test", len(big))
	}
	e.issued.Form = big
	form := write("form.pdf", big)
	cert := write("signer.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}))
	key := write("signer.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	inter := write("inter.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.inter.cert.Raw}))

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"CAdES-BES DER", []string{"-cades", "-outform", "DER"}},
		{"CAdES-BES PEM", []string{"-cades", "-outform", "PEM"}},
		{"streamed BER (indefinite lengths, chunked content)", []string{"-stream", "-outform", "DER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.p7m")
			args := append([]string{"cms", "-sign", "-binary", "-nodetach", "-md", "sha256",
				"-in", form, "-signer", cert, "-inkey", key, "-certfile", inter, "-out", out}, tc.args...)
			if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl: %v\n%s", err, b)
			}
			p7m, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := e.v.VerifyCAdES(context.Background(), p7m, e.issued)
			if err != nil {
				t.Fatalf("VerifyCAdES: %v\n%+v", err, rep.Checks)
			}
			if rep.SignerCF != cf {
				t.Fatalf("signer CF %q", rep.SignerCF)
			}
			if strings.HasPrefix(tc.name, "CAdES-BES") {
				for _, c := range rep.Checks {
					if c.Name == CheckSigningCert && !strings.HasPrefix(c.Detail, "present") {
						t.Fatalf("OpenSSL's -cades output carries signing-certificate-v2: %q", c.Detail)
					}
				}
			}
		})
	}
}

func x509MarshalEC(s signer) ([]byte, error) { return x509.MarshalECPrivateKey(s.key) }
