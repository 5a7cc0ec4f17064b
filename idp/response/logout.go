package response

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// LogoutRequest describes a LogoutRequest the IdP sends to an SP while
// propagating Single Logout (spec §6.3, §6.5).
type LogoutRequest struct {
	// ID is the message ID (from MessageID). It is required because the
	// caller must match the SP's LogoutResponse InResponseTo against it.
	ID string
	// Destination is the SP's SingleLogoutService Location.
	Destination string
	// NameID and SessionIndex are exactly those of the assertion the SP
	// received; NameQualifier is our entityID, as in that assertion.
	NameID       string
	SessionIndex string
	// Reason is optional, e.g. "urn:oasis:names:tc:SAML:2.0:logout:user".
	Reason string
	// Unsigned leaves out the XML signature, for the HTTP-Redirect binding
	// (RedirectURL signs the query string instead).
	Unsigned bool
}

// LogoutResponse describes the answer to an SP's LogoutRequest (§6.4).
type LogoutResponse struct {
	// InResponseTo is the LogoutRequest ID. It may be empty only for an error
	// status (a request whose ID could not be read).
	InResponseTo string
	// Destination is the SP's SLO ResponseLocation, else its Location.
	Destination string
	// Status is the top-level code; empty means Success. A partial logout is
	// Status spid.StatusRequester with SubStatus spid.StatusPartialLogout
	// (the SPID combination, §6.4); a refused request is StatusRequester with
	// StatusRequestDenied or StatusRequestUnsupported (§6.3).
	Status    string
	SubStatus string
	// Unsigned leaves out the XML signature, for the HTTP-Redirect binding.
	Unsigned bool
}

// MessageID returns a fresh message ID from the Builder's NewID.
func (b *Builder) MessageID() (string, error) { return b.newID() }

// LogoutRequest returns the LogoutRequest for one SP of the global session:
// Issuer with Format entity and NameQualifier, transient NameID qualified by
// our entityID, SessionIndex, and NotOnOrAfter = IssueInstant +
// AssertionLifetime so that a stale request cannot be replayed later.
// It is signed unless l.Unsigned.
func (b *Builder) LogoutRequest(l LogoutRequest) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if !isNCName(l.ID) {
		return nil, fmt.Errorf("response: LogoutRequest ID %q is not an NCName (use MessageID)", l.ID)
	}
	for _, f := range [...]struct{ name, v string }{
		{"Destination", l.Destination}, {"NameID", l.NameID}, {"SessionIndex", l.SessionIndex},
	} {
		if err := checkValue(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if l.Reason != "" {
		if err := checkValue("Reason", l.Reason); err != nil {
			return nil, err
		}
	}
	issue := ceilMillis(b.now())

	m := make([]byte, 0, 1024)
	m = append(m, `<samlp:LogoutRequest`+declSAMLP...)
	m = appendAttr(m, "Destination", l.Destination)
	m = appendAttr(m, "ID", l.ID)
	m = append(m, ` IssueInstant="`...)
	m = appendTime(m, issue)
	m = append(m, `" NotOnOrAfter="`...)
	m = appendTime(m, issue.Add(b.lifetime()))
	m = append(m, '"')
	if l.Reason != "" {
		m = appendAttr(m, "Reason", l.Reason)
	}
	m = append(m, ` Version="2.0">`...)
	m = b.appendIssuer(m, true)
	sigAt := len(m)
	m = append(m, `<saml:NameID`+declSAML...)
	m = appendAttr(m, "Format", spid.NameIDTransient)
	m = appendAttr(m, "NameQualifier", b.EntityID)
	m = append(m, '>')
	m = appendText(m, l.NameID)
	m = append(m, `</saml:NameID><samlp:SessionIndex>`...)
	m = appendText(m, l.SessionIndex)
	m = append(m, `</samlp:SessionIndex></samlp:LogoutRequest>`...)
	return b.finish(m, l.ID, sigAt, l.Unsigned)
}

var topStatuses = map[string]bool{
	spid.StatusSuccess: true, spid.StatusRequester: true,
	spid.StatusResponder: true, spid.StatusVersionMismatch: true,
}

// LogoutResponse returns the LogoutResponse to the SP that asked for logout:
// Issuer with Format entity and NameQualifier, and the status. It is signed
// unless r.Unsigned.
func (b *Builder) LogoutResponse(r LogoutResponse) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	top := r.Status
	if top == "" {
		top = spid.StatusSuccess
	}
	if !topStatuses[top] {
		return nil, fmt.Errorf("response: %q is not a top-level status code", r.Status)
	}
	if r.SubStatus != "" {
		if top == spid.StatusSuccess {
			return nil, errors.New("response: Success takes no second-level status")
		}
		if !strings.HasPrefix(r.SubStatus, "urn:oasis:names:tc:SAML:2.0:status:") {
			return nil, fmt.Errorf("response: %q is not a SAML status code", r.SubStatus)
		}
		if err := checkValue("SubStatus", r.SubStatus); err != nil {
			return nil, err
		}
	}
	if r.InResponseTo == "" {
		if top == spid.StatusSuccess {
			return nil, errors.New("response: a successful LogoutResponse needs InResponseTo")
		}
	} else if !isNCName(r.InResponseTo) {
		return nil, fmt.Errorf("response: InResponseTo %q is not an NCName", r.InResponseTo)
	}
	if err := checkValue("Destination", r.Destination); err != nil {
		return nil, err
	}
	id, err := b.newID()
	if err != nil {
		return nil, err
	}

	m := make([]byte, 0, 1024)
	m = append(m, `<samlp:LogoutResponse`+declSAMLP...)
	m = appendAttr(m, "Destination", r.Destination)
	m = appendAttr(m, "ID", id)
	if r.InResponseTo != "" {
		m = appendAttr(m, "InResponseTo", r.InResponseTo)
	}
	m = append(m, ` IssueInstant="`...)
	m = appendTime(m, ceilMillis(b.now()))
	m = append(m, `" Version="2.0">`...)
	m = b.appendIssuer(m, true)
	sigAt := len(m)
	m = appendStatus(m, top, r.SubStatus, "")
	m = append(m, `</samlp:LogoutResponse>`...)
	return b.finish(m, id, sigAt, r.Unsigned)
}
