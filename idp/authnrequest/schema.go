package authnrequest

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// The structural checks of step 15: what saml-schema-protocol-2.0.xsd
// says about an AuthnRequest, as far as the earlier steps did not already
// cover it, plus the SPID rules on Subject, Conditions, Scoping and
// Extensions (spec §3.4). Every failure is nr08.

// rootAttrs are the unqualified attributes of AuthnRequestType.
var rootAttrs = map[string]bool{
	"ID": true, "Version": true, "IssueInstant": true, "Destination": true, "Consent": true,
	"ForceAuthn": true, "IsPassive": true, "ProtocolBinding": true,
	"AssertionConsumerServiceIndex": true, "AssertionConsumerServiceURL": true,
	"AttributeConsumingServiceIndex": true, "ProviderName": true,
}

type slot struct {
	ns, local string
}

// childOrder is the xs:sequence of AuthnRequestType; each at most once.
var childOrder = []slot{
	{spid.NSAssertion, "Issuer"},
	{spid.NSDSig, "Signature"},
	{spid.NSProtocol, "Extensions"},
	{spid.NSAssertion, "Subject"},
	{spid.NSProtocol, "NameIDPolicy"},
	{spid.NSAssertion, "Conditions"},
	{spid.NSProtocol, "RequestedAuthnContext"},
	{spid.NSProtocol, "Scoping"},
}

const (
	nameIDUnspecified11 = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nameIDUnspecified20 = "urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified" // the rules' spelling
)

func schema(root *etree.Element, req *Request) string {
	for _, a := range root.Attr {
		switch {
		case a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns"):
		case a.Space == "":
			if !rootAttrs[a.Key] {
				return fmt.Sprintf("attribute %s is not allowed on AuthnRequest", a.Key)
			}
		case a.NamespaceURI() == spid.NSProtocol:
			// anyAttribute is ##other: never the protocol namespace itself.
			return fmt.Sprintf("attribute %s:%s in the protocol namespace is not allowed", a.Space, a.Key)
		}
	}
	for _, k := range []string{"ForceAuthn", "IsPassive"} {
		if v, ok := binding.Attr(root, k); ok {
			b, err := parseBool(v)
			if err != nil {
				return fmt.Sprintf("%s %q is not a boolean", k, v)
			}
			if k == "ForceAuthn" {
				req.ForceAuthn = b
			}
		}
	}
	if reason := textOnlyWhitespace(root); reason != "" {
		return reason
	}

	pos := -1
	for _, c := range root.ChildElements() {
		i := slotOf(c)
		if i < 0 {
			return fmt.Sprintf("element {%s}%s is not allowed in AuthnRequest", c.NamespaceURI(), c.Tag)
		}
		if i <= pos {
			return fmt.Sprintf("element %s is repeated or out of schema order", c.Tag)
		}
		pos = i
		var reason string
		switch childOrder[i].local {
		case "Issuer":
			reason = noChildren(c)
		case "Extensions":
			reason = extensions(c, req)
		case "Subject":
			reason = subject(c, req)
		case "NameIDPolicy":
			reason = nameIDPolicyShape(c)
		case "Conditions":
			reason = conditions(c)
		case "RequestedAuthnContext":
			reason = requestedAuthnContextShape(c)
		case "Scoping":
			reason = scoping(c)
		}
		if reason != "" {
			return reason
		}
	}
	return ""
}

func slotOf(el *etree.Element) int {
	for i, s := range childOrder {
		if binding.Is(el, s.ns, s.local) {
			return i
		}
	}
	return -1
}

// textOnlyWhitespace: element-only content may hold whitespace, nothing else.
func textOnlyWhitespace(el *etree.Element) string {
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return fmt.Sprintf("text is not allowed directly inside %s", el.Tag)
		}
	}
	return ""
}

func noChildren(el *etree.Element) string {
	if len(el.ChildElements()) > 0 {
		return fmt.Sprintf("%s must not have child elements", el.Tag)
	}
	return ""
}

func extensions(el *etree.Element, req *Request) string {
	if r := textOnlyWhitespace(el); r != "" {
		return r
	}
	kids := el.ChildElements()
	if len(kids) == 0 {
		return "Extensions is empty"
	}
	seenPurpose := false
	for _, c := range kids {
		ns := c.NamespaceURI()
		if ns == spid.NSProtocol || ns == "" {
			return fmt.Sprintf("element {%s}%s is not allowed in Extensions", ns, c.Tag)
		}
		if binding.Is(c, spid.NSSPID, "RequiredAttributeAuthority") {
			req.AttributeAuthorities = append(req.AttributeAuthorities, aaLocations(c)...)
			continue
		}
		if !binding.Is(c, spid.NSSPID, "Purpose") {
			continue // other extensions (e.g. spid:AgeLimit) are ignored
		}
		if seenPurpose {
			return "more than one spid:Purpose"
		}
		seenPurpose = true
		v, err := binding.Text(c)
		if err != nil {
			return "spid:Purpose is malformed"
		}
		v = strings.TrimSpace(v)
		if v != "" && !purposes[v] {
			return fmt.Sprintf("spid:Purpose %q is not recognised (P, LP, PG, PF, PX)", v)
		}
		req.Purpose = v
	}
	return ""
}

// aaLocations reads the Location children of spid:RequiredAttributeAuthority,
// unqualified as AgID's tool writes them or spid:-qualified, trimmed; an
// empty or malformed one is skipped. Nothing in the element is ever an
// anomaly: a request whose AAs cannot be used is served without them
// (oidc-federation.md §9.2, A004–A010).
func aaLocations(el *etree.Element) []string {
	var out []string
	for _, l := range el.ChildElements() {
		if l.Tag != "Location" || (l.NamespaceURI() != "" && l.NamespaceURI() != spid.NSSPID) {
			continue
		}
		v, err := binding.Text(l)
		if v = strings.TrimSpace(v); err == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}

func subject(el *etree.Element, req *Request) string {
	if r := textOnlyWhitespace(el); r != "" {
		return r
	}
	kids := el.ChildElements()
	if len(kids) == 0 || !binding.Is(kids[0], spid.NSAssertion, "NameID") {
		return "Subject must start with saml:NameID"
	}
	for _, c := range kids[1:] {
		if !binding.Is(c, spid.NSAssertion, "SubjectConfirmation") {
			return fmt.Sprintf("element %s is not allowed in Subject", c.Tag)
		}
	}
	id := kids[0]
	if f, _ := binding.Attr(id, "Format"); f != nameIDUnspecified11 && f != nameIDUnspecified20 {
		return fmt.Sprintf("Subject NameID Format %q must be unspecified", f)
	}
	if nq, _ := binding.Attr(id, "NameQualifier"); strings.TrimSpace(nq) == "" {
		return "Subject NameID has no NameQualifier"
	}
	v, err := binding.Text(id)
	if err != nil {
		return "Subject NameID is malformed"
	}
	req.SubjectNameID = strings.TrimSpace(v)
	return ""
}

func nameIDPolicyShape(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key != "Format" && a.Key != "SPNameQualifier" && a.Key != "AllowCreate" {
			return fmt.Sprintf("attribute %s is not allowed on NameIDPolicy", a.Key)
		}
	}
	if len(el.ChildElements()) > 0 || textOnlyWhitespace(el) != "" {
		return "NameIDPolicy must be empty"
	}
	return ""
}

func conditions(el *etree.Element) string {
	for _, k := range []string{"NotBefore", "NotOnOrAfter"} {
		v, ok := binding.Attr(el, k)
		if !ok {
			return fmt.Sprintf("Conditions without %s", k)
		}
		if _, err := parseUTC(v); err != nil {
			return fmt.Sprintf("Conditions %s %q is not a UTC xs:dateTime", k, v)
		}
	}
	for _, c := range el.ChildElements() {
		switch {
		case binding.Is(c, spid.NSAssertion, "Condition"), binding.Is(c, spid.NSAssertion, "AudienceRestriction"),
			binding.Is(c, spid.NSAssertion, "OneTimeUse"), binding.Is(c, spid.NSAssertion, "ProxyRestriction"):
		default:
			return fmt.Sprintf("element %s is not allowed in Conditions", c.Tag)
		}
	}
	return ""
}

func requestedAuthnContextShape(el *etree.Element) string {
	if v, ok := binding.Attr(el, "Comparison"); ok {
		switch v {
		case spid.ComparisonExact, spid.ComparisonMinimum, spid.ComparisonBetter, spid.ComparisonMaximum:
		default:
			return fmt.Sprintf("Comparison %q is not exact, minimum, better or maximum", v)
		}
	}
	for _, c := range el.ChildElements() {
		if !binding.Is(c, spid.NSAssertion, "AuthnContextClassRef") {
			return fmt.Sprintf("element %s is not allowed in RequestedAuthnContext", c.Tag)
		}
	}
	return ""
}

// scoping: SPID reserves Scoping; if sent, ProxyCount must be 0 and any
// RequesterID is ignored.
func scoping(el *etree.Element) string {
	if v, _ := binding.Attr(el, "ProxyCount"); strings.TrimSpace(v) != "0" {
		return fmt.Sprintf("Scoping ProxyCount is %q, must be 0", v)
	}
	for _, c := range el.ChildElements() {
		if !binding.Is(c, spid.NSProtocol, "IDPList") && !binding.Is(c, spid.NSProtocol, "RequesterID") {
			return fmt.Sprintf("element %s is not allowed in Scoping", c.Tag)
		}
	}
	return ""
}
