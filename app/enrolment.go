package app

import (
	"fmt"
	"log/slog"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/evidence"
)

// Calendar is the verification clock's working-time calendar (spec §6.3)
// from the configuration.
func Calendar(cfg *config.Config) (*workinghours.Calendar, error) {
	cal := &workinghours.Calendar{Location: workinghours.Rome()}
	for _, d := range cfg.Enrolment.ExtraClosedDays {
		cd, err := workinghours.ParseDate(d)
		if err != nil {
			return nil, fmt.Errorf("enrolment.extra_closed_days: %w", err)
		}
		cal.ExtraClosed = append(cal.ExtraClosed, cd)
	}
	if cfg.Enrolment.OfficeHours != "" {
		oh, err := workinghours.ParseOfficeHours(cfg.Enrolment.OfficeHours)
		if err != nil {
			return nil, fmt.Errorf("enrolment.office_hours: %w", err)
		}
		cal.OfficeHours = oh
	}
	if err := cal.Validate(); err != nil {
		return nil, fmt.Errorf("enrolment: %w", err)
	}
	return cal, nil
}

// NewEnrolment assembles the enrolment service: requests, recognition,
// verification and activation, with the configured senders, the working-
// hour calendar and the encrypted evidence store.
func NewEnrolment(cfg *config.Config, b *Backends, auditLog *audit.Logger, log *slog.Logger) (*enrolment.Service, error) {
	log = log.With("component", "enrolment")
	mailer, err := MailSender(cfg, b, log)
	if err != nil {
		return nil, err
	}
	smsSender, err := SMSSender(cfg, b, log)
	if err != nil {
		return nil, err
	}
	cal, err := Calendar(cfg)
	if err != nil {
		return nil, err
	}
	svc := &enrolment.Service{
		Store: b.Store, Audit: auditLog, Mail: mailer, Calendar: cal,
		SPIDCodePrefix: cfg.IdP.SPIDCodePrefix, PasswordParams: Argon2Params(cfg),
		BaseURL: cfg.Server.BaseURL, Responsible: cfg.Enrolment.Responsible, ResponsibleEN: cfg.Enrolment.ResponsibleEN, Log: log,
	}
	svc.SMS = SMSCodes(cfg, b, smsSender)
	if len(cfg.Security.DataKey) > 0 {
		sealer, err := DataSealer(cfg)
		if err != nil {
			return nil, err
		}
		// Blobs in the database, shared by every node; evidence_dir is
		// only read for items stored there by earlier versions.
		svc.Evidence = &evidence.Store{Blobs: b.Store, Dir: cfg.Enrolment.EvidenceDir, Sealer: sealer}
	}
	if p := int64(cfg.Enrolment.Price); p > 0 {
		svc.Price = func(string, string) int64 { return p }
	}
	return svc, nil
}
