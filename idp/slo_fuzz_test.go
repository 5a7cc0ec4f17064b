package idp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// FuzzSLOEndpoint: any XML, validly query-signed by a trusted SP and sent
// as a LogoutRequest or LogoutResponse to the Redirect endpoint, is answered
// without a panic or a server error, and any redirect goes to a registered
// SP's SLO endpoint.
func FuzzSLOEndpoint(f *testing.F) {
	h := newHarness(f)
	a := assertion{NameID: "_nid", SessionIndex: "_idx"}
	f.Add(string(h.logoutRequest(h.A, a, h.Base+PathSLORedirect, nil)), true)
	f.Add(string(h.logoutRequest(h.A, assertion{NameID: "_nid"}, testEntityID, nil)), true)
	f.Add(`<samlp:LogoutResponse xmlns:samlp="`+spid.NSProtocol+`" ID="_x" Version="2.0"/>`, false)
	f.Fuzz(func(t *testing.T, x string, request bool) {
		param := "SAMLResponse"
		if request {
			param = "SAMLRequest"
		}
		q := bindingtest.Redirect{Param: param, XML: []byte(x), RelayState: "rs", Key: h.A.Pair.Key}.Query()
		rec := httptest.NewRecorder()
		h.Srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathSLORedirect+"?"+q, nil))
		if rec.Code >= 500 {
			t.Fatalf("status %d", rec.Code)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil || (u.Host != "sp-a.example.it" && u.Host != "sp-b.example.it") || u.Scheme != "https" {
				t.Fatalf("redirected to %q", loc)
			}
		}
	})
}
