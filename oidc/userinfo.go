package oidc

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/register"
)

func spidLevel(l int) spid.Level { return spid.Level(l) }

// userinfo is the userinfo endpoint (spec §5): GET with a Bearer access
// token; the claims signed by us, then encrypted for the client.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSONError(w, http.StatusMethodNotAllowed, ErrInvalidRequest)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		p.invalidToken(w)
		return
	}
	v, err := federation.Verify(strings.TrimSpace(tok), p.publicCoreKeys())
	if err != nil || v.Typ != "at+jwt" {
		p.invalidToken(w)
		return
	}
	var c struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
		JTI string `json:"jti"`
	}
	if json.Unmarshal(v.Payload, &c) != nil || c.Iss != p.o.Issuer || !p.now().Before(time.Unix(c.Exp, 0)) || c.JTI == "" {
		p.invalidToken(w)
		return
	}
	// Revocation removes the record: a signature alone is not enough.
	b, _, err := p.o.Eph.GetValue(ctx, "oidc:at:"+c.JTI)
	if err != nil {
		p.invalidToken(w)
		return
	}
	var rec accessRecord
	if json.Unmarshal(b, &rec) != nil {
		p.invalidToken(w)
		return
	}
	if ended, err := p.ssoEnded(ctx, rec.SSO); err != nil {
		p.o.Log.ErrorContext(ctx, "userinfo", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, ErrTemporarilyUnavailable)
		return
	} else if ended {
		p.invalidToken(w) // logged out with its SSO session
		return
	}
	cl, fe := p.client(ctx, rec.ClientID)
	if fe != nil {
		p.o.Log.WarnContext(ctx, "client of an access token no longer trusted", "client", rec.ClientID, "err", fe)
		p.invalidToken(w)
		return
	}
	id, err := p.o.Store.GetIdentity(ctx, rec.Identity)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "identity of an access token", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, ErrTemporarilyUnavailable)
		return
	}
	claims, err := Claims(id, rec.Claims)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "claims of identity", "identity", id.ID, "err", err)
		writeJSONError(w, http.StatusInternalServerError, ErrServerError)
		return
	}
	now := p.now().Unix()
	claims["iss"], claims["aud"], claims["sub"] = p.o.Issuer, cl.ID, rec.Sub
	claims["iat"], claims["nbf"], claims["exp"], claims["jti"] = now, now, now+int64(UserinfoLifetime/time.Second), uuid.NewString()
	key := p.o.CoreKeys[0]
	key.Alg = cl.UserinfoSigAlg
	inner, err := key.Sign("", claims)
	signedClaims := inner
	if err == nil {
		inner, err = encrypt(inner, cl)
	}
	if err != nil {
		p.o.Log.ErrorContext(ctx, "userinfo", "err", err)
		writeJSONError(w, http.StatusInternalServerError, ErrServerError)
		return
	}
	p.audit(ctx, rec.Identity, "oidc.userinfo", cl.ID, audit.Success, map[string]string{"access_token_jti": c.JTI})
	// The claims released, as signed (the JWE is for the client's key).
	p.record(ctx, register.Entry{Kind: KindUserinfoResponse, Direction: register.Sent, Binding: bindingBack,
		SP: cl.ID, RequestID: rec.Handle, MessageID: c.JTI, Message: []byte(signedClaims)})
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(inner))
}

// encrypt wraps a JWS in a JWE for the client's encryption key, with the
// client's algorithms and cty JWT (spec §5).
func encrypt(jws string, cl *Client) (string, error) {
	enc, err := jose.NewEncrypter(cl.UserinfoEncEnc,
		jose.Recipient{Algorithm: cl.UserinfoEncAlg, Key: cl.EncKey.Key, KeyID: cl.EncKey.KeyID},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt([]byte(jws))
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func (p *Provider) invalidToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSONError(w, http.StatusUnauthorized, ErrInvalidToken)
}
