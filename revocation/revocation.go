// Package revocation establishes whether a certificate was revoked: OCSP
// first (golang.org/x/crypto/ocsp), the CRL at the certificate's
// distribution point when no OCSP responder gives an answer. Answers are
// cached in the shared short-lived store (Redis in a cluster), so every
// node sees the same status and a responder is not asked once per node.
//
// It serves the CNS/CIE card path and the qualified-signature path of
// enrolment (spec enrolment-lifecycle.md §5.2, §5.3): both refuse a revoked
// certificate, and refuse or accept one whose status cannot be established
// according to the configured policy (hard-fail or soft-fail).
package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is what the sources said about a certificate.
type Status string

const (
	// Good: an OCSP responder or a CRL says the certificate is not revoked.
	Good Status = "good"
	// Revoked: listed as revoked (or on hold) since RevokedAt.
	Revoked Status = "revoked"
	// Unknown: the OCSP responder does not know the certificate and no
	// CRL answered either.
	Unknown Status = "unknown"
	// Unavailable: no source answered (unreachable, malformed or stale
	// answers, or the certificate names no source).
	Unavailable Status = "unavailable"
)

// Methods that can establish a status.
const (
	MethodOCSP = "ocsp"
	MethodCRL  = "crl"
)

// Result is the status of one certificate at one time, as kept in
// verification reports.
type Result struct {
	Subject string `json:"subject"`
	Serial  string `json:"serial"` // upper-case hex
	Status  Status `json:"status"`
	// Method and Source name what answered (an OCSP responder or a CRL
	// distribution point URL).
	Method    string    `json:"method,omitempty"`
	Source    string    `json:"source,omitempty"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	// Reason is the CRLReason code of a revocation (RFC 5280 §5.3.1).
	Reason     int       `json:"reason,omitempty"`
	ThisUpdate time.Time `json:"thisUpdate,omitzero"`
	NextUpdate time.Time `json:"nextUpdate,omitzero"`
	// At is the time the status is asked for: upload time, or the
	// time-stamped signing time.
	At        time.Time `json:"at"`
	CheckedAt time.Time `json:"checkedAt"`
	// Cached: the answer came from the shared cache, not from the source.
	Cached bool `json:"cached,omitempty"`
	// SoftFail: the status could not be established and the soft-fail
	// policy accepted the certificate anyway; the verifier must know.
	SoftFail bool `json:"softFail,omitempty"`
	// Detail says why each source failed, when one did.
	Detail string `json:"detail,omitempty"`
}

// RevokedBy reports whether the result, read at r.At, is a revocation:
// a certificate revoked after a trusted signing time was good when it
// signed.
func (r Result) RevokedBy() bool {
	return r.Status == Revoked && !r.RevokedAt.After(r.At)
}

// Summary is one line for pages and checklists, e.g.
// "good (ocsp http://…, checked 2026-12-07T21:00:00Z)".
func (r Result) Summary() string {
	var b strings.Builder
	b.WriteString(string(r.Status))
	if r.Status == Revoked {
		b.WriteString(" since " + r.RevokedAt.UTC().Format(time.RFC3339))
	}
	if r.Method != "" {
		b.WriteString(" (" + r.Method + " " + r.Source)
		if r.Cached {
			b.WriteString(", cached")
		}
		b.WriteString(")")
	}
	if r.SoftFail {
		b.WriteString(", accepted by the soft-fail policy")
	}
	if r.Detail != "" && r.Status != Good && r.Status != Revoked {
		b.WriteString(": " + r.Detail)
	}
	return b.String()
}

// Sentinels: a refusal from Check wraps exactly one of them.
var (
	// ErrRevoked: the certificate was revoked at the time asked for.
	ErrRevoked = errors.New("certificate revoked")
	// ErrUnavailable: the status could not be established (hard-fail).
	ErrUnavailable = errors.New("certificate status could not be established")
)

// Error is a refusal with the result that caused it.
type Error struct {
	Result Result
	err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v: %s, serial %s: %s", e.err, e.Result.Subject, e.Result.Serial, e.Result.Summary())
}

func (e *Error) Unwrap() error { return e.err }

// Checker checks one certificate, issued by issuer, at time at. It returns
// the result in every case and an *Error wrapping ErrRevoked or
// ErrUnavailable when the certificate must be refused.
type Checker interface {
	Check(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (Result, error)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (Result, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (Result, error) {
	return f(ctx, cert, issuer, at)
}

// CheckChain checks every certificate of a verified chain (leaf first,
// ending at a trust anchor) but the anchor, each with its issuer. It stops
// at the first refusal and returns the results so far.
func CheckChain(ctx context.Context, c Checker, chain []*x509.Certificate, at time.Time) ([]Result, error) {
	var out []Result
	for i := 0; i+1 < len(chain); i++ {
		r, err := c.Check(ctx, chain[i], chain[i+1], at)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func serialHex(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	return strings.ToUpper(c.SerialNumber.Text(16))
}
