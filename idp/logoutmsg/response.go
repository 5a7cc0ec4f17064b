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

var logoutResponseOrder = []slot{
	{spid.NSAssertion, "Issuer", false},
	{spid.NSDSig, "Signature", false},
	{spid.NSProtocol, "Extensions", false},
	{spid.NSProtocol, "Status", false},
}

// response validates an authentic LogoutResponse (spec §6.4). Nothing is
// ever answered to a response: every failure is a page error, and the
// caller counts that SP as not having confirmed (partial logout).
func (c *Checker) response(ctx context.Context, m *binding.Message, issuer *etree.Element, sp *metadata.SP, now time.Time) (*Response, error) {
	root := m.Root
	fail := func(step, _ /* no sub-status: nothing is sent */, reason string, cause error) error {
		return &Error{Step: step, Reason: reason, SP: sp, RelayState: m.RelayState, Err: cause}
	}
	id, issued, dest, err := c.common(ctx, root, issuer, sp, "logout-response", now, fail)
	if err != nil {
		return nil, err
	}
	resp := &Response{ID: id, IssueInstant: issued, Destination: dest, SP: sp, RelayState: m.RelayState,
		HasRelayState: m.HasRelayState, Binding: m.Binding, XML: m.XML}

	irt, _ := binding.Attr(root, "InResponseTo")
	if !authnrequest.ValidID(irt) {
		return nil, fail(StepInResponseTo, "", fmt.Sprintf("InResponseTo %q is missing or not a valid xs:ID", irt), nil)
	}
	resp.InResponseTo = irt

	sts := binding.Children(root, spid.NSProtocol, "Status")
	if len(sts) != 1 {
		return nil, fail(StepStatus, "", "the response must carry exactly one Status", nil)
	}
	codes := binding.Children(sts[0], spid.NSProtocol, "StatusCode")
	if len(codes) != 1 {
		return nil, fail(StepStatus, "", "Status must carry exactly one StatusCode", nil)
	}
	top, _ := binding.Attr(codes[0], "Value")
	if !strings.HasPrefix(top, "urn:oasis:names:tc:SAML:2.0:status:") {
		return nil, fail(StepStatus, "", fmt.Sprintf("StatusCode %q is not a SAML status", top), nil)
	}
	resp.Status = top
	switch subs := binding.Children(codes[0], spid.NSProtocol, "StatusCode"); len(subs) {
	case 0:
	case 1:
		resp.SubStatus, _ = binding.Attr(subs[0], "Value")
	default:
		return nil, fail(StepStatus, "", "more than one nested StatusCode", nil)
	}
	if msgs := binding.Children(sts[0], spid.NSProtocol, "StatusMessage"); len(msgs) == 1 {
		if t, err := binding.Text(msgs[0]); err == nil {
			resp.StatusMessage = strings.TrimSpace(t)
		}
	}

	if r := allowedAttrs(root, "ID", "InResponseTo", "Version", "IssueInstant", "Destination", "Consent"); r != "" {
		return nil, fail(StepSchema, "", r, nil)
	}
	if r := schemaOrder(root, logoutResponseOrder); r != "" {
		return nil, fail(StepSchema, "", r, nil)
	}
	return resp, nil
}
