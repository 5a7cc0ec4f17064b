package signature

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testpki"
	"github.com/spid-idp/spid-idp/revocation"
)

// pkiEnv is a qualified CA and a time-stamping authority from testpki,
// each with its OCSP responder and CRL on 127.0.0.1, and a verifier that
// checks revocation and trusts the TSA.
type pkiEnv struct {
	qca, tsaCA *testpki.CA
	tsa        signer
	v          *Verifier
	form       []byte
	issued     Issued
}

func newPKIEnv(t *testing.T) *pkiEnv {
	qca := testpki.New(t, testpki.Options{Name: "Live Qualified CA"})
	tsaCA := testpki.New(t, testpki.Options{Name: "Live TSA CA"})
	tc, tk := tsaCA.TSA("Live TSA")
	req := testFormData(time.Now().Add(-time.Hour).Truncate(time.Second))
	form, err := Form(req)
	if err != nil {
		t.Fatal(err)
	}
	return &pkiEnv{qca: qca, tsaCA: tsaCA, tsa: signer{cert: tc, key: tk},
		v:    &Verifier{Trust: qca.Pool(), TSARoots: tsaCA.Pool(), RequireQC: true, Revocation: &revocation.Client{}},
		form: form, issued: Issued{Form: form, IssuedAt: req.IssuedAt, FiscalCode: cf}}
}

// signer issues a qualified signer certificate valid until notAfter.
func (p *pkiEnv) signer(t *testing.T, notAfter time.Time) signer {
	c, k := p.qca.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "Mario Rossi", SerialNumber: "TINIT-" + cf, Country: []string{"IT"}},
		NotBefore: time.Now().AddDate(-1, 0, 0), NotAfter: notAfter, KeyUsage: x509.KeyUsageContentCommitment,
		ExtraExtensions: []pkix.Extension{qcExtension(t)}})
	return signer{cert: c, key: k}
}

// stamp is a time-stamp token by tsa at time at over imprintOf.
func stamp(t testing.TB, tsa signer, imprintOf []byte, at time.Time) []byte {
	return testpki.Stamp(t, tsa.cert, tsa.key, imprintOf, at)
}

type cadesOpts struct {
	detached bool
	token    func(sigValue []byte) []byte
}

func cadesWith(t testing.TB, content []byte, s signer, o cadesOpts) []byte {
	return testpki.SignCAdES(t, content, s.cert, s.key, testpki.CAdES{Chain: s.chain, Detached: o.detached, Token: o.token})
}

// TestSigningTimeNeedsTimestamp: a certificate that expired before the
// upload, with a claimed signingTime before expiry, counts only when an
// RFC 3161 time-stamp by a trusted TSA over this signature proves the time.
func TestSigningTimeNeedsTimestamp(t *testing.T) {
	p := newPKIEnv(t)
	signedAt := time.Now()
	s := p.signer(t, signedAt.Add(time.Hour))
	// The upload happens two hours later: the certificate has expired.
	v := *p.v
	v.Now = func() time.Time { return signedAt.Add(2 * time.Hour) }
	good := func(sig []byte) []byte { return stamp(t, p.tsa, sig, signedAt) }

	otherTSACA := testpki.New(t, testpki.Options{Name: "Unlisted TSA CA"})
	oc, ok := otherTSACA.TSA("Unlisted TSA")
	nc, nk := p.tsaCA.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "Not a TSA"}, NotBefore: time.Now().AddDate(-1, 0, 0),
		NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	cases := []struct {
		name  string
		token func([]byte) []byte
		want  *Error
	}{
		{"no time-stamp: judged at upload, expired", nil, ErrExpiredAtUpload},
		{"valid time-stamp before expiry", good, nil},
		{"time-stamp over another signature", func([]byte) []byte { return stamp(t, p.tsa, []byte("another signature"), signedAt) }, ErrTimestampImprint},
		{"time-stamp by an unlisted TSA", func(sig []byte) []byte { return stamp(t, signer{cert: oc, key: ok}, sig, signedAt) }, ErrTimestampUntrusted},
		{"time-stamp by a certificate that is not a TSA", func(sig []byte) []byte { return stamp(t, signer{cert: nc, key: nk}, sig, signedAt) }, ErrTimestampUntrusted},
		{"time-stamp after expiry", func(sig []byte) []byte { return stamp(t, p.tsa, sig, signedAt.Add(90*time.Minute)) }, ErrSignerValidity},
		{"garbage in the time-stamp attribute", func([]byte) []byte { return []byte{0x30, 0x03, 0x02, 0x01, 0x01} }, ErrTimestamp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := v.VerifyCAdES(context.Background(), cadesWith(t, p.form, s, cadesOpts{token: tc.token}), p.issued)
			if tc.want != nil {
				wantRefused(t, rep, err, tc.want)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v\n%+v", err, rep.Checks)
			}
			if rep.Timestamp == nil || !rep.TrustedTime.Equal(signedAt.UTC().Truncate(time.Second)) && rep.TrustedTime.Sub(signedAt).Abs() > time.Second ||
				!strings.Contains(rep.TrustedTimeSource, "Live TSA") {
				t.Fatalf("report: trusted %v (%s), timestamp %+v", rep.TrustedTime, rep.TrustedTimeSource, rep.Timestamp)
			}
			// Signer (leaf) and the TSA's certificate were checked for revocation.
			if len(rep.Revocation) != 2 {
				t.Fatalf("revocation results: %+v", rep.Revocation)
			}
		})
	}
	// Without an expiry problem, no time-stamp means "judged at upload".
	fresh := p.signer(t, time.Now().AddDate(1, 0, 0))
	rep, err := p.v.VerifyCAdES(context.Background(), cadesWith(t, p.form, fresh, cadesOpts{}), p.issued)
	if err != nil || rep.Timestamp != nil || !strings.HasPrefix(rep.TrustedTimeSource, "upload time") {
		t.Fatalf("%v, %+v", err, rep)
	}
}

// TestRevokedSigner: revocation is judged at the trusted time. A signer
// revoked now is refused without a time-stamp; with a time-stamp from
// before the revocation it is accepted; revoked before the time-stamp, it
// is refused. The CRL decides when OCSP is down, and is asked.
func TestRevokedSigner(t *testing.T) {
	p := newPKIEnv(t)
	signedAt := time.Now().Add(-30 * time.Minute)
	s := p.signer(t, time.Now().AddDate(1, 0, 0))
	p.qca.Revoke(s.cert, time.Now().Add(-10*time.Minute))
	p.qca.SetOCSP(testpki.Broken)
	crl := p.qca.CRLHits()
	rep, err := p.v.VerifyCAdES(context.Background(), cadesWith(t, p.form, s, cadesOpts{}), p.issued)
	wantRefused(t, rep, err, ErrRevoked)
	if p.qca.CRLHits() == crl || len(rep.Revocation) == 0 || rep.Revocation[0].Method != revocation.MethodCRL {
		t.Fatalf("the CRL was not asked: hits %d, %+v", p.qca.CRLHits(), rep.Revocation)
	}
	stamped := cadesWith(t, p.form, s, cadesOpts{token: func(sig []byte) []byte { return stamp(t, p.tsa, sig, signedAt) }})
	if rep, err := p.v.VerifyCAdES(context.Background(), stamped, p.issued); err != nil {
		t.Fatalf("time-stamped before the revocation: %v\n%+v", err, rep.Checks)
	}
	early := p.signer(t, time.Now().AddDate(1, 0, 0))
	p.qca.Revoke(early.cert, time.Now().Add(-time.Hour))
	stamped = cadesWith(t, p.form, early, cadesOpts{token: func(sig []byte) []byte { return stamp(t, p.tsa, sig, signedAt) }})
	rep, err = p.v.VerifyCAdES(context.Background(), stamped, p.issued)
	wantRefused(t, rep, err, ErrRevoked)

	// Neither source answers: hard-fail refuses with its own message,
	// soft-fail accepts and says so in the report.
	p.qca.SetCRL(testpki.Broken)
	other := p.signer(t, time.Now().AddDate(1, 0, 0))
	rep, err = p.v.VerifyCAdES(context.Background(), cadesWith(t, p.form, other, cadesOpts{}), p.issued)
	wantRefused(t, rep, err, ErrRevocationUnavailable)
	soft := *p.v
	soft.Revocation = &revocation.Client{SoftFail: true}
	rep, err = soft.VerifyCAdES(context.Background(), cadesWith(t, p.form, other, cadesOpts{}), p.issued)
	if err != nil || len(rep.Revocation) == 0 || !rep.Revocation[0].SoftFail {
		t.Fatalf("soft-fail: %v %+v", err, rep.Revocation)
	}
}

// TestP7MForms: the .p7m is accepted as DER, PEM and base64, enveloping or
// detached; each defect of the file gets its own message.
func TestP7MForms(t *testing.T) {
	p := newPKIEnv(t)
	s := p.signer(t, time.Now().AddDate(1, 0, 0))
	enveloping := cadesWith(t, p.form, s, cadesOpts{})
	detached := cadesWith(t, p.form, s, cadesOpts{detached: true})
	wrapped := func(der []byte) []byte {
		var b bytes.Buffer
		enc := base64.StdEncoding.EncodeToString(der)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
		return b.Bytes()
	}
	for _, tc := range []struct {
		name, transport string
		in              []byte
		detached        bool
	}{
		{"DER", "DER", enveloping, false},
		{"PEM", "PEM", pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: enveloping}), false},
		{"CMS PEM label", "PEM", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: enveloping}), false},
		{"base64 in lines", "base64", wrapped(enveloping), false},
		{"detached DER", "DER", detached, true},
		{"detached PEM", "PEM", pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: detached}), true},
		{"detached base64", "base64", wrapped(detached), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := p.v.VerifyCAdES(context.Background(), tc.in, p.issued)
			if err != nil {
				t.Fatalf("refused: %v\n%+v", err, rep.Checks)
			}
			if rep.Transport != tc.transport || rep.Detached != tc.detached {
				t.Fatalf("transport %q detached %v", rep.Transport, rep.Detached)
			}
		})
	}

	otherForm := bytes.Replace(p.form, []byte("7K3M9QZ2XH"), []byte("8K3M9QZ2XH"), 1)
	enveloped := []byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80, 0x30, 0x80, 0, 0, 0, 0, 0, 0}
	defects := []struct {
		name string
		in   []byte
		want *Error
	}{
		{"empty", nil, ErrEmpty},
		{"blank lines", []byte("\r\n \r\n"), ErrEmpty},
		{"damaged PEM", []byte("-----BEGIN PKCS7-----\n!!not base64!!\n-----END PKCS7-----\n"), ErrBadEncoding},
		{"damaged base64", []byte(base64.StdEncoding.EncodeToString(enveloping)[:101]), ErrBadEncoding},
		{"a certificate in PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}), ErrWrongPEM},
		{"encrypted, not signed", enveloped, ErrNotSignedData},
		{"detached over another form", cadesWith(t, otherForm, s, cadesOpts{detached: true}), ErrDetachedMismatch},
		{"enveloping another form", cadesWith(t, otherForm, s, cadesOpts{}), ErrContentMismatch},
		{"binary that is no CMS", []byte{0x30, 0x03, 0x02, 0x01, 0x05}, ErrMalformed},
	}
	seen := map[string]string{}
	for _, tc := range defects {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := p.v.VerifyCAdES(context.Background(), tc.in, p.issued)
			wantRefused(t, rep, err, tc.want)
			var se *Error
			errors.As(err, &se)
			it, en := se.Message("it"), se.Message("en")
			if it == en || it == "" || en == "" {
				t.Fatalf("messages %q / %q", it, en)
			}
			if prev, dup := seen[en]; dup && prev != se.Code {
				t.Fatalf("%s and %s share the message %q", prev, se.Code, en)
			}
			seen[en] = se.Code
		})
	}
}
