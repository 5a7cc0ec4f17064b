package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // only to build deliberately weak requests
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// sigInfo describes an enveloped ds:Signature found on an element.
type sigInfo struct {
	Present      bool
	Count        int    // number of ds:Signature children
	After        string // local name of the preceding sibling element ("" = first child)
	SigMethod    string
	DigestMethod string
	C14N         string
	Transforms   []string
	RefURI       string
	HasCert      bool
	Err          error // verification error; nil = verified with a trusted certificate
}

// inspectSignature reads the enveloped signature of el and verifies it with
// certs only (never with a key the message brings along).
func inspectSignature(el *etree.Element, certs []*x509.Certificate) sigInfo {
	var si sigInfo
	sigs := children(el, nsDS, "Signature")
	si.Count = len(sigs)
	if len(sigs) == 0 {
		si.Err = errors.New("no ds:Signature")
		return si
	}
	si.Present = true
	sig := sigs[0]
	if prev := sig.PrevSibling(); prev != nil {
		si.After = prev.Tag
	}
	if sinfo := child(sig, nsDS, "SignedInfo"); sinfo != nil {
		if m := child(sinfo, nsDS, "SignatureMethod"); m != nil {
			si.SigMethod, _ = attr(m, "Algorithm")
		}
		if m := child(sinfo, nsDS, "CanonicalizationMethod"); m != nil {
			si.C14N, _ = attr(m, "Algorithm")
		}
		refs := children(sinfo, nsDS, "Reference")
		if len(refs) > 0 {
			si.RefURI, _ = attr(refs[0], "URI")
			if d := child(refs[0], nsDS, "DigestMethod"); d != nil {
				si.DigestMethod, _ = attr(d, "Algorithm")
			}
			for _, t := range children(child(refs[0], nsDS, "Transforms"), nsDS, "Transform") {
				a, _ := attr(t, "Algorithm")
				si.Transforms = append(si.Transforms, a)
			}
		}
		if len(refs) != 1 {
			si.Err = fmt.Errorf("SignedInfo has %d References, want 1", len(refs))
			return si
		}
	}
	for _, c := range descendants(sig, nsDS, "X509Certificate") {
		if strings.TrimSpace(c.Text()) != "" {
			si.HasCert = true
		}
	}
	id, _ := attr(el, "ID")
	if si.RefURI != "#"+id || id == "" {
		si.Err = fmt.Errorf("Reference URI %q does not point to this element (ID %q)", si.RefURI, id)
		return si
	}
	if len(certs) == 0 {
		si.Err = errors.New("no trusted certificate to verify with")
		return si
	}
	si.Err = verifyWith(el, certs)
	return si
}

// verifyWith verifies el's enveloped signature against each trusted certificate.
func verifyWith(el *etree.Element, certs []*x509.Certificate) error {
	var last error
	for _, c := range certs {
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		if _, err := ctx.Validate(detached(el)); err != nil {
			last = err
			continue
		}
		return nil
	}
	return fmt.Errorf("signature does not verify with the metadata certificate(s): %w", last)
}

// strongSigAlg / strongDigest are the algorithms SPID accepts (spec §3.2).
func strongSigAlg(a string) bool {
	return a == algRSASHA256 || a == algRSASHA384 || a == algRSASHA512
}

func strongDigest(a string) bool {
	return a == digSHA256 || a == digSHA384a || a == digSHA384b || a == digSHA512
}

// signer is a key pair the simulator signs with.
type signer struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// signEnveloped adds an enveloped signature to el with the given signature
// method, placed right after the child named after ("" = first child).
func signEnveloped(el *etree.Element, s signer, alg string, after string) error {
	ctx, err := dsig.NewSigningContext(s.Key, [][]byte{s.Cert.Raw})
	if err != nil {
		return fmt.Errorf("signing context: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(alg); err != nil {
		return fmt.Errorf("signature method %s: %w", alg, err)
	}
	// goxmldsig canonicalises the element it signs in place, which drops
	// namespace declarations used only inside attribute values (xmlns:xs for
	// xsi:type="xs:string"); signing a detached copy keeps the document intact
	// while the digest stays the one every verifier computes.
	sig, err := ctx.ConstructSignature(detached(el), true)
	if err != nil {
		return fmt.Errorf("signing %s: %w", el.Tag, err)
	}
	pos := 0
	if after != "" {
		for i, tok := range el.Child {
			if c, ok := tok.(*etree.Element); ok && c.Tag == after {
				pos = i + 1
				break
			}
		}
	}
	el.InsertChildAt(pos, sig)
	return nil
}

func hashFor(alg string) (crypto.Hash, error) {
	switch alg {
	case algRSASHA1:
		return crypto.SHA1, nil
	case algRSASHA256:
		return crypto.SHA256, nil
	case algRSASHA384:
		return crypto.SHA384, nil
	case algRSASHA512:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unsupported signature algorithm %q", alg)
}

func digest(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA1:
		d := sha1.Sum(data) //nolint:gosec
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	}
	d := sha256.Sum256(data)
	return d[:]
}

// redirectQuery builds the HTTP-Redirect query for param (SAMLRequest or
// SAMLResponse): value is already deflated+base64; the signature covers
// param=v&RelayState=v&SigAlg=v encoded with url.QueryEscape (spec §3.1).
func redirectQuery(param, value, relayState string, s *signer, alg string) (string, error) {
	return redirectQueryWith(param, value, relayState, s, alg, url.QueryEscape)
}

// lowerHexEscape percent-encodes like url.QueryEscape but with lower-case
// hex digits, as some SP stacks do (RFC 3986 makes them equivalent).
func lowerHexEscape(s string) string {
	e := url.QueryEscape(s)
	var b strings.Builder
	for i := 0; i < len(e); i++ {
		if e[i] == '%' && i+2 < len(e) {
			b.WriteString(strings.ToLower(e[i : i+3]))
			i += 2
			continue
		}
		b.WriteByte(e[i])
	}
	return b.String()
}

func redirectQueryWith(param, value, relayState string, s *signer, alg string, esc func(string) string) (string, error) {
	q := param + "=" + esc(value)
	if relayState != "" {
		q += "&RelayState=" + esc(relayState)
	}
	if s == nil {
		return q, nil
	}
	q += "&SigAlg=" + esc(alg)
	sigAlg := alg
	if alg == algHMACSHA256 { // deliberately unsupported: sign with SHA-256 anyway
		sigAlg = algRSASHA256
	}
	h, err := hashFor(sigAlg)
	if err != nil {
		return "", err
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, h, digest(h, []byte(q)))
	if err != nil {
		return "", fmt.Errorf("signing query: %w", err)
	}
	return q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

// verifyRedirect checks an HTTP-Redirect signature received from the IdP:
// first over the raw octets of the query, then over the re-encoded values
// (the two forms spec §3.1 allows).
func verifyRedirect(rawQuery, param string, certs []*x509.Certificate) (alg string, err error) {
	parts := map[string]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := parts[k]; !dup {
			parts[k] = v
		}
	}
	rawAlg, ok := parts["SigAlg"]
	if !ok {
		return "", errors.New("no SigAlg parameter")
	}
	alg, err = url.QueryUnescape(rawAlg)
	if err != nil {
		return "", fmt.Errorf("SigAlg: %w", err)
	}
	sigB64, err := url.QueryUnescape(parts["Signature"])
	if err != nil || sigB64 == "" {
		return alg, errors.New("no or malformed Signature parameter")
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return alg, fmt.Errorf("Signature is not base64: %w", err)
	}
	h, err := hashFor(alg)
	if err != nil {
		return alg, err
	}
	build := func(enc func(string) string) string {
		s := param + "=" + enc(parts[param])
		if v, ok := parts["RelayState"]; ok {
			s += "&RelayState=" + enc(v)
		}
		return s + "&SigAlg=" + enc(rawAlg)
	}
	reenc := func(v string) string {
		d, err := url.QueryUnescape(v)
		if err != nil {
			return v
		}
		return url.QueryEscape(d)
	}
	inputs := []string{build(func(v string) string { return v }), build(reenc)}
	for _, c := range certs {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			continue
		}
		for _, in := range inputs {
			if rsa.VerifyPKCS1v15(pub, h, digest(h, []byte(in)), sig) == nil {
				return alg, nil
			}
		}
	}
	return alg, errors.New("query signature does not verify with the metadata certificate(s)")
}
