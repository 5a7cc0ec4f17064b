package response_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// Two stand-ins for grant JWEs: the builder treats them as text.
var grants = []response.GrantToken{
	{Destination: "https://aa1.example.it", Token: "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.a.b.c.d"},
	{Destination: "https://aa2.example.it/x?y=1&z=2", Token: "eyJ0eXAiOiJhYS1ncmFudCtqd3QifQ.e.f.g.h"},
}

// A018–A022: the grant tokens sit in samlp:Extensions between the
// Response signature and Status, inside one spid:GrantedAttributeAuthority
// with unqualified GrantTokens, and the Response stays signed.
func TestSuccessWithGrantTokens(t *testing.T) {
	b := newBuilder(t)
	s := sampleSuccess()
	var gotID string
	s.Grants = func(id string) ([]response.GrantToken, error) {
		gotID = id
		return grants, nil
	}
	out, err := b.Success(s)
	if err != nil {
		t.Fatal(err)
	}
	resp := parse(t, out)
	if gotID == "" || gotID != resp.SelectAttrValue("ID", "") {
		t.Errorf("Grants called with %q, Response ID is %q", gotID, resp.SelectAttrValue("ID", ""))
	}
	wantChildren(t, resp, nsA+"Issuer", nsDS+"Signature", nsP+"Extensions", nsP+"Status", nsA+"Assertion")
	ext := one(t, resp, spid.NSProtocol, "Extensions")
	kids := ext.ChildElements()
	if len(kids) != 1 || kids[0].Tag != "GrantedAttributeAuthority" || kids[0].NamespaceURI() != spid.NSSPID || kids[0].Space != "spid" {
		t.Fatalf("Extensions children %v", childTags(ext))
	}
	toks := kids[0].ChildElements()
	if len(toks) != len(grants) {
		t.Fatalf("%d GrantTokens, want %d", len(toks), len(grants))
	}
	for i, tok := range toks {
		if tok.Tag != "GrantToken" || tok.Space != "" || tok.NamespaceURI() != "" {
			t.Errorf("GrantToken %d is {%s}%s:%s, want unqualified with no namespace", i, tok.NamespaceURI(), tok.Space, tok.Tag)
		}
		if tok.SelectAttrValue("Destination", "") != grants[i].Destination || tok.Text() != grants[i].Token {
			t.Errorf("GrantToken %d = %q → %q", i, tok.SelectAttrValue("Destination", ""), tok.Text())
		}
	}
	checkSignatureShape(t, resp)
	if _, err := responsetest.Verify(parse(t, out), b.Signing.Cert, clock); err != nil {
		t.Errorf("Response signature: %v", err)
	}
	// The tokens are covered by the Response signature.
	bad := bytes.Replace(out, []byte(grants[0].Token), []byte(grants[1].Token), 1)
	if _, err := responsetest.Verify(parse(t, bad), b.Signing.Cert, clock); err == nil {
		t.Error("Response verified after swapping a grant token")
	}
	// Our canonical bytes are those a generic signer produces.
	r2 := parse(t, out)
	want := one(t, one(t, r2, spid.NSDSig, "Signature"), spid.NSDSig, "SignatureValue").Text()
	r2.RemoveChild(one(t, r2, spid.NSDSig, "Signature"))
	if err := xmlsig.Sign(r2, b.Signing, "Issuer"); err != nil {
		t.Fatal(err)
	}
	if got := one(t, one(t, r2, spid.NSDSig, "Signature"), spid.NSDSig, "SignatureValue").Text(); got != want {
		t.Error("xmlsig signs the Response with Extensions differently: the emitted form is not canonical")
	}
}

func TestSuccessWithoutGrantTokens(t *testing.T) {
	for name, f := range map[string]func(string) ([]response.GrantToken, error){
		"nil":  nil,
		"none": func(string) ([]response.GrantToken, error) { return nil, nil },
	} {
		s := sampleSuccess()
		s.Grants = f
		out, err := newBuilder(t).Success(s)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte("Extensions")) || bytes.Contains(out, []byte("GrantedAttributeAuthority")) {
			t.Errorf("%s: Extensions in a Response without grants", name)
		}
	}
	s := sampleSuccess()
	s.Grants = func(string) ([]response.GrantToken, error) { return nil, errors.New("no key") }
	if _, err := newBuilder(t).Success(s); err == nil {
		t.Error("a failing Grants still gave a Response")
	}
	s.Grants = func(string) ([]response.GrantToken, error) {
		return []response.GrantToken{{Destination: "", Token: "x"}}, nil
	}
	if _, err := newBuilder(t).Success(s); err == nil {
		t.Error("a GrantToken without Destination was accepted")
	}
}

// TestGoldenGrantTokens pins the bytes of a Response with grant tokens
// (run with -update after an intended change).
func TestGoldenGrantTokens(t *testing.T) {
	pair := goldenPair(t)
	b := newBuilder(t)
	b.Signing = pair
	s := sampleSuccess()
	s.Attributes = goodAttributes(t)
	s.Grants = func(string) ([]response.GrantToken, error) { return grants, nil }
	out, err := b.Success(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := responsetest.Verify(parse(t, out), pair.Cert, clock); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "success-aa.xml")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("differs from the golden file:\n got %s\nwant %s", out, want)
	}
}
