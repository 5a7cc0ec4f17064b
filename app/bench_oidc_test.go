package app

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/webform"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
)

// BenchmarkOIDCCodeFlowFloor measures the OpenID Connect code flow end to
// end through the real HTTP server against its floor, in one run:
//
//   - flow/s: a SpidL1 authorization by a demo relying party that reuses
//     the citizen's SSO session (signed request object GET → consent page
//     → consent POST → code), the code exchanged at the token endpoint
//     (private_key_jwt), then userinfo fetched, decrypted and verified.
//   - floor/s: the same flow's public-key work alone, with 2048-bit keys
//     as the demo's: the request object and the client assertion signed
//     and verified, the ID and access tokens signed, the access token
//     verified at userinfo, the userinfo JWS signed and encrypted
//     (RSA-OAEP, A256CBC-HS512), decrypted and verified by the RP, and the
//     ID token verified — six private-key and seven public-key operations.
//   - ratio: flow/s over floor/s, the share of the flow's time that is
//     unavoidable cryptography (1 would be a flow costing nothing else).
//   - load1: the one-minute load average when the run started.
//
// Both alternate in windows of the same length and concurrency
// (SPID_BENCH_ROUNDS rounds of SPID_BENCH_WINDOW, default 3 × 2s, 2
// users), so what else the machine runs weighs on both alike. The
// password login that opens each user's SSO session happens before the
// windows, so argon2 is not measured here (BenchmarkFloor measures it).
// Run it with: make bench BENCH=OIDCCodeFlowFloor PKGS=./app/
func BenchmarkOIDCCodeFlowFloor(b *testing.B) {
	a, ts, info := startApp(b, appOpts{Configure: func(cfg *config.Config) {
		cfg.Security.Hashing.MaxWait = time.Minute
		cfg.Server.RequestTimeout = time.Minute
	}})
	rounds := envInt("SPID_BENCH_ROUNDS", 3)
	window := envDuration("SPID_BENCH_WINDOW", 2*time.Second)
	const users = 2
	b.ReportMetric(loadAverage(), "load1")

	of := &oidcFlow{a: a, rp: a.demoFed.RP1, info: info}
	if err := of.fetchKeys(); err != nil {
		b.Fatal(err)
	}
	// Each user's SpidL1 session is opened by a password login at the demo
	// SP (any SpidL1 session serves both protocols), then proven by one
	// OIDC flow that must reuse it.
	lg := &loadGen{a: a, base: ts.URL, info: info}
	clients := make([]*http.Client, users)
	for i := range clients {
		clients[i] = of.client()
		if err := lg.login(&loadClient{c: clients[i]}, true); err != nil {
			b.Fatalf("opening the SSO session: %v", err)
		}
		if err := of.run(clients[i], false); err != nil {
			b.Fatalf("first flow: %v", err)
		}
	}
	fl, err := newOIDCFloor()
	if err != nil {
		b.Fatal(err)
	}
	var flowRate, floorRate rate
	for range rounds {
		r := closedLoop(users, window, func(w int) error { return of.run(clients[w], false) })
		if r.err != nil {
			b.Fatal(r.err)
		}
		flowRate.add(r)
		if r = closedLoop(users, window, func(int) error { return fl.once() }); r.err != nil {
			b.Fatal(r.err)
		}
		floorRate.add(r)
	}
	b.ReportMetric(flowRate.perSecond(), "flow/s")
	b.ReportMetric(floorRate.perSecond(), "floor/s")
	b.ReportMetric(flowRate.perSecond()/floorRate.perSecond(), "ratio")
}

// oidcFlow drives the demo relying party through the OP as a browser and
// the RP's back end would, returning errors instead of failing (it runs
// on worker goroutines).
type oidcFlow struct {
	a    *App
	rp   *fedtest.RP
	info DemoInfo
	keys jose.JSONWebKeySet
}

func (f *oidcFlow) fetchKeys() error {
	res, err := http.Get(f.a.Config.OIDC.Issuer + federation.WellKnownPath)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	f.keys, _, err = fedtest.OPKeys(string(body))
	return err
}

// client is a browser with its own cookies that stops at the RP callback.
func (f *oidcFlow) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: loadTransport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), f.rp.RedirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func readPage(res *http.Response, err error) (*http.Response, string, error) {
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// submitForm posts the hidden fields of the form whose action contains
// action, plus extra.
func submitForm(c *http.Client, pageURL *url.URL, body, action string, extra url.Values) (*http.Response, string, error) {
	f, err := webform.Find(pageURL, body, action, extra)
	if err != nil {
		return nil, "", err
	}
	return readPage(c.PostForm(f.Action.String(), f.Values))
}

// run is one code flow; login asks for the password (prompt consent
// login), otherwise the SpidL1 session is reused (prompt consent).
func (f *oidcFlow) run(c *http.Client, login bool) error {
	issuer := f.a.Config.OIDC.Issuer
	ro, pend := f.rp.Request(issuer, []string{testAcrL1}, testClaims)
	if !login {
		ro["prompt"] = "consent"
	}
	signed, err := f.rp.SignRequest(ro)
	if err != nil {
		return err
	}
	res, body, err := readPage(c.Get(fedtest.AuthorizationURL(issuer+"/authorization", ro, signed)))
	if err != nil {
		return err
	}
	if login {
		if res, body, err = submitForm(c, res.Request.URL, body, "/login", url.Values{"username": {f.info.Username}, "password": {f.info.Password}, "op": {"submit"}}); err != nil {
			return err
		}
	} else if strings.Contains(body, `name="password"`) {
		return errors.New("the SpidL1 session was not reused: the OP asks for the password")
	}
	res, _, err = submitForm(c, res.Request.URL, body, "/consent", url.Values{"op": {"accept"}})
	if err != nil {
		return err
	}
	loc, err := res.Location()
	if err != nil {
		return fmt.Errorf("consent answered %d without a redirect", res.StatusCode)
	}
	code := loc.Query().Get("code")
	if code == "" {
		return fmt.Errorf("no code: %s", loc)
	}
	form, err := f.rp.TokenForm(issuer+"/token", code, pend)
	if err != nil {
		return err
	}
	tres, tbody, err := readPage(c.PostForm(issuer+"/token", form))
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if tres.StatusCode != 200 || json.Unmarshal([]byte(tbody), &tok) != nil {
		return fmt.Errorf("token: %d %s", tres.StatusCode, tbody)
	}
	req, _ := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	ures, ubody, err := readPage(c.Do(req))
	if err != nil {
		return err
	}
	if ures.StatusCode != 200 {
		return fmt.Errorf("userinfo: %d %s", ures.StatusCode, ubody)
	}
	claims, err := f.rp.OpenUserinfo(ubody, f.keys)
	if err != nil {
		return err
	}
	if claims["given_name"] == nil {
		return fmt.Errorf("userinfo without given_name: %v", claims)
	}
	return nil
}

// oidcFloor is the flow's public-key work alone.
type oidcFloor struct {
	op, rpSig, rpEnc   *rsa.PrivateKey
	opSigner, rpSigner jose.Signer
	enc                jose.Encrypter
}

func newOIDCFloor() (*oidcFloor, error) {
	f := &oidcFloor{}
	var err error
	for _, k := range []**rsa.PrivateKey{&f.op, &f.rpSig, &f.rpEnc} {
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	if f.opSigner, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.op}, (&jose.SignerOptions{}).WithHeader("kid", "op")); err != nil {
		return nil, err
	}
	if f.rpSigner, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.rpSig}, (&jose.SignerOptions{}).WithHeader("kid", "rp")); err != nil {
		return nil, err
	}
	f.enc, err = jose.NewEncrypter(jose.A256CBC_HS512, jose.Recipient{Algorithm: jose.RSA_OAEP, Key: &f.rpEnc.PublicKey, KeyID: "enc"},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	return f, err
}

func floorSign(s jose.Signer, claims map[string]any) (string, error) {
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func floorVerify(tok string, k *rsa.PublicKey) ([]byte, error) {
	obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	return obj.Verify(k)
}

func (f *oidcFloor) once() error {
	now := time.Now().Unix()
	claims := map[string]any{"iss": "https://rp.example", "aud": "https://op.example", "iat": now, "exp": now + 300, "jti": "0123456789abcdef",
		"nonce": strings.Repeat("n", 43), "state": strings.Repeat("s", 43), "scope": "openid"}
	// The RP's request object and client assertion, verified by the OP.
	for range 2 {
		t, err := floorSign(f.rpSigner, claims)
		if err != nil {
			return err
		}
		if _, err := floorVerify(t, &f.rpSig.PublicKey); err != nil {
			return err
		}
	}
	// ID and access tokens; the access token verified at userinfo.
	idt, err := floorSign(f.opSigner, claims)
	if err != nil {
		return err
	}
	at, err := floorSign(f.opSigner, claims)
	if err != nil {
		return err
	}
	if _, err := floorVerify(at, &f.op.PublicKey); err != nil {
		return err
	}
	// Userinfo signed, encrypted, decrypted and verified; the ID token
	// verified by the RP.
	ui, err := floorSign(f.opSigner, map[string]any{"sub": "x", "given_name": "Mario", "family_name": "Rossi", "email": "mario@example.it"})
	if err != nil {
		return err
	}
	obj, err := f.enc.Encrypt([]byte(ui))
	if err != nil {
		return err
	}
	jwe, err := obj.CompactSerialize()
	if err != nil {
		return err
	}
	parsed, err := jose.ParseEncryptedCompact(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP}, []jose.ContentEncryption{jose.A256CBC_HS512})
	if err != nil {
		return err
	}
	inner, err := parsed.Decrypt(f.rpEnc)
	if err != nil {
		return err
	}
	if _, err := floorVerify(string(inner), &f.op.PublicKey); err != nil {
		return err
	}
	_, err = floorVerify(idt, &f.op.PublicKey)
	return err
}
