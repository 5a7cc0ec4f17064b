package idp

import (
	"bytes"
	"context"

	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
)

// received queues a message that arrived, for the transaction register.
// It is not waited for: the answer to it is what must be durable. false
// means it could not even be queued (the caller answers 503).
func (p *IdP) received(ctx context.Context, kind, bindingName, sp, requestID, messageID string, xml []byte) bool {
	if p.o.RegisterQueue == nil || len(xml) == 0 {
		return true
	}
	err := p.o.RegisterQueue.Enqueue(ctx, register.Entry{Time: p.now(), Kind: kind, Direction: register.Received,
		Binding: bindingName, SP: sp, RequestID: requestID, MessageID: messageID, ClientIP: requestctx.ClientIP(ctx), Message: xml})
	if err != nil {
		p.o.Log.ErrorContext(ctx, "transaction register: incoming message not recorded", "kind", kind, "err", err)
		return false
	}
	return true
}

// sentQueued queues an outgoing logout message.
func (p *IdP) sentQueued(ctx context.Context, kind, bindingName, sp, requestID string, xml []byte) bool {
	if p.o.RegisterQueue == nil {
		return true
	}
	err := p.o.RegisterQueue.Enqueue(ctx, register.Entry{Time: p.now(), Kind: kind, Direction: register.Sent,
		Binding: bindingName, SP: sp, RequestID: requestID, MessageID: rootID(xml), ClientIP: requestctx.ClientIP(ctx), Message: xml})
	if err != nil {
		p.o.Log.ErrorContext(ctx, "transaction register: outgoing message not recorded", "kind", kind, "err", err)
		return false
	}
	return true
}

// responseSent records a Response durably, with the audit event ev (or
// nil) in the same transaction: one commit for both. The Response must not
// leave when this fails.
func (p *IdP) responseSent(ctx context.Context, ev *storage.AuditEvent, sp, spidCode, inResponseTo string, xml []byte) error {
	e := register.Entry{Time: p.now(), Kind: register.KindResponse, Direction: register.Sent,
		Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", SP: sp, SPIDCode: spidCode,
		RequestID: inResponseTo, MessageID: rootID(xml), ClientIP: requestctx.ClientIP(ctx), Message: xml}
	if p.o.Register == nil {
		if ev != nil {
			return p.o.Audit.Record(ctx, *ev)
		}
		return nil
	}
	if ev != nil {
		prepared := p.o.Audit.Prepare(ctx, *ev)
		ev = &prepared
	}
	if err := p.o.Register.Record(ctx, ev, e); err != nil {
		p.o.Log.ErrorContext(ctx, "transaction register: Response not recorded; not sent", "err", err)
		return err
	}
	return nil
}

// rootID is the ID attribute of the message's root element: the first
// ID="..." in what our own builder wrote.
func rootID(xml []byte) string {
	i := bytes.Index(xml, []byte(` ID="`))
	if i < 0 {
		return ""
	}
	rest := xml[i+5:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
