package xmlsig

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// responseXML declares xs on the Response and again on the Assertion: the
// prefix is used only inside xsi:type values, which exclusive c14n does not
// see as a use, so an in-place canonicalisation would drop both declarations.
const responseXML = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_resp1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://sp.example.it/acs"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">https://idp.example.it</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
	`<saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">https://idp.example.it</saml:Issuer>` +
	`<saml:AttributeStatement><saml:Attribute Name="name"><saml:AttributeValue xsi:type="xs:string">Mario</saml:AttributeValue></saml:Attribute>` +
	`<saml:Attribute Name="fiscalNumber"><saml:AttributeValue xsi:type="xs:string">TINIT-RSSMRA80A01H501U</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>`

// xsBound reports whether the prefix xs resolves, at el, to the XML Schema
// namespace.
func xsBound(el *etree.Element) bool {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xmlns" && a.Key == "xs" {
				return a.Value == "http://www.w3.org/2001/XMLSchema"
			}
		}
	}
	return false
}

// verifyWithGoxmldsig validates el's enveloped signature with goxmldsig,
// trusting cert only. goxmldsig needs the element to declare the namespaces
// it uses, so a nested element is handed over with its in-scope declarations,
// as a verifier extracting it would.
func verifyWithGoxmldsig(t *testing.T, el *etree.Element, cert *x509.Certificate) {
	t.Helper()
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	if _, err := ctx.Validate(withScope(el)); err != nil {
		t.Fatalf("goxmldsig rejects the signature on %s: %v", el.Tag, err)
	}
}

func TestSignKeepsNamespacesUsedInAttributeValues(t *testing.T) {
	testPairs(t)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(responseXML); err != nil {
		t.Fatal(err)
	}
	resp := doc.Root()
	assertion := resp.SelectElement("Assertion")
	// Inner element first, as an IdP does: the Response signature covers the
	// signed Assertion.
	if err := Sign(assertion, spPair, "Issuer"); err != nil {
		t.Fatal(err)
	}
	if err := Sign(resp, spPair, "Issuer"); err != nil {
		t.Fatal(err)
	}
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, `xmlns:xs="http://www.w3.org/2001/XMLSchema"`) != 2 {
		t.Errorf("xmlns:xs declarations lost by signing:\n%s", out)
	}

	// What the SP receives: the serialised document, parsed afresh.
	got := etree.NewDocument()
	if err := got.ReadFromString(out); err != nil {
		t.Fatal(err)
	}
	values := got.Root().FindElements(".//AttributeValue")
	if len(values) != 2 {
		t.Fatalf("found %d AttributeValues, want 2", len(values))
	}
	for _, v := range values {
		if !xsBound(v) {
			t.Errorf("AttributeValue %q has xsi:type=%q with xs unbound", v.Text(), v.SelectAttrValue("xsi:type", ""))
		}
	}
	verifyWithGoxmldsig(t, got.Root(), spPair.Cert)
	verifyWithGoxmldsig(t, got.Root().SelectElement("Assertion"), spPair.Cert)
	// Extracted on its own, as SP libraries often handle it, the Assertion
	// still binds xs and still verifies.
	extracted := withScope(got.Root().SelectElement("Assertion"))
	if !xsBound(extracted) {
		t.Error("the extracted Assertion lost its xmlns:xs")
	}
	verifyWithGoxmldsig(t, extracted, spPair.Cert)
	if err := Verify(extracted, []*x509.Certificate{spPair.Cert}); err != nil {
		t.Fatalf("Verify rejects the extracted Assertion: %v", err)
	}
}

// TestSignInheritedNamespace signs an element whose xs declaration lives
// only on an ancestor: the element itself must not change apart from the
// inserted signature, and the signature must verify in place.
func TestSignInheritedNamespace(t *testing.T) {
	testPairs(t)
	src := strings.Replace(responseXML, `<saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" `, `<saml:Assertion `, 1)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(src); err != nil {
		t.Fatal(err)
	}
	assertion := doc.Root().SelectElement("Assertion")
	before := len(assertion.Attr)
	if err := Sign(assertion, spPair, "Issuer"); err != nil {
		t.Fatal(err)
	}
	if len(assertion.Attr) != before {
		t.Errorf("Sign changed the Assertion's attributes: %d → %d", before, len(assertion.Attr))
	}
	if sig := assertion.ChildElements()[1]; sig.Tag != "Signature" {
		t.Errorf("signature at position 1 is %s, want Signature after Issuer", sig.Tag)
	}
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	got := etree.NewDocument()
	if err := got.ReadFromString(out); err != nil {
		t.Fatal(err)
	}
	for _, v := range got.Root().FindElements(".//AttributeValue") {
		if !xsBound(v) {
			t.Fatalf("xs unbound after signing:\n%s", out)
		}
	}
	verifyWithGoxmldsig(t, got.Root().SelectElement("Assertion"), spPair.Cert)
	if err := Verify(withScope(got.Root().SelectElement("Assertion")), []*x509.Certificate{spPair.Cert}); err != nil {
		t.Fatalf("Verify rejects the Assertion: %v", err)
	}
}

// TestSignStandaloneAssertion is the reported defect in its simplest form:
// an Assertion that is its own document root, declaring xs for its
// xsi:type values only.
func TestSignStandaloneAssertion(t *testing.T) {
	testPairs(t)
	src := `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a2" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">` +
		`<saml:Issuer>https://idp.example.it</saml:Issuer><saml:AttributeStatement><saml:Attribute Name="familyName">` +
		`<saml:AttributeValue xsi:type="xs:string">Rossi</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>`
	doc := etree.NewDocument()
	if err := doc.ReadFromString(src); err != nil {
		t.Fatal(err)
	}
	if err := Sign(doc.Root(), spPair, "Issuer"); err != nil {
		t.Fatal(err)
	}
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	got := etree.NewDocument()
	if err := got.ReadFromString(out); err != nil {
		t.Fatal(err)
	}
	if v := got.Root().FindElement(".//AttributeValue"); v == nil || !xsBound(v) {
		t.Fatalf("xs unbound after signing:\n%s", out)
	}
	verifyWithGoxmldsig(t, got.Root(), spPair.Cert)
	if err := Verify(got.Root(), []*x509.Certificate{spPair.Cert}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestSignNeedsID(t *testing.T) {
	testPairs(t)
	el := etree.NewElement("Assertion")
	if err := Sign(el, spPair, ""); err == nil || !strings.Contains(err.Error(), "no ID") {
		t.Fatalf("Sign without ID: %v", err)
	}
}
