//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/ThalesGroup/crypto11"
)

// Available reports whether this build can talk to a PKCS#11 module.
const Available = true

// Token is an open, logged-in session pool on one token. Safe for
// concurrent use.
type Token struct {
	ctx *crypto11.Context
}

// Open loads the module, finds the token by label and logs in.
func Open(c Config) (*Token, error) {
	if c.Module == "" || c.TokenLabel == "" {
		return nil, errors.New("pkcs11: module and token label are required")
	}
	// A 96-bit GCM nonce (NIST SP 800-38D), fixed here so a wrapped data
	// key keeps its size (WrapOverhead) whatever crypto11's default.
	ctx, err := crypto11.Configure(&crypto11.Config{Path: c.Module, TokenLabel: c.TokenLabel, Pin: c.PIN, GCMIVLength: 12})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: opening token %q with %s: %s", c.TokenLabel, c.Module, scrubPIN(err, c.PIN))
	}
	return &Token{ctx: ctx}, nil
}

// scrubPIN keeps the PIN out of an error that might echo it.
func scrubPIN(err error, pin string) string {
	s := err.Error()
	if pin != "" {
		s = strings.ReplaceAll(s, pin, "***")
	}
	return s
}

// Close logs out and unloads the module once no other Token uses it.
func (t *Token) Close() error { return t.ctx.Close() }

// Signer is the private key labelled label, signing inside the token.
func (t *Token) Signer(label string) (crypto.Signer, error) {
	found, err := t.ctx.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("pkcs11: key pair %q: %w", label, err)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("pkcs11: key pair %q: %w", label, ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("pkcs11: %d key pairs are labelled %q; labels must be unique", len(found), label)
	}
}

// GenerateRSA makes an RSA key pair labelled label inside the token; the
// private key cannot be extracted.
func (t *Token) GenerateRSA(label string, bits int) (crypto.Signer, error) {
	if old, _ := t.ctx.FindKeyPairs(nil, []byte(label)); len(old) > 0 {
		return nil, fmt.Errorf("pkcs11: a key pair labelled %q exists already", label)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	s, err := t.ctx.GenerateRSAKeyPairWithLabel(id, []byte(label), bits)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: generating %q: %w", label, err)
	}
	return s, nil
}

// GenerateWrappingKey makes an AES-256 key labelled label inside the token,
// to wrap the data key.
func (t *Token) GenerateWrappingKey(label string) error {
	if old, _ := t.ctx.FindKeys(nil, []byte(label)); len(old) > 0 {
		return fmt.Errorf("pkcs11: a secret key labelled %q exists already", label)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	if _, err := t.ctx.GenerateSecretKeyWithLabel(id, []byte(label), 256, crypto11.CipherAES); err != nil {
		return fmt.Errorf("pkcs11: generating %q: %w", label, err)
	}
	return nil
}

func (t *Token) gcm(label string) (cipher.AEAD, error) {
	found, err := t.ctx.FindKeys(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("pkcs11: secret key %q: %w", label, err)
	}
	if len(found) != 1 {
		if len(found) == 0 {
			return nil, fmt.Errorf("pkcs11: secret key %q: %w", label, ErrNotFound)
		}
		return nil, fmt.Errorf("pkcs11: %d secret keys are labelled %q; labels must be unique", len(found), label)
	}
	a, err := found[0].NewGCM()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: secret key %q: %w", label, err)
	}
	return a, nil
}

// wrapAD binds a wrapped value to its purpose.
var wrapAD = []byte("spid-idp data key wrapped v1")

// Wrap encrypts plain (a data key) under the token's AES key label:
// nonce | ciphertext | tag.
func (t *Token) Wrap(label string, plain []byte) (out []byte, err error) {
	a, err := t.gcm(label)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	defer func() {
		// crypto11's AEAD panics when the token fails (cipher.AEAD has no
		// error to return).
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("pkcs11: wrapping with %q: %v", label, r)
		}
	}()
	return a.Seal(nonce, nonce, plain, wrapAD), nil
}

// Unwrap is the inverse of Wrap.
func (t *Token) Unwrap(label string, wrapped []byte) ([]byte, error) {
	a, err := t.gcm(label)
	if err != nil {
		return nil, err
	}
	n := a.NonceSize()
	if len(wrapped) < n+a.Overhead() {
		return nil, errors.New("pkcs11: wrapped value too short")
	}
	plain, err := a.Open(nil, wrapped[:n], wrapped[n:], wrapAD)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: unwrapping with %q: %w", label, err)
	}
	return plain, nil
}
