package appapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/push/pushtest"
	"github.com/spid-idp/spid-idp/storage"
)

// signedRequest builds a request as a device would.
func signedRequest(t testing.TB, key *ecdsa.PrivateKey, device string, ts time.Time, method, target string, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(string(body)))
	r.Header.Set("Authorization", authHeader(t, key, device, ts.Unix(), appapi.RequestMessage(method, appapi.RequestTarget(r), ts.Unix(), body)))
	return r
}

func authHeader(t testing.TB, key *ecdsa.PrivateKey, device string, ts int64, msg []byte) string {
	t.Helper()
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`SPID-Device id="%s", ts="%d", sig="%s"`, device, ts, base64.StdEncoding.EncodeToString(sig))
}

// malleate turns (r, s) into (r, n−s), which verifies just as well.
func malleate(t *testing.T, header string) string {
	t.Helper()
	a, err := appapi.ParseAuthorization(header)
	if err != nil {
		t.Fatal(err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(a.Sig, &sig); err != nil {
		t.Fatal(err)
	}
	sig.S = new(big.Int).Sub(elliptic.P256().Params().N, sig.S)
	der, err := asn1.Marshal(sig)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`SPID-Device id="%s", ts="%d", sig="%s"`, a.DeviceID, a.TS, base64.StdEncoding.EncodeToString(der))
}

func TestPushVerifier(t *testing.T) {
	e := pushtest.New(t, false)
	id := e.Identity()
	dev, key := e.PushDevice(id)
	v := &appapi.Verifier{Devices: e.Store, Sealer: e.Sealer, Replay: e.Eph, Now: e.Clock.Now}
	now := e.Clock.Now()
	body := []byte(`{"decision":"approve","number":42,"signature":"AA=="}`)
	const target = "/app/v1/challenges/abc"

	ok := signedRequest(t, key, dev, now, "POST", target, body)
	d, err := v.Verify(ok, body)
	if err != nil || d.ID != dev {
		t.Fatalf("good request: %v", err)
	}
	// The same request again, and with the signature's equivalent twin.
	if _, err := v.Verify(ok, body); !errors.Is(err, appapi.ErrUnauthorized) || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replay: %v", err)
	}
	twin := httptest.NewRequest("POST", target, nil)
	twin.Header.Set("Authorization", malleate(t, ok.Header.Get("Authorization")))
	if _, err := v.Verify(twin, body); !errors.Is(err, appapi.ErrUnauthorized) || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replay with (r, n−s): %v", err)
	}

	_, otherKey := e.PushDevice(id)
	pending, _ := e.PendingDevice(id)
	totp, _ := e.PendingDevice(id)
	e.SetDevice(totp, func(d *storage.Device) { d.Status = storage.DeviceActive })
	revoked, revokedKey := e.PushDevice(id)
	e.SetDevice(revoked, func(d *storage.Device) { d.Status = storage.DeviceRevoked })

	cases := []struct {
		name string
		req  func() *http.Request
		body []byte
		want string
	}{
		{"wrong key", func() *http.Request { return signedRequest(t, otherKey, dev, now, "POST", target, body) }, body, "signature"},
		{"tampered body", func() *http.Request { return signedRequest(t, key, dev, now, "POST", target, body) },
			[]byte(strings.Replace(string(body), "42", "43", 1)), "signature"},
		{"other path", func() *http.Request {
			r := signedRequest(t, key, dev, now, "POST", target, body)
			r.URL.Path = "/app/v1/challenges/xyz"
			return r
		}, body, "signature"},
		{"other method", func() *http.Request {
			r := signedRequest(t, key, dev, now, "POST", target, body)
			r.Method = "PUT"
			return r
		}, body, "signature"},
		{"other query", func() *http.Request {
			r := signedRequest(t, key, dev, now, "GET", "/app/v1/challenges?wait=1", nil)
			r.URL.RawQuery = "wait=30"
			return r
		}, nil, "signature"},
		{"ts 61 s old", func() *http.Request {
			return signedRequest(t, key, dev, now.Add(-61*time.Second), "POST", target, body)
		}, body, "clock"},
		{"ts 61 s ahead", func() *http.Request { return signedRequest(t, key, dev, now.Add(61*time.Second), "POST", target, body) }, body, "clock"},
		{"unknown device", func() *http.Request { return signedRequest(t, key, "device-999", now, "POST", target, body) }, body, "unknown or revoked"},
		{"revoked device", func() *http.Request { return signedRequest(t, revokedKey, revoked, now, "POST", target, body) }, body, "unknown or revoked"},
		{"device without key", func() *http.Request { return signedRequest(t, key, totp, now, "POST", target, body) }, body, "unknown or revoked"},
		{"pending device without key", func() *http.Request { return signedRequest(t, key, pending, now, "POST", target, body) }, body, "unknown or revoked"},
		{"no header", func() *http.Request { return httptest.NewRequest("POST", target, nil) }, body, "scheme"},
		{"bearer", func() *http.Request {
			r := httptest.NewRequest("POST", target, nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, body, "scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.req(), tc.body)
			if !errors.Is(err, appapi.ErrUnauthorized) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want 401 about %q", err, tc.want)
			}
		})
	}
	// Within the skew is fine.
	if _, err := v.Verify(signedRequest(t, key, dev, now.Add(-59*time.Second), "POST", target, body), body); err != nil {
		t.Errorf("59 s old: %v", err)
	}
}

func TestPushParseAuthorization(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte("sig"))
	a, err := appapi.ParseAuthorization(`spid-device  id="d1" ,ts="1700000000",  sig="` + good + `"`)
	if err != nil || a.DeviceID != "d1" || a.TS != 1700000000 || string(a.Sig) != "sig" {
		t.Fatalf("%+v, %v", a, err)
	}
	bad := []string{
		``,
		`SPID-Device`,
		`Basic dXNlcjpwYXNz`,
		`SPID-Device id="d1", ts="1700000000"`,
		`SPID-Device id="d1", ts="1700000000", sig="` + good + `", sig="` + good + `"`,
		`SPID-Device id="d1", ts="-5", sig="` + good + `"`,
		`SPID-Device id="d1", ts="1e9", sig="` + good + `"`,
		`SPID-Device id="d1", ts="1234567890123", sig="` + good + `"`,
		`SPID-Device id=d1, ts="1700000000", sig="` + good + `"`,
		`SPID-Device id="d\"1", ts="1700000000", sig="` + good + `"`,
		`SPID-Device id="d1", ts="1700000000", sig="!!"`,
		`SPID-Device id="d1", ts="1700000000", sig="` + good + `", extra="x"`,
		`SPID-Device id="", ts="1700000000", sig="` + good + `"`,
		`SPID-Device id="d1" ts="1700000000" sig="` + good + `"`,
		`SPID-Device ` + strings.Repeat(`x`, 2000),
	}
	for _, h := range bad {
		if _, err := appapi.ParseAuthorization(h); !errors.Is(err, appapi.ErrUnauthorized) {
			t.Errorf("%q accepted (%v)", h, err)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(`SPID-Device id="d1", ts="1700000000", sig="c2ln"`)
	f.Add(`SPID-Device id="", ts="", sig=""`)
	f.Add(`spid-device id="a",,`)
	f.Add(`SPID-Device id="d1", ts="99999999999", sig="c2ln", id="x"`)
	f.Fuzz(func(t *testing.T, h string) {
		a, err := appapi.ParseAuthorization(h)
		if err != nil {
			if !errors.Is(err, appapi.ErrUnauthorized) {
				t.Fatalf("error outside the 401 class: %v", err)
			}
			return
		}
		if a.DeviceID == "" || len(a.Sig) == 0 || a.TS < 0 || strings.ContainsAny(a.DeviceID, `"\`) {
			t.Fatalf("accepted %q as %+v", h, a)
		}
	})
}
