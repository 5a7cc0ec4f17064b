package metadata

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// scanXML checks what etree does not: no DTD or other directive, exactly
// one root element, and that encoding/xml round-trips every token (the
// mattermost validator, against namespace-confusion attacks).
func scanXML(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("DOCTYPE or other directive is not allowed")
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text outside the root element")
			}
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d root elements, want 1", roots)
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("XML does not round-trip: %w", err)
	}
	return nil
}

// attr returns the value of the unprefixed attribute key. etree's
// SelectAttr would also match "x:key", which lets a crafted document
// smuggle a second value.
func attr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// xmlLang returns the xml:lang attribute of el.
func xmlLang(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space == "xml" && a.Key == "lang" {
			return a.Value
		}
	}
	return ""
}

// children returns the child elements of el in namespace ns called local.
func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// descendants returns every element below el (el excluded) in ns called local.
func descendants(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
		out = append(out, descendants(c, ns, local)...)
	}
	return out
}

var (
	allowedSigMethods = map[string]bool{spid.AlgRSASHA256: true, spid.AlgRSASHA384: true, spid.AlgRSASHA512: true}
	allowedDigests    = map[string]bool{spid.DigestSHA256: true, spid.DigestSHA384: true, spid.DigestSHA512: true}
	allowedC14N       = map[string]bool{
		spid.C14NExcl: true,
		"http://www.w3.org/TR/2001/REC-xml-c14n-20010315": true,
		"http://www.w3.org/2006/12/xml-c14n11":            true,
	}
)

// checkSignatureShape enforces the shape a metadata signature must have
// before any cryptography: exactly one ds:Signature in the document, as the
// first child of the root, with one Reference to the root's ID, RSA-SHA2
// and SHA-2 digests only. Together with goxmldsig this rules out signature
// wrapping: the only signed element is the root itself.
//
// An aggregate (EntitiesDescriptor) holds entities that carry signatures of
// their own; there only the root's own children count, and the entities'
// signatures are checked one by one afterwards.
func checkSignatureShape(root *etree.Element) error {
	id, _ := attr(root, "ID")
	if id == "" {
		return fmt.Errorf("%s has no ID attribute to sign", root.Tag)
	}
	all := descendants(root, spid.NSDSig, "Signature")
	if root.Tag == "EntitiesDescriptor" {
		all = children(root, spid.NSDSig, "Signature")
	}
	switch len(all) {
	case 0:
		return errors.New("no enveloped ds:Signature")
	case 1:
	default:
		return fmt.Errorf("%d ds:Signature elements, want exactly 1", len(all))
	}
	sig := all[0]
	if first := root.ChildElements(); first[0] != sig {
		return fmt.Errorf("ds:Signature is not the first child of %s", root.Tag)
	}
	si := children(sig, spid.NSDSig, "SignedInfo")
	if len(si) != 1 {
		return errors.New("ds:Signature needs exactly one SignedInfo")
	}
	if c := children(si[0], spid.NSDSig, "CanonicalizationMethod"); len(c) != 1 || !allowedC14N[mustAttr(c[0], "Algorithm")] {
		return errors.New("CanonicalizationMethod missing or not supported")
	}
	sm := children(si[0], spid.NSDSig, "SignatureMethod")
	if len(sm) != 1 {
		return errors.New("SignedInfo needs exactly one SignatureMethod")
	}
	if alg := mustAttr(sm[0], "Algorithm"); !allowedSigMethods[alg] {
		return fmt.Errorf("SignatureMethod %q not accepted (want rsa-sha256, rsa-sha384 or rsa-sha512)", alg)
	}
	refs := children(si[0], spid.NSDSig, "Reference")
	if len(refs) != 1 {
		return fmt.Errorf("%d References, want exactly 1", len(refs))
	}
	if uri, _ := attr(refs[0], "URI"); uri != "#"+id {
		return fmt.Errorf("Reference URI %q does not point at the %s ID %q", uri, root.Tag, id)
	}
	dm := children(refs[0], spid.NSDSig, "DigestMethod")
	if len(dm) != 1 || !allowedDigests[mustAttr(dm[0], "Algorithm")] {
		return errors.New("DigestMethod missing or not SHA-256/384/512")
	}
	for _, tr := range children(refs[0], spid.NSDSig, "Transforms") {
		for _, t := range tr.ChildElements() {
			if alg := mustAttr(t, "Algorithm"); alg != spid.TransformEnveloped && !allowedC14N[alg] {
				return fmt.Errorf("transform %q not accepted", alg)
			}
		}
	}
	for _, ki := range children(sig, spid.NSDSig, "KeyInfo") {
		for _, c := range ki.ChildElements() {
			if c.NamespaceURI() != spid.NSDSig || c.Tag != "X509Data" {
				return fmt.Errorf("KeyInfo/%s not accepted (only X509Data)", c.Tag)
			}
		}
	}
	return nil
}

func mustAttr(el *etree.Element, key string) string {
	v, _ := attr(el, key)
	return v
}

// verifyEnveloped checks the enveloped signature of root with each of
// certs in turn (never with a certificate found only in the signature's
// KeyInfo: goxmldsig requires KeyInfo's certificate to be one of the
// roots) and returns the signed content, re-parsed from the verified
// canonical bytes.
func verifyEnveloped(root *etree.Element, certs []*x509.Certificate, now time.Time) (*etree.Element, error) {
	if err := checkSignatureShape(root); err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no signing certificate to verify with")
	}
	var errs []string
	for _, c := range certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		vc.Clock = dsig.NewFakeClockAt(now)
		verified, err := vc.Validate(root)
		if err == nil {
			return verified, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("signature does not verify with the metadata's signing certificate(s): %s", strings.Join(errs, "; "))
}
