// Package datakey encrypts small secrets stored in the database (TOTP seeds,
// device public keys) with AES-256-GCM under a data key from the
// configuration (security.md E.4).
//
// A sealed value is
//
//	version(1) | keyID(4) | nonce(12) | ciphertext | tag(16)
//
// The key ID is the first 4 bytes of SHA-256(key): it names the key without
// a counter, so the operator can rotate by putting the new key first and the
// old ones after it, in any order. The version byte and key ID are
// authenticated together with the caller's additional data, which binds the
// ciphertext to its row (identity ID, device ID): a value copied into another
// row does not open.
package datakey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// KeySize is the length of a data key: AES-256.
	KeySize = 32

	version1  = 1
	idSize    = 4
	nonceSize = 12
	tagSize   = 16
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead   = headerSize + tagSize
	headerSize = 1 + idSize + nonceSize
)

var (
	// ErrMalformed: the input is not a sealed value of a known version.
	ErrMalformed = errors.New("datakey: malformed sealed value")
	// ErrUnknownKey: the value was sealed with a key that is not configured
	// (retired too early, or a value from another installation).
	ErrUnknownKey = errors.New("datakey: sealed with an unknown key")
	// ErrAuthentication: the value was altered, or the additional data does
	// not match the one it was sealed with (moved to another row).
	ErrAuthentication = errors.New("datakey: authentication failed")
)

// Sealer seals with the current key and opens with the current or any
// previous key. It is safe for concurrent use.
type Sealer struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
}

// New builds a Sealer. current seals every new value; previous keys only
// open values sealed before a rotation. Every key must be KeySize bytes.
func New(current []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: make(map[uint32]cipher.AEAD, 1+len(previous))}
	all := append([][]byte{current}, previous...)
	raw := make(map[uint32][]byte, len(all))
	for i, k := range all {
		which := "current key"
		if i > 0 {
			which = fmt.Sprintf("previous key %d", i)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("datakey: %s is %d bytes, want %d", which, len(k), KeySize)
		}
		if isZero(k) {
			return nil, fmt.Errorf("datakey: %s is all zeros", which)
		}
		id := KeyID(k)
		if old, ok := raw[id]; ok {
			if subtle.ConstantTimeCompare(old, k) == 1 {
				continue // the same key listed twice: harmless
			}
			return nil, fmt.Errorf("datakey: %s has the same key ID %08x as another key; generate a new one", which, id)
		}
		raw[id] = k
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("datakey: %s: %w", which, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("datakey: %s: %w", which, err)
		}
		s.aeads[id] = aead
		if i == 0 {
			s.current = id
		}
	}
	return s, nil
}

// GenerateKey returns a new random data key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("datakey: generate key: %w", err)
	}
	return k, nil
}

// KeyID is the identifier written into values sealed with key: the first 4
// bytes of SHA-256(key), big-endian.
func KeyID(key []byte) uint32 {
	sum := sha256.Sum256(key)
	return binary.BigEndian.Uint32(sum[:idSize])
}

// CurrentKeyID is the ID of the key Seal uses, e.g. to record in a row
// (storage.Device.KeyVersion) which key sealed it.
func (s *Sealer) CurrentKeyID() uint32 { return s.current }

// SealedKeyID reports which key sealed a value, without opening it.
func SealedKeyID(sealed []byte) (uint32, error) {
	if len(sealed) < Overhead || sealed[0] != version1 {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint32(sealed[1 : 1+idSize]), nil
}

// Seal encrypts plaintext under the current key with a fresh random nonce.
// ad is authenticated but not stored: Open needs the same bytes.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+tagSize)
	out[0] = version1
	binary.BigEndian.PutUint32(out[1:], s.current)
	nonce := out[1+idSize : headerSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("datakey: nonce: %w", err)
	}
	return s.aeads[s.current].Seal(out, nonce, plaintext, additional(out[:1+idSize], ad)), nil
}

// Open decrypts a value made by Seal with the same ad. current is false when
// a previous key sealed it: the caller should seal it again and store the
// result, so the old key can be retired.
func (s *Sealer) Open(sealed, ad []byte) (plaintext []byte, current bool, err error) {
	id, err := SealedKeyID(sealed)
	if err != nil {
		return nil, false, err
	}
	aead, ok := s.aeads[id]
	if !ok {
		return nil, false, fmt.Errorf("%w (key ID %08x)", ErrUnknownKey, id)
	}
	nonce := sealed[1+idSize : headerSize]
	pt, err := aead.Open(nil, nonce, sealed[headerSize:], additional(sealed[:1+idSize], ad))
	if err != nil {
		return nil, false, ErrAuthentication
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, id == s.current, nil
}

// additional authenticates the header along with the caller's data, so a
// value cannot be relabelled with another version.
func additional(header, ad []byte) []byte {
	b := make([]byte, 0, len(header)+len(ad))
	return append(append(b, header...), ad...)
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}
