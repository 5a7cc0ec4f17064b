// Package authapp is the reference authenticator app: the library behind
// `spid-idp app`. It activates a device against an IdP with the code from
// the activation page, keeps the device's state in a private file, shows
// TOTP codes, and fetches, approves or denies push challenges, signing
// every request with the device's ECDSA P-256 key.
//
// It speaks only the app API's wire protocol (see idp/appapi), so it is
// also the protocol's executable description for a phone app.
package authapp

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/idp/otp"
)

// State is what a device keeps between runs. It holds the device's private
// key and TOTP seed: Save writes it readable by its owner only and Load
// refuses a file others can read.
type State struct {
	IdP         string    `json:"idp"` // base URL, e.g. https://idp.example.it
	DeviceID    string    `json:"device_id"`
	Name        string    `json:"name,omitempty"`
	PrivateKey  []byte    `json:"private_key"` // PKCS#8 DER, ECDSA P-256
	TOTPSecret  string    `json:"totp_secret"` // base32, as the IdP sent it
	Issuer      string    `json:"issuer"`
	Account     string    `json:"account"`
	Digits      int       `json:"digits"`
	Period      int       `json:"period"`
	Algorithm   string    `json:"algorithm"`
	ActivatedAt time.Time `json:"activated_at"`
}

// Load reads a state file.
func Load(path string) (*State, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("authapp: no device state at %s (run `spid-idp app activate` first)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("authapp: %s holds a private key but others can read it (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authapp: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("authapp: %s: %w", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("authapp: %s: %w", path, err)
	}
	return &s, nil
}

func (s *State) check() error {
	switch {
	case s.IdP == "":
		return errors.New("no IdP URL")
	case s.DeviceID == "":
		return errors.New("no device ID")
	}
	if _, err := s.key(); err != nil {
		return err
	}
	if _, err := s.seed(); err != nil {
		return err
	}
	return nil
}

// Save writes the state atomically (temporary file, then rename) with mode
// 0600, creating the directory with mode 0700 if needed.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("authapp: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("authapp: %w", err)
	}
	f, err := os.CreateTemp(dir, ".app-device-*.json")
	if err != nil {
		return fmt.Errorf("authapp: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("authapp: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("authapp: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("authapp: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("authapp: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("authapp: %w", err)
	}
	return nil
}

func (s *State) key() (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(s.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("device key is not an ECDSA key")
	}
	return ek, nil
}

func (s *State) seed() ([]byte, error) {
	if s.Digits != 6 || s.Period != 30 || !strings.EqualFold(s.Algorithm, "SHA1") {
		return nil, fmt.Errorf("unsupported TOTP parameters (%d digits, %d s, %s): this app does 6 digits, 30 s, SHA1", s.Digits, s.Period, s.Algorithm)
	}
	seed, err := otp.DecodeSeed(s.TOTPSecret)
	if err != nil {
		return nil, fmt.Errorf("TOTP secret: %w", err)
	}
	return seed, nil
}

// OTP returns the code for now and how long it stays valid.
func (s *State) OTP(now time.Time) (code string, left time.Duration, err error) {
	seed, err := s.seed()
	if err != nil {
		return "", 0, fmt.Errorf("authapp: %w", err)
	}
	period := int64(s.Period)
	next := time.Unix((now.Unix()/period+1)*period, 0)
	return otp.Code(seed, now), next.Sub(now).Truncate(time.Second), nil
}
