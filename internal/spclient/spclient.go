// Package spclient is the service-provider side of SPID SSO that the IdP's
// own services (the demo SP, the citizen portal) share: building the
// AuthnRequest they send to this IdP and checking the Response they get back.
package spclient

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// Request is an AuthnRequest to build.
type Request struct {
	ID          string
	Issuer      string // the SP's entityID
	Destination string // the IdP's HTTP-Redirect SSO endpoint
	Level       spid.Level
	// ACSIndex and AttrIndex pick the SP metadata's AssertionConsumerService
	// and AttributeConsumingService.
	ACSIndex, AttrIndex int
	Now                 time.Time
	// Extensions is raw XML put inside samlp:Extensions (none when
	// empty), e.g. a spid:RequiredAttributeAuthority.
	Extensions string
}

// AuthnRequest is a SPID AuthnRequest for the HTTP-Redirect binding (the
// query string carries the signature, the XML none). Levels above 1 carry
// ForceAuthn, as SPID requires.
func AuthnRequest(r Request) []byte {
	force := ""
	if r.Level > spid.L1 {
		force = ` ForceAuthn="true"`
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<samlp:AuthnRequest xmlns:samlp="%s" xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s"%s AssertionConsumerServiceIndex="%d" AttributeConsumingServiceIndex="%d">`,
		spid.NSProtocol, spid.NSAssertion, html.EscapeString(r.ID), r.Now.UTC().Format("2006-01-02T15:04:05.000Z"),
		html.EscapeString(r.Destination), force, r.ACSIndex, r.AttrIndex)
	fmt.Fprintf(&b, `<saml:Issuer Format="%s" NameQualifier="%s">%s</saml:Issuer>`, spid.NameIDEntity, html.EscapeString(r.Issuer), html.EscapeString(r.Issuer))
	if r.Extensions != "" {
		b.WriteString(`<samlp:Extensions>` + r.Extensions + `</samlp:Extensions>`)
	}
	fmt.Fprintf(&b, `<samlp:NameIDPolicy Format="%s"/>`, spid.NameIDTransient)
	fmt.Fprintf(&b, `<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>%s</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`, r.Level.ClassRef())
	b.WriteString(`</samlp:AuthnRequest>`)
	return b.Bytes()
}

// Expect is what a Response must match.
type Expect struct {
	InResponseTo string // the ID of the request this browser sent
	Destination  string // the SP's ACS URL
	Audience     string // the SP's entityID
	IdPCerts     []*x509.Certificate
}

// Result is what a checked Response says.
type Result struct {
	Success       bool
	StatusCode    string // top-level code, " / " and the second-level one if any
	StatusMessage string
	Code          spid.Anomaly // from "ErrorCode nrNN", 0 otherwise
	NameID        string
	SessionIndex  string
	Level         spid.Level
	Attributes    []Attribute // in document order
	// GrantTokens are the Attribute Authority grant tokens of the
	// Response's spid:GrantedAttributeAuthority, in document order.
	GrantTokens []GrantToken
}

// GrantToken is one GrantToken: the AA it is for and the compact JWE.
type GrantToken struct{ Destination, Token string }

// Attribute is one asserted attribute (first value).
type Attribute struct{ Name, Value string }

// Attr returns the first value of the named attribute.
func (r Result) Attr(name string) string {
	for _, a := range r.Attributes {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

var errorCode = regexp.MustCompile(`^ErrorCode nr(\d{2})$`)

// ErrRefused wraps every reason a Response is not accepted.
var ErrRefused = errors.New("response refused")

func refuse(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, a...))
}

// Check decodes the base64 SAMLResponse and checks it against e. An error
// Response that is otherwise in order gives Success false and no error;
// a success needs an Assertion signed by one of e.IdPCerts whose Audience
// is e.Audience.
func Check(b64 string, e Expect) (Result, error) {
	var res Result
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) == 0 {
		return res, refuse("SAMLResponse is not base64")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return res, refuse("SAMLResponse is not XML")
	}
	root := doc.Root()
	// TODO(xmlsig): verify the Response signature too once xmlsig accepts a
	// signed child element; the Assertion, which carries the identity, is
	// verified below.
	if root.FindElement("./Assertion") == nil {
		if err := xmlsig.Verify(root, e.IdPCerts); err != nil {
			return res, refuse("Response signature: %v", err)
		}
	}
	if e.InResponseTo == "" || root.SelectAttrValue("InResponseTo", "") != e.InResponseTo {
		return res, refuse("InResponseTo does not match the request this browser sent")
	}
	if root.SelectAttrValue("Destination", "") != e.Destination {
		return res, refuse("Destination is not this ACS")
	}
	status := root.FindElement("./Status/StatusCode")
	if status == nil {
		return res, refuse("no Status")
	}
	res.StatusCode = status.SelectAttrValue("Value", "")
	if sub := status.FindElement("./StatusCode"); sub != nil {
		res.StatusCode += " / " + sub.SelectAttrValue("Value", "")
	}
	if msg := root.FindElement("./Status/StatusMessage"); msg != nil {
		res.StatusMessage = msg.Text()
		if m := errorCode.FindStringSubmatch(res.StatusMessage); m != nil {
			n, _ := strconv.Atoi(m[1])
			res.Code = spid.Anomaly(n)
		}
	}
	if status.SelectAttrValue("Value", "") != spid.StatusSuccess {
		return res, nil
	}
	as := root.FindElement("./Assertion")
	if as == nil {
		return res, refuse("success without Assertion")
	}
	if err := xmlsig.Verify(as, e.IdPCerts); err != nil {
		return res, refuse("Assertion signature: %v", err)
	}
	if aud := as.FindElement("./Conditions/AudienceRestriction/Audience"); aud == nil || aud.Text() != e.Audience {
		return res, refuse("Audience is not this SP")
	}
	res.Success = true
	if n := as.FindElement("./Subject/NameID"); n != nil {
		res.NameID = n.Text()
	}
	if st := as.FindElement("./AuthnStatement"); st != nil {
		res.SessionIndex = st.SelectAttrValue("SessionIndex", "")
		if c := st.FindElement("./AuthnContext/AuthnContextClassRef"); c != nil {
			res.Level, _ = spid.LevelFromClassRef(c.Text())
		}
	}
	for _, g := range root.FindElements("./Extensions/GrantedAttributeAuthority/GrantToken") {
		res.GrantTokens = append(res.GrantTokens, GrantToken{Destination: g.SelectAttrValue("Destination", ""), Token: g.Text()})
	}
	for _, a := range as.FindElements("./AttributeStatement/Attribute") {
		v := ""
		if av := a.FindElement("./AttributeValue"); av != nil {
			v = av.Text()
		}
		res.Attributes = append(res.Attributes, Attribute{Name: a.SelectAttrValue("Name", ""), Value: v})
	}
	return res, nil
}
