package binding_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// FuzzRedirect: any query string decodes and verifies without panicking.
func FuzzRedirect(f *testing.F) {
	pairs(f)
	f.Add(bindingtest.Redirect{XML: []byte(reqXML), Key: spPair.Key, RelayState: "x"}.Query())
	f.Add(bindingtest.Redirect{XML: []byte(reqXML), Key: spPair.Key, Param: "SAMLResponse"}.Query())
	f.Add("SAMLRequest=%zz&SigAlg=&Signature=")
	f.Add("SAMLRequest=AAAA&SAMLRequest=AAAA")
	c := certs(spPair)
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest(http.MethodGet, "https://idp.example.it/sso", nil)
		r.URL.RawQuery = q
		m, err := binding.Decode(r, spid.BindingRedirect, binding.Limits{})
		if err != nil {
			return
		}
		_ = m.Verify(c, time.Now())
	})
}

// FuzzPOST: any XML posted as SAMLRequest decodes and verifies without
// panicking.
func FuzzPOST(f *testing.F) {
	pairs(f)
	f.Add(string(bindingtest.Sign(f, []byte(reqXML), spPair)))
	f.Add(reqXML)
	f.Add(`<a ID="x"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/><ds:SignatureValue/></ds:Signature></a>`)
	c := certs(spPair)
	f.Fuzz(func(t *testing.T, x string) {
		r := bindingtest.POST("https://idp.example.it/sso", bindingtest.Form("SAMLRequest", []byte(x), "rs"))
		m, err := binding.Decode(r, spid.BindingPOST, binding.Limits{})
		if err != nil {
			return
		}
		_ = m.Verify(c, time.Now())
	})
}

// FuzzPOSTBody: arbitrary form bodies.
func FuzzPOSTBody(f *testing.F) {
	f.Add(url.Values{"SAMLRequest": {"PGEvPg=="}}.Encode())
	f.Add("SAMLRequest=%0D%0APGEvPg%3D%3D&RelayState=%ff")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "https://idp.example.it/sso", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = binding.Decode(r, spid.BindingPOST, binding.Limits{})
	})
}
