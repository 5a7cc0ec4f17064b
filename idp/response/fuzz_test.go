package response_test

import (
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// FuzzSuccess feeds arbitrary stored attribute values and NameIDs through
// AttributesFor and Success. Whatever is accepted must come out as
// well-formed XML that carries the value unchanged and whose signatures
// verify: the canonical-by-construction writer must never emit bytes whose
// canonical form differs from what it digested.
func FuzzSuccess(f *testing.F) {
	names := metadata.AttributeNames()
	for i, v := range []string{
		"Rossi & Figli <S.r.l.>", `"quoted" 'single'`, "Niccolò Ünicode ☃", "a]]>b", "x\r\ny",
		"RSSMRA85T10A562S", "1980-02-29", "+39 333 1234567", "a@b.it", "&amp;", "\u00a0", "\uFFFE",
	} {
		f.Add(uint8(i), v, "_nid"+v)
	}
	b := &response.Builder{EntityID: idpEntity, Signing: responsetest.Pair(f, 0)}
	b.Now = func() time.Time { return clock }
	f.Fuzz(func(t *testing.T, which uint8, stored, nameID string) {
		name := names[int(which)%len(names)]
		id := storage.Identity{ID: "f", Attributes: map[string]string{name: stored}}
		attrs, err := response.AttributesFor(id, []metadata.RequestedAttribute{{Name: name}})
		if err != nil {
			return
		}
		s := sampleSuccess()
		s.NameID, s.Attributes = nameID, attrs
		out, err := b.Success(s)
		if err != nil {
			return
		}
		resp := parse(t, out)
		as := one(t, resp, spid.NSAssertion, "Assertion")
		if got := one(t, one(t, as, spid.NSAssertion, "Subject"), spid.NSAssertion, "NameID").Text(); got != nameID {
			t.Fatalf("NameID %q came back as %q", nameID, got)
		}
		if len(attrs) == 1 {
			v := as.FindElement("./AttributeStatement/Attribute/AttributeValue")
			if v == nil || v.Text() != attrs[0].Value {
				t.Fatalf("attribute %s = %q did not round-trip", name, attrs[0].Value)
			}
		}
		if _, err := responsetest.Verify(resp, b.Signing.Cert, clock); err != nil {
			t.Fatalf("Response signature: %v", err)
		}
		if _, err := responsetest.Verify(one(t, parse(t, out), spid.NSAssertion, "Assertion"), b.Signing.Cert, clock); err != nil {
			t.Fatalf("Assertion signature: %v", err)
		}
	})
}
