package app

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/storage"
)

// DefaultADRBody is named in complaint answers until the configuration
// carries the provider's own out-of-court dispute-resolution body (§11.4).
const DefaultADRBody = "l'organismo di risoluzione alternativa delle controversie indicato nella Carta dei servizi"

// SetupCare mounts customer care on a.Mux: the citizen's assistance and
// complaint forms under /care/ and the desk under /console/care/, with
// operators signed in through auth (the console's session). It registers
// the open-complaint gauges on the server's /metrics. Build calls it once
// a.Mux, a.Server and a.Enrolment exist.
func (a *App) SetupCare(auth care.OperatorAuth) (*care.Handler, error) {
	if auth == nil {
		return nil, errors.New("care: no operator authentication")
	}
	cfg := a.Config
	tickets, ok := a.Backends.Store.(storage.Tickets)
	if !ok {
		return nil, fmt.Errorf("care: the %T store keeps no tickets", a.Backends.Store)
	}
	pages, err := a.Pages()
	if err != nil {
		return nil, err
	}
	log := a.Log.With("component", "care")
	mailer, err := MailSender(cfg, a.Backends, log)
	if err != nil {
		return nil, err
	}
	svc := &care.Service{Store: tickets, Mail: mailer, Audit: a.Audit, Brand: cfg.IdP.Name, ADRBody: DefaultADRBody}
	if a.Enrolment != nil {
		svc.Evidence = a.Enrolment.Evidence // nil without a data key: attachments are then refused
	}
	// Callers are verified by a code sent to the identity's registered
	// mobile through the IdP's SMS sender (ui.md §10, E074).
	sender, err := SMSSender(cfg, a.Backends, log)
	if err != nil {
		return nil, err
	}
	desk := &care.Desk{Service: svc, Identities: a.Backends.Store, Lifecycle: a.Lifecycle, Codes: SMSCodes(cfg, a.Backends, sender)}
	origin := cfg.Server.BaseURL
	if u, err := url.Parse(origin); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	h := &care.Handler{Desk: desk, Pages: pages, Auth: auth, Eph: a.Backends.Eph,
		CSRFKey: derive32(cfg.IdP.Session.CookieKey, "care"), Origin: origin, Log: log}
	h.Register(a.Mux)
	if a.Server != nil {
		if err := a.Server.Registry().Register(care.NewMetrics(svc)); err != nil {
			return nil, fmt.Errorf("care metrics: %w", err)
		}
	}
	return h, nil
}
