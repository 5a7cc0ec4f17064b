package enrolment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/storage"
)

// retire starts the retention period of a request's evidence when the
// request ends without an identity (§12.4): drafts cancelled or expired
// before recognition keep theirs 30 days, any other request 24 months.
func retire(r *Request, now time.Time) {
	class := evidence.ClassRejected
	if r.Recognition == nil {
		class = evidence.ClassDrafts
	}
	for i := range r.Evidence {
		r.Evidence[i].RetentionClass = class
		r.Evidence[i].RetainUntil = evidence.RetentionUntil(class, now)
	}
}

// SweepEvidence is the retention job for requests that ended without an
// identity: it deletes the blobs whose period is over (never those on
// legal hold), drops them from their request and audits each deletion
// (E096). It returns how many items were deleted.
func (s *Service) SweepEvidence(ctx context.Context) (int, error) {
	if s.Evidence == nil {
		return 0, errors.New("enrolment: no evidence store configured")
	}
	es, err := s.Store.ListEnrolments(ctx, []string{string(StateCancelled), string(StateExpired), string(StateClosed)})
	if err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	var errs []error
	for _, e := range es {
		r, err := Decode(e.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("request %s: %w", e.ID, err))
			continue
		}
		deleted, err := s.Evidence.Sweep(ctx, r.Evidence, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("request %s: %w", e.ID, err))
		}
		if len(deleted) == 0 {
			continue
		}
		gone := map[string]bool{}
		for _, it := range deleted {
			gone[it.ID] = true
		}
		// The blobs are gone whatever happens next: the references go too.
		err = s.Store.UpdateEnrolment(ctx, e.ID, func(cur storage.Enrolment) (storage.Enrolment, error) {
			cr, err := Decode(cur.Data)
			if err != nil {
				return cur, err
			}
			kept := cr.Evidence[:0]
			for _, it := range cr.Evidence {
				if !gone[it.ID] {
					kept = append(kept, it)
				}
			}
			cr.Evidence = kept
			cur.Data = cr.encode()
			return cur, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("request %s: %w", e.ID, err))
		}
		for _, it := range deleted {
			n++
			if err := s.record(ctx, schedulerActor, "evidence.delete", it.ID, audit.Success, map[string]string{
				"enrolment": e.ID, "kind": it.Kind, "sha256": it.SHA256, "retention_class": string(it.RetentionClass),
				"retain_until": it.RetainUntil.UTC().Format(time.RFC3339)}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return n, errors.Join(errs...)
}
