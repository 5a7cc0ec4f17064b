package signature

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/spid-idp/spid-idp/revocation"
)

// CheckTimestamp names the check of the RFC 3161 signature time-stamp.
const CheckTimestamp = "signature_timestamp"

// oidSignatureTimeStampToken is id-aa-signatureTimeStampToken (RFC 3161
// appendix A): an unsigned attribute of the signer holding a time-stamp
// token over the signature value (CAdES-T, PAdES-T).
var oidSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

// Timestamp is the verified signature time-stamp, kept in the report.
type Timestamp struct {
	Time      time.Time `json:"time"`
	Authority string    `json:"authority"` // the TSA certificate's subject
	Serial    string    `json:"serial"`    // the token's serial number
	Hash      string    `json:"hash"`      // the message imprint's algorithm
	Qualified bool      `json:"qualified,omitempty"`
}

// timestampToken returns the signer's signature time-stamp token, nil when
// there is none.
func timestampToken(p7 *pkcs7.PKCS7) ([]byte, error) {
	if len(p7.Signers) != 1 {
		return nil, nil
	}
	for _, a := range p7.Signers[0].UnauthenticatedAttributes {
		if !a.Type.Equal(oidSignatureTimeStampToken) {
			continue
		}
		// The attribute value is a SET OF TimeStampToken; one is used.
		var tok asn1.RawValue
		if _, err := asn1.Unmarshal(a.Value.Bytes, &tok); err != nil {
			return nil, fmt.Errorf("unreadable time-stamp attribute: %w", err)
		}
		return tok.FullBytes, nil
	}
	return nil, nil
}

// trustedTime is the time the signer's certificate is judged at: the time
// of a valid signature time-stamp by a configured TSA, otherwise now (the
// upload). The signer's own signingTime is a claim and never counts alone.
func (v *Verifier) trustedTime(ctx context.Context, rep *Report, p7 *pkcs7.PKCS7) (time.Time, bool, error) {
	now := v.now()
	tok, err := timestampToken(p7)
	if err != nil {
		return now, false, rep.fail(CheckTimestamp, refuse(CodeTimestamp, "", err))
	}
	if tok == nil {
		rep.TrustedTime, rep.TrustedTimeSource = now.UTC(), "upload time (no signature time-stamp)"
		rep.pass(CheckTimestamp, "absent: the certificate is judged at upload time")
		return now, false, nil
	}
	if v.TSARoots == nil {
		rep.TrustedTime, rep.TrustedTimeSource = now.UTC(), "upload time (no time-stamping authority configured)"
		rep.pass(CheckTimestamp, "present but not verifiable here (enrolment.tsa_trust_file is empty): the certificate is judged at upload time")
		return now, false, nil
	}
	ts, err := v.verifyTimestamp(ctx, rep, tok, p7.Signers[0].EncryptedDigest, now)
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return now, false, rep.fail(CheckTimestamp, se)
		}
		return now, false, rep.fail(CheckTimestamp, refuse(CodeTimestamp, "", err))
	}
	rep.Timestamp = ts
	rep.TrustedTime, rep.TrustedTimeSource = ts.Time, "RFC 3161 signature time-stamp by "+ts.Authority
	rep.pass(CheckTimestamp, fmt.Sprintf("valid, %s by %s", ts.Time.Format(time.RFC3339), ts.Authority))
	return ts.Time, true, nil
}

// verifyTimestamp checks a token: its signature, its TSA's certificate
// (chains to TSARoots at the stamped time, time-stamping usage, not
// revoked), and its message imprint, which must be the hash of the
// signature value it stamps.
func (v *Verifier) verifyTimestamp(ctx context.Context, rep *Report, tok, sigValue []byte, now time.Time) (*Timestamp, error) {
	if err := screenBER(tok); err != nil {
		return nil, err
	}
	tp7, err := pkcs7.Parse(tok)
	if err != nil {
		return nil, fmt.Errorf("unreadable time-stamp token: %w", err)
	}
	tsa := tp7.GetOnlySigner()
	if tsa == nil {
		// Without its certificate the library skips the signature check.
		return nil, refuse(CodeTimestamp, "the time-stamp token does not carry its authority's certificate", nil)
	}
	ts, err := timestamp.Parse(tok)
	if err != nil {
		return nil, refuse(CodeTimestamp, "the time-stamp token's signature does not verify", err)
	}
	h := ts.HashAlgorithm
	if !h.Available() {
		return nil, refuse(CodeTimestamp, "unsupported imprint hash", nil)
	}
	d := h.New()
	d.Write(sigValue)
	if !bytes.Equal(d.Sum(nil), ts.HashedMessage) {
		return nil, refuse(CodeTimestampImprint, "the message imprint is not the hash of this signature's value", nil)
	}
	if ts.Time.After(now.Add(clockSkew)) {
		return nil, refuse(CodeTimestamp, "the time-stamp is in the future", nil)
	}
	inter := x509.NewCertPool()
	for _, c := range tp7.Certificates {
		inter.AddCert(c)
	}
	chains, err := tsa.Verify(x509.VerifyOptions{Roots: v.TSARoots, Intermediates: inter, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	if err != nil {
		return nil, refuse(CodeTimestampUntrusted, "authority "+tsa.Subject.String(), err)
	}
	if v.Revocation != nil {
		res, err := revocation.CheckChain(ctx, v.Revocation, chains[0], now)
		rep.Revocation = append(rep.Revocation, res...)
		if err != nil {
			return nil, refuse(CodeTimestampUntrusted, "the time-stamping authority's certificate: "+err.Error(), err)
		}
	}
	out := &Timestamp{Time: ts.Time.UTC(), Authority: tsa.Subject.String(), Hash: strings.ToLower(h.String()), Qualified: ts.Qualified}
	if ts.SerialNumber != nil {
		out.Serial = strings.ToUpper(ts.SerialNumber.Text(16))
	}
	return out, nil
}
