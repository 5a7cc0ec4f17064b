package app

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/conformance"
	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// This file proves that the conformance suite can fail: each defect below is
// injected, one at a time, into what our IdP sends (the auto-POST forms
// carrying a SAMLResponse, the Redirect Locations of Single Logout, the
// /metadata document, the pages of user-bound anomalies), by a middleware
// in front of the untouched IdP handler. The suite then runs only the cases
// meant to catch that defect, and must report a failure of the expected
// checklist item, naming the expected check. A control run first pushes
// every message through the same decode → re-sign → re-encode path without
// changing it, and must pass: the failures are the defects', not the
// harness's.

// message is one SAML message intercepted on its way to the SP (or the
// metadata document), parsed, for a defect to change.
type message struct {
	Root *etree.Element
	pair keys.Pair // the IdP signing key
	// signed lists the elements that carried an enveloped signature when
	// intercepted: resign signs them again.
	signed []*etree.Element
	// sha1 makes resign sign these elements with rsa-sha1 / sha1.
	sha1 map[*etree.Element]bool
	// dropQuerySig removes SigAlg and Signature from a Redirect message.
	dropQuerySig bool
}

// assertion returns the Response's Assertion (nil for other messages).
func (m *message) assertion() *etree.Element { return m.Root.SelectElement("Assertion") }

// find returns the first element at path (etree path syntax, local names)
// below the root; it panics on a wrong path, which is a bug in the table.
func (m *message) find(path string) *etree.Element {
	el := m.Root.FindElement(path)
	if el == nil {
		panic("defect: no element at " + path)
	}
	return el
}

// unsign removes el's signature and keeps resign from adding it back.
func (m *message) unsign(el *etree.Element) {
	stripSignature(el)
	for i, s := range m.signed {
		if s == el {
			m.signed = append(m.signed[:i], m.signed[i+1:]...)
			break
		}
	}
}

// resign replaces every signature the message carried with a fresh one by
// m.pair, innermost element first (the Response signature covers the signed
// Assertion). It is what keeps a content defect from also being a signature
// defect.
func (m *message) resign() error {
	for _, el := range m.signed { // inner Assertion first, then the root
		stripSignature(el)
		after := "Issuer"
		if el.Tag == "EntityDescriptor" {
			after = "" // metadata signature is the first child
		}
		var err error
		if m.sha1[el] {
			err = signSHA1(el, m.pair, after)
		} else {
			err = xmlsig.Sign(el, m.pair, after)
		}
		if err != nil {
			return fmt.Errorf("re-signing %s: %w", el.Tag, err)
		}
	}
	return nil
}

func stripSignature(el *etree.Element) {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == dsig.Namespace {
			el.RemoveChild(c)
		}
	}
}

func hasSignature(el *etree.Element) bool {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == dsig.Namespace {
			return true
		}
	}
	return false
}

// signSHA1 signs el like xmlsig.Sign but with the algorithms SPID forbids.
func signSHA1(el *etree.Element, pair keys.Pair, after string) error {
	ctx, err := dsig.NewSigningContext(pair.Key, [][]byte{pair.Cert.Raw})
	if err != nil {
		return err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA1SignatureMethod); err != nil {
		return err
	}
	ctx.Hash = crypto.SHA1
	sig, err := ctx.ConstructSignature(scopedCopy(el), true)
	if err != nil {
		return err
	}
	pos := 0
	for i, tok := range el.Child {
		if c, ok := tok.(*etree.Element); ok && after != "" && c.Tag == after {
			pos = i + 1
			break
		}
	}
	el.InsertChildAt(pos, sig)
	return nil
}

// scopedCopy copies el with the namespace declarations in scope at it, so
// that goxmldsig can canonicalise it detached from its document.
func scopedCopy(el *etree.Element) *etree.Element {
	cp := el.Copy()
	have := map[string]bool{}
	for _, a := range cp.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			have[a.FullKey()] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && !have[a.FullKey()] {
				have[a.FullKey()] = true
				cp.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	return cp
}

// statusOf returns the top-level StatusCode of a Response or LogoutResponse.
func statusOf(root *etree.Element) string {
	if sc := root.FindElement("Status/StatusCode"); sc != nil {
		return sc.SelectAttrValue("Value", "")
	}
	return ""
}

const statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"

func isSuccess(root *etree.Element) bool { return statusOf(root) == statusSuccess }
func isError(root *etree.Element) bool   { return statusOf(root) != statusSuccess }

// defect is one fault injected into our IdP's output.
type defect struct {
	name string
	only []string // the suite cases meant to catch it (Options.Only)

	// target is the root element the mutation applies to (Response,
	// LogoutResponse, EntityDescriptor); when narrows it further.
	target string
	when   func(root *etree.Element) bool
	mutate func(m *message) error
	// handler, instead of target/mutate, wraps the IdP handler directly.
	handler func(next http.Handler) http.Handler

	wantID    string // checklist item whose row must fail
	wantCheck string // text the failing row's reason must contain (usually the check name)

	// gap, when set, skips the defect: the suite cannot catch it yet, for
	// the reason given (reported to the suite's author). DEFECT_GAPS=1 in
	// the environment runs these anyway, to see whether a gap has closed.
	gap string
	// needsL2 skips the defect while the demo citizen has no second factor.
	needsL2 bool
}

// tamper is the middleware that injects the current defect.
type tamper struct {
	pair    keys.Pair
	builder *response.Builder // re-signs Redirect query strings
	cur     atomic.Pointer[defect]
	hits    atomic.Int64 // messages changed for the current defect
	mu      sync.Mutex
	errs    []error // injection failures (a broken table, not a suite result)
}

func (tp *tamper) fail(err error) {
	tp.mu.Lock()
	tp.errs = append(tp.errs, err)
	tp.mu.Unlock()
}

func (tp *tamper) takeErrors() []error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	e := tp.errs
	tp.errs = nil
	return e
}

func (tp *tamper) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := tp.cur.Load()
		if d == nil {
			next.ServeHTTP(w, r)
			return
		}
		if d.handler != nil {
			d.handler(next).ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var err error
		switch {
		case r.URL.Path == idp.PathMetadata && rec.Code == http.StatusOK:
			body, err = tp.rewriteXML(d, body)
		case rec.Header().Get("Location") != "":
			var loc string
			if loc, err = tp.rewriteLocation(d, rec.Header().Get("Location")); err == nil {
				rec.Header().Set("Location", loc)
			}
		case bytes.Contains(body, []byte(`name="SAMLResponse"`)) || bytes.Contains(body, []byte(`name="SAMLRequest"`)):
			body, err = tp.rewriteForm(d, body)
		}
		if err != nil {
			tp.fail(fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err))
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// apply parses raw, lets d change it if it is d's target, and serialises
// the result. changed is false when the message was not d's target.
func (tp *tamper) apply(d *defect, raw []byte) (out []byte, m *message, changed bool, err error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, nil, false, fmt.Errorf("parsing the intercepted message: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != d.target || (d.when != nil && !d.when(root)) {
		return raw, nil, false, nil
	}
	m = &message{Root: root, pair: tp.pair, sha1: map[*etree.Element]bool{}}
	if a := root.SelectElement("Assertion"); a != nil && hasSignature(a) {
		m.signed = append(m.signed, a)
	}
	if hasSignature(root) {
		m.signed = append(m.signed, root)
	}
	if err := d.mutate(m); err != nil {
		return nil, nil, false, err
	}
	s, err := doc.WriteToBytes()
	if err != nil {
		return nil, nil, false, err
	}
	tp.hits.Add(1)
	return s, m, true, nil
}

func (tp *tamper) rewriteXML(d *defect, body []byte) ([]byte, error) {
	out, _, _, err := tp.apply(d, body)
	return out, err
}

var reSAMLField = regexp.MustCompile(`name="(SAMLResponse|SAMLRequest)" value="([^"]*)"`)

func (tp *tamper) rewriteForm(d *defect, body []byte) ([]byte, error) {
	var ferr error
	out := reSAMLField.ReplaceAllFunc(body, func(field []byte) []byte {
		sm := reSAMLField.FindSubmatch(field)
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(sm[2])))
		if err != nil {
			ferr = fmt.Errorf("form field %s: %w", sm[1], err)
			return field
		}
		x, _, changed, err := tp.apply(d, raw)
		if err != nil {
			ferr = err
			return field
		}
		if !changed {
			return field
		}
		return []byte(fmt.Sprintf(`name="%s" value="%s"`, sm[1], html.EscapeString(base64.StdEncoding.EncodeToString(x))))
	})
	return out, ferr
}

func (tp *tamper) rewriteLocation(d *defect, loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return loc, nil
	}
	q := u.Query()
	param := ""
	for _, p := range []string{"SAMLResponse", "SAMLRequest"} {
		if q.Get(p) != "" {
			param = p
		}
	}
	if param == "" {
		return loc, nil
	}
	deflated, err := base64.StdEncoding.DecodeString(q.Get(param))
	if err != nil {
		return "", fmt.Errorf("redirect %s: %w", param, err)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(deflated)), 1<<20))
	if err != nil {
		return "", fmt.Errorf("redirect %s: inflating: %w", param, err)
	}
	x, m, changed, err := tp.apply(d, raw)
	if err != nil || !changed {
		return loc, err
	}
	endpoint := *u
	endpoint.RawQuery = ""
	if m.dropQuerySig {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		_, _ = fw.Write(x)
		_ = fw.Close()
		nq := url.Values{param: {base64.StdEncoding.EncodeToString(buf.Bytes())}}
		if rs := q.Get("RelayState"); rs != "" {
			nq.Set("RelayState", rs)
		}
		endpoint.RawQuery = nq.Encode()
		return endpoint.String(), nil
	}
	return tp.builder.RedirectURL(endpoint.String(), x, param, q.Get("RelayState"))
}

// otherKey is a well-formed key pair that is not in the IdP metadata.
var otherKey = sync.OnceValues(func() (keys.Pair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return keys.Pair{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "not the IdP", Country: []string{"IT"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return keys.Pair{}, err
	}
	c, err := x509.ParseCertificate(der)
	return keys.Pair{Key: k, Cert: c}, err
})

// Cases of the suite the defects are run through.
var (
	loginL1  = []string{"login-l1-redirect"} // SpidL1 minimum, attribute set 0, RelayState
	loginAll = []string{"login-l1-redirect", "login-l1-post"}
	noAttrs  = []string{"login-no-attr-index"}
	refusal  = []string{"consent-refused"}
	mdCase   = []string{"metadata"}
	sloRedir = []string{"slo-redirect"}
	sloPost  = []string{"slo-post"}
	// aaGranted is the AA login whose Response carries a grant token.
	aaGranted = []string{"aa-7-granted"}
)

// success / errorResp are the usual targets.
func success(d defect) defect {
	d.target, d.when = "Response", isSuccess
	return d
}

func errorResp(d defect) defect {
	d.target, d.when = "Response", isError
	return d
}

// edit wraps a plain XML change and re-signs afterwards.
func edit(f func(m *message)) func(m *message) error {
	return func(m *message) error {
		f(m)
		return m.resign()
	}
}

func setAttr(path, key, value string) func(m *message) error {
	return edit(func(m *message) { m.find(path).CreateAttr(key, value) })
}

func removeAttr(path, key string) func(m *message) error {
	return edit(func(m *message) { m.find(path).RemoveAttr(key) })
}

func attrNamed(m *message, name string) *etree.Element {
	for _, a := range m.Root.FindElements(".//Attribute") {
		if a.SelectAttrValue("Name", "") == name {
			return a
		}
	}
	panic("defect: no attribute " + name)
}

func past() string { return time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z") }

// reAACheckbox finds an AA checkbox of the choice page.
var reAACheckbox = regexp.MustCompile(`<input\b[^>]*name="aa"[^>]*>`)

// aaPageDefect changes the AA choice page (the page with name="aa"
// checkboxes) before the browser sees it.
func aaPageDefect(name, id, check string, change func(page string, h http.Header) string) defect {
	return defect{name: name, only: []string{"aa-8-choice-page"}, wantID: id, wantCheck: check,
		handler: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				body := rec.Body.String()
				if reAACheckbox.MatchString(body) {
					body = change(body, rec.Header())
				}
				for k, v := range rec.Header() {
					if k != "Content-Length" {
						w.Header()[k] = v
					}
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write([]byte(body))
			})
		}}
}

func defects() []defect {
	const otherURL = "https://sp.conformance.invalid/elsewhere"
	return []defect{
		// Signatures.
		success(defect{name: "unsigned Assertion", only: loginL1, wantID: "C115", wantCheck: "assertion.signature",
			mutate: func(m *message) error { m.unsign(m.assertion()); return m.resign() }}),
		success(defect{name: "unsigned Response", only: loginL1, wantID: "C116", wantCheck: "response.signature",
			mutate: func(m *message) error { m.unsign(m.Root); return m.resign() }}),
		success(defect{name: "SHA-1 signature on the Assertion", only: loginL1, wantID: "C117", wantCheck: "signature.algorithms",
			mutate: func(m *message) error { m.sha1[m.assertion()] = true; return m.resign() }}),
		success(defect{name: "signed by a key not in the metadata", only: loginL1, wantID: "C116", wantCheck: "response.signature",
			mutate: func(m *message) error {
				k, err := otherKey()
				if err != nil {
					return err
				}
				m.pair = k
				return m.resign()
			}}),
		success(defect{name: "Response signature not right after Issuer", only: loginL1, wantID: "C116", wantCheck: "not right after Issuer",
			mutate: func(m *message) error {
				// Moving an enveloped signature keeps it valid: only its place is wrong.
				for _, c := range m.Root.ChildElements() {
					if c.Tag == "Signature" {
						m.Root.RemoveChild(c)
						m.Root.AddChild(c)
						return nil
					}
				}
				return errors.New("the Response carries no signature")
			}}),

		// Response header.
		success(defect{name: "wrong Destination", only: loginL1, wantID: "C110", wantCheck: "response.destination",
			mutate: setAttr(".", "Destination", otherURL)}),
		success(defect{name: "missing InResponseTo", only: loginL1, wantID: "C109", wantCheck: "response.inresponseto",
			mutate: removeAttr(".", "InResponseTo")}),
		success(defect{name: "wrong InResponseTo", only: loginL1, wantID: "C109", wantCheck: "response.inresponseto",
			mutate: setAttr(".", "InResponseTo", "_0000000000000000000000000000000a")}),
		success(defect{name: "Response Issuer without Format", only: loginL1, wantID: "C112", wantCheck: "response.issuer.noformat",
			mutate: removeAttr("Issuer", "Format")}),
		success(defect{name: "wrong Issuer", only: loginL1, wantID: "C112", wantCheck: "response.issuer",
			mutate: edit(func(m *message) {
				m.find("Issuer").SetText("https://other-idp.invalid")
				m.find("Assertion/Issuer").SetText("https://other-idp.invalid")
			})}),
		success(defect{name: "IssueInstant without Z", only: loginL1, wantID: "C107", wantCheck: "response.issueinstant",
			mutate: edit(func(m *message) {
				ii := m.Root.SelectAttrValue("IssueInstant", "")
				m.Root.CreateAttr("IssueInstant", strings.TrimSuffix(ii, "Z"))
			})}),
		success(defect{name: "Success with a nested error status", only: loginL1, wantID: "C111", wantCheck: "response.status",
			mutate: edit(func(m *message) {
				sc := m.find("Status/StatusCode")
				sc.CreateElement("samlp:StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
				m.find("Status").CreateElement("samlp:StatusMessage").SetText("ErrorCode nr22")
			})}),

		// Assertion.
		success(defect{name: "Assertion Version missing", only: loginL1, wantID: "C106", wantCheck: "assertion.version",
			mutate: removeAttr("Assertion", "Version")}),
		success(defect{name: "Assertion ID equal to the Response ID", only: loginL1, wantID: "C105", wantCheck: "assertion.id",
			mutate: edit(func(m *message) { m.assertion().CreateAttr("ID", m.Root.SelectAttrValue("ID", "")) })}),
		success(defect{name: "Assertion Issuer without Format", only: loginL1, wantID: "C124", wantCheck: "assertion.issuer",
			mutate: removeAttr("Assertion/Issuer", "Format")}),
		success(defect{name: "NameID format persistent", only: loginL1, wantID: "C118", wantCheck: "nameid",
			mutate: setAttr("Assertion/Subject/NameID", "Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")}),
		success(defect{name: "NameID NameQualifier missing", only: loginL1, wantID: "C118", wantCheck: "nameid",
			mutate: removeAttr("Assertion/Subject/NameID", "NameQualifier")}),
		success(defect{name: "wrong Recipient", only: loginL1, wantID: "C121", wantCheck: "scd.recipient",
			mutate: setAttr("Assertion/Subject/SubjectConfirmation/SubjectConfirmationData", "Recipient", otherURL)}),
		success(defect{name: "SubjectConfirmationData InResponseTo wrong", only: loginL1, wantID: "C122", wantCheck: "scd.inresponseto",
			mutate: setAttr("Assertion/Subject/SubjectConfirmation/SubjectConfirmationData", "InResponseTo", "_0000000000000000000000000000000b")}),
		success(defect{name: "SubjectConfirmationData NotOnOrAfter in the past", only: loginL1, wantID: "C123", wantCheck: "scd.notonorafter",
			mutate: edit(func(m *message) {
				m.find("Assertion/Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("NotOnOrAfter", past())
			})}),
		success(defect{name: "Conditions NotOnOrAfter in the past", only: loginL1, wantID: "C125", wantCheck: "conditions",
			mutate: edit(func(m *message) { m.find("Assertion/Conditions").CreateAttr("NotOnOrAfter", past()) })}),
		success(defect{name: "wrong Audience", only: loginL1, wantID: "C126", wantCheck: "audience",
			mutate: edit(func(m *message) {
				m.find("Assertion/Conditions/AudienceRestriction/Audience").SetText("https://another-sp.invalid")
			})}),
		success(defect{name: "Audience with surrounding whitespace", only: loginL1, wantID: "C140", wantCheck: "whitespace",
			mutate: edit(func(m *message) {
				a := m.find("Assertion/Conditions/AudienceRestriction/Audience")
				a.SetText(" " + a.Text() + "\n")
			})}),
		success(defect{name: "AuthnContextClassRef not a SPID level", only: loginL1, wantID: "C127", wantCheck: "authnstatement",
			mutate: edit(func(m *message) {
				m.find("Assertion/AuthnStatement/AuthnContext/AuthnContextClassRef").SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
			})}),
		success(defect{name: "SpidL2 for a password-only SpidL1 login", only: loginL1, wantID: "C131", wantCheck: "level.minimum-l1",
			mutate: edit(func(m *message) {
				m.find("Assertion/AuthnStatement/AuthnContext/AuthnContextClassRef").SetText("https://www.spid.gov.it/SpidL2")
			})}),
		success(defect{name: "SpidL2 for an exact SpidL1 request", only: []string{"login-l1-exact"}, wantID: "C133", wantCheck: "level",
			mutate: edit(func(m *message) {
				m.find("Assertion/AuthnStatement/AuthnContext/AuthnContextClassRef").SetText("https://www.spid.gov.it/SpidL2")
			})}),
		success(defect{name: "SpidL1 for an exact SpidL2 request", only: []string{"login-l2-redirect"}, wantID: "C130", wantCheck: "level.exact-l2",
			needsL2: true, mutate: edit(func(m *message) {
				m.find("Assertion/AuthnStatement/AuthnContext/AuthnContextClassRef").SetText("https://www.spid.gov.it/SpidL1")
			})}),
		success(defect{name: "SessionIndex missing at SpidL1", only: loginL1, wantID: "C128", wantCheck: "sessionindex.l1",
			mutate: removeAttr("Assertion/AuthnStatement", "SessionIndex")}),

		// Attributes (set 0 asks dateOfBirth, email, familyName, fiscalNumber, name, spidCode).
		success(defect{name: "extra attribute", only: loginL1, wantID: "C134", wantCheck: "attributes not requested: gender",
			mutate: edit(func(m *message) {
				st := m.find("Assertion/AttributeStatement")
				at := st.CreateElement("saml:Attribute")
				at.CreateAttr("Name", "gender")
				at.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
				v := at.CreateElement("saml:AttributeValue")
				v.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
				v.CreateAttr("xsi:type", "xs:string")
				v.SetText("M")
			})}),
		success(defect{name: "missing requested attribute", only: loginL1, wantID: "C134", wantCheck: "requested attributes missing: email",
			mutate: edit(func(m *message) {
				a := attrNamed(m, "email")
				a.Parent().RemoveChild(a)
			})}),
		success(defect{name: "fiscalNumber without TINIT- prefix", only: loginAll, wantID: "C137", wantCheck: "attributes.values",
			mutate: edit(func(m *message) {
				v := attrNamed(m, "fiscalNumber").SelectElement("AttributeValue")
				v.SetText(strings.TrimPrefix(v.Text(), "TINIT-"))
			})}),
		success(defect{name: "dateOfBirth typed xs:string", only: loginL1, wantID: "C136", wantCheck: "attributes.type",
			mutate: edit(func(m *message) {
				attrNamed(m, "dateOfBirth").SelectElement("AttributeValue").CreateAttr("xsi:type", "xs:string")
			})}),
		success(defect{name: "attribute without NameFormat", only: loginL1, wantID: "C135", wantCheck: "attributes.format",
			mutate: edit(func(m *message) { attrNamed(m, "name").RemoveAttr("NameFormat") })}),
		success(defect{name: "attributes released without AttributeConsumingServiceIndex", only: noAttrs, wantID: "C091", wantCheck: "attributes.none",
			mutate: edit(func(m *message) {
				a := m.assertion()
				st := etree.NewElement("saml:AttributeStatement")
				at := st.CreateElement("saml:Attribute")
				at.CreateAttr("Name", "spidCode")
				at.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
				v := at.CreateElement("saml:AttributeValue")
				v.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
				v.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
				v.CreateAttr("xsi:type", "xs:string")
				v.SetText("DEMO0000000001")
				a.AddChild(st)
			})}),

		// Error Responses (consent refused: nr22).
		errorResp(defect{name: "consent refusal answered nr25 instead of nr22", only: refusal, wantID: "C147", wantCheck: "error.message",
			mutate: edit(func(m *message) { m.find("Status/StatusMessage").SetText("ErrorCode nr25") })}),
		errorResp(defect{name: "error Response with status Success", only: refusal, wantID: "C147", wantCheck: "error.status",
			mutate: edit(func(m *message) {
				sc := m.find("Status/StatusCode")
				sc.CreateAttr("Value", statusSuccess)
				for _, c := range sc.ChildElements() {
					sc.RemoveChild(c)
				}
			})}),
		errorResp(defect{name: "unsigned error Response", only: refusal, wantID: "C141", wantCheck: "not signed",
			mutate: func(m *message) error { m.unsign(m.Root); return nil }}),
		errorResp(defect{name: "error Response to the wrong Destination", only: refusal, wantID: "C147", wantCheck: "error.destination",
			mutate: setAttr(".", "Destination", otherURL)}),

		// Metadata.
		{name: "metadata signature broken", only: mdCase, target: "EntityDescriptor", wantID: "C003", wantCheck: "md.signature",
			mutate: func(m *message) error {
				// Changed after signing: the digest no longer matches.
				m.find("Organization/OrganizationDisplayName").SetText("Tampered IdP")
				return nil
			}},
		{name: "metadata without the HTTP-POST SSO binding", only: mdCase, target: "EntityDescriptor", wantID: "C012", wantCheck: "md.sso",
			mutate: edit(func(m *message) {
				for _, s := range m.Root.FindElements("IDPSSODescriptor/SingleSignOnService") {
					if strings.HasSuffix(s.SelectAttrValue("Binding", ""), "HTTP-POST") {
						s.Parent().RemoveChild(s)
					}
				}
			})},
		{name: "metadata without SingleLogoutService", only: mdCase, target: "EntityDescriptor", wantID: "C013", wantCheck: "md.slo",
			mutate: edit(func(m *message) {
				for _, s := range m.Root.FindElements("IDPSSODescriptor/SingleLogoutService") {
					s.Parent().RemoveChild(s)
				}
			})},
		{name: "metadata signed with SHA-1", only: mdCase, target: "EntityDescriptor", wantID: "C004", wantCheck: "md.sigalg",
			mutate: func(m *message) error { m.sha1[m.Root] = true; return m.resign() }},
		{name: "metadata with a non-SPID attribute name", only: mdCase, target: "EntityDescriptor", wantID: "C014", wantCheck: "md.attributes",
			mutate: edit(func(m *message) {
				m.find("IDPSSODescriptor/Attribute").CreateAttr("Name", "shoeSize")
			})},

		// Attribute Authority grants (spec §9.5): the AA cases with the
		// demo AA and its key.
		success(defect{name: "grant token addressed to another AA", only: aaGranted, wantID: "A020", wantCheck: "GrantToken Destination",
			mutate: setAttr("Extensions/GrantedAttributeAuthority/GrantToken", "Destination", "https://aa.elsewhere.invalid")}),
		success(defect{name: "grant Extensions after Status", only: aaGranted, wantID: "A018", wantCheck: "between Signature and Status",
			mutate: edit(func(m *message) {
				x := m.find("Extensions")
				m.Root.RemoveChild(x)
				m.Root.InsertChildAt(m.find("Status").Index()+1, x)
			})}),
		success(defect{name: "grant sent although the AA consent was refused", only: []string{"aa-5-refused"}, wantID: "A022", wantCheck: "no AA was consented",
			mutate: edit(func(m *message) {
				x := etree.NewElement("samlp:Extensions")
				g := x.CreateElement("spid:GrantedAttributeAuthority")
				g.CreateAttr("xmlns:spid", "https://spid.gov.it/saml-extensions")
				tok := g.CreateElement("GrantToken")
				tok.CreateAttr("Destination", "https://aa.elsewhere.invalid")
				tok.SetText("e30.e30.e30.e30.e30")
				m.Root.InsertChildAt(m.find("Status").Index(), x)
			})}),

		// The AA choice page (spec §9.3): what the person sees.
		aaPageDefect("AA offered twice on the choice page", "A010", "offered 2 times", func(page string, _ http.Header) string {
			in := reAACheckbox.FindString(page)
			return strings.Replace(page, in, in+in, 1)
		}),
		aaPageDefect("AA logo from another address", "A012", "no <img src=", func(page string, _ http.Header) string {
			return strings.ReplaceAll(page, "/logo.svg", "/logo.png")
		}),
		aaPageDefect("AA shown without its name", "A013", "organization_name", func(page string, _ http.Header) string {
			return strings.ReplaceAll(page, "Attribute Authority dimostrativa", "Attribute Authority")
		}),
		aaPageDefect("AA choice page loads images from anywhere", "A017", "img-src allows", func(page string, h http.Header) string {
			h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "img-src 'self' data:", "img-src 'self' data: https:", 1))
			return page
		}),

		// Single Logout.
		{name: "LogoutResponse over Redirect without signature", only: sloRedir, target: "LogoutResponse", wantID: "C166", wantCheck: "logout.signature",
			mutate: func(m *message) error { m.unsign(m.Root); m.dropQuerySig = true; return nil }},
		{name: "LogoutResponse with wrong InResponseTo", only: sloPost, target: "LogoutResponse", wantID: "C173", wantCheck: "logout.inresponseto",
			mutate: setAttr(".", "InResponseTo", "_0000000000000000000000000000000c")},

		// A user-bound anomaly (unsigned POST AuthnRequest: page nr07)
		// answered with a Response posted to the SP instead of a page.
		{name: "user-bound anomaly answered to the SP", only: []string{"post-unsigned"}, wantID: "C041", wantCheck: "sent a SAML message to the SP",
			handler: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rec := httptest.NewRecorder()
					next.ServeHTTP(rec, r)
					if r.URL.Path != idp.PathSSOPOST || rec.Code != http.StatusForbidden {
						for k, v := range rec.Header() {
							w.Header()[k] = v
						}
						w.WriteHeader(rec.Code)
						_, _ = w.Write(rec.Body.Bytes())
						return
					}
					x := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester"/><samlp:StatusMessage>ErrorCode nr07</samlp:StatusMessage></samlp:Status></samlp:Response>`
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					fmt.Fprintf(w, `<!doctype html><html><body><form method="post" action="https://sp.conformance.invalid/acs"><input type="hidden" name="SAMLResponse" value="%s"><button type="submit">Continue</button></form></body></html>`,
						base64.StdEncoding.EncodeToString([]byte(x)))
				})
			}},
	}
}

// identity is the control: every message takes the tampering path
// unchanged but for fresh signatures.
func identity(target string, when func(*etree.Element) bool) defect {
	return defect{target: target, when: when, mutate: func(m *message) error { return m.resign() }}
}

// defectRig is one IdP with the tampering middleware in front.
type defectRig struct {
	a      *App
	ts     *httptest.Server
	info   DemoInfo
	tp     *tamper
	keyDir string
}

func newDefectRig(t *testing.T) *defectRig {
	rig := &defectRig{tp: &tamper{}, keyDir: t.TempDir()}
	rig.a, rig.ts, rig.info = tlsApp(t, func(a *App, next http.Handler) http.Handler {
		rig.tp.pair = a.Keys
		rig.tp.builder = &response.Builder{EntityID: a.Config.IdP.EntityID, Signing: a.Keys}
		return rig.tp.wrap(next)
	})
	return rig
}

// run executes the suite cases only with d injected and returns the report.
func (rig *defectRig) run(t *testing.T, d *defect, only []string) *conformance.Report {
	t.Helper()
	// Dozens of logins of the same user from one address within a minute
	// would trip the IdP's login throttle: start each run afresh.
	lim := regulation.Limiter{Eph: rig.a.Backends.Eph, Prefix: "login:"}
	for _, k := range []string{regulation.UserKey(rig.info.Username), regulation.IPKey(netip.MustParseAddr("127.0.0.1"))} {
		if err := lim.Reset(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	rig.tp.hits.Store(0)
	rig.tp.cur.Store(d)
	defer rig.tp.cur.Store(nil)
	opt := suiteOptions(t, rig.a, rig.ts, rig.info, only...)
	opt.SPKeyDir = rig.keyDir // one pair of SP keys for every run
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, opt)
	for _, e := range rig.tp.takeErrors() {
		t.Errorf("injecting the defect: %v", e)
	}
	if err != nil {
		if rep != nil {
			t.Log(reportTable(rep))
		}
		t.Fatalf("suite run: %v", err)
	}
	return rep
}

// TestConformanceCatchesInjectedDefects injects each defect alone and
// checks that the cases meant for it report it.
func TestConformanceCatchesInjectedDefects(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite some forty times")
	}
	rig := newDefectRig(t)

	// Control: the same cases through the tampering path, messages
	// unchanged but re-signed, must pass; otherwise a "caught" defect
	// could be the harness's own breakage.
	t.Run("control", func(t *testing.T) {
		controls := []struct {
			d    defect
			only []string
		}{
			{identity("Response", nil), append(append(append(append([]string{}, loginAll...), noAttrs...), refusal...), aaGranted...)},
			{identity("EntityDescriptor", nil), mdCase},
			{identity("LogoutResponse", nil), append(append([]string{}, sloRedir...), sloPost...)},
		}
		for _, c := range controls {
			rep := rig.run(t, &c.d, c.only)
			if rig.tp.hits.Load() == 0 {
				t.Errorf("control %s: no message was intercepted", c.d.target)
			}
			if rep.Failed() || len(rep.Rows) == 0 {
				t.Log(reportTable(rep))
				t.Errorf("control %s (cases %v): the unchanged, re-signed messages do not pass", c.d.target, c.only)
			}
		}
	})
	if t.Failed() {
		return
	}

	names := map[string]bool{}
	for _, d := range defects() {
		if names[d.name] {
			t.Fatalf("duplicate defect name %q", d.name)
		}
		names[d.name] = true
		t.Run(d.name, func(t *testing.T) {
			if d.gap != "" && os.Getenv("DEFECT_GAPS") == "" {
				t.Skip("not caught yet: " + d.gap)
			}
			if d.needsL2 && demoTOTPSecret(rig.a, rig.info) == "" {
				t.Skip("needs a SpidL2 login: the demo citizen has no TOTP device yet (see demoTOTPSecret)")
			}
			rep := rig.run(t, &d, d.only)
			if d.handler == nil && rig.tp.hits.Load() == 0 {
				t.Fatalf("the defect was never injected (no %s reached the SP in cases %v)", d.target, d.only)
			}
			// A defect that is not about signatures is re-signed: if a
			// signature then fails to verify, the harness broke it.
			if !strings.Contains(d.wantCheck, "signature") {
				for _, r := range rep.Rows {
					if r.Status == conformance.Fail && strings.Contains(r.Reason, "does not verify") {
						t.Errorf("re-signing went wrong: %s %s: %s", r.ID, r.Case, r.Reason)
					}
				}
			}
			for _, r := range rep.Rows {
				if r.Status == conformance.Fail && r.ID == d.wantID && strings.Contains(r.Reason, d.wantCheck) {
					return
				}
			}
			t.Log(reportTable(rep))
			t.Errorf("the suite did not report %s failing with %q (cases %v)", d.wantID, d.wantCheck, d.only)
		})
	}
	if n := len(names); n < 40 {
		t.Errorf("%d defects, want at least 40", n)
	}
}
