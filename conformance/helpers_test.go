package conformance

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
)

var (
	keyOnce  sync.Once
	idpKey   signer
	otherKey signer
)

// testSigners returns the IdP test key and an unrelated key (generated once:
// RSA generation is slow under -race).
func testSigners(t testing.TB) (signer, signer) {
	t.Helper()
	keyOnce.Do(func() {
		idpKey = mustSigner(t, "test-idp")
		otherKey = mustSigner(t, "intruder")
	})
	return idpKey, otherKey
}

func mustSigner(t testing.TB, cn string) signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:       big.NewInt(time.Now().UnixNano()),
		Subject:            pkix.Name{CommonName: cn, Country: []string{"IT"}},
		NotBefore:          time.Now().Add(-time.Hour),
		NotAfter:           time.Now().Add(24 * time.Hour),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return signer{Key: k, Cert: c}
}

const (
	tIdP = "https://idp.example.test"
	tSP  = "https://sp.example.test"
	tACS = "https://sp.example.test/acs/0"
	tReq = "_req-1234"
)

// respSpec drives buildResponse; the zero value yields a correct SpidL1
// Response with the attributes of tAttrs.
type respSpec struct {
	now         time.Time
	level       string
	attrs       map[string]string // nil = tAttrs; empty map = no AttributeStatement
	errorCode   int               // non-zero: error Response
	noSignResp  bool
	noSignAss   bool
	alg         string
	signWith    *signer
	idp, sp     string                 // entityIDs (default tIdP, tSP)
	acs, reqID  string                 // Destination/Recipient and InResponseTo (default tACS, tReq)
	sessionIdx  bool                   // emit SessionIndex (default: only for SpidL1)
	authnInst   string                 // AuthnInstant (default IssueInstant)
	mutateAss   func(a *etree.Element) // before the Assertion is signed
	mutateResp  func(r *etree.Element) // before the Response is signed
	afterSigned func(r *etree.Element) // after both signatures (tampering)
}

var tAttrs = map[string]string{
	"spidCode": "EXID0A1B2C3D4E", "name": "Maria", "familyName": "Rossi",
	"fiscalNumber": "TINIT-RSSMRA80A41H501X", "dateOfBirth": "1980-01-31", "email": "maria@example.it",
}

var tAttrNames = []string{"dateOfBirth", "email", "familyName", "fiscalNumber", "name", "spidCode"}

// buildResponse hand-builds a SPID Response the way spec §4.7 outlines it.
func buildResponse(t testing.TB, s respSpec) []byte {
	t.Helper()
	key, _ := testSigners(t)
	if s.signWith != nil {
		key = *s.signWith
	}
	if s.now.IsZero() {
		s.now = time.Now()
	}
	if s.level == "" {
		s.level = classL1
	}
	if s.alg == "" {
		s.alg = algRSASHA256
	}
	if s.attrs == nil {
		s.attrs = tAttrs
	}
	s.idp, s.sp, s.acs, s.reqID = or(s.idp, tIdP), or(s.sp, tSP), or(s.acs, tACS), or(s.reqID, tReq)
	if s.level == classL1 {
		s.sessionIdx = true
	}
	ii := formatInstant(s.now)
	exp := formatInstant(s.now.Add(5 * time.Minute))

	resp := etree.NewElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", nsSAMLP)
	resp.CreateAttr("xmlns:saml", nsSAML)
	resp.CreateAttr("ID", randomID())
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", ii)
	resp.CreateAttr("InResponseTo", s.reqID)
	resp.CreateAttr("Destination", s.acs)
	iss := resp.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", fmtEntity)
	iss.SetText(s.idp)
	st := resp.CreateElement("samlp:Status")
	sc := st.CreateElement("samlp:StatusCode")
	if s.errorCode != 0 {
		top, sub := anomalyStatus(s.errorCode)
		sc.CreateAttr("Value", top)
		if sub != "" {
			sc.CreateElement("samlp:StatusCode").CreateAttr("Value", sub)
		}
		st.CreateElement("samlp:StatusMessage").SetText("ErrorCode nr" + twoDigits(s.errorCode))
	} else {
		sc.CreateAttr("Value", statusSuccess)
		a := etree.NewElement("saml:Assertion")
		a.CreateAttr("xmlns:saml", nsSAML)
		a.CreateAttr("xmlns:xs", nsXS)
		a.CreateAttr("xmlns:xsi", nsXSI)
		a.CreateAttr("ID", randomID())
		a.CreateAttr("Version", "2.0")
		a.CreateAttr("IssueInstant", ii)
		ai := a.CreateElement("saml:Issuer")
		ai.CreateAttr("Format", fmtEntity)
		ai.SetText(s.idp)
		subj := a.CreateElement("saml:Subject")
		nid := subj.CreateElement("saml:NameID")
		nid.CreateAttr("Format", fmtTransient)
		nid.CreateAttr("NameQualifier", s.idp)
		nid.SetText(randomID())
		scf := subj.CreateElement("saml:SubjectConfirmation")
		scf.CreateAttr("Method", cmBearer)
		scd := scf.CreateElement("saml:SubjectConfirmationData")
		scd.CreateAttr("Recipient", s.acs)
		scd.CreateAttr("NotOnOrAfter", exp)
		scd.CreateAttr("InResponseTo", s.reqID)
		cond := a.CreateElement("saml:Conditions")
		cond.CreateAttr("NotBefore", formatInstant(s.now.Add(-time.Second)))
		cond.CreateAttr("NotOnOrAfter", exp)
		cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(s.sp)
		as := a.CreateElement("saml:AuthnStatement")
		as.CreateAttr("AuthnInstant", or(s.authnInst, ii))
		if s.sessionIdx {
			as.CreateAttr("SessionIndex", "_sess-1")
		}
		as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(s.level)
		if len(s.attrs) > 0 {
			ast := a.CreateElement("saml:AttributeStatement")
			for _, n := range sortedKeys(s.attrs) {
				at := ast.CreateElement("saml:Attribute")
				at.CreateAttr("Name", n)
				at.CreateAttr("NameFormat", attrBasic)
				av := at.CreateElement("saml:AttributeValue")
				typ := "xs:string"
				if n == "dateOfBirth" || n == "expirationDate" {
					typ = "xs:date"
				}
				av.CreateAttr("xsi:type", typ)
				av.SetText(s.attrs[n])
			}
		}
		if s.mutateAss != nil {
			s.mutateAss(a)
		}
		if !s.noSignAss {
			if err := signEnveloped(a, key, s.alg, "Issuer"); err != nil {
				t.Fatal(err)
			}
		}
		resp.AddChild(a)
	}
	if s.mutateResp != nil {
		s.mutateResp(resp)
	}
	if !s.noSignResp {
		if err := signEnveloped(resp, key, s.alg, "Issuer"); err != nil {
			t.Fatal(err)
		}
	}
	if s.afterSigned != nil {
		s.afterSigned(resp)
	}
	doc := etree.NewDocument()
	doc.SetRoot(resp)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func twoDigits(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func expectFor(t testing.TB, now time.Time) ResponseExpect {
	key, _ := testSigners(t)
	return ResponseExpect{
		IdPEntityID: tIdP, IdPCerts: []*x509.Certificate{key.Cert}, SPEntityID: tSP,
		Destination: tACS, RequestID: tReq, RequestIssueInstant: now.Add(-2 * time.Second),
		Level: 1, RequestedAttrs: tAttrNames, Now: now.Add(time.Second), Strict: true,
	}
}
