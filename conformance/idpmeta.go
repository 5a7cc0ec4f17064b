package conformance

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// IdPMetadata is what the suite learns from the IdP's metadata.
type IdPMetadata struct {
	EntityID   string
	Certs      []*x509.Certificate // signing certificates: the only keys trusted afterwards
	SSO        map[string]string   // binding → Location
	SLO        map[string]Endpoint // binding → endpoint
	Attributes []string
	Raw        []byte
}

// Endpoint is a SAML service endpoint.
type Endpoint struct {
	Location, ResponseLocation string
}

var (
	oidOrgIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	oidURI           = asn1.ObjectIdentifier{2, 5, 4, 83}
	oidPersonal      = []asn1.ObjectIdentifier{{2, 5, 4, 41}, {2, 5, 4, 4}, {2, 5, 4, 42}, {2, 5, 4, 43}, {2, 5, 4, 65}}
	oidPolicyAgID    = asn1.ObjectIdentifier{1, 3, 76, 16, 6}
	oidPolicyIdP     = asn1.ObjectIdentifier{1, 3, 76, 16, 4, 1}
	reOrgIdentifier  = regexp.MustCompile(`^(VATIT-\d{11}|CF:IT-[A-Za-z0-9]{16})$`)
)

// ValidateIdPMetadata judges IdP metadata (spec §1, checklist C001–C015) and
// extracts what the other cases need. now is used for certificate validity.
// The returned metadata is nil only when the document cannot be used at all.
// strict fails team decisions; production fails the AgID certificate profile
// (C009, C010), which demo and test keys do not follow.
func ValidateIdPMetadata(raw []byte, now time.Time, strict, production bool) (*IdPMetadata, *Verdict) {
	v := newVerdict(strict)
	v.production = production
	v.Evidence = string(raw)
	doc, err := parseXML(raw)
	if err != nil {
		v.fail("md.parse", "%v", err)
		return nil, v
	}
	root := doc.Root()
	if !v.ensure("md.parse", is(root, nsMD, "EntityDescriptor"), "root is {%s}%s, want md:EntityDescriptor", root.NamespaceURI(), root.Tag) {
		return nil, v
	}
	md := &IdPMetadata{SSO: map[string]string{}, SLO: map[string]Endpoint{}, Raw: raw}
	md.EntityID, _ = attr(root, "entityID")
	u, err := url.Parse(md.EntityID)
	v.ensure("md.entityid", md.EntityID != "" && err == nil && u.Scheme == "https" && u.Host != "", "entityID %q is not an HTTPS URL", md.EntityID)

	// Structure: schema order of EntityDescriptor children.
	order := map[string]int{"Signature": 0, "Extensions": 1, "IDPSSODescriptor": 2, "Organization": 3, "ContactPerson": 4, "AdditionalMetadataLocation": 5}
	last := -1
	for _, c := range root.ChildElements() {
		o, ok := order[c.Tag]
		if !ok {
			if c.Tag != "SPSSODescriptor" && c.Tag != "AttributeAuthorityDescriptor" {
				v.fail("md.structure", "unexpected element %s in EntityDescriptor", c.Tag)
			}
			continue
		}
		if o < last {
			v.fail("md.structure", "%s out of schema order in EntityDescriptor", c.Tag)
		}
		last = o
	}
	v.touch("md.structure")

	idps := children(root, nsMD, "IDPSSODescriptor")
	if len(idps) != 1 {
		v.fail("md.idpsso", "%d IDPSSODescriptor, want exactly 1", len(idps))
		if len(idps) == 0 {
			return md, v
		}
	}
	idp := idps[0]
	pse, _ := attr(idp, "protocolSupportEnumeration")
	v.ensure("md.idpsso", slices.Contains(strings.Fields(pse), protocolSAML2), "protocolSupportEnumeration %q lacks %s", pse, protocolSAML2)
	w, _ := attr(idp, "WantAuthnRequestsSigned")
	v.ensure("md.wantsigned", w == "true", "WantAuthnRequestsSigned=%q, want true", w)

	// Keys.
	for _, kd := range children(idp, nsMD, "KeyDescriptor") {
		use, _ := attr(kd, "use")
		if use != "" && use != "signing" {
			continue
		}
		for _, xc := range descendants(kd, nsDS, "X509Certificate") {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
			if err != nil {
				v.fail("md.signingkey", "X509Certificate is not base64: %v", err)
				continue
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				v.fail("md.signingkey", "X509Certificate does not parse: %v", err)
				continue
			}
			md.Certs = append(md.Certs, c)
		}
	}
	v.ensure("md.signingkey", len(md.Certs) > 0, "no KeyDescriptor use=\"signing\" with an X509Certificate")
	for _, c := range md.Certs {
		checkIdPCert(v, c, md.EntityID, now)
	}

	// Signature: enveloped, first child, verifying with the published key.
	si := inspectSignature(root, md.Certs)
	switch {
	case !si.Present:
		v.fail("md.signature", "metadata is not signed")
	case si.After != "":
		v.fail("md.signature", "ds:Signature is not the first child of EntityDescriptor")
		fallthrough
	case si.Err != nil:
		if si.Err != nil {
			v.fail("md.signature", "%v", si.Err)
		}
	default:
		v.touch("md.signature")
	}
	if si.Present {
		v.ensure("md.sigalg", strongSigAlg(si.SigMethod) && strongDigest(si.DigestMethod), "SignatureMethod %q / DigestMethod %q not in rsa-sha256/384/512, sha256/384/512", si.SigMethod, si.DigestMethod)
	}

	// NameIDFormat.
	nif := children(idp, nsMD, "NameIDFormat")
	v.ensure("md.nameidformat", len(nif) == 1 && strings.TrimSpace(nif[0].Text()) == fmtTransient, "want exactly one NameIDFormat = transient, found %d", len(nif))

	// SSO and SLO endpoints.
	for _, s := range children(idp, nsMD, "SingleSignOnService") {
		b, _ := attr(s, "Binding")
		loc, _ := attr(s, "Location")
		if b != bindingRedirect && b != bindingPOST {
			v.fail("md.sso", "SingleSignOnService binding %q not allowed", b)
			continue
		}
		if lu, err := url.Parse(loc); err != nil || lu.Scheme != "https" || lu.Host == "" {
			v.fail("md.sso", "SingleSignOnService %s Location %q is not an HTTPS URL", short(b), loc)
		}
		if _, dup := md.SSO[b]; !dup {
			md.SSO[b] = loc
		}
	}
	v.ensure("md.sso", md.SSO[bindingRedirect] != "" && md.SSO[bindingPOST] != "", "SingleSignOnService needs both HTTP-Redirect and HTTP-POST")
	if md.SSO[bindingRedirect] != "" {
		v.ensure("md.sso.distinct", md.SSO[bindingRedirect] != md.SSO[bindingPOST], "Redirect and POST SSO share the Location %q (nr06 cannot be told apart)", md.SSO[bindingPOST])
	}
	for _, s := range children(idp, nsMD, "SingleLogoutService") {
		b, _ := attr(s, "Binding")
		loc, _ := attr(s, "Location")
		rl, _ := attr(s, "ResponseLocation")
		if b != bindingRedirect && b != bindingPOST && b != bindingSOAP {
			v.fail("md.slo", "SingleLogoutService binding %q not allowed", b)
			continue
		}
		if loc == "" {
			v.fail("md.slo", "SingleLogoutService %s without Location", b)
		}
		if _, dup := md.SLO[b]; !dup {
			md.SLO[b] = Endpoint{Location: loc, ResponseLocation: rl}
		}
	}
	v.ensure("md.slo", md.SLO[bindingRedirect].Location != "" && md.SLO[bindingPOST].Location != "", "SingleLogoutService needs both HTTP-Redirect and HTTP-POST")

	// Attributes.
	for _, a := range children(idp, nsSAML, "Attribute") {
		n, _ := attr(a, "Name")
		md.Attributes = append(md.Attributes, n)
		if _, ok := spidAttributes[n]; !ok {
			v.fail("md.attributes", "attribute %q is not a SPID attribute name", n)
		}
		if _, _, typed := xsiType(a); typed {
			v.fail("md.attributes.xsi", "attribute %q carries xsi:type (fails the metadata XSD)", n)
		}
	}
	v.touch("md.attributes")
	v.touch("md.attributes.xsi")

	// Organization.
	orgs := children(root, nsMD, "Organization")
	if len(orgs) != 1 {
		v.fail("md.organization", "%d Organization elements, want 1", len(orgs))
	} else {
		for _, n := range []string{"OrganizationName", "OrganizationDisplayName", "OrganizationURL"} {
			els := children(orgs[0], nsMD, n)
			hasIT := false
			for _, e := range els {
				lang := ""
				for _, a := range e.Attr {
					if a.Space == "xml" && a.Key == "lang" {
						lang = a.Value
					}
				}
				if lang == "" {
					v.fail("md.organization", "%s without xml:lang", n)
				}
				hasIT = hasIT || lang == "it"
				if n == "OrganizationURL" {
					if u, err := url.Parse(strings.TrimSpace(e.Text())); err != nil || u.Host == "" {
						v.fail("md.organization", "OrganizationURL %q is not a URL", e.Text())
					}
				}
			}
			v.ensure("md.organization", hasIT, "%s has no xml:lang=\"it\" entry", n)
		}
	}
	return md, v
}

func checkIdPCert(v *Verdict, c *x509.Certificate, entityID string, now time.Time) {
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	switch {
	case !ok:
		v.fail("md.certs", "certificate %q has a non-RSA key", c.Subject.CommonName)
	case pub.N.BitLen() < 2048:
		v.fail("md.certs", "certificate %q has an RSA key of %d bits (< 2048)", c.Subject.CommonName, pub.N.BitLen())
	}
	switch c.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.MD5WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		v.fail("md.certs", "certificate %q is signed with %s", c.Subject.CommonName, c.SignatureAlgorithm)
	}
	if now.After(c.NotAfter) || now.Before(c.NotBefore) {
		v.fail("md.certs", "certificate %q is not valid now (valid %s – %s)", c.Subject.CommonName, c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly))
	}
	v.touch("md.certs")

	// Production profile (spec §1.6): subject and extensions.
	var orgID, uri string
	for _, n := range c.Subject.Names {
		switch {
		case n.Type.Equal(oidOrgIdentifier):
			orgID, _ = n.Value.(string)
		case n.Type.Equal(oidURI):
			uri, _ = n.Value.(string)
		}
		for _, p := range oidPersonal {
			if n.Type.Equal(p) {
				v.fail("md.cert.subject", "certificate subject carries a personal attribute %v", n.Type)
			}
		}
	}
	if c.Subject.CommonName == "" || !slices.Contains(c.Subject.Country, "IT") || len(c.Subject.Locality) == 0 || len(c.Subject.Organization) == 0 {
		v.fail("md.cert.subject", "certificate subject %q lacks CN, C=IT, L or O", c.Subject.String())
	}
	if !reOrgIdentifier.MatchString(orgID) {
		v.fail("md.cert.subject", "organizationIdentifier %q is not VATIT-<11 digits> or CF:IT-<16>", orgID)
	}
	if uri != entityID {
		v.fail("md.cert.subject", "subject uri %q differs from entityID %q", uri, entityID)
	}
	v.touch("md.cert.subject")
	if !c.BasicConstraintsValid || c.IsCA {
		v.fail("md.cert.ext", "basicConstraints CA:FALSE missing")
	}
	if c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment ||
		c.KeyUsage&^(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0 {
		v.fail("md.cert.ext", "keyUsage must be exactly digitalSignature + nonRepudiation")
	}
	var agid, idpPol bool
	for _, p := range c.PolicyIdentifiers {
		agid = agid || p.Equal(oidPolicyAgID)
		idpPol = idpPol || p.Equal(oidPolicyIdP)
	}
	if !agid || !idpPol {
		v.fail("md.cert.ext", "certificatePolicies lack 1.3.76.16.6 and/or 1.3.76.16.4.1")
	}
	v.touch("md.cert.ext")
}
