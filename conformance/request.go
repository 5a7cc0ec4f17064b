package conformance

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// omit, as the value of an authnSpec string field, leaves the attribute or
// element out; the empty string means "the correct default".
const omit = "\x00omit"

// authnSpec describes one AuthnRequest, correct by default; each field can
// be set to a deliberately wrong value.
type authnSpec struct {
	Binding      string // bindingRedirect or bindingPOST
	Level        int    // 1–3 (default 1)
	Comparison   string // default "minimum"
	ClassRefs    []string
	NoAuthnCtx   bool
	ID           string
	Version      string
	IssueInstant string // raw value; default now
	Destination  string // default: SSO Location of the binding
	ForceAuthn   string
	IsPassive    string
	ACSIndex     string // default "0"
	ACSURL       string
	ProtoBinding string
	AttrIndex    string // default "0"
	Issuer       string
	IssuerFormat string
	IssuerNQ     string
	NameIDFormat string // default transient
	NoNameIDPol  bool
	AllowCreate  string
	RelayState   string
	Mutate       func(root *etree.Element) // last change before signing

	Sig sigMode
	// SignWith replaces the SP's key (e.g. with another SP's key).
	SignWith *signer
}

// sigMode selects how (and how wrongly) a message is signed.
type sigMode int

const (
	sigOK           sigMode = iota
	sigNone                 // no signature at all
	sigSHA1                 // rsa-sha1
	sigHMAC                 // Redirect: SigAlg hmac-sha256
	sigTamper               // POST: content changed after signing
	sigOtherKeyInfo         // POST: valid signature, KeyInfo with another certificate
	sigRelayChanged         // Redirect: RelayState changed after signing
	sigNoSigAlg             // Redirect: Signature but no SigAlg
	sigNoSignature          // Redirect: SigAlg but no Signature
	sigWrongRefURI          // POST: Reference pointing elsewhere
	sigLowerHex             // Redirect: valid signature over lower-case percent-encoding
)

// outMsg is a message ready to be sent by the browser.
type outMsg struct {
	Binding      string
	URL          string     // Redirect: full URL; POST: form action
	Form         url.Values // POST only
	ID           string
	IssueInstant time.Time
	XML          []byte
	RelayState   string
}

func (s *authnSpec) classRefs() []string {
	if s.ClassRefs != nil {
		return s.ClassRefs
	}
	return []string{[]string{"", classL1, classL2, classL3}[s.Level]}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func setOpt(el *etree.Element, key, v, def string) {
	v = or(v, def)
	if v != omit && v != "" {
		el.CreateAttr(key, v)
	}
}

// authnRequest builds, signs and encodes an AuthnRequest from sp to the IdP.
func authnRequest(sp *simSP, idp *IdPMetadata, s authnSpec) (*outMsg, error) {
	if s.Binding == "" {
		s.Binding = bindingRedirect
	}
	if s.Level == 0 {
		s.Level = 1
	}
	now := time.Now().UTC()
	msg := &outMsg{Binding: s.Binding, URL: idp.SSO[s.Binding], RelayState: s.RelayState, IssueInstant: now}
	if msg.URL == "" {
		return nil, fmt.Errorf("IdP metadata has no SingleSignOnService for %s", short(s.Binding))
	}
	root := etree.NewElement("samlp:AuthnRequest")
	root.CreateAttr("xmlns:samlp", nsSAMLP)
	root.CreateAttr("xmlns:saml", nsSAML)
	msg.ID = or(s.ID, randomID())
	if msg.ID == omit {
		msg.ID = ""
	}
	setOpt(root, "ID", s.ID, msg.ID)
	setOpt(root, "Version", s.Version, "2.0")
	setOpt(root, "IssueInstant", s.IssueInstant, formatInstant(now))
	setOpt(root, "Destination", s.Destination, msg.URL)
	setOpt(root, "ForceAuthn", s.ForceAuthn, map[bool]string{true: "true"}[s.Level > 1])
	setOpt(root, "IsPassive", s.IsPassive, "")
	setOpt(root, "AssertionConsumerServiceIndex", s.ACSIndex, "0")
	setOpt(root, "AssertionConsumerServiceURL", s.ACSURL, "")
	setOpt(root, "ProtocolBinding", s.ProtoBinding, "")
	setOpt(root, "AttributeConsumingServiceIndex", s.AttrIndex, "0")

	if or(s.Issuer, sp.EntityID) != omit {
		iss := root.CreateElement("saml:Issuer")
		setOpt(iss, "Format", s.IssuerFormat, fmtEntity)
		setOpt(iss, "NameQualifier", s.IssuerNQ, sp.EntityID)
		iss.SetText(or(s.Issuer, sp.EntityID))
	}
	if !s.NoNameIDPol {
		p := root.CreateElement("samlp:NameIDPolicy")
		setOpt(p, "Format", s.NameIDFormat, fmtTransient)
		setOpt(p, "AllowCreate", s.AllowCreate, "")
	}
	if !s.NoAuthnCtx {
		rac := root.CreateElement("samlp:RequestedAuthnContext")
		setOpt(rac, "Comparison", s.Comparison, "minimum")
		for _, c := range s.classRefs() {
			rac.CreateElement("saml:AuthnContextClassRef").SetText(c)
		}
	}
	if s.Mutate != nil {
		s.Mutate(root)
	}
	return encode(msg, root, "SAMLRequest", sp, s.Sig, s.SignWith)
}

// encode signs root per the binding and sig mode and fills msg.
func encode(msg *outMsg, root *etree.Element, param string, sp *simSP, mode sigMode, with *signer) (*outMsg, error) {
	key := sp.key
	if with != nil {
		key = *with
	}
	alg := algRSASHA256
	if mode == sigSHA1 {
		alg = algRSASHA1
	}
	if msg.Binding == bindingPOST {
		if mode != sigNone {
			if mode == sigWrongRefURI {
				// sign a sibling copy with another ID, then graft its signature
				cp := root.Copy()
				cp.CreateAttr("ID", "_other"+strings.TrimPrefix(msg.ID, "_"))
				if err := signEnveloped(cp, key, alg, "Issuer"); err != nil {
					return nil, err
				}
				root.InsertChildAt(1, cp.SelectElement("Signature"))
			} else if err := signEnveloped(root, key, alg, "Issuer"); err != nil {
				return nil, err
			}
			switch mode {
			case sigTamper:
				if p := root.SelectElement("NameIDPolicy"); p != nil {
					p.CreateAttr("SPNameQualifier", "tampered")
				} else {
					root.CreateAttr("ForceAuthn", "true")
				}
			case sigOtherKeyInfo:
				other, err := newSPKey("https://intruder.invalid", "intruder", 2048)
				if err != nil {
					return nil, err
				}
				if c := root.FindElement("Signature/KeyInfo/X509Data/X509Certificate"); c != nil {
					c.SetText(base64.StdEncoding.EncodeToString(other.Cert.Raw))
				}
			}
		}
		raw, err := serialize(root)
		if err != nil {
			return nil, err
		}
		msg.XML = raw
		msg.Form = url.Values{param: {base64.StdEncoding.EncodeToString(raw)}}
		if msg.RelayState != "" {
			msg.Form.Set("RelayState", msg.RelayState)
		}
		return msg, nil
	}
	raw, err := serialize(root)
	if err != nil {
		return nil, err
	}
	msg.XML = raw
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = fw.Write(raw)
	_ = fw.Close()
	value := base64.StdEncoding.EncodeToString(buf.Bytes())
	var q string
	switch mode {
	case sigLowerHex:
		q, err = redirectQueryWith(param, value, msg.RelayState, &key, alg, lowerHexEscape)
	case sigNone:
		q, err = redirectQuery(param, value, msg.RelayState, nil, "")
	case sigHMAC:
		q, err = redirectQuery(param, value, msg.RelayState, &key, algHMACSHA256)
	default:
		q, err = redirectQuery(param, value, msg.RelayState, &key, alg)
	}
	if err != nil {
		return nil, err
	}
	switch mode {
	case sigRelayChanged:
		q = strings.Replace(q, "RelayState="+url.QueryEscape(msg.RelayState), "RelayState="+url.QueryEscape(msg.RelayState+"x"), 1)
	case sigNoSigAlg:
		q = dropParam(q, "SigAlg")
	case sigNoSignature:
		q = dropParam(q, "Signature")
	}
	sep := "?"
	if strings.Contains(msg.URL, "?") {
		sep = "&"
	}
	msg.URL += sep + q
	return msg, nil
}

func dropParam(q, name string) string {
	var keep []string
	for _, kv := range strings.Split(q, "&") {
		if !strings.HasPrefix(kv, name+"=") {
			keep = append(keep, kv)
		}
	}
	return strings.Join(keep, "&")
}

func serialize(root *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(root)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialising %s: %w", root.Tag, err)
	}
	return b, nil
}

// logoutSpec describes a LogoutRequest from sp to the IdP.
type logoutSpec struct {
	Binding       string
	NameID        string
	NameQualifier string
	SessionIndex  string
	IssuerFormat  string
	NameIDFormat  string // default transient
	IssueInstant  string // raw value; default now
	Destination   string // default the SLO Location; "entityid" = IdP entityID
	Sig           sigMode
}

func logoutRequest(sp *simSP, idp *IdPMetadata, s logoutSpec) (*outMsg, error) {
	now := time.Now().UTC()
	ep := idp.SLO[s.Binding].Location
	if ep == "" {
		return nil, fmt.Errorf("IdP metadata has no SingleLogoutService for %s", short(s.Binding))
	}
	msg := &outMsg{Binding: s.Binding, URL: ep, ID: randomID(), IssueInstant: now}
	root := etree.NewElement("samlp:LogoutRequest")
	root.CreateAttr("xmlns:samlp", nsSAMLP)
	root.CreateAttr("xmlns:saml", nsSAML)
	root.CreateAttr("ID", msg.ID)
	root.CreateAttr("Version", "2.0")
	setOpt(root, "IssueInstant", s.IssueInstant, formatInstant(now))
	if s.Destination == "entityid" {
		s.Destination = idp.EntityID
	}
	setOpt(root, "Destination", s.Destination, ep)
	iss := root.CreateElement("saml:Issuer")
	setOpt(iss, "Format", s.IssuerFormat, fmtEntity)
	iss.CreateAttr("NameQualifier", sp.EntityID)
	iss.SetText(sp.EntityID)
	nid := root.CreateElement("saml:NameID")
	setOpt(nid, "Format", s.NameIDFormat, fmtTransient)
	nid.CreateAttr("NameQualifier", or(s.NameQualifier, idp.EntityID))
	nid.SetText(s.NameID)
	if s.SessionIndex != "" {
		root.CreateElement("samlp:SessionIndex").SetText(s.SessionIndex)
	}
	return encode(msg, root, "SAMLRequest", sp, s.Sig, nil)
}

// decodeRedirectPayload inflates a base64 raw-DEFLATE value, bounded.
func decodeRedirectPayload(v string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	var out bytes.Buffer
	n, err := out.ReadFrom(&limitReader{r: r, n: maxXML + 1})
	if err != nil {
		return nil, fmt.Errorf("not raw DEFLATE: %w", err)
	}
	if n > maxXML {
		return nil, fmt.Errorf("inflated payload larger than %d bytes", maxXML)
	}
	return out.Bytes(), nil
}

type limitReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("payload too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// logoutResponse builds sp's signed answer to an IdP LogoutRequest, sent to
// the IdP's SLO endpoint for binding.
func logoutResponse(sp *simSP, idp *IdPMetadata, binding, inResponseTo string) (*outMsg, error) {
	ep := idp.SLO[binding]
	target := or(ep.ResponseLocation, ep.Location)
	if target == "" {
		return nil, fmt.Errorf("IdP metadata has no SingleLogoutService for %s", short(binding))
	}
	msg := &outMsg{Binding: binding, URL: target, ID: randomID(), IssueInstant: time.Now().UTC()}
	root := etree.NewElement("samlp:LogoutResponse")
	root.CreateAttr("xmlns:samlp", nsSAMLP)
	root.CreateAttr("xmlns:saml", nsSAML)
	root.CreateAttr("ID", msg.ID)
	root.CreateAttr("Version", "2.0")
	root.CreateAttr("IssueInstant", formatInstant(msg.IssueInstant))
	root.CreateAttr("InResponseTo", inResponseTo)
	root.CreateAttr("Destination", target)
	iss := root.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.CreateAttr("NameQualifier", sp.EntityID)
	iss.SetText(sp.EntityID)
	root.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", statusSuccess)
	return encode(msg, root, "SAMLResponse", sp, sigOK, nil)
}
