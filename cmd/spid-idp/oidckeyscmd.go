package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/keys"
)

// OIDC key rotation (oidc-federation.md §2.8) is an operator's dance with
// the trust anchor: make the next key, have the anchor's statement about us
// carry it, then sign with it, keeping the old one published until what it
// signed has expired. These commands make the key and show, for the
// configured files, which key signs, which are only published, and the
// JWK sets to hand to the anchor.

func init() {
	register("keys oidc-generate", "make an RSA key for the OpenID Provider (federation or core signing, 4096 bits by default) and print its public JWK (kid = RFC 7638 thumbprint) to register with the trust anchor; refuses to overwrite without --force", runOIDCKeysGenerate)
	register("keys oidc-show", "the configured OIDC keys: which signs the entity configuration and which the tokens, which are only published, their kids and sizes, and the JWK sets the trust anchor must know", runOIDCKeysShow)
}

func runOIDCKeysGenerate(_ context.Context, e env, args []string) int {
	fs := newFlagSet("keys oidc-generate", e)
	out := fs.String("out", "", "write the private key (PKCS#8 PEM, mode 0600) to `FILE` (required)")
	bits := fs.Int("bits", 4096, "RSA key size: 2048, 3072 or 4096 (the spec recommends 4096 for new OIDC keys)")
	force := fs.Bool("force", false, "overwrite an existing file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *out == "" {
		fmt.Fprintln(e.stderr, "spid-idp keys oidc-generate: missing --out")
		return exitUsage
	}
	if *bits != 2048 && *bits != 3072 && *bits != 4096 {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: --bits must be 2048, 3072 or 4096, got %d\n", *bits)
		return exitUsage
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o700); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: %v\n", err)
		return exitFailure
	}
	f, err := os.OpenFile(*out, flags, 0o600)
	if errors.Is(err, iofs.ErrExist) {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: %s exists; refusing to overwrite it (use --force to replace it)\n", *out)
		return exitFailure
	} else if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: %v\n", err)
		return exitFailure
	}
	key, err := rsa.GenerateKey(rand.Reader, *bits)
	if err == nil {
		var der []byte
		if der, err = x509.MarshalPKCS8PrivateKey(key); err == nil {
			err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(*out)
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: %v\n", err)
		return exitFailure
	}
	s, err := federation.NewSigner(key, jose.RS256)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-generate: %v\n", err)
		return exitFailure
	}
	b, _ := json.MarshalIndent(s.Public(), "", "  ")
	fmt.Fprintf(e.stdout, "key  %s\nkid  %s\n%s\n", *out, s.KID, b)
	fmt.Fprintln(e.stdout, "Next: list it second in oidc.signing_key_files (a core key) or in oidc.federation_published_key_files (a federation key), have the trust anchor add it to its statement about us, and only then make it the first (the one that signs).")
	return exitOK
}

// oidcKeyRole is one configured key as `keys oidc-show` lists it.
type oidcKeyRole struct {
	Setting string `json:"setting"`
	File    string `json:"file"`
	KID     string `json:"kid"`
	Bits    int    `json:"bits"`
	Signs   bool   `json:"signs"`
}

func runOIDCKeysShow(_ context.Context, e env, args []string) int {
	fs := newFlagSet("keys oidc-show", e)
	path := configFlag(fs, e)
	asJSON := fs.Bool("json", false, "print the roles and JWK sets as JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, code, ok := loadConfig(*path, e)
	if !ok {
		return code
	}
	oc := cfg.OIDC
	if !oc.Enabled {
		fmt.Fprintln(e.stderr, "spid-idp keys oidc-show: oidc.enabled is false")
		return exitFailure
	}
	var roles []oidcKeyRole
	fed, core := jose.JSONWebKeySet{}, jose.JSONWebKeySet{}
	add := func(setting, file string, signs bool, set *jose.JSONWebKeySet) error {
		k, err := keys.LoadKey(file)
		if err != nil {
			return fmt.Errorf("%s: %w", setting, err)
		}
		s, err := federation.NewSigner(k, jose.RS256)
		if err != nil {
			return fmt.Errorf("%s: %w", setting, err)
		}
		roles = append(roles, oidcKeyRole{Setting: setting, File: file, KID: s.KID, Bits: k.N.BitLen(), Signs: signs})
		set.Keys = append(set.Keys, s.Public())
		return nil
	}
	var errs []error
	errs = append(errs, add("oidc.federation_key_file", oc.FederationKeyFile, true, &fed))
	for i, f := range oc.FederationPublishedKeyFiles {
		errs = append(errs, add(fmt.Sprintf("oidc.federation_published_key_files[%d]", i), f, false, &fed))
	}
	for i, f := range oc.SigningKeyFiles {
		errs = append(errs, add(fmt.Sprintf("oidc.signing_key_files[%d]", i), f, i == 0, &core))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys oidc-show: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		b, _ := json.MarshalIndent(map[string]any{"keys": roles, "federation_jwks": fed, "core_jwks": core}, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return exitOK
	}
	for _, r := range roles {
		what := "published"
		if r.Signs {
			what = "signs"
		}
		fmt.Fprintf(e.stdout, "%-42s %-9s kid %s  RSA %d  %s\n", r.Setting, what, r.KID, r.Bits, r.File)
	}
	fb, _ := json.Marshal(fed)
	cb, _ := json.Marshal(core)
	fmt.Fprintf(e.stdout, "federation jwks (our entity configuration; the trust anchor's statement about us must carry them):\n%s\n", fb)
	fmt.Fprintf(e.stdout, "core jwks (openid_provider.jwks, the first signs; the anchor's policy pins them):\n%s\n", cb)
	return exitOK
}
