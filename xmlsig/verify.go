package xmlsig

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// Errors returned by Verify. Every failure wraps ErrInvalidSignature;
// a document without any ds:Signature also wraps ErrMissingSignature.
var (
	ErrInvalidSignature = errors.New("xmlsig: signature not valid")
	ErrMissingSignature = errors.New("xmlsig: no ds:Signature")
)

// MinRSABits is the smallest RSA modulus accepted for a verifying key
// (spec security.md A.13).
const MinRSABits = 2048

var (
	allowedSignatureMethods = map[string]bool{
		spid.AlgRSASHA256: true,
		spid.AlgRSASHA384: true,
		spid.AlgRSASHA512: true,
	}
	// SHA-384 also has the xmlenc#sha384 spelling the AgID tools list; the
	// engine (goxmldsig) does not know it, so it cannot be accepted here.
	allowedDigestMethods = map[string]bool{
		spid.DigestSHA256: true,
		spid.DigestSHA384: true,
		spid.DigestSHA512: true,
	}
)

// Verify checks the enveloped signature of root against certs only, at the
// current time. See VerifyAt.
func Verify(root *etree.Element, certs []*x509.Certificate) error {
	return VerifyAt(root, certs, time.Now())
}

// VerifyAt checks that root carries exactly one enveloped signature, made by
// the key of one of certs (RSA ≥ 2048 bits, valid at now), over root itself.
//
// The structural rules come first, so that signature wrapping (XSW1–8),
// reference and transform tricks and KeyInfo injection fail before any
// cryptography runs (spec security.md A.1, A.5–A.7, A.13):
//   - exactly one ds:Signature in the whole tree, a direct child of root;
//   - ds:Signature holds SignedInfo, SignatureValue and optionally KeyInfo,
//     in that order, nothing else (no ds:Object);
//   - exclusive c14n without comments; RSA-SHA256/384/512;
//   - exactly one Reference, URI "#"+root's ID, that ID carried by no other
//     element, and no element with two ID-like attributes;
//   - transforms exactly enveloped-signature then exclusive c14n;
//   - digest SHA-256/384/512;
//   - KeyInfo, when present, holds only X509Data / KeyName / KeyValue, and
//     every X509Certificate in it is one of certs (never used as a key).
//
// goxmldsig then performs the digest and signature check with one trusted
// certificate at a time, and the element it reports as verified must be
// root (same name, namespace and ID).
func VerifyAt(root *etree.Element, certs []*x509.Certificate, now time.Time) error {
	if root == nil {
		return fmt.Errorf("%w: no element", ErrInvalidSignature)
	}
	sig, err := checkStructure(root, certs)
	if err != nil {
		return err
	}
	usable := usableCerts(certs, now)
	if len(usable) == 0 {
		return fmt.Errorf("%w: no trusted RSA certificate of at least %d bits valid at %s",
			ErrInvalidSignature, MinRSABits, now.UTC().Format(time.RFC3339))
	}

	// Work on a copy without KeyInfo: KeyInfo is outside the signed data, and
	// without it goxmldsig verifies with the single certificate we give it
	// instead of picking a key from the message.
	doc := root.Copy()
	if docSig, ok := doc.Child[sig.Index()].(*etree.Element); ok {
		for _, k := range docSig.ChildElements() {
			if k.Tag == "KeyInfo" {
				docSig.RemoveChild(k)
			}
		}
	}
	// Namespace declarations inherited from ancestors of root (none in a
	// parsed message, where root is the document root) would be lost by
	// Copy; root is required to be self-contained.
	id := rootID(root)
	var lastErr error
	for _, cert := range usable {
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		ctx.Clock = dsig.NewFakeClockAt(now)
		verified, err := ctx.Validate(doc)
		if err != nil {
			lastErr = err
			continue
		}
		if verified == nil || verified.Tag != root.Tag || verified.NamespaceURI() != root.NamespaceURI() ||
			rootID(verified) != id {
			return fmt.Errorf("%w: the verified element is not the message root", ErrInvalidSignature)
		}
		return nil
	}
	return fmt.Errorf("%w: %v", ErrInvalidSignature, lastErr)
}

// usableCerts keeps the RSA certificates of adequate size valid at now.
func usableCerts(certs []*x509.Certificate, now time.Time) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if c == nil || now.Before(c.NotBefore) || now.After(c.NotAfter) {
			continue
		}
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < MinRSABits {
			continue
		}
		out = append(out, c)
	}
	return out
}

func rootID(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == "ID" {
			return a.Value
		}
	}
	return ""
}

func isDS(el *etree.Element, local string) bool {
	return el.Tag == local && el.NamespaceURI() == spid.NSDSig
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSignature}, args...)...)
}

// checkStructure enforces the shape rules and returns the signature element.
func checkStructure(root *etree.Element, certs []*x509.Certificate) (*etree.Element, error) {
	id := rootID(root)
	if id == "" {
		return nil, invalid("root element %s has no ID attribute", root.Tag)
	}

	var sigs []*etree.Element
	idCount := 0
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		idLike := 0
		for _, a := range el.Attr {
			if strings.EqualFold(a.Key, "id") {
				idLike++
				if a.Value == id {
					idCount++
				}
			}
		}
		if idLike > 1 {
			return invalid("element %s carries more than one ID-like attribute", el.Tag)
		}
		if isDS(el, "Signature") {
			sigs = append(sigs, el)
		}
		for _, c := range el.ChildElements() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	if idCount != 1 {
		return nil, invalid("ID %q appears on %d elements", id, idCount)
	}
	switch {
	case len(sigs) == 0:
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, ErrMissingSignature)
	case len(sigs) > 1:
		return nil, invalid("%d ds:Signature elements, want exactly one", len(sigs))
	}
	sig := sigs[0]
	if sig.Parent() != root {
		return nil, invalid("ds:Signature is not a direct child of %s", root.Tag)
	}

	kids := sig.ChildElements()
	if len(kids) < 2 || len(kids) > 3 || !isDS(kids[0], "SignedInfo") || !isDS(kids[1], "SignatureValue") ||
		(len(kids) == 3 && !isDS(kids[2], "KeyInfo")) {
		return nil, invalid("ds:Signature must contain SignedInfo, SignatureValue and optionally KeyInfo, in that order")
	}
	if err := checkSignedInfo(kids[0], id); err != nil {
		return nil, err
	}
	sv := strings.Join(strings.Fields(kids[1].Text()), "")
	if sv == "" {
		return nil, invalid("empty SignatureValue")
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(sv); err != nil {
		return nil, invalid("SignatureValue is not base64")
	}
	if len(kids) == 3 {
		if err := checkKeyInfo(kids[2], certs); err != nil {
			return nil, err
		}
	}
	return sig, nil
}

func checkSignedInfo(si *etree.Element, id string) error {
	kids := si.ChildElements()
	if len(kids) != 3 || !isDS(kids[0], "CanonicalizationMethod") || !isDS(kids[1], "SignatureMethod") ||
		!isDS(kids[2], "Reference") {
		return invalid("SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference")
	}
	if alg := kids[0].SelectAttrValue("Algorithm", ""); alg != spid.C14NExcl {
		return invalid("canonicalization %q not allowed, want %s", alg, spid.C14NExcl)
	}
	if alg := kids[1].SelectAttrValue("Algorithm", ""); !allowedSignatureMethods[alg] {
		return invalid("signature method %q not allowed", alg)
	}
	ref := kids[2]
	if uri, ok := attr(ref, "URI"); !ok || uri != "#"+id {
		return invalid("Reference URI %q does not point at the root ID %q", uri, id)
	}
	rk := ref.ChildElements()
	if len(rk) != 3 || !isDS(rk[0], "Transforms") || !isDS(rk[1], "DigestMethod") || !isDS(rk[2], "DigestValue") {
		return invalid("Reference must hold Transforms, DigestMethod and DigestValue")
	}
	tr := rk[0].ChildElements()
	if len(tr) != 2 || !isDS(tr[0], "Transform") || !isDS(tr[1], "Transform") ||
		tr[0].SelectAttrValue("Algorithm", "") != spid.TransformEnveloped ||
		tr[1].SelectAttrValue("Algorithm", "") != spid.C14NExcl {
		return invalid("transforms must be exactly enveloped-signature then exclusive c14n")
	}
	if len(tr[0].ChildElements()) != 0 {
		return invalid("enveloped-signature transform has children")
	}
	for _, c := range tr[1].ChildElements() {
		// An InclusiveNamespaces PrefixList is the only parameter exc-c14n has.
		if c.Tag != "InclusiveNamespaces" || c.NamespaceURI() != spid.C14NExcl {
			return invalid("unexpected %s inside the exc-c14n transform", c.Tag)
		}
	}
	if alg := rk[1].SelectAttrValue("Algorithm", ""); !allowedDigestMethods[alg] {
		return invalid("digest method %q not allowed", alg)
	}
	if strings.TrimSpace(rk[2].Text()) == "" {
		return invalid("empty DigestValue")
	}
	return nil
}

func checkKeyInfo(ki *etree.Element, certs []*x509.Certificate) error {
	for _, c := range ki.ChildElements() {
		switch {
		case isDS(c, "X509Data"):
			for _, x := range c.ChildElements() {
				if !isDS(x, "X509Certificate") {
					// X509IssuerSerial, X509SubjectName, X509SKI: descriptive
					// only, never used to find a key.
					continue
				}
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(x.Text()), ""))
				if err != nil {
					return invalid("KeyInfo X509Certificate is not base64")
				}
				if !knownCert(der, certs) {
					return invalid("KeyInfo certificate is not one of the trusted certificates")
				}
			}
		case isDS(c, "KeyName"), isDS(c, "KeyValue"):
			// Never dereferenced; verification uses the trusted certificates.
		default:
			// RetrievalMethod and anything else could point elsewhere.
			return invalid("KeyInfo child %s not allowed", c.Tag)
		}
	}
	return nil
}

func knownCert(der []byte, certs []*x509.Certificate) bool {
	for _, c := range certs {
		if c != nil && string(c.Raw) == string(der) {
			return true
		}
	}
	return false
}

func attr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}
