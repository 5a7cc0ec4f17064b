// Package xmlsig signs and verifies enveloped XML signatures the way the SPID
// profile wants them: RSA-SHA256, SHA-256 digest, exclusive c14n, the
// signature placed where the schema puts it, and verification only against
// certificates the caller trusts (never the message's own KeyInfo).
package xmlsig

import (
	"fmt"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/keys"
)

// Sign adds an enveloped signature to el (which must carry an ID attribute)
// with pair's key, inserted right after the first child whose local name is
// after (e.g. "Issuer"), or as the first child when after is "" or absent —
// the positions the SAML schemas require. el is changed in place.
func Sign(el *etree.Element, pair keys.Pair, after string) error {
	if el.SelectAttrValue("ID", "") == "" {
		return fmt.Errorf("xmlsig: element %s has no ID attribute", el.Tag)
	}
	ctx, err := dsig.NewSigningContext(pair.Key, [][]byte{pair.Cert.Raw})
	if err != nil {
		return fmt.Errorf("xmlsig: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return fmt.Errorf("xmlsig: %w", err)
	}
	// goxmldsig canonicalises the element it is given in place: exclusive
	// c14n drops namespace declarations that are used only inside attribute
	// values (xmlns:xs for xsi:type="xs:string"), which would leave el with an
	// unbound prefix. Signing a copy that carries every in-scope declaration
	// leaves el untouched and yields the digest any verifier computes.
	sig, err := ctx.ConstructSignature(withScope(el), true)
	if err != nil {
		return fmt.Errorf("xmlsig: signing %s: %w", el.Tag, err)
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

// withScope returns a deep copy of el, detached from its document, that
// declares every namespace in scope at el (its own declarations win over its
// ancestors', nearer ancestors over farther ones).
func withScope(el *etree.Element) *etree.Element {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		switch {
		case a.Space == "xmlns":
			declared[a.Key] = true
		case a.Space == "" && a.Key == "xmlns":
			declared[""] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			switch {
			case a.Space == "xmlns" && !declared[a.Key]:
				declared[a.Key] = true
				cp.CreateAttr("xmlns:"+a.Key, a.Value)
			case a.Space == "" && a.Key == "xmlns" && !declared[""]:
				declared[""] = true
				cp.CreateAttr("xmlns", a.Value)
			}
		}
	}
	return cp
}
