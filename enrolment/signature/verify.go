// Package signature is the qualified-signature recognition path of spec
// enrolment-lifecycle.md §5.3: it renders the adhesion form as a PDF (Form)
// and verifies what the applicant uploads after signing it, either CAdES
// (an enveloping .p7m whose content is the form) or PAdES (the form with an
// incremental update carrying the signature).
//
// Every check of §5.3 is required and recorded in a Report, which the caller
// keeps as the `signature_report` evidence item, whether the upload was
// accepted or not.
package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/spid-idp/spid-idp/enrolment/cns"
	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/revocation"
)

// DefaultMaxAfterIssue is how long after its issue a form may be signed
// (spec §5.3 [DEC]).
const DefaultMaxAfterIssue = 30 * 24 * time.Hour

// clockSkew tolerates a signer's clock slightly behind ours (a form signed a
// minute after download must not look signed before issue) and slightly
// ahead of ours.
const clockSkew = 5 * time.Minute

// Verifier checks signed adhesion forms. Trust is required.
type Verifier struct {
	// Trust holds the qualified CAs (from the EU/Italian trusted lists).
	Trust *x509.CertPool
	// Intermediates known in advance; those embedded in the signature are
	// added per call.
	Intermediates *x509.CertPool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxAfterIssue bounds signing time − issue time; DefaultMaxAfterIssue
	// when zero.
	MaxAfterIssue time.Duration
	// RequireQC requires the ETSI QcCompliance statement (0.4.0.1862.1.1) in
	// the signer's qcStatements extension (1.3.6.1.5.5.7.1.3).
	RequireQC bool
	// Revocation, when set, checks every certificate of the verified chain
	// but the root, with its issuer, at the trusted time (see TSARoots).
	// The application always sets it.
	Revocation revocation.Checker
	// TSARoots are the time-stamping authorities trusted for RFC 3161
	// signature time-stamps. Only a valid time-stamp by one of them makes
	// the signature count as made at the stamped time; otherwise (no
	// time-stamp, or TSARoots nil) the signer's certificate must be valid
	// and unrevoked at upload. The signer's own signingTime is a claim.
	TSARoots *x509.CertPool
	// TrustListVersion is recorded in every report (spec §5.3 evidence).
	TrustListVersion string
}

// Issued is what we issued for the request: the exact form bytes, when, and
// the fiscal code of the applicant (with or without the TINIT- prefix).
type Issued struct {
	Form       []byte
	IssuedAt   time.Time
	FiscalCode string
}

// Report is the validation report kept as evidence.
type Report struct {
	Format   string `json:"format"` // "CAdES" or "PAdES"
	SignerCF string `json:"signerFiscalCode,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Serial   string `json:"serial,omitempty"` // signer certificate, upper-case hex
	// SigningTime is the time the signature states; SigningTimeSource says
	// where it came from. Both are claims of the signer protected by the
	// signature, not a third-party timestamp.
	SigningTime       time.Time `json:"signingTime,omitzero"`
	SigningTimeSource string    `json:"signingTimeSource,omitempty"`
	// TrustedTime is when the certificate was judged valid and unrevoked:
	// a verified signature time-stamp's time, or the upload time.
	TrustedTime       time.Time  `json:"trustedTime,omitzero"`
	TrustedTimeSource string     `json:"trustedTimeSource,omitempty"`
	Timestamp         *Timestamp `json:"timestamp,omitempty"`
	// Transport is how the .p7m arrived: DER (or BER), PEM or base64.
	Transport string `json:"transport,omitempty"`
	// Detached: the .p7m carried no content and was verified over the
	// issued form.
	Detached bool `json:"detached,omitempty"`
	// Revocation is the status of each certificate checked (signer chain,
	// then the time-stamping authority's), OCSP or CRL.
	Revocation       []revocation.Result `json:"revocation,omitempty"`
	FormSHA256       string              `json:"formSha256"`
	FormIssuedAt     time.Time           `json:"formIssuedAt"`
	TrustListVersion string              `json:"trustListVersion,omitempty"`
	VerifiedAt       time.Time           `json:"verifiedAt"`
	// Chain is the verified chain (DER), signer first, ending at a trust
	// anchor; before chain verification succeeds it holds the signer only.
	Chain  [][]byte `json:"chain,omitempty"`
	Checks []Check  `json:"checks"`
}

// Check is one step of the verification, in the order performed.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Names of the checks, as they appear in reports.
const (
	CheckParse       = "parse"
	CheckSigners     = "single_signer"
	CheckContent     = "content_is_issued_form"
	CheckSigningTime = "signing_time_present"
	CheckValidity    = "signer_valid_at_signing_time"
	CheckSignature   = "signature_verifies"
	CheckChain       = "chain_to_trust_list"
	CheckKeyUsage    = "key_usage"
	CheckQC          = "qc_compliance"
	CheckRevocation  = "not_revoked"
	CheckWindow      = "signing_window"
	CheckFiscalCode  = "signer_fiscal_code"
)

// Passed reports whether every check ran and passed, i.e. the verification
// reached the end without a refusal.
func (r Report) Passed() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return r.Checks[len(r.Checks)-1].Name == CheckFiscalCode
}

func (r *Report) pass(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Detail: detail})
}

// fail records the failed check and returns err, so refusals read
// `return rep, rep.fail(...)`.
func (r *Report) fail(name string, err *Error) error {
	d := err.Detail
	if d == "" && err.Err != nil {
		d = err.Err.Error()
	}
	r.Checks = append(r.Checks, Check{Name: name, OK: false, Detail: err.Code + ": " + d})
	return err
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) start(format string, issued Issued) (Report, error) {
	sum := sha256.Sum256(issued.Form)
	rep := Report{
		Format:           format,
		FormSHA256:       hex.EncodeToString(sum[:]),
		FormIssuedAt:     issued.IssuedAt.UTC(),
		TrustListVersion: v.TrustListVersion,
		VerifiedAt:       v.now().UTC(),
	}
	switch {
	case v.Trust == nil:
		return rep, refuse(CodeMisconfigured, "no trust list configured", nil)
	case len(issued.Form) == 0:
		return rep, refuse(CodeMisconfigured, "no issued form to compare with", nil)
	case issued.IssuedAt.IsZero():
		return rep, refuse(CodeMisconfigured, "the form's issue time is not set", nil)
	case requestCF(issued.FiscalCode) == "":
		return rep, refuse(CodeMisconfigured, "the request's fiscal code is not set", nil)
	}
	return rep, nil
}

func requestCF(s string) string {
	s = fiscalcode.Normalise(s)
	return strings.TrimPrefix(s, "TINIT-")
}

// recovered turns a panic of a parsing library into a refusal: uploads are
// untrusted input and must never take the process down.
func recovered(rep *Report, err *error) {
	if r := recover(); r != nil {
		*err = rep.fail(CheckParse, refuse(CodeMalformed, "unreadable structure", fmt.Errorf("%v", r)))
	}
}

// parseCMS accepts DER or BER, and the base64 and PEM transports some
// Italian signing tools produce; it says which it was. Each defect of the
// file is its own refusal.
func parseCMS(b []byte) (*pkcs7.PKCS7, string, *Error) {
	transport := "DER"
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return nil, "", refuse(CodeEmpty, "", nil)
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		blk, _ := pem.Decode(t)
		if blk == nil {
			return nil, "PEM", refuse(CodeBadEncoding, "PEM armour that does not decode", nil)
		}
		switch blk.Type {
		case "PKCS7", "CMS", "PKCS #7 SIGNED DATA":
		default:
			return nil, "PEM", refuse(CodeWrongPEM, "PEM block "+strconv.Quote(blk.Type), nil)
		}
		b, transport = blk.Bytes, "PEM"
	case isBase64(t):
		d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(t)), ""))
		if err != nil {
			return nil, "base64", refuse(CodeBadEncoding, "base64 text that does not decode", err)
		}
		b, transport = d, "base64"
	}
	if len(b) == 0 {
		return nil, transport, refuse(CodeEmpty, "nothing inside the "+transport+" armour", nil)
	}
	if err := screenBER(b); err != nil {
		return nil, transport, refuse(CodeMalformed, "not a CMS SignedData structure", err)
	}
	if head := b[:min(len(b), 64)]; evidence.Sniff(head) != evidence.TypeP7M {
		if bytes.Contains(head, oidPKCS7Prefix) {
			return nil, transport, refuse(CodeNotSignedData, "CMS content other than SignedData", nil)
		}
		return nil, transport, refuse(CodeMalformed, "not a CMS SignedData structure", nil)
	}
	p7, err := pkcs7.Parse(b)
	if err != nil {
		return nil, transport, refuse(CodeMalformed, "not a CMS SignedData structure", err)
	}
	if p7 == nil {
		return nil, transport, refuse(CodeMalformed, "no CMS content", nil)
	}
	// Our reading of eContent replaces the library's, which stops at the
	// first segment of streamed content; the digest is then checked over
	// the same bytes that are compared with the form.
	if c, err := encapsulatedContent(b); err == nil {
		p7.Content = c
	}
	return p7, transport, nil
}

// oidPKCS7Prefix is the DER of the OID arc 1.2.840.113549.1.7 (PKCS #7
// content types) with its tag and length: a ContentInfo of another type
// (enveloped, encrypted) starts with it.
var oidPKCS7Prefix = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07}

// detachedDigestMatches compares the signed messageDigest attribute with
// the form's digest. A signature without signed attributes signs the
// content directly; p7.Verify decides then.
func detachedDigestMatches(p7 *pkcs7.PKCS7, form []byte) error {
	var digest []byte
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeMessageDigest, &digest); err != nil {
		return nil
	}
	h, ok := hashByOID[p7.Signers[0].DigestAlgorithm.Algorithm.String()]
	if !ok || !h.Available() {
		return fmt.Errorf("unsupported digest algorithm %s", p7.Signers[0].DigestAlgorithm.Algorithm)
	}
	d := h.New()
	d.Write(form)
	if !bytes.Equal(d.Sum(nil), digest) {
		return errors.New("the signed digest is not the issued form's")
	}
	return nil
}

func isBase64(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '=', c == '\r', c == '\n', c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}

// onlySigner returns the certificate of the one signer.
func onlySigner(rep *Report, p7 *pkcs7.PKCS7) (*x509.Certificate, error) {
	if n := len(p7.Signers); n != 1 {
		return nil, rep.fail(CheckSigners, refuse(CodeSigners, fmt.Sprintf("%d signers", n), nil))
	}
	leaf := p7.GetOnlySigner()
	if leaf == nil {
		return nil, rep.fail(CheckSigners, refuse(CodeMalformed, "the signer's certificate is not in the file", nil))
	}
	rep.pass(CheckSigners, "")
	rep.Subject = leaf.Subject.String()
	rep.Issuer = leaf.Issuer.String()
	if leaf.SerialNumber != nil {
		rep.Serial = strings.ToUpper(leaf.SerialNumber.Text(16))
	}
	rep.Chain = [][]byte{leaf.Raw}
	return leaf, nil
}

// signedSigningTime reads the CMS signingTime signed attribute.
func signedSigningTime(p7 *pkcs7.PKCS7) (time.Time, bool) {
	var t time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &t); err != nil || t.IsZero() {
		return time.Time{}, false
	}
	return t, true
}

// checkSigner runs the checks common to CAdES and PAdES once the content is
// known to be the issued form and the signing time is known: validity at
// signing time, the cryptographic signature, chain, key usage, QC statement,
// revocation, signing window and fiscal code. extraCrypto, when set, is an
// independent verification that must agree (pdfsign for PAdES).
func (v *Verifier) checkSigner(ctx context.Context, rep *Report, p7 *pkcs7.PKCS7, leaf *x509.Certificate, claimed time.Time, issued Issued, extraCrypto func() error) error {
	// Validity first: p7.Verify would refuse an expired signer too, but with
	// a message that does not say so. The claim must be consistent with
	// the certificate; what counts is the trusted time.
	validity := func(t time.Time) string {
		return fmt.Sprintf("%s, certificate valid %s to %s", t.UTC().Format(time.RFC3339),
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if claimed.Before(leaf.NotBefore) || claimed.After(leaf.NotAfter) {
		return rep.fail(CheckValidity, refuse(CodeSignerValidity, "claims to be signed at "+validity(claimed), nil))
	}
	at, stamped, err := v.trustedTime(ctx, rep, p7)
	if err != nil {
		return err
	}
	if at.Before(leaf.NotBefore) || at.After(leaf.NotAfter) {
		if !stamped {
			return rep.fail(CheckValidity, refuse(CodeExpiredAtUpload, "uploaded at "+validity(at)+", and no signature time-stamp proves an earlier signing time", nil))
		}
		return rep.fail(CheckValidity, refuse(CodeSignerValidity, "time-stamped at "+validity(at), nil))
	}
	rep.pass(CheckValidity, "at "+rep.TrustedTimeSource)

	if err := p7.Verify(); err != nil {
		return rep.fail(CheckSignature, refuse(CodeInvalid, "", err))
	}
	if extraCrypto != nil {
		if err := extraCrypto(); err != nil {
			return rep.fail(CheckSignature, refuse(CodeInvalid, "", err))
		}
	}
	rep.pass(CheckSignature, "")

	present, err := signingCertMatches(p7, leaf)
	if err != nil {
		return rep.fail(CheckSigningCert, refuse(CodeInvalid, "", err))
	}
	if present {
		rep.pass(CheckSigningCert, "present, names the signer's certificate")
	} else {
		rep.pass(CheckSigningCert, "absent (plain PKCS#7 signature)")
	}

	inter := x509.NewCertPool()
	if v.Intermediates != nil {
		inter = v.Intermediates.Clone()
	}
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.Trust,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return rep.fail(CheckChain, refuse(CodeUntrusted, "issuer "+leaf.Issuer.String(), err))
	}
	chain := chains[0]
	rep.Chain = rep.Chain[:0]
	for _, c := range chain {
		rep.Chain = append(rep.Chain, c.Raw)
	}
	rep.pass(CheckChain, chain[len(chain)-1].Subject.String())

	// A qualified signing certificate asserts non-repudiation; digital
	// signature alone is accepted too. No key usage extension means no limit.
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageContentCommitment|x509.KeyUsageDigitalSignature) == 0 {
		return rep.fail(CheckKeyUsage, refuse(CodeWrongUsage, fmt.Sprintf("key usage %#x", int(leaf.KeyUsage)), nil))
	}
	rep.pass(CheckKeyUsage, "")

	if v.RequireQC {
		ok, err := hasQcCompliance(leaf)
		if err != nil {
			return rep.fail(CheckQC, refuse(CodeNoQC, "unreadable qcStatements extension", err))
		}
		if !ok {
			return rep.fail(CheckQC, refuse(CodeNoQC, "no QcCompliance statement", nil))
		}
		rep.pass(CheckQC, "QcCompliance present")
	}

	if v.Revocation != nil {
		res, err := revocation.CheckChain(ctx, v.Revocation, chain, at)
		rep.Revocation = append(rep.Revocation, res...)
		if err != nil {
			code := CodeRevoked
			if !errors.Is(err, revocation.ErrRevoked) {
				code = CodeRevocationUnavailable
			}
			return rep.fail(CheckRevocation, refuse(code, "certificate "+res[len(res)-1].Subject, err))
		}
		var notes []string
		for _, r := range res {
			notes = append(notes, r.Summary())
		}
		rep.pass(CheckRevocation, "at "+rep.TrustedTimeSource+": "+strings.Join(notes, "; "))
	}

	maxAfter := v.MaxAfterIssue
	if maxAfter <= 0 {
		maxAfter = DefaultMaxAfterIssue
	}
	// Both the claim and the trusted time must fall in the window.
	for _, t := range []time.Time{claimed, at} {
		switch {
		case t.Before(issued.IssuedAt.Add(-clockSkew)):
			return rep.fail(CheckWindow, refuse(CodeSigningWindow, "signed before the form was issued", nil))
		case t.After(issued.IssuedAt.Add(maxAfter)):
			return rep.fail(CheckWindow, refuse(CodeSigningWindow, fmt.Sprintf("signed %s after issue, more than %s",
				t.Sub(issued.IssuedAt).Round(time.Minute), maxAfter), nil))
		case t.After(v.now().Add(clockSkew)):
			return rep.fail(CheckWindow, refuse(CodeSigningWindow, "signing time is in the future", nil))
		}
	}
	rep.pass(CheckWindow, fmt.Sprintf("signed %s after issue", at.Sub(issued.IssuedAt).Round(time.Second)))

	cf, err := cns.FiscalCode(leaf)
	if err != nil {
		return rep.fail(CheckFiscalCode, refuse(CodeNoFiscalCode, "", err))
	}
	rep.SignerCF = cf
	if want := requestCF(issued.FiscalCode); cf != want {
		return rep.fail(CheckFiscalCode, refuse(CodeMismatch, fmt.Sprintf("signer …%s, request …%s", tail(cf), tail(want)), nil))
	}
	rep.pass(CheckFiscalCode, "")
	return nil
}

func tail(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[len(s)-4:]
}

var (
	oidQcStatements = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQcCompliance = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 1}
)

// qcStatement is QCStatement of RFC 3739: the statement id and optional info.
type qcStatement struct {
	ID   asn1.ObjectIdentifier
	Info asn1.RawValue `asn1:"optional"`
}

func hasQcCompliance(c *x509.Certificate) (bool, error) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidQcStatements) {
			continue
		}
		var stmts []qcStatement
		rest, err := asn1.Unmarshal(ext.Value, &stmts)
		if err != nil {
			return false, err
		}
		if len(rest) != 0 {
			return false, errors.New("trailing data after qcStatements")
		}
		for _, s := range stmts {
			if s.ID.Equal(oidQcCompliance) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, nil
}

// VerifyCAdES verifies an enveloping CAdES signature (.p7m; DER, BER, base64
// or PEM): the encapsulated content must be byte-identical to issued.Form,
// and every check of spec §5.3 must pass. The report is returned in every
// case; a refusal is an *Error.
func (v *Verifier) VerifyCAdES(ctx context.Context, p7m []byte, issued Issued) (rep Report, err error) {
	rep, err = v.start("CAdES", issued)
	if err != nil {
		return rep, err
	}
	defer recovered(&rep, &err)

	p7, transport, perr := parseCMS(p7m)
	rep.Transport = transport
	if perr != nil {
		return rep, rep.fail(CheckParse, perr)
	}
	rep.pass(CheckParse, "CMS SignedData ("+transport+")")
	leaf, err := onlySigner(&rep, p7)
	if err != nil {
		return rep, err
	}
	switch {
	case len(p7.Content) == 0:
		// A detached .p7m (signed apart from the form, as some tools do):
		// it must sign exactly the form we issued.
		rep.Detached = true
		if err := detachedDigestMatches(p7, issued.Form); err != nil {
			return rep, rep.fail(CheckContent, refuse(CodeDetachedMismatch, "", err))
		}
		p7.Content = issued.Form
		rep.pass(CheckContent, "detached signature over the issued form")
	case !bytes.Equal(p7.Content, issued.Form):
		sum := sha256.Sum256(p7.Content)
		return rep, rep.fail(CheckContent, refuse(CodeContentMismatch, "signed content SHA-256 "+hex.EncodeToString(sum[:]), nil))
	default:
		rep.pass(CheckContent, "")
	}

	at, ok := signedSigningTime(p7)
	if !ok {
		return rep, rep.fail(CheckSigningTime, refuse(CodeNoSigningTime, "no signingTime signed attribute", nil))
	}
	rep.SigningTime, rep.SigningTimeSource = at.UTC(), "cms signingTime signed attribute"
	rep.pass(CheckSigningTime, rep.SigningTimeSource)

	err = v.checkSigner(ctx, &rep, p7, leaf, at, issued, nil)
	return rep, err
}
