package metadata

import (
	"encoding/base64"
	"encoding/xml"
	"testing"

	"github.com/crewjam/saml"
)

func TestBuildIdPPublishesExtraCertificates(t *testing.T) {
	opts := testIdPOptions(t)
	_, next := testIdPPairs(t)
	opts.ExtraCerts = append(opts.ExtraCerts, next.Cert)
	out, err := BuildIdP(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(out, &ed); err != nil {
		t.Fatal(err)
	}
	kds := ed.IDPSSODescriptors[0].KeyDescriptors
	if len(kds) != 2 || kds[1].Use != "signing" ||
		kds[1].KeyInfo.X509Data.X509Certificates[0].Data != base64.StdEncoding.EncodeToString(next.Cert.Raw) {
		t.Fatalf("extra certificate not published as a second signing key: %+v", kds)
	}

	opts.ExtraCerts = append(opts.ExtraCerts, nil)
	if _, err := BuildIdP(opts); err == nil {
		t.Fatal("a missing extra certificate was accepted")
	}
}
