package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func testOpts() GenerateOptions {
	return GenerateOptions{
		Bits:                   2048,
		CommonName:             "Example IdP",
		Locality:               "Roma",
		OrganizationIdentifier: "VATIT-12345678901",
		OrganizationName:       "Example S.p.A.",
		EntityID:               "https://id.example-idp.it",
		ValidFor:               365 * 24 * time.Hour,
		Now:                    func() time.Time { return testNow },
	}
}

func TestGenerateProfile(t *testing.T) {
	p, err := Generate(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	// Reparse from DER so we assert what is on the wire.
	c, err := x509.ParseCertificate(p.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PublicKey.(*rsa.PublicKey).N.BitLen(); got != 2048 {
		t.Errorf("bits = %d", got)
	}
	if c.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("signature algorithm %v", c.SignatureAlgorithm)
	}
	if !c.NotBefore.Equal(testNow.Add(-time.Minute)) || !c.NotAfter.Equal(testNow.Add(-time.Minute+365*24*time.Hour)) {
		t.Errorf("validity %v .. %v", c.NotBefore, c.NotAfter)
	}
	if c.SerialNumber.Sign() <= 0 {
		t.Error("serial not positive")
	}
	// CheckSignatureFrom would insist on a CA parent; a leaf seal is self-signed.
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}

	// Subject: order, values and string types.
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(c.RawSubject, &rdns); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		oid asn1.ObjectIdentifier
		val string
		tag int
	}{
		{OIDCommonName, "Example IdP", asn1.TagUTF8String},
		{OIDCountryName, "IT", asn1.TagPrintableString},
		{OIDLocalityName, "Roma", asn1.TagUTF8String},
		{OIDOrganizationIdentifier, "VATIT-12345678901", asn1.TagUTF8String},
		{OIDOrganizationName, "Example S.p.A.", asn1.TagUTF8String},
		{OIDURI, "https://id.example-idp.it", asn1.TagUTF8String},
	}
	if len(rdns) != len(want) {
		t.Fatalf("subject has %d RDNs, want %d", len(rdns), len(want))
	}
	var rawRDNs []asn1.RawValue
	if _, err := asn1.Unmarshal(c.RawSubject, &rawRDNs); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		var set []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(rawRDNs[i].FullBytes, &set, "set"); err != nil {
			t.Fatal(err)
		}
		if len(set) != 1 || !set[0].Type.Equal(w.oid) || string(set[0].Value.Bytes) != w.val || set[0].Value.Tag != w.tag {
			t.Errorf("RDN %d = %+v, want %v=%q (tag %d)", i, set, w.oid, w.val, w.tag)
		}
	}
	if c.Issuer.String() != c.Subject.String() {
		t.Errorf("issuer %q != subject %q", c.Issuer, c.Subject)
	}

	// Extensions: exactly the three of the profile, with the right criticality.
	crit := map[string]bool{}
	for _, e := range c.Extensions {
		crit[e.Id.String()] = e.Critical
	}
	wantCrit := map[string]bool{"2.5.29.19": false, "2.5.29.15": true, "2.5.29.32": false}
	if len(crit) != len(wantCrit) {
		t.Errorf("extensions %v, want %v", crit, wantCrit)
	}
	for id, w := range wantCrit {
		if got, ok := crit[id]; !ok || got != w {
			t.Errorf("extension %s critical=%v present=%v, want critical=%v", id, got, ok, w)
		}
	}
	if !c.BasicConstraintsValid || c.IsCA {
		t.Errorf("basicConstraints valid=%v CA=%v", c.BasicConstraintsValid, c.IsCA)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("keyUsage %b", c.KeyUsage)
	}
	pols, err := Policies(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != 2 ||
		!pols[0].OID.Equal(asn1.ObjectIdentifier{1, 3, 76, 16, 6}) || strings.Join(pols[0].Notices, ",") != "agIDcert" ||
		!pols[1].OID.Equal(asn1.ObjectIdentifier{1, 3, 76, 16, 4, 1}) || strings.Join(pols[1].Notices, ",") != "cert_IdP" {
		t.Errorf("policies %+v", pols)
	}
	// Go's own parser agrees on the policy OIDs.
	if len(c.PolicyIdentifiers) != 2 {
		t.Errorf("x509 policy identifiers %v", c.PolicyIdentifiers)
	}
	if err := CheckIdPProfile(c, "https://id.example-idp.it", testNow); err != nil {
		t.Errorf("profile: %v", err)
	}
	if err := CheckIdPProfile(c, "https://other.example", testNow.Add(400*24*time.Hour)); err == nil ||
		!strings.Contains(err.Error(), "differs from entityID") || !strings.Contains(err.Error(), "expired") {
		t.Errorf("profile with wrong entityID and date: %v", err)
	}
}

func TestGenerateDefaultBits(t *testing.T) {
	if testing.Short() {
		t.Skip("3072-bit generation is slow")
	}
	o := testOpts()
	o.Bits = 0
	o.OrganizationIdentifier = "CF:IT-ABCDEF12G34H567I"
	p, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Key.(*rsa.PrivateKey).N.BitLen(); got != 3072 {
		t.Errorf("default bits = %d", got)
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	for name, mut := range map[string]func(*GenerateOptions){
		"bits 1024":       func(o *GenerateOptions) { o.Bits = 1024 },
		"no CN":           func(o *GenerateOptions) { o.CommonName = "" },
		"no locality":     func(o *GenerateOptions) { o.Locality = "" },
		"bad org id":      func(o *GenerateOptions) { o.OrganizationIdentifier = "VATIT-123" },
		"PA org id":       func(o *GenerateOptions) { o.OrganizationIdentifier = "PA:IT-c_h501" },
		"relative entity": func(o *GenerateOptions) { o.EntityID = "idp" },
		"negative":        func(o *GenerateOptions) { o.ValidFor = -time.Hour },
	} {
		t.Run(name, func(t *testing.T) {
			o := testOpts()
			mut(&o)
			if _, err := Generate(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestSaveLoad(t *testing.T) {
	p, err := Generate(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kf, cf := filepath.Join(dir, "a", "b", "key.pem"), filepath.Join(dir, "cert.pem")
	if err := Save(p, kf, cf); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(kf)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st.Mode().Perm())
	}
	q, err := Load(kf, cf)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Cert.Equal(p.Cert) || !q.Key.(*rsa.PrivateKey).Equal(p.Key) {
		t.Error("round trip changed the pair")
	}

	// PKCS#1 is accepted too.
	pk1 := filepath.Join(dir, "pkcs1.pem")
	os.WriteFile(pk1, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(p.Key.(*rsa.PrivateKey))}), 0o600)
	if _, err := Load(pk1, cf); err != nil {
		t.Errorf("PKCS#1: %v", err)
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	p, err := Generate(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	other, err := Generate(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b *pem.Block) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	keyOf := func(k any) *pem.Block {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	certOf := func(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }

	// A 1024-bit, SHA-1-signed certificate with its key.
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	sha1Tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: testNow, NotAfter: testNow.Add(time.Hour), SignatureAlgorithm: x509.SHA256WithRSA}
	smallDER, err := x509.CreateCertificate(rand.Reader, sha1Tmpl, sha1Tmpl, &small.PublicKey, small)
	if err != nil {
		t.Fatal(err)
	}
	smallCert, _ := x509.ParseCertificate(smallDER)

	cases := map[string]struct{ key, cert string }{
		"mismatch":    {write("k1", keyOf(p.Key)), write("c1", certOf(other.Cert))},
		"no key":      {write("k2", certOf(p.Cert)), write("c2", certOf(p.Cert))},
		"no cert":     {write("k3", keyOf(p.Key)), write("c3", keyOf(p.Key))},
		"small key":   {write("k4", keyOf(small)), write("c4", certOf(smallCert))},
		"encrypted":   {write("k5", &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), write("c5", certOf(p.Cert))},
		"missing":     {filepath.Join(dir, "nope"), write("c6", certOf(p.Cert))},
		"garbage key": {write("k7", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), write("c7", certOf(p.Cert))},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(c.key, c.cert); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestCheckStrengthSHA1(t *testing.T) {
	// Go refuses to create SHA-1 certificates, so craft one by hand: take a
	// valid certificate and change its algorithm identifiers. The signature
	// no longer verifies, which does not matter for this check.
	p, err := Generate(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	c := *p.Cert
	c.SignatureAlgorithm = x509.SHA1WithRSA
	if err := CheckStrength(&c); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("SHA-1 accepted: %v", err)
	}
}

func TestLoadOrGenerate(t *testing.T) {
	dir := t.TempDir()
	kf, cf := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem")
	p1, gen, err := LoadOrGenerate(kf, cf, testOpts())
	if err != nil || !gen {
		t.Fatalf("first: gen=%v err=%v", gen, err)
	}
	p2, gen, err := LoadOrGenerate(kf, cf, testOpts())
	if err != nil || gen {
		t.Fatalf("second: gen=%v err=%v", gen, err)
	}
	if !p1.Cert.Equal(p2.Cert) {
		t.Error("second call did not keep the first pair")
	}
	os.Remove(cf)
	if _, _, err := LoadOrGenerate(kf, cf, testOpts()); err == nil {
		t.Error("orphaned key overwritten")
	}
	b, _ := os.ReadFile(kf)
	if q, err := Parse(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p1.Cert.Raw})); err != nil || !q.Key.(*rsa.PrivateKey).Equal(p1.Key) {
		t.Errorf("key file changed: %v", err)
	}
}

func TestExplicitTextTypes(t *testing.T) {
	for _, tc := range []struct {
		tag  int
		data []byte
	}{
		{asn1.TagUTF8String, []byte("cert_IdP")},
		{asn1.TagIA5String, []byte("cert_IdP")},
		{26, []byte("cert_IdP")},
		{30, []byte{0, 'c', 0, 'e', 0, 'r', 0, 't', 0, '_', 0, 'I', 0, 'd', 0, 'P'}},
	} {
		inner, _ := asn1.Marshal(asn1.RawValue{Tag: tc.tag, Bytes: tc.data})
		got, err := explicitText(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: inner})
		if err != nil || got != "cert_IdP" {
			t.Errorf("tag %d: %q %v", tc.tag, got, err)
		}
	}
}

func TestGenerateSPProfiles(t *testing.T) {
	for _, tc := range []struct {
		p      Profile
		orgID  string
		policy asn1.ObjectIdentifier
		notice string
	}{
		{ProfileSPPublic, "PA:IT-c_h501", OIDPolicySPPublic, NoticeSPPublic},
		{ProfileSPPrivate, "VATIT-12345678901", OIDPolicySPPrivate, NoticeSPPrivate},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			o := testOpts()
			o.Profile, o.OrganizationIdentifier, o.EntityID = tc.p, tc.orgID, "https://sp.example.it"
			p, err := Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			pols, err := Policies(p.Cert)
			if err != nil || len(pols) != 2 || !pols[1].OID.Equal(tc.policy) || pols[1].Notices[0] != tc.notice {
				t.Fatalf("policies %+v %v", pols, err)
			}
			if err := CheckProfile(p.Cert, tc.p, "https://sp.example.it", testNow); err != nil {
				t.Errorf("own profile: %v", err)
			}
			if err := CheckIdPProfile(p.Cert, "https://sp.example.it", testNow); err == nil || !strings.Contains(err.Error(), "1.3.76.16.4.1") {
				t.Errorf("SP certificate passed the IdP profile: %v", err)
			}
		})
	}
}

func TestCheckIdPProfileReportsEveryItem(t *testing.T) {
	// A certificate as Go makes it by default: critical basicConstraints,
	// keyEncipherment, no policies, personal attributes, no uri.
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(9),
		Subject: pkix.Name{CommonName: "x", Country: []string{"FR"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: "Rossi"}}},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	err = CheckIdPProfile(c, "https://id.example-idp.it", testNow)
	if err == nil {
		t.Fatal("default Go certificate passes the IdP profile")
	}
	for _, want := range []string{
		"countryName \"FR\"", "localityName", "organizationIdentifier", "organizationName", "subject uri",
		"personal attribute surname", "basicConstraints is critical", "keyUsage 0x5", "lacks 1.3.76.16.6", "lacks 1.3.76.16.4.1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
