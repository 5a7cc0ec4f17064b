package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/storage"
)

// ClientAssertionType is the only client assertion type (spec §0).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// accessRecord is what an access token stands for; it lives in the shared
// cache as long as the token, and revoking removes it.
type accessRecord struct {
	// grants makes the ID Token's tokens claim (aa.go); never stored.
	grants   func(idJTI string) []any
	ClientID string   `json:"c"`
	Identity string   `json:"i"`
	Sub      string   `json:"s"`
	Claims   []string `json:"cl"`
	Scope    []string `json:"sc"`
	Exp      int64    `json:"e"`
	// Session is the long revocable session the token belongs to ("" for
	// none) and SSO the IdP session the login came from ("" for none):
	// revoking the token ends both (spec §7).
	Session string `json:"ls,omitempty"`
	SSO     string `json:"sso,omitempty"`
	// Handle names the authorization in the register.
	Handle string `json:"h,omitempty"`
}

// authenticateClient applies spec §4.1 for the endpoint at aud. It answers
// the error itself, with fail, and returns nil on failure.
func (p *Provider) authenticateClient(w http.ResponseWriter, r *http.Request, aud string, fail func(http.ResponseWriter, string)) *Client {
	ctx := r.Context()
	id := r.PostForm.Get("client_id")
	if id == "" {
		fail(w, ErrInvalidRequest)
		return nil
	}
	cl, fe := p.client(ctx, id)
	if fe != nil {
		p.o.Log.InfoContext(ctx, "client not trusted", "client", id, "err", fe)
		if fe.Code == federation.CodeTemporarilyUnavailable {
			fail(w, ErrTemporarilyUnavailable)
		} else {
			fail(w, ErrInvalidClient)
		}
		return nil
	}
	reason := p.checkAssertion(r, cl, aud)
	if reason != "" {
		p.o.Log.InfoContext(ctx, "client assertion refused", "client", id, "reason", reason)
		p.audit(ctx, id, "oidc.client_auth", aud, audit.Denied, map[string]string{"reason": reason})
		fail(w, ErrInvalidClient)
		return nil
	}
	return cl
}

// checkAssertion returns why the client assertion fails, "" when it holds.
func (p *Provider) checkAssertion(r *http.Request, cl *Client, aud string) string {
	if r.PostForm.Get("client_assertion_type") != ClientAssertionType {
		return "client_assertion_type missing or wrong"
	}
	a := r.PostForm.Get("client_assertion")
	if a == "" {
		return "client_assertion missing"
	}
	v, err := federation.Verify(a, cl.SigKeys)
	if err != nil {
		if fresh := p.refreshClient(r.Context(), cl.ID); fresh != nil {
			v, err = federation.Verify(a, fresh.SigKeys)
		}
	}
	if err != nil {
		return "signature: " + err.Error()
	}
	if v.Alg != "RS256" && v.Alg != "RS512" {
		return "algorithm " + v.Alg + " not allowed"
	}
	var c map[string]any
	if json.Unmarshal(v.Payload, &c) != nil {
		return "payload not a JSON object"
	}
	if s, _ := c["iss"].(string); s != cl.ID {
		return "iss differs from client_id"
	}
	if s, _ := c["sub"].(string); s != cl.ID {
		return "sub differs from iss"
	}
	if !audHas(c["aud"], aud) {
		return "aud does not name this endpoint"
	}
	now := p.now()
	iat, ok := numeric(c["iat"])
	if !ok || time.Unix(iat, 0).After(now.Add(federation.Skew)) {
		return "iat missing, not a number or in the future"
	}
	exp, ok := numeric(c["exp"])
	if !ok || !now.Before(time.Unix(exp, 0)) {
		return "exp missing, not a number or past"
	}
	jti, _ := c["jti"].(string)
	if len(jti) < 16 {
		return "jti missing or shorter than 16 characters"
	}
	err = p.o.Eph.InsertRequestID(r.Context(), "oidc:ca:"+cl.ID+":"+jti, time.Unix(exp, 0))
	if errors.Is(err, storage.ErrAlreadyExists) {
		return "jti replayed"
	} else if err != nil {
		return "replay cache: " + err.Error()
	}
	return ""
}

// token is the token endpoint (spec §4), checks in the order of §4.2.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, ErrInvalidRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, ErrInvalidRequest)
		return
	}
	cl := p.authenticateClient(w, r, p.endpoint(PathToken), writeTokenError)
	if cl == nil {
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "":
		writeTokenError(w, ErrInvalidRequest)
	case "authorization_code":
		p.codeGrant(w, r, cl)
	case "refresh_token":
		p.refreshGrant(w, r, cl)
	default:
		writeTokenError(w, ErrUnsupportedGrantType)
	}
}

func (p *Provider) codeGrant(w http.ResponseWriter, r *http.Request, cl *Client) {
	ctx := r.Context()
	code, verifier, redirect := r.PostForm.Get("code"), r.PostForm.Get("code_verifier"), r.PostForm.Get("redirect_uri")
	if code == "" || verifier == "" || redirect == "" {
		writeTokenError(w, ErrInvalidRequest)
		return
	}
	if _, err := uuid.Parse(code); err != nil {
		writeTokenError(w, ErrInvalidGrant)
		return
	}
	// Mark the code used in one step: of two concurrent exchanges one
	// wins; a later one finds it used and revokes what the first got.
	var g codeGrant
	reused := false
	err := p.o.Eph.UpdateValue(ctx, "oidc:code:"+code, func(b []byte) ([]byte, error) {
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, err
		}
		if g.Used {
			reused = true
			return b, nil
		}
		g.Used = true
		if g.AccessJTI == "" { // set with the code when it joined an SSO session
			g.AccessJTI = uuid.NewString()
		}
		if g.Offline {
			// Named now so that a reuse of the code finds it (O036); the
			// authorization's handle, so the register ties them together.
			g.SessionID = g.Req.Handle
			if g.SessionID == "" {
				g.SessionID = uuid.NewString()
			}
		}
		return json.Marshal(g)
	})
	if errors.Is(err, storage.ErrNotFound) {
		writeTokenError(w, ErrInvalidGrant)
		return
	}
	if err != nil {
		p.o.Log.ErrorContext(ctx, "authorization code", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	if reused {
		// RFC 6749 §4.1.2: what the code already gave is revoked.
		_ = p.o.Eph.DeleteValue(ctx, "oidc:at:"+g.AccessJTI)
		if g.SessionID != "" {
			if _, err := p.o.Store.RevokeOIDCSession(ctx, g.SessionID, p.now(), storage.OIDCRevokedReuse); err != nil && !errors.Is(err, storage.ErrNotFound) {
				p.o.Log.ErrorContext(ctx, "revoking the long session of a reused code", "err", err)
			}
		}
		p.audit(ctx, g.Identity, "oidc.token", cl.ID, audit.Denied, map[string]string{"reason": "authorization code reused; its tokens revoked"})
		writeTokenError(w, ErrInvalidGrant)
		return
	}
	ended, err := p.ssoEnded(ctx, g.SSOSession)
	if err != nil {
		p.o.Log.ErrorContext(ctx, "authorization code", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	switch {
	case ended: // its SSO session was logged out after the code was issued
		writeTokenError(w, ErrInvalidGrant)
		return
	case g.Req.ClientID != cl.ID:
		writeTokenError(w, ErrInvalidGrant)
		return
	case !pkceMatches(verifier, g.Req.CodeChallenge):
		writeTokenError(w, ErrInvalidGrant)
		return
	case redirect != g.Req.RedirectURI:
		writeTokenError(w, ErrInvalidGrant)
		return
	}
	p.issue(w, r, cl, g)
}

// pkceMatches: BASE64URL(SHA256(verifier)) = challenge, verifier 43–128
// unreserved characters (RFC 7636).
func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !(base64url(string(c)) || c == '.' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// issue signs the access and ID tokens of a code grant (spec §4.4), and
// opens a long revocable session with its first refresh token when the
// grant allows one (§4.3).
func (p *Provider) issue(w http.ResponseWriter, r *http.Request, cl *Client, g codeGrant) {
	ctx := r.Context()
	now := p.now()
	sub := p.pairwise(cl.ID, g.Identity)
	acr := acrOf(spidLevel(g.Level))
	rec := accessRecord{ClientID: cl.ID, Identity: g.Identity, Sub: sub, Claims: g.Req.Claims, Scope: g.Req.Scope,
		SSO: g.SSOSession, Handle: g.Req.Handle}
	rec.grants = p.grantTokens(ctx, cl, g, acr)
	var refresh string
	if g.SessionID != "" {
		rec.Session = g.SessionID
		rt, err := p.openLongSession(ctx, cl, g, sub, now)
		if err != nil {
			p.o.Log.ErrorContext(ctx, "opening a long revocable session", "err", err)
			writeTokenError(w, ErrTemporarilyUnavailable)
			return
		}
		refresh = rt
	}
	t, err := p.signTokens(cl, rec, g.AccessJTI, g.Req.Nonce, acr, now, now.Add(IDTokenLifetime))
	if err != nil {
		p.o.Log.ErrorContext(ctx, "signing tokens", "err", err)
		writeTokenError(w, ErrServerError)
		return
	}
	if err := p.storeAccess(ctx, g.AccessJTI, rec, now); err != nil {
		p.o.Log.ErrorContext(ctx, "storing access token", "err", err)
		writeTokenError(w, ErrTemporarilyUnavailable)
		return
	}
	details := map[string]string{"access_token_jti": g.AccessJTI, "id_token_jti": t.idJTI, "level": acr}
	if g.SessionID != "" {
		details["long_session"] = g.SessionID
	}
	p.audit(ctx, g.Identity, "oidc.token", cl.ID, audit.Success, details)
	p.tokenResponse(w, t, refresh)
	p.recordToken(ctx, r, cl, rec, t, g.AccessJTI, refresh)
}

// recordToken puts a token exchange in the register: the request with its
// secrets hashed, the response as metadata.
func (p *Provider) recordToken(ctx context.Context, r *http.Request, cl *Client, rec accessRecord, t signed, accessJTI, refresh string) {
	p.record(ctx, register.Entry{Kind: KindTokenRequest, Direction: register.Received, Binding: bindingBack,
		SP: cl.ID, RequestID: rec.Handle, MessageID: r.PostForm.Get("grant_type"), Message: redactForm(r.PostForm)})
	p.record(ctx, register.Entry{Kind: KindTokenResponse, Direction: register.Sent, Binding: bindingBack,
		SP: cl.ID, RequestID: rec.Handle, MessageID: accessJTI, Message: tokenMetadata(t, rec, accessJTI, refresh, t.idClaims)})
}

// signed are the tokens of one token response.
type signed struct {
	access, id, idJTI string
	idClaims          map[string]any
}

// signTokens signs an access token (jti accessJTI) and an ID token for rec
// with the current core key (F014); the ID token expires at idExp.
func (p *Provider) signTokens(cl *Client, rec accessRecord, accessJTI, nonce, acr string, now, idExp time.Time) (signed, error) {
	iat := now.Unix()
	key := p.o.CoreKeys[0]
	at, err := key.Sign("at+jwt", map[string]any{
		"iss": p.o.Issuer, "sub": rec.Sub, "aud": cl.ID, "client_id": cl.ID, "scope": strings.Join(rec.Scope, " "),
		"iat": iat, "exp": iat + int64(AccessTokenLifetime/time.Second), "jti": accessJTI, "nonce": nonce,
	})
	if err != nil {
		return signed{}, fmt.Errorf("access token: %w", err)
	}
	idKey := key
	idKey.Alg = cl.IDTokenAlg
	idJTI := uuid.NewString()
	idClaims := map[string]any{
		"iss": p.o.Issuer, "sub": rec.Sub, "aud": cl.ID, "acr": acr, "at_hash": atHash(at, cl.IDTokenAlg),
		"iat": iat, "nbf": iat, "exp": idExp.Unix(), "jti": idJTI, "nonce": nonce,
	}
	if rec.grants != nil {
		if toks := rec.grants(idJTI); len(toks) > 0 {
			idClaims["tokens"] = toks
		}
	}
	idt, err := idKey.Sign("", idClaims)
	if err != nil {
		return signed{}, fmt.Errorf("ID token: %w", err)
	}
	return signed{access: at, id: idt, idJTI: idJTI, idClaims: idClaims}, nil
}

// storeAccess keeps what an access token stands for as long as it lives;
// userinfo and introspection find it there, revocation removes it.
func (p *Provider) storeAccess(ctx context.Context, jti string, rec accessRecord, now time.Time) error {
	rec.Exp = now.Add(AccessTokenLifetime).Unix()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return p.o.Eph.CreateValue(ctx, "oidc:at:"+jti, b, now.Add(AccessTokenLifetime))
}

// tokenResponse writes a successful token response (O054, O055).
func (p *Provider) tokenResponse(w http.ResponseWriter, t signed, refresh string) {
	body := map[string]any{"access_token": t.access, "token_type": "Bearer",
		"expires_in": int(AccessTokenLifetime / time.Second), "id_token": t.id}
	if refresh != "" {
		body["refresh_token"] = refresh
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(body)
}

// atHash is the left half of the token's hash for alg (OIDC Core 3.1.3.6).
func atHash(token string, alg jose.SignatureAlgorithm) string {
	var h hash.Hash = sha256.New()
	if alg == jose.RS512 || alg == jose.PS512 || alg == jose.ES512 {
		h = sha512.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
