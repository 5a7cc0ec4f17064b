package spclient

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

const (
	spID  = "https://sp.example.org/account"
	acs   = "https://sp.example.org/account/acs"
	idpID = "https://idp.example.org"
	reqID = "_0123456789abcdef0123456789abcdef"
)

var (
	pairOnce sync.Once
	idpPair  keys.Pair
	idpOther keys.Pair
)

func pairs(t testing.TB) (keys.Pair, keys.Pair) {
	pairOnce.Do(func() {
		gen := func(cn string) keys.Pair {
			p, err := keys.Generate(keys.GenerateOptions{Bits: 2048, CommonName: cn, Locality: "Roma",
				OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "IdP di prova", EntityID: idpID})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		idpPair, idpOther = gen("IdP"), gen("Other")
	})
	return idpPair, idpOther
}

func success(t testing.TB, signer keys.Pair, level spid.Level, audience string) string {
	b := &response.Builder{EntityID: idpID, Signing: signer}
	xml, err := b.Success(response.Success{InResponseTo: reqID, Destination: acs, Audience: audience,
		NameID: response.RandomID(), Level: level, AuthnInstant: time.Now(), IncludeAttributeStatement: true,
		Attributes: []response.Attribute{{Name: "spidCode", Value: "DEMO0000000001"}, {Name: "name", Value: "Mario"}}})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(xml)
}

func expect(t testing.TB) Expect {
	p, _ := pairs(t)
	return Expect{InResponseTo: reqID, Destination: acs, Audience: spID, IdPCerts: []*x509.Certificate{p.Cert}}
}

func TestCheckSuccess(t *testing.T) {
	p, _ := pairs(t)
	res, err := Check(success(t, p, spid.L2, spID), expect(t))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || res.Level != spid.L2 || res.Attr("spidCode") != "DEMO0000000001" || res.Attr("name") != "Mario" || res.Attr("x") != "" {
		t.Fatalf("result %+v", res)
	}
}

func TestCheckErrorResponse(t *testing.T) {
	p, _ := pairs(t)
	b := &response.Builder{EntityID: idpID, Signing: p}
	xml, err := b.Error(response.ErrorResponse{InResponseTo: reqID, Destination: acs, Anomaly: spid.Anomaly(23)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(base64.StdEncoding.EncodeToString(xml), expect(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Success || res.Code != spid.Anomaly(23) || res.StatusCode == "" || strings.HasPrefix(res.StatusCode, spid.StatusSuccess) {
		t.Fatalf("result %+v", res)
	}
}

// Each refusal is ErrRefused with the reason.
func TestCheckRefusals(t *testing.T) {
	p, other := pairs(t)
	good := success(t, p, spid.L2, spID)
	tamper := func(f func(root *etree.Element)) string {
		raw, _ := base64.StdEncoding.DecodeString(good)
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		f(doc.Root())
		out, _ := doc.WriteToBytes()
		return base64.StdEncoding.EncodeToString(out)
	}
	cases := []struct {
		name, b64 string
		e         func(*Expect)
		want      string
	}{
		{"not base64", "%%%", nil, "not base64"},
		{"empty", "", nil, "not base64"},
		{"not XML", base64.StdEncoding.EncodeToString([]byte("<a")), nil, "not XML"},
		{"another request", good, func(e *Expect) { e.InResponseTo = "_other" }, "InResponseTo"},
		{"no request at all", good, func(e *Expect) { e.InResponseTo = "" }, "InResponseTo"},
		{"another ACS", good, func(e *Expect) { e.Destination = acs + "2" }, "Destination"},
		{"another audience", success(t, p, spid.L2, "https://other.example.org"), nil, "Audience"},
		{"signed by another key", success(t, other, spid.L2, spID), nil, "Assertion signature"},
		{"assertion altered", tamper(func(r *etree.Element) {
			r.FindElement("./Assertion/AttributeStatement/Attribute/AttributeValue").SetText("DEMO0000000002")
		}), nil, "Assertion signature"},
		{"assertion removed", tamper(func(r *etree.Element) { r.RemoveChild(r.FindElement("./Assertion")) }), nil, "Response signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := expect(t)
			if c.e != nil {
				c.e(&e)
			}
			res, err := Check(c.b64, e)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) || res.Success {
				t.Fatalf("got %+v, %v; want refusal about %q", res, err, c.want)
			}
		})
	}
}

func TestAuthnRequest(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		level spid.Level
		force bool
	}{{spid.L1, false}, {spid.L2, true}} {
		x := AuthnRequest(Request{ID: reqID, Issuer: spID, Destination: idpID + "/sso?a=1&b=2", Level: c.level, Now: now})
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(x); err != nil {
			t.Fatal(err)
		}
		r := doc.Root()
		if r.SelectAttrValue("ID", "") != reqID || r.SelectAttrValue("Destination", "") != idpID+"/sso?a=1&b=2" ||
			r.SelectAttrValue("IssueInstant", "") != "2026-11-25T10:00:00.000Z" ||
			(r.SelectAttrValue("ForceAuthn", "") == "true") != c.force ||
			r.FindElement("./Issuer").Text() != spID ||
			r.FindElement("./RequestedAuthnContext/AuthnContextClassRef").Text() != c.level.ClassRef() {
			t.Errorf("level %d: %s", c.level, x)
		}
	}
}

func FuzzCheck(f *testing.F) {
	p, _ := pairs(f)
	f.Add(success(f, p, spid.L2, spID))
	f.Add(base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="` + reqID + `"/>`)))
	f.Add("")
	f.Fuzz(func(t *testing.T, b64 string) {
		res, err := Check(b64, expect(t))
		if err == nil && res.Success && res.Attr("spidCode") != "DEMO0000000001" {
			t.Fatalf("a forged Response was accepted: %+v", res)
		}
	})
}
