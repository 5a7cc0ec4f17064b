package fedtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// KeySource gives each member of the test federation its RSA keys by
// name: read from Dir, or generated there (mode 0600) the first time, so
// the demo keeps its keys across restarts and tests use the fixed keys of
// testdata/.
type KeySource struct {
	Dir string
	mu  sync.Mutex
}

// Key returns the key called name.
func (k *KeySource) Key(name string) (*rsa.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	path := filepath.Join(k.Dir, name+".key")
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("fedtest: %s is not PEM", path)
		}
		key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("fedtest: %s: %w", path, err)
		}
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("fedtest: %s is not an RSA key", path)
		}
		return rk, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return rk, nil
}

// memberKeys are the keys of a leaf of the test federation: fed signs its
// entity configuration, sig its protocol messages, enc (named encKID)
// decrypts what is sent to it.
type memberKeys struct {
	fed, sig federation.Signer
	enc      *rsa.PrivateKey
	encKID   string
}

// member loads (or makes) the keys name-fed, name-sig and name-enc.
func (k *KeySource) member(name string) (memberKeys, error) {
	var m memberKeys
	var raw [3]*rsa.PrivateKey
	for i, suffix := range []string{"fed", "sig", "enc"} {
		key, err := k.Key(name + "-" + suffix)
		if err != nil {
			return m, fmt.Errorf("fedtest: %w", err)
		}
		raw[i] = key
	}
	var err error
	if m.fed, err = federation.NewSigner(raw[0], jose.RS256); err != nil {
		return m, err
	}
	if m.sig, err = federation.NewSigner(raw[1], jose.RS256); err != nil {
		return m, err
	}
	m.enc = raw[2]
	if m.encKID, err = federation.Thumbprint(&m.enc.PublicKey); err != nil {
		return m, err
	}
	return m, nil
}
