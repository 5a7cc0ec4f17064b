package conformance

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
)

// Attribute sets the simulator's AttributeConsumingServices request. Index 0
// is the usual natural-person set; index 1 asks for one attribute only, so
// that a Response carrying set 0 for a set-1 request is caught.
var spAttributeSets = map[int][]string{
	0: {"dateOfBirth", "email", "familyName", "fiscalNumber", "name", "spidCode"},
	1: {"fiscalNumber"},
}

// spDisplayName is the simulators' OrganizationDisplayName, which the IdP
// must show on its consent page (C163).
const spDisplayName = "SPID Conformance"

// simSP is one simulated service provider: its key, its endpoints and its
// signed SPID metadata.
type simSP struct {
	EntityID string
	ACS      []string // index → Location (all HTTP-POST); index 0 is the default
	SLO      map[string]string
	Attrs    map[int][]string
	Metadata []byte
	key      signer
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

// newSimSP creates an SP whose endpoints live under base (no trailing
// slash). With keyDir set, its key pair is kept there between runs so that
// the operator registers the simulator once.
func newSimSP(base, ipaCode string, bits int, keyDir string) (*simSP, error) {
	sp := &simSP{
		EntityID: base,
		ACS:      []string{base + "/acs/0", base + "/acs/1"},
		SLO:      map[string]string{bindingRedirect: base + "/slo/redirect", bindingPOST: base + "/slo/post"},
		Attrs:    spAttributeSets,
	}
	var key signer
	var err error
	if keyDir != "" {
		key, err = loadOrCreateSPKey(keyDir, sp.EntityID, ipaCode, bits)
	} else {
		key, err = newSPKey(sp.EntityID, ipaCode, bits)
	}
	if err != nil {
		return nil, err
	}
	sp.key = key
	if sp.Metadata, err = sp.buildMetadata(ipaCode); err != nil {
		return nil, err
	}
	return sp, nil
}

// newSPKey makes a self-signed certificate following the public-SP profile
// of Avviso 29 v3 (spec §1.6), so that strict IdPs accept the simulator.
func newSPKey(entityID, ipaCode string, bits int) (signer, error) {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return signer{}, fmt.Errorf("SP key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName: "SPID conformance SP", Organization: []string{"SPID Conformance Suite"},
			Country: []string{"IT"}, Locality: []string{"Roma"},
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: oidOrgIdentifier, Value: "PA:IT-" + ipaCode},
				{Type: oidURI, Value: entityID},
			},
		},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		PolicyIdentifiers:     []asn1.ObjectIdentifier{oidPolicyAgID, {1, 3, 76, 16, 4, 2, 1}},
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		return signer{}, fmt.Errorf("SP certificate: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return signer{}, fmt.Errorf("SP certificate: %w", err)
	}
	return signer{Key: k, Cert: c}, nil
}

// buildMetadata writes the SP's SPID metadata (spec §2.2) and signs it.
func (sp *simSP) buildMetadata(ipaCode string) ([]byte, error) {
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMD)
	ed.CreateAttr("xmlns:ds", nsDS)
	ed.CreateAttr("xmlns:spid", nsSPID)
	ed.CreateAttr("entityID", sp.EntityID)
	ed.CreateAttr("ID", randomID())
	sso := ed.CreateElement("md:SPSSODescriptor")
	sso.CreateAttr("protocolSupportEnumeration", protocolSAML2)
	sso.CreateAttr("AuthnRequestsSigned", "true")
	sso.CreateAttr("WantAssertionsSigned", "true")
	kd := sso.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(sp.key.Cert.Raw))
	for _, b := range []string{bindingRedirect, bindingPOST} {
		s := sso.CreateElement("md:SingleLogoutService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", sp.SLO[b])
	}
	sso.CreateElement("md:NameIDFormat").SetText(fmtTransient)
	for i, loc := range sp.ACS {
		a := sso.CreateElement("md:AssertionConsumerService")
		a.CreateAttr("index", fmt.Sprint(i))
		a.CreateAttr("Binding", bindingPOST)
		a.CreateAttr("Location", loc)
		if i == 0 {
			a.CreateAttr("isDefault", "true")
		}
	}
	for i := 0; i < len(sp.Attrs); i++ {
		acs := sso.CreateElement("md:AttributeConsumingService")
		acs.CreateAttr("index", fmt.Sprint(i))
		sn := acs.CreateElement("md:ServiceName")
		sn.CreateAttr("xml:lang", "it")
		sn.SetText(fmt.Sprintf("Servizio di prova %d", i))
		for _, n := range sp.Attrs[i] {
			ra := acs.CreateElement("md:RequestedAttribute")
			ra.CreateAttr("Name", n)
			ra.CreateAttr("NameFormat", attrBasic)
		}
	}
	org := ed.CreateElement("md:Organization")
	for _, lang := range []string{"it", "en"} {
		for _, n := range [][2]string{{"OrganizationName", "SPID Conformance Suite"}, {"OrganizationDisplayName", spDisplayName}, {"OrganizationURL", sp.EntityID + "/"}} {
			e := org.CreateElement("md:" + n[0])
			e.CreateAttr("xml:lang", lang)
			e.SetText(n[1])
		}
	}
	cp := ed.CreateElement("md:ContactPerson")
	cp.CreateAttr("contactType", "other")
	ext := cp.CreateElement("md:Extensions")
	ext.CreateElement("spid:IPACode").SetText(ipaCode)
	ext.CreateElement("spid:Public")
	cp.CreateElement("md:EmailAddress").SetText("conformance@example.org")
	cp.CreateElement("md:TelephoneNumber").SetText("+390600000000")
	if err := signEnveloped(ed, sp.key, algRSASHA256, ""); err != nil {
		return nil, fmt.Errorf("signing SP metadata: %w", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(ed)
	return doc.WriteToBytes()
}

// captured is a message the simulator received on one of its endpoints.
type captured struct {
	Endpoint   string
	Method     string
	Values     url.Values
	RawQuery   string
	ReceivedAt time.Time
}

// spServer serves the simulators' metadata and records what reaches their
// ACS and SLO endpoints (a browser driven by the operator may use them).
type spServer struct {
	sps  []*simSP
	mu   sync.Mutex
	seen []captured
}

func (s *spServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxXML*2)
	for _, sp := range s.sps {
		u, _ := url.Parse(sp.EntityID)
		prefix := strings.TrimSuffix(u.Path, "/")
		switch r.URL.Path {
		case prefix + "/metadata", prefix + "/metadata.xml":
			w.Header().Set("Content-Type", "application/samlmetadata+xml")
			_, _ = w.Write(sp.Metadata)
			return
		case prefix + "/acs/0", prefix + "/acs/1", prefix + "/slo/redirect", prefix + "/slo/post":
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			s.mu.Lock()
			s.seen = append(s.seen, captured{Endpoint: r.URL.Path, Method: r.Method, Values: r.Form, RawQuery: r.URL.RawQuery, ReceivedAt: time.Now()})
			s.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("SPID conformance simulator: message received.\n"))
			return
		}
	}
	http.NotFound(w, r)
}

// loadOrCreateSPKey keeps one PEM file per entityID in dir (key and
// certificate), creating it on first use.
func loadOrCreateSPKey(dir, entityID, ipaCode string, bits int) (signer, error) {
	sum := sha256.Sum256([]byte(entityID))
	path := filepath.Join(dir, "sp-"+hex.EncodeToString(sum[:6])+".pem")
	if data, err := os.ReadFile(path); err == nil {
		return parseSPKey(data, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return signer{}, fmt.Errorf("reading %s: %w", path, err)
	}
	k, err := newSPKey(entityID, ipaCode, bits)
	if err != nil {
		return signer{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return signer{}, fmt.Errorf("encoding SP key: %w", err)
	}
	out := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Cert.Raw})...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return signer{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return signer{}, fmt.Errorf("writing %s: %w", path, err)
	}
	return k, nil
}

func parseSPKey(data []byte, path string) (signer, error) {
	var s signer
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return s, fmt.Errorf("%s: private key: %w", path, err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return s, fmt.Errorf("%s: the key is not RSA", path)
			}
			s.Key = rk
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return s, fmt.Errorf("%s: certificate: %w", path, err)
			}
			s.Cert = c
		}
	}
	if s.Key == nil || s.Cert == nil {
		return s, fmt.Errorf("%s: needs a PRIVATE KEY and a CERTIFICATE block", path)
	}
	if !s.Key.PublicKey.Equal(s.Cert.PublicKey) {
		return s, fmt.Errorf("%s: the certificate does not match the key", path)
	}
	if time.Now().After(s.Cert.NotAfter) {
		return s, fmt.Errorf("%s: the certificate expired on %s; delete the file to create a new one", path, s.Cert.NotAfter.Format(time.DateOnly))
	}
	return s, nil
}
