package keys

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Load reads a PEM private key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY") and a PEM certificate (the first CERTIFICATE block), and
// checks that they belong together and are strong enough (CheckStrength).
// It does not check the validity period or the AgID profile: see
// CheckValidity and CheckIdPProfile.
func Load(keyFile, certFile string) (Pair, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: %w", err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: %w", err)
	}
	p, err := Parse(keyPEM, certPEM)
	if err != nil {
		return Pair{}, fmt.Errorf("keys: %s, %s: %w", keyFile, certFile, err)
	}
	return p, nil
}

// LoadKey reads a PEM RSA private key without a certificate (the OpenID
// Provider's keys are published as JWKs, not certificates).
func LoadKey(file string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", file, err)
	}
	return k, nil
}

// Parse is Load on in-memory PEM data.
func Parse(keyPEM, certPEM []byte) (Pair, error) {
	key, err := parseKey(keyPEM)
	if err != nil {
		return Pair{}, err
	}
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return Pair{}, err
	}
	if err := CheckStrength(cert); err != nil {
		return Pair{}, fmt.Errorf("certificate: %w", err)
	}
	pub := cert.PublicKey.(*rsa.PublicKey) // CheckStrength ensured RSA
	if !publicKeyEqual(pub, &key.PublicKey) {
		return Pair{}, errors.New("private key does not match the certificate")
	}
	return Pair{Key: key, Cert: cert}, nil
}

func parseKey(data []byte) (*rsa.PrivateKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#1 key: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#8 key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key is %T, want RSA", k)
			}
			return rk, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		}
	}
}

func ParseCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate: %w", err)
			}
			return c, nil
		}
	}
}

// Save writes the key (PKCS#8 PEM, mode 0600) and the certificate (PEM,
// mode 0644), creating missing directories. Each file is written to a
// temporary name and renamed, so a crash never leaves half a key.
func Save(p Pair, keyFile, certFile string) error {
	if p.Key == nil || p.Cert == nil {
		return errors.New("keys: save: incomplete pair")
	}
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return fmt.Errorf("keys: save: %w", err)
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600, 0o700); err != nil {
		return fmt.Errorf("keys: save key: %w", err)
	}
	if err := writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw}), 0o644, 0o755); err != nil {
		return fmt.Errorf("keys: save certificate: %w", err)
	}
	return nil
}

// SaveCert writes only the certificate (PEM, mode 0644), for a key that
// stays in an HSM.
func SaveCert(c *x509.Certificate, certFile string) error {
	if err := writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644, 0o755); err != nil {
		return fmt.Errorf("keys: save certificate: %w", err)
	}
	return nil
}

func writeAtomic(name string, data []byte, mode, dirMode fs.FileMode) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// LoadOrGenerate is for demo and development mode: it loads the pair when
// both files exist, and otherwise generates one with opts, saves it and
// reports generated=true. If only one of the two files exists it fails
// rather than overwrite an orphaned key or certificate.
func LoadOrGenerate(keyFile, certFile string, opts GenerateOptions) (p Pair, generated bool, err error) {
	_, kerr := os.Stat(keyFile)
	_, cerr := os.Stat(certFile)
	switch {
	case kerr == nil && cerr == nil:
		p, err = Load(keyFile, certFile)
		return p, false, err
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
		if p, err = Generate(opts); err != nil {
			return Pair{}, false, err
		}
		if err = Save(p, keyFile, certFile); err != nil {
			return Pair{}, false, err
		}
		return p, true, nil
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return Pair{}, false, fmt.Errorf("keys: %w", kerr)
	case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
		return Pair{}, false, fmt.Errorf("keys: %w", cerr)
	case kerr == nil:
		return Pair{}, false, fmt.Errorf("keys: %s exists but %s does not; refusing to overwrite", keyFile, certFile)
	default:
		return Pair{}, false, fmt.Errorf("keys: %s exists but %s does not; refusing to overwrite", certFile, keyFile)
	}
}
