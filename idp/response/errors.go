package response

import (
	"fmt"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// ErrorResponse describes an SP-bound SPID anomaly to answer (spec §5).
type ErrorResponse struct {
	// InResponseTo is the AuthnRequest ID; empty (omitted) when the request
	// carried no usable ID (nr11).
	InResponseTo string
	// Destination is the ACS Location (the default ACS for nr16, §3.7).
	Destination string
	// Anomaly is the SP-bound anomaly code.
	Anomaly spid.Anomaly
}

// spBound lists the anomalies that travel to the SP in a Response (§5);
// spid.Anomaly.ForSP alone also accepts codes the table does not define.
var spBound = map[spid.Anomaly]bool{
	spid.NrNotCompliant: true, spid.NrVersion: true, spid.NrID: true, spid.NrAuthnContext: true,
	spid.NrIssueInstant: true, spid.NrDestination: true, spid.NrIsPassive: true, spid.NrACS: true,
	spid.NrNameIDPolicy: true, spid.NrAttrConsumingIndex: true, spid.NrCredentialsExhausted: true,
	spid.NrLevelUnavailable: true, spid.NrTimeout: true, spid.NrConsentDenied: true,
	spid.NrSuspendedRevoked: true, spid.NrCancelled: true, spid.NrIdentityType: true,
}

// Error returns the signed error Response for an SP-bound anomaly: the §5
// status pair, StatusMessage "ErrorCode nrNN", and no Assertion. Its
// IssueInstant is our clock, not max(now, request) as for success: the
// request's IssueInstant may be the very thing that was wrong (nr13).
func (b *Builder) Error(e ErrorResponse) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if !spBound[e.Anomaly] || !e.Anomaly.ForSP() {
		return nil, fmt.Errorf("response: anomaly %s is not sent to the SP", e.Anomaly)
	}
	if e.InResponseTo != "" && !isNCName(e.InResponseTo) {
		return nil, fmt.Errorf("response: InResponseTo %q is not an NCName", e.InResponseTo)
	}
	if err := checkValue("Destination", e.Destination); err != nil {
		return nil, err
	}
	id, err := b.newID()
	if err != nil {
		return nil, err
	}
	top, sub := e.Anomaly.Status()

	m := make([]byte, 0, 1024)
	m = append(m, `<samlp:Response`+declSAMLP...)
	m = appendAttr(m, "Destination", e.Destination)
	m = appendAttr(m, "ID", id)
	if e.InResponseTo != "" {
		m = appendAttr(m, "InResponseTo", e.InResponseTo)
	}
	m = append(m, ` IssueInstant="`...)
	m = appendTime(m, ceilMillis(b.now()))
	m = append(m, `" Version="2.0">`...)
	m = b.appendIssuer(m, false)
	sigAt := len(m)
	m = appendStatus(m, top, sub, e.Anomaly.Message())
	m = append(m, `</samlp:Response>`...)
	return b.finish(m, id, sigAt, false)
}

// appendStatus appends samlp:Status with a nested second-level code when sub
// is set and a StatusMessage when msg is set.
func appendStatus(dst []byte, top, sub, msg string) []byte {
	dst = append(dst, `<samlp:Status><samlp:StatusCode`...)
	dst = appendAttr(dst, "Value", top)
	dst = append(dst, '>')
	if sub != "" {
		dst = append(dst, `<samlp:StatusCode`...)
		dst = appendAttr(dst, "Value", sub)
		dst = append(dst, `></samlp:StatusCode>`...)
	}
	dst = append(dst, `</samlp:StatusCode>`...)
	if msg != "" {
		dst = append(dst, `<samlp:StatusMessage>`...)
		dst = appendText(dst, msg)
		dst = append(dst, `</samlp:StatusMessage>`...)
	}
	return append(dst, `</samlp:Status>`...)
}
