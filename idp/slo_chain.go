package idp

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/logoutmsg"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The logout chain: the IdP session is deleted before any SP is told, so
// what the walk over the other SPs needs between browser hops is kept in
// two places.
//
//   - A sealed cookie (sloCookie) holds the mutable part: who asked (the
//     initiating SP, its request ID, binding and RelayState, or nobody for
//     an IdP-initiated logout), the participants' entityIDs and how each
//     one ended, the ID of the one LogoutRequest awaiting an answer, and a
//     hard deadline. Any node can continue a chain, and a LogoutResponse can
//     only settle the request the cookie is waiting for.
//   - An ephemeral record (sloRecordPrefix + chain ID, a storage.Session
//     with Level 0 that nothing can use for SSO) holds each participant's
//     NameID and SessionIndex, written once. Keeping them out of the cookie
//     keeps it a few hundred bytes whatever the number of SPs.
//
// A chain ends when every SP has answered or failed, or at the deadline:
// an SP that never sends its answer back stalls the browser there, and the
// next time the browser reaches our SLO endpoints after the deadline (its
// late answer, or a GET on the Redirect endpoint without a message) the
// chain is finished as a partial logout.

const (
	sloCookie = "spid_slo"
	// sloCookiePath is "/": the __Host- prefix (over https) requires it,
	// and that keeps a sibling host from planting a chain; the cookie lives
	// only for the chain's two minutes.
	sloCookiePath = "/"
	// sloDeadline caps the whole front-channel walk (spec §6.5).
	sloDeadline = 2 * time.Minute
	// sloRecordGrace keeps the record a little past the deadline, so a
	// chain finished late still finds it.
	sloRecordGrace  = time.Minute
	sloRecordPrefix = "slo-"
	// maxChainCookie keeps the cookie under the 4096-byte browser limit
	// with its attributes.
	maxChainCookie = 3800
	// logoutReasonUser is the Reason of the LogoutRequests we send.
	logoutReasonUser = "urn:oasis:names:tc:SAML:2.0:logout:user"
)

// Participant states in sloChain.St.
const (
	partPending = 'p' // not yet asked
	partSent    = 's' // LogoutRequest sent, answer awaited (Chain.Cur)
	partOK      = 'o' // confirmed with Success
	partFailed  = 'f' // no endpoint, error status, bad answer, or no answer
)

type sloInitiator struct {
	SP         string `json:"sp"`
	RequestID  string `json:"rid"`
	Binding    string `json:"b"`
	RelayState string `json:"rs,omitempty"`
}

type sloChain struct {
	ID       string        `json:"i"`
	Deadline int64         `json:"d"` // unix ms
	Identity string        `json:"who,omitempty"`
	Init     *sloInitiator `json:"ini,omitempty"`
	SPs      []string      `json:"sps,omitempty"` // entityID of each participant, in record order
	St       string        `json:"st,omitempty"`  // one state byte per participant
	Cur      int           `json:"c"`             // participant awaited, -1 for none
	Out      string        `json:"o,omitempty"`   // ID of the LogoutRequest awaited
}

func (p *IdP) newChain(identity string, init *sloInitiator) *sloChain {
	return &sloChain{ID: authflow.RandomHex(16), Deadline: p.now().Add(sloDeadline).UnixMilli(), Identity: identity, Init: init, Cur: -1}
}

func (c *sloChain) expired(now time.Time) bool { return !now.Before(time.UnixMilli(c.Deadline)) }

// chainCodecs seal the chain cookie with keys derived from the cookie
// key(s): the first seals, all open, so the key can rotate.
func (p *IdP) newChainCodecs() []securecookie.Codec {
	out := make([]securecookie.Codec, 0, len(p.o.CookieKeys))
	for _, k := range p.o.CookieKeys {
		sc := securecookie.New(authflow.Derive(k, "slo-mac"), authflow.Derive(k, "slo-enc"))
		sc.MaxAge(int((sloDeadline + sloRecordGrace) / time.Second))
		sc.MaxLength(2 * maxChainCookie)
		sc.SetSerializer(securecookie.JSONEncoder{})
		out = append(out, sc)
	}
	return out
}

func (p *IdP) saveChain(w http.ResponseWriter, c *sloChain) error {
	v, err := securecookie.EncodeMulti(sloCookie, c, p.chains[0])
	if err != nil {
		return fmt.Errorf("idp: sealing logout chain: %w", err)
	}
	if len(v) > maxChainCookie {
		return fmt.Errorf("idp: logout chain of %d SPs does not fit a cookie (%d bytes)", len(c.SPs), len(v))
	}
	name, secure, sameSite := p.flow.CookieAttrs(sloCookie)
	http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: sloCookiePath, HttpOnly: true,
		Secure: secure, SameSite: sameSite, MaxAge: int((sloDeadline + sloRecordGrace) / time.Second)})
	return nil
}

// openChain returns the browser's chain in progress; a missing, tampered
// or malformed cookie is no chain.
func (p *IdP) openChain(r *http.Request) (*sloChain, bool) {
	name, _, _ := p.flow.CookieAttrs(sloCookie)
	ck, err := r.Cookie(name)
	if err != nil {
		return nil, false
	}
	var c sloChain
	if err := securecookie.DecodeMulti(sloCookie, ck.Value, &c, p.chains...); err != nil {
		return nil, false
	}
	if c.ID == "" || len(c.St) != len(c.SPs) || c.Cur >= len(c.SPs) || c.Cur < -1 {
		return nil, false
	}
	return &c, true
}

func (p *IdP) clearChain(w http.ResponseWriter) {
	name, secure, _ := p.flow.CookieAttrs(sloCookie)
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: sloCookiePath, HttpOnly: true, Secure: secure, MaxAge: -1})
}

// startChain begins propagating to parts (the initiator excluded).
func (p *IdP) startChain(w http.ResponseWriter, r *http.Request, c *sloChain, parts []storage.SessionParticipant) {
	if len(parts) == 0 {
		p.finishChain(w, r, c)
		return
	}
	now := p.now()
	rec := storage.Session{ID: sloRecordPrefix + c.ID, IdentityID: c.Identity, Level: 0, CreatedAt: now,
		ExpiresAt: time.UnixMilli(c.Deadline).Add(sloRecordGrace), Participants: parts}
	st := make([]byte, len(parts))
	for i, part := range parts {
		c.SPs = append(c.SPs, part.SPEntityID)
		st[i] = partPending
	}
	c.St = string(st)
	if err := p.o.Eph.CreateSession(r.Context(), rec); err != nil {
		// The IdP session is closed already: report the others as not
		// reached rather than leave the initiator without an answer.
		p.o.Log.ErrorContext(r.Context(), "storing logout chain", "err", err)
		p.finishChain(w, r, c)
		return
	}
	p.nextHop(w, r, c, parts)
}

// participants reads the chain's record; nil when it is gone.
func (p *IdP) participants(r *http.Request, c *sloChain) []storage.SessionParticipant {
	rec, err := p.o.Eph.GetSession(r.Context(), sloRecordPrefix+c.ID)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			p.o.Log.ErrorContext(r.Context(), "reading logout chain", "err", err)
		}
		return nil
	}
	if len(rec.Participants) != len(c.SPs) {
		return nil
	}
	return rec.Participants
}

// nextHop sends the next pending participant its LogoutRequest, skipping
// (as failed) those we cannot reach, and finishes the chain when none is
// left or the deadline has passed.
func (p *IdP) nextHop(w http.ResponseWriter, r *http.Request, c *sloChain, parts []storage.SessionParticipant) {
	ctx := r.Context()
	st := []byte(c.St)
	for i := range st {
		if st[i] != partPending {
			continue
		}
		if parts == nil || c.expired(p.now()) {
			break
		}
		part := parts[i]
		sp, err := p.o.SPs.LookupSP(ctx, part.SPEntityID)
		if err != nil || sp == nil {
			p.o.Log.WarnContext(ctx, "logout: SP no longer trusted, skipped", "sp", part.SPEntityID, "err", err)
			st[i] = partFailed
			continue
		}
		ep, ok := sloEndpoint(sp, spid.BindingRedirect)
		if !ok {
			p.o.Log.WarnContext(ctx, "logout: SP has no usable SingleLogoutService", "sp", sp.EntityID)
			st[i] = partFailed
			continue
		}
		id, err := p.o.Builder.MessageID()
		var xml []byte
		if err == nil {
			xml, err = p.o.Builder.LogoutRequest(response.LogoutRequest{ID: id, Destination: ep.Location,
				NameID: part.NameID, SessionIndex: part.SessionIndex, Reason: logoutReasonUser,
				Unsigned: ep.Binding == spid.BindingRedirect})
		}
		if err != nil {
			p.o.Log.ErrorContext(ctx, "logout: building LogoutRequest", "sp", sp.EntityID, "err", err)
			st[i] = partFailed
			continue
		}
		st[i], c.Cur, c.Out = partSent, i, id
		c.St = string(st)
		if err := p.saveChain(w, c); err != nil {
			p.o.Log.ErrorContext(ctx, "logout: saving chain", "err", err)
			st[i], c.Cur, c.Out = partFailed, -1, ""
			break
		}
		p.o.Log.InfoContext(ctx, "logout: LogoutRequest sent", "sp", sp.EntityID, "request_id", id, "chain", c.ID)
		p.sentQueued(ctx, register.KindLogoutRequest, ep.Binding, sp.EntityID, id, xml)
		p.deliver(w, r, sp, ep.Binding, ep.Location, binding.ParamRequest, xml, "")
		return
	}
	c.St = string(st)
	p.finishChain(w, r, c)
}

// sloResponse settles the LogoutRequest the chain awaits with the SP's
// answer (res, or the reason it was refused) and moves on. Whatever is
// wrong with the answer, the SP counts as not having confirmed and the walk
// goes on: the browser is back with us, and stopping here would strand the
// other SPs and the initiator.
func (p *IdP) sloResponse(w http.ResponseWriter, r *http.Request, res *logoutmsg.Response, refused *logoutmsg.Error) {
	ctx := r.Context()
	if res != nil {
		p.received(ctx, register.KindLogoutResponse, res.Binding, res.SP.EntityID, res.InResponseTo, res.ID, res.XML)
	}
	c, ok := p.openChain(r)
	if !ok || c.Cur < 0 || c.Out == "" {
		p.o.Log.InfoContext(ctx, "LogoutResponse outside a logout in progress")
		p.record(ctx, "slo.propagate", "", audit.Denied, map[string]string{"reason": "no logout in progress"})
		p.fail(w, r, templates.ReasonFlowExpired)
		return
	}
	st := []byte(c.St)
	sp := c.SPs[c.Cur]
	switch {
	case c.expired(p.now()):
		p.o.Log.InfoContext(ctx, "logout: answer after the chain deadline", "sp", sp, "chain", c.ID)
		st[c.Cur] = partFailed
	case refused != nil || res == nil:
		p.o.Log.InfoContext(ctx, "logout: LogoutResponse refused", "sp", sp, "chain", c.ID, "err", refused)
		st[c.Cur] = partFailed
	case res.SP.EntityID != sp:
		p.o.Log.InfoContext(ctx, "logout: LogoutResponse from another SP", "sp", sp, "from", res.SP.EntityID, "chain", c.ID)
		st[c.Cur] = partFailed
	case subtle.ConstantTimeCompare([]byte(res.InResponseTo), []byte(c.Out)) != 1:
		p.o.Log.InfoContext(ctx, "logout: LogoutResponse answers another request", "sp", sp, "in_response_to", res.InResponseTo, "chain", c.ID)
		st[c.Cur] = partFailed
	case res.Success():
		st[c.Cur] = partOK
	default:
		p.o.Log.InfoContext(ctx, "logout: SP did not log out", "sp", sp, "status", statusText(res.Status, res.SubStatus))
		st[c.Cur] = partFailed
	}
	c.St, c.Cur, c.Out = string(st), -1, ""
	p.nextHop(w, r, c, p.participants(r, c))
}

// resumeChain continues a chain whose awaited SP sent the browser back
// without an answer: that SP did not confirm.
func (p *IdP) resumeChain(w http.ResponseWriter, r *http.Request, c *sloChain) {
	if c.Cur >= 0 {
		st := []byte(c.St)
		st[c.Cur] = partFailed
		c.St, c.Cur, c.Out = string(st), -1, ""
	}
	p.o.Log.InfoContext(r.Context(), "logout: chain resumed without an answer", "chain", c.ID)
	p.nextHop(w, r, c, p.participants(r, c))
}

// finishChain counts whatever is not confirmed as failed, records the
// outcome and answers the initiator: the SP's LogoutResponse (Success only
// if every other SP confirmed, else Requester + PartialLogout, spec §6.4),
// or the citizen's logout page.
func (p *IdP) finishChain(w http.ResponseWriter, r *http.Request, c *sloChain) {
	ctx := r.Context()
	st := []byte(c.St)
	partial := false
	var confirmed, failed []string
	for i := range st {
		if st[i] != partOK {
			st[i], partial = partFailed, true
			failed = append(failed, c.SPs[i])
		} else {
			confirmed = append(confirmed, c.SPs[i])
		}
	}
	c.St = string(st)
	if len(c.SPs) > 0 {
		if err := p.o.Eph.DeleteSession(ctx, sloRecordPrefix+c.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.o.Log.WarnContext(ctx, "deleting logout chain", "err", err)
		}
	}
	p.clearChain(w)

	outcome, actor, action, target := audit.Success, c.Identity, "slo.idp.done", ""
	if partial {
		outcome = audit.Failure
	}
	if actor == "" {
		actor = "anonymous"
	}
	if c.Init != nil {
		action, target = "slo.response", c.Init.SP
	}
	details := map[string]string{"chain": c.ID, "confirmed": strings.Join(confirmed, " "), "not_confirmed": strings.Join(failed, " ")}
	if c.Init != nil {
		details["in_response_to"] = c.Init.RequestID
	}
	if err := p.o.Audit.Record(ctx, authflow.Event(actor, action, target, outcome, details)); err != nil {
		// The logout itself has happened; losing its record must not hide
		// the outcome from the citizen or the SP.
		p.o.Log.ErrorContext(ctx, "audit of logout outcome", "err", err)
	}

	results := make([]templates.LogoutResult, len(c.SPs))
	for i, e := range c.SPs {
		name := e
		if sp, err := p.o.SPs.LookupSP(ctx, e); err == nil && sp != nil {
			name = authflow.SPName(sp, templates.Lang(r))
		}
		results[i] = templates.LogoutResult{SPName: name, OK: st[i] == partOK}
	}
	if c.Init == nil {
		p.render(w, r, http.StatusOK, templates.PageLogout, templates.LogoutPage{Results: results})
		return
	}
	sp, err := p.o.SPs.LookupSP(ctx, c.Init.SP)
	if err != nil || sp == nil {
		p.o.Log.WarnContext(ctx, "logout: initiating SP no longer trusted", "sp", c.Init.SP, "err", err)
		p.render(w, r, http.StatusOK, templates.PageLogout, templates.LogoutPage{Results: results})
		return
	}
	top, sub := spid.StatusSuccess, ""
	if partial {
		top, sub = spid.StatusRequester, spid.StatusPartialLogout
	}
	p.answerLogout(w, r, sp, c.Init.Binding, c.Init.RequestID, c.Init.RelayState, top, sub, results)
}
