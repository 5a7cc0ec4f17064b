// Package bindingtest builds what a service provider sends on the
// HTTP-Redirect and HTTP-POST bindings, for the IdP's tests: signed query
// strings, signed XML, form posts, and throwaway key pairs.
package bindingtest

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// NewPair returns a fresh RSA key and a self-signed certificate valid from
// an hour ago for a day.
func NewPair(t testing.TB, bits int) keys.Pair {
	t.Helper()
	now := time.Now()
	return NewPairValid(t, bits, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// NewPairValid is NewPair with an explicit validity period.
func NewPairValid(t testing.TB, bits int, notBefore, notAfter time.Time) keys.Pair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "test service provider"},
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

// Deflate compresses b as raw DEFLATE (RFC 1951), as the Redirect binding wants.
func Deflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// Redirect describes a Redirect-binding query string.
type Redirect struct {
	Param      string // default SAMLRequest
	XML        []byte // deflated and base64-encoded unless Encoded is set
	Encoded    string // the SAMLRequest value before URL escaping, verbatim
	RelayState string // "" means absent
	SigAlg     string // default rsa-sha256; "-" means omit
	// Key signs the query; nil omits Signature.
	Key crypto.Signer
	// Hash overrides the hash used to sign (default: the one SigAlg names,
	// SHA-256 for unknown ones).
	Hash crypto.Hash
	// Escape encodes each value; default url.QueryEscape. The signature is
	// computed over the escaped values, as SAML wants.
	Escape func(string) string
	// SignCanonical signs the url.QueryEscape form instead of the escaped
	// one (what some SP libraries do).
	SignCanonical bool
}

// Query returns the query string SAMLRequest=…&RelayState=…&SigAlg=…&Signature=….
func (r Redirect) Query() string {
	param := r.Param
	if param == "" {
		param = "SAMLRequest"
	}
	esc := r.Escape
	if esc == nil {
		esc = url.QueryEscape
	}
	alg := r.SigAlg
	if alg == "" {
		alg = spid.AlgRSASHA256
	}
	enc := r.Encoded
	if enc == "" {
		enc = base64.StdEncoding.EncodeToString(Deflate(r.XML))
	}
	build := func(esc func(string) string) string {
		s := param + "=" + esc(enc)
		if r.RelayState != "" {
			s += "&RelayState=" + esc(r.RelayState)
		}
		if alg != "-" {
			s += "&SigAlg=" + esc(alg)
		}
		return s
	}
	q := build(esc)
	if r.Key != nil {
		signed := q
		if r.SignCanonical {
			signed = build(url.QueryEscape)
		}
		h := r.Hash
		if h == 0 {
			h = hashFor(alg)
		}
		hh := h.New()
		hh.Write([]byte(signed))
		sig, err := r.Key.Sign(rand.Reader, hh.Sum(nil), h)
		if err != nil {
			panic(err)
		}
		q += "&Signature=" + esc(base64.StdEncoding.EncodeToString(sig))
	}
	return q
}

func hashFor(alg string) crypto.Hash {
	switch alg {
	case spid.AlgRSASHA1:
		return crypto.SHA1
	case spid.AlgRSASHA384:
		return crypto.SHA384
	case spid.AlgRSASHA512:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// LowerHex rewrites %XX escapes with lowercase hex digits, as some SP
// stacks emit them.
func LowerHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			b.WriteByte('%')
			b.WriteString(strings.ToLower(s[i+1 : i+3]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// LowerEscape is url.QueryEscape with lowercase hex digits.
func LowerEscape(s string) string { return LowerHex(url.QueryEscape(s)) }

// GET returns a GET request for target?query.
func GET(target, query string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target+"?"+query, nil)
}

// POST returns a form POST to target carrying form.
func POST(target string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// Form is the POST form for a message: base64 of the XML and, when not
// empty, RelayState.
func Form(param string, xml []byte, relayState string) url.Values {
	v := url.Values{param: {base64.StdEncoding.EncodeToString(xml)}}
	if relayState != "" {
		v.Set("RelayState", relayState)
	}
	return v
}

// Sign adds an enveloped signature made with pair right after saml:Issuer
// and returns the serialised document.
func Sign(t testing.TB, xml []byte, pair keys.Pair) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatal(err)
	}
	if err := xmlsig.Sign(doc.Root(), pair, "Issuer"); err != nil {
		t.Fatal(err)
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
