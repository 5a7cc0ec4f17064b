package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/spid-idp/spid-idp/revocation"
)

const (
	cf      = "RSSMRA80A01H501U"
	otherCF = "RSSMRA80A41H501Y"
)

var serial atomic.Int64

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl *x509.Certificate, parent *ca, key *ecdsa.PrivateKey) *x509.Certificate {
	tmpl.SerialNumber = big.NewInt(1000 + serial.Add(1))
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t testing.TB, name string, parent *ca) *ca {
	k := newKey(t)
	return &ca{key: k, cert: issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: name, Organization: []string{"Test QTSP"}, Country: []string{"IT"}},
		NotBefore: time.Now().AddDate(-5, 0, 0), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, parent, k)}
}

// qcStatements with QcCompliance and, to show other statements are
// tolerated, QcSSCD (0.4.0.1862.1.4).
func qcExtension(t testing.TB) pkix.Extension {
	type stmt struct{ ID asn1.ObjectIdentifier }
	v, err := asn1.Marshal([]stmt{{asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 4}}, {oidQcCompliance}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidQcStatements, Value: v}
}

type signerOpts struct {
	serialNumber string
	notBefore    time.Time
	notAfter     time.Time
	noQC         bool
	ku           x509.KeyUsage
}

type signer struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate // parents, issuer first
}

func newSigner(t testing.TB, issuer *ca, parents []*x509.Certificate, o signerOpts) signer {
	if o.serialNumber == "" {
		o.serialNumber = "TINIT-" + cf
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().AddDate(-1, 0, 0)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().AddDate(2, 0, 0)
	}
	if o.ku == 0 {
		o.ku = x509.KeyUsageContentCommitment
	}
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Mario Rossi", SerialNumber: o.serialNumber, Country: []string{"IT"}},
		NotBefore: o.notBefore, NotAfter: o.notAfter, KeyUsage: o.ku,
	}
	if !o.noQC {
		tmpl.ExtraExtensions = []pkix.Extension{qcExtension(t)}
	}
	k := newKey(t)
	return signer{cert: issue(t, tmpl, issuer, k), key: k, chain: parents}
}

type env struct {
	root, inter, other *ca
	v                  *Verifier
	req                FormData
	form               []byte
	issued             Issued
}

func newEnv(t testing.TB) *env {
	root := newCA(t, "Test Qualified Root", nil)
	inter := newCA(t, "Test Qualified Signing CA", root)
	other := newCA(t, "Unlisted CA", nil)
	trust := x509.NewCertPool()
	trust.AddCert(root.cert)
	// pkcs7 stamps the real time as signingTime, so the form is issued an
	// hour before the real now.
	req := testFormData(time.Now().Add(-time.Hour).Truncate(time.Second))
	form, err := Form(req)
	if err != nil {
		t.Fatal(err)
	}
	return &env{root: root, inter: inter, other: other,
		v:   &Verifier{Trust: trust, RequireQC: true, TrustListVersion: "test-tsl-1"},
		req: req, form: form,
		issued: Issued{Form: form, IssuedAt: req.IssuedAt, FiscalCode: "TINIT-" + cf},
	}
}

func (e *env) signer(t testing.TB, o signerOpts) signer {
	return newSigner(t, e.inter, []*x509.Certificate{e.inter.cert}, o)
}

// cades makes an enveloping CAdES-style .p7m over content.
func cades(t testing.TB, content []byte, s signer) []byte {
	return cadesWith(t, content, s, cadesOpts{})
}

type padesOpts struct {
	replaceContent []byte         // shadow attack: redefine page 1's content stream
	extraAnnot     bool           // add a text annotation to page 1
	contentSize    int            // bytes reserved for the CMS (default 8192)
	extra          string         // body of one more object in the update
	redefine       map[int]string // objects of the form redefined by the update
}

// pades signs form the way PDF signing tools do: an incremental update that
// redefines the catalog (AcroForm with one signature field) and page 1
// (its /Annots), and adds the signature dictionary whose /Contents hole is
// excluded by /ByteRange. digitorus/pdfsign's own signer cannot be used:
// its dependency github.com/mattetti/filebuffer has no go.sum entry here.
func pades(t testing.TB, form []byte, s signer, o padesOpts) []byte {
	size := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(form, -1)
	prev := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(form)
	if size == nil || prev == nil {
		t.Fatal("form trailer not found")
	}
	n, _ := strconv.Atoi(string(size[len(size)-1][1]))
	sigObj, fieldObj, annotObj := n, n+1, n+2
	if o.contentSize == 0 {
		o.contentSize = 8192
	}

	var b bytes.Buffer
	b.Write(form)
	offsets := map[int]int{}
	obj := func(num int, body string) {
		offsets[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
	}
	obj(1, fmt.Sprintf("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%d 0 R] /SigFlags 3 >> >>", fieldObj))
	annots := fmt.Sprintf("%d 0 R", fieldObj)
	if o.extraAnnot {
		annots += fmt.Sprintf(" %d 0 R", annotObj)
		obj(annotObj, "<< /Type /Annot /Subtype /FreeText /Rect [50 700 300 720] /Contents (name: Luigi) /DA (/Helv 10 Tf) >>")
	}
	obj(6, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents 7 0 R /Annots [%s] >>", annots))
	if o.extra != "" {
		obj(annotObj+1, o.extra)
	}
	for num, body := range o.redefine {
		obj(num, body)
	}
	if o.replaceContent != nil {
		offsets[7] = b.Len()
		fmt.Fprintf(&b, "7 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(o.replaceContent), o.replaceContent)
	}
	const brPlaceholder = "/ByteRange [0 0000000000 0000000000 0000000000]"
	offsets[sigObj] = b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached %s /M (D:%s) /Contents <",
		sigObj, brPlaceholder, time.Now().UTC().Format("20060102150405")+"Z")
	holeStart := b.Len() - 1
	b.WriteString(strings.Repeat("0", 2*o.contentSize))
	b.WriteString("> >>\nendobj\n")
	holeEnd := b.Len() - len(" >>\nendobj\n")
	obj(fieldObj, fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /T (Firma) /V %d 0 R /Rect [0 0 0 0] /F 132 /P 6 0 R >>", sigObj))

	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	nums := []int{}
	for k := range offsets {
		nums = append(nums, k)
	}
	sortInts(nums)
	for _, k := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", k, offsets[k])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", annotObj+2, prev[1], xref)

	out := b.Bytes()
	br := fmt.Sprintf("/ByteRange [0 %010d %010d %010d]", holeStart, holeEnd, len(out)-holeEnd)
	i := bytes.Index(out, []byte(brPlaceholder))
	copy(out[i:], br)

	signed := append(append([]byte{}, out[:holeStart]...), out[holeEnd:]...)
	sd, err := pkcs7.NewSignedData(signed)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(s.cert, s.key, s.chain, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	cms, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(cms)
	if len(h) > 2*o.contentSize {
		t.Fatal("signature larger than its reserved space")
	}
	copy(out[holeStart+1:], h)
	return out
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func wantRefused(t *testing.T, rep Report, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %s", err, want.Code)
	}
	var e *Error
	if !errors.As(err, &e) || e.Message("it") == "" || e.Message("it") == e.Message("en") {
		t.Fatalf("want an *Error with IT and EN messages: %#v", err)
	}
	if rep.Passed() {
		t.Fatal("report of a refusal says passed")
	}
	if len(rep.Checks) > 0 && rep.Checks[len(rep.Checks)-1].OK {
		t.Fatalf("the last check of a refusal should be the failed one: %+v", rep.Checks)
	}
}

// E034: a valid CAdES signature made with a test CA is accepted.
func TestE034CAdESAccepted(t *testing.T) {
	e := newEnv(t)
	p7m := cades(t, e.form, e.signer(t, signerOpts{}))
	for name, in := range map[string][]byte{
		"DER":    p7m,
		"base64": []byte(base64.StdEncoding.EncodeToString(p7m) + "\r\n"),
		"PEM":    pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7m}),
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := e.v.VerifyCAdES(context.Background(), in, e.issued)
			if err != nil {
				t.Fatalf("VerifyCAdES: %v\n%+v", err, rep.Checks)
			}
			checkAcceptedReport(t, e, rep, "CAdES")
		})
	}
}

func checkAcceptedReport(t *testing.T, e *env, rep Report, format string) {
	t.Helper()
	if !rep.Passed() || rep.Format != format || rep.SignerCF != cf || rep.TrustListVersion != "test-tsl-1" {
		t.Fatalf("report: %+v", rep)
	}
	if len(rep.Chain) != 3 {
		t.Fatalf("chain has %d certificates, want signer, intermediate, root", len(rep.Chain))
	}
	root, _ := x509.ParseCertificate(rep.Chain[2])
	if !root.Equal(e.root.cert) {
		t.Fatal("chain does not end at the trust anchor")
	}
	if rep.SigningTime.Before(e.issued.IssuedAt) || time.Since(rep.SigningTime) > time.Minute {
		t.Fatalf("signing time %v", rep.SigningTime)
	}
	names := map[string]bool{}
	for _, c := range rep.Checks {
		names[c.Name] = true
	}
	for _, n := range []string{CheckParse, CheckSigners, CheckContent, CheckSigningTime, CheckValidity, CheckSignature, CheckChain, CheckKeyUsage, CheckQC, CheckWindow, CheckFiscalCode} {
		if !names[n] {
			t.Errorf("report lacks check %s", n)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

// E034: a valid PAdES signature made with a test CA is accepted.
func TestE034PAdESAccepted(t *testing.T) {
	e := newEnv(t)
	signed := pades(t, e.form, e.signer(t, signerOpts{}), padesOpts{})
	rep, err := e.v.VerifyPAdES(context.Background(), signed, e.issued)
	if err != nil {
		t.Fatalf("VerifyPAdES: %v\n%+v", err, rep.Checks)
	}
	checkAcceptedReport(t, e, rep, "PAdES")
	// The signed file still shows the form's text.
	if got := strings.Join(pdfText(t, signed), ""); !strings.Contains(got, nospace("SHA-256: "+testHash)) {
		t.Fatal("signed PDF lost the form text")
	}
}

// E030: a CAdES or PAdES file whose signature does not verify is refused.
func TestE030SignatureDoesNotVerify(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	t.Run("CAdES signature value changed", func(t *testing.T) {
		p7m := cades(t, e.form, s)
		p7m[len(p7m)-1] ^= 0x01 // last byte of the ECDSA signature value
		rep, err := e.v.VerifyCAdES(context.Background(), p7m, e.issued)
		wantRefused(t, rep, err, ErrInvalid)
	})
	t.Run("CAdES signed attributes changed", func(t *testing.T) {
		p7m := cades(t, e.form, s)
		// The signingTime attribute is a UTCTime "YYMMDDhhmmssZ": move it.
		i := bytes.Index(p7m, []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05})
		if i < 0 {
			t.Fatal("no signingTime attribute")
		}
		p7m[i+11+4+2+1] ^= 0x01 // a digit of the time value
		rep, err := e.v.VerifyCAdES(context.Background(), p7m, e.issued)
		if err == nil || rep.Passed() {
			t.Fatal("changed signed attributes accepted")
		}
	})
	t.Run("PAdES signature value changed", func(t *testing.T) {
		signed := pades(t, e.form, s, padesOpts{})
		i := bytes.Index(signed, []byte("/Contents <")) + len("/Contents <")
		end := bytes.IndexByte(signed[i:], '>')
		h := bytes.TrimRight(signed[i:i+end], "0")
		// Change a hex digit near the end of the CMS: the signature value.
		k := i + len(h) - 3
		if signed[k] == 'a' {
			signed[k] = 'b'
		} else {
			signed[k] = 'a'
		}
		rep, err := e.v.VerifyPAdES(context.Background(), signed, e.issued)
		if err == nil || rep.Passed() {
			t.Fatal("changed PAdES signature accepted")
		}
	})
	t.Run("PAdES update changed after signing", func(t *testing.T) {
		signed := pades(t, e.form, s, padesOpts{})
		i := bytes.Index(signed, []byte("/T (Firma)"))
		signed[i+4] = 'f'
		rep, err := e.v.VerifyPAdES(context.Background(), signed, e.issued)
		wantRefused(t, rep, err, ErrInvalid)
	})
}

// E031: a valid signature over a different document (one byte changed) is
// refused.
func TestE031DifferentDocument(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	other := bytes.Clone(e.form)
	i := bytes.Index(other, []byte("7K3M9QZ2XH"))
	other[i] = '8'
	t.Run("CAdES", func(t *testing.T) {
		rep, err := e.v.VerifyCAdES(context.Background(), cades(t, other, s), e.issued)
		wantRefused(t, rep, err, ErrContentMismatch)
	})
	t.Run("PAdES", func(t *testing.T) {
		rep, err := e.v.VerifyPAdES(context.Background(), pades(t, other, s, padesOpts{}), e.issued)
		wantRefused(t, rep, err, ErrContentMismatch)
	})
	t.Run("CAdES of another request's form", func(t *testing.T) {
		req := e.req
		req.Attributes = map[string]string{"name": "Luigi"}
		f, _ := Form(req)
		rep, err := e.v.VerifyCAdES(context.Background(), cades(t, f, s), e.issued)
		wantRefused(t, rep, err, ErrContentMismatch)
	})
	t.Run("PAdES update that changes the page", func(t *testing.T) {
		rep, err := e.v.VerifyPAdES(context.Background(), pades(t, e.form, s, padesOpts{
			replaceContent: []byte("BT /F1 10 Tf 56 700 Td (name: Luigi) Tj ET"),
		}), e.issued)
		wantRefused(t, rep, err, ErrContentMismatch)
	})
	t.Run("PAdES update that adds a text annotation", func(t *testing.T) {
		rep, err := e.v.VerifyPAdES(context.Background(), pades(t, e.form, s, padesOpts{extraAnnot: true}), e.issued)
		wantRefused(t, rep, err, ErrContentMismatch)
	})
	t.Run("PAdES content appended after the signature", func(t *testing.T) {
		signed := pades(t, e.form, s, padesOpts{})
		signed = append(signed, []byte("% appended\n%%EOF\n")...)
		rep, err := e.v.VerifyPAdES(context.Background(), signed, e.issued)
		wantRefused(t, rep, err, ErrMalformed)
	})
}

// E032: a signer outside the trust list, or without QcCompliance, is refused.
func TestE032TrustAndQC(t *testing.T) {
	e := newEnv(t)
	untrusted := newSigner(t, e.other, nil, signerOpts{})
	noQC := e.signer(t, signerOpts{noQC: true})
	t.Run("CAdES untrusted", func(t *testing.T) {
		rep, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, untrusted), e.issued)
		wantRefused(t, rep, err, ErrUntrusted)
	})
	t.Run("PAdES untrusted", func(t *testing.T) {
		rep, err := e.v.VerifyPAdES(context.Background(), pades(t, e.form, untrusted, padesOpts{}), e.issued)
		wantRefused(t, rep, err, ErrUntrusted)
	})
	t.Run("CAdES without QcCompliance", func(t *testing.T) {
		rep, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, noQC), e.issued)
		wantRefused(t, rep, err, ErrNoQC)
	})
	t.Run("PAdES without QcCompliance", func(t *testing.T) {
		rep, err := e.v.VerifyPAdES(context.Background(), pades(t, e.form, noQC, padesOpts{}), e.issued)
		wantRefused(t, rep, err, ErrNoQC)
	})
	t.Run("without QcCompliance when not required", func(t *testing.T) {
		v := *e.v
		v.RequireQC = false
		if _, err := v.VerifyCAdES(context.Background(), cades(t, e.form, noQC), e.issued); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("intermediate missing from the file but configured", func(t *testing.T) {
		s := newSigner(t, e.inter, nil, signerOpts{})
		p7m := cades(t, e.form, s)
		rep, err := e.v.VerifyCAdES(context.Background(), p7m, e.issued)
		wantRefused(t, rep, err, ErrUntrusted)
		v := *e.v
		v.Intermediates = x509.NewCertPool()
		v.Intermediates.AddCert(e.inter.cert)
		if _, err := v.VerifyCAdES(context.Background(), p7m, e.issued); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignerValidityAndUsage(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		o    signerOpts
		want *Error
	}{
		{"expired signer", signerOpts{notBefore: time.Now().AddDate(-3, 0, 0), notAfter: time.Now().Add(-time.Minute)}, ErrSignerValidity},
		{"signer not yet valid", signerOpts{notBefore: time.Now().Add(time.Hour)}, ErrSignerValidity},
		{"key usage without signature", signerOpts{ku: x509.KeyUsageKeyAgreement}, ErrWrongUsage},
	}
	for _, tc := range cases {
		s := e.signer(t, tc.o)
		t.Run("CAdES "+tc.name, func(t *testing.T) {
			rep, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, s), e.issued)
			wantRefused(t, rep, err, tc.want)
		})
		t.Run("PAdES "+tc.name, func(t *testing.T) {
			rep, err := e.v.VerifyPAdES(context.Background(), pades(t, e.form, s, padesOpts{}), e.issued)
			wantRefused(t, rep, err, tc.want)
		})
	}
}

// E033: a signer CF different from the request's is refused.
func TestE033FiscalCode(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	issued := e.issued
	issued.FiscalCode = otherCF
	rep, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, s), issued)
	wantRefused(t, rep, err, ErrMismatch)
	if rep.SignerCF != cf {
		t.Fatalf("report should name the signer's CF: %q", rep.SignerCF)
	}
	rep, err = e.v.VerifyPAdES(context.Background(), pades(t, e.form, s, padesOpts{}), issued)
	wantRefused(t, rep, err, ErrMismatch)

	for name, sn := range map[string]string{"IT: form": "IT:" + cf} {
		t.Run(name, func(t *testing.T) {
			s := e.signer(t, signerOpts{serialNumber: sn})
			if _, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, s), e.issued); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("no CF in the certificate", func(t *testing.T) {
		s := e.signer(t, signerOpts{serialNumber: "CARD-12345"})
		rep, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, s), e.issued)
		wantRefused(t, rep, err, ErrNoFiscalCode)
	})
	t.Run("request CF without prefix", func(t *testing.T) {
		issued := e.issued
		issued.FiscalCode = strings.ToLower(cf)
		if _, err := e.v.VerifyCAdES(context.Background(), cades(t, e.form, s), issued); err != nil {
			t.Fatal(err)
		}
	})
}

// E035: a signing time more than 30 days after the form was issued is refused.
func TestE035SigningWindow(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	p7m := cades(t, e.form, s)
	signed := pades(t, e.form, s, padesOpts{})
	at := func(d time.Duration) Issued {
		i := e.issued
		i.IssuedAt = time.Now().Add(-d)
		return i
	}
	for _, tc := range []struct {
		name   string
		issued Issued
		want   *Error
	}{
		{"signed 31 days after issue", at(31 * 24 * time.Hour), ErrSigningWindow},
		{"signed before issue", at(-time.Hour), ErrSigningWindow},
		{"signed 29 days after issue", at(29 * 24 * time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := e.v.VerifyCAdES(context.Background(), p7m, tc.issued)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				wantRefused(t, rep, err, tc.want)
			}
			rep, err = e.v.VerifyPAdES(context.Background(), signed, tc.issued)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				wantRefused(t, rep, err, tc.want)
			}
		})
	}
	t.Run("shorter configured window", func(t *testing.T) {
		v := *e.v
		v.MaxAfterIssue = 24 * time.Hour
		rep, err := v.VerifyCAdES(context.Background(), p7m, at(25*time.Hour))
		wantRefused(t, rep, err, ErrSigningWindow)
	})
	t.Run("signing time in the future of our clock", func(t *testing.T) {
		v := *e.v
		v.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		rep, err := v.VerifyCAdES(context.Background(), p7m, at(2*time.Hour))
		wantRefused(t, rep, err, ErrSigningWindow)
	})
}

func TestRevocationHook(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	v := *e.v
	var calls []string
	fail := revocation.ErrRevoked
	v.Revocation = revocation.CheckerFunc(func(ctx context.Context, c, issuer *x509.Certificate, at time.Time) (revocation.Result, error) {
		calls = append(calls, c.Subject.CommonName)
		if time.Since(at) > time.Minute {
			t.Errorf("revocation asked at %v, not the upload time", at)
		}
		r := revocation.Result{Subject: c.Subject.String(), Status: revocation.Good}
		if c.Equal(s.cert) && fail != nil {
			return r, fmt.Errorf("ocsp: %w", fail)
		}
		return r, nil
	})
	rep, err := v.VerifyCAdES(context.Background(), cades(t, e.form, s), e.issued)
	wantRefused(t, rep, err, ErrRevoked)
	fail = revocation.ErrUnavailable
	rep, err = v.VerifyCAdES(context.Background(), cades(t, e.form, s), e.issued)
	wantRefused(t, rep, err, ErrRevocationUnavailable)
	calls, fail = nil, nil
	rep, err = v.VerifyCAdES(context.Background(), cades(t, e.form, s), e.issued)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || len(rep.Revocation) != 2 {
		t.Fatalf("revocation checked for %v (%d in the report), want the signer and the intermediate", calls, len(rep.Revocation))
	}
}

func TestMisconfigured(t *testing.T) {
	e := newEnv(t)
	p7m := cades(t, e.form, e.signer(t, signerOpts{}))
	for name, f := range map[string]func(*Verifier, *Issued){
		"no trust list": func(v *Verifier, _ *Issued) { v.Trust = nil },
		"no form":       func(_ *Verifier, i *Issued) { i.Form = nil },
		"no issue time": func(_ *Verifier, i *Issued) { i.IssuedAt = time.Time{} },
		"no request CF": func(_ *Verifier, i *Issued) { i.FiscalCode = " " },
	} {
		t.Run(name, func(t *testing.T) {
			v, i := *e.v, e.issued
			f(&v, &i)
			if _, err := v.VerifyCAdES(context.Background(), p7m, i); !errors.Is(err, ErrMisconfigured) {
				t.Fatalf("VerifyCAdES = %v", err)
			}
			if _, err := v.VerifyPAdES(context.Background(), p7m, i); !errors.Is(err, ErrMisconfigured) {
				t.Fatalf("VerifyPAdES = %v", err)
			}
		})
	}
}

// Garbage never panics and is refused as malformed (or for a missing signer).
func TestGarbage(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	p7m := cades(t, e.form, s)
	signed := pades(t, e.form, s, padesOpts{})
	degenerate, _ := pkcs7.DegenerateCertificate(s.cert.Raw)
	random := make([]byte, 2048)
	rand.Read(random)
	inputs := map[string][]byte{
		"nil":              nil,
		"empty":            {},
		"text":             []byte("hello"),
		"random":           random,
		"PEM of garbage":   pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: random[:100]}),
		"base64 garbage":   []byte(base64.StdEncoding.EncodeToString(random[:99])),
		"certificate only": degenerate,
		"the bare form":    e.form,
		"PDF header only":  []byte("%PDF-1.4\n%%EOF\n"),
		"unsigned form":    e.form,
	}
	for i := 1; i < len(p7m); i += len(p7m)/40 + 1 {
		inputs[fmt.Sprintf("p7m truncated at %d", i)] = p7m[:i]
	}
	for i := 1; i < len(signed); i += len(signed)/40 + 1 {
		inputs[fmt.Sprintf("PDF truncated at %d", i)] = signed[:i]
	}
	both := []func(context.Context, []byte, Issued) (Report, error){e.v.VerifyCAdES, e.v.VerifyPAdES}
	only := map[string][]func(context.Context, []byte, Issued) (Report, error){
		"p7m as PAdES":   {e.v.VerifyPAdES},
		"PAdES as CAdES": {e.v.VerifyCAdES},
	}
	inputs["p7m as PAdES"], inputs["PAdES as CAdES"] = p7m, signed
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			fs := both
			if o, ok := only[name]; ok {
				fs = o
			}
			for _, f := range fs {
				rep, err := f(context.Background(), in, e.issued)
				if err == nil || rep.Passed() {
					t.Fatal("garbage accepted")
				}
				var se *Error
				if !errors.As(err, &se) {
					t.Fatalf("want *Error, got %T %v", err, err)
				}
			}
		})
	}
}

// The digest algorithm of the signature is the signer's choice among those
// pkcs7 supports; SHA-512 works like SHA-256.
func TestOtherDigest(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	sd, _ := pkcs7.NewSignedData(e.form)
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA512)
	if err := sd.AddSignerChain(s.cert, s.key, s.chain, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	p7m, _ := sd.Finish()
	if _, err := e.v.VerifyCAdES(context.Background(), p7m, e.issued); err != nil {
		t.Fatal(err)
	}
}

func FuzzVerifyCAdES(f *testing.F) {
	e := newEnv(f)
	s := e.signer(f, signerOpts{})
	p7m := cades(f, e.form, s)
	f.Add(p7m)
	f.Add(p7m[:len(p7m)/2])
	f.Add([]byte(base64.StdEncoding.EncodeToString(p7m)))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := e.v.VerifyCAdES(context.Background(), in, e.issued)
		if err == nil && (!rep.Passed() || rep.SignerCF != cf) {
			t.Fatalf("accepted without passing every check: %+v", rep)
		}
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want *Error, got %T %v", err, err)
			}
		}
	})
}

func FuzzVerifyPAdES(f *testing.F) {
	e := newEnv(f)
	s := e.signer(f, signerOpts{})
	signed := pades(f, e.form, s, padesOpts{contentSize: 2048})
	f.Add(signed)
	f.Add(signed[:len(signed)-40])
	f.Add(e.form)
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := e.v.VerifyPAdES(context.Background(), in, e.issued)
		if err == nil && !rep.Passed() {
			t.Fatalf("accepted without passing every check: %+v", rep)
		}
	})
}

// The ESS signing-certificate attribute, when present, must name the
// signer's certificate (certificate substitution otherwise goes unseen).
func TestSigningCertificateAttribute(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	other := e.signer(t, signerOpts{})
	type certIDv2 struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		CertHash      []byte
	}
	type certIDv2Default struct{ CertHash []byte }
	type certIDv1 struct{ CertHash []byte }
	sum := func(h crypto.Hash, c *x509.Certificate) []byte { d := h.New(); d.Write(c.Raw); return d.Sum(nil) }
	sha512 := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}}
	sign := func(attr pkcs7.Attribute) []byte {
		sd, _ := pkcs7.NewSignedData(e.form)
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
		if err := sd.AddSignerChain(s.cert, s.key, s.chain, pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{attr}}); err != nil {
			t.Fatal(err)
		}
		b, err := sd.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v2 := func(id any) pkcs7.Attribute {
		return pkcs7.Attribute{Type: oidSigningCertificateV2, Value: struct{ Certs []any }{[]any{id}}}
	}
	for _, tc := range []struct {
		name string
		attr pkcs7.Attribute
		ok   bool
	}{
		{"v2 SHA-256 by default", v2(certIDv2Default{sum(crypto.SHA256, s.cert)}), true},
		{"v2 SHA-512", v2(certIDv2{sha512, sum(crypto.SHA512, s.cert)}), true},
		{"v1 SHA-1", pkcs7.Attribute{Type: oidSigningCertificate, Value: struct{ Certs []certIDv1 }{[]certIDv1{{sum(crypto.SHA1, s.cert)}}}}, true},
		{"v2 naming another certificate", v2(certIDv2Default{sum(crypto.SHA256, other.cert)}), false},
		{"v1 naming another certificate", pkcs7.Attribute{Type: oidSigningCertificate, Value: struct{ Certs []certIDv1 }{[]certIDv1{{sum(crypto.SHA1, other.cert)}}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := e.v.VerifyCAdES(context.Background(), sign(tc.attr), e.issued)
			if !tc.ok {
				wantRefused(t, rep, err, ErrInvalid)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Checks {
				if c.Name == CheckSigningCert && !strings.HasPrefix(c.Detail, "present") {
					t.Fatalf("check detail %q", c.Detail)
				}
			}
		})
	}
}
