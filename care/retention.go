package care

import (
	"context"
	"errors"
	"fmt"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/storage"
)

// SweepRetention ends the retention of tickets (24 months after closing)
// and complaints (10 years after the answer) of §12.4: attachments are
// deleted from the evidence store and the personal content (contact,
// subject, message, thread, answer) is erased; reference, kind, channel,
// category, state and dates stay for the statistics. Each purge is
// audited. The scheduler runs it daily; it returns how many it purged.
func (s *Service) SweepRetention(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	var errs []error
	for _, q := range []struct {
		kind   string
		states []string
		class  evidence.RetentionClass
	}{
		{storage.TicketKindTicket, []string{StateClosed}, evidence.ClassTickets},
		{storage.TicketKindComplaint, []string{StateAnswered, StateClosed}, evidence.ClassComplaints},
	} {
		l, err := s.Store.ListTickets(ctx, storage.TicketFilter{Kind: q.kind, States: q.states})
		if err != nil {
			return n, err
		}
		for _, t := range l {
			from := t.ClosedAt
			if q.kind == storage.TicketKindComplaint && !t.AnsweredAt.IsZero() {
				from = t.AnsweredAt
			}
			until := evidence.RetentionUntil(q.class, from)
			if until.IsZero() || now.Before(until) || (t.ContactEmail == "" && len(t.Attachments) == 0 && t.Message == "") {
				continue
			}
			if err := s.purge(ctx, t, q.class); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (s *Service) purge(ctx context.Context, t storage.Ticket, class evidence.RetentionClass) error {
	if len(t.Attachments) > 0 {
		if s.Evidence == nil {
			return fmt.Errorf("care: purge %s: no evidence store for its attachments", t.Reference)
		}
		var items []evidence.Item
		for _, a := range t.Attachments {
			items = append(items, evidence.Item{ID: a.EvidenceID, Kind: a.Kind, SHA256: a.SHA256, Size: a.Size,
				MediaType: a.MediaType, CreatedAt: a.CreatedAt, RetentionClass: class,
				RetainUntil: s.now()}) // due now: the caller checked the ticket's period
		}
		deleted, err := s.Evidence.Sweep(ctx, items, s.now())
		if err != nil && len(deleted) < len(items) && !errors.Is(err, evidence.ErrNotFound) {
			return fmt.Errorf("care: purge %s: %w", t.Reference, err)
		}
	}
	err := s.Store.UpdateTicket(ctx, t.ID, func(v storage.Ticket) (storage.Ticket, error) {
		v.Product, v.Subject, v.Message, v.ContactEmail, v.ContactName = "", "", "", "", ""
		v.Attachments, v.Thread = nil, nil
		v.Analysis, v.Resolution, v.ExpectedTime = "", "", ""
		v.UpdatedAt = s.now()
		return v, nil
	})
	if err != nil {
		return fmt.Errorf("care: purge %s: %w", t.Reference, err)
	}
	return s.record(ctx, "system", "care.retention.purge", t.ID, audit.Success,
		map[string]string{"reference": t.Reference, "class": string(class), "attachments": fmt.Sprint(len(t.Attachments))})
}
