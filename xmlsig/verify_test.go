package xmlsig

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/keys"
)

var (
	pairsOnce sync.Once
	spPair    keys.Pair // the trusted SP
	evilPair  keys.Pair // an attacker
	smallPair keys.Pair // RSA-1024, below the floor
	oldPair   keys.Pair // expired certificate
)

func newPair(t testing.TB, bits int, notBefore, notAfter time.Time) keys.Pair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "test sp"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return keys.Pair{Key: k, Cert: c}
}

func testPairs(t testing.TB) {
	pairsOnce.Do(func() {
		now := time.Now()
		spPair = newPair(t, 2048, now.Add(-time.Hour), now.Add(24*time.Hour))
		evilPair = newPair(t, 2048, now.Add(-time.Hour), now.Add(24*time.Hour))
		smallPair = newPair(t, 1024, now.Add(-time.Hour), now.Add(24*time.Hour))
		oldPair = newPair(t, 2048, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	})
}

const requestXML = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_req1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example.it" AssertionConsumerServiceIndex="0"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="https://sp.example.it">https://sp.example.it</saml:Issuer><samlp:Extensions><x:Ext xmlns:x="urn:x">1</x:Ext></samlp:Extensions><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/><samlp:RequestedAuthnContext Comparison="exact"><saml:AuthnContextClassRef>https://www.spid.gov.it/SpidL2</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>`

// signed returns a fresh tree of requestXML signed with pair, re-parsed from
// its serialisation as a receiver would see it.
func signed(t testing.TB, pair keys.Pair) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(requestXML); err != nil {
		t.Fatal(err)
	}
	if err := Sign(doc.Root(), pair, "Issuer"); err != nil {
		t.Fatal(err)
	}
	return reparse(t, doc.Root())
}

func reparse(t testing.TB, el *etree.Element) *etree.Element {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	s, err := d.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	d2 := etree.NewDocument()
	if err := d2.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return d2.Root()
}

// signWith signs with explicit algorithms (for the SHA-1 cases).
func signWith(t testing.TB, pair keys.Pair, method string, digest crypto.Hash) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(requestXML); err != nil {
		t.Fatal(err)
	}
	ctx, err := dsig.NewSigningContext(pair.Key, [][]byte{pair.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		t.Fatal(err)
	}
	ctx.Hash = digest
	sig, err := ctx.ConstructSignature(doc.Root(), true)
	if err != nil {
		t.Fatal(err)
	}
	doc.Root().InsertChildAt(1, sig)
	return reparse(t, doc.Root())
}

func sigOf(root *etree.Element) *etree.Element {
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" {
			return c
		}
	}
	return nil
}

func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

func TestVerifyAccepts(t *testing.T) {
	testPairs(t)
	cases := map[string]struct {
		root  func(t *testing.T) *etree.Element
		certs func() []*x509.Certificate
	}{
		"signed with KeyInfo": {
			root:  func(t *testing.T) *etree.Element { return signed(t, spPair) },
			certs: func() []*x509.Certificate { return []*x509.Certificate{spPair.Cert} },
		},
		"signed without KeyInfo": {
			root: func(t *testing.T) *etree.Element {
				r := signed(t, spPair)
				s := sigOf(r)
				s.RemoveChild(child(s, "KeyInfo"))
				return r
			},
			certs: func() []*x509.Certificate { return []*x509.Certificate{spPair.Cert} },
		},
		"second of two trusted certificates, no KeyInfo": {
			root: func(t *testing.T) *etree.Element {
				r := signed(t, spPair)
				s := sigOf(r)
				s.RemoveChild(child(s, "KeyInfo"))
				return r
			},
			certs: func() []*x509.Certificate { return []*x509.Certificate{evilPair.Cert, spPair.Cert} },
		},
		"rsa-sha512 with sha512 digest": {
			root: func(t *testing.T) *etree.Element {
				return signWith(t, spPair, dsig.RSASHA512SignatureMethod, crypto.SHA512)
			},
			certs: func() []*x509.Certificate { return []*x509.Certificate{spPair.Cert} },
		},
		"rsa-sha384 with sha384 digest": {
			root: func(t *testing.T) *etree.Element {
				return signWith(t, spPair, dsig.RSASHA384SignatureMethod, crypto.SHA384)
			},
			certs: func() []*x509.Certificate { return []*x509.Certificate{spPair.Cert} },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Verify(tc.root(t), tc.certs()); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestVerifyRejects covers security.md A.1, A.5–A.7, A.13 and S001–S016,
// S026–S029.
func TestVerifyRejects(t *testing.T) {
	testPairs(t)
	trusted := []*x509.Certificate{spPair.Cert}

	// evil returns a modified copy of the signed request with a new ID and a
	// different level, without its signature.
	evil := func(orig *etree.Element) *etree.Element {
		e := orig.Copy()
		e.RemoveChild(sigOf(e))
		e.CreateAttr("ID", "_evil")
		rac := child(e, "RequestedAuthnContext")
		child(rac, "AuthnContextClassRef").SetText("https://www.spid.gov.it/SpidL1")
		return e
	}
	noSig := func(el *etree.Element) *etree.Element {
		c := el.Copy()
		if s := sigOf(c); s != nil {
			c.RemoveChild(s)
		}
		return c
	}

	cases := map[string]struct {
		mutate func(t *testing.T) *etree.Element
		certs  []*x509.Certificate
	}{
		"unsigned": {mutate: func(t *testing.T) *etree.Element { return noSig(signed(t, spPair)) }},
		"tampered content (digest mismatch)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			r.CreateAttr("Destination", "https://other.example.it")
			return r
		}},
		"tampered SignedInfo": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			dv := sigOf(r).FindElement(".//DigestValue")
			dv.SetText("AAAA" + dv.Text()[4:])
			return r
		}},
		"signed by another key, its cert in KeyInfo (S026)": {mutate: func(t *testing.T) *etree.Element {
			return signed(t, evilPair)
		}},
		"signed by another key, no KeyInfo (S029)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, evilPair)
			s := sigOf(r)
			s.RemoveChild(child(s, "KeyInfo"))
			return r
		}},
		"trusted cert in KeyInfo but signed by another key": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, evilPair)
			child(child(child(sigOf(r), "KeyInfo"), "X509Data"), "X509Certificate").
				SetText(b64(spPair.Cert.Raw))
			return r
		}},
		"KeyInfo RetrievalMethod (S028)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			rm := child(sigOf(r), "KeyInfo").CreateElement("ds:RetrievalMethod")
			rm.CreateAttr("URI", "http://127.0.0.1:1/key")
			return r
		}},
		"expired certificate (C046)": {
			mutate: func(t *testing.T) *etree.Element { return signed(t, oldPair) },
			certs:  []*x509.Certificate{oldPair.Cert},
		},
		"RSA-1024 key": {
			mutate: func(t *testing.T) *etree.Element { return signed(t, smallPair) },
			certs:  []*x509.Certificate{smallPair.Cert},
		},
		"no trusted certificates": {
			mutate: func(t *testing.T) *etree.Element { return signed(t, spPair) },
			certs:  []*x509.Certificate{},
		},
		"rsa-sha1 with sha1 digest (C042)": {mutate: func(t *testing.T) *etree.Element {
			return signWith(t, spPair, dsig.RSASHA1SignatureMethod, crypto.SHA1)
		}},
		"rsa-sha256 with sha1 digest (S013)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			sigOf(r).FindElement(".//DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
			return r
		}},
		"XSW1: evil root, original inside ds:Signature (S001)": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			s := sigOf(orig).Copy()
			s.AddChild(noSig(orig))
			e.InsertChildAt(1, s)
			return reparse(t, e)
		}},
		"XSW2: evil root, original as sibling before the signature (S002)": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			e.InsertChildAt(1, noSig(orig))
			e.InsertChildAt(2, sigOf(orig).Copy())
			return reparse(t, e)
		}},
		"XSW3: original copied before, signature kept on evil root with original ID": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			e.CreateAttr("ID", "_req1")
			e.InsertChildAt(0, noSig(orig))
			e.InsertChildAt(2, sigOf(orig).Copy())
			return reparse(t, e)
		}},
		"XSW4: evil root wrapping the signed original (S005)": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			e.AddChild(orig.Copy())
			return reparse(t, e)
		}},
		"XSW5: modified root keeps ID and signature, original appended": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			e.CreateAttr("ID", "_req1")
			e.InsertChildAt(1, sigOf(orig).Copy())
			e.AddChild(noSig(orig))
			return reparse(t, e)
		}},
		"XSW6: modified root keeps ID, original inside ds:Object": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			e.CreateAttr("ID", "_req1")
			s := sigOf(orig).Copy()
			obj := s.CreateElement("ds:Object")
			obj.AddChild(noSig(orig))
			e.InsertChildAt(1, s)
			return reparse(t, e)
		}},
		"XSW7: original under samlp:Extensions of an evil root (S003)": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			child(e, "Extensions").AddChild(orig.Copy())
			return reparse(t, e)
		}},
		"XSW8: original inside ds:Object of the signature (S004)": {mutate: func(t *testing.T) *etree.Element {
			orig := signed(t, spPair)
			e := evil(orig)
			s := sigOf(orig).Copy()
			obj := s.CreateElement("ds:Object")
			obj.AddChild(noSig(orig))
			e.InsertChildAt(1, s)
			return reparse(t, e)
		}},
		"two signatures (S007)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			r.InsertChildAt(2, sigOf(r).Copy())
			return r
		}},
		"signature not a direct child (S008)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			s := sigOf(r)
			r.RemoveChild(s)
			child(r, "Extensions").AddChild(s)
			return r
		}},
		"Reference URI empty (S009)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			sigOf(r).FindElement(".//Reference").CreateAttr("URI", "")
			return r
		}},
		"two References (S010)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			si := child(sigOf(r), "SignedInfo")
			si.AddChild(child(si, "Reference").Copy())
			return r
		}},
		"XPath transform (S011)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			tr := sigOf(r).FindElement(".//Transforms")
			x := tr.CreateElement("ds:Transform")
			x.CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
			return r
		}},
		"only the enveloped transform": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			tr := sigOf(r).FindElement(".//Transforms")
			tr.RemoveChild(tr.ChildElements()[1])
			return r
		}},
		"c14n WithComments (S012)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			sigOf(r).FindElement(".//CanonicalizationMethod").CreateAttr("Algorithm",
				"http://www.w3.org/2001/10/xml-exc-c14n#WithComments")
			return r
		}},
		"SignatureValue missing (S014)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			s := sigOf(r)
			s.RemoveChild(child(s, "SignatureValue"))
			return r
		}},
		"SignatureValue empty": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			child(sigOf(r), "SignatureValue").SetText("")
			return r
		}},
		"SignedInfo missing": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			s := sigOf(r)
			s.RemoveChild(child(s, "SignedInfo"))
			return r
		}},
		"duplicate ID on a descendant (S015)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			child(r, "Extensions").ChildElements()[0].CreateAttr("ID", "_req1")
			return r
		}},
		"root with ID and Id (S016)": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			r.CreateAttr("Id", "_other")
			return r
		}},
		"root with a namespaced xyz:ID shadow": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			r.CreateAttr("xmlns:xyz", "urn:xyz")
			r.CreateAttr("xyz:ID", "_req1")
			return r
		}},
		"root without ID": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			r.RemoveAttr("ID")
			return r
		}},
		"signature element in a fake namespace": {mutate: func(t *testing.T) *etree.Element {
			r := signed(t, spPair)
			sigOf(r).CreateAttr("xmlns:ds", "urn:not-dsig")
			return r
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			certs := trusted
			if tc.certs != nil {
				certs = tc.certs
			}
			err := Verify(tc.mutate(t), certs)
			if err == nil {
				t.Fatal("Verify accepted the message")
			}
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("error %v does not wrap ErrInvalidSignature", err)
			}
		})
	}
}

func TestVerifyMissingSignatureSentinel(t *testing.T) {
	testPairs(t)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(requestXML); err != nil {
		t.Fatal(err)
	}
	err := Verify(doc.Root(), []*x509.Certificate{spPair.Cert})
	if !errors.Is(err, ErrMissingSignature) {
		t.Fatalf("got %v, want ErrMissingSignature", err)
	}
}

func TestVerifyAtClock(t *testing.T) {
	testPairs(t)
	r := signed(t, spPair)
	certs := []*x509.Certificate{spPair.Cert}
	if err := VerifyAt(r, certs, time.Now().Add(48*time.Hour)); err == nil {
		t.Fatal("accepted with a certificate expired at the given time")
	}
	if err := VerifyAt(r, certs, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDoesNotMutate(t *testing.T) {
	testPairs(t)
	r := signed(t, spPair)
	before := serialise(t, r)
	if err := Verify(r, []*x509.Certificate{spPair.Cert}); err != nil {
		t.Fatal(err)
	}
	if after := serialise(t, r); after != before {
		t.Fatal("Verify changed its input")
	}
}

func serialise(t testing.TB, el *etree.Element) string {
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	s, err := d.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(b []byte) string {
	var sb strings.Builder
	sb.WriteString(base64.StdEncoding.EncodeToString(b))
	return sb.String()
}

func FuzzVerify(f *testing.F) {
	testPairs(f)
	f.Add(serialise(f, signed(f, spPair)))
	f.Add(requestXML)
	f.Add(`<a ID="x"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/><ds:SignatureValue/></ds:Signature></a>`)
	certs := []*x509.Certificate{spPair.Cert}
	f.Fuzz(func(t *testing.T, s string) {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(s); err != nil || doc.Root() == nil {
			return
		}
		_ = Verify(doc.Root(), certs)
	})
}
