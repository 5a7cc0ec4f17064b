package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/keys"
)

func init() {
	register("keys generate", "make a signing key and a certificate with the SPID IdP profile, in files or inside the HSM (--pkcs11-label); refuses to overwrite without --force", runKeysGenerate)
	register("keys show", "without --cert: the signing keys now (active, next, previous; fingerprints, validity, dates); with --cert: print a certificate and check it against the SPID IdP profile (exit 1 on any violation)", runKeysShow)
}

func runKeysGenerate(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("keys generate", e)
	keyFile := fs.String("key", "", "write the private key (PKCS#8 PEM, mode 0600) to `FILE` (required)")
	certFile := fs.String("cert", "", "write the certificate (PEM) to `FILE` (required)")
	bits := fs.Int("bits", keys.DefaultBits, "RSA key size: 2048, 3072 or 4096")
	cn := fs.String("cn", "", "subject commonName: the IdP's public `NAME` (required)")
	org := fs.String("org", "", "subject organizationName: the operator's full legal `NAME` (required)")
	orgID := fs.String("org-id", "", "subject organizationIdentifier: VATIT-<11 digits> or CF:IT-<16 chars> (required)")
	locality := fs.String("locality", "Roma", "subject localityName: the operator's seat")
	entityID := fs.String("entity-id", "", "the IdP entityID, written as the subject uri (required)")
	days := fs.Int("days", int(keys.DefaultValidity/(24*time.Hour)), "validity in days")
	force := fs.Bool("force", false, "overwrite existing key and certificate files")
	hsmLabel := fs.String("pkcs11-label", "", "instead of --key: make the key pair inside the HSM of security.pkcs11 (from -c or SPID_IDP_SECURITY_PKCS11_*) under this `LABEL`; only the certificate is written")
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys generate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var missing []string
	required := []struct{ name, v string }{
		{"--key", *keyFile}, {"--cert", *certFile}, {"--cn", *cn}, {"--org", *org},
		{"--org-id", *orgID}, {"--entity-id", *entityID},
	}
	if *hsmLabel != "" {
		if *keyFile != "" {
			fmt.Fprintln(e.stderr, "spid-idp keys generate: give --key or --pkcs11-label, not both (a key made in the HSM never leaves it)")
			return exitUsage
		}
		required = required[1:]
	}
	for _, f := range required {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys generate: missing %s\n", strings.Join(missing, ", "))
		return exitUsage
	}
	if *days <= 0 {
		fmt.Fprintln(e.stderr, "spid-idp keys generate: --days must be positive")
		return exitUsage
	}
	if *hsmLabel != "" {
		return generateInHSM(ctx, e, *path, *hsmLabel, *certFile, *force, keys.GenerateOptions{
			Profile: keys.ProfileIdP, Bits: *bits, CommonName: *cn, Locality: *locality,
			OrganizationIdentifier: *orgID, OrganizationName: *org, EntityID: *entityID,
			ValidFor: time.Duration(*days) * 24 * time.Hour,
		})
	}
	if *keyFile == *certFile {
		fmt.Fprintln(e.stderr, "spid-idp keys generate: --key and --cert must be different files")
		return exitUsage
	}
	if !*force {
		for _, f := range []string{*keyFile, *certFile} {
			if _, err := os.Lstat(f); err == nil {
				fmt.Fprintf(e.stderr, "spid-idp keys generate: %s exists; refusing to overwrite it (use --force to replace it)\n", f)
				return exitFailure
			} else if !errors.Is(err, iofs.ErrNotExist) {
				fmt.Fprintf(e.stderr, "spid-idp keys generate: %v\n", err)
				return exitFailure
			}
		}
	}
	pair, err := keys.Generate(keys.GenerateOptions{
		Profile:                keys.ProfileIdP,
		Bits:                   *bits,
		CommonName:             *cn,
		Locality:               *locality,
		OrganizationIdentifier: *orgID,
		OrganizationName:       *org,
		EntityID:               *entityID,
		ValidFor:               time.Duration(*days) * 24 * time.Hour,
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys generate: %v\n", err)
		return exitUsage // every Generate error is about the options given
	}
	// A freshly generated certificate must pass our own profile check; if
	// it does not, the generator and the checker disagree and the operator
	// must not deploy the key.
	if err := keys.CheckIdPProfile(pair.Cert, *entityID, time.Now()); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys generate: generated certificate fails the IdP profile: %v\n", err)
		return exitFailure
	}
	if err := keys.Save(pair, *keyFile, *certFile); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys generate: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "key          %s\ncertificate  %s\n", *keyFile, *certFile)
	printCert(e.stdout, pair.Cert)
	fmt.Fprintln(e.stdout, "profile      OK (SPID IdP certificate profile)")
	return exitOK
}

func runKeysShow(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("keys show", e)
	path := configFlag(fs, e)
	certFile := fs.String("cert", "", "PEM certificate `FILE` to show (required)")
	keyFile := fs.String("key", "", "also check that the private key in `FILE` belongs to the certificate")
	entityID := fs.String("entity-id", "", "the IdP entityID the subject uri must equal (default: the certificate's own uri, which then is not checked)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys show: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *certFile == "" {
		return runKeysState(ctx, e, *path)
	}
	cert, err := readCertificate(*certFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys show: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "certificate  %s\n", *certFile)
	printCert(e.stdout, cert)

	var problems []string
	if *keyFile != "" {
		if _, err := keys.Load(*keyFile, *certFile); err != nil {
			problems = append(problems, err.Error())
		} else {
			fmt.Fprintf(e.stdout, "private key  %s matches\n", *keyFile)
		}
	}
	want := *entityID
	if want == "" {
		want = subjectURI(cert)
		fmt.Fprintln(e.stdout, "note         no --entity-id given: the subject uri is not compared with the IdP entityID")
	}
	if err := keys.CheckIdPProfile(cert, want, time.Now()); err != nil {
		problems = append(problems, errorLines(err)...)
	}
	if len(problems) == 0 {
		fmt.Fprintln(e.stdout, "profile      OK (SPID IdP certificate profile)")
		return exitOK
	}
	fmt.Fprintf(e.stdout, "profile      %d violation(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(e.stdout, "  - %s\n", p)
	}
	return exitFailure
}

// readCertificate reads the first CERTIFICATE block of a PEM file.
func readCertificate(name string) (*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", name)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return c, nil
	}
}

// printCert writes what an operator compares with a CA's or an SP's view
// of the certificate: subject, fingerprint, key and validity.
func printCert(w io.Writer, c *x509.Certificate) {
	fmt.Fprintf(w, "subject      %s\n", dnString(c.Subject))
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		fmt.Fprintf(w, "issuer       %s\n", dnString(c.Issuer))
	}
	fmt.Fprintf(w, "serial       %x\n", c.SerialNumber)
	fmt.Fprintf(w, "sha256       %s\n", fingerprint(c))
	if pub, ok := c.PublicKey.(*rsa.PublicKey); ok {
		fmt.Fprintf(w, "key          RSA %d bits, %v\n", pub.N.BitLen(), c.SignatureAlgorithm)
	} else {
		fmt.Fprintf(w, "key          %v, %v\n", c.PublicKeyAlgorithm, c.SignatureAlgorithm)
	}
	fmt.Fprintf(w, "valid        %s to %s (%s)\n", c.NotBefore.UTC().Format(time.RFC3339),
		c.NotAfter.UTC().Format(time.RFC3339), expiryNote(c.NotAfter, time.Now()))
}

// dnNames are the short names of the attributes SPID certificates carry;
// Go's pkix.Name.String prints the last two as hex.
var dnNames = map[string]string{
	keys.OIDCommonName.String():             "CN",
	keys.OIDCountryName.String():            "C",
	keys.OIDLocalityName.String():           "L",
	keys.OIDOrganizationName.String():       "O",
	keys.OIDOrganizationIdentifier.String(): "organizationIdentifier",
	keys.OIDURI.String():                    "uri",
}

// dnString prints a distinguished name in certificate order, readable.
func dnString(n pkix.Name) string {
	parts := make([]string, 0, len(n.Names))
	for _, atv := range n.Names {
		label, ok := dnNames[atv.Type.String()]
		if !ok {
			label = atv.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", label, atv.Value))
	}
	return oneLine(strings.Join(parts, ", "))
}

// fingerprint is the SHA-256 of the DER certificate, colon-separated
// upper-case hex as openssl prints it.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

func expiryNote(notAfter, now time.Time) string {
	d := notAfter.Sub(now)
	if d < 0 {
		return "EXPIRED"
	}
	return fmt.Sprintf("expires in %d days", int(d.Hours()/24))
}

func subjectURI(c *x509.Certificate) string {
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(keys.OIDURI) {
			if s, ok := atv.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// errorLines splits an errors.Join tree into one line per leaf message.
func errorLines(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, errorLines(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}
