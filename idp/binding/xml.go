package binding

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// Parse turns a received document into one etree tree after refusing
// everything a legitimate SAML message never contains and an attacker
// might use (spec security.md A.3, A.4, A.5, A.8, A.19):
//   - DOCTYPE or any other directive (so no entity is ever declared), and
//     references to undeclared entities;
//   - comments and processing instructions anywhere (only a leading XML
//     declaration is allowed), and a non-UTF-8 encoding;
//   - no root, more than one root, or non-whitespace outside the root;
//   - nesting deeper than maxDepth;
//   - duplicated attributes, an element with two ID-like attributes
//     (ID, Id, id, xyz:ID…), an ID value used twice, unbound prefixes;
//   - input that encoding/xml does not round-trip faithfully.
//
// Errors wrap ErrMalformed.
func Parse(data []byte, maxDepth int) (*etree.Document, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if err := scan(data, maxDepth); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: XML does not round-trip: %v", ErrMalformed, err)
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxDepth + 1}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if doc.Root() == nil {
		return nil, fmt.Errorf("%w: no root element", ErrMalformed)
	}
	if err := checkPrefixes(doc.Root()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return doc, nil
}

// scan walks the token stream once, before any tree is built.
func scan(data []byte, maxDepth int) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true // undeclared entities and malformed markup are errors
	depth, roots, n := 0, 0, 0
	ids := map[string]bool{}
	for ; ; n++ {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("XML not well-formed: %v", err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" || n != 0 {
				return errors.New("processing instruction not allowed")
			}
			if enc := declaredEncoding(t.Inst); enc != "" && !strings.EqualFold(enc, "UTF-8") {
				return fmt.Errorf("encoding %q not allowed, only UTF-8", enc)
			}
		case xml.Directive:
			return errors.New("DTD, DOCTYPE or other directive not allowed")
		case xml.Comment:
			return errors.New("XML comment not allowed")
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return errors.New("more than one root element")
				}
			}
			depth++
			if depth > maxDepth {
				return fmt.Errorf("nesting deeper than %d", maxDepth)
			}
			if err := checkAttrs(t, ids); err != nil {
				return err
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text outside the root element")
			}
		}
	}
	if roots == 0 {
		return errors.New("no root element")
	}
	return nil
}

func checkAttrs(t xml.StartElement, ids map[string]bool) error {
	if !qname(t.Name.Local) {
		return fmt.Errorf("invalid element name %q", t.Name.Local)
	}
	seen := map[xml.Name]bool{}
	idLike := 0
	for _, a := range t.Attr {
		if !qname(a.Name.Local) {
			return fmt.Errorf("invalid attribute name %q on %s", a.Name.Local, t.Name.Local)
		}
		if seen[a.Name] {
			return fmt.Errorf("attribute %s repeated on %s", a.Name.Local, t.Name.Local)
		}
		seen[a.Name] = true
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if strings.EqualFold(a.Name.Local, "id") {
			idLike++
		}
		if a.Name.Space == "" && a.Name.Local == "ID" {
			if ids[a.Value] {
				return fmt.Errorf("ID %q used twice", a.Value)
			}
			ids[a.Value] = true
		}
	}
	if idLike > 1 {
		return fmt.Errorf("element %s has more than one ID-like attribute", t.Name.Local)
	}
	return nil
}

// qname: after namespace resolution a local name is never empty and never
// holds a colon; encoding/xml lets both through in some spellings.
func qname(local string) bool {
	return local != "" && !strings.Contains(local, ":")
}

// declaredEncoding extracts encoding="…" from an XML declaration.
func declaredEncoding(inst []byte) string {
	s := string(inst)
	i := strings.Index(s, "encoding")
	if i < 0 {
		return ""
	}
	s = strings.TrimLeft(s[i+len("encoding"):], " \t\r\n")
	if !strings.HasPrefix(s, "=") {
		return ""
	}
	s = strings.TrimLeft(s[1:], " \t\r\n")
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') {
		return ""
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return ""
	}
	return s[1 : 1+end]
}

// checkPrefixes refuses element and attribute prefixes bound to nothing:
// namespaces are compared by URI, and an unbound prefix has none.
func checkPrefixes(el *etree.Element) error {
	if el.Space != "" && el.NamespaceURI() == "" {
		return fmt.Errorf("prefix %q of %s is not bound", el.Space, el.Tag)
	}
	for _, a := range el.Attr {
		if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" && a.NamespaceURI() == "" {
			return fmt.Errorf("prefix %q of attribute %s is not bound", a.Space, a.Key)
		}
	}
	for _, c := range el.ChildElements() {
		if err := checkPrefixes(c); err != nil {
			return err
		}
	}
	return nil
}

// Text returns the character data of an element that has no child
// elements, as the concatenation of all its text and CDATA pieces, so that
// no reader ever sees only part of a split value (security.md A.3).
func Text(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			return "", fmt.Errorf("%s has a child element %s where text is expected", el.Tag, t.Tag)
		default:
			return "", fmt.Errorf("%s contains a comment or processing instruction", el.Tag)
		}
	}
	return b.String(), nil
}

// Is reports whether el is the element local in namespace ns (compared by
// URI, never by prefix).
func Is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// Attr returns the unqualified attribute key of el: SAML protocol
// attributes carry no namespace, so a prefixed one with the same local name
// is another attribute and never matches.
func Attr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// Children returns el's child elements that are local in namespace ns, in
// document order.
func Children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if Is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}
