// Package otp checks the one-time codes of level 2: time-based codes from
// an authenticator app (RFC 6238) and SMS codes bound to a login or
// enrolment transaction (security.md C.4, C.5).
package otp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/spid-idp/spid-idp/storage"
)

// TOTP parameters: the ones every common authenticator app supports.
const (
	Digits   = 6
	Period   = 30 * time.Second
	SeedSize = 20 // bytes: the HMAC-SHA-1 block RFC 4226 recommends
	// Skew is how many steps before and after the current one are accepted
	// (clock drift and typing time).
	Skew = 1
)

// ErrDeviceRevoked: a code was checked against a revoked device.
var ErrDeviceRevoked = errors.New("otp: device revoked")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSeed returns a new random TOTP seed.
func NewSeed() ([]byte, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("otp: new seed: %w", err)
	}
	return seed, nil
}

// minSeedSize is RFC 4226's floor for a shared secret (128 bits).
const minSeedSize = 16

// EncodeSeed is the seed as authenticator apps take it (base32, no padding).
func EncodeSeed(seed []byte) string { return b32.EncodeToString(seed) }

// DecodeSeed reads a base32 seed as EncodeSeed writes it, also accepting
// lower case, spaces and padding as people copy them.
func DecodeSeed(s string) ([]byte, error) {
	seed, err := decodeBase32(s)
	if err != nil {
		return nil, err
	}
	if len(seed) < minSeedSize {
		return nil, fmt.Errorf("otp: seed of %d bits is too short (RFC 4226 §4 asks for at least 128)", 8*len(seed))
	}
	return seed, nil
}

const (
	// minImportedSeedSize is the 80-bit seed (16 base32 characters) that
	// many authenticator apps and older systems issued.
	minImportedSeedSize = 10
	// maxImportedSeedSize: HMAC-SHA-1 hashes longer keys first, so more
	// adds nothing; a longer value is a pasting mistake.
	maxImportedSeedSize = 64
)

// DecodeImportedSeed reads a seed carried over from a previous system
// (spid-idp user add --totp-secret, user import). It accepts seeds from 80
// bits: refusing them would force every migrated citizen to re-enrol their
// app, while the codes themselves are no weaker (6 digits either way). Seeds
// this IdP generates are always NewSeed's 160 bits; never use this for
// anything but provisioning.
func DecodeImportedSeed(s string) ([]byte, error) {
	seed, err := decodeBase32(s)
	if err != nil {
		return nil, err
	}
	switch {
	case len(seed) < minImportedSeedSize:
		return nil, fmt.Errorf("otp: seed of %d bits is too short (at least 80 bits, 16 base32 characters)", 8*len(seed))
	case len(seed) > maxImportedSeedSize:
		return nil, fmt.Errorf("otp: seed of %d bits is too long (at most %d)", 8*len(seed), 8*maxImportedSeedSize)
	}
	return seed, nil
}

func decodeBase32(s string) ([]byte, error) {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, errors.New("otp: seed is empty")
	}
	seed, err := b32.DecodeString(s)
	if err != nil {
		return nil, errors.New("otp: seed is not valid base32")
	}
	return seed, nil
}

// URI is the otpauth:// URI of Google's Key URI Format, which authenticator
// apps read from a QR code. issuer is the IdP's name, account what the
// citizen recognises (username).
func URI(issuer, account string, seed []byte) string {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return "otpauth://totp/" + esc(issuer) + ":" + esc(account) +
		"?secret=" + EncodeSeed(seed) +
		"&issuer=" + esc(issuer) +
		"&algorithm=SHA1&digits=6&period=30"
}

// QR sizes: below the minimum the code cannot carry a URI with a 4-module
// quiet zone at one pixel per module; above the maximum is a mistake.
const (
	minQRSize = 64
	maxQRSize = 2048
)

// QRPNG renders uri as a size×size PNG QR code (error correction M) with
// the quiet zone the QR standard asks for, so it scans on any background.
func QRPNG(uri string, size int) ([]byte, error) {
	if !strings.HasPrefix(uri, "otpauth://") {
		return nil, errors.New("otp: QR code: not an otpauth URI")
	}
	if size < minQRSize || size > maxQRSize {
		return nil, fmt.Errorf("otp: QR code size %d outside %d–%d", size, minQRSize, maxQRSize)
	}
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("otp: QR code: %w", err)
	}
	modules := code.Bounds().Dx()
	const quiet = 4
	scale := size / (modules + 2*quiet)
	if scale < 1 {
		return nil, fmt.Errorf("otp: QR code needs at least %d pixels, got %d", modules+2*quiet, size)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	off := (size - modules*scale) / 2
	for y := range modules {
		for x := range modules {
			if r, _, _, _ := code.At(x, y).RGBA(); r != 0 {
				continue // light module: already white
			}
			for dy := range scale {
				row := img.Pix[(off+y*scale+dy)*img.Stride:]
				for dx := range scale {
					row[off+x*scale+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("otp: QR code: %w", err)
	}
	return buf.Bytes(), nil
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 {
	return t.Unix() / int64(Period/time.Second)
}

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// codeAt is the code of a time step; "" for a step before 1970.
func codeAt(encodedSeed string, step int64) string {
	if step < 0 {
		return ""
	}
	c, err := hotp.GenerateCodeCustom(encodedSeed, uint64(step), hotpOpts)
	if err != nil {
		return "" // only for invalid base32, which EncodeSeed never makes
	}
	return c
}

// Code is the code an authenticator app shows at t (reference app, tests).
func Code(seed []byte, t time.Time) string {
	return codeAt(EncodeSeed(seed), Step(t))
}

// wellFormed: exactly Digits ASCII digits.
func wellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// Check tells whether code is valid at now for a step later than lastStep
// (the last step accepted for this device, 0 if none), and returns the step
// to store. Every candidate step is computed and compared in constant time,
// so timing says nothing about which one matched.
func Check(seed []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	if !wellFormed(code) {
		return 0, false
	}
	enc := EncodeSeed(seed)
	cur := Step(now)
	found := 0
	for s := cur - Skew; s <= cur+Skew; s++ {
		want := codeAt(enc, s)
		match := subtle.ConstantTimeCompare([]byte(want), []byte(code)) & boolInt(s > lastStep)
		// Keep the latest matching step: a later one closes more codes.
		step = int64(subtle.ConstantTimeSelect(match, int(s), int(step)))
		found |= match
	}
	if found == 0 {
		return 0, false
	}
	return step, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Accept checks code for the device and records the outcome atomically: on
// success the step becomes the device's LastStep (re-checked inside the
// store's read-modify-write, so of two concurrent submissions of one code
// exactly one wins), FailedAttempts resets and LastUsedAt is set; on
// failure FailedAttempts grows. seed is the device's opened secret.
// Pending devices are accepted (the first code activates them); revoked
// ones give ErrDeviceRevoked. ok=false with a nil error is a wrong code.
func Accept(ctx context.Context, devices storage.Devices, deviceID string, seed []byte, code string, now time.Time) (ok bool, err error) {
	if deviceID == "" {
		return false, fmt.Errorf("otp: accept: %w", storage.ErrNotFound)
	}
	now = now.UTC()
	err = devices.UpdateDevice(ctx, deviceID, func(d storage.Device) (storage.Device, error) {
		if d.Status == storage.DeviceRevoked {
			return d, ErrDeviceRevoked
		}
		// fn may run more than once: decide from this run's device only.
		step, good := Check(seed, code, now, d.LastStep)
		ok = good
		if good {
			d.LastStep = step
			d.FailedAttempts = 0
			d.LastUsedAt = now
		} else {
			d.FailedAttempts++
		}
		d.UpdatedAt = now
		return d, nil
	})
	if err != nil {
		if errors.Is(err, ErrDeviceRevoked) {
			return false, ErrDeviceRevoked
		}
		return false, fmt.Errorf("otp: accept code for device %s: %w", deviceID, err)
	}
	return ok, nil
}
