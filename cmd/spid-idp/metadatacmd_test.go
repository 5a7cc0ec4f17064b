package main

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/keys"
)

// verifyIdPMetadata checks the signature over the whole EntityDescriptor
// with only the configured certificate, as an SP does.
func verifyIdPMetadata(t *testing.T, xml []byte, cert *x509.Certificate) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatalf("metadata is not XML: %v", err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	verified, err := vc.Validate(doc.Root())
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	return verified
}

func TestMetadataPrintsSignedIdPMetadata(t *testing.T) {
	d := newDemoEnv(t)
	r := d.mustRun("metadata")
	cfg := d.config()
	pair, err := keys.Load(cfg.IdP.Signing.KeyFile, cfg.IdP.Signing.CertFile)
	if err != nil {
		t.Fatalf("demo signing key not kept under the data directory: %v", err)
	}
	root := verifyIdPMetadata(t, []byte(r.stdout), pair.Cert)
	if root.Tag != "EntityDescriptor" || root.SelectAttrValue("entityID", "") != cfg.IdP.EntityID {
		t.Errorf("root %s entityID %q, want EntityDescriptor %q", root.Tag, root.SelectAttrValue("entityID", ""), cfg.IdP.EntityID)
	}
	idp := root.FindElement("IDPSSODescriptor")
	if idp == nil || idp.SelectAttrValue("WantAuthnRequestsSigned", "") != "true" {
		t.Fatal("no IDPSSODescriptor with WantAuthnRequestsSigned=true")
	}
	var locs []string
	for _, s := range idp.FindElements("SingleSignOnService") {
		locs = append(locs, s.SelectAttrValue("Location", ""))
	}
	if len(locs) != 2 || !strings.HasPrefix(locs[0], cfg.Server.BaseURL) {
		t.Errorf("SSO locations %v, want two under %s", locs, cfg.Server.BaseURL)
	}

	// A second run uses the same kept key.
	r2 := d.mustRun("metadata")
	verifyIdPMetadata(t, []byte(r2.stdout), pair.Cert)
}

func TestMetadataToFile(t *testing.T) {
	d := newDemoEnv(t)
	out := filepath.Join(t.TempDir(), "idp.xml")
	r := d.mustRun("metadata", "-o", out)
	if r.stdout != "" {
		t.Errorf("stdout not empty with -o: %q", r.stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.config()
	pair, err := keys.Load(cfg.IdP.Signing.KeyFile, cfg.IdP.Signing.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	verifyIdPMetadata(t, data, pair.Cert)
}

func TestMetadataErrors(t *testing.T) {
	d := newDemoEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"extra argument", []string{"metadata", "x"}, exitUsage, "unexpected argument"},
		{"unwritable output", []string{"metadata", "-o", filepath.Join(d.dir, "missing", "dir", "idp.xml")}, exitFailure, "no such file"},
		{"missing config file", []string{"metadata", "-c", filepath.Join(d.dir, "nope.yaml")}, exitUsage, "nope.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.run(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d stderr %q, want %d containing %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}
