package app

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
)

// IdPMetadataOptions describes the IdP's published metadata for a
// configuration and its signing pair. The server's /metadata and the
// `spid-idp metadata` command both build from it, so what an operator
// prints is what SPs download.
// extra are the certificates of idp.signing.extra_cert_files (ExtraCerts).
func IdPMetadataOptions(cfg *config.Config, pair keys.Pair, extra ...*x509.Certificate) metadata.IdPOptions {
	base := cfg.Server.BaseURL
	org := cfg.IdP.Organization
	opts := metadata.IdPOptions{
		EntityID:       cfg.IdP.EntityID,
		SSORedirectURL: base + idp.PathSSORedirect, SSOPOSTURL: base + idp.PathSSOPOST,
		SLORedirectURL: base + idp.PathSLORedirect, SLOPOSTURL: base + idp.PathSLOPOST,
		Signing: pair, ExtraCerts: extra,
		Organization: map[string]metadata.Organization{
			"it": {Name: org.Name.IT, DisplayName: org.DisplayName.IT, URL: org.URL.IT},
			"en": {Name: org.Name.EN, DisplayName: org.DisplayName.EN, URL: org.URL.EN},
		},
		Contact: metadata.Contact{Email: cfg.IdP.Contact.Email, Telephone: cfg.IdP.Contact.Telephone,
			VATNumber: cfg.IdP.Contact.VATNumber, FiscalCode: cfg.IdP.Contact.FiscalCode},
		ValidFor: cfg.IdP.Metadata.ValidFor, CacheDuration: cfg.IdP.Metadata.CacheDuration,
	}
	if cfg.Demo {
		// Demo mode has no operator to name; the metadata still needs a
		// contact to be well formed.
		if opts.Contact.Email == "" {
			opts.Contact.Email = "info@example.org"
		}
		if opts.Contact.VATNumber == "" {
			opts.Contact.VATNumber = demoVAT
		}
	}
	return opts
}

// ExtraCerts loads the certificates of idp.signing.extra_cert_files (PEM,
// one or more per file), published in metadata during a key rollover.
func ExtraCerts(cfg *config.Config) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, f := range cfg.IdP.Signing.ExtraCertFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("idp.signing.extra_cert_files: %w", err)
		}
		n := 0
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("idp.signing.extra_cert_files: %s: %w", f, err)
			}
			out, n = append(out, c), n+1
		}
		if n == 0 {
			return nil, fmt.Errorf("idp.signing.extra_cert_files: %s holds no PEM certificate", f)
		}
	}
	return out, nil
}
