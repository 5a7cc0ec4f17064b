package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/server/requestctx"
)

// The OP's messages in the transaction register (spec §10, TR-log_management;
// saml-profile.md §7.5 for the register itself), sealed like the SAML ones.
// Kinds carry the protocol ("oidc."), SP is the client_id and RequestID the
// authorization's handle, shared by every message of one login and of the
// long revocable session it opened: `register search --spid-code` finds
// the authorization response by the citizen's spidCode and, through
// client and handle, the rest. Live secrets never enter it: refresh tokens
// and PKCE verifiers are replaced by their SHA-256, and token responses are
// kept as metadata (jti, exp, claims of the ID token, hashes).
const (
	KindAuthorizationRequest  = "oidc.AuthorizationRequest"
	KindAuthorizationResponse = "oidc.AuthorizationResponse"
	KindTokenRequest          = "oidc.TokenRequest"
	KindTokenResponse         = "oidc.TokenResponse"
	KindUserinfoResponse      = "oidc.UserinfoResponse"
	KindRevocationRequest     = "oidc.RevocationRequest"
	// KindAuthorizationErrorPage is the error page shown instead of a
	// redirect (spec §3.4): error code and reason.
	KindAuthorizationErrorPage = "oidc.AuthorizationErrorPage"
)

// Bounds of what a refused, possibly anonymous, request leaves in the
// register: nobody fills it with junk sent to the authorization endpoint.
const (
	maxRegisteredClientID = 1024
	maxRegisteredForm     = maxRequestObject + 8<<10
)

// Bindings of the OP's messages.
const (
	bindingFront = "oidc:front-channel"
	bindingBack  = "oidc:back-channel"
)

// record queues e for the register; like the SAML side's incoming
// messages it is not waited for. Nothing happens without a register.
func (p *Provider) record(ctx context.Context, e register.Entry) {
	if p.o.Register == nil {
		return
	}
	e.Time = p.now()
	e.ClientIP = requestctx.ClientIP(ctx)
	if err := p.o.Register.Enqueue(ctx, e); err != nil {
		p.o.Log.ErrorContext(ctx, "transaction register: OIDC message not recorded", "kind", e.Kind, "err", err)
	}
}

// boundedForm is formOf(v), or its size and SHA-256 when larger than any
// valid authorization request.
func boundedForm(v url.Values) []byte {
	b := formOf(v)
	if len(b) <= maxRegisteredForm {
		return b
	}
	sum := sha256.Sum256(b)
	return []byte(url.Values{"bytes": {strconv.Itoa(len(b))}, "sha256": {hex.EncodeToString(sum[:])}, "truncated": {"true"}}.Encode())
}

// redactForm is a back-channel request as received, with what could still
// be used replaced by its hash.
func redactForm(v url.Values) []byte {
	out := url.Values{}
	for k, vs := range v {
		for _, x := range vs {
			switch k {
			case "refresh_token", "code_verifier", "token":
				x = "sha256:" + tokenHash(x)
			}
			out.Add(k, x)
		}
	}
	return []byte(out.Encode())
}

// tokenMetadata describes a token response without its bearer tokens.
func tokenMetadata(t signed, rec accessRecord, accessJTI, refresh string, idClaims map[string]any) []byte {
	m := map[string]any{
		"token_type": "Bearer", "expires_in": int(AccessTokenLifetime.Seconds()),
		"access_token": map[string]any{"jti": accessJTI, "sha256": tokenHash(t.access), "scope": strings.Join(rec.Scope, " "), "sub": rec.Sub},
		"id_token":     idClaims,
	}
	if refresh != "" {
		m["refresh_token"] = map[string]any{"sha256": tokenHash(refresh), "long_session": rec.Session}
	}
	b, _ := json.Marshal(m)
	return b
}

// formOf is the parameters of a front-channel answer, sorted.
func formOf(v url.Values) []byte {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := url.Values{}
	for _, k := range keys {
		out[k] = v[k]
	}
	return []byte(out.Encode())
}
