package conformance

import (
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

func buildLogoutResponse(t *testing.T, mutate func(*etree.Element), sign bool, key signer) []byte {
	lr := etree.NewElement("samlp:LogoutResponse")
	lr.CreateAttr("xmlns:samlp", nsSAMLP)
	lr.CreateAttr("xmlns:saml", nsSAML)
	lr.CreateAttr("ID", "_lr1")
	lr.CreateAttr("Version", "2.0")
	lr.CreateAttr("IssueInstant", formatInstant(time.Now()))
	lr.CreateAttr("InResponseTo", "_lreq")
	lr.CreateAttr("Destination", tSP+"/slo/post")
	iss := lr.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.CreateAttr("NameQualifier", tIdP)
	iss.SetText(tIdP)
	lr.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", statusSuccess)
	if mutate != nil {
		mutate(lr)
	}
	if sign {
		if err := signEnveloped(lr, key, algRSASHA256, "Issuer"); err != nil {
			t.Fatal(err)
		}
	}
	b, err := serialize(lr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateLogoutResponse(t *testing.T) {
	key, other := testSigners(t)
	exp := LogoutExpect{IdPEntityID: tIdP, IdPCerts: []*x509.Certificate{key.Cert}, Destination: tSP + "/slo/post", RequestID: "_lreq", Strict: true}
	if v := ValidateLogoutResponse(buildLogoutResponse(t, nil, true, key), exp); v.Failed() {
		_, m := v.Summary()
		t.Fatalf("correct LogoutResponse failed: %s", m)
	}
	cases := []struct {
		name   string
		mutate func(*etree.Element)
		sign   bool
		key    signer
		check  string
	}{
		{"unsigned", nil, false, key, "logout.signature"},
		{"other key", nil, true, other, "logout.signature"},
		{"wrong InResponseTo", func(e *etree.Element) { e.CreateAttr("InResponseTo", "_x") }, true, key, "logout.inresponseto"},
		{"wrong Destination", func(e *etree.Element) { e.CreateAttr("Destination", "https://x.invalid") }, true, key, "logout.destination"},
		{"Issuer without NameQualifier", func(e *etree.Element) { e.SelectElement("Issuer").RemoveAttr("NameQualifier") }, true, key, "logout.issuer"},
		{"Issuer without Format", func(e *etree.Element) { e.SelectElement("Issuer").RemoveAttr("Format") }, true, key, "logout.issuer"},
		{"PartialLogout", func(e *etree.Element) { e.FindElement("Status/StatusCode").CreateAttr("Value", statusRequester) }, true, key, "logout.status"},
		{"Version", func(e *etree.Element) { e.CreateAttr("Version", "1.0") }, true, key, "logout.header"},
	}
	for _, c := range cases {
		v := ValidateLogoutResponse(buildLogoutResponse(t, c.mutate, c.sign, c.key), exp)
		if r, ok := v.Result(c.check); !ok || r.Status != Fail {
			t.Errorf("%s: %s did not fail (%v)", c.name, c.check, v.Failures())
		}
	}
}

func TestRedirectSignatureRoundTrip(t *testing.T) {
	key, other := testSigners(t)
	q, err := redirectQuery("SAMLResponse", "abc+/=", "state with spaces", &key, algRSASHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyRedirect(q, "SAMLResponse", []*x509.Certificate{key.Cert}); err != nil {
		t.Errorf("own signature: %v", err)
	}
	if _, err := verifyRedirect(q, "SAMLResponse", []*x509.Certificate{other.Cert}); err == nil {
		t.Error("verified with the wrong key")
	}
	// Lower-case percent-encoding from another stack must still verify (re-encoded fallback).
	lower := strings.ReplaceAll(q, "%2B", "%2b")
	if !strings.Contains(q, "%2B") {
		t.Fatal("fixture lacks an encoded +")
	}
	if _, err := verifyRedirect(lower, "SAMLResponse", []*x509.Certificate{key.Cert}); err != nil {
		t.Errorf("re-encoded fallback: %v", err)
	}
	tampered := strings.Replace(q, "RelayState=state", "RelayState=xstate", 1)
	if _, err := verifyRedirect(tampered, "SAMLResponse", []*x509.Certificate{key.Cert}); err == nil {
		t.Error("tampered RelayState verified")
	}
	if _, err := url.ParseQuery(q); err != nil {
		t.Error(err)
	}
}
