package app

import (
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
)

// IdPMetadataOptions describes the IdP's published metadata for a
// configuration and its signing pair. The server's /metadata and the
// `spid-idp metadata` command both build from it, so what an operator
// prints is what SPs download.
func IdPMetadataOptions(cfg *config.Config, pair keys.Pair) metadata.IdPOptions {
	base := cfg.Server.BaseURL
	org := cfg.IdP.Organization
	opts := metadata.IdPOptions{
		EntityID:       cfg.IdP.EntityID,
		SSORedirectURL: base + idp.PathSSORedirect, SSOPOSTURL: base + idp.PathSSOPOST,
		SLORedirectURL: base + idp.PathSLORedirect, SLOPOSTURL: base + idp.PathSLOPOST,
		Signing: pair,
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
