package appapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Activation codes: CodeLength symbols of Crockford's base32 (no I, L, O,
// U; 60 bits), valid for ActivationTTL, single use. The store keeps only
// their SHA-256, like any other token (security.md E.4).
const (
	CodeLength    = 12
	ActivationTTL = 10 * time.Minute
	// 32 symbols: the low five bits of a random byte pick one uniformly.
	alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

type activation struct {
	IdentityID string `json:"identity_id"`
	DeviceID   string `json:"device_id"`
}

func activationKey(code string) string {
	sum := sha256.Sum256([]byte(normalizeCode(code)))
	return "app-activation:" + hex.EncodeToString(sum[:])
}

// normalizeCode upper-cases, drops spaces and dashes and maps the
// look-alikes a person may type (O→0, I/L→1), so "abcd-efgh-jkmn" and
// "ABCDEFGHJKMN" are the same code.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FormatCode groups a code in fours for display: "ABCD-EFGH-JKMN".
func FormatCode(code string) string {
	var parts []string
	for len(code) > 4 {
		parts = append(parts, code[:4])
		code = code[4:]
	}
	return strings.Join(append(parts, code), "-")
}

// NewActivation creates the single-use code the citizen types into the app
// to claim pendingDeviceID, a device of identityID that already holds its
// sealed TOTP seed (push.SeedAD). The code is shown once; only its hash is
// stored, for ActivationTTL.
func NewActivation(ctx context.Context, values storage.Values, identityID, pendingDeviceID string) (string, error) {
	return NewActivationAt(ctx, values, identityID, pendingDeviceID, time.Now())
}

// NewActivationAt is NewActivation on the caller's clock.
func NewActivationAt(ctx context.Context, values storage.Values, identityID, pendingDeviceID string, now time.Time) (string, error) {
	if identityID == "" || pendingDeviceID == "" {
		return "", errors.New("appapi: activation needs an identity and a device")
	}
	data, err := json.Marshal(activation{IdentityID: identityID, DeviceID: pendingDeviceID})
	if err != nil {
		return "", err
	}
	for range 3 {
		code, err := randomCode()
		if err != nil {
			return "", err
		}
		err = values.CreateValue(ctx, activationKey(code), data, now.Add(ActivationTTL))
		if errors.Is(err, storage.ErrAlreadyExists) {
			continue // 60 bits: only a broken random source gets here twice
		}
		if err != nil {
			return "", fmt.Errorf("appapi: store activation: %w", err)
		}
		return code, nil
	}
	return "", errors.New("appapi: could not draw a fresh activation code")
}

func randomCode() (string, error) {
	var b [CodeLength]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("appapi: random: %w", err)
	}
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b[:]), nil
}
