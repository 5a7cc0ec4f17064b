package conformance

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// ResponseExpect is what the simulator knows about the request it sent, and
// therefore what a correct answer must contain.
type ResponseExpect struct {
	IdPEntityID string              // from the IdP metadata
	IdPCerts    []*x509.Certificate // signing certificates from the IdP metadata, the only trusted keys
	SPEntityID  string              // expected Audience
	Destination string              // ACS URL the answer must be addressed to
	// RequestID is the ID of the AuthnRequest; empty when the request had no
	// valid ID (then InResponseTo must be absent, spec §3.7).
	RequestID           string
	RequestIssueInstant time.Time
	Level               int    // requested SPID level (1–3)
	Comparison          string // as sent; "" means exact
	// PerformedMax is the highest level the citizen actually went through
	// (1 when the driver saw no second-factor page); 0 means unknown. The
	// asserted class must not claim more than was performed.
	PerformedMax int
	// RequestedAttrs is the attribute set of the AttributeConsumingService the
	// request named; nil when the request had no AttributeConsumingServiceIndex.
	RequestedAttrs []string
	// AllowMissingAttrs turns a requested attribute missing from the answer
	// into a warning (the test identity may lack it) instead of a failure.
	AllowMissingAttrs bool
	// Error is the anomaly code (nrNN) expected; 0 expects a success.
	Error int
	Now   time.Time     // when the answer was received; zero = time.Now()
	Skew  time.Duration // tolerated clock difference with the IdP (default 1 s)
	// Strict makes team decisions ([DEC] in the spec) fail instead of warn.
	Strict bool
}

// anomalyStatus returns the status pair SPID requires for an SP-bound anomaly (spec §5).
func anomalyStatus(code int) (top, sub string) {
	switch code {
	case 8, 11:
		return statusRequester, ""
	case 9:
		return statusVersion, ""
	case 12:
		return statusRequester, statusNoAuthnCtx
	case 13:
		return statusRequester, statusReqDenied
	case 14, 16, 17, 18:
		return statusRequester, statusReqUnsupp
	case 15:
		return statusRequester, statusNoPassive
	}
	return statusResponder, statusAuthnFailed
}

// ValidateResponse judges a decoded samlp:Response against exp, running every
// check of spec §4 (success) or §5 (error) that applies.
func ValidateResponse(raw []byte, exp ResponseExpect) *Verdict {
	v := newVerdict(exp.Strict)
	v.Evidence = string(raw)
	if exp.Now.IsZero() {
		exp.Now = time.Now()
	}
	if exp.Skew == 0 {
		exp.Skew = time.Second
	}
	doc, err := parseXML(raw)
	if err != nil {
		v.fail("xml.parse", "%v", err)
		return v
	}
	v.touch("xml.parse")
	root := doc.Root()
	if !v.ensure("response.root", is(root, nsSAMLP, "Response"), "root is {%s}%s, want samlp:Response", root.NamespaceURI(), root.Tag) {
		return v
	}
	r := &respCheck{v: v, exp: exp, root: root}
	r.header()
	r.status()
	if exp.Error != 0 {
		r.errorBody()
		return v
	}
	r.assertion()
	return v
}

type respCheck struct {
	v    *Verdict
	exp  ResponseExpect
	root *etree.Element
	// responseInstant is the Response IssueInstant, once parsed.
	responseInstant time.Time
}

func (r *respCheck) idCheck(name string, el *etree.Element) string {
	id, ok := attr(el, "ID")
	r.v.ensure(name, ok && reNCName.MatchString(id), "%s ID %q missing, empty or not an NCName", el.Tag, id)
	return id
}

// instant checks an IssueInstant: strict format, not before the request
// (at the precision the IdP used), not in the harness' future.
func (r *respCheck) instant(name string, el *etree.Element) time.Time {
	s, ok := attr(el, "IssueInstant")
	if !ok {
		r.v.fail(name, "%s has no IssueInstant", el.Tag)
		return time.Time{}
	}
	t, err := parseInstant(s)
	if err != nil {
		r.v.fail(name, "%s IssueInstant: %v", el.Tag, err)
		return time.Time{}
	}
	floor := r.exp.RequestIssueInstant
	if !strings.Contains(s, ".") {
		floor = floor.Truncate(time.Second)
	}
	if !floor.IsZero() && t.Before(floor) {
		r.v.fail(name, "%s IssueInstant %s is before the request IssueInstant %s", el.Tag, s, formatInstant(r.exp.RequestIssueInstant))
	}
	if t.After(r.exp.Now.Add(r.exp.Skew)) {
		r.v.fail(name, "%s IssueInstant %s is in the future (now %s)", el.Tag, s, formatInstant(r.exp.Now))
	}
	r.v.touch(name)
	return t
}

func (r *respCheck) issuer(el *etree.Element, name string, formatRequired bool) string {
	iss := children(el, nsSAML, "Issuer")
	if len(iss) != 1 {
		r.v.fail(name, "%s has %d saml:Issuer, want 1", el.Tag, len(iss))
		return ""
	}
	text := iss[0].Text()
	r.whitespace("Issuer", text)
	r.v.ensure(name, strings.TrimSpace(text) == r.exp.IdPEntityID, "%s Issuer %q, want IdP entityID %q", el.Tag, text, r.exp.IdPEntityID)
	f, ok := attr(iss[0], "Format")
	fname := name + ".format"
	if _, reg := checks[fname]; !reg {
		fname = name
	}
	switch {
	case ok && f != fmtEntity:
		r.v.fail(fname, "%s Issuer Format %q, want %s", el.Tag, f, fmtEntity)
	case !ok && formatRequired:
		r.v.fail(fname, "%s Issuer has no Format (must be %s)", el.Tag, fmtEntity)
	case !ok && name == "response.issuer":
		r.v.fail("response.issuer.noformat", "Response Issuer has no Format (allowed by AgID, but this profile always sends %s)", fmtEntity)
	default:
		r.v.touch(fname)
	}
	return text
}

func (r *respCheck) whitespace(what, s string) {
	if s != strings.TrimSpace(s) {
		r.v.fail("whitespace", "%s text %q has surrounding whitespace", what, s)
		return
	}
	r.v.touch("whitespace")
}

// signature checks the enveloped signature of el: present, right after
// Issuer, referencing el, verifying with the metadata certificate only, with
// SPID algorithms.
func (r *respCheck) signature(name string, el *etree.Element) {
	si := inspectSignature(el, r.exp.IdPCerts)
	if !si.Present {
		r.v.fail(name, "%s is not signed", el.Tag)
		return
	}
	if si.Count > 1 {
		r.v.fail(name, "%s carries %d signatures", el.Tag, si.Count)
	}
	if si.After != "Issuer" {
		r.v.fail(name, "%s signature is not right after Issuer (after %q)", el.Tag, si.After)
	}
	if si.Err != nil {
		r.v.fail(name, "%s signature: %v", el.Tag, si.Err)
	} else {
		r.v.touch(name)
	}
	r.algorithms(el.Tag, si)
}

func (r *respCheck) algorithms(what string, si sigInfo) {
	const n = "signature.algorithms"
	if !strongSigAlg(si.SigMethod) {
		r.v.fail(n, "%s SignatureMethod %q is not rsa-sha256/384/512", what, si.SigMethod)
	}
	if !strongDigest(si.DigestMethod) {
		r.v.fail(n, "%s DigestMethod %q is not sha256/384/512", what, si.DigestMethod)
	}
	if si.C14N != c14nExcl {
		r.v.fail(n, "%s CanonicalizationMethod %q, want exc-c14n", what, si.C14N)
	}
	if !slices.Equal(si.Transforms, []string{trEnveloped, c14nExcl}) {
		r.v.fail(n, "%s Transforms %v, want [enveloped-signature, exc-c14n]", what, si.Transforms)
	}
	if !si.HasCert {
		r.v.fail(n, "%s signature carries no X509Certificate", what)
	}
	r.v.touch(n)
}

func (r *respCheck) header() {
	v, root := r.v, r.root
	r.idCheck("response.id", root)
	ver, _ := attr(root, "Version")
	v.ensure("response.version", ver == "2.0", "Response Version %q, want 2.0", ver)
	r.responseInstant = r.instant("response.issueinstant", root)

	irt, has := attr(root, "InResponseTo")
	name := "response.inresponseto"
	if r.exp.Error != 0 {
		name = "error.inresponseto"
	}
	switch {
	case r.exp.RequestID == "" && has:
		v.fail(name+".absent", "InResponseTo %q present although the request had no valid ID", irt)
	case r.exp.RequestID != "" && irt != r.exp.RequestID:
		v.fail(name, "InResponseTo %q, want request ID %q", irt, r.exp.RequestID)
	default:
		v.touch(name)
	}

	dest, _ := attr(root, "Destination")
	name = "response.destination"
	if r.exp.Error != 0 {
		name = "error.destination"
	}
	v.ensure(name, dest != "" && dest == r.exp.Destination, "Destination %q, want ACS %q", dest, r.exp.Destination)

	if r.exp.Error != 0 {
		r.issuer(root, "error.issuer", true)
	} else {
		r.issuer(root, "response.issuer", false)
	}

	name = "response.signature"
	if r.exp.Error != 0 {
		name = "error.signature"
	}
	r.signature(name, root)
}

func (r *respCheck) status() {
	v := r.v
	st := children(r.root, nsSAMLP, "Status")
	name := "response.status"
	if r.exp.Error != 0 {
		name = "error.status"
	}
	if len(st) != 1 {
		v.fail(name, "%d samlp:Status elements, want 1", len(st))
		return
	}
	top := child(st[0], nsSAMLP, "StatusCode")
	if top == nil {
		v.fail(name, "samlp:Status without StatusCode")
		return
	}
	topV, _ := attr(top, "Value")
	var subV string
	sub := child(top, nsSAMLP, "StatusCode")
	if sub != nil {
		subV, _ = attr(sub, "Value")
	}
	for _, s := range []string{topV, subV} {
		if s != "" && !strings.HasPrefix(s, statusPrefix) {
			v.fail("status.uri", "status code %q is not a urn:oasis:names:tc:SAML:2.0:status: URI", s)
		}
	}
	v.touch("status.uri")
	msgs := children(st[0], nsSAMLP, "StatusMessage")
	if r.exp.Error == 0 {
		v.ensure(name, topV == statusSuccess && sub == nil, "status %q / %q, want Success with no nested code (message %q)", topV, subV, statusMessage(msgs))
		return
	}
	wantTop, wantSub := anomalyStatus(r.exp.Error)
	v.ensure(name, topV == wantTop && subV == wantSub, "status %q / %q, want %q / %q for nr%02d", short(topV), short(subV), short(wantTop), short(wantSub), r.exp.Error)
	want := fmt.Sprintf("ErrorCode nr%02d", r.exp.Error)
	v.ensure("error.message", len(msgs) == 1 && msgs[0].Text() == want, "StatusMessage %q, want %q", statusMessage(msgs), want)
}

func statusMessage(msgs []*etree.Element) string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Text())
	}
	return strings.Join(s, " | ")
}

func short(uri string) string { return strings.TrimPrefix(uri, statusPrefix) }

func (r *respCheck) errorBody() {
	n := len(children(r.root, nsSAML, "Assertion")) + len(children(r.root, nsSAML, "EncryptedAssertion"))
	r.v.ensure("error.noassertion", n == 0, "error Response carries %d assertion(s)", n)
}

func (r *respCheck) assertion() {
	v := r.v
	as := children(r.root, nsSAML, "Assertion")
	enc := children(r.root, nsSAML, "EncryptedAssertion")
	nested := descendants(r.root, nsSAML, "Assertion")
	if len(as) != 1 || len(enc) != 0 || len(nested) != 1 {
		v.fail("assertion.count", "%d Assertion (%d in the tree), %d EncryptedAssertion; want exactly one Assertion", len(as), len(nested), len(enc))
		if len(as) == 0 {
			return
		}
	}
	a := as[0]
	if len(children(a, nsSAML, "Advice")) > 0 {
		v.fail("assertion.count", "Assertion carries saml:Advice")
	}
	v.touch("assertion.count")

	aid := r.idCheck("assertion.id", a)
	if rid, _ := attr(r.root, "ID"); rid != "" && rid == aid {
		v.fail("assertion.id", "Assertion ID equals Response ID %q", rid)
	}
	ver, _ := attr(a, "Version")
	v.ensure("assertion.version", ver == "2.0", "Assertion Version %q, want 2.0", ver)
	aInstant := r.instant("assertion.issueinstant", a)

	respIss := ""
	if ri := child(r.root, nsSAML, "Issuer"); ri != nil {
		respIss = ri.Text()
	}
	assIss := r.issuer(a, "assertion.issuer", true)
	v.ensure("issuer.match", respIss == assIss, "Response Issuer %q differs from Assertion Issuer %q", respIss, assIss)
	r.signature("assertion.signature", a)

	r.subject(a)
	r.conditions(a, aInstant)
	r.authn(a)
	r.attributes(a)
}

func (r *respCheck) subject(a *etree.Element) {
	v := r.v
	subj := children(a, nsSAML, "Subject")
	if len(subj) != 1 {
		v.fail("nameid", "%d saml:Subject, want 1", len(subj))
		return
	}
	ids := children(subj[0], nsSAML, "NameID")
	if len(ids) != 1 {
		v.fail("nameid", "%d saml:NameID in Subject, want 1", len(ids))
	} else {
		id := ids[0]
		f, _ := attr(id, "Format")
		nq, _ := attr(id, "NameQualifier")
		switch {
		case strings.TrimSpace(id.Text()) == "":
			v.fail("nameid", "NameID is empty")
		case f != fmtTransient:
			v.fail("nameid", "NameID Format %q, want transient", f)
		case nq != r.exp.IdPEntityID:
			v.fail("nameid", "NameID NameQualifier %q, want IdP entityID %q", nq, r.exp.IdPEntityID)
		default:
			v.touch("nameid")
		}
		r.whitespace("NameID", id.Text())
	}
	scs := children(subj[0], nsSAML, "SubjectConfirmation")
	if len(scs) != 1 {
		v.fail("subjectconfirmation", "%d SubjectConfirmation, want 1", len(scs))
		if len(scs) == 0 {
			return
		}
	}
	m, _ := attr(scs[0], "Method")
	v.ensure("subjectconfirmation", m == cmBearer, "SubjectConfirmation Method %q, want bearer", m)
	scd := child(scs[0], nsSAML, "SubjectConfirmationData")
	if scd == nil {
		v.fail("subjectconfirmation", "no SubjectConfirmationData")
		return
	}
	rec, _ := attr(scd, "Recipient")
	dest, _ := attr(r.root, "Destination")
	v.ensure("scd.recipient", rec != "" && rec == r.exp.Destination && rec == dest, "Recipient %q, want ACS %q (= Destination %q)", rec, r.exp.Destination, dest)
	irt, _ := attr(scd, "InResponseTo")
	v.ensure("scd.inresponseto", irt != "" && irt == r.exp.RequestID, "SubjectConfirmationData InResponseTo %q, want %q", irt, r.exp.RequestID)
	s, ok := attr(scd, "NotOnOrAfter")
	t, err := parseInstant(s)
	switch {
	case !ok:
		v.fail("scd.notonorafter", "SubjectConfirmationData has no NotOnOrAfter")
	case err != nil:
		v.fail("scd.notonorafter", "NotOnOrAfter: %v", err)
	case !t.After(r.exp.Now):
		v.fail("scd.notonorafter", "NotOnOrAfter %s is not in the future (now %s)", s, formatInstant(r.exp.Now))
	default:
		v.touch("scd.notonorafter")
		if !r.responseInstant.IsZero() && t.After(r.responseInstant.Add(5*time.Minute+r.exp.Skew)) {
			v.fail("scd.lifetime", "NotOnOrAfter %s is more than 5 min after IssueInstant", s)
		} else {
			v.touch("scd.lifetime")
		}
	}
	if _, nb := attr(scd, "NotBefore"); nb {
		v.fail("subjectconfirmation", "SubjectConfirmationData carries NotBefore (bearer profile forbids it)")
	}
}

func (r *respCheck) conditions(a *etree.Element, aInstant time.Time) {
	v := r.v
	cs := children(a, nsSAML, "Conditions")
	if len(cs) != 1 {
		v.fail("conditions", "%d saml:Conditions, want 1", len(cs))
		v.fail("audience", "no Conditions, hence no Audience")
		return
	}
	c := cs[0]
	nbS, okNB := attr(c, "NotBefore")
	naS, okNA := attr(c, "NotOnOrAfter")
	nb, errNB := parseInstant(nbS)
	na, errNA := parseInstant(naS)
	switch {
	case !okNB || errNB != nil:
		v.fail("conditions", "Conditions NotBefore %q missing or malformed", nbS)
	case nb.After(r.exp.Now.Add(r.exp.Skew)):
		v.fail("conditions", "Conditions NotBefore %s is in the future", nbS)
	case !aInstant.IsZero() && nb.After(aInstant):
		v.fail("conditions", "Conditions NotBefore %s is after the Assertion IssueInstant", nbS)
	}
	switch {
	case !okNA || errNA != nil:
		v.fail("conditions", "Conditions NotOnOrAfter %q missing or malformed", naS)
	case !na.After(r.exp.Now):
		v.fail("conditions", "Conditions NotOnOrAfter %s is not in the future", naS)
	}
	v.touch("conditions")
	var auds []*etree.Element
	ars := children(c, nsSAML, "AudienceRestriction")
	for _, ar := range ars {
		auds = append(auds, children(ar, nsSAML, "Audience")...)
	}
	if len(ars) != 1 || len(auds) != 1 {
		v.fail("audience", "%d AudienceRestriction with %d Audience, want exactly one", len(ars), len(auds))
		return
	}
	r.whitespace("Audience", auds[0].Text())
	v.ensure("audience", strings.TrimSpace(auds[0].Text()) == r.exp.SPEntityID, "Audience %q, want SP entityID %q", auds[0].Text(), r.exp.SPEntityID)
}

func levelOf(uri string) int {
	switch uri {
	case classL1:
		return 1
	case classL2:
		return 2
	case classL3:
		return 3
	}
	return 0
}

func (r *respCheck) authn(a *etree.Element) {
	v := r.v
	sts := children(a, nsSAML, "AuthnStatement")
	if len(sts) != 1 {
		v.fail("authnstatement", "%d AuthnStatement, want 1", len(sts))
		return
	}
	st := sts[0]
	ai, _ := attr(st, "AuthnInstant")
	if _, err := parseInstant(ai); err != nil {
		v.fail("authnstatement", "AuthnInstant: %v", err)
	}
	refs := descendants(child(st, nsSAML, "AuthnContext"), nsSAML, "AuthnContextClassRef")
	if len(refs) != 1 {
		v.fail("authnstatement", "%d AuthnContextClassRef, want 1", len(refs))
		return
	}
	ref := refs[0].Text()
	r.whitespace("AuthnContextClassRef", ref)
	got := levelOf(strings.TrimSpace(ref))
	if !v.ensure("authnstatement", got != 0, "AuthnContextClassRef %q is not a SPID level URI", ref) {
		return
	}
	si, hasSI := attr(st, "SessionIndex")
	if r.exp.Level == 1 {
		v.ensure("sessionindex.l1", hasSI && si != "", "SpidL1 request but AuthnStatement has no SessionIndex")
	} else {
		v.ensure("sessionindex.l2", !hasSI, "SpidL%d request but AuthnStatement has SessionIndex %q", r.exp.Level, si)
	}
	want, cmp := r.exp.Level, cmpName(r.exp.Comparison)
	name := "level"
	switch {
	case want == 2 && cmp == "exact":
		name = "level.exact-l2"
	case want == 1 && cmp == "minimum":
		name = "level.minimum-l1"
	case want == 1 && cmp == "better":
		name = "level.better-l1"
	}
	switch {
	case r.exp.PerformedMax > 0 && got > r.exp.PerformedMax:
		v.fail(name, "asserted SpidL%d but the login went through SpidL%d only", got, r.exp.PerformedMax)
	case cmp == "maximum" && got > want:
		v.fail(name, "delivered SpidL%d above the maximum SpidL%d asked", got, want)
	case cmp != "maximum" && got < want:
		v.fail(name, "delivered SpidL%d, lower than the SpidL%d asked (%s)", got, want, cmp)
	case cmp == "better" && got <= want:
		v.fail(name, "delivered SpidL%d, not better than SpidL%d", got, want)
	default:
		v.touch(name)
	}
}

func cmpName(c string) string {
	if c == "" {
		return "exact"
	}
	return c
}

var attrValueFormat = map[string]*regexp.Regexp{
	"fiscalNumber":        regexp.MustCompile(`^TINIT-[A-Z0-9]{16}$`),
	"companyFiscalNumber": regexp.MustCompile(`^TINIT-[A-Z0-9]{11,16}$`),
	"ivaCode":             regexp.MustCompile(`^VATIT-\d{11}$`),
	"gender":              regexp.MustCompile(`^[MF]$`),
	"dateOfBirth":         regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
	"expirationDate":      regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
	"spidCode":            regexp.MustCompile(`^[A-Z]{4}[A-Za-z0-9]{10}$`),
	"domicileNation":      regexp.MustCompile(`^[A-Z]{2}$`),
	"email":               regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`),
	"digitalAddress":      regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`),
	"mobilePhone":         regexp.MustCompile(`^\+?\d{6,15}$`),
}

func (r *respCheck) attributes(a *etree.Element) {
	v := r.v
	stmts := children(a, nsSAML, "AttributeStatement")
	if r.exp.RequestedAttrs == nil {
		v.ensure("attributes.none", len(stmts) == 0, "request had no AttributeConsumingServiceIndex but the Assertion has an AttributeStatement")
		return
	}
	if len(stmts) > 1 {
		v.fail("attributes.statement", "%d AttributeStatement, want at most 1", len(stmts))
	}
	got := map[string]int{}
	for _, st := range stmts {
		attrs := children(st, nsSAML, "Attribute")
		if len(attrs) == 0 {
			v.fail("attributes.statement", "empty AttributeStatement")
		}
		for _, at := range attrs {
			r.attribute(at, got)
		}
	}
	v.touch("attributes.statement")
	var extra, missing, dup []string
	want := map[string]bool{}
	for _, n := range r.exp.RequestedAttrs {
		want[n] = true
		if got[n] == 0 {
			missing = append(missing, n)
		}
	}
	for n, c := range got {
		if !want[n] {
			extra = append(extra, n)
		}
		if c > 1 {
			dup = append(dup, n)
		}
	}
	sort.Strings(extra)
	sort.Strings(dup)
	if len(extra) > 0 {
		v.fail("attributes.set", "attributes not requested: %s", strings.Join(extra, ", "))
	}
	if len(dup) > 0 {
		v.fail("attributes.set", "attributes sent more than once: %s", strings.Join(dup, ", "))
	}
	if len(missing) > 0 {
		if r.exp.AllowMissingAttrs {
			v.warn("attributes.set", "requested attributes not released (the identity may lack them): %s", strings.Join(missing, ", "))
		} else {
			v.fail("attributes.set", "requested attributes missing: %s", strings.Join(missing, ", "))
		}
	}
	v.touch("attributes.set")
}

func (r *respCheck) attribute(at *etree.Element, got map[string]int) {
	v := r.v
	name, _ := attr(at, "Name")
	got[name]++
	if nf, _ := attr(at, "NameFormat"); nf != attrBasic {
		v.fail("attributes.format", "attribute %q NameFormat %q, want basic", name, nf)
	}
	vals := children(at, nsSAML, "AttributeValue")
	if len(vals) != 1 || strings.TrimSpace(vals[0].Text()) == "" {
		v.fail("attributes.format", "attribute %q has %d values (want exactly one, non-empty)", name, len(vals))
		return
	}
	v.touch("attributes.format")
	val := vals[0].Text()
	r.whitespace("AttributeValue "+name, val)
	if want, known := spidAttributes[name]; known {
		ns, local, ok := xsiType(vals[0])
		v.ensure("attributes.type", ok && ns == nsXS && local == want, "attribute %q xsi:type {%s}%s, want xs:%s", name, ns, local, want)
	}
	if re := attrValueFormat[name]; re != nil {
		v.ensure("attributes.values", re.MatchString(val), "attribute %q value %q does not match %s", name, val, re)
	}
}
