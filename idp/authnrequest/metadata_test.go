package authnrequest

import (
	"context"
	"testing"

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
