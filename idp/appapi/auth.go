package appapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

// Scheme is the Authorization scheme of device requests:
//
//	Authorization: SPID-Device id="<device ID>", ts="<unix seconds>", sig="<base64 ASN.1 ECDSA P-256 SHA-256>"
//
// sig signs RequestMessage: the method, the request target, ts and the
// SHA-256 of the body, so a signature is worth one request only.
const Scheme = "SPID-Device"

// DefaultSkew is how far a request's ts may be from the IdP's clock.
const DefaultSkew = 60 * time.Second

// maxAuthHeader bounds the parser's work; a real header is under 300 bytes.
const maxAuthHeader = 1024

// ErrUnauthorized is the class of every device authentication failure;
// its message (after the colon) is safe to show the app.
var ErrUnauthorized = errors.New("device authentication failed")

func unauthorized(reason string) error { return fmt.Errorf("%w: %s", ErrUnauthorized, reason) }

// Authorization is a parsed SPID-Device header.
type Authorization struct {
	DeviceID string
	TS       int64
	Sig      []byte
}

// ParseAuthorization parses an SPID-Device Authorization header: the scheme
// (any case), then id, ts and sig, each exactly once, as quoted values
// without escapes.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	if len(h) > maxAuthHeader {
		return a, unauthorized("authorization header too long")
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, Scheme) {
		return a, unauthorized("authorization scheme must be " + Scheme)
	}
	seen := map[string]bool{}
	var ts string
	for _, part := range strings.Split(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, unauthorized("malformed authorization parameter")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' || strings.ContainsAny(val[1:len(val)-1], "\"\\") {
			return a, unauthorized("authorization parameter " + strconv.Quote(name) + " must be a quoted value")
		}
		val = val[1 : len(val)-1]
		if seen[name] {
			return a, unauthorized("authorization parameter " + strconv.Quote(name) + " repeated")
		}
		seen[name] = true
		switch name {
		case "id":
			a.DeviceID = val
		case "ts":
			ts = val
		case "sig":
			sig, err := base64.StdEncoding.DecodeString(val)
			if err != nil {
				return a, unauthorized("sig is not base64")
			}
			a.Sig = sig
		default:
			return a, unauthorized("unknown authorization parameter " + strconv.Quote(name))
		}
	}
	if a.DeviceID == "" || ts == "" || len(a.Sig) == 0 {
		return a, unauthorized("authorization needs id, ts and sig")
	}
	if len(ts) > 12 || strings.Trim(ts, "0123456789") != "" {
		return a, unauthorized("ts must be unix seconds")
	}
	a.TS, _ = strconv.ParseInt(ts, 10, 64)
	return a, nil
}

// RequestTarget is the part of the URL a device signs: the escaped path,
// and the query when there is one.
func RequestTarget(r *http.Request) string {
	t := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		t += "?" + r.URL.RawQuery
	}
	return t
}

// RequestMessage is the text a device signs for a request.
func RequestMessage(method, target string, ts int64, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte(method + "\n" + target + "\n" + strconv.FormatInt(ts, 10) + "\n" + hex.EncodeToString(sum[:]))
}

// Replay is the part of storage.Ephemeral the verifier needs.
type Replay interface {
	InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error
}

// Verifier authenticates requests from registered devices.
type Verifier struct {
	Devices storage.Devices
	Sealer  *datakey.Sealer
	Replay  Replay
	Now     func() time.Time
	Skew    time.Duration // DefaultSkew when zero
}

// Verify authenticates r, whose body the caller has already read into body.
// It returns the device, or an error wrapping ErrUnauthorized (bad header,
// stale ts, unknown or revoked device, wrong signature, replay) or a
// storage error. A device is usable once it has claimed its activation
// code (pending or active) and until it is revoked.
func (v *Verifier) Verify(r *http.Request, body []byte) (storage.Device, error) {
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return storage.Device{}, err
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.Skew
	if skew <= 0 {
		skew = DefaultSkew
	}
	ts := time.Unix(a.TS, 0)
	if ts.Before(now.Add(-skew)) || ts.After(now.Add(skew)) {
		return storage.Device{}, unauthorized("ts is too far from the IdP's clock (check the device's time)")
	}
	d, err := v.Devices.GetDevice(r.Context(), a.DeviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Device{}, unauthorized("device unknown or revoked")
	}
	if err != nil {
		return storage.Device{}, fmt.Errorf("appapi: read device: %w", err)
	}
	if d.Status == storage.DeviceRevoked || d.Kind != storage.DevicePush || len(d.PublicKey) == 0 {
		return storage.Device{}, unauthorized("device unknown or revoked")
	}
	pub, err := push.DevicePublicKey(v.Sealer, d)
	if err != nil {
		return storage.Device{}, fmt.Errorf("appapi: device %s: %w", d.ID, err)
	}
	h := sha256.Sum256(RequestMessage(r.Method, RequestTarget(r), a.TS, body))
	if !ecdsa.VerifyASN1(pub, h[:], a.Sig) {
		return storage.Device{}, unauthorized("signature does not verify")
	}
	// The replay key is the signature's r: unlike the encoded signature it
	// cannot be varied (s and n−s both verify), and a fresh nonce makes it
	// differ for every signature the device makes.
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(a.Sig, &sig); err != nil {
		return storage.Device{}, unauthorized("malformed signature")
	}
	key := "appreq:" + d.ID + ":" + hex.EncodeToString(sig.R.Bytes())
	if err := v.Replay.InsertRequestID(r.Context(), key, ts.Add(skew+time.Second)); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return storage.Device{}, unauthorized("request replayed")
		}
		return storage.Device{}, fmt.Errorf("appapi: replay cache: %w", err)
	}
	return d, nil
}
