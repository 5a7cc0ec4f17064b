// Package authnrequest checks an AuthnRequest received on the HTTP-Redirect
// or HTTP-POST binding, step by step in the order of spec saml-profile.md
// §3.3, and maps the first failing step to its SPID anomaly code: the
// user-bound ones (nr04–nr07, nr10, plus nr03 for our own failures) before
// the signature is known good, the SP-bound ones (nr08, nr09, nr11–nr18)
// after.
package authnrequest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// Step names, in pipeline order (spec §3.3). Error.Step holds one of them.
const (
	StepMethod         = "method"          // 1  → nr06
	StepParameters     = "parameters"      // 2  → nr04
	StepDecode         = "decode"          // 3  → nr04
	StepIssuer         = "issuer"          // 4  → nr10
	StepSignature      = "signature"       // 5  → nr05 (Redirect) / nr07 (POST)
	StepVersion        = "version"         // 6  → nr09
	StepID             = "id"              // 7  → nr11
	StepIssueInstant   = "issue-instant"   // 8  → nr13
	StepDestination    = "destination"     // 9  → nr14
	StepIsPassive      = "is-passive"      // 10 → nr15
	StepAuthnContext   = "authn-context"   // 11 → nr12
	StepACS            = "acs"             // 12 → nr16
	StepNameIDPolicy   = "nameid-policy"   // 13 → nr17
	StepAttributeIndex = "attribute-index" // 14 → nr18
	StepSchema         = "schema"          // 15 → nr08
)

// Defaults (spec §3.1, §3.4; security.md defaults).
const (
	DefaultPastSkew      = 2 * time.Minute
	DefaultFutureSkew    = 30 * time.Second
	DefaultMaxRelayState = 1024
	// MaxIDLength bounds the request ID; real IDs are UUID-sized.
	MaxIDLength = 256
)

// Purpose values of spid:Purpose (Avviso 18 v2, spec §3.6).
var purposes = map[string]bool{"P": true, "LP": true, "PG": true, "PF": true, "PX": true}

// SPLookup finds a trusted SP by entityID. An unknown SP is reported as
// (nil, nil) or as an error wrapping storage.ErrNotFound; any other error
// is a failure of our own (nr03).
type SPLookup interface {
	LookupSP(ctx context.Context, entityID string) (*metadata.SP, error)
}

// ReplayCache remembers request IDs (storage.Ephemeral satisfies it): the
// first insert of a key wins, later ones get storage.ErrAlreadyExists.
type ReplayCache interface {
	InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error
}

// Checker validates AuthnRequests for one IdP.
type Checker struct {
	IdPEntityID string
	// SSOURLs are the accepted Destinations besides IdPEntityID: the
	// Locations of our SingleSignOnService endpoints (Avviso 11).
	SSOURLs []string
	SPs     SPLookup
	Replay  ReplayCache
	Now     func() time.Time // default time.Now
	// PastSkew and FutureSkew bound IssueInstant: now−PastSkew ≤ t ≤
	// now+FutureSkew. Defaults 2 min and 30 s.
	PastSkew, FutureSkew time.Duration
	// MaxRelayState in bytes; default 1024. Longer is nr04.
	MaxRelayState int
	// Limits for decoding; its MaxRelayState is replaced by the field above.
	Limits binding.Limits
}

// Request is an AuthnRequest that passed every check.
type Request struct {
	ID           string
	IssueInstant time.Time
	SP           *metadata.SP
	// ACS is where the Response goes: always an HTTP-POST endpoint of SP.
	ACS metadata.Endpoint
	// AttributeIndex is AttributeConsumingServiceIndex, nil when absent;
	// then Attributes is nil and the Assertion carries no AttributeStatement.
	AttributeIndex *int
	Attributes     []metadata.RequestedAttribute
	Level          spid.Level // requested SPID level
	Comparison     string     // exact, minimum, better or maximum
	ForceAuthn     bool
	Purpose        string // spid:Purpose, "" when absent
	// AttributeAuthorities are the non-empty Locations of
	// spid:RequiredAttributeAuthority, trimmed, in order (not yet checked
	// against the AA registry).
	AttributeAuthorities []string
	RelayState           string // returned unchanged; "" when absent
	HasRelayState        bool
	Binding              string // binding the request arrived on
	Destination          string
	// SubjectNameID is Subject/NameID when the SP sent one: logged only,
	// SPID gives it no meaning (spec §3.4, §10).
	SubjectNameID string
	// XML is the decoded request exactly as received, for the transaction log.
	XML []byte
}

// Error is a failed check. User-bound anomalies (Anomaly.ForSP() false)
// have SP == nil: nothing may be sent to an SP for them. SP-bound ones carry
// the SP, the ACS to post the error Response to (the one the request
// resolved to, else the default ACS, spec §3.7), InResponseTo (empty when
// the request ID is missing or invalid) and the RelayState to return.
type Error struct {
	Anomaly      spid.Anomaly
	Step         string
	Reason       string // plain English, safe for logs and the error page
	SP           *metadata.SP
	ACS          metadata.Endpoint
	InResponseTo string
	RelayState   string
	Err          error // underlying cause, if any
	// XML and Binding are the authentic request as received (SP-bound
	// errors only), for the transaction register.
	XML     []byte
	Binding string
}

func (e *Error) Error() string {
	return fmt.Sprintf("authnrequest: %s (%s at step %s)", e.Reason, e.Anomaly, e.Step)
}

func (e *Error) Unwrap() error { return e.Err }

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) skews() (past, future time.Duration) {
	past, future = c.PastSkew, c.FutureSkew
	if past <= 0 {
		past = DefaultPastSkew
	}
	if future <= 0 {
		future = DefaultFutureSkew
	}
	return past, future
}

// userErr is a user-bound failure: no SP may be told.
func userErr(a spid.Anomaly, step, reason string, cause error) *Error {
	return &Error{Anomaly: a, Step: step, Reason: reason, Err: cause}
}

// Check runs the pipeline of spec §3.3 on r, received on bindingName
// (spid.BindingRedirect or spid.BindingPOST). It returns *Error on failure.
func (c *Checker) Check(ctx context.Context, r *http.Request, bindingName string) (*Request, error) {
	if bindingName != spid.BindingRedirect && bindingName != spid.BindingPOST {
		return nil, userErr(spid.NrSystemError, StepMethod, fmt.Sprintf("endpoint configured with unsupported binding %q", bindingName), nil)
	}
	if c.SPs == nil || c.Replay == nil {
		return nil, userErr(spid.NrSystemError, StepMethod, "checker has no SP registry or replay cache", nil)
	}
	now := c.now()
	lim := c.Limits
	lim.MaxRelayState = c.MaxRelayState
	if lim.MaxRelayState <= 0 {
		lim.MaxRelayState = DefaultMaxRelayState
	}

	// Steps 1–3: method, parameters, decoding and safe parsing.
	m, err := binding.Decode(r, bindingName, lim)
	switch {
	case errors.Is(err, binding.ErrMethod):
		return nil, userErr(spid.NrWrongMethod, StepMethod, "the HTTP method does not match the endpoint's binding", err)
	case errors.Is(err, binding.ErrMissing):
		return nil, userErr(spid.NrBindingFormat, StepParameters, "a mandatory parameter is missing: "+reasonOf(err), err)
	case err != nil:
		return nil, userErr(spid.NrBindingFormat, StepDecode, "the request cannot be decoded: "+reasonOf(err), err)
	}
	if m.Param != binding.ParamRequest {
		return nil, userErr(spid.NrBindingFormat, StepParameters, "SAMLRequest is missing (a SAMLResponse was sent)", nil)
	}
	root := m.Root
	if !binding.Is(root, spid.NSProtocol, "AuthnRequest") {
		return nil, userErr(spid.NrBindingFormat, StepDecode,
			fmt.Sprintf("the root element is {%s}%s, not samlp:AuthnRequest", root.NamespaceURI(), root.Tag), nil)
	}

	// Step 4: Issuer names a trusted SP.
	sp, e := c.issuer(ctx, root)
	if e != nil {
		return nil, e
	}

	// Step 5: signature, with that SP's certificates only.
	if err := m.Verify(sp.Certificates, now); err != nil {
		a := spid.NrPOSTSignature
		if bindingName == spid.BindingRedirect {
			a = spid.NrRedirectSignature
		}
		return nil, userErr(a, StepSignature, "the request signature cannot be verified: "+reasonOf(err), err)
	}

	// From here on the request is authentic: errors go to the SP.
	req := &Request{SP: sp, RelayState: m.RelayState, HasRelayState: m.HasRelayState, Binding: bindingName, XML: m.XML}
	acs, acsReason := resolveACS(root, sp)
	base := &Error{SP: sp, RelayState: m.RelayState, ACS: acs, XML: m.XML, Binding: bindingName}
	if acsReason != "" {
		base.ACS, _ = sp.DefaultACS()
	}
	if id, ok := binding.Attr(root, "ID"); ok && validID(id) {
		base.InResponseTo = id
	}
	fail := func(a spid.Anomaly, step, reason string, cause error) (*Request, error) {
		e := *base
		e.Anomaly, e.Step, e.Reason, e.Err = a, step, reason, cause
		return nil, &e
	}

	// Step 6: Version.
	if v, ok := binding.Attr(root, "Version"); !ok {
		return fail(spid.NrVersion, StepVersion, "Version is missing", nil)
	} else if v != "2.0" {
		return fail(spid.NrVersion, StepVersion, fmt.Sprintf("Version is %q, want 2.0", v), nil)
	}

	// Step 7: ID, and replay (only now that the signature is good, so
	// unsigned junk cannot fill the cache or burn an SP's IDs).
	id, ok := binding.Attr(root, "ID")
	switch {
	case !ok || id == "":
		return fail(spid.NrID, StepID, "ID is missing", nil)
	case len(id) > MaxIDLength:
		return fail(spid.NrID, StepID, fmt.Sprintf("ID is longer than %d characters", MaxIDLength), nil)
	case !validID(id):
		return fail(spid.NrID, StepID, fmt.Sprintf("ID %q is not a valid xs:ID", id), nil)
	}
	req.ID = id
	past, future := c.skews()
	if err := c.Replay.InsertRequestID(ctx, ReplayKey("authn", sp.EntityID, id), now.Add(2*(past+future))); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return fail(spid.NrID, StepID, fmt.Sprintf("ID %q was already used by this SP", id), err)
		}
		e := userErr(spid.NrSystemError, StepID, "the replay cache is unavailable", err)
		return nil, e
	}

	// Step 8: IssueInstant.
	ii, ok := binding.Attr(root, "IssueInstant")
	if !ok {
		return fail(spid.NrIssueInstant, StepIssueInstant, "IssueInstant is missing", nil)
	}
	t, err := parseUTC(ii)
	if err != nil {
		return fail(spid.NrIssueInstant, StepIssueInstant, fmt.Sprintf("IssueInstant %q is not a UTC xs:dateTime", ii), err)
	}
	if t.Before(now.Add(-past)) || t.After(now.Add(future)) {
		return fail(spid.NrIssueInstant, StepIssueInstant,
			fmt.Sprintf("IssueInstant %s is outside the accepted window (now −%s … +%s)", ii, past, future), nil)
	}
	req.IssueInstant = t

	// Step 9: Destination.
	dest, ok := binding.Attr(root, "Destination")
	if !ok || dest == "" {
		return fail(spid.NrDestination, StepDestination, "Destination is missing", nil)
	}
	if !c.ourDestination(dest) {
		return fail(spid.NrDestination, StepDestination, fmt.Sprintf("Destination %q is not this IdP", dest), nil)
	}
	req.Destination = dest

	// Step 10: IsPassive. Only true is an anomaly; a non-boolean is a
	// schema error, reported at step 15.
	if v, ok := binding.Attr(root, "IsPassive"); ok {
		if b, err := parseBool(v); err == nil && b {
			return fail(spid.NrIsPassive, StepIsPassive, "IsPassive is true", nil)
		}
	}

	// Step 11: RequestedAuthnContext.
	if reason := authnContext(root, req); reason != "" {
		return fail(spid.NrAuthnContext, StepAuthnContext, reason, nil)
	}

	// Step 12: ACS (errors go to the default ACS, already in base).
	if acsReason != "" {
		return fail(spid.NrACS, StepACS, acsReason, nil)
	}
	req.ACS = acs

	// Step 13: NameIDPolicy.
	if reason := nameIDPolicy(root); reason != "" {
		return fail(spid.NrNameIDPolicy, StepNameIDPolicy, reason, nil)
	}

	// Step 14: AttributeConsumingServiceIndex.
	if v, ok := binding.Attr(root, "AttributeConsumingServiceIndex"); ok {
		i, err := parseUnsignedShort(v)
		if err != nil {
			return fail(spid.NrAttrConsumingIndex, StepAttributeIndex,
				fmt.Sprintf("AttributeConsumingServiceIndex %q is not an index (an integer 0–65535)", v), err)
		}
		as, ok := sp.AttributeService(i)
		if !ok {
			return fail(spid.NrAttrConsumingIndex, StepAttributeIndex,
				fmt.Sprintf("AttributeConsumingServiceIndex %d is not in the SP metadata", i), nil)
		}
		req.AttributeIndex = &i
		req.Attributes = append([]metadata.RequestedAttribute{}, as.Attributes...)
	}

	// Step 15: schema-level structure and the remaining SPID constraints.
	if reason := schema(root, req); reason != "" {
		return fail(spid.NrNotCompliant, StepSchema, reason, nil)
	}
	return req, nil
}

// reasonOf strips the package prefixes off an error for the Reason text.
func reasonOf(err error) string {
	s := err.Error()
	for _, p := range []string{"binding: mandatory parameter missing: ", "binding: malformed message: ",
		"binding: signature check failed: ", "binding: HTTP method does not match the binding: ",
		"xmlsig: signature not valid: ", "xmlsig: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// issuer runs step 4 and returns the trusted SP.
func (c *Checker) issuer(ctx context.Context, root *etree.Element) (*metadata.SP, *Error) {
	bad := func(reason string, cause error) (*metadata.SP, *Error) {
		return nil, userErr(spid.NrIssuer, StepIssuer, reason, cause)
	}
	var iss []*etree.Element
	for _, ch := range root.ChildElements() {
		if binding.Is(ch, spid.NSAssertion, "Issuer") {
			iss = append(iss, ch)
		}
	}
	switch len(iss) {
	case 0:
		return bad("Issuer is missing", nil)
	case 1:
	default:
		return bad("more than one Issuer", nil)
	}
	text, err := binding.Text(iss[0])
	if err != nil {
		return bad("Issuer is malformed: "+err.Error(), err)
	}
	entityID := strings.TrimSpace(text)
	if entityID == "" {
		return bad("Issuer is empty", nil)
	}
	if f, _ := binding.Attr(iss[0], "Format"); f != spid.NameIDEntity {
		return bad(fmt.Sprintf("Issuer Format is %q, want %s", f, spid.NameIDEntity), nil)
	}
	nq, ok := binding.Attr(iss[0], "NameQualifier")
	if !ok || !isURI(nq) {
		return bad("Issuer NameQualifier is missing or not a URI", nil)
	}
	sp, err := c.SPs.LookupSP(ctx, entityID)
	switch {
	case (err == nil && sp == nil) || errors.Is(err, storage.ErrNotFound):
		return bad(fmt.Sprintf("Issuer %q is not a trusted service provider", entityID), err)
	case err != nil:
		return nil, userErr(spid.NrSystemError, StepIssuer, "the service provider registry is unavailable", err)
	}
	return sp, nil
}

func (c *Checker) ourDestination(d string) bool {
	if d == c.IdPEntityID {
		return true
	}
	for _, u := range c.SSOURLs {
		if d == u {
			return true
		}
	}
	return false
}

// authnContext runs step 11, filling req.Level and req.Comparison.
func authnContext(root *etree.Element, req *Request) string {
	racs := binding.Children(root, spid.NSProtocol, "RequestedAuthnContext")
	switch len(racs) {
	case 0:
		return "RequestedAuthnContext is missing"
	case 1:
	default:
		return "more than one RequestedAuthnContext"
	}
	rac := racs[0]
	if len(binding.Children(rac, spid.NSAssertion, "AuthnContextDeclRef")) > 0 {
		return "AuthnContextDeclRef is not allowed; send one SPID AuthnContextClassRef"
	}
	refs := binding.Children(rac, spid.NSAssertion, "AuthnContextClassRef")
	if len(refs) != 1 {
		return fmt.Sprintf("%d AuthnContextClassRef elements, want exactly one", len(refs))
	}
	text, err := binding.Text(refs[0])
	if err != nil {
		return "AuthnContextClassRef is malformed"
	}
	v := strings.TrimSpace(text)
	level, ok := spid.LevelFromClassRef(v)
	if !ok {
		if strings.HasPrefix(v, "urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL") {
			return fmt.Sprintf("AuthnContextClassRef %q is the obsolete spelling; use https://www.spid.gov.it/SpidLn", v)
		}
		return fmt.Sprintf("AuthnContextClassRef %q is not a SPID level", v)
	}
	// C074: SAML core defaults an absent Comparison to exact, and we once
	// followed it; AgID's IdP test tool (spid-saml-check-idp, case 2.10.2)
	// expects the request refused, and it files the case with the other
	// RequestedAuthnContext defects, which the anomaly table maps to nr12.
	// An empty or unknown value stays a schema error (nr08, step 15).
	cmp, ok := binding.Attr(rac, "Comparison")
	if !ok {
		return "RequestedAuthnContext has no Comparison attribute"
	}
	if level == spid.L3 && cmp == spid.ComparisonBetter {
		return "nothing is better than SpidL3"
	}
	req.Level, req.Comparison = level, cmp // an invalid Comparison is caught at step 15
	return ""
}

// resolveACS runs the ACS rules of §3.4; reason is "" on success.
func resolveACS(root *etree.Element, sp *metadata.SP) (metadata.Endpoint, string) {
	idx, hasIdx := binding.Attr(root, "AssertionConsumerServiceIndex")
	u, hasURL := binding.Attr(root, "AssertionConsumerServiceURL")
	pb, hasPB := binding.Attr(root, "ProtocolBinding")
	switch {
	case hasIdx && (hasURL || hasPB):
		return metadata.Endpoint{}, "AssertionConsumerServiceIndex is sent together with AssertionConsumerServiceURL or ProtocolBinding"
	case hasIdx:
		i, err := parseUnsignedShort(idx)
		if err != nil {
			return metadata.Endpoint{}, fmt.Sprintf("AssertionConsumerServiceIndex %q is not a valid index", idx)
		}
		ep, ok := sp.ACSByIndex(i)
		if !ok {
			return metadata.Endpoint{}, fmt.Sprintf("AssertionConsumerServiceIndex %d is not in the SP metadata", i)
		}
		if ep.Binding != spid.BindingPOST {
			return metadata.Endpoint{}, fmt.Sprintf("the ACS with index %d does not use HTTP-POST", i)
		}
		return ep, ""
	case !hasURL || !hasPB:
		return metadata.Endpoint{}, "neither AssertionConsumerServiceIndex nor both AssertionConsumerServiceURL and ProtocolBinding are present"
	case pb != spid.BindingPOST:
		return metadata.Endpoint{}, fmt.Sprintf("ProtocolBinding %q is not HTTP-POST", pb)
	}
	// Byte-for-byte equality with a registered HTTP-POST Location (A.17).
	for _, ep := range sp.ACS {
		if ep.Location == u && ep.Binding == spid.BindingPOST {
			return ep, ""
		}
	}
	return metadata.Endpoint{}, fmt.Sprintf("AssertionConsumerServiceURL %q is not an HTTP-POST ACS in the SP metadata", u)
}

// nameIDPolicy runs step 13. AllowCreate is never an error (RT-err 17).
func nameIDPolicy(root *etree.Element) string {
	ps := binding.Children(root, spid.NSProtocol, "NameIDPolicy")
	switch len(ps) {
	case 0:
		return "NameIDPolicy is missing"
	case 1:
	default:
		return "more than one NameIDPolicy"
	}
	f, ok := binding.Attr(ps[0], "Format")
	if !ok {
		return "NameIDPolicy Format is missing"
	}
	if f != spid.NameIDTransient {
		return fmt.Sprintf("NameIDPolicy Format is %q, want %s", f, spid.NameIDTransient)
	}
	return ""
}

// ReplayKey is the replay-cache key of a message ID sent by an SP; kind
// keeps AuthnRequest and LogoutRequest IDs apart. Hashing bounds the key
// length whatever the entityID and ID.
func ReplayKey(kind, entityID, id string) string {
	h := sha256.New()
	h.Write([]byte(entityID))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return "replay:" + kind + ":" + hex.EncodeToString(h.Sum(nil))
}

var utcDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$`)

// parseUTC accepts xs:dateTime in UTC with a literal Z, with or without a
// fraction (spec §3.4: no offsets, no local time).
func parseUTC(s string) (time.Time, error) {
	if !utcDateTime.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not YYYY-MM-DDThh:mm:ss[.fff]Z", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// ParseUTC is the timestamp rule used for IssueInstant, exported for the
// logout checks that share it.
func ParseUTC(s string) (time.Time, error) { return parseUTC(s) }

func parseBool(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not an xs:boolean", s)
}

// parseUnsignedShort accepts only plain decimal digits in 0..65535.
func parseUnsignedShort(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not an xs:unsignedShort", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("%q is not an xs:unsignedShort", s)
	}
	return n, nil
}

// validID reports whether s is an NCName (the lexical space of xs:ID).
func validID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || r == '_':
		case i > 0 && (unicode.IsDigit(r) || r == '-' || r == '.' || r == '\u00b7' ||
			unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nl)):
		default:
			return false
		}
	}
	return true
}

// ValidID exposes the xs:ID check for the logout checks.
func ValidID(s string) bool { return validID(s) }

func isURI(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}
