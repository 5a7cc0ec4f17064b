package binding_test

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/binding/bindingtest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

const target = "https://idp.example.it/sso"

const reqXML = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example.it"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity" NameQualifier="https://sp.example.it">https://sp.example.it</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/></samlp:AuthnRequest>`

var (
	pairsOnce      sync.Once
	spPair, spB    keys.Pair
	expired, small keys.Pair
)

func pairs(t testing.TB) {
	pairsOnce.Do(func() {
		spPair = bindingtest.FixedPair(t, 1)
		spB = bindingtest.FixedPair(t, 2)
		small = bindingtest.NewPair(t, 1024)
		expired = bindingtest.NewPairValid(t, 2048, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	})
}

func certs(p ...keys.Pair) []*x509.Certificate {
	var out []*x509.Certificate
	for _, x := range p {
		out = append(out, x.Cert)
	}
	return out
}

func decodeGET(t *testing.T, q string) (*binding.Message, error) {
	t.Helper()
	return binding.Decode(bindingtest.GET(target, q), spid.BindingRedirect, binding.Limits{})
}

func TestRedirectAccepted(t *testing.T) {
	pairs(t)
	base := bindingtest.Redirect{XML: []byte(reqXML), Key: spPair.Key}
	with := func(f func(*bindingtest.Redirect)) string { r := base; f(&r); return r.Query() }
	cases := map[string]struct {
		query string
		relay string
		param string
		certs []*x509.Certificate
	}{
		"with RelayState (C039)":     {query: with(func(r *bindingtest.Redirect) { r.RelayState = "abc/ d+&=" }), relay: "abc/ d+&="},
		"without RelayState (C039)":  {query: base.Query()},
		"SAMLResponse":               {query: with(func(r *bindingtest.Redirect) { r.Param = "SAMLResponse" }), param: "SAMLResponse"},
		"rsa-sha384":                 {query: with(func(r *bindingtest.Redirect) { r.SigAlg = spid.AlgRSASHA384 })},
		"rsa-sha512":                 {query: with(func(r *bindingtest.Redirect) { r.SigAlg = spid.AlgRSASHA512 })},
		"second trusted certificate": {query: base.Query(), certs: certs(spB, spPair)},
		"lowercase percent-encoding signed as sent (C040, S046)": {
			query: with(func(r *bindingtest.Redirect) { r.Escape = bindingtest.LowerEscape; r.RelayState = "x/y" }),
			relay: "x/y",
		},
		"lowercase on the wire, SP signed the canonical form (fallback)": {
			query: with(func(r *bindingtest.Redirect) {
				r.Escape = bindingtest.LowerEscape
				r.SignCanonical = true
				r.RelayState = "x/y"
			}),
			relay: "x/y",
		},
		"parameters reordered (A.12)": {query: reorder(with(func(r *bindingtest.Redirect) { r.RelayState = "r" })), relay: "r"},
		"extra unknown parameter (S047)": {
			query: with(func(r *bindingtest.Redirect) { r.RelayState = "r" }) + "&foo=bar&x",
			relay: "r",
		},
		"SAMLEncoding DEFLATE": {query: base.Query() + "&SAMLEncoding=" + url.QueryEscape(spid.RedirectEncoding)},
		"valid query signature, broken embedded ds:Signature (S048)": {query: with(func(r *bindingtest.Redirect) {
			r.XML = []byte(strings.Replace(reqXML, "<samlp:NameIDPolicy",
				`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature><samlp:NameIDPolicy`, 1))
		})},
		"RelayState of exactly 1024 bytes": {
			query: with(func(r *bindingtest.Redirect) { r.RelayState = strings.Repeat("a", 1024) }),
			relay: strings.Repeat("a", 1024),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := decodeGET(t, tc.query)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			c := tc.certs
			if c == nil {
				c = certs(spPair)
			}
			if err := m.Verify(c, time.Now()); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if m.RelayState != tc.relay || m.HasRelayState != (tc.relay != "") {
				t.Errorf("RelayState = %q (%v), want %q", m.RelayState, m.HasRelayState, tc.relay)
			}
			want := tc.param
			if want == "" {
				want = "SAMLRequest"
			}
			if m.Param != want {
				t.Errorf("Param = %q, want %q", m.Param, want)
			}
			if m.Root == nil || m.Root.Tag != "AuthnRequest" {
				t.Errorf("root/XML not decoded")
			}
			if strings.Contains(string(m.SignedOctets), "foo") || strings.Contains(string(m.SignedOctets), "Signature=") {
				t.Errorf("signed octets contain foreign parameters: %s", m.SignedOctets)
			}
		})
	}
}

// reorder moves SigAlg and Signature before SAMLRequest.
func reorder(q string) string {
	parts := strings.Split(q, "&")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "&")
}

func TestRedirectDecodeErrors(t *testing.T) {
	pairs(t)
	base := bindingtest.Redirect{XML: []byte(reqXML), Key: spPair.Key}
	with := func(f func(*bindingtest.Redirect)) string { r := base; f(&r); return r.Query() }
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	deflated := bindingtest.Deflate([]byte(reqXML))
	var zl bytes.Buffer
	zw := zlib.NewWriter(&zl)
	zw.Write([]byte(reqXML))
	zw.Close()

	cases := map[string]struct {
		query string
		want  error
	}{
		"no SAMLRequest (C027)":             {query: "RelayState=x&SigAlg=a&Signature=AAAA", want: binding.ErrMissing},
		"empty SAMLRequest":                 {query: "SAMLRequest=&SigAlg=a&Signature=AAAA", want: binding.ErrMissing},
		"no SigAlg (C028, S040)":            {query: with(func(r *bindingtest.Redirect) { r.SigAlg = "-" }), want: binding.ErrMissing},
		"no Signature (C029, S040)":         {query: with(func(r *bindingtest.Redirect) { r.Key = nil }), want: binding.ErrMissing},
		"empty query":                       {query: "", want: binding.ErrMissing},
		"SAMLRequest twice (S041)":          {query: base.Query() + "&SAMLRequest=" + url.QueryEscape(b64(deflated)), want: binding.ErrMalformed},
		"SigAlg twice (S041)":               {query: base.Query() + "&SigAlg=" + url.QueryEscape(spid.AlgRSASHA256), want: binding.ErrMalformed},
		"Signature twice":                   {query: base.Query() + "&Signature=AAAA", want: binding.ErrMalformed},
		"RelayState twice":                  {query: with(func(r *bindingtest.Redirect) { r.RelayState = "a" }) + "&RelayState=b", want: binding.ErrMalformed},
		"both SAMLRequest and SAMLResponse": {query: base.Query() + "&SAMLResponse=" + url.QueryEscape(b64(deflated)), want: binding.ErrMalformed},
		"SAMLEncoding other":                {query: base.Query() + "&SAMLEncoding=urn%3Aother", want: binding.ErrMalformed},
		"not base64 (C031)":                 {query: with(func(r *bindingtest.Redirect) { r.Encoded = "!!!!" }), want: binding.ErrMalformed},
		"URL-safe base64 alphabet (S037)": {query: with(func(r *bindingtest.Redirect) {
			r.Encoded = urlSafeOf(t, reqXML)
		}), want: binding.ErrMalformed},
		"missing padding (A.11)": {query: with(func(r *bindingtest.Redirect) {
			r.Encoded = strings.TrimRight(b64(padded(t, reqXML)), "=")
		}), want: binding.ErrMalformed},
		"non-zero trailing bits (S038)": {query: with(func(r *bindingtest.Redirect) {
			r.Encoded = trailingBits(t, b64(padded(t, reqXML)))
		}), want: binding.ErrMalformed},
		"embedded space": {query: with(func(r *bindingtest.Redirect) {
			s := b64(deflated)
			r.Encoded = s[:8] + " " + s[8:]
		}), want: binding.ErrMalformed},
		"embedded line break": {query: with(func(r *bindingtest.Redirect) {
			s := b64(deflated)
			r.Encoded = s[:8] + "\n" + s[8:]
		}), want: binding.ErrMalformed},
		"zlib header instead of raw DEFLATE (S036)": {query: with(func(r *bindingtest.Redirect) {
			r.Encoded = b64(zl.Bytes())
		}), want: binding.ErrMalformed},
		"not deflated at all": {query: with(func(r *bindingtest.Redirect) { r.Encoded = b64([]byte(reqXML)) }), want: binding.ErrMalformed},
		"data after the DEFLATE stream": {query: with(func(r *bindingtest.Redirect) {
			r.Encoded = b64(append(append([]byte{}, deflated...), "junk"...))
		}), want: binding.ErrMalformed},
		"deflated XML of 70 KiB (S034)": {query: with(func(r *bindingtest.Redirect) {
			r.XML = []byte(strings.Replace(reqXML, "</samlp:AuthnRequest>", "<x>"+strings.Repeat("a", 70<<10)+"</x></samlp:AuthnRequest>", 1))
		}), want: binding.ErrMalformed},
		"RelayState of 1025 bytes (S056)": {query: with(func(r *bindingtest.Redirect) { r.RelayState = strings.Repeat("a", 1025) }), want: binding.ErrMalformed},
		"RelayState not UTF-8":            {query: with(func(r *bindingtest.Redirect) { r.RelayState = "\xff\xfe" }), want: binding.ErrMalformed},
		"bad percent-encoding":            {query: "SAMLRequest=%zz&SigAlg=a&Signature=AAAA", want: binding.ErrMalformed},
		"Signature not base64":            {query: strings.Replace(base.Query(), "&Signature=", "&Signature=%21", 1), want: binding.ErrMalformed},
		"XML not well-formed (C031)":      {query: with(func(r *bindingtest.Redirect) { r.XML = []byte("<samlp:AuthnRequest") }), want: binding.ErrMalformed},
		"DOCTYPE (C032)": {query: with(func(r *bindingtest.Redirect) {
			r.XML = []byte(`<!DOCTYPE x [<!ENTITY e "v">]>` + reqXML)
		}), want: binding.ErrMalformed},
		"too many parameters": {query: base.Query() + strings.Repeat("&a=b", 100), want: binding.ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeGET(t, tc.query)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func padded(t *testing.T, s string) []byte {
	// A deflated payload whose length is not a multiple of 3 needs padding.
	for i := 0; i < 3; i++ {
		d := bindingtest.Deflate([]byte(s + strings.Repeat(" ", i)))
		if len(d)%3 != 0 {
			return d
		}
	}
	t.Fatal("no padded payload")
	return nil
}

func trailingBits(t *testing.T, s string) string {
	i := strings.IndexByte(s, '=')
	if i < 1 {
		t.Fatal("no padding")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	p := strings.IndexByte(alphabet, s[i-1])
	return s[:i-1] + string(alphabet[p|1]) + s[i:]
}

func urlSafeOf(t *testing.T, s string) string {
	for i := 0; i < 200; i++ {
		enc := base64.StdEncoding.EncodeToString(bindingtest.Deflate([]byte(s + strings.Repeat(" ", i))))
		if strings.ContainsAny(enc, "+/") {
			return strings.NewReplacer("+", "-", "/", "_").Replace(enc)
		}
	}
	t.Fatal("no payload with + or /")
	return ""
}

// TestDeflateBomb: security.md A.10, S035.
func TestDeflateBomb(t *testing.T) {
	pairs(t)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 50; i++ { // 50 MiB of zeros, ~50 KB deflated
		w.Write(zeros)
	}
	w.Close()
	q := bindingtest.Redirect{Encoded: base64.StdEncoding.EncodeToString(buf.Bytes()), Key: spPair.Key}.Query()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := decodeGET(t, q)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, binding.ErrMalformed) || !strings.Contains(err.Error(), "inflates beyond") {
		t.Fatalf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("decoding the bomb allocated %d bytes", grew)
	}
	t.Logf("rejected in %v", elapsed)
}

func TestRedirectVerifyErrors(t *testing.T) {
	pairs(t)
	base := bindingtest.Redirect{XML: []byte(reqXML), Key: spPair.Key, RelayState: "state"}
	with := func(f func(*bindingtest.Redirect)) string { r := base; f(&r); return r.Query() }
	good := base.Query()
	cases := map[string]struct {
		query string
		certs []*x509.Certificate
	}{
		"RelayState altered (C038, S042)": {query: strings.Replace(good, "RelayState=state", "RelayState=other", 1)},
		"RelayState removed (S043)":       {query: strings.Replace(good, "&RelayState=state", "", 1)},
		"RelayState added":                {query: with(func(r *bindingtest.Redirect) { r.RelayState = "" }) + "&RelayState=x"},
		"SigAlg switched to sha512 (S044)": {query: with(func(r *bindingtest.Redirect) {
			r.SigAlg = spid.AlgRSASHA512
			r.Hash = crypto.SHA256
		})},
		"rsa-sha1 (C035, S045)": {query: with(func(r *bindingtest.Redirect) { r.SigAlg = spid.AlgRSASHA1 })},
		"HMAC (C036, S045)": {query: with(func(r *bindingtest.Redirect) {
			r.SigAlg = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
		})},
		"ECDSA": {query: with(func(r *bindingtest.Redirect) {
			r.SigAlg = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
		})},
		"signed by another SP (C037, C047, S029)": {query: with(func(r *bindingtest.Redirect) { r.Key = spB.Key })},
		"expired certificate (C046)": {query: with(func(r *bindingtest.Redirect) { r.Key = expired.Key }),
			certs: certs(expired)},
		"RSA-1024 certificate": {query: with(func(r *bindingtest.Redirect) { r.Key = small.Key }), certs: certs(small)},
		"no certificates":      {query: good, certs: []*x509.Certificate{}},
		"SAMLRequest swapped": {query: strings.Replace(good, "SAMLRequest=",
			"SAMLRequest="+url.QueryEscape(base64.StdEncoding.EncodeToString(bindingtest.Deflate([]byte(strings.Replace(reqXML, "_a1", "_a2", 1)))))+"&x=", 1)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := decodeGET(t, tc.query)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			c := tc.certs
			if c == nil {
				c = certs(spPair)
			}
			if err := m.Verify(c, time.Now()); !errors.Is(err, binding.ErrSignature) {
				t.Fatalf("Verify = %v, want ErrSignature", err)
			}
		})
	}
}

func TestMethod(t *testing.T) {
	pairs(t)
	q := bindingtest.Redirect{XML: []byte(reqXML), Key: spPair.Key}.Query()
	post := bindingtest.POST(target, bindingtest.Form("SAMLRequest", []byte(reqXML), ""))
	cases := map[string]struct {
		r       *http.Request
		binding string
	}{
		"POST on the Redirect endpoint (C034, S049)": {r: post, binding: spid.BindingRedirect},
		"GET on the POST endpoint (C034, S049)":      {r: bindingtest.GET(target, q), binding: spid.BindingPOST},
		"PUT on the POST endpoint":                   {r: httptest.NewRequest(http.MethodPut, target, nil), binding: spid.BindingPOST},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := binding.Decode(tc.r, tc.binding, binding.Limits{}); !errors.Is(err, binding.ErrMethod) {
				t.Fatalf("err = %v, want ErrMethod", err)
			}
		})
	}
}

func TestPOST(t *testing.T) {
	pairs(t)
	signed := bindingtest.Sign(t, []byte(reqXML), spPair)
	b64 := base64.StdEncoding.EncodeToString(signed)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))] + "\r\n")
	}
	t.Run("signed, with RelayState", func(t *testing.T) {
		m, err := binding.Decode(bindingtest.POST(target, bindingtest.Form("SAMLRequest", signed, "rs")), spid.BindingPOST, binding.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(certs(spPair), time.Now()); err != nil {
			t.Fatal(err)
		}
		if m.RelayState != "rs" || !m.HasRelayState || m.Param != "SAMLRequest" || !bytes.Equal(m.XML, signed) {
			t.Fatalf("message = %+v", m)
		}
	})
	t.Run("CRLF-wrapped base64 (S039)", func(t *testing.T) {
		m, err := binding.Decode(bindingtest.POST(target, url.Values{"SAMLRequest": {wrapped.String()}}), spid.BindingPOST, binding.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(certs(spPair), time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Content-Type with charset", func(t *testing.T) {
		r := bindingtest.POST(target, bindingtest.Form("SAMLResponse", signed, ""))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		m, err := binding.Decode(r, spid.BindingPOST, binding.Limits{})
		if err != nil || m.Param != "SAMLResponse" {
			t.Fatal(m, err)
		}
	})

	big := strings.Replace(reqXML, "</samlp:AuthnRequest>", "<x>"+strings.Repeat("a", 70<<10)+"</x></samlp:AuthnRequest>", 1)
	cases := map[string]struct {
		r    func() *http.Request
		want error
	}{
		"no SAMLRequest (C030)": {r: func() *http.Request { return bindingtest.POST(target, url.Values{"RelayState": {"x"}}) }, want: binding.ErrMissing},
		"empty SAMLRequest":     {r: func() *http.Request { return bindingtest.POST(target, url.Values{"SAMLRequest": {""}}) }, want: binding.ErrMissing},
		"SAMLRequest in the query only": {r: func() *http.Request {
			r := bindingtest.POST(target+"?SAMLRequest="+url.QueryEscape(b64), url.Values{})
			return r
		}, want: binding.ErrMissing},
		"multipart body": {r: func() *http.Request {
			r := bindingtest.POST(target, bindingtest.Form("SAMLRequest", signed, ""))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			return r
		}, want: binding.ErrMalformed},
		"10 MiB body (S033)": {r: func() *http.Request {
			return bindingtest.POST(target, url.Values{"SAMLRequest": {strings.Repeat("A", 10<<20)}})
		}, want: binding.ErrTooLarge},
		"decoded 70 KiB (S034)": {r: func() *http.Request {
			return bindingtest.POST(target, bindingtest.Form("SAMLRequest", []byte(big), ""))
		}, want: binding.ErrMalformed},
		"URL-safe alphabet": {r: func() *http.Request {
			return bindingtest.POST(target, url.Values{"SAMLRequest": {strings.NewReplacer("+", "-", "/", "_").Replace(b64) + "-_"}})
		}, want: binding.ErrMalformed},
		"embedded space": {r: func() *http.Request {
			return bindingtest.POST(target, url.Values{"SAMLRequest": {b64[:10] + " " + b64[10:]}})
		}, want: binding.ErrMalformed},
		"SAMLRequest twice": {r: func() *http.Request {
			return bindingtest.POST(target, url.Values{"SAMLRequest": {b64, b64}})
		}, want: binding.ErrMalformed},
		"RelayState twice": {r: func() *http.Request {
			return bindingtest.POST(target, url.Values{"SAMLRequest": {b64}, "RelayState": {"a", "b"}})
		}, want: binding.ErrMalformed},
		"RelayState 1025 bytes": {r: func() *http.Request {
			return bindingtest.POST(target, bindingtest.Form("SAMLRequest", signed, strings.Repeat("r", 1025)))
		}, want: binding.ErrMalformed},
		"body with bad escapes": {r: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader("SAMLRequest=%zz"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, want: binding.ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := binding.Decode(tc.r(), spid.BindingPOST, binding.Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("unsigned (C041)", func(t *testing.T) {
		m, err := binding.Decode(bindingtest.POST(target, bindingtest.Form("SAMLRequest", []byte(reqXML), "")), spid.BindingPOST, binding.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(certs(spPair), time.Now()); !errors.Is(err, binding.ErrSignature) {
			t.Fatalf("Verify = %v", err)
		}
	})
	t.Run("signed by SP B (C047)", func(t *testing.T) {
		other := bindingtest.Sign(t, []byte(reqXML), spB)
		m, err := binding.Decode(bindingtest.POST(target, bindingtest.Form("SAMLRequest", other, "")), spid.BindingPOST, binding.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(certs(spPair), time.Now()); !errors.Is(err, binding.ErrSignature) {
			t.Fatalf("Verify = %v", err)
		}
	})
}
