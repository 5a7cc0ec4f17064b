package authnrequest

import (
	"context"
	"testing"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// FuzzRedirect: any XML, validly query-signed by a trusted SP, goes
// through every step without panicking, and success implies the
// invariants of a Request.
func FuzzRedirect(f *testing.F) {
	fx := newFixture(f)
	f.Add(string(fx.request(f, nil)), "rs")
	f.Add(string(fx.request(f, delAttr("ID"))), "")
	f.Add(string(fx.request(f, insertXML(1, `<samlp:Extensions><spid:Purpose>P</spid:Purpose></samlp:Extensions>`))), "")
	f.Add(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`, "")
	f.Fuzz(func(t *testing.T, x, relay string) {
		q := bindingtest.Redirect{XML: []byte(x), RelayState: relay, Key: pairA.Key}.Query()
		r, err := fx.checker.Check(context.Background(), bindingtest.GET(ssoRedirect, q), spid.BindingRedirect)
		checkInvariants(t, r, err)
	})
}

// FuzzPOST: any XML that can carry an enveloped signature is signed by a
// trusted SP and posted; no panic, and the same invariants.
func FuzzPOST(f *testing.F) {
	fx := newFixture(f)
	f.Add(string(fx.request(f, nil)))
	f.Add(string(fx.request(f, setAttr("AssertionConsumerServiceURL", acs1))))
	f.Add(string(fx.request(f, insertXML(-1, `<samlp:Scoping ProxyCount="0"/>`))))
	f.Fuzz(func(t *testing.T, x string) {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(x); err != nil || doc.Root() == nil {
			return
		}
		if err := xmlsig.Sign(doc.Root(), pairA, "Issuer"); err != nil {
			return
		}
		signed, err := doc.WriteToBytes()
		if err != nil {
			return
		}
		r, err := fx.checker.Check(context.Background(), bindingtest.POST(ssoPOST, bindingtest.Form("SAMLRequest", signed, "")), spid.BindingPOST)
		checkInvariants(t, r, err)
	})
}

func checkInvariants(t *testing.T, r *Request, err error) {
	if err != nil {
		e := asError(t, err)
		if !e.Anomaly.ForSP() && e.SP != nil {
			t.Fatalf("user-bound %s carries an SP", e.Anomaly)
		}
		if e.Anomaly.ForSP() && (e.SP == nil || e.ACS.Binding != spid.BindingPOST) {
			t.Fatalf("SP-bound %s without SP or POST ACS: %+v", e.Anomaly, e)
		}
		return
	}
	if r.SP == nil || r.ACS.Binding != spid.BindingPOST || r.ID == "" || r.Level < spid.L1 || r.Level > spid.L3 {
		t.Fatalf("accepted request breaks invariants: %+v", r)
	}
	if (r.AttributeIndex == nil) != (r.Attributes == nil) {
		t.Fatalf("AttributeIndex and Attributes disagree: %+v", r)
	}
}
