package metadata

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

// MaxMetadataSize bounds SP metadata documents. Real SP metadata is a few
// tens of KiB; the bound keeps a hostile file from costing much memory.
const MaxMetadataSize = 1 << 20

// MaxEntityIDLength is the SPID limit on entityID (av29 XSD).
const MaxEntityIDLength = 1024

// ParseOptions control ParseSP.
type ParseOptions struct {
	// Production applies the production profile: HTTPS endpoints and
	// entityID without explicit port, the full AgID SP certificate profile,
	// and a billing contact for private SPs.
	Production bool
	Now        func() time.Time // nil means time.Now
}

// SPMetadata is the result of a successful parse: the run-time SP plus what
// the operator and the registry need besides.
type SPMetadata struct {
	SP *SP
	// Warnings are SHOULD-level findings that do not reject the metadata,
	// one line each, prefixed by the check name.
	Warnings []string
	// ValidUntil is EntityDescriptor/@validUntil; zero when absent.
	ValidUntil time.Time
	// Public is true for a public-sector SP (spid:Public), false for a
	// private one (spid:Private).
	Public bool
	// OrganizationName is Organization/OrganizationName by xml:lang.
	OrganizationName map[string]string
}

// Check names used in ValidationError. They are stable: tests, logs and
// operators match on them.
const (
	CheckSize                = "size"
	CheckXML                 = "xml"
	CheckRoot                = "root"
	CheckEntityID            = "entity-id"
	CheckValidUntil          = "valid-until"
	CheckSignature           = "signature"
	CheckSPSSODescriptor     = "sp-descriptor"
	CheckProtocolSupport     = "protocol-support"
	CheckAuthnRequestsSigned = "authn-requests-signed"
	CheckSigningKey          = "signing-key"
	CheckCertificate         = "certificate"
	CheckEncryptionKey       = "encryption-key"
	CheckNameIDFormat        = "nameid-format"
	CheckSLO                 = "slo"
	CheckACS                 = "acs"
	CheckACSDefault          = "acs-default"
	CheckAttributeService    = "attribute-service"
	CheckOrganization        = "organization"
	CheckContact             = "contact"
	CheckBilling             = "billing"
	// Warning-only checks.
	CheckWantAssertionsSigned = "want-assertions-signed"
	CheckAttributeNameFormat  = "attribute-name-format"
	CheckAggregator           = "aggregator"
)

// Failure is one failed check.
type Failure struct {
	Check  string // one of the Check* names
	Detail string
}

// ValidationError lists every check the metadata failed.
type ValidationError struct {
	EntityID string // as read from the document, possibly empty
	Failures []Failure
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	who := e.EntityID
	if who == "" {
		who = "(no entityID)"
	}
	fmt.Fprintf(&b, "metadata: SP metadata for %s failed %d check(s):", who, len(e.Failures))
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s: %s", f.Check, f.Detail)
	}
	return b.String()
}

// Has reports whether check is among the failures.
func (e *ValidationError) Has(check string) bool {
	for _, f := range e.Failures {
		if f.Check == check {
			return true
		}
	}
	return false
}

// ParseSP parses SP metadata and runs every check of spec §2.2, returning
// the run-time SP or a *ValidationError naming each failed check.
func ParseSP(data []byte, opts ParseOptions) (*SP, error) {
	md, err := ParseSPMetadata(data, opts)
	if err != nil {
		return nil, err
	}
	return md.SP, nil
}

type parser struct {
	opts     ParseOptions
	now      time.Time
	failures []Failure
	warnings []string
}

func (p *parser) fail(check, format string, a ...any) {
	p.failures = append(p.failures, Failure{Check: check, Detail: fmt.Sprintf(format, a...)})
}

func (p *parser) warn(check, format string, a ...any) {
	p.warnings = append(p.warnings, check+": "+fmt.Sprintf(format, a...))
}

// ParseSPMetadata is ParseSP returning the warnings and the extra facts
// the registry keeps.
func ParseSPMetadata(data []byte, opts ParseOptions) (*SPMetadata, error) {
	p := &parser{opts: opts, now: time.Now()}
	if opts.Now != nil {
		p.now = opts.Now()
	}
	if len(data) > MaxMetadataSize {
		p.fail(CheckSize, "document of %d bytes exceeds %d", len(data), MaxMetadataSize)
		return nil, &ValidationError{Failures: p.failures}
	}
	if err := scanXML(data); err != nil {
		p.fail(CheckXML, "%v", err)
		return nil, &ValidationError{Failures: p.failures}
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		p.fail(CheckXML, "not well-formed: %v", err)
		return nil, &ValidationError{Failures: p.failures}
	}
	root := doc.Root()
	if root == nil || root.Tag != "EntityDescriptor" || root.NamespaceURI() != spid.NSMetadata {
		p.fail(CheckRoot, "root element must be a single md:EntityDescriptor")
		return nil, &ValidationError{Failures: p.failures}
	}
	entityID, _ := attr(root, "entityID")

	// The signature is checked against the signing certificates the
	// document itself publishes: SP metadata is self-signed, and its trust
	// comes from how it reached us (operator, registry).
	sp := &SP{EntityID: entityID}
	certs := p.signingCertificates(root, sp, false)
	content := root
	if verified, err := verifyEnveloped(root, certs, p.now); err != nil {
		p.fail(CheckSignature, "%v", err)
	} else {
		// From here on read only what the signature covers. A fresh SP
		// collects the certificates again from the signed copy.
		content = verified
		sp = &SP{EntityID: entityID}
	}
	md := &SPMetadata{SP: sp, OrganizationName: map[string]string{}}
	p.checkContent(content, md)
	if len(p.failures) > 0 {
		return nil, &ValidationError{EntityID: entityID, Failures: p.failures}
	}
	md.Warnings = p.warnings
	return md, nil
}

func (p *parser) checkContent(root *etree.Element, md *SPMetadata) {
	sp := md.SP
	p.checkEntityID(sp.EntityID)
	if v, ok := attr(root, "validUntil"); ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		switch {
		case err != nil:
			p.fail(CheckValidUntil, "validUntil %q is not an xs:dateTime", v)
		case !t.After(p.now):
			p.fail(CheckValidUntil, "metadata expired at %s", t.UTC().Format(time.RFC3339))
		default:
			md.ValidUntil = t
		}
	}
	if n := len(children(root, spid.NSMetadata, "IDPSSODescriptor")); n > 0 {
		p.fail(CheckSPSSODescriptor, "metadata also describes an identity provider")
	}
	ssos := children(root, spid.NSMetadata, "SPSSODescriptor")
	if len(ssos) != 1 {
		p.fail(CheckSPSSODescriptor, "%d SPSSODescriptor elements, want exactly 1", len(ssos))
	}
	public := p.checkContacts(root, md)
	md.Public = public
	if len(ssos) == 1 {
		d := ssos[0]
		pse, _ := attr(d, "protocolSupportEnumeration")
		if !containsField(pse, spid.ProtocolSupport) {
			p.fail(CheckProtocolSupport, "protocolSupportEnumeration %q lacks %s", pse, spid.ProtocolSupport)
		}
		if v, _ := attr(d, "AuthnRequestsSigned"); v != "true" {
			p.fail(CheckAuthnRequestsSigned, "AuthnRequestsSigned is %q, want \"true\"", v)
		}
		if v, _ := attr(d, "WantAssertionsSigned"); v != "true" {
			p.warn(CheckWantAssertionsSigned, "WantAssertionsSigned is %q; SPID recommends \"true\"", v)
		}
		certs := p.signingCertificates(root, sp, true)
		for _, c := range certs {
			p.checkCertificate(c, sp.EntityID, public)
		}
		p.checkNameIDFormats(d)
		p.checkSLO(d, sp)
		p.checkACS(d, sp)
		p.checkAttributeServices(d, sp)
	}
	p.checkOrganization(root, md)
}

func containsField(list, want string) bool {
	for _, f := range strings.Fields(list) {
		if f == want {
			return true
		}
	}
	return false
}

func (p *parser) checkEntityID(id string) {
	switch {
	case id == "":
		p.fail(CheckEntityID, "entityID is missing or empty")
		return
	case len(id) > MaxEntityIDLength:
		p.fail(CheckEntityID, "entityID is %d characters long, limit %d", len(id), MaxEntityIDLength)
		return
	}
	u, err := url.Parse(id)
	if err != nil || !u.IsAbs() {
		p.fail(CheckEntityID, "entityID %q is not an absolute URI", id)
		return
	}
	if p.opts.Production {
		if u.Scheme != "https" || u.Host == "" {
			p.fail(CheckEntityID, "entityID %q must be an HTTPS URL in production", id)
		}
		if u.Port() != "" {
			p.fail(CheckEntityID, "entityID %q must not carry an explicit port in production", id)
		}
	}
}

// checkURL validates an endpoint Location: absolute http(s) without
// userinfo or fragment (never javascript: or data:), and in production
// HTTPS without an explicit port.
func (p *parser) checkURL(check, what, s string) bool {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		p.fail(check, "%s %q is not a URL", what, s)
		return false
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		p.fail(check, "%s %q must be an absolute http(s) URL without userinfo or fragment", what, s)
		return false
	}
	if p.opts.Production && (u.Scheme != "https" || u.Port() != "") {
		p.fail(check, "%s %q must be HTTPS without an explicit port in production", what, s)
		return false
	}
	return true
}

// signingCertificates returns the certificates of the SPSSODescriptor's
// signing KeyDescriptors (use="signing" or no use). With report set it
// records problems as failures and fills sp.Certificates.
func (p *parser) signingCertificates(root *etree.Element, sp *SP, report bool) []*x509.Certificate {
	var certs []*x509.Certificate
	for _, d := range children(root, spid.NSMetadata, "SPSSODescriptor") {
		for _, kd := range children(d, spid.NSMetadata, "KeyDescriptor") {
			use, _ := attr(kd, "use")
			if use != "" && use != "signing" && use != "encryption" {
				if report {
					p.fail(CheckSigningKey, "KeyDescriptor use=%q is not signing or encryption", use)
				}
				continue
			}
			var certEls []*etree.Element
			for _, ki := range children(kd, spid.NSDSig, "KeyInfo") {
				for _, xd := range children(ki, spid.NSDSig, "X509Data") {
					certEls = append(certEls, children(xd, spid.NSDSig, "X509Certificate")...)
				}
			}
			check := CheckSigningKey
			if use == "encryption" {
				check = CheckEncryptionKey
			}
			if len(certEls) == 0 && report {
				p.fail(check, "KeyDescriptor use=%q has no X509Certificate", use)
			}
			for _, ce := range certEls {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(ce.Text()), ""))
				if err != nil || len(der) == 0 {
					if report {
						p.fail(check, "X509Certificate is empty or not base64")
					}
					continue
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					if report {
						p.fail(check, "X509Certificate does not parse: %v", err)
					}
					continue
				}
				if use != "encryption" {
					certs = append(certs, c)
				}
			}
		}
	}
	if report {
		if len(certs) == 0 {
			p.fail(CheckSigningKey, "no usable KeyDescriptor use=\"signing\" certificate")
		}
		sp.Certificates = certs
	}
	return certs
}

func (p *parser) checkCertificate(c *x509.Certificate, entityID string, public bool) {
	subject := c.Subject.CommonName
	if subject == "" {
		subject = c.Subject.String()
	}
	if err := keys.CheckStrength(c); err != nil {
		p.fail(CheckCertificate, "signing certificate %q: %v", subject, err)
	}
	if err := keys.CheckValidity(c, p.now); err != nil {
		p.fail(CheckCertificate, "signing certificate %q: %v", subject, err)
	}
	if p.opts.Production {
		prof := keys.ProfileSPPrivate
		if public {
			prof = keys.ProfileSPPublic
		}
		for _, v := range keys.ProfileViolations(c, prof, entityID) {
			p.fail(CheckCertificate, "signing certificate %q, %s profile: %v", subject, prof, v)
		}
	}
}

func (p *parser) checkNameIDFormats(d *etree.Element) {
	for _, f := range children(d, spid.NSMetadata, "NameIDFormat") {
		if v := strings.TrimSpace(f.Text()); v != spid.NameIDTransient {
			p.fail(CheckNameIDFormat, "NameIDFormat %q, want %s", v, spid.NameIDTransient)
		}
	}
}

const bindingSOAP = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"

func (p *parser) checkSLO(d *etree.Element, sp *SP) {
	slos := children(d, spid.NSMetadata, "SingleLogoutService")
	if len(slos) == 0 {
		p.fail(CheckSLO, "no SingleLogoutService")
	}
	for i, s := range slos {
		b, _ := attr(s, "Binding")
		loc, _ := attr(s, "Location")
		rloc, hasR := attr(s, "ResponseLocation")
		if b != spid.BindingRedirect && b != spid.BindingPOST && b != bindingSOAP {
			p.fail(CheckSLO, "SingleLogoutService %d: Binding %q not HTTP-Redirect, HTTP-POST or SOAP", i, b)
			continue
		}
		ok := p.checkURL(CheckSLO, fmt.Sprintf("SingleLogoutService %d Location", i), loc)
		if hasR && !p.checkURL(CheckSLO, fmt.Sprintf("SingleLogoutService %d ResponseLocation", i), rloc) {
			ok = false
		}
		if ok {
			sp.SLO = append(sp.SLO, Endpoint{Binding: b, Location: loc, ResponseLocation: rloc})
		}
	}
}

// parseIndex parses an xs:unsignedShort.
func parseIndex(s string) (int, bool) {
	if s == "" || strings.TrimSpace(s) != s || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return int(n), err == nil
}

// parseBool parses an xs:boolean.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func (p *parser) checkACS(d *etree.Element, sp *SP) {
	acs := children(d, spid.NSMetadata, "AssertionConsumerService")
	if len(acs) == 0 {
		p.fail(CheckACS, "no AssertionConsumerService")
		return
	}
	seen := map[int]bool{}
	defaults := []int{}
	for i, a := range acs {
		idxS, _ := attr(a, "index")
		idx, ok := parseIndex(idxS)
		if !ok {
			p.fail(CheckACS, "AssertionConsumerService %d: index %q is not an unsignedShort", i, idxS)
			continue
		}
		if seen[idx] {
			p.fail(CheckACS, "AssertionConsumerService index %d appears twice", idx)
			continue
		}
		seen[idx] = true
		isDef := false
		if v, has := attr(a, "isDefault"); has {
			b, ok := parseBool(v)
			if !ok {
				p.fail(CheckACS, "AssertionConsumerService %d: isDefault %q is not a boolean", idx, v)
			}
			isDef = b
		}
		if isDef {
			defaults = append(defaults, idx)
		}
		b, _ := attr(a, "Binding")
		loc, _ := attr(a, "Location")
		switch {
		case b == spid.BindingPOST:
		case b == spid.BindingRedirect && !isDef:
			// The IdP answers only by POST, but spid-sp-test tolerates a
			// Redirect ACS and AgID's own IdP test tool publishes one at
			// index 1: keep it, so a request naming it gets nr16 rather
			// than the whole SP being refused.
			p.warn(CheckACS, "AssertionConsumerService %d: Binding HTTP-Redirect cannot be answered; a request that selects it gets nr16", idx)
		default:
			p.fail(CheckACS, "AssertionConsumerService %d: Binding %q, want HTTP-POST (the IdP answers only by POST)", idx, b)
			continue
		}
		if !p.checkURL(CheckACS, fmt.Sprintf("AssertionConsumerService %d Location", idx), loc) {
			continue
		}
		sp.ACS = append(sp.ACS, Endpoint{Binding: b, Location: loc, Index: idx, IsDefault: isDef})
	}
	switch {
	case len(defaults) == 0:
		p.fail(CheckACSDefault, `no AssertionConsumerService with isDefault="true" (index 0 must be the default)`)
	case len(defaults) > 1:
		p.fail(CheckACSDefault, "%d AssertionConsumerServices have isDefault=\"true\", want exactly 1", len(defaults))
	case defaults[0] != 0:
		p.fail(CheckACSDefault, "the default AssertionConsumerService has index %d, want 0", defaults[0])
	}
}

func (p *parser) checkAttributeServices(d *etree.Element, sp *SP) {
	services := children(d, spid.NSMetadata, "AttributeConsumingService")
	if len(services) == 0 {
		p.fail(CheckAttributeService, "no AttributeConsumingService")
		return
	}
	seen := map[int]bool{}
	for i, s := range services {
		idxS, _ := attr(s, "index")
		idx, ok := parseIndex(idxS)
		if !ok {
			p.fail(CheckAttributeService, "AttributeConsumingService %d: index %q is not an unsignedShort", i, idxS)
			continue
		}
		if seen[idx] {
			p.fail(CheckAttributeService, "AttributeConsumingService index %d appears twice", idx)
			continue
		}
		seen[idx] = true
		as := AttributeService{Index: idx, ServiceName: map[string]string{}}
		if v, has := attr(s, "isDefault"); has {
			b, ok := parseBool(v)
			if !ok {
				p.fail(CheckAttributeService, "AttributeConsumingService %d: isDefault %q is not a boolean", idx, v)
			}
			as.IsDefault = b
		}
		names := children(s, spid.NSMetadata, "ServiceName")
		if len(names) == 0 {
			p.fail(CheckAttributeService, "AttributeConsumingService %d has no ServiceName", idx)
		}
		for _, n := range names {
			lang, text := xmlLang(n), strings.TrimSpace(n.Text())
			if lang == "" || text == "" {
				p.fail(CheckAttributeService, "AttributeConsumingService %d: ServiceName needs xml:lang and a non-empty value", idx)
				continue
			}
			as.ServiceName[lang] = text
		}
		reqs := children(s, spid.NSMetadata, "RequestedAttribute")
		if len(reqs) == 0 {
			p.fail(CheckAttributeService, "AttributeConsumingService %d requests no attribute", idx)
		}
		dup := map[string]bool{}
		for _, r := range reqs {
			name, _ := attr(r, "Name")
			if _, ok := LookupAttribute(name); !ok {
				p.fail(CheckAttributeService, "AttributeConsumingService %d: %q is not a SPID attribute", idx, name)
				continue
			}
			if dup[name] {
				p.fail(CheckAttributeService, "AttributeConsumingService %d: %q requested twice", idx, name)
				continue
			}
			dup[name] = true
			switch nf, has := attr(r, "NameFormat"); {
			case nf == spid.AttrNameBasic:
			case !has:
				p.warn(CheckAttributeNameFormat, "AttributeConsumingService %d: %s has no NameFormat (basic expected)", idx, name)
			case nf == "urn:oasis:names:tc:SAML:2.0:attrname-format:uri":
				p.warn(CheckAttributeNameFormat, "AttributeConsumingService %d: %s uses NameFormat uri (basic expected)", idx, name)
			default:
				p.fail(CheckAttributeService, "AttributeConsumingService %d: %s has NameFormat %q, want basic", idx, name, nf)
			}
			req := false
			if v, has := attr(r, "isRequired"); has {
				b, ok := parseBool(v)
				if !ok {
					p.fail(CheckAttributeService, "AttributeConsumingService %d: %s isRequired %q is not a boolean", idx, name, v)
				}
				req = b
			}
			as.Attributes = append(as.Attributes, RequestedAttribute{Name: name, IsRequired: req})
		}
		sp.AttributeServices = append(sp.AttributeServices, as)
	}
}

func (p *parser) checkOrganization(root *etree.Element, md *SPMetadata) {
	orgs := children(root, spid.NSMetadata, "Organization")
	if len(orgs) != 1 {
		p.fail(CheckOrganization, "%d Organization elements, want exactly 1", len(orgs))
		return
	}
	md.SP.DisplayName = map[string]string{}
	parts := []struct {
		tag string
		out map[string]string
	}{
		{"OrganizationName", md.OrganizationName},
		{"OrganizationDisplayName", md.SP.DisplayName},
		{"OrganizationURL", map[string]string{}},
	}
	for _, part := range parts {
		els := children(orgs[0], spid.NSMetadata, part.tag)
		if len(els) == 0 {
			p.fail(CheckOrganization, "no %s", part.tag)
		}
		for _, e := range els {
			lang, text := xmlLang(e), strings.TrimSpace(e.Text())
			switch {
			case lang == "":
				p.fail(CheckOrganization, "%s %q has no xml:lang", part.tag, text)
			case text == "":
				p.fail(CheckOrganization, "%s[%s] is empty", part.tag, lang)
			case part.out[lang] != "":
				p.fail(CheckOrganization, "%s[%s] appears twice", part.tag, lang)
			default:
				if part.tag == "OrganizationURL" && !p.checkURLLoose(text) {
					p.fail(CheckOrganization, "OrganizationURL[%s] %q is not an http(s) URL", lang, text)
				}
				part.out[lang] = text
			}
		}
		if len(els) > 0 && part.out["it"] == "" {
			p.fail(CheckOrganization, "%s has no xml:lang=\"it\" value", part.tag)
		}
	}
	// Same languages for the three elements (SPT 1.5.x).
	for _, part := range parts[1:] {
		if !sameKeys(parts[0].out, part.out) {
			p.fail(CheckOrganization, "OrganizationName and %s are not given in the same languages", part.tag)
		}
	}
}

func (p *parser) checkURLLoose(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// checkContacts checks ContactPerson and returns whether the SP is public.
func (p *parser) checkContacts(root *etree.Element, md *SPMetadata) bool {
	contacts := children(root, spid.NSMetadata, "ContactPerson")
	var others, billings []*etree.Element
	for _, c := range contacts {
		if _, agg := attrNS(c, spid.NSSPID, "entityType"); agg {
			p.warn(CheckAggregator, "aggregator ContactPerson found; aggregator rules (Avviso 19) are not checked")
		}
		switch t, _ := attr(c, "contactType"); t {
		case "other":
			others = append(others, c)
		case "billing":
			billings = append(billings, c)
		}
	}
	if len(others) != 1 {
		p.fail(CheckContact, "%d ContactPerson contactType=\"other\", want exactly 1", len(others))
		return false
	}
	c := others[0]
	var ext *etree.Element
	if e := children(c, spid.NSMetadata, "Extensions"); len(e) == 1 {
		ext = e[0]
	} else {
		p.fail(CheckContact, "ContactPerson other needs exactly one md:Extensions with the spid: elements")
	}
	public := false
	if ext != nil {
		get := func(local string) []*etree.Element { return children(ext, spid.NSSPID, local) }
		pub, priv := get("Public"), get("Private")
		switch {
		case len(pub)+len(priv) != 1:
			p.fail(CheckContact, "exactly one of spid:Public and spid:Private is required")
		case len(pub) == 1:
			public = true
			if len(pub[0].ChildElements()) > 0 || strings.TrimSpace(pub[0].Text()) != "" {
				p.fail(CheckContact, "spid:Public must be empty")
			}
		default:
			if len(priv[0].ChildElements()) > 0 || strings.TrimSpace(priv[0].Text()) != "" {
				p.fail(CheckContact, "spid:Private must be empty")
			}
		}
		ipa, vat, fc := get("IPACode"), get("VATNumber"), get("FiscalCode")
		for _, x := range [][]*etree.Element{ipa, vat, fc} {
			if len(x) > 1 {
				p.fail(CheckContact, "spid:%s appears %d times", x[0].Tag, len(x))
			}
			if len(x) == 1 && strings.TrimSpace(x[0].Text()) == "" {
				p.fail(CheckContact, "spid:%s is empty", x[0].Tag)
			}
		}
		if len(pub)+len(priv) == 1 {
			if public && len(ipa) == 0 {
				p.fail(CheckContact, "a public SP needs spid:IPACode")
			}
			if !public && len(ipa) > 0 {
				p.fail(CheckContact, "spid:IPACode is only for public SPs")
			}
			if !public && len(vat)+len(fc) == 0 {
				p.fail(CheckContact, "a private SP needs spid:VATNumber or spid:FiscalCode")
			}
		}
	}
	mails := children(c, spid.NSMetadata, "EmailAddress")
	if len(mails) == 0 || strings.TrimSpace(mails[0].Text()) == "" {
		p.fail(CheckContact, "ContactPerson other needs a non-empty EmailAddress")
	}
	for _, t := range children(c, spid.NSMetadata, "TelephoneNumber") {
		if strings.ContainsAny(t.Text(), " \t\r\n") {
			p.fail(CheckContact, "TelephoneNumber %q contains spaces", t.Text())
		}
	}
	if len(contacts) > 2 && len(billings) <= 1 {
		p.warn(CheckContact, "%d ContactPerson elements; SPID expects 1 or 2", len(contacts))
	}
	if !public && ext != nil {
		ok := len(billings) == 1 && len(descendants(billings[0], NSFPA, "CessionarioCommittente")) == 1
		switch {
		case ok:
		case p.opts.Production:
			p.fail(CheckBilling, "a private SP needs one ContactPerson billing with fpa:CessionarioCommittente")
		default:
			p.warn(CheckBilling, "a private SP needs one ContactPerson billing with fpa:CessionarioCommittente (required in production)")
		}
	}
	return public
}

// attrNS returns the attribute local of el whose prefix is bound to ns.
func attrNS(el *etree.Element, ns, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Key == local && a.Space != "" && a.Space != "xmlns" && a.NamespaceURI() == ns {
			return a.Value, true
		}
	}
	return "", false
}
