package keys

import (
	"encoding/pem"
	"testing"
)

func FuzzParse(f *testing.F) {
	p, err := Generate(testOpts())
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := Save(p, dir+"/k.pem", dir+"/c.pem"); err != nil {
		f.Fatal(err)
	}
	kp := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}})
	cp := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
	f.Add(kp, cp)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"), cp)
	f.Fuzz(func(t *testing.T, keyPEM, certPEM []byte) {
		q, err := Parse(keyPEM, certPEM)
		if err == nil && (q.Key == nil || q.Cert == nil) {
			t.Fatal("incomplete pair without error")
		}
	})
}

func FuzzPolicies(f *testing.F) {
	exts, err := profileExtensions(ProfileIdP)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(exts[2].Value)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		_, _ = parsePolicies(der) // must not panic
	})
}
