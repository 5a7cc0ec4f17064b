package metadata_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
)

const spID = "https://sp.example.it"

var (
	pairOnce                     sync.Once
	spPair, spPrivPair, evilPair keys.Pair
)

// pairs are generated once: RSA key generation dominates test time.
func pairs(t *testing.T) {
	t.Helper()
	pairOnce.Do(func() {
		gen := func(p keys.Profile, orgID string) keys.Pair {
			k, err := keys.Generate(keys.GenerateOptions{Bits: 2048, Profile: p, CommonName: "SP", Locality: "Roma",
				OrganizationIdentifier: orgID, OrganizationName: "Comune di Prova", EntityID: spID})
			if err != nil {
				panic(err)
			}
			return k
		}
		spPair = gen(keys.ProfileSPPublic, "PA:IT-c_h501")
		spPrivPair = gen(keys.ProfileSPPrivate, "VATIT-12345678901")
		evilPair = gen(keys.ProfileSPPublic, "PA:IT-c_h501")
	})
}

func build(t *testing.T, o metadatatest.Options) []byte {
	t.Helper()
	pairs(t)
	if o.Pair == nil {
		if o.Private {
			o.Pair = &spPrivPair
		} else {
			o.Pair = &spPair
		}
	}
	md, _ := metadatatest.NewSP(t, o)
	return md
}

func find(t *testing.T, root *etree.Element, path string) *etree.Element {
	t.Helper()
	e := root.FindElement(path)
	if e == nil {
		t.Fatalf("no %s", path)
	}
	return e
}

func remove(path string) func(*etree.Element) {
	return func(root *etree.Element) {
		for _, e := range root.FindElements(path) {
			e.Parent().RemoveChild(e)
		}
	}
}

func setAttr(path, key, value string) func(*etree.Element) {
	return func(root *etree.Element) {
		for _, e := range root.FindElements(path) {
			e.CreateAttr(key, value)
		}
	}
}

func TestParseSPValid(t *testing.T) {
	for _, prod := range []bool{false, true} {
		for _, private := range []bool{false, true} {
			md, err := metadata.ParseSPMetadata(build(t, metadatatest.Options{Private: private}), metadata.ParseOptions{Production: prod})
			if err != nil {
				t.Fatalf("production=%v private=%v: %v", prod, private, err)
			}
			sp := md.SP
			if sp.EntityID != spID || len(sp.Certificates) != 1 || md.Public == private {
				t.Fatalf("entity %q certs %d public %v", sp.EntityID, len(sp.Certificates), md.Public)
			}
			def, ok := sp.DefaultACS()
			if !ok || def.Index != 0 || def.Location != spID+"/acs" || def.Binding != spid.BindingPOST {
				t.Errorf("default ACS %+v", def)
			}
			if a, ok := sp.ACSByIndex(1); !ok || a.Location != spID+"/acs/1" || a.IsDefault {
				t.Errorf("ACS 1 %+v", a)
			}
			as, ok := sp.AttributeService(1)
			if !ok || len(as.Attributes) != 3 || as.Attributes[0].Name != "spidCode" || !as.Attributes[0].IsRequired || as.ServiceName["it"] != "Servizio 1" {
				t.Errorf("attribute service 1 %+v", as)
			}
			if len(sp.SLO) != 2 || sp.SLO[0].Binding != spid.BindingRedirect || sp.SLO[1].Location != spID+"/slo/post" {
				t.Errorf("SLO %+v", sp.SLO)
			}
			if sp.DisplayName["it"] != "Servizio di prova" || md.OrganizationName["it"] == "" {
				t.Errorf("display %v org %v", sp.DisplayName, md.OrganizationName)
			}
			if len(md.Warnings) != 0 {
				t.Errorf("warnings %v", md.Warnings)
			}
		}
	}
}

// sha1Cert re-issues p's certificate with a SHA-1 signature, which Go
// refuses to create: the algorithm OIDs have the same length, so swap them
// and sign the new TBS by hand.
func sha1Cert(t *testing.T, p keys.Pair) *x509.Certificate {
	t.Helper()
	sha256OID := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}
	sha1OID := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05}
	var outer struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(p.Cert.Raw, &outer); err != nil {
		t.Fatal(err)
	}
	tbs := bytes.Replace(outer.TBS.FullBytes, sha256OID, sha1OID, 1)
	h := sha1.Sum(tbs)
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.Key.(*rsa.PrivateKey), crypto.SHA1, h[:])
	if err != nil {
		t.Fatal(err)
	}
	outer.TBS = asn1.RawValue{FullBytes: tbs}
	outer.Alg.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	outer.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	der, err := asn1.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func smallKeyPair(t *testing.T) keys.Pair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "small"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return keys.Pair{Key: k, Cert: c}
}

// withCert publishes c as the signing certificate and signs with its key.
func withCert(o *metadatatest.Options, p keys.Pair) {
	o.Mutate = func(root *etree.Element) {
		root.FindElement("./md:SPSSODescriptor/md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(p.Cert.Raw))
	}
	o.SignWith = &p
}

func TestParseSPRejects(t *testing.T) {
	pairs(t)
	type tc struct {
		name  string
		opts  func(t *testing.T, o *metadatatest.Options)
		prod  bool
		now   time.Time
		check string
	}
	long := "https://sp.example.it/" + strings.Repeat("a", 1010)
	cases := []tc{
		{name: "unsigned", opts: func(t *testing.T, o *metadatatest.Options) { o.Unsigned = true }, check: metadata.CheckSignature},
		{name: "signed by another key (KeyInfo injection)", opts: func(t *testing.T, o *metadatatest.Options) { o.SignWith = &evilPair }, check: metadata.CheckSignature},
		{name: "C018 AuthnRequestsSigned false", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor", "AuthnRequestsSigned", "false")
		}, check: metadata.CheckAuthnRequestsSigned},
		{name: "protocol support", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor", "protocolSupportEnumeration", "urn:oasis:names:tc:SAML:1.1:protocol")
		}, check: metadata.CheckProtocolSupport},
		{name: "C019 no signing certificate", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = remove("./md:SPSSODescriptor/md:KeyDescriptor")
		}, check: metadata.CheckSigningKey},
		{name: "empty certificate", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) {
				r.FindElement("./md:SPSSODescriptor/md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate").SetText("")
			}
		}, check: metadata.CheckSigningKey},
		{name: "C020 expired certificate", now: time.Now().Add(2 * 365 * 24 * time.Hour), check: metadata.CheckCertificate},
		{name: "C020 SHA-1 certificate", opts: func(t *testing.T, o *metadatatest.Options) {
			withCert(o, keys.Pair{Key: spPair.Key, Cert: sha1Cert(t, spPair)})
		}, check: metadata.CheckCertificate},
		{name: "1024-bit key", opts: func(t *testing.T, o *metadatatest.Options) { withCert(o, smallKeyPair(t)) }, check: metadata.CheckCertificate},
		{name: "production: IdP-profile certificate on an SP", opts: func(t *testing.T, o *metadatatest.Options) {
			p, err := keys.Generate(keys.GenerateOptions{Bits: 2048, CommonName: "SP", Locality: "Roma",
				OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "Comune di Prova", EntityID: spID})
			if err != nil {
				t.Fatal(err)
			}
			withCert(o, p)
		}, prod: true, check: metadata.CheckCertificate},
		{name: "production: certificate uri is another entity", opts: func(t *testing.T, o *metadatatest.Options) {
			p, err := keys.Generate(keys.GenerateOptions{Bits: 2048, Profile: keys.ProfileSPPublic, CommonName: "SP", Locality: "Roma",
				OrganizationIdentifier: "PA:IT-c_h501", OrganizationName: "Comune di Prova", EntityID: "https://other.example.it"})
			if err != nil {
				t.Fatal(err)
			}
			withCert(o, p)
		}, prod: true, check: metadata.CheckCertificate},
		{name: "NameIDFormat persistent", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) {
				find(t, r, "./md:SPSSODescriptor/md:NameIDFormat").SetText("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
			}
		}, check: metadata.CheckNameIDFormat},
		{name: "C023 no SLO", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = remove("./md:SPSSODescriptor/md:SingleLogoutService")
		}, check: metadata.CheckSLO},
		{name: "SLO bad binding", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:SingleLogoutService", "Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact")
		}, check: metadata.CheckSLO},
		{name: "SLO javascript", opts: func(t *testing.T, o *metadatatest.Options) { o.SLOPOST = "javascript:alert(1)" }, check: metadata.CheckSLO},
		{name: "S054 ACS javascript", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "Location", "javascript:alert(1)")
		}, check: metadata.CheckACS},
		{name: "S054 ACS http in production", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "Location", "http://sp.example.it/acs")
		}, prod: true, check: metadata.CheckACS},
		{name: "ACS with port in production", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='0']", "Location", "https://sp.example.it:8443/acs")
		}, prod: true, check: metadata.CheckACS},
		{name: "ACS userinfo", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='0']", "Location", "https://evil@sp.example.it/acs")
		}, check: metadata.CheckACS},
		{name: "default ACS with the Redirect binding", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='0']", "Binding", spid.BindingRedirect)
		}, check: metadata.CheckACS},
		{name: "ACS with an unknown binding", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "Binding", "urn:oasis:names:tc:SAML:2.0:bindings:PAOS")
		}, check: metadata.CheckACS},
		{name: "ACS bad index", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "index", "70000")
		}, check: metadata.CheckACS},
		{name: "ACS duplicate index", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "index", "0")
		}, check: metadata.CheckACS},
		{name: "no ACS", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = remove("./md:SPSSODescriptor/md:AssertionConsumerService")
		}, check: metadata.CheckACS},
		{name: "C021 two defaults", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "isDefault", "true")
		}, check: metadata.CheckACSDefault},
		{name: "C021 no default", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='0']", "isDefault", "false")
		}, check: metadata.CheckACSDefault},
		{name: "C021 default not index 0", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) {
				setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='0']", "isDefault", "false")(r)
				setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "isDefault", "true")(r)
			}
		}, check: metadata.CheckACSDefault},
		{name: "C022 unknown attribute", opts: func(t *testing.T, o *metadatatest.Options) {
			o.AttributeSets = [][]string{{"name", "nickname"}}
		}, check: metadata.CheckAttributeService},
		{name: "C022 duplicate attribute", opts: func(t *testing.T, o *metadatatest.Options) {
			o.AttributeSets = [][]string{{"name", "email", "name"}}
		}, check: metadata.CheckAttributeService},
		{name: "no requested attribute", opts: func(t *testing.T, o *metadatatest.Options) { o.AttributeSets = [][]string{{}} }, check: metadata.CheckAttributeService},
		{name: "no attribute service", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = remove("./md:SPSSODescriptor/md:AttributeConsumingService")
		}, check: metadata.CheckAttributeService},
		{name: "ServiceName without lang", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) {
				for _, e := range r.FindElements("./md:SPSSODescriptor/md:AttributeConsumingService/md:ServiceName") {
					e.RemoveAttr("xml:lang")
				}
			}
		}, check: metadata.CheckAttributeService},
		{name: "C024 no Italian display name", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = remove("./md:Organization/md:OrganizationDisplayName[@xml:lang='it']")
		}, check: metadata.CheckOrganization},
		{name: "no Organization", opts: func(t *testing.T, o *metadatatest.Options) { o.Mutate = remove("./md:Organization") }, check: metadata.CheckOrganization},
		{name: "C025 entityID too long", opts: func(t *testing.T, o *metadatatest.Options) { o.EntityID = long; o.BaseURL = spID }, check: metadata.CheckEntityID},
		{name: "production entityID http", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr(".", "entityID", "http://sp.example.it")
		}, prod: true, check: metadata.CheckEntityID},
		{name: "production entityID port", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr(".", "entityID", "https://sp.example.it:8443")
		}, prod: true, check: metadata.CheckEntityID},
		{name: "entityID empty", opts: func(t *testing.T, o *metadatatest.Options) { o.Mutate = setAttr(".", "entityID", "") }, check: metadata.CheckEntityID},
		{name: "no contact", opts: func(t *testing.T, o *metadatatest.Options) { o.Mutate = remove("./md:ContactPerson") }, check: metadata.CheckContact},
		{name: "public without IPACode", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = remove("./md:ContactPerson/md:Extensions/spid:IPACode")
		}, check: metadata.CheckContact},
		{name: "both Public and Private", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) { find(t, r, "./md:ContactPerson/md:Extensions").CreateElement("spid:Private") }
		}, check: metadata.CheckContact},
		{name: "no e-mail", opts: func(t *testing.T, o *metadatatest.Options) { o.Mutate = remove("./md:ContactPerson/md:EmailAddress") }, check: metadata.CheckContact},
		{name: "telephone with spaces", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) { find(t, r, "./md:ContactPerson/md:TelephoneNumber").SetText("+39 06 1234") }
		}, check: metadata.CheckContact},
		{name: "production private without billing", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Private = true
			o.Mutate = remove("./md:ContactPerson[@contactType='billing']")
		}, prod: true, check: metadata.CheckBilling},
		{name: "validUntil past", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = setAttr(".", "validUntil", "2020-01-01T00:00:00Z")
		}, check: metadata.CheckValidUntil},
		{name: "IdP descriptor too", opts: func(t *testing.T, o *metadatatest.Options) {
			o.Mutate = func(r *etree.Element) { r.InsertChildAt(0, etree.NewElement("md:IDPSSODescriptor")) }
		}, check: metadata.CheckSPSSODescriptor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o metadatatest.Options
			if c.opts != nil {
				c.opts(t, &o)
			}
			data := build(t, o)
			po := metadata.ParseOptions{Production: c.prod}
			if !c.now.IsZero() {
				po.Now = func() time.Time { return c.now }
			}
			_, err := metadata.ParseSP(data, po)
			var ve *metadata.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want *ValidationError", err)
			}
			if !ve.Has(c.check) {
				t.Fatalf("failures do not include %s:\n%v", c.check, err)
			}
		})
	}
}

func TestParseSPRejectsMalformed(t *testing.T) {
	valid := build(t, metadatatest.Options{})
	body := bytes.TrimPrefix(valid, []byte(`<?xml version="1.0" encoding="UTF-8"?>`))
	cases := map[string]struct {
		data  []byte
		check string
	}{
		"not XML":       {[]byte("hello"), metadata.CheckXML},
		"empty":         {nil, metadata.CheckXML},
		"DOCTYPE":       {append([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]>`), body...), metadata.CheckXML},
		"XXE":           {append([]byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`), body...), metadata.CheckXML},
		"two roots":     {append(append([]byte{}, body...), body...), metadata.CheckXML},
		"wrong root":    {[]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>`), metadata.CheckRoot},
		"wrong ns root": {[]byte(`<EntityDescriptor xmlns="urn:example" entityID="x"/>`), metadata.CheckRoot},
		"too big":       {append(append([]byte{}, body[:len(body)-len("</md:EntityDescriptor>")]...), append(bytes.Repeat([]byte("<!-- x -->"), metadata.MaxMetadataSize/10), []byte("</md:EntityDescriptor>")...)...), metadata.CheckSize},
		"tampered":      {bytes.Replace(valid, []byte("Servizio di prova"), []byte("Servizio di pr0va"), 1), metadata.CheckSignature},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := metadata.ParseSP(c.data, metadata.ParseOptions{})
			var ve *metadata.ValidationError
			if !errors.As(err, &ve) || !ve.Has(c.check) {
				t.Fatalf("want %s failure, got %v", c.check, err)
			}
		})
	}
}

// TestParseSPWrapping moves the signed content around the way XSW attacks do.
func TestParseSPWrapping(t *testing.T) {
	valid := build(t, metadatatest.Options{})
	load := func() *etree.Document {
		d := etree.NewDocument()
		if err := d.ReadFromBytes(valid); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := map[string]func(d *etree.Document){
		// A second copy of the signature inside the SP descriptor.
		"second signature": func(d *etree.Document) {
			sig := d.Root().ChildElements()[0].Copy()
			d.Root().FindElement("./md:SPSSODescriptor").InsertChildAt(0, sig)
		},
		// XSW1 shape: an evil root whose signature contains the original.
		"original inside signature": func(d *etree.Document) {
			orig := d.Root().Copy()
			d.Root().CreateAttr("entityID", "https://evil.example")
			d.Root().CreateAttr("ID", "_evil")
			d.Root().ChildElements()[0].AddChild(orig)
		},
		// Signature moved after the descriptor.
		"signature not first": func(d *etree.Document) {
			sig := d.Root().ChildElements()[0]
			d.Root().RemoveChild(sig)
			d.Root().AddChild(sig)
		},
		// Changed entityID keeps the signature bytes.
		"entityID changed": func(d *etree.Document) { d.Root().CreateAttr("entityID", "https://evil.example") },
		// ACS added after signing.
		"ACS added": func(d *etree.Document) {
			acs := d.Root().FindElement("./md:SPSSODescriptor/md:AssertionConsumerService").Copy()
			acs.CreateAttr("index", "5")
			acs.CreateAttr("Location", "https://evil.example/acs")
			d.Root().FindElement("./md:SPSSODescriptor").AddChild(acs)
		},
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			d := load()
			mut(d)
			data, err := d.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			_, err = metadata.ParseSP(data, metadata.ParseOptions{})
			var ve *metadata.ValidationError
			if !errors.As(err, &ve) || !ve.Has(metadata.CheckSignature) {
				t.Fatalf("accepted or wrong failure: %v", err)
			}
		})
	}
}

func TestParseSPListsEveryFailure(t *testing.T) {
	data := build(t, metadatatest.Options{
		AttributeSets: [][]string{{"nickname"}},
		Mutate: func(r *etree.Element) {
			setAttr("./md:SPSSODescriptor", "AuthnRequestsSigned", "false")(r)
			remove("./md:SPSSODescriptor/md:SingleLogoutService")(r)
			remove("./md:Organization")(r)
		},
	})
	_, err := metadata.ParseSP(data, metadata.ParseOptions{})
	var ve *metadata.ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	for _, c := range []string{metadata.CheckAuthnRequestsSigned, metadata.CheckSLO, metadata.CheckOrganization, metadata.CheckAttributeService} {
		if !ve.Has(c) {
			t.Errorf("missing %s", c)
		}
	}
	msg := err.Error()
	if lines := strings.Count(msg, "\n"); lines != len(ve.Failures) {
		t.Errorf("%d lines for %d failures:\n%s", lines, len(ve.Failures), msg)
	}
	if !strings.Contains(msg, spID) || !strings.Contains(msg, "\n  slo: no SingleLogoutService") {
		t.Errorf("message:\n%s", msg)
	}
}

func TestParseSPWarnings(t *testing.T) {
	data := build(t, metadatatest.Options{Private: true, Mutate: func(r *etree.Element) {
		r.FindElement("./md:SPSSODescriptor").RemoveAttr("WantAssertionsSigned")
		remove("./md:ContactPerson[@contactType='billing']")(r)
		setAttr("./md:SPSSODescriptor/md:AttributeConsumingService/md:RequestedAttribute[@Name='email']", "NameFormat",
			"urn:oasis:names:tc:SAML:2.0:attrname-format:uri")(r)
	}})
	md, err := metadata.ParseSPMetadata(data, metadata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(md.Warnings, "\n")
	for _, w := range []string{metadata.CheckWantAssertionsSigned, metadata.CheckBilling, metadata.CheckAttributeNameFormat} {
		if !strings.Contains(got, w+": ") {
			t.Errorf("no %s warning in:\n%s", w, got)
		}
	}
}

// TestParseSPKeepsRedirectACS: AgID's IdP test tool publishes an extra ACS
// with the HTTP-Redirect binding at index 1; the SP is accepted with a
// warning and the entry kept with its binding (a request naming it gets
// nr16 from the request checker).
func TestParseSPKeepsRedirectACS(t *testing.T) {
	data := build(t, metadatatest.Options{Mutate: setAttr("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']", "Binding", spid.BindingRedirect)})
	md, err := metadata.ParseSPMetadata(data, metadata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep, ok := md.SP.ACSByIndex(1); !ok || ep.Binding != spid.BindingRedirect {
		t.Errorf("ACS 1 = %+v %v, want kept with HTTP-Redirect", ep, ok)
	}
	if ep, ok := md.SP.DefaultACS(); !ok || ep.Binding != spid.BindingPOST {
		t.Errorf("default ACS = %+v", ep)
	}
	if got := strings.Join(md.Warnings, "\n"); !strings.Contains(got, metadata.CheckACS+": AssertionConsumerService 1: Binding HTTP-Redirect") {
		t.Errorf("warnings %q", got)
	}
}

func TestParseSPKeyRollover(t *testing.T) {
	pairs(t)
	// Two signing certificates; the document is signed with the second.
	data := build(t, metadatatest.Options{
		Mutate: func(r *etree.Element) {
			kd := r.FindElement("./md:SPSSODescriptor/md:KeyDescriptor").Copy()
			kd.FindElement("./ds:KeyInfo/ds:X509Data/ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(evilPair.Cert.Raw))
			sso := r.FindElement("./md:SPSSODescriptor")
			sso.InsertChildAt(1, kd)
		},
		SignWith: &evilPair,
	})
	sp, err := metadata.ParseSP(data, metadata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Certificates) != 2 {
		t.Errorf("%d certificates", len(sp.Certificates))
	}
}

func FuzzParseSP(f *testing.F) {
	md, _, err := metadatatest.Build(metadatatest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(md)
	f.Add([]byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://x" ID="_a"/>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	f.Add([]byte(`<a xmlns:b="x" b:c="d"></a>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sp, err := metadata.ParseSP(data, metadata.ParseOptions{})
		if err == nil && sp == nil {
			t.Fatal("nil SP without error")
		}
		if err != nil {
			var ve *metadata.ValidationError
			if !errors.As(err, &ve) || len(ve.Failures) == 0 {
				t.Fatalf("error of type %T without failures: %v", err, err)
			}
		}
	})
}

func BenchmarkParseSP(b *testing.B) {
	md, _, err := metadatatest.Build(metadatatest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		if _, err := metadata.ParseSP(md, metadata.ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Metadata written with the default namespace instead of the md: prefix is
// the same document to a namespace-aware reader.
func TestParseSPDefaultNamespace(t *testing.T) {
	data := build(t, metadatatest.Options{Mutate: func(r *etree.Element) {
		var walk func(e *etree.Element)
		walk = func(e *etree.Element) {
			if e.Space == "md" {
				e.Space = ""
			}
			for _, c := range e.ChildElements() {
				walk(c)
			}
		}
		walk(r)
		r.RemoveAttr("xmlns:md")
		r.CreateAttr("xmlns", spid.NSMetadata)
	}})
	if !bytes.Contains(data, []byte(`<EntityDescriptor xmlns="`+spid.NSMetadata)) && !bytes.Contains(data, []byte(`xmlns="`+spid.NSMetadata+`"`)) {
		t.Fatalf("mutation did not apply: %.200s", data)
	}
	if _, err := metadata.ParseSP(data, metadata.ParseOptions{Production: true}); err != nil {
		t.Fatal(err)
	}
	// Same local names in a foreign namespace are not metadata.
	bad := bytes.ReplaceAll(data, []byte(spid.NSMetadata), []byte("urn:example:not-metadata"))
	_, err := metadata.ParseSP(bad, metadata.ParseOptions{})
	var ve *metadata.ValidationError
	if !errors.As(err, &ve) || !ve.Has(metadata.CheckRoot) {
		t.Fatalf("foreign namespace: %v", err)
	}
}
