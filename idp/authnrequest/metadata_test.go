package authnrequest

import (
	"context"
	"testing"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
)

// TestCheckWithParsedMetadata runs requests against an SP that went
// through metadata.ParseSP, so the checker is proven on the real run-time
// model rather than a hand-built struct.
func TestCheckWithParsedMetadata(t *testing.T) {
	f := newFixture(t)
	xml, pair := metadatatest.NewSP(t, metadatatest.Options{EntityID: spA})
	sp, err := metadata.ParseSP(xml, metadata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := *f.checker
	c.SPs = spMap{spA: sp}
	for _, b := range bothBindings {
		t.Run(short(b), func(t *testing.T) {
			x := f.request(t, all(setAttr("AssertionConsumerServiceIndex", "1"), setAttr("AttributeConsumingServiceIndex", "1")))
			r, err := c.Check(context.Background(), send(t, b, x, "", &pair), b)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := sp.ACSByIndex(1)
			if r.ACS != want || len(r.Attributes) != len(metadatatest.DefaultAttributeSets[1]) {
				t.Fatalf("ACS %+v attributes %v", r.ACS, r.Attributes)
			}
			// The key of the fixture's SP is not in this metadata.
			_, err = c.Check(context.Background(), send(t, b, f.request(t, nil), "", &pairA), b)
			if e := asError(t, err); e.Step != StepSignature {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

// TestRedirectACSFromMetadataIsNr16: an SP whose metadata has a Redirect ACS
// at index 1 (as AgID's IdP test tool publishes) is registered, and a
// request that selects that ACS, by index or by URL, gets nr16.
func TestRedirectACSFromMetadataIsNr16(t *testing.T) {
	f := newFixture(t)
	redirectACS := spA + "/acs/1"
	xml, pair := metadatatest.NewSP(t, metadatatest.Options{EntityID: spA, Mutate: func(r *etree.Element) {
		r.FindElement("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']").CreateAttr("Binding", spid.BindingRedirect)
	}})
	sp, err := metadata.ParseSP(xml, metadata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := *f.checker
	c.SPs = spMap{spA: sp}
	for name, mut := range map[string]func(*etree.Element){
		"index": setAttr("AssertionConsumerServiceIndex", "1"),
		"url": all(delAttr("AssertionConsumerServiceIndex"), setAttr("AssertionConsumerServiceURL", redirectACS),
			setAttr("ProtocolBinding", spid.BindingPOST)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Check(context.Background(), send(t, spid.BindingPOST, f.request(t, mut), "", &pair), spid.BindingPOST)
			if e := asError(t, err); e.Anomaly != spid.NrACS {
				t.Fatalf("got %+v, want nr16", e)
			}
		})
	}
	// The POST ACS at index 0 still works.
	if _, err := c.Check(context.Background(), send(t, spid.BindingPOST, f.request(t, setAttr("AssertionConsumerServiceIndex", "0")), "", &pair), spid.BindingPOST); err != nil {
		t.Fatal(err)
	}
}
