package authapp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds every call except the long poll, which gets its
// wait on top.
const DefaultTimeout = 15 * time.Second

// maxResponse bounds what the app reads from the IdP.
const maxResponse = 64 << 10

// Client calls an IdP's app API.
type Client struct {
	HTTP *http.Client     // nil: a client with DefaultTimeout
	Now  func() time.Time // request timestamps; time.Now when nil
}

func (c *Client) http() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultTimeout}
}

func (c *Client) now() time.Time {
	if c != nil && c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Error is a refusal from the IdP, with its message.
type Error struct {
	Status  int
	Message string
}

// Error says in words what went wrong: the IdP's own message when it gave
// one, else what the status means to the person using the app. The status
// code stays in Status for programs.
func (e *Error) Error() string {
	what := map[int]string{
		http.StatusUnauthorized:          "the IdP does not recognise this device: it was revoked or never activated (activate it again)",
		http.StatusNotFound:              "the IdP does not know this request: it may have been answered already",
		http.StatusGone:                  "the request has expired: start the login again",
		http.StatusTooManyRequests:       "too many attempts: try again in a few minutes",
		http.StatusRequestEntityTooLarge: "the request was too large for the IdP",
		http.StatusInternalServerError:   "the IdP had an internal error: try again later",
		http.StatusBadGateway:            "the IdP cannot be reached: try again later",
		http.StatusServiceUnavailable:    "the IdP is temporarily unavailable: try again in a moment",
		http.StatusGatewayTimeout:        "the IdP did not answer in time: try again later",
	}[e.Status]
	switch {
	case e.Message != "" && what != "" && e.Status >= 500:
		return what
	case e.Message != "":
		return "the IdP refused: " + e.Message
	case what != "":
		return what
	}
	return "the IdP refused the request"
}

// Challenge is a pending push challenge as the app shows it.
type Challenge struct {
	ID        string    `json:"id"`
	SPName    string    `json:"sp_name"`
	Level     int       `json:"level"`
	Options   [3]int    `json:"options"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CheckIdPURL accepts https URLs, and http only to this machine (a demo IdP
// on localhost): the activation answer carries the TOTP seed.
func CheckIdPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("authapp: IdP URL: %w", err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("authapp: IdP URL %q: want scheme://host[:port][/path]", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("authapp: IdP URL %q: plain http only to localhost; use https", raw)
		}
	default:
		return nil, fmt.Errorf("authapp: IdP URL %q: scheme must be https", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// Activate generates the device key, claims the activation code and returns
// the new device's state (not yet saved). The device becomes usable after
// the citizen types its first code on the activation page.
func (c *Client) Activate(ctx context.Context, idpURL, code, name string) (*State, error) {
	base, err := CheckIdPURL(idpURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(code) == "" {
		return nil, errors.New("authapp: activation code is empty")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authapp: generate key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	body, _ := json.Marshal(map[string]string{
		"activation_code": code, "name": name, "public_key": base64.StdEncoding.EncodeToString(pub),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/app/v1/activate", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var resp struct {
		DeviceID   string `json:"device_id"`
		TOTPSecret string `json:"totp_secret"`
		Issuer     string `json:"issuer"`
		Account    string `json:"account"`
		Digits     int    `json:"digits"`
		Period     int    `json:"period"`
		Algorithm  string `json:"algorithm"`
	}
	if err := c.do(c.http(), req, http.StatusOK, &resp); err != nil {
		return nil, fmt.Errorf("authapp: activate: %w", err)
	}
	st := &State{
		IdP: base.String(), DeviceID: resp.DeviceID, Name: name, PrivateKey: priv,
		TOTPSecret: resp.TOTPSecret, Issuer: resp.Issuer, Account: resp.Account,
		Digits: resp.Digits, Period: resp.Period, Algorithm: resp.Algorithm, ActivatedAt: c.now().UTC(),
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("authapp: activate: the IdP's answer: %w", err)
	}
	return st, nil
}

// Challenges returns the challenges pending for the device, waiting up to
// wait (whole seconds, at most 30) for one to arrive.
func (c *Client) Challenges(ctx context.Context, st *State, wait time.Duration) ([]Challenge, error) {
	secs := int(wait / time.Second)
	if secs < 0 || secs > 30 {
		return nil, errors.New("authapp: wait must be 0 to 30 seconds")
	}
	hc := *c.http()
	if hc.Timeout > 0 {
		hc.Timeout += time.Duration(secs) * time.Second
	}
	req, err := c.signed(ctx, st, http.MethodGet, "/app/v1/challenges?wait="+strconv.Itoa(secs), nil)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Challenges []Challenge `json:"challenges"`
	}
	if err := c.do(&hc, req, http.StatusOK, &resp); err != nil {
		return nil, fmt.Errorf("authapp: challenges: %w", err)
	}
	return resp.Challenges, nil
}

// Approve answers a challenge with the number the citizen picked.
func (c *Client) Approve(ctx context.Context, st *State, challengeID string, number int) error {
	return c.decide(ctx, st, challengeID, "approve", number)
}

// Deny answers "Non sono stato io": the login is refused.
func (c *Client) Deny(ctx context.Context, st *State, challengeID string) error {
	return c.decide(ctx, st, challengeID, "deny", 0)
}

// DecisionMessage is what the device signs to decide a challenge.
func DecisionMessage(challengeID, decision string, number int) []byte {
	return []byte("spid-idp-push\n" + challengeID + "\n" + decision + "\n" + strconv.Itoa(number))
}

// SignDecision signs a decision with the device key (ASN.1 ECDSA, SHA-256).
func (st *State) SignDecision(challengeID, decision string, number int) ([]byte, error) {
	key, err := st.key()
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	h := sha256.Sum256(DecisionMessage(challengeID, decision, number))
	return ecdsa.SignASN1(rand.Reader, key, h[:])
}

func (c *Client) decide(ctx context.Context, st *State, id, decision string, number int) error {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("authapp: bad challenge ID %q", id)
	}
	sig, err := st.SignDecision(id, decision, number)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{
		"decision": decision, "number": number, "signature": base64.StdEncoding.EncodeToString(sig),
	})
	req, err := c.signed(ctx, st, http.MethodPost, "/app/v1/challenges/"+url.PathEscape(id), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := c.do(c.http(), req, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("authapp: %s %s: %w", decision, id, err)
	}
	return nil
}

// signed builds a request carrying the SPID-Device authorization: a
// signature over the method, the request target, the time and the body's
// SHA-256.
func (c *Client) signed(ctx context.Context, st *State, method, target string, body []byte) (*http.Request, error) {
	base, err := CheckIdPURL(st.IdP)
	if err != nil {
		return nil, err
	}
	key, err := st.key()
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, base.String()+target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	signedTarget := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		signedTarget += "?" + req.URL.RawQuery
	}
	ts := c.now().Unix()
	sum := sha256.Sum256(body)
	msg := method + "\n" + signedTarget + "\n" + strconv.FormatInt(ts, 10) + "\n" + hex.EncodeToString(sum[:])
	h := sha256.Sum256([]byte(msg))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("authapp: sign: %w", err)
	}
	req.Header.Set("Authorization", fmt.Sprintf(`SPID-Device id="%s", ts="%d", sig="%s"`,
		st.DeviceID, ts, base64.StdEncoding.EncodeToString(sig)))
	return req, nil
}

// do sends req and decodes a JSON answer with the wanted status into out,
// or returns *Error with the IdP's message.
func (c *Client) do(hc *http.Client, req *http.Request, want int, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
