package app

import (
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/legal"
	"github.com/spid-idp/spid-idp/templates"
)

// LegalTexts loads the privacy notice, accessibility statement and terms
// from legal.dir (or the built-in texts), filled in from the configuration.
func (a *App) LegalTexts() (*legal.Texts, error) {
	if a.legal != nil {
		return a.legal, nil
	}
	cfg := a.Config
	updated := cfg.Legal.Updated
	if d, err := time.Parse(time.DateOnly, updated); err == nil {
		updated = d.Format("02/01/2006")
	}
	org := cfg.IdP.Organization
	t, err := legal.Load(cfg.Legal.Dir, legal.Params{
		Controller:    map[string]string{"it": orDefault(org.Name.IT, cfg.IdP.Name), "en": orDefault(org.Name.EN, orDefault(org.Name.IT, cfg.IdP.Name))},
		ControllerURL: orDefault(org.URL.IT, cfg.Server.BaseURL),
		DPO:           cfg.Legal.DPOContact,
		Care:          cfg.Server.BaseURL + care.PathTicketForm,
		Updated:       updated,
		Responsible:   map[string]string{"it": cfg.Enrolment.Responsible, "en": cfg.Enrolment.ResponsibleEN},
	})
	if err != nil {
		return nil, fmt.Errorf("legal texts: %w", err)
	}
	a.legal = t
	return t, nil
}

// MountLegal serves /privacy, /accessibility and /terms.
func (a *App) MountLegal(pages *templates.Renderer) error {
	t, err := a.LegalTexts()
	if err != nil {
		return err
	}
	(&legal.Handler{Texts: t, Pages: pages}).Register(a.Mux)
	return nil
}

// Brand names the IdP on its pages: idp.name, and on English pages the
// English display name when idp.name was not set apart from it (issue 12:
// English pages showed the Italian name).
func Brand(cfg *config.Config) []templates.Option {
	en := cfg.IdP.Name
	if org := cfg.IdP.Organization.DisplayName; cfg.IdP.Name == org.IT && org.EN != "" {
		en = org.EN
	}
	return []templates.Option{templates.WithBrand(cfg.IdP.Name), templates.WithBrandEN(en)}
}
