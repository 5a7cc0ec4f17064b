package logoutmsg

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
)

var logoutRequestOrder = []slot{
	{spid.NSAssertion, "Issuer", false},
	{spid.NSDSig, "Signature", false},
	{spid.NSProtocol, "Extensions", false},
	{spid.NSAssertion, "NameID", false},
	{spid.NSProtocol, "SessionIndex", true},
}

// request validates an authentic LogoutRequest (spec §6.3).
func (c *Checker) request(ctx context.Context, m *binding.Message, issuer *etree.Element, sp *metadata.SP, now time.Time) (*Request, error) {
	root := m.Root
	base := Error{Respond: true, Status: spid.StatusRequester, SP: sp, RelayState: m.RelayState}
	if id, _ := binding.Attr(root, "ID"); authnrequest.ValidID(id) {
		base.InResponseTo = id
	}
	fail := func(step, sub, reason string, cause error) error {
		e := base
		e.SubStatus, e.Step, e.Reason, e.Err = sub, step, reason, cause
		return &e
	}
	id, issued, dest, err := c.common(ctx, root, issuer, sp, "logout-request", now, fail)
	if err != nil {
		return nil, err
	}
	req := &Request{ID: id, IssueInstant: issued, Destination: dest, SP: sp, RelayState: m.RelayState,
		HasRelayState: m.HasRelayState, Binding: m.Binding, XML: m.XML}

	if v, ok := binding.Attr(root, "NotOnOrAfter"); ok {
		t, err := authnrequest.ParseUTC(v)
		if err != nil {
			return nil, fail(StepNotOnOrAfter, spid.StatusRequestDenied, fmt.Sprintf("NotOnOrAfter %q is not UTC", v), err)
		}
		if !now.Before(t) {
			return nil, fail(StepNotOnOrAfter, spid.StatusRequestDenied, fmt.Sprintf("the request expired at %s", v), nil)
		}
		req.NotOnOrAfter = t
	}
	req.Reason, _ = binding.Attr(root, "Reason")

	ids := binding.Children(root, spid.NSAssertion, "NameID")
	if len(ids) != 1 {
		return nil, fail(StepNameID, spid.StatusRequestUnsupported, "the request must carry exactly one saml:NameID (BaseID and EncryptedID are not supported)", nil)
	}
	nid := ids[0]
	if f, _ := binding.Attr(nid, "Format"); f != spid.NameIDTransient {
		return nil, fail(StepNameID, spid.StatusRequestUnsupported, fmt.Sprintf("NameID Format is %q, want %s", f, spid.NameIDTransient), nil)
	}
	nq, _ := binding.Attr(nid, "NameQualifier")
	if strings.TrimSpace(nq) != c.IdPEntityID {
		return nil, fail(StepNameID, spid.StatusRequestUnsupported, fmt.Sprintf("NameID NameQualifier is %q, want this IdP", nq), nil)
	}
	text, err := binding.Text(nid)
	if err != nil {
		return nil, fail(StepNameID, spid.StatusRequestUnsupported, "NameID is malformed", err)
	}
	if req.NameID = strings.TrimSpace(text); req.NameID == "" {
		return nil, fail(StepNameID, spid.StatusRequestUnsupported, "NameID is empty", nil)
	}
	req.NameQualifier = strings.TrimSpace(nq)

	for _, si := range binding.Children(root, spid.NSProtocol, "SessionIndex") {
		text, err := binding.Text(si)
		if err != nil {
			return nil, fail(StepSessionIndex, spid.StatusRequestUnsupported, "SessionIndex is malformed", err)
		}
		if v := strings.TrimSpace(text); v != "" {
			req.SessionIndexes = append(req.SessionIndexes, v)
		}
	}

	if r := allowedAttrs(root, "ID", "Version", "IssueInstant", "Destination", "Consent", "NotOnOrAfter", "Reason"); r != "" {
		return nil, fail(StepSchema, spid.StatusRequestUnsupported, r, nil)
	}
	if r := schemaOrder(root, logoutRequestOrder); r != "" {
		return nil, fail(StepSchema, spid.StatusRequestUnsupported, r, nil)
	}
	return req, nil
}
