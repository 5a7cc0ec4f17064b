package response_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/xmlsig"
)

const (
	idpEntity = "https://idp.example.it"
	spEntity  = "https://sp.example.org/metadata"
	acsURL    = "https://sp.example.org/acs?x=1&y=2"
	requestID = "_4d38c302617b5bf98951e65b4cf304711e2166df20"
)

var (
	// clock is the fixed "now" of the tests; reqInstant is the AuthnRequest's
	// IssueInstant on the SP's clock, slightly behind ours.
	clock      = time.Date(2026, 3, 14, 9, 26, 53, 589_793_238, time.UTC)
	reqInstant = clock.Add(-1500 * time.Millisecond)
	authnAt    = clock.Add(-20 * time.Second)
)

func newBuilder(t testing.TB) *response.Builder {
	t.Helper()
	n := 0
	return &response.Builder{
		EntityID: idpEntity,
		Signing:  responsetest.Pair(t, 0),
		Now:      func() time.Time { return clock },
		NewID: func() string {
			n++
			return "_id000" + string(rune('a'+n-1))
		},
	}
}

func sampleAttributes() []response.Attribute {
	return []response.Attribute{
		{Name: "fiscalNumber", Value: "TINIT-RSSMRA80A41H501Y"},
		{Name: "name", Value: "Maria Luisa"},
		{Name: "familyName", Value: "De Santis"},
		{Name: "companyName", Value: `Rossi & Figli <"S.r.l.">`},
		{Name: "dateOfBirth", Value: "1980-01-31"},
		{Name: "email", Value: "maria.desantis@example.it"},
	}
}

func sampleSuccess() response.Success {
	return response.Success{
		InResponseTo:              requestID,
		RequestIssueInstant:       reqInstant,
		Destination:               acsURL,
		Audience:                  spEntity,
		NameID:                    "_0123456789abcdef0123456789abcdef",
		SessionIndex:              "_sess1",
		Level:                     spid.L2,
		AuthnInstant:              authnAt,
		IncludeAttributeStatement: true,
		Attributes:                sampleAttributes(),
	}
}

// parse reads an emitted message back, failing on anything but one root.
func parse(t *testing.T, xml []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatalf("output is not XML: %v\n%s", err, xml)
	}
	if doc.Root() == nil {
		t.Fatalf("no root element")
	}
	return doc.Root()
}

// childTags returns the namespace-qualified tags of el's child elements.
func childTags(el *etree.Element) []string {
	var out []string
	for _, c := range el.ChildElements() {
		out = append(out, c.NamespaceURI()+" "+c.Tag)
	}
	return out
}

func wantChildren(t *testing.T, el *etree.Element, want ...string) {
	t.Helper()
	got := childTags(el)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("children of %s:\n got %q\nwant %q", el.Tag, got, want)
	}
}

func wantAttrs(t *testing.T, el *etree.Element, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		got[a.FullKey()] = a.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s/@%s = %q, want %q", el.Tag, k, got[k], v)
		}
		delete(got, k)
	}
	for k, v := range got {
		t.Errorf("%s has unexpected attribute %s=%q", el.Tag, k, v)
	}
}

func one(t *testing.T, el *etree.Element, ns, tag string) *etree.Element {
	t.Helper()
	var found []*etree.Element
	for _, c := range el.ChildElements() {
		if c.NamespaceURI() == ns && c.Tag == tag {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s has %d %s children, want 1", el.Tag, len(found), tag)
	}
	return found[0]
}

var (
	nsP  = spid.NSProtocol + " "
	nsA  = spid.NSAssertion + " "
	nsDS = spid.NSDSig + " "
	// instantRE is the AgID regex for IssueInstant (C107), with the fraction
	// mandatory since we always emit milliseconds.
	instantRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
)

func instant(t *testing.T, s string) time.Time {
	t.Helper()
	if !instantRE.MatchString(s) {
		t.Fatalf("timestamp %q does not match %s", s, instantRE)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSuccessStructure(t *testing.T) {
	b := newBuilder(t)
	out, err := b.Success(sampleSuccess())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration")
	}
	if bytes.Contains(out, []byte("\n<samlp:Response")) == false || bytes.Count(out, []byte("\n")) != 1 {
		t.Errorf("output must be one declaration line and one unindented element")
	}
	resp := parse(t, out)
	if resp.NamespaceURI() != spid.NSProtocol || resp.Tag != "Response" {
		t.Fatalf("root is %s %s", resp.NamespaceURI(), resp.Tag)
	}
	issue := instant(t, resp.SelectAttrValue("IssueInstant", ""))
	// §4.5: IssueInstant = max(now, request), ms precision, rounded up.
	if want := clock.Truncate(time.Millisecond).Add(time.Millisecond); !issue.Equal(want) {
		t.Errorf("IssueInstant %v, want %v", issue, want)
	}
	wantAttrs(t, resp, map[string]string{
		"ID": "_id000a", "Version": "2.0", "IssueInstant": resp.SelectAttrValue("IssueInstant", ""),
		"InResponseTo": requestID, "Destination": acsURL,
	})
	wantChildren(t, resp, nsA+"Issuer", nsDS+"Signature", nsP+"Status", nsA+"Assertion")
	iss := one(t, resp, spid.NSAssertion, "Issuer")
	wantAttrs(t, iss, map[string]string{"Format": spid.NameIDEntity})
	if iss.Text() != idpEntity {
		t.Errorf("Response Issuer %q", iss.Text())
	}
	st := one(t, resp, spid.NSProtocol, "Status")
	wantChildren(t, st, nsP+"StatusCode")
	sc := one(t, st, spid.NSProtocol, "StatusCode")
	wantAttrs(t, sc, map[string]string{"Value": spid.StatusSuccess})
	wantChildren(t, sc)

	as := one(t, resp, spid.NSAssertion, "Assertion")
	wantAttrs(t, as, map[string]string{"ID": "_id000b", "Version": "2.0", "IssueInstant": resp.SelectAttrValue("IssueInstant", "")})
	wantChildren(t, as, nsA+"Issuer", nsDS+"Signature", nsA+"Subject", nsA+"Conditions", nsA+"AuthnStatement", nsA+"AttributeStatement")
	aiss := one(t, as, spid.NSAssertion, "Issuer")
	wantAttrs(t, aiss, map[string]string{"Format": spid.NameIDEntity})
	if aiss.Text() != iss.Text() {
		t.Errorf("Assertion Issuer %q differs from Response Issuer %q", aiss.Text(), iss.Text())
	}

	subj := one(t, as, spid.NSAssertion, "Subject")
	wantChildren(t, subj, nsA+"NameID", nsA+"SubjectConfirmation")
	nid := one(t, subj, spid.NSAssertion, "NameID")
	wantAttrs(t, nid, map[string]string{"Format": spid.NameIDTransient, "NameQualifier": idpEntity})
	if nid.Text() != "_0123456789abcdef0123456789abcdef" {
		t.Errorf("NameID %q", nid.Text())
	}
	sc2 := one(t, subj, spid.NSAssertion, "SubjectConfirmation")
	wantAttrs(t, sc2, map[string]string{"Method": spid.ConfirmationBearer})
	scd := one(t, sc2, spid.NSAssertion, "SubjectConfirmationData")
	noa := scd.SelectAttrValue("NotOnOrAfter", "")
	wantAttrs(t, scd, map[string]string{"Recipient": acsURL, "InResponseTo": requestID, "NotOnOrAfter": noa})
	if got := instant(t, noa); !got.Equal(issue.Add(response.DefaultAssertionLifetime)) {
		t.Errorf("SubjectConfirmationData NotOnOrAfter %v, want IssueInstant+5m", got)
	}

	cond := one(t, as, spid.NSAssertion, "Conditions")
	nb := instant(t, cond.SelectAttrValue("NotBefore", ""))
	if want := reqInstant.Truncate(time.Millisecond); !nb.Equal(want) {
		t.Errorf("NotBefore %v, want the request IssueInstant %v", nb, want)
	}
	if cond.SelectAttrValue("NotOnOrAfter", "") != noa {
		t.Errorf("Conditions NotOnOrAfter %q != SubjectConfirmationData %q", cond.SelectAttrValue("NotOnOrAfter", ""), noa)
	}
	wantChildren(t, cond, nsA+"AudienceRestriction")
	ar := one(t, cond, spid.NSAssertion, "AudienceRestriction")
	wantChildren(t, ar, nsA+"Audience")
	if got := one(t, ar, spid.NSAssertion, "Audience").Text(); got != spEntity {
		t.Errorf("Audience %q", got)
	}

	stmt := one(t, as, spid.NSAssertion, "AuthnStatement")
	ai := stmt.SelectAttrValue("AuthnInstant", "")
	wantAttrs(t, stmt, map[string]string{"AuthnInstant": ai, "SessionIndex": "_sess1"})
	if got := instant(t, ai); !got.Equal(authnAt.Truncate(time.Millisecond)) {
		t.Errorf("AuthnInstant %v", got)
	}
	ctx := one(t, stmt, spid.NSAssertion, "AuthnContext")
	if got := one(t, ctx, spid.NSAssertion, "AuthnContextClassRef").Text(); got != spid.ClassSpidL2 {
		t.Errorf("class ref %q", got)
	}

	attrs := one(t, as, spid.NSAssertion, "AttributeStatement")
	want := sampleAttributes()
	got := attrs.ChildElements()
	if len(got) != len(want) {
		t.Fatalf("%d attributes, want %d", len(got), len(want))
	}
	for i, a := range got {
		if a.NamespaceURI()+" "+a.Tag != nsA+"Attribute" {
			t.Fatalf("AttributeStatement child %s", a.Tag)
		}
		wantAttrs(t, a, map[string]string{"Name": want[i].Name, "NameFormat": spid.AttrNameBasic})
		wantChildren(t, a, nsA+"AttributeValue")
		v := a.ChildElements()[0]
		typ := "xs:string"
		if want[i].Name == "dateOfBirth" {
			typ = "xs:date"
		}
		wantAttrs(t, v, map[string]string{"xsi:type": typ})
		if v.SelectAttr("xsi:type").NamespaceURI() != spid.NSXSI {
			t.Errorf("xsi prefix not bound to %s", spid.NSXSI)
		}
		// the QName in xsi:type must resolve to XML Schema
		if ns := lookupPrefix(v, "xs"); ns != spid.NSXS {
			t.Errorf("xs prefix of %s bound to %q", want[i].Name, ns)
		}
		if v.Text() != want[i].Value {
			t.Errorf("%s = %q, want %q", want[i].Name, v.Text(), want[i].Value)
		}
	}
	for _, banned := range []string{"EncryptedAssertion", "Advice", "Extensions"} {
		if bytes.Contains(out, []byte(":"+banned)) {
			t.Errorf("output contains %s", banned)
		}
	}
}

func lookupPrefix(el *etree.Element, prefix string) string {
	for e := el; e != nil; e = e.Parent() {
		if a := e.SelectAttr("xmlns:" + prefix); a != nil {
			return a.Value
		}
	}
	return ""
}

func TestSuccessOmissions(t *testing.T) {
	b := newBuilder(t)
	s := sampleSuccess()
	s.SessionIndex = "" // a SpidL2 request: no SessionIndex (C129)
	s.Attributes = nil  // nothing to release: no AttributeStatement (C138)
	s.RequestIssueInstant = time.Time{}
	out, err := b.Success(s)
	if err != nil {
		t.Fatal(err)
	}
	resp := parse(t, out)
	as := one(t, resp, spid.NSAssertion, "Assertion")
	wantChildren(t, as, nsA+"Issuer", nsDS+"Signature", nsA+"Subject", nsA+"Conditions", nsA+"AuthnStatement")
	if one(t, as, spid.NSAssertion, "AuthnStatement").SelectAttr("SessionIndex") != nil {
		t.Error("SessionIndex present for an L2 request")
	}
	if bytes.Contains(out, []byte("xmlns:xs=")) {
		t.Error("xs declared with no typed value")
	}
	nb := instant(t, one(t, as, spid.NSAssertion, "Conditions").SelectAttrValue("NotBefore", ""))
	if !nb.Equal(clock.Truncate(time.Millisecond)) {
		t.Errorf("NotBefore %v without a request instant, want now", nb)
	}
	if _, err := responsetest.Verify(as, b.Signing.Cert, clock); err != nil {
		t.Errorf("assertion signature: %v", err)
	}
}

// A request stamped slightly ahead of our clock moves IssueInstant forward so
// the SP never sees our message dated before its request (§4.5, SSC#14).
func TestSuccessRequestAhead(t *testing.T) {
	b := newBuilder(t)
	s := sampleSuccess()
	s.RequestIssueInstant = clock.Add(1500*time.Microsecond + 2*time.Second)
	out, err := b.Success(s)
	if err != nil {
		t.Fatal(err)
	}
	resp := parse(t, out)
	issue := instant(t, resp.SelectAttrValue("IssueInstant", ""))
	if issue.Before(s.RequestIssueInstant) {
		t.Errorf("IssueInstant %v before request %v", issue, s.RequestIssueInstant)
	}
	as := one(t, resp, spid.NSAssertion, "Assertion")
	nb := instant(t, one(t, as, spid.NSAssertion, "Conditions").SelectAttrValue("NotBefore", ""))
	if nb.After(clock) {
		t.Errorf("NotBefore %v after now", nb)
	}

	s.RequestIssueInstant = clock.Add(2 * time.Minute)
	if _, err := b.Success(s); err == nil {
		t.Error("request IssueInstant 2 minutes ahead accepted")
	}
}

func TestSuccessSignatures(t *testing.T) {
	b := newBuilder(t)
	out, err := b.Success(sampleSuccess())
	if err != nil {
		t.Fatal(err)
	}
	resp := parse(t, out)
	checkSignatureShape(t, resp)
	checkSignatureShape(t, one(t, resp, spid.NSAssertion, "Assertion"))

	if _, err := responsetest.Verify(resp, b.Signing.Cert, clock); err != nil {
		t.Errorf("Response signature: %v", err)
	}
	// The Assertion verifies on its own, detached from the Response.
	if _, err := responsetest.Verify(one(t, parse(t, out), spid.NSAssertion, "Assertion"), b.Signing.Cert, clock); err != nil {
		t.Errorf("Assertion signature: %v", err)
	}
	// Only the IdP certificate is trusted.
	other := responsetest.Pair(t, 3072)
	if _, err := responsetest.Verify(parse(t, out), other.Cert, clock); err == nil {
		t.Error("Response verified with a foreign certificate")
	}

	// Tampering with anything signed breaks both signatures.
	for _, tc := range []struct{ from, to string }{
		{"Maria Luisa", "Mario Luigi"},
		{spid.ClassSpidL2, spid.ClassSpidL1},
		{`Recipient="https://sp.example.org/acs`, `Recipient="https://evil.example/acs`},
	} {
		bad := bytes.Replace(out, []byte(tc.from), []byte(tc.to), 1)
		r := parse(t, bad)
		if _, err := responsetest.Verify(r, b.Signing.Cert, clock); err == nil {
			t.Errorf("Response verified after replacing %q", tc.from)
		}
		if _, err := responsetest.Verify(one(t, parse(t, bad), spid.NSAssertion, "Assertion"), b.Signing.Cert, clock); err == nil {
			t.Errorf("Assertion verified after replacing %q", tc.from)
		}
	}
}

// checkSignatureShape asserts C115–C117 on el's signature.
func checkSignatureShape(t *testing.T, el *etree.Element) {
	t.Helper()
	sig := one(t, el, spid.NSDSig, "Signature")
	if el.ChildElements()[1] != sig {
		t.Errorf("%s: Signature is not right after Issuer", el.Tag)
	}
	si := one(t, sig, spid.NSDSig, "SignedInfo")
	wantChildren(t, si, nsDS+"CanonicalizationMethod", nsDS+"SignatureMethod", nsDS+"Reference")
	if v := one(t, si, spid.NSDSig, "CanonicalizationMethod").SelectAttrValue("Algorithm", ""); v != spid.C14NExcl {
		t.Errorf("c14n %q", v)
	}
	if v := one(t, si, spid.NSDSig, "SignatureMethod").SelectAttrValue("Algorithm", ""); v != spid.AlgRSASHA256 {
		t.Errorf("signature method %q", v)
	}
	ref := one(t, si, spid.NSDSig, "Reference")
	if v := ref.SelectAttrValue("URI", ""); v != "#"+el.SelectAttrValue("ID", "") {
		t.Errorf("reference %q for ID %q", v, el.SelectAttrValue("ID", ""))
	}
	var tr []string
	for _, x := range one(t, ref, spid.NSDSig, "Transforms").ChildElements() {
		tr = append(tr, x.SelectAttrValue("Algorithm", ""))
	}
	if strings.Join(tr, " ") != spid.TransformEnveloped+" "+spid.C14NExcl {
		t.Errorf("transforms %q", tr)
	}
	if v := one(t, ref, spid.NSDSig, "DigestMethod").SelectAttrValue("Algorithm", ""); v != spid.DigestSHA256 {
		t.Errorf("digest %q", v)
	}
	x := sig.FindElement("./KeyInfo/X509Data/X509Certificate")
	if x == nil || x.Text() == "" {
		t.Errorf("no X509Certificate")
	}
}

// Our canonical-by-construction signer and the shared etree/goxmldsig signer
// (xmlsig.Sign) must produce the same bytes: RSA PKCS#1 v1.5 is
// deterministic, so equal SignatureValues prove equal canonical forms.
func TestSignatureMatchesXmlsig(t *testing.T) {
	b := newBuilder(t)
	out, err := b.Success(sampleSuccess())
	if err != nil {
		t.Fatal(err)
	}
	resp := parse(t, out)
	as := one(t, resp, spid.NSAssertion, "Assertion")
	ourA := one(t, as, spid.NSDSig, "Signature")
	ourR := one(t, resp, spid.NSDSig, "Signature")
	wantA := one(t, ourA, spid.NSDSig, "SignatureValue").Text()
	wantR := one(t, ourR, spid.NSDSig, "SignatureValue").Text()

	// Re-sign the assertion, then the response, with xmlsig.Sign.
	as.RemoveChild(ourA)
	if err := xmlsig.Sign(as, b.Signing, "Issuer"); err != nil {
		t.Fatal(err)
	}
	gotA := as.FindElement("./Signature/SignatureValue").Text()
	if gotA != wantA {
		t.Errorf("Assertion SignatureValue differs from xmlsig.Sign's:\nours %s\ntheirs %s", wantA, gotA)
	}
	resp.RemoveChild(ourR)
	if err := xmlsig.Sign(resp, b.Signing, "Issuer"); err != nil {
		t.Fatal(err)
	}
	if got := resp.FindElement("./Signature/SignatureValue").Text(); got != wantR {
		t.Errorf("Response SignatureValue differs from xmlsig.Sign's")
	}
}
