package metadata

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

var (
	idpPairsOnce sync.Once
	idpPairs     [2]keys.Pair
)

// testIdPPairs generates two IdP key pairs once per test binary.
func testIdPPairs(t testing.TB) (keys.Pair, keys.Pair) {
	t.Helper()
	idpPairsOnce.Do(func() {
		for i := range idpPairs {
			p, err := keys.Generate(keys.GenerateOptions{
				Bits: 2048, CommonName: "Example IdP", Locality: "Roma",
				OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "Example S.p.A.",
				EntityID: "https://id.example-idp.it", Now: func() time.Time { return testNow },
			})
			if err != nil {
				panic(err)
			}
			idpPairs[i] = p
		}
	})
	return idpPairs[0], idpPairs[1]
}

func testIdPOptions(t testing.TB) IdPOptions {
	cur, _ := testIdPPairs(t)
	return IdPOptions{
		EntityID:       "https://id.example-idp.it",
		SSORedirectURL: "https://id.example-idp.it/sso/redirect",
		SSOPOSTURL:     "https://id.example-idp.it/sso/post",
		SLORedirectURL: "https://id.example-idp.it/slo/redirect",
		SLOPOSTURL:     "https://id.example-idp.it/slo/post",
		Signing:        cur,
		Organization: map[string]Organization{
			"it": {Name: "Example S.p.A.", DisplayName: "Example ID", URL: "https://www.example-idp.it/"},
			"en": {Name: "Example S.p.A.", DisplayName: "Example ID", URL: "https://www.example-idp.it/en/"},
		},
		Contact:       Contact{VATNumber: "IT12345678901", Email: "spid@example-idp.it", Telephone: "+390611111111"},
		ValidFor:      48 * time.Hour,
		CacheDuration: 12 * time.Hour,
		Now:           func() time.Time { return testNow },
	}
}

type wantEl struct {
	ns, tag string
	attrs   map[string]string
	text    string
}

func checkChildren(t *testing.T, parent *etree.Element, want []wantEl) {
	t.Helper()
	got := parent.ChildElements()
	if len(got) != len(want) {
		var tags []string
		for _, g := range got {
			tags = append(tags, g.Tag)
		}
		t.Fatalf("%s has %d children %v, want %d", parent.Tag, len(got), tags, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.NamespaceURI() != w.ns || g.Tag != w.tag {
			t.Errorf("%s child %d = {%s}%s, want {%s}%s", parent.Tag, i, g.NamespaceURI(), g.Tag, w.ns, w.tag)
			continue
		}
		for k, v := range w.attrs {
			if a := g.SelectAttrValue(k, "\x00absent"); a != v {
				t.Errorf("%s child %d (%s) @%s = %q, want %q", parent.Tag, i, g.Tag, k, a, v)
			}
		}
		if w.text != "" && g.Text() != w.text {
			t.Errorf("%s child %d (%s) text %q, want %q", parent.Tag, i, g.Tag, g.Text(), w.text)
		}
	}
}

func TestBuildIdPStructure(t *testing.T) {
	opts := testIdPOptions(t)
	out, err := BuildIdP(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %.60s", out)
	}
	if bytes.Contains(out, []byte("\n  <")) || bytes.Contains(out, []byte("\n\t<")) {
		t.Error("metadata is indented")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if root.NamespaceURI() != spid.NSMetadata || root.Tag != "EntityDescriptor" {
		t.Fatalf("root {%s}%s", root.NamespaceURI(), root.Tag)
	}
	id := root.SelectAttrValue("ID", "")
	if len(id) != 33 || id[0] != '_' {
		t.Errorf("ID %q", id)
	}
	if v := root.SelectAttrValue("entityID", ""); v != opts.EntityID {
		t.Errorf("entityID %q", v)
	}
	if v := root.SelectAttrValue("validUntil", ""); v != "2026-03-03T10:00:00.000Z" {
		t.Errorf("validUntil %q", v)
	}
	if v := root.SelectAttrValue("cacheDuration", ""); v != "PT12H" {
		t.Errorf("cacheDuration %q", v)
	}

	checkChildren(t, root, []wantEl{
		{ns: spid.NSDSig, tag: "Signature"},
		{ns: spid.NSMetadata, tag: "IDPSSODescriptor", attrs: map[string]string{
			"protocolSupportEnumeration": spid.ProtocolSupport, "WantAuthnRequestsSigned": "true"}},
		{ns: spid.NSMetadata, tag: "Organization"},
		{ns: spid.NSMetadata, tag: "ContactPerson", attrs: map[string]string{"contactType": "other"}},
	})

	sig := root.ChildElements()[0]
	ref := sig.FindElement("./SignedInfo/Reference")
	if ref == nil || ref.SelectAttrValue("URI", "") != "#"+id {
		t.Errorf("signature does not reference #%s", id)
	}
	for path, alg := range map[string]string{
		"./SignedInfo/CanonicalizationMethod":    spid.C14NExcl,
		"./SignedInfo/SignatureMethod":           spid.AlgRSASHA256,
		"./SignedInfo/Reference/DigestMethod":    spid.DigestSHA256,
		"./SignedInfo/Reference/Transforms/*[1]": spid.TransformEnveloped,
		"./SignedInfo/Reference/Transforms/*[2]": spid.C14NExcl,
	} {
		if e := sig.FindElement(path); e == nil || e.SelectAttrValue("Algorithm", "") != alg {
			t.Errorf("%s Algorithm, want %s", path, alg)
		}
	}

	sso := root.ChildElements()[1]
	want := []wantEl{
		{ns: spid.NSMetadata, tag: "KeyDescriptor", attrs: map[string]string{"use": "signing"}},
		{ns: spid.NSMetadata, tag: "SingleLogoutService", attrs: map[string]string{"Binding": spid.BindingRedirect, "Location": opts.SLORedirectURL}},
		{ns: spid.NSMetadata, tag: "SingleLogoutService", attrs: map[string]string{"Binding": spid.BindingPOST, "Location": opts.SLOPOSTURL}},
		{ns: spid.NSMetadata, tag: "NameIDFormat", text: spid.NameIDTransient},
		{ns: spid.NSMetadata, tag: "SingleSignOnService", attrs: map[string]string{"Binding": spid.BindingRedirect, "Location": opts.SSORedirectURL}},
		{ns: spid.NSMetadata, tag: "SingleSignOnService", attrs: map[string]string{"Binding": spid.BindingPOST, "Location": opts.SSOPOSTURL}},
	}
	for _, a := range SPIDAttributes {
		want = append(want, wantEl{ns: spid.NSAssertion, tag: "Attribute", attrs: map[string]string{
			"Name": a.Name, "NameFormat": spid.AttrNameBasic, "FriendlyName": a.Italian}})
	}
	checkChildren(t, sso, want)
	if len(SPIDAttributes) != 23 {
		t.Errorf("%d SPID attributes", len(SPIDAttributes))
	}
	for _, a := range sso.SelectElements("Attribute") {
		for _, at := range a.Attr {
			if at.Space == "xsi" || at.Key == "type" {
				t.Errorf("attribute %s carries %s:%s", a.SelectAttrValue("Name", ""), at.Space, at.Key)
			}
		}
	}
	certEl := sso.FindElement("./KeyDescriptor/KeyInfo/X509Data/X509Certificate")
	if certEl == nil || certEl.NamespaceURI() != spid.NSDSig || certEl.Text() != base64.StdEncoding.EncodeToString(opts.Signing.Cert.Raw) {
		t.Error("KeyDescriptor does not carry the signing certificate")
	}

	org := root.ChildElements()[2]
	checkChildren(t, org, []wantEl{
		{ns: spid.NSMetadata, tag: "OrganizationName", attrs: map[string]string{"xml:lang": "it"}, text: "Example S.p.A."},
		{ns: spid.NSMetadata, tag: "OrganizationName", attrs: map[string]string{"xml:lang": "en"}, text: "Example S.p.A."},
		{ns: spid.NSMetadata, tag: "OrganizationDisplayName", attrs: map[string]string{"xml:lang": "it"}, text: "Example ID"},
		{ns: spid.NSMetadata, tag: "OrganizationDisplayName", attrs: map[string]string{"xml:lang": "en"}, text: "Example ID"},
		{ns: spid.NSMetadata, tag: "OrganizationURL", attrs: map[string]string{"xml:lang": "it"}, text: "https://www.example-idp.it/"},
		{ns: spid.NSMetadata, tag: "OrganizationURL", attrs: map[string]string{"xml:lang": "en"}, text: "https://www.example-idp.it/en/"},
	})
	cp := root.ChildElements()[3]
	checkChildren(t, cp, []wantEl{
		{ns: spid.NSMetadata, tag: "Extensions"},
		{ns: spid.NSMetadata, tag: "EmailAddress", text: "spid@example-idp.it"},
		{ns: spid.NSMetadata, tag: "TelephoneNumber", text: "+390611111111"},
	})
	checkChildren(t, cp.ChildElements()[0], []wantEl{
		{ns: spid.NSSPID, tag: "VATNumber", text: "IT12345678901"},
		{ns: spid.NSSPID, tag: "Private"},
	})
}

func TestBuildIdPSignatureVerifiesWithCertOnly(t *testing.T) {
	opts := testIdPOptions(t)
	out, err := BuildIdP(opts)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{opts.Signing.Cert}})
	vc.Clock = dsig.NewFakeClockAt(testNow)
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	// A one-byte change breaks it.
	tampered := bytes.Replace(out, []byte("Example ID"), []byte("Exemple ID"), 1)
	doc2 := etree.NewDocument()
	if err := doc2.ReadFromBytes(tampered); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Validate(doc2.Root()); err == nil {
		t.Fatal("tampered metadata verified")
	}
	// Our own SP-side verifier accepts it too (root ID, RSA, sha256).
	if _, err := verifyEnveloped(doc.Root(), []*x509.Certificate{opts.Signing.Cert}, testNow); err != nil {
		t.Errorf("verifyEnveloped: %v", err)
	}
}

func TestBuildIdPCrewjamUnmarshal(t *testing.T) {
	opts := testIdPOptions(t)
	_, next := testIdPPairs(t)
	opts.NextSigning = &next
	opts.Attributes = []string{"spidCode", "fiscalNumber"}
	out, err := BuildIdP(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(out, &ed); err != nil {
		t.Fatal(err)
	}
	if ed.EntityID != opts.EntityID || len(ed.IDPSSODescriptors) != 1 {
		t.Fatalf("%q %d", ed.EntityID, len(ed.IDPSSODescriptors))
	}
	d := ed.IDPSSODescriptors[0]
	if d.WantAuthnRequestsSigned == nil || !*d.WantAuthnRequestsSigned {
		t.Error("WantAuthnRequestsSigned")
	}
	if len(d.KeyDescriptors) != 2 {
		t.Fatalf("%d KeyDescriptors, want 2 during rollover", len(d.KeyDescriptors))
	}
	if d.KeyDescriptors[1].KeyInfo.X509Data.X509Certificates[0].Data != base64.StdEncoding.EncodeToString(next.Cert.Raw) {
		t.Error("next certificate not published second")
	}
	if len(d.SingleSignOnServices) != 2 || len(d.SingleLogoutServices) != 2 || len(d.Attributes) != 2 {
		t.Errorf("SSO %d SLO %d attrs %d", len(d.SingleSignOnServices), len(d.SingleLogoutServices), len(d.Attributes))
	}
	if ed.ValidUntil.IsZero() || ed.CacheDuration != 12*time.Hour {
		t.Errorf("validUntil %v cacheDuration %v", ed.ValidUntil, ed.CacheDuration)
	}
}

func TestBuildIdPRejectsBadOptions(t *testing.T) {
	for name, mut := range map[string]func(*IdPOptions){
		"no entityID":      func(o *IdPOptions) { o.EntityID = "" },
		"relative SSO":     func(o *IdPOptions) { o.SSOPOSTURL = "/sso" },
		"javascript SLO":   func(o *IdPOptions) { o.SLORedirectURL = "javascript:alert(1)" },
		"no key":           func(o *IdPOptions) { o.Signing = keys.Pair{} },
		"no it org":        func(o *IdPOptions) { delete(o.Organization, "it") },
		"no email":         func(o *IdPOptions) { o.Contact.Email = "" },
		"phone spaces":     func(o *IdPOptions) { o.Contact.Telephone = "+39 06 1111" },
		"unknown attr":     func(o *IdPOptions) { o.Attributes = []string{"nickname"} },
		"duplicate attr":   func(o *IdPOptions) { o.Attributes = []string{"name", "name"} },
		"negative cache":   func(o *IdPOptions) { o.CacheDuration = -time.Second },
		"private, no VAT":  func(o *IdPOptions) { o.Contact.VATNumber = "" },
		"public, no IPA":   func(o *IdPOptions) { o.Contact.Public = true },
		"bad org URL":      func(o *IdPOptions) { o.Organization["en"] = Organization{Name: "x", DisplayName: "x", URL: "ftp://x"} },
		"empty next key":   func(o *IdPOptions) { o.NextSigning = &keys.Pair{} },
		"bad VAT number":   func(o *IdPOptions) { o.Contact.VATNumber = "12345678901" },
		"org without name": func(o *IdPOptions) { o.Organization["it"] = Organization{URL: "https://x.it"} },
	} {
		t.Run(name, func(t *testing.T) {
			o := testIdPOptions(t)
			o.Organization = map[string]Organization{"it": o.Organization["it"], "en": o.Organization["en"]}
			mut(&o)
			if _, err := BuildIdP(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                   "PT0S",
		30 * 24 * time.Hour: "P30D",
		12 * time.Hour:      "PT12H",
		26*time.Hour + 3*time.Minute + 4*time.Second + 500*time.Millisecond: "P1DT2H3M4.5S",
		-time.Minute: "-PT1M",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if !strings.HasSuffix(FormatTime(testNow), ".000Z") {
		t.Error(FormatTime(testNow))
	}
}
