package enrolment

import (
	"context"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/revocation"
	"github.com/spid-idp/spid-idp/storage"
)

// MaxAttemptsKept bounds the refused attempts stored with one request, so a
// request cannot be grown without end; the count keeps going in the audit log.
const MaxAttemptsKept = 50

// Attempt is one refused recognition attempt on an automatic path: a card
// that was refused (another person's card included) or a signed file that
// did not verify. It is kept with the request so the verifier sees it
// (ui.md §9.2), and counts against the attempt limit.
type Attempt struct {
	At     time.Time `json:"at"`
	Path   string    `json:"path"` // PathCNS or PathSignature
	Code   string    `json:"code"` // the refusal code, e.g. cns.fiscal_code_mismatch
	Detail string    `json:"detail,omitempty"`
	IP     string    `json:"ip,omitempty"`
}

// RefusedAttempts counts the refused attempts on path.
func (r *Request) RefusedAttempts(path string) int {
	n := 0
	for _, a := range r.Attempts {
		if a.Path == path {
			n++
		}
	}
	return n
}

// RecordAttempt keeps a refused attempt with request id while it awaits
// recognition. It returns how many refused attempts on that path the
// request now has; the caller audits the refusal with that number.
func (s *Service) RecordAttempt(ctx context.Context, id string, a Attempt) (int, error) {
	a.At = s.now()
	n := 0
	err := s.Store.UpdateEnrolment(ctx, id, func(e storage.Enrolment) (storage.Enrolment, error) {
		r, err := Decode(e.Data)
		if err != nil {
			return e, err
		}
		if State(e.State) != StateAwaitingRecognition {
			return e, fmt.Errorf("request %s is %s: %w", id, e.State, ErrNotReady)
		}
		if len(r.Attempts) < MaxAttemptsKept {
			r.Attempts = append(r.Attempts, a)
		}
		n = r.RefusedAttempts(a.Path)
		e.Data, e.UpdatedAt = r.encode(), a.At
		return e, nil
	})
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", id, err)
	}
	return n, nil
}

// RecogniseChecked is Recognise by the system (automatic paths) with the
// certificate status results, kept with the recognition for the verifier.
func (s *Service) RecogniseChecked(ctx context.Context, id string, checklist map[string]bool, status []revocation.Result) (storage.Enrolment, error) {
	return s.recognise(ctx, id, systemActor, checklist, status)
}
