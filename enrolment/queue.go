package enrolment

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spid-idp/spid-idp/storage"
)

// QueueItem is a request in the verification queue, as the console lists
// it (ui.md §9.1).
type QueueItem struct {
	Enrolment storage.Enrolment
	Request   *Request
	// Status is on_time, at_risk or late (§6.2); "paused" while awaiting
	// documents.
	Status string
	// ClaimedBy is the operator holding a live claim, "" when none.
	ClaimedBy string
}

// Queue lists the requests awaiting processing or documents, most urgent
// deadline first (paused ones last).
func (s *Service) Queue(ctx context.Context) ([]QueueItem, error) {
	es, err := s.Store.ListEnrolments(ctx, []string{string(StateAwaitingProcessing), string(StateAwaitingDocuments)})
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]QueueItem, 0, len(es))
	for _, e := range es {
		r, err := Decode(e.Data)
		if err != nil {
			return nil, fmt.Errorf("request %s: %w", e.ID, err)
		}
		it := QueueItem{Enrolment: e, Request: r, Status: "paused"}
		if State(e.State) == StateAwaitingProcessing {
			it.Status = s.Calendar.Status(now, e.QueuedAt, e.DeadlineAt)
			if r.ClaimedBy != "" && now.Before(r.ClaimedUntil) {
				it.ClaimedBy = r.ClaimedBy
			}
		}
		out = append(out, it)
	}
	slices.SortStableFunc(out, func(a, b QueueItem) int {
		pa, pb := a.Status == "paused", b.Status == "paused"
		if pa != pb {
			if pa {
				return 1
			}
			return -1
		}
		return a.Enrolment.DeadlineAt.Compare(b.Enrolment.DeadlineAt)
	})
	return out, nil
}

// FindForAgent is the only lookup a shop agent or counter operator has
// (E039): the exact request code and the last 4 characters of the CF. Any
// other combination finds nothing, with the same error, so the lookup
// cannot be used to probe which codes exist. Only requests awaiting
// recognition are found.
func (s *Service) FindForAgent(ctx context.Context, operatorID, code, cfSuffix string) (storage.Enrolment, error) {
	if _, err := s.checkOperator(ctx, operatorID, ActRecognise, "enrolment.agent_lookup", ""); err != nil {
		return storage.Enrolment{}, err
	}
	notFound := fmt.Errorf("no request with that code and fiscal code: %w", storage.ErrNotFound)
	code = NormaliseCode(code)
	suffix := strings.ToUpper(strings.TrimSpace(cfSuffix))
	var e storage.Enrolment
	err := storage.ErrNotFound
	if len(code) == 10 && len(suffix) == 4 {
		e, err = s.Store.GetEnrolmentByCode(ctx, code)
	}
	ok := err == nil && len(e.FiscalNumber) == 16 &&
		subtle.ConstantTimeCompare([]byte(e.FiscalNumber[12:]), []byte(suffix)) == 1 &&
		State(e.State) == StateAwaitingRecognition && !automaticPaths[e.Path]
	outcome := "success"
	if !ok {
		outcome = "failure"
	}
	if aerr := s.record(ctx, operatorID, "enrolment.agent_lookup", e.ID, outcome, map[string]string{"code": oneLine(code, 20)}); aerr != nil {
		return storage.Enrolment{}, aerr
	}
	if !ok {
		return storage.Enrolment{}, notFound
	}
	return e, nil
}

// oneLine keeps a typed value fit for a log line: printable, at most n bytes.
func oneLine(v string, n int) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	if len(v) > n {
		v = v[:n]
	}
	return strings.ToValidUTF8(v, "")
}

// Lookup is how an applicant finds their request without the browser it
// was started in (the status page): the exact request code and the last 4
// characters of the fiscal code. A wrong pair gets the same ErrNotFound
// whatever was wrong, and every attempt is audited.
func (s *Service) Lookup(ctx context.Context, code, cfSuffix string) (storage.Enrolment, *Request, error) {
	code = NormaliseCode(code)
	suffix := strings.ToUpper(strings.TrimSpace(cfSuffix))
	var e storage.Enrolment
	err := storage.ErrNotFound
	if len(code) == 10 && len(suffix) == 4 {
		e, err = s.Store.GetEnrolmentByCode(ctx, code)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Enrolment{}, nil, err
	}
	ok := err == nil && len(e.FiscalNumber) == 16 &&
		subtle.ConstantTimeCompare([]byte(e.FiscalNumber[12:]), []byte(suffix)) == 1
	outcome := "success"
	if !ok {
		outcome = "failure"
	}
	if aerr := s.record(ctx, applicantActor, "enrolment.status_lookup", e.ID, outcome, map[string]string{"code": oneLine(code, 20)}); aerr != nil {
		return storage.Enrolment{}, nil, aerr
	}
	if !ok {
		return storage.Enrolment{}, nil, fmt.Errorf("no request with that code and fiscal code: %w", storage.ErrNotFound)
	}
	return s.Get(ctx, e.ID)
}
