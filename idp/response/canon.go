package response

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// Canonical by construction.
//
// Every message is first written as the exclusive-c14n form of its root
// element: no self-closing tags, attributes in canonical order (namespace
// declarations first; every other attribute we emit is unprefixed and written
// in byte order of its name, except xsi:type which follows xmlns:xsi), each
// namespace declared on the outermost element that visibly uses its prefix,
// c14n character escaping, no whitespace between elements. The digest of an
// enveloped signature is then the SHA-256 of exactly those bytes (the
// enveloped-signature transform removes the Signature, which is inserted
// afterwards), and the signature element itself is written in canonical
// form, so signing an outer element after an inner one stays consistent.
//
// The one place where the emitted bytes differ from the canonical ones is
// xmlns:xs on the Assertion: xs is used only inside xsi:type values, which
// exc-c14n does not count as a use, so the declaration is dropped by every
// verifier's canonicaliser and must be left out of what we digest.

const (
	declSAML  = ` xmlns:saml="` + spid.NSAssertion + `"`
	declSAMLP = ` xmlns:samlp="` + spid.NSProtocol + `"`
	declDS    = ` xmlns:ds="` + spid.NSDSig + `"`
	declXS    = ` xmlns:xs="` + spid.NSXS + `"`
	declXSI   = ` xmlns:xsi="` + spid.NSXSI + `"`

	xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

	// signedInfoOpen is SignedInfo's start tag as canonicalised on its own
	// (it then carries the ds declaration it inherits in the document).
	signedInfoOpen = `<ds:SignedInfo` + declDS + `>`
	// signedInfoBody precedes the reference URI.
	signedInfoBody = `<ds:CanonicalizationMethod Algorithm="` + spid.C14NExcl + `"></ds:CanonicalizationMethod>` +
		`<ds:SignatureMethod Algorithm="` + spid.AlgRSASHA256 + `"></ds:SignatureMethod>` +
		`<ds:Reference URI="#`
	signedInfoTransforms = `"><ds:Transforms>` +
		`<ds:Transform Algorithm="` + spid.TransformEnveloped + `"></ds:Transform>` +
		`<ds:Transform Algorithm="` + spid.C14NExcl + `"></ds:Transform>` +
		`</ds:Transforms>` +
		`<ds:DigestMethod Algorithm="` + spid.DigestSHA256 + `"></ds:DigestMethod>` +
		`<ds:DigestValue>`
	signedInfoClose = `</ds:DigestValue></ds:Reference></ds:SignedInfo>`
)

// checkValue refuses what cannot go into our canonical XML unchanged: empty
// values, invalid UTF-8, control characters (none is meaningful in SAML
// values, and refusing them keeps c14n escaping to &, <, > and "), the
// non-characters U+FFFE/U+FFFF, and surrounding whitespace (SP libraries
// compare Issuer, NameID, Audience byte for byte).
func checkValue(field, v string) error {
	if v == "" {
		return fmt.Errorf("response: %s is empty", field)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("response: %s is not valid UTF-8", field)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7F || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("response: %s contains control character %U", field, r)
		}
	}
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("response: %s has surrounding whitespace", field)
	}
	return nil
}

// appendText appends s escaped as c14n escapes text nodes.
func appendText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendAttr appends ` name="value"` with value escaped as c14n escapes
// attribute values (checkValue already excluded tab, CR and LF).
func appendAttr(dst []byte, name, value string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, '=', '"')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// appendSignature appends the ds:Signature element, in canonical form, of
// the element with ID id whose canonical form (without this signature) is
// the concatenation of parts.
func (b *Builder) appendSignature(dst []byte, id string, parts ...[]byte) ([]byte, error) {
	pair := b.pair()
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var digest [sha256.Size]byte
	h.Sum(digest[:0])

	// SignedInfo without its start tag; the start tag differs between the
	// signed form (standalone, with xmlns:ds) and the emitted one.
	var siBuf [640]byte
	si := append(siBuf[:0], signedInfoBody...)
	si = append(si, id...) // an NCName: nothing to escape
	si = append(si, signedInfoTransforms...)
	si = base64.StdEncoding.AppendEncode(si, digest[:])
	si = append(si, signedInfoClose...)

	h.Reset()
	h.Write([]byte(signedInfoOpen))
	h.Write(si)
	var siDigest [sha256.Size]byte
	h.Sum(siDigest[:0])
	sig, err := pair.SignSHA256(siDigest[:])
	if err != nil {
		return nil, fmt.Errorf("response: signing %s: %w", id, err)
	}

	dst = append(dst, `<ds:Signature`+declDS+`><ds:SignedInfo>`...)
	dst = append(dst, si...)
	dst = append(dst, `<ds:SignatureValue>`...)
	dst = base64.StdEncoding.AppendEncode(dst, sig)
	dst = append(dst, `</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>`...)
	dst = base64.StdEncoding.AppendEncode(dst, pair.Cert.Raw)
	dst = append(dst, `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`...)
	return dst, nil
}

// signatureLen estimates the size of a Signature element, to size buffers.
func (b *Builder) signatureLen() int {
	pair := b.pair()
	return 1200 + pair.SignatureSize()*4/3 + len(pair.Cert.Raw)*4/3
}

// finish signs the canonical message canon (root ID id) with the signature
// inserted at sigAt (right after the root's Issuer) and returns the document
// to send. When unsigned, the message is returned as is (HTTP-Redirect
// carries the signature in the query string instead).
func (b *Builder) finish(canon []byte, id string, sigAt int, unsigned bool) ([]byte, error) {
	if unsigned {
		out := make([]byte, 0, len(xmlDecl)+len(canon))
		out = append(out, xmlDecl...)
		return append(out, canon...), nil
	}
	out := make([]byte, 0, len(xmlDecl)+len(canon)+b.signatureLen())
	out = append(out, xmlDecl...)
	out = append(out, canon[:sigAt]...)
	out, err := b.appendSignature(out, id, canon)
	if err != nil {
		return nil, err
	}
	return append(out, canon[sigAt:]...), nil
}

// appendIssuer appends the saml:Issuer of a protocol message (the Response
// or a logout message), declaring saml there since the samlp root does not
// use it. qualified adds NameQualifier, which SPID logout messages require.
func (b *Builder) appendIssuer(dst []byte, qualified bool) []byte {
	dst = append(dst, `<saml:Issuer`+declSAML...)
	dst = appendAttr(dst, "Format", spid.NameIDEntity)
	if qualified {
		dst = appendAttr(dst, "NameQualifier", b.EntityID)
	}
	dst = append(dst, '>')
	dst = appendText(dst, b.EntityID)
	return append(dst, `</saml:Issuer>`...)
}
