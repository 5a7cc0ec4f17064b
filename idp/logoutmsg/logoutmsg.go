// Package logoutmsg checks the Single Logout messages service providers
// send to the IdP's SingleLogoutService on HTTP-Redirect or HTTP-POST: a
// LogoutRequest (logout started at the SP) or a LogoutResponse (an SP
// answering a LogoutRequest we propagated), following spec
// saml-profile.md §6.2–§6.4 and security.md A.15, A.20.
//
// Decoding, parsing and signature rules are those of AuthnRequests (package
// binding). A message that cannot be decoded, names an unknown SP or is not
// correctly signed is refused with a courtesy page and changes nothing
// (never "no signature, so read the document anyway"). A signed
// LogoutRequest that breaks a content rule is answered with a LogoutResponse
// carrying Requester and a sub-status; the anomaly table does not cover
// logout, so no ErrorCode message is defined.
package logoutmsg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// Step names, in the order they run.
const (
	StepMethod       = "method"
	StepParameters   = "parameters"
	StepDecode       = "decode"
	StepIssuer       = "issuer"
	StepSignature    = "signature"
	StepIssuerFormat = "issuer-format"
	StepVersion      = "version"
	StepID           = "id"
	StepIssueInstant = "issue-instant"
	StepNotOnOrAfter = "not-on-or-after"
	StepDestination  = "destination"
	StepNameID       = "nameid"
	StepSessionIndex = "session-index"
	StepInResponseTo = "in-response-to"
	StepStatus       = "status"
	StepSchema       = "schema"
)

// Checker validates logout messages for one IdP.
type Checker struct {
	IdPEntityID string
	// SLOURLs are the accepted Destinations besides IdPEntityID: the
	// Locations of our SingleLogoutService endpoints.
	SLOURLs []string
	SPs     authnrequest.SPLookup
	Replay  authnrequest.ReplayCache
	Now     func() time.Time
	// IssueInstant window, as for AuthnRequests; defaults 2 min / 30 s.
	PastSkew, FutureSkew time.Duration
	MaxRelayState        int // default 1024
	Limits               binding.Limits
}

// Request is a LogoutRequest that passed every check. Whether NameID and
// SessionIndex belong to a session we issued to SP is for the session
// layer to decide (security.md A.20).
type Request struct {
	ID             string
	IssueInstant   time.Time
	Destination    string
	SP             *metadata.SP
	NameID         string // trimmed
	NameQualifier  string
	SessionIndexes []string // trimmed, empty ones dropped; may be empty (L2/L3, spec §6.3)
	NotOnOrAfter   time.Time
	Reason         string
	RelayState     string
	HasRelayState  bool
	Binding        string
	XML            []byte
}

// Response is a LogoutResponse that passed every check. Matching
// InResponseTo with a LogoutRequest we sent is the caller's job.
type Response struct {
	ID            string
	InResponseTo  string
	IssueInstant  time.Time
	Destination   string
	SP            *metadata.SP
	Status        string // top-level StatusCode
	SubStatus     string // nested StatusCode, "" when absent
	StatusMessage string
	RelayState    string
	HasRelayState bool
	Binding       string
	XML           []byte
}

// Success reports whether the SP confirmed the logout.
func (r *Response) Success() bool { return r.Status == spid.StatusSuccess }

// Message is what arrived: exactly one of Request and Response is set.
type Message struct {
	Request  *Request
	Response *Response
}

// Error is a refused logout message. When Respond is false nothing may be
// sent to any SP (courtesy page, nothing closed). When Respond is true the
// message was an authentic LogoutRequest from SP: answer it with a
// LogoutResponse with Status/SubStatus, InResponseTo (empty if the ID was
// unusable) and RelayState, and close nothing.
type Error struct {
	Respond      bool
	Status       string
	SubStatus    string
	Step         string
	Reason       string
	SP           *metadata.SP
	InResponseTo string
	RelayState   string
	Err          error
}

func (e *Error) Error() string {
	to := "courtesy page"
	if e.Respond {
		to = "LogoutResponse " + e.SubStatus
	}
	return fmt.Sprintf("logoutmsg: %s (at step %s, %s)", e.Reason, e.Step, to)
}

func (e *Error) Unwrap() error { return e.Err }

func page(step, reason string, cause error) *Error {
	return &Error{Step: step, Reason: reason, Err: cause}
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) skews() (time.Duration, time.Duration) {
	past, future := c.PastSkew, c.FutureSkew
	if past <= 0 {
		past = authnrequest.DefaultPastSkew
	}
	if future <= 0 {
		future = authnrequest.DefaultFutureSkew
	}
	return past, future
}

// Check decodes, authenticates and validates the logout message carried by
// r on bindingName. It returns *Error on failure.
func (c *Checker) Check(ctx context.Context, r *http.Request, bindingName string) (*Message, error) {
	now := c.now()
	lim := c.Limits
	lim.MaxRelayState = c.MaxRelayState
	if lim.MaxRelayState <= 0 {
		lim.MaxRelayState = authnrequest.DefaultMaxRelayState
	}
	m, err := binding.Decode(r, bindingName, lim)
	switch {
	case errors.Is(err, binding.ErrMethod):
		return nil, page(StepMethod, "the HTTP method does not match the endpoint's binding", err)
	case errors.Is(err, binding.ErrMissing):
		return nil, page(StepParameters, "a mandatory parameter is missing", err)
	case err != nil:
		return nil, page(StepDecode, "the message cannot be decoded: "+err.Error(), err)
	}
	var want string
	switch m.Param {
	case binding.ParamRequest:
		want = "LogoutRequest"
	default:
		want = "LogoutResponse"
	}
	if !binding.Is(m.Root, spid.NSProtocol, want) {
		return nil, page(StepDecode, fmt.Sprintf("%s carries {%s}%s, not samlp:%s",
			m.Param, m.Root.NamespaceURI(), m.Root.Tag, want), nil)
	}

	issuer, sp, e := c.issuer(ctx, m.Root)
	if e != nil {
		return nil, e
	}
	// Missing or bad signature: a hard failure whatever the binding (A.20).
	if err := m.Verify(sp.Certificates, now); err != nil {
		return nil, page(StepSignature, "the signature cannot be verified: "+err.Error(), err)
	}
	if m.Param == binding.ParamRequest {
		req, err := c.request(ctx, m, issuer, sp, now)
		if err != nil {
			return nil, err
		}
		return &Message{Request: req}, nil
	}
	resp, err := c.response(ctx, m, issuer, sp, now)
	if err != nil {
		return nil, err
	}
	return &Message{Response: resp}, nil
}

// issuer finds the sender among the trusted SPs. Only presence and trust
// are page errors; Format and NameQualifier are checked after the
// signature and answered to the SP (C169).
func (c *Checker) issuer(ctx context.Context, root *etree.Element) (*etree.Element, *metadata.SP, *Error) {
	iss := binding.Children(root, spid.NSAssertion, "Issuer")
	if len(iss) != 1 {
		return nil, nil, page(StepIssuer, fmt.Sprintf("%d Issuer elements, want one", len(iss)), nil)
	}
	text, err := binding.Text(iss[0])
	if err != nil {
		return nil, nil, page(StepIssuer, "Issuer is malformed", err)
	}
	id := strings.TrimSpace(text)
	if id == "" {
		return nil, nil, page(StepIssuer, "Issuer is empty", nil)
	}
	sp, err := c.SPs.LookupSP(ctx, id)
	switch {
	case (err == nil && sp == nil) || errors.Is(err, storage.ErrNotFound):
		return nil, nil, page(StepIssuer, fmt.Sprintf("Issuer %q is not a trusted service provider", id), err)
	case err != nil:
		return nil, nil, page(StepIssuer, "the service provider registry is unavailable", err)
	}
	return iss[0], sp, nil
}

func (c *Checker) ourDestination(d string) bool {
	if d == c.IdPEntityID {
		return true
	}
	for _, u := range c.SLOURLs {
		if d == u {
			return true
		}
	}
	return false
}

// common runs the checks shared by both messages: Issuer format, Version,
// ID and replay, IssueInstant, Destination. fail builds the error.
func (c *Checker) common(ctx context.Context, root, issuer *etree.Element, sp *metadata.SP, kind string, now time.Time,
	fail func(step, sub, reason string, cause error) error) (id string, issued time.Time, dest string, err error) {
	if f, _ := binding.Attr(issuer, "Format"); f != spid.NameIDEntity {
		return "", time.Time{}, "", fail(StepIssuerFormat, spid.StatusRequestUnsupported,
			fmt.Sprintf("Issuer Format is %q, want %s", f, spid.NameIDEntity), nil)
	}
	if nq, _ := binding.Attr(issuer, "NameQualifier"); strings.TrimSpace(nq) == "" {
		return "", time.Time{}, "", fail(StepIssuerFormat, spid.StatusRequestUnsupported, "Issuer NameQualifier is missing", nil)
	}
	if v, _ := binding.Attr(root, "Version"); v != "2.0" {
		return "", time.Time{}, "", fail(StepVersion, spid.StatusRequestUnsupported, fmt.Sprintf("Version is %q, want 2.0", v), nil)
	}
	id, _ = binding.Attr(root, "ID")
	if !authnrequest.ValidID(id) {
		return "", time.Time{}, "", fail(StepID, spid.StatusRequestUnsupported, fmt.Sprintf("ID %q is missing or not a valid xs:ID", id), nil)
	}
	past, future := c.skews()
	if err := c.Replay.InsertRequestID(ctx, authnrequest.ReplayKey(kind, sp.EntityID, id), now.Add(2*(past+future))); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return "", time.Time{}, "", fail(StepID, spid.StatusRequestDenied, fmt.Sprintf("ID %q was already used by this SP", id), err)
		}
		return "", time.Time{}, "", page(StepID, "the replay cache is unavailable", err)
	}
	ii, _ := binding.Attr(root, "IssueInstant")
	issued, perr := authnrequest.ParseUTC(ii)
	if perr != nil {
		return "", time.Time{}, "", fail(StepIssueInstant, spid.StatusRequestDenied, fmt.Sprintf("IssueInstant %q is missing or not UTC", ii), perr)
	}
	if issued.Before(now.Add(-past)) || issued.After(now.Add(future)) {
		return "", time.Time{}, "", fail(StepIssueInstant, spid.StatusRequestDenied, fmt.Sprintf("IssueInstant %s is outside the accepted window", ii), nil)
	}
	dest, _ = binding.Attr(root, "Destination")
	if dest == "" || !c.ourDestination(dest) {
		return "", time.Time{}, "", fail(StepDestination, spid.StatusRequestUnsupported, fmt.Sprintf("Destination %q is not this IdP", dest), nil)
	}
	return id, issued, dest, nil
}

// schemaOrder checks that root's children follow order (each at most
// once, except those marked repeatable) and that no text sits between them.
func schemaOrder(root *etree.Element, order []slot) string {
	for _, tok := range root.Child {
		if cd, ok := tok.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return fmt.Sprintf("text is not allowed directly inside %s", root.Tag)
		}
	}
	pos := -1
	for _, ch := range root.ChildElements() {
		i := -1
		for j, s := range order {
			if binding.Is(ch, s.ns, s.local) {
				i = j
				break
			}
		}
		if i < 0 {
			return fmt.Sprintf("element {%s}%s is not allowed in %s", ch.NamespaceURI(), ch.Tag, root.Tag)
		}
		if i < pos || (i == pos && !order[i].repeat) {
			return fmt.Sprintf("element %s is repeated or out of schema order", ch.Tag)
		}
		pos = i
	}
	return ""
}

type slot struct {
	ns, local string
	repeat    bool
}

func allowedAttrs(el *etree.Element, allowed ...string) string {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, a := range el.Attr {
		if a.Space == "" && a.Key != "xmlns" && !ok[a.Key] {
			return fmt.Sprintf("attribute %s is not allowed on %s", a.Key, el.Tag)
		}
		if a.Space != "" && a.Space != "xmlns" && a.NamespaceURI() == spid.NSProtocol {
			return fmt.Sprintf("attribute %s:%s is not allowed on %s", a.Space, a.Key, el.Tag)
		}
	}
	return ""
}
