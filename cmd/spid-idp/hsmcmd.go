package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/keys/pkcs11"
	"github.com/spid-idp/spid-idp/keys/rollover"
)

func init() {
	register("keys wrap-data-key", "wrap the data key with an AES key inside the HSM (security.pkcs11) and print security.data_key_wrapped: to move a clear data key into the HSM, to rewrap it under another HSM key (--label), or to make a new one (--new)", runWrapDataKey)
}

// runWrapDataKey wraps a data key inside the HSM. The data key is the
// configured one (security.data_key, or security.data_key_wrapped opened
// with security.pkcs11.data_key_label), or a new random one with --new;
// the wrapping key is --label, by default security.pkcs11.data_key_label.
// It prints the configuration lines to set; the data key itself is never
// printed.
func runWrapDataKey(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("keys wrap-data-key", e)
	path := configFlag(fs, e)
	label := fs.String("label", "", "`LABEL` of the AES key in the token that wraps the data key (default security.pkcs11.data_key_label)")
	create := fs.Bool("create", false, "make the AES-256 wrapping key --label inside the token if it is not there")
	fresh := fs.Bool("new", false, "wrap a new random data key instead of the configured one (then rotate: the old one becomes security.previous_data_key_wrapped, and spid-idp keys rotate-data-key re-seals)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys wrap-data-key: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	fail := func(err error) int {
		_ = a.fail(ctx, "keys.wrap_data_key", *label, map[string]string{"reason": err.Error()})
		fmt.Fprintf(e.stderr, "spid-idp keys wrap-data-key: %v\n", err)
		return exitFailure
	}
	h := a.cfg.Security.PKCS11
	if *label == "" {
		*label = h.DataKeyLabel
	}
	if *label == "" {
		fmt.Fprintln(e.stderr, "spid-idp keys wrap-data-key: --label is required (or set security.pkcs11.data_key_label)")
		return exitUsage
	}
	if h.Module == "" || h.TokenLabel == "" || h.PIN == "" {
		fmt.Fprintln(e.stderr, "spid-idp keys wrap-data-key: security.pkcs11.module, .token_label and .pin must name the HSM")
		return exitUsage
	}
	var plain []byte
	if *fresh {
		k, err := datakey.GenerateKey()
		if err != nil {
			return fail(err)
		}
		plain = k
	} else {
		// Demo mode: the data key the server generated.
		if err := a.cfg.EnsureDemoKeys(); err != nil {
			return fail(err)
		}
		if len(a.cfg.Security.DataKey) == 0 {
			fmt.Fprintln(e.stderr, "spid-idp keys wrap-data-key: no data key is configured (security.data_key or security.data_key_wrapped); use --new to make one")
			return exitUsage
		}
		plain = a.cfg.Security.DataKey
	}
	tok, err := app.HSMToken(a.cfg)
	if err != nil {
		return fail(err)
	}
	wrapped, err := tok.Wrap(*label, plain)
	created := false
	if errors.Is(err, pkcs11.ErrNotFound) && *create {
		if err = tok.GenerateWrappingKey(*label); err == nil {
			created = true
			wrapped, err = tok.Wrap(*label, plain)
		}
	} else if errors.Is(err, pkcs11.ErrNotFound) {
		return fail(fmt.Errorf("the token has no AES key labelled %q (add --create to make one)", *label))
	}
	if err != nil {
		return fail(err)
	}
	// Open it again before telling the operator to rely on it.
	if back, err := tok.Unwrap(*label, wrapped); err != nil || !bytes.Equal(back, plain) {
		return fail(fmt.Errorf("the token did not give back the wrapped data key (%v)", err))
	}
	id := fmt.Sprintf("%08x", datakey.KeyID(plain))
	// Detail names avoid "key" and "token": the audit log drops those as
	// possible secrets.
	details := map[string]string{"wrapped_with": *label, "data_id": id, "fresh": fmt.Sprint(*fresh), "created_wrapper": fmt.Sprint(created)}
	if code := a.success(ctx, "keys.wrap_data_key", *label, details); code != exitOK {
		return code
	}
	if created {
		fmt.Fprintf(e.stdout, "created      AES-256 wrapping key %q in token %q\n", *label, h.TokenLabel)
	}
	what := "the configured data key"
	if *fresh {
		what = "a new data key"
	}
	fmt.Fprintf(e.stdout, "wrapped      %s (key ID %s) with %q\n", what, id, *label)
	fmt.Fprintf(e.stdout, "set          security.pkcs11.data_key_label: %s\n", *label)
	fmt.Fprintf(e.stdout, "             security.data_key_wrapped: %s\n", base64.StdEncoding.EncodeToString(wrapped))
	if *fresh {
		fmt.Fprintln(e.stdout, "then         move the old data key to security.previous_data_key(_wrapped), restart every node, run spid-idp keys rotate-data-key")
	} else {
		fmt.Fprintln(e.stdout, "then         remove security.data_key if it is set, restart every node (nothing is re-sealed: the data key is the same)")
	}
	return exitOK
}

// generateInHSM is `keys generate --pkcs11-label`: the key pair is made
// inside the token of security.pkcs11 and only its certificate, with the
// SPID IdP profile, is written.
func generateInHSM(ctx context.Context, e env, path, label, certFile string, force bool, opts keys.GenerateOptions) int {
	if !force {
		if _, err := os.Lstat(certFile); err == nil {
			fmt.Fprintf(e.stderr, "spid-idp keys generate: %s exists; refusing to overwrite it (use --force to replace it)\n", certFile)
			return exitFailure
		}
	}
	a, code, ok := openAdmin(ctx, e, path)
	if !ok {
		return code
	}
	defer a.close()
	fail := func(err error) int {
		_ = a.fail(ctx, "keys.generate", label, map[string]string{"reason": err.Error()})
		fmt.Fprintf(e.stderr, "spid-idp keys generate: %v\n", err)
		return exitFailure
	}
	h := a.cfg.Security.PKCS11
	if h.Module == "" || h.TokenLabel == "" || h.PIN == "" {
		fmt.Fprintln(e.stderr, "spid-idp keys generate: --pkcs11-label needs security.pkcs11.module, .token_label and .pin (in -c FILE or SPID_IDP_SECURITY_PKCS11_*)")
		return exitUsage
	}
	bits := opts.Bits
	if bits == 0 {
		bits = keys.DefaultBits
	}
	// Check the options before making a key the token would keep.
	if err := opts.Check(); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys generate: %v\n", err)
		return exitUsage
	}
	tok, err := app.HSMToken(a.cfg)
	if err != nil {
		return fail(err)
	}
	signer, err := tok.GenerateRSA(label, bits)
	if err != nil {
		return fail(err)
	}
	opts.Key = signer
	pair, err := keys.Generate(opts)
	if err != nil {
		return fail(err)
	}
	if err := keys.CheckIdPProfile(pair.Cert, opts.EntityID, time.Now()); err != nil {
		return fail(fmt.Errorf("generated certificate fails the IdP profile: %w", err))
	}
	if err := keys.SaveCert(pair.Cert, certFile); err != nil {
		return fail(err)
	}
	if code := a.success(ctx, "keys.generate", label, map[string]string{"pkcs11_label": label, "hsm": h.TokenLabel,
		"sha256": hexFingerprint(rollover.ID(pair.Cert)), "cert_file": certFile}); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "key          in the HSM: token %q, label %q (not extractable)\ncertificate  %s\n", h.TokenLabel, label, certFile)
	printCert(e.stdout, pair.Cert)
	fmt.Fprintln(e.stdout, "profile      OK (SPID IdP certificate profile)")
	return exitOK
}
