// Package cns authenticates citizens by the certificate of their CNS (Carta
// Nazionale dei Servizi) or CIE (Carta d'Identità Elettronica) presented as a
// TLS client certificate, as spec enrolment-lifecycle.md §5.2 describes.
//
// The TLS layer only asks for a certificate (TLSConfig); the decision is ours
// (Verifier.Verify): chain to the configured CNS/CIE issuing CAs, validity,
// key usage, optional revocation, and the fiscal code read from the subject.
// Doing it above TLS lets the enrolment page explain a refusal instead of the
// browser showing a bare handshake failure.
package cns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/fiscalcode"
	"github.com/spid-idp/spid-idp/revocation"
)

// Verifier checks client certificates. Roots is required; the rest optional.
type Verifier struct {
	// Roots are the CNS and CIE issuing CAs (the configured bundle).
	Roots *x509.CertPool
	// Intermediates known in advance; the intermediates the client sends
	// are added per call.
	Intermediates *x509.CertPool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Revocation, when set, checks every certificate of the verified chain
	// but the root, with its issuer (OCSP, then CRL), now. Optional here;
	// the application always sets it (spec §5.2 [DEC]).
	Revocation revocation.Checker
}

// Result is an accepted certificate.
type Result struct {
	// FiscalCode is the holder's codice fiscale, normalised (16 characters,
	// upper case), validated as spec §4 says.
	FiscalCode string
	Subject    string // leaf subject DN (RFC 2253 form)
	Serial     string // leaf serial number, upper-case hex
	Issuer     string // leaf issuer DN
	// Chain is the verified chain, leaf first, ending at one of Roots.
	Chain []*x509.Certificate
	// Revocation is the status of each certificate of Chain but the root
	// (empty when no checker is configured).
	Revocation []revocation.Result
}

// ChainPEM is the verified chain as concatenated PEM blocks, leaf first: the
// `client_certificate_chain` evidence item (spec §3.7, §5.7).
func (r Result) ChainPEM() []byte {
	var b []byte
	for _, c := range r.Chain {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// Transaction is the transaction-log record kept as CNS-path evidence
// (`cns_transaction_log`, spec §5.2, DPCM art. 7 c.5). Callers marshal it as
// JSON into the evidence store.
type Transaction struct {
	RequestID  string    `json:"requestId"`
	Time       time.Time `json:"time"`
	Serial     string    `json:"certificateSerial"`
	Issuer     string    `json:"certificateIssuer"`
	Subject    string    `json:"certificateSubject"`
	FiscalCode string    `json:"fiscalCode"`
	SessionID  string    `json:"sessionId"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"userAgent"`
	// Revocation is the OCSP/CRL status of each certificate of the chain.
	Revocation []revocation.Result `json:"revocation,omitempty"`
}

// NewTransaction fills a transaction record from an accepted certificate.
// sessionID should be an identifier of the session, not a bearer secret
// (e.g. a hash of the cookie value).
func NewTransaction(r Result, requestID, sessionID, ip, userAgent string, at time.Time) Transaction {
	return Transaction{
		RequestID:  requestID,
		Time:       at.UTC(),
		Serial:     r.Serial,
		Issuer:     r.Issuer,
		Subject:    r.Subject,
		FiscalCode: r.FiscalCode,
		SessionID:  sessionID,
		IP:         ip,
		UserAgent:  userAgent,
		Revocation: r.Revocation,
	}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks chain (leaf first, then whatever intermediates the client
// sent, as in tls.ConnectionState.PeerCertificates) and returns the holder's
// fiscal code. Every refusal is an *Error.
func (v *Verifier) Verify(ctx context.Context, chain []*x509.Certificate) (Result, error) {
	if v == nil || v.Roots == nil {
		return Result{}, refuse(CodeMisconfigured, "no CNS/CIE CA bundle configured", nil)
	}
	if len(chain) == 0 || chain[0] == nil {
		return Result{}, refuse(CodeNoCertificate, "", nil)
	}
	leaf := chain[0]
	now := v.now()

	// The leaf's own dates first: "expired" is the message the citizen can
	// act on (renew the card), whatever else is wrong.
	if now.Before(leaf.NotBefore) {
		return Result{}, refuse(CodeNotYetValid, "valid from "+leaf.NotBefore.UTC().Format(time.RFC3339), nil)
	}
	if now.After(leaf.NotAfter) {
		return Result{}, refuse(CodeExpired, "expired on "+leaf.NotAfter.UTC().Format(time.RFC3339), nil)
	}

	var inter *x509.CertPool
	if v.Intermediates != nil {
		inter = v.Intermediates.Clone()
	} else {
		inter = x509.NewCertPool()
	}
	for _, c := range chain[1:] {
		if c != nil {
			inter.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		// Usage is checked below with the §5.2 rule (client auth OR digital
		// signature); x509's EKU nesting rule would refuse real CNS chains
		// whose intermediates list other purposes.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return Result{}, mapChainError(leaf, err)
	}
	verified := chains[0]

	if !usageOK(leaf) {
		return Result{}, refuse(CodeWrongUsage, usageDetail(leaf), nil)
	}

	var rev []revocation.Result
	if v.Revocation != nil {
		var err error
		rev, err = revocation.CheckChain(ctx, v.Revocation, verified, now)
		if err != nil {
			code := CodeRevoked
			if !errors.Is(err, revocation.ErrRevoked) {
				code = CodeRevocationUnavailable
			}
			return Result{Revocation: rev}, refuse(code, "serial "+rev[len(rev)-1].Serial, err)
		}
	}

	cf, err := FiscalCode(leaf)
	if err != nil {
		return Result{}, err
	}
	return Result{
		FiscalCode: cf,
		Subject:    leaf.Subject.String(),
		Serial:     serialHex(leaf),
		Issuer:     leaf.Issuer.String(),
		Chain:      verified,
		Revocation: rev,
	}, nil
}

func mapChainError(leaf *x509.Certificate, err error) *Error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return refuse(CodeUnknownCA, "issuer "+leaf.Issuer.String(), err)
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			// The leaf's dates were checked already: an intermediate is out
			// of its validity period.
			return refuse(CodeExpired, "a certificate of the chain is outside its validity period", err)
		case x509.NotAuthorizedToSign, x509.CANotAuthorizedForThisName, x509.TooManyIntermediates:
			return refuse(CodeUnknownCA, "the chain is not a valid CA chain", err)
		}
	}
	return refuse(CodeUnknownCA, "chain not verified", err)
}

// usageOK is the §5.2 rule: the certificate allows client authentication
// (extended key usage clientAuth or anyExtendedKeyUsage) or digital signature
// (key usage bit).
func usageOK(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return c.KeyUsage&x509.KeyUsageDigitalSignature != 0
}

func usageDetail(c *x509.Certificate) string {
	return fmt.Sprintf("key usage %#x, %d extended key usages, none is client authentication or digital signature", int(c.KeyUsage), len(c.ExtKeyUsage))
}

func serialHex(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	return strings.ToUpper(c.SerialNumber.Text(16))
}

var (
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// FiscalCode reads the holder's fiscal code from a certificate subject, in
// any of the three placements of spec §5.2: serialNumber "TINIT-<CF>" or
// "IT:<CF>", or a common name starting "<CF>/" (CNS). When several
// placements are present they must agree. The code is validated (spec §4)
// and returned normalised. Errors are *Error (ErrNoFiscalCode,
// ErrBadFiscalCode). Package signature uses it for signer certificates too.
func FiscalCode(c *x509.Certificate) (string, error) {
	if c == nil {
		return "", refuse(CodeNoFiscalCode, "no certificate", nil)
	}
	var found []string
	for _, atv := range c.Subject.Names {
		s, ok := atv.Value.(string)
		if !ok {
			continue
		}
		switch {
		case atv.Type.Equal(oidSerialNumber):
			if cf, ok := fromSerialNumber(s); ok {
				found = append(found, cf)
			}
		case atv.Type.Equal(oidCommonName):
			if cf, ok := fromCommonName(s); ok {
				found = append(found, cf)
			}
		}
	}
	if len(found) == 0 {
		return "", refuse(CodeNoFiscalCode, "subject "+c.Subject.String(), nil)
	}
	cf := found[0]
	for _, other := range found[1:] {
		if other != cf {
			return "", refuse(CodeBadFiscalCode, "the subject carries two different fiscal codes", nil)
		}
	}
	if err := fiscalcode.Validate(cf); err != nil {
		return "", refuse(CodeBadFiscalCode, "", err)
	}
	return cf, nil
}

func fromSerialNumber(s string) (string, bool) {
	s = strings.TrimSpace(s)
	up := strings.ToUpper(s)
	for _, p := range []string{"TINIT-", "IT:"} {
		if strings.HasPrefix(up, p) {
			return fiscalcode.Normalise(s[len(p):]), true
		}
	}
	return "", false
}

// fromCommonName takes the CNS form "<CF>/<card serial>.<hash>". The part
// before the slash must look like a fiscal code (16 characters) to count:
// an ordinary "Mario Rossi/…" name is not a placement.
func fromCommonName(s string) (string, bool) {
	head, _, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return "", false
	}
	head = fiscalcode.Normalise(head)
	if len(head) != fiscalcode.Length {
		return "", false
	}
	return head, true
}

// Match compares the certificate's fiscal code with the request's. The
// error names only the last four characters of each code: audit records
// need to tell them apart, not to repeat them.
func Match(r Result, requestCF string) error {
	want := fiscalcode.Normalise(requestCF)
	if r.FiscalCode == "" || want == "" || r.FiscalCode != want {
		return refuse(CodeMismatch, fmt.Sprintf("certificate …%s, request …%s", tail(r.FiscalCode), tail(want)), nil)
	}
	return nil
}

func tail(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[len(s)-4:]
}

// TLSConfig returns a copy of base (or a new config) for the dedicated CNS
// listener: it asks for a client certificate but neither requires nor
// verifies it, so that Verify decides and the page can explain a refusal —
// including "no card inserted", which a handshake failure could not;
// TLS 1.2 at least.
func TLSConfig(base *tls.Config) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	c.ClientAuth = tls.RequestClientCert
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// FromRequest returns the client certificates of a request received on the
// CNS listener, leaf first.
func FromRequest(r *http.Request) ([]*x509.Certificate, error) {
	if r == nil || r.TLS == nil {
		return nil, refuse(CodeNoCertificate, "not a TLS connection", nil)
	}
	if len(r.TLS.PeerCertificates) == 0 {
		return nil, refuse(CodeNoCertificate, "", nil)
	}
	out := make([]*x509.Certificate, len(r.TLS.PeerCertificates))
	copy(out, r.TLS.PeerCertificates)
	return out, nil
}
