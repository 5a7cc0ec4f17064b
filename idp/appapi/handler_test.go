package appapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/push/pushtest"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
)

type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func send(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("answer is not JSON: %q", b)
		}
	}
	if ct := resp.Header.Get("Content-Type"); len(b) > 0 && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	return r
}

func newKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	return key, base64.StdEncoding.EncodeToString(der)
}

func activate(t testing.TB, url, code, name, pub string) reply {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"activation_code": code, "name": name, "public_key": pub})
	req, _ := http.NewRequest("POST", url+"/app/v1/activate", bytes.NewReader(body))
	return send(t, req)
}

func TestActivate(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	id := e.Identity()
	dev, seed, code := e.Activation(id)
	_, pub := newKey(t)

	// Typed by a person: lower case, grouped, O for 0.
	typed := strings.ToLower(appapi.FormatCode(strings.ReplaceAll(code, "0", "O")))
	r := activate(t, srv.URL, typed, "Telefono di Mario", pub)
	if r.status != http.StatusOK {
		t.Fatalf("activate: %d %v", r.status, r.body)
	}
	want := map[string]any{"device_id": dev, "totp_secret": otp.EncodeSeed(seed), "issuer": "SPID IdP di prova",
		"account": "citizen1@example.it", "digits": 6.0, "period": 30.0, "algorithm": "SHA1"}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	d := e.Device(dev)
	if d.Kind != storage.DevicePush || d.Status != storage.DevicePending || d.Name != "Telefono di Mario" || len(d.PublicKey) == 0 {
		t.Errorf("device after activation: %+v", d)
	}
	if der, _ := base64.StdEncoding.DecodeString(pub); bytes.Contains(d.PublicKey, der) {
		t.Error("public key stored in clear")
	}
	if ev := e.LastAudit("app.activate"); ev.Outcome != audit.Success || ev.Actor != id || ev.Target != dev {
		t.Errorf("audit %+v", ev)
	}
	// Single use.
	if r := activate(t, srv.URL, code, "", pub); r.status != http.StatusBadRequest {
		t.Errorf("code reused: %d", r.status)
	}
	if ev := e.LastAudit("app.activate"); ev.Outcome != audit.Failure {
		t.Errorf("refusal audit %+v", ev)
	}
}

func TestActivateRefused(t *testing.T) {
	_, pub := newKey(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	cases := []struct {
		name string
		do   func(e *pushtest.Env, url string) reply
		want int
	}{
		{"unknown code", func(e *pushtest.Env, url string) reply {
			return activate(t, url, "ABCDEFGHJKMN", "", pub)
		}, 400},
		{"expired code", func(e *pushtest.Env, url string) reply {
			_, _, code := e.Activation(e.Identity())
			e.Clock.Advance(appapi.ActivationTTL)
			return activate(t, url, code, "", pub)
		}, 400},
		{"device of another identity", func(e *pushtest.Env, url string) reply {
			dev, _ := e.PendingDevice(e.Identity())
			code, _ := appapi.NewActivationAt(context.Background(), e.Eph, e.Identity(), dev, e.Clock.Now())
			return activate(t, url, code, "", pub)
		}, 400},
		{"device already active", func(e *pushtest.Env, url string) reply {
			dev, _, code := e.Activation(e.Identity())
			e.SetDevice(dev, func(d *storage.Device) { d.Status = storage.DeviceActive })
			return activate(t, url, code, "", pub)
		}, 400},
		{"device revoked", func(e *pushtest.Env, url string) reply {
			dev, _, code := e.Activation(e.Identity())
			e.SetDevice(dev, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
			return activate(t, url, code, "", pub)
		}, 400},
		{"P-384 key", func(e *pushtest.Env, url string) reply {
			_, _, code := e.Activation(e.Identity())
			return activate(t, url, code, "", base64.StdEncoding.EncodeToString(der384))
		}, 400},
		{"key not base64", func(e *pushtest.Env, url string) reply {
			_, _, code := e.Activation(e.Identity())
			return activate(t, url, code, "", "%%%")
		}, 400},
		{"name too long", func(e *pushtest.Env, url string) reply {
			_, _, code := e.Activation(e.Identity())
			return activate(t, url, code, strings.Repeat("x", 65), pub)
		}, 400},
		{"control character in name", func(e *pushtest.Env, url string) reply {
			_, _, code := e.Activation(e.Identity())
			return activate(t, url, code, "a\x1b[31m", pub)
		}, 400},
		{"malformed JSON", func(e *pushtest.Env, url string) reply {
			req, _ := http.NewRequest("POST", url+"/app/v1/activate", strings.NewReader(`{"activation_code": 5`))
			return send(t, req)
		}, 400},
		{"two JSON objects", func(e *pushtest.Env, url string) reply {
			req, _ := http.NewRequest("POST", url+"/app/v1/activate", strings.NewReader(`{} {}`))
			return send(t, req)
		}, 400},
		{"huge body", func(e *pushtest.Env, url string) reply {
			req, _ := http.NewRequest("POST", url+"/app/v1/activate", strings.NewReader(`{"name":"`+strings.Repeat("x", 9000)+`"}`))
			return send(t, req)
		}, 413},
		{"GET", func(e *pushtest.Env, url string) reply {
			req, _ := http.NewRequest("GET", url+"/app/v1/activate", nil)
			return send(t, req)
		}, 405},
		{"unknown endpoint", func(e *pushtest.Env, url string) reply {
			req, _ := http.NewRequest("GET", url+"/app/v1/nothing", nil)
			return send(t, req)
		}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := pushtest.New(t, false)
			_, srv := e.API()
			r := tc.do(e, srv.URL)
			if r.status != tc.want || r.body["error"] == nil {
				t.Errorf("%d %v, want %d with an error message", r.status, r.body, tc.want)
			}
		})
	}
}

// A refused key does not spend the code: the citizen can retry.
func TestActivateBadKeyKeepsCode(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	_, _, code := e.Activation(e.Identity())
	if r := activate(t, srv.URL, code, "", "AAAA"); r.status != 400 {
		t.Fatalf("bad key: %d", r.status)
	}
	_, pub := newKey(t)
	if r := activate(t, srv.URL, code, "", pub); r.status != 200 {
		t.Fatalf("retry: %d %v", r.status, r.body)
	}
}

func TestActivateConcurrent(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	_, _, code := e.Activation(e.Identity())
	var wg sync.WaitGroup
	statuses := make(chan int, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, pub := newKey(t)
			statuses <- activate(t, srv.URL, code, "", pub).status
		}()
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d activations with one code succeeded", ok)
	}
}

func TestActivateRateLimit(t *testing.T) {
	e := pushtest.New(t, false)
	h, err := appapi.New(appapi.Config{Push: e.Push, Devices: e.Store, Values: e.Eph, Ephemeral: e.Eph,
		Sealer: e.Sealer, Audit: e.Audit, Issuer: "x", Now: e.Clock.Now, ActivationLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(requestctx.WithClientIP(r.Context(), "192.0.2.7")))
	}))
	defer srv.Close()
	for i := range 3 {
		if r := activate(t, srv.URL, "WRONGWRONG00", "", "x"); r.status != 400 {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	if r := activate(t, srv.URL, "WRONGWRONG00", "", "x"); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th attempt: %d", r.status)
	}
}

func TestAppAPINewNeedsDependencies(t *testing.T) {
	_, err := appapi.New(appapi.Config{})
	if err == nil || !strings.Contains(err.Error(), "Push, Devices, Values, Ephemeral, Sealer, Audit, Issuer") {
		t.Errorf("%v", err)
	}
}

// device is an activated, confirmed push device talking raw HTTP.
type device struct {
	t   testing.TB
	e   *pushtest.Env
	url string
	id  string
	key *ecdsa.PrivateKey
}

func (d *device) req(method, target string, body []byte) *http.Request {
	d.t.Helper()
	ts := d.e.Clock.Now().Unix()
	req, _ := http.NewRequest(method, d.url+target, bytes.NewReader(body))
	req.Header.Set("Authorization", authHeader(d.t, d.key, d.id, ts, appapi.RequestMessage(method, appapi.RequestTarget(req), ts, body)))
	return req
}

func (d *device) decision(id, decision string, number int, signWith *ecdsa.PrivateKey) []byte {
	d.t.Helper()
	h := sha256.Sum256(push.DecisionMessage(id, decision, number))
	sig, _ := ecdsa.SignASN1(rand.Reader, signWith, h[:])
	b, _ := json.Marshal(map[string]any{"decision": decision, "number": number, "signature": base64.StdEncoding.EncodeToString(sig)})
	return b
}

func newDevice(t testing.TB, e *pushtest.Env, url, identity string) *device {
	t.Helper()
	id, key := e.PushDevice(identity)
	return &device{t: t, e: e, url: url, id: id, key: key}
}

func TestPushLongPoll(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	identity := e.Identity()
	d := newDevice(t, e, srv.URL, identity)

	start := time.Now()
	r := send(t, d.req("GET", "/app/v1/challenges?wait=1", nil))
	if r.status != 200 || len(r.body["challenges"].([]any)) != 0 {
		t.Fatalf("empty poll: %d %v", r.status, r.body)
	}
	if el := time.Since(start); el < time.Second || el > 5*time.Second {
		t.Errorf("empty poll took %v, want about the 1 s wait", el)
	}

	go func() {
		time.Sleep(300 * time.Millisecond)
		if _, err := e.Push.Create(context.Background(), identity, "flow", "Comune di Roma", 2); err != nil {
			t.Error(err)
		}
	}()
	start = time.Now()
	r = send(t, d.req("GET", "/app/v1/challenges?wait=2", nil))
	if el := time.Since(start); el >= 2*time.Second {
		t.Errorf("the poll did not return when the challenge arrived (%v)", el)
	}
	list := r.body["challenges"].([]any)
	if r.status != 200 || len(list) != 1 {
		t.Fatalf("poll: %d %v", r.status, r.body)
	}
	c := list[0].(map[string]any)
	if c["sp_name"] != "Comune di Roma" || c["level"] != 2.0 || len(c["options"].([]any)) != 3 || c["id"] == "" || c["expires_at"] == nil {
		t.Errorf("challenge %v", c)
	}
	if _, ok := c["number"]; ok {
		t.Error("the number reached the app")
	}

	for _, q := range []string{"wait=31", "wait=-1", "wait=abc"} {
		if r := send(t, d.req("GET", "/app/v1/challenges?"+q, nil)); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
	if r := send(t, d.req("POST", "/app/v1/challenges", nil)); r.status != 405 {
		t.Errorf("POST challenges: %d", r.status)
	}
	unsigned, _ := http.NewRequest("GET", srv.URL+"/app/v1/challenges", nil)
	if r := send(t, unsigned); r.status != 401 || r.header.Get("WWW-Authenticate") != appapi.Scheme || r.body["error"] == nil {
		t.Errorf("unsigned: %d %v", r.status, r.header)
	}
}

// The long poll ends when the app hangs up.
func TestPushLongPollClientGone(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	d := newDevice(t, e, srv.URL, e.Identity())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := http.DefaultClient.Do(d.req("GET", "/app/v1/challenges?wait=5", nil).WithContext(ctx))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("client gone: %v after %v", err, time.Since(start))
	}
}

func TestPushDecisionHTTP(t *testing.T) {
	type setup struct {
		e         *pushtest.Env
		d         *device
		c         push.Challenge
		identity  string
		serverURL string
	}
	cases := []struct {
		name   string
		run    func(s setup) reply
		want   int
		status string // challenge status afterwards
	}{
		{"approve", func(s setup) reply {
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "approve", s.c.Number, s.d.key)))
		}, 204, push.StatusApproved},
		{"deny", func(s setup) reply {
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "deny", 0, s.d.key)))
		}, 204, push.StatusDenied},
		{"wrong number", func(s setup) reply {
			n := s.c.Options[0]
			if n == s.c.Number {
				n = s.c.Options[1]
			}
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "approve", n, s.d.key)))
		}, 422, push.StatusDenied},
		{"replayed HTTP request", func(s setup) reply {
			req := s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "approve", s.c.Number, s.d.key))
			again := req.Clone(context.Background())
			body, _ := io.ReadAll(req.Body)
			req.Body, again.Body = io.NopCloser(bytes.NewReader(body)), io.NopCloser(bytes.NewReader(body))
			if r := send(t, req); r.status != 204 {
				t.Fatalf("first: %d", r.status)
			}
			return send(t, again)
		}, 401, push.StatusApproved},
		{"replayed decision", func(s setup) reply {
			body := s.d.decision(s.c.ID, "approve", s.c.Number, s.d.key)
			if r := send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, body)); r.status != 204 {
				t.Fatalf("first: %d", r.status)
			}
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, body))
		}, 409, push.StatusApproved},
		{"expired", func(s setup) reply {
			s.e.Clock.Advance(push.DefaultTTL)
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "approve", s.c.Number, s.d.key)))
		}, 410, push.StatusExpired},
		{"device of another identity", func(s setup) reply {
			o := newDevice(t, s.e, s.serverURL, s.e.Identity())
			return send(t, o.req("POST", "/app/v1/challenges/"+s.c.ID, o.decision(s.c.ID, "approve", s.c.Number, o.key)))
		}, 403, push.StatusPending},
		{"forged decision signature", func(s setup) reply {
			forger, _ := newKey(t)
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "approve", s.c.Number, forger)))
		}, 403, push.StatusPending},
		{"revoked device", func(s setup) reply {
			s.e.SetDevice(s.d.id, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "approve", s.c.Number, s.d.key)))
		}, 401, push.StatusPending},
		{"unknown challenge", func(s setup) reply {
			return send(t, s.d.req("POST", "/app/v1/challenges/nope", s.d.decision("nope", "approve", s.c.Number, s.d.key)))
		}, 404, push.StatusPending},
		{"bad decision", func(s setup) reply {
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, s.d.decision(s.c.ID, "maybe", s.c.Number, s.d.key)))
		}, 400, push.StatusPending},
		{"signature not base64", func(s setup) reply {
			return send(t, s.d.req("POST", "/app/v1/challenges/"+s.c.ID, []byte(`{"decision":"approve","number":1,"signature":"%%"}`)))
		}, 400, push.StatusPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := pushtest.New(t, false)
			_, srv := e.API()
			identity := e.Identity()
			d := newDevice(t, e, srv.URL, identity)
			c, err := e.Push.Create(context.Background(), identity, "flow", "SP", 2)
			if err != nil {
				t.Fatal(err)
			}
			r := tc.run(setup{e: e, d: d, c: c, identity: identity, serverURL: srv.URL})
			if r.status != tc.want || (tc.want != 204 && r.body["error"] == nil) {
				t.Errorf("answer %d %v, want %d", r.status, r.body, tc.want)
			}
			got, err := e.Push.Status(context.Background(), c.ID, "flow")
			if err != nil || got.Status != tc.status {
				t.Errorf("challenge %q (%v), want %q", got.Status, err, tc.status)
			}
			if tc.want != 204 && tc.want != 400 {
				if ev := e.LastAudit("push.decide"); ev.Outcome == audit.Success {
					t.Errorf("refusal audited as %+v", ev)
				}
			}
		})
	}
}

// A device that claimed its code but was not yet confirmed with a first
// code may poll (and sees nothing) but cannot decide.
func TestActivatedButUnconfirmed(t *testing.T) {
	e := pushtest.New(t, false)
	_, srv := e.API()
	identity := e.Identity()
	dev, _, code := e.Activation(identity)
	key, pub := newKey(t)
	if r := activate(t, srv.URL, code, "", pub); r.status != 200 {
		t.Fatalf("activate: %d %v", r.status, r.body)
	}
	d := &device{t: t, e: e, url: srv.URL, id: dev, key: key}
	newDevice(t, e, srv.URL, identity) // a confirmed device, so a challenge exists
	c, err := e.Push.Create(context.Background(), identity, "flow", "SP", 2)
	if err != nil {
		t.Fatal(err)
	}
	r := send(t, d.req("GET", "/app/v1/challenges", nil))
	if r.status != 200 || len(r.body["challenges"].([]any)) != 0 {
		t.Errorf("poll: %d %v", r.status, r.body)
	}
	r = send(t, d.req("POST", "/app/v1/challenges/"+c.ID, d.decision(c.ID, "approve", c.Number, key)))
	if r.status != 401 || !strings.Contains(r.body["error"].(string), "not yet confirmed") {
		t.Errorf("decide: %d %v", r.status, r.body)
	}
}

// Whatever the body, activation answers with a JSON error, never a panic
// or a 5xx.
func FuzzActivateBody(f *testing.F) {
	e := pushtest.New(f, false)
	h, _ := e.API()
	_, pub := newKey(f)
	f.Add(`{"activation_code":"ABCDEFGHJKMN","name":"x","public_key":"` + pub + `"}`)
	f.Add(`{"activation_code":null}`)
	f.Add(`[]`)
	f.Add(`{"name":"\u0000"}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/app/v1/activate", strings.NewReader(body)))
		if rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("%q: status %d", body, rec.Code)
		}
		var e struct{ Error string }
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Fatalf("%q: answer %q", body, rec.Body.String())
		}
	})
}
