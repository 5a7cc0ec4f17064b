package binding

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// Bounds on the raw (URL-encoded) Redirect parameters, beyond the Limits.
const (
	maxSigAlg    = 256
	maxSignature = 2048 // decoded bytes: an RSA-16384 signature
	maxEncoding  = 256
	maxParams    = 64
)

// rawQuery splits a query string on '&' only, keeping each value exactly as
// received, and refuses a repeated SAML parameter (security.md A.12).
// Unknown parameters are dropped: they never reach the signature input.
func rawQuery(q string) (map[string]string, error) {
	known := map[string]bool{
		ParamRequest: true, ParamResponse: true, ParamRelayState: true,
		ParamSigAlg: true, ParamSignature: true, ParamEncoding: true,
	}
	out := map[string]string{}
	parts := strings.Split(q, "&")
	if len(parts) > maxParams {
		return nil, fmt.Errorf("%w: %d query parameters", ErrMalformed, len(parts))
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("%w: bad query parameter name encoding", ErrMalformed)
		}
		if !known[key] {
			continue
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: parameter %s repeated", ErrMalformed, key)
		}
		out[key] = v
	}
	return out, nil
}

func unescape(name, raw string, max int) (string, error) {
	if len(raw) > 3*max {
		return "", fmt.Errorf("%w: %s too long", ErrMalformed, name)
	}
	v, err := url.QueryUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not URL-encoded correctly", ErrMalformed, name)
	}
	if len(v) > max {
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, max)
	}
	return v, nil
}

// strictBase64 decodes canonical standard base64 only: no URL alphabet, no
// missing padding, no non-zero trailing bits, no whitespace (A.11). The
// standard decoder skips CR and LF even in strict mode, so they are
// refused here explicitly.
func strictBase64(name, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: %s contains line breaks", ErrMalformed, name)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not canonical base64: %v", ErrMalformed, name, err)
	}
	return b, nil
}

// inflaters reuses DEFLATE readers: each holds a 32 KiB window that would
// otherwise be allocated for every request.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflate undoes raw DEFLATE (RFC 1951, no zlib or gzip header) reading at
// most max+1 bytes, so a bomb fails as soon as it crosses the limit (A.10).
func inflate(b []byte, max int) ([]byte, error) {
	in := bytes.NewReader(b) // an io.ByteReader: flate reads no further than its stream
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	if err := fr.(flate.Resetter).Reset(in, nil); err != nil {
		return nil, fmt.Errorf("%w: SAML message is not raw DEFLATE: %v", ErrMalformed, err)
	}
	out, err := io.ReadAll(io.LimitReader(fr, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: SAML message is not raw DEFLATE: %v", ErrMalformed, err)
	}
	if len(out) > max {
		return nil, fmt.Errorf("%w: SAML message inflates beyond %d bytes", ErrMalformed, max)
	}
	if in.Len() != 0 {
		return nil, fmt.Errorf("%w: data after the DEFLATE stream", ErrMalformed)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty SAML message", ErrMalformed)
	}
	return out, nil
}

func decodeRedirect(r *http.Request, lim Limits) (*Message, error) {
	q, err := rawQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	m := &Message{Binding: spid.BindingRedirect}
	rawMsg, hasReq := q[ParamRequest]
	rawResp, hasResp := q[ParamResponse]
	switch {
	case hasReq && hasResp:
		return nil, fmt.Errorf("%w: both SAMLRequest and SAMLResponse present", ErrMalformed)
	case hasReq:
		m.Param = ParamRequest
	case hasResp:
		m.Param, rawMsg = ParamResponse, rawResp
	}
	if rawMsg == "" {
		return nil, fmt.Errorf("%w: SAMLRequest or SAMLResponse", ErrMissing)
	}
	rawAlg, ok := q[ParamSigAlg]
	if !ok || rawAlg == "" {
		return nil, fmt.Errorf("%w: SigAlg", ErrMissing)
	}
	rawSig, ok := q[ParamSignature]
	if !ok || rawSig == "" {
		return nil, fmt.Errorf("%w: Signature", ErrMissing)
	}
	if rawEnc, ok := q[ParamEncoding]; ok {
		enc, err := unescape(ParamEncoding, rawEnc, maxEncoding)
		if err != nil {
			return nil, err
		}
		if enc != spid.RedirectEncoding {
			return nil, fmt.Errorf("%w: SAMLEncoding %q not supported", ErrMalformed, enc)
		}
	}

	// Bound the encoded message before decoding anything: base64 of a
	// deflated document is never larger than base64 of the document.
	b64, err := unescape(m.Param, rawMsg, base64.StdEncoding.EncodedLen(lim.MaxMessage))
	if err != nil {
		return nil, err
	}
	deflated, err := strictBase64(m.Param, b64)
	if err != nil {
		return nil, err
	}
	if m.XML, err = inflate(deflated, lim.MaxMessage); err != nil {
		return nil, err
	}

	var relay string
	rawRelay, hasRelay := q[ParamRelayState]
	if hasRelay {
		if relay, err = relayState(rawRelay, lim); err != nil {
			return nil, err
		}
		m.RelayState, m.HasRelayState = relay, true
	}
	if m.SigAlg, err = unescape(ParamSigAlg, rawAlg, maxSigAlg); err != nil {
		return nil, err
	}
	sigB64, err := unescape(ParamSignature, rawSig, base64.StdEncoding.EncodedLen(maxSignature))
	if err != nil {
		return nil, err
	}
	if m.Signature, err = strictBase64(ParamSignature, sigB64); err != nil {
		return nil, err
	}

	m.SignedOctets = signedInput(m.Param, rawMsg, hasRelay, rawRelay, rawAlg)
	m.canonicalOctets = signedInput(m.Param, url.QueryEscape(b64), hasRelay,
		url.QueryEscape(relay), url.QueryEscape(m.SigAlg))

	if m.Doc, err = Parse(m.XML, lim.MaxDepth); err != nil {
		return nil, err
	}
	m.Root = m.Doc.Root()
	return m, nil
}

func relayState(raw string, lim Limits) (string, error) {
	v, err := unescape(ParamRelayState, raw, lim.MaxRelayState)
	if err != nil {
		return "", err
	}
	return v, checkRelayUTF8(v)
}

// checkRelayUTF8: RelayState goes back to the SP byte for byte inside an
// HTML form; invalid UTF-8 could not survive that unchanged.
func checkRelayUTF8(v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: RelayState is not valid UTF-8", ErrMalformed)
	}
	return nil
}

// signedInput is SAMLRequest=…[&RelayState=…]&SigAlg=… in that order
// (SAML bindings §3.4.4.1).
func signedInput(param, msg string, hasRelay bool, relay, alg string) []byte {
	var b strings.Builder
	b.WriteString(param + "=" + msg)
	if hasRelay {
		b.WriteString("&" + ParamRelayState + "=" + relay)
	}
	b.WriteString("&" + ParamSigAlg + "=" + alg)
	return []byte(b.String())
}

var redirectHashes = map[string]crypto.Hash{
	spid.AlgRSASHA256: crypto.SHA256,
	spid.AlgRSASHA384: crypto.SHA384,
	spid.AlgRSASHA512: crypto.SHA512,
}

// verifyQuery checks the Redirect query signature: raw octets first, then
// once the canonical re-encoding, never any other form (spec §3.1).
func (m *Message) verifyQuery(certs []*x509.Certificate, now time.Time) error {
	h, ok := redirectHashes[m.SigAlg]
	if !ok {
		if m.SigAlg == spid.AlgRSASHA1 {
			return fmt.Errorf("%w: SigAlg rsa-sha1 is no longer accepted", ErrSignature)
		}
		return fmt.Errorf("%w: SigAlg %q not accepted (RSA-SHA256/384/512 only)", ErrSignature, m.SigAlg)
	}
	keys := rsaKeys(certs, now)
	if len(keys) == 0 {
		return fmt.Errorf("%w: no trusted RSA certificate of at least %d bits valid now", ErrSignature, xmlsig.MinRSABits)
	}
	for _, input := range [][]byte{m.SignedOctets, m.canonicalOctets} {
		hh := h.New()
		hh.Write(input)
		sum := hh.Sum(nil)
		for _, k := range keys {
			if rsa.VerifyPKCS1v15(k, h, sum, m.Signature) == nil {
				return nil
			}
		}
		if bytes.Equal(m.SignedOctets, m.canonicalOctets) {
			break
		}
	}
	return fmt.Errorf("%w: query signature does not verify with the SP's certificates", ErrSignature)
}

func rsaKeys(certs []*x509.Certificate, now time.Time) []*rsa.PublicKey {
	var out []*rsa.PublicKey
	for _, c := range certs {
		if c == nil || now.Before(c.NotBefore) || now.After(c.NotAfter) {
			continue
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() >= xmlsig.MinRSABits {
			out = append(out, k)
		}
	}
	return out
}
