package metadatatest

import (
	"crypto/x509"
	"encoding/xml"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

func TestNewSPVerifiesAndUnmarshals(t *testing.T) {
	for _, private := range []bool{false, true} {
		md, pair := NewSP(t, Options{Private: private})
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(md); err != nil {
			t.Fatal(err)
		}
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{pair.Cert}})
		if _, err := vc.Validate(doc.Root()); err != nil {
			t.Fatalf("private=%v: signature: %v", private, err)
		}
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal(md, &ed); err != nil {
			t.Fatal(err)
		}
		if ed.EntityID != "https://sp.example.it" || len(ed.SPSSODescriptors) != 1 {
			t.Fatalf("entity %q, %d SPSSODescriptors", ed.EntityID, len(ed.SPSSODescriptors))
		}
		sp := ed.SPSSODescriptors[0]
		if len(sp.AssertionConsumerServices) != 2 || *sp.AssertionConsumerServices[0].IsDefault != true ||
			len(sp.AttributeConsumingServices) != 2 || len(sp.SingleLogoutServices) != 2 {
			t.Errorf("unexpected shape: %+v", sp)
		}
	}
}
