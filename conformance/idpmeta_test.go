package conformance

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/beevik/etree"
)

type mdSpec struct {
	mutate   func(ed *etree.Element)
	alg      string
	signWith *signer
	noSign   bool
}

// buildIdPMetadata hand-builds IdP metadata shaped like spec §1.7.
func buildIdPMetadata(t testing.TB, base string, s mdSpec) []byte {
	t.Helper()
	key, _ := testSigners(t)
	sigKey := key
	if s.signWith != nil {
		sigKey = *s.signWith
	}
	if s.alg == "" {
		s.alg = algRSASHA256
	}
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMD)
	ed.CreateAttr("xmlns:ds", nsDS)
	ed.CreateAttr("xmlns:saml", nsSAML)
	ed.CreateAttr("entityID", base)
	ed.CreateAttr("ID", "_md-1")
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("protocolSupportEnumeration", protocolSAML2)
	idp.CreateAttr("WantAuthnRequestsSigned", "true")
	kd := idp.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(key.Cert.Raw))
	for _, e := range [][3]string{{"SingleLogoutService", bindingRedirect, "/slo/redirect"}, {"SingleLogoutService", bindingPOST, "/slo/post"}} {
		el := idp.CreateElement("md:" + e[0])
		el.CreateAttr("Binding", e[1])
		el.CreateAttr("Location", base+e[2])
	}
	idp.CreateElement("md:NameIDFormat").SetText(fmtTransient)
	for _, e := range [][3]string{{"SingleSignOnService", bindingRedirect, "/sso/redirect"}, {"SingleSignOnService", bindingPOST, "/sso/post"}} {
		el := idp.CreateElement("md:" + e[0])
		el.CreateAttr("Binding", e[1])
		el.CreateAttr("Location", base+e[2])
	}
	for _, n := range []string{"spidCode", "name", "familyName", "fiscalNumber", "email", "dateOfBirth"} {
		a := idp.CreateElement("saml:Attribute")
		a.CreateAttr("Name", n)
		a.CreateAttr("NameFormat", attrBasic)
	}
	org := ed.CreateElement("md:Organization")
	for _, n := range [][2]string{{"OrganizationName", "Esempio IdP S.p.A."}, {"OrganizationDisplayName", "Esempio IdP"}, {"OrganizationURL", base + "/"}} {
		el := org.CreateElement("md:" + n[0])
		el.CreateAttr("xml:lang", "it")
		el.SetText(n[1])
	}
	if s.mutate != nil {
		s.mutate(ed)
	}
	if !s.noSign {
		if err := signEnveloped(ed, sigKey, s.alg, ""); err != nil {
			t.Fatal(err)
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(ed)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func removeChildren(path string) func(*etree.Element) {
	return func(ed *etree.Element) {
		for _, e := range ed.FindElements(path) {
			e.Parent().RemoveChild(e)
		}
	}
}

func TestValidateIdPMetadata(t *testing.T) {
	now := time.Now()
	md, v := ValidateIdPMetadata(buildIdPMetadata(t, tIdP, mdSpec{}), now, true, false)
	if st, msg := v.Summary(); st == Fail {
		t.Fatalf("correct metadata failed: %s", msg)
	}
	if md.EntityID != tIdP || len(md.Certs) != 1 || md.SSO[bindingPOST] != tIdP+"/sso/post" || md.SLO[bindingRedirect].Location != tIdP+"/slo/redirect" {
		t.Fatalf("extracted metadata wrong: %+v", md)
	}
	// Test keys do not follow the production certificate profile.
	if r, _ := v.Result("md.cert.ext"); r.Status != Warn {
		t.Errorf("md.cert.ext = %s, want warn outside the production profile", r.Status)
	}
	if _, v := ValidateIdPMetadata(buildIdPMetadata(t, tIdP, mdSpec{}), now, true, true); !v.Failed() {
		t.Error("production profile did not fail a test certificate")
	}

	_, other := testSigners(t)
	cases := []struct {
		name  string
		spec  mdSpec
		base  string
		check string
	}{
		{"unsigned", mdSpec{noSign: true}, "", "md.signature"},
		{"signed by another key", mdSpec{signWith: &other}, "", "md.signature"},
		{"SHA-1 signature", mdSpec{alg: algRSASHA1}, "", "md.sigalg"},
		{"tampered", mdSpec{}, "tamper", "md.signature"},
		{"http entityID", mdSpec{}, "http://idp.example.test", "md.entityid"},
		{"no SLO", mdSpec{mutate: removeChildren("IDPSSODescriptor/SingleLogoutService")}, "", "md.slo"},
		{"SLO Redirect only", mdSpec{mutate: removeChildren("IDPSSODescriptor/SingleLogoutService[@Binding='" + bindingPOST + "']")}, "", "md.slo"},
		{"SSO POST missing", mdSpec{mutate: removeChildren("IDPSSODescriptor/SingleSignOnService[@Binding='" + bindingPOST + "']")}, "", "md.sso"},
		{"SSO with SOAP", mdSpec{mutate: func(ed *etree.Element) {
			s := ed.FindElement("IDPSSODescriptor").CreateElement("md:SingleSignOnService")
			s.CreateAttr("Binding", bindingSOAP)
			s.CreateAttr("Location", tIdP+"/soap")
		}}, "", "md.sso"},
		{"no NameIDFormat", mdSpec{mutate: removeChildren("IDPSSODescriptor/NameIDFormat")}, "", "md.nameidformat"},
		{"persistent NameIDFormat", mdSpec{mutate: func(ed *etree.Element) { ed.FindElement("IDPSSODescriptor/NameIDFormat").SetText(fmtPersistent) }}, "", "md.nameidformat"},
		{"WantAuthnRequestsSigned false", mdSpec{mutate: func(ed *etree.Element) {
			ed.FindElement("IDPSSODescriptor").CreateAttr("WantAuthnRequestsSigned", "false")
		}}, "", "md.wantsigned"},
		{"no signing key", mdSpec{mutate: removeChildren("IDPSSODescriptor/KeyDescriptor")}, "", "md.signingkey"},
		{"unknown attribute", mdSpec{mutate: func(ed *etree.Element) {
			ed.FindElement("IDPSSODescriptor").CreateElement("saml:Attribute").CreateAttr("Name", "qualification")
		}}, "", "md.attributes"},
		{"Organization without it", mdSpec{mutate: func(ed *etree.Element) {
			for _, e := range ed.FindElements("Organization/*") {
				e.CreateAttr("xml:lang", "en")
			}
		}}, "", "md.organization"},
		{"no IDPSSODescriptor", mdSpec{mutate: removeChildren("IDPSSODescriptor")}, "", "md.idpsso"},
		{"Organization before IDPSSODescriptor", mdSpec{mutate: func(ed *etree.Element) {
			org := ed.SelectElement("Organization")
			ed.RemoveChild(org)
			ed.InsertChildAt(0, org)
		}}, "", "md.structure"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := tIdP
			if c.base != "" && c.base != "tamper" {
				base = c.base
			}
			raw := buildIdPMetadata(t, base, c.spec)
			if c.base == "tamper" {
				raw = []byte(string(raw[:len(raw)-len("</md:EntityDescriptor>")]) + "<md:ContactPerson contactType=\"other\"/></md:EntityDescriptor>")
			}
			_, v := ValidateIdPMetadata(raw, now, true, false)
			if r, ok := v.Result(c.check); !ok || r.Status != Fail {
				t.Fatalf("check %s did not fail; failures %v", c.check, v.Failures())
			}
		})
	}
}

func FuzzValidateIdPMetadata(f *testing.F) {
	f.Add(string(buildIdPMetadata(f, tIdP, mdSpec{})))
	f.Add(`<md:EntityDescriptor xmlns:md="` + nsMD + `"/>`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ValidateIdPMetadata([]byte(s), time.Now(), false, false)
	})
}
