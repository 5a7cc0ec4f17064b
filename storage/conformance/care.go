package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// RunTickets runs the storage.Tickets conformance suite (subtests prefixed
// "care"). newStore must return an empty store for the subtest it is given
// and close it in t.Cleanup.
func RunTickets(t *testing.T, newStore func(t *testing.T) storage.Tickets) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Tickets)
	}{
		{"careCRUD", careTestCRUD},
		{"careErrors", careTestErrors},
		{"careList", careTestList},
		{"careUpdateKeepsIdentity", careTestUpdateKeeps},
		{"careUpdateAborts", careTestUpdateAborts},
		{"careConcurrentUpdate", careTestConcurrentUpdate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

func careTicket(n int, kind string) storage.Ticket {
	at := storeT0.Add(time.Duration(n) * time.Hour)
	return storage.Ticket{
		ID: fmt.Sprintf("tk-%03d", n), Reference: fmt.Sprintf("R-%05d", n), Kind: kind, State: "received",
		Channel: "web", Product: "SPID", Subject: "Accesso", Message: "Non riesco ad accedere\nàèìòù",
		Attachments: []storage.TicketAttachment{
			{EvidenceID: "ev-1", Kind: "complaint_letter", FileName: "lettera.pdf", MediaType: "application/pdf", Size: 1234,
				SHA256: "ab", UploadedBy: "requester", CreatedAt: at, RetentionClass: "complaints"},
			{EvidenceID: "ev-2", FileName: "foto.png"}}, ContactEmail: "mario@example.it", ContactName: "Mario",
		Thread:   []storage.TicketMessage{{At: at, Author: "requester", Kind: "request", Text: "ciao", Attachments: []string{"ev-1"}}},
		OpenedAt: at, UpdatedAt: at,
	}
}

// careNorm is what a backend gives back: UTC, microseconds.
func careNorm(t storage.Ticket) storage.Ticket {
	n := func(tm time.Time) time.Time {
		if tm.IsZero() {
			return tm
		}
		return tm.UTC().Truncate(time.Microsecond)
	}
	t.OpenedAt, t.AssignedAt, t.DeadlineAt = n(t.OpenedAt), n(t.AssignedAt), n(t.DeadlineAt)
	t.AnsweredAt, t.ClosedAt, t.UpdatedAt = n(t.AnsweredAt), n(t.ClosedAt), n(t.UpdatedAt)
	th := make([]storage.TicketMessage, len(t.Thread))
	for i, m := range t.Thread {
		m.At = n(m.At)
		th[i] = m
	}
	if len(th) == 0 {
		th = nil
	}
	t.Thread = th
	as := make([]storage.TicketAttachment, len(t.Attachments))
	for i, a := range t.Attachments {
		a.CreatedAt = n(a.CreatedAt)
		as[i] = a
	}
	if len(as) == 0 {
		as = nil
	}
	t.Attachments = as
	return t
}

func careCheck(t *testing.T, got, want storage.Ticket) {
	t.Helper()
	want = careNorm(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticket =\n%+v\nwant\n%+v", got, want)
	}
	for _, tm := range []time.Time{got.OpenedAt, got.DeadlineAt, got.UpdatedAt} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("time %v not in UTC", tm)
		}
	}
}

func careTestCRUD(t *testing.T, s storage.Tickets) {
	ctx := t.Context()
	tk := careTicket(1, storage.TicketKindComplaint)
	tk.DeadlineAt = storeT0.Add(14 * 24 * time.Hour)
	tk.AssignedAt = storeT0
	if err := s.CreateTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	careCheck(t, got, tk)
	got, err = s.GetTicketByReference(ctx, tk.Reference)
	if err != nil {
		t.Fatal(err)
	}
	careCheck(t, got, tk)

	err = s.UpdateTicket(ctx, tk.ID, func(v storage.Ticket) (storage.Ticket, error) {
		v.State, v.Category, v.Level, v.AssignedTo = "answered", "information", 2, "op-1"
		v.Analysis, v.Resolution, v.ExpectedTime = "a", "r", "5 giorni"
		v.IndemnityDue, v.IndemnityAmount = true, "10,00 EUR"
		v.Thread = append(v.Thread, storage.TicketMessage{At: storeT0.Add(time.Hour), Author: "op-1", Kind: "answer", Text: "risposta"})
		v.AnsweredAt = storeT0.Add(time.Hour)
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tk
	want.State, want.Category, want.Level, want.AssignedTo = "answered", "information", 2, "op-1"
	want.Analysis, want.Resolution, want.ExpectedTime = "a", "r", "5 giorni"
	want.IndemnityDue, want.IndemnityAmount = true, "10,00 EUR"
	want.Thread = append(append([]storage.TicketMessage(nil), tk.Thread...),
		storage.TicketMessage{At: storeT0.Add(time.Hour), Author: "op-1", Kind: "answer", Text: "risposta"})
	want.AnsweredAt = storeT0.Add(time.Hour)
	got, err = s.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	careCheck(t, got, want)
}

func careTestErrors(t *testing.T, s storage.Tickets) {
	ctx := t.Context()
	tk := careTicket(1, storage.TicketKindTicket)
	if err := s.CreateTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	dupID := careTicket(2, storage.TicketKindTicket)
	dupID.ID = tk.ID
	dupRef := careTicket(3, storage.TicketKindTicket)
	dupRef.Reference = tk.Reference
	for name, v := range map[string]storage.Ticket{"same ID": dupID, "same reference": dupRef} {
		if err := s.CreateTicket(ctx, v); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("%s: %v, want ErrAlreadyExists", name, err)
		}
	}
	bad := map[string]func(*storage.Ticket){
		"no reference": func(v *storage.Ticket) { v.Reference = "" },
		"no ID":        func(v *storage.Ticket) { v.ID = "" },
		"bad kind":     func(v *storage.Ticket) { v.Kind = "other" },
		"no state":     func(v *storage.Ticket) { v.State = "" },
		"NUL message":  func(v *storage.Ticket) { v.Message = "a\x00b" },
		"bad UTF-8":    func(v *storage.Ticket) { v.Thread[0].Text = "\xff" },
		"NUL filename": func(v *storage.Ticket) { v.Attachments[0].FileName = "a\x00" },
	}
	for name, mut := range bad {
		v := careTicket(9, storage.TicketKindTicket)
		mut(&v)
		if err := s.CreateTicket(ctx, v); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
	for _, key := range []string{"nope", "a\x00b", "\xff"} {
		if _, err := s.GetTicket(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetTicket(%q) = %v", key, err)
		}
		if _, err := s.GetTicketByReference(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetTicketByReference(%q) = %v", key, err)
		}
		err := s.UpdateTicket(ctx, key, func(v storage.Ticket) (storage.Ticket, error) {
			t.Error("fn called for an unknown ticket")
			return v, nil
		})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("UpdateTicket(%q) = %v", key, err)
		}
	}
	if l, err := s.ListTickets(ctx, storage.TicketFilter{States: []string{"\x00"}}); err != nil || len(l) != 0 {
		t.Errorf("list with odd state = %v, %v", l, err)
	}
}

func careTestList(t *testing.T, s storage.Tickets) {
	ctx := t.Context()
	var all []storage.Ticket
	for i := 5; i >= 1; i-- { // created newest first: the list must still be oldest first
		kind := storage.TicketKindTicket
		if i%2 == 0 {
			kind = storage.TicketKindComplaint
		}
		tk := careTicket(i, kind)
		if i == 2 {
			tk.State, tk.AssignedTo, tk.IdentityID = "open", "op-1", "id-9"
		}
		if kind == storage.TicketKindComplaint {
			tk.DeadlineAt = storeT0.Add(time.Duration(i) * 24 * time.Hour)
		}
		if err := s.CreateTicket(ctx, tk); err != nil {
			t.Fatal(err)
		}
		all = append([]storage.Ticket{tk}, all...)
	}
	ids := func(l []storage.Ticket) string {
		out := ""
		for _, v := range l {
			out += v.ID + " "
		}
		return out
	}
	cases := []struct {
		f    storage.TicketFilter
		want string
	}{
		{storage.TicketFilter{}, "tk-001 tk-002 tk-003 tk-004 tk-005 "},
		{storage.TicketFilter{Kind: storage.TicketKindComplaint}, "tk-002 tk-004 "},
		{storage.TicketFilter{States: []string{"open", "closed"}}, "tk-002 "},
		{storage.TicketFilter{States: []string{"received"}, Kind: storage.TicketKindTicket}, "tk-001 tk-003 tk-005 "},
		{storage.TicketFilter{AssignedTo: "op-1"}, "tk-002 "},
		{storage.TicketFilter{IdentityID: "id-9"}, "tk-002 "},
		{storage.TicketFilter{DeadlineBefore: storeT0.Add(3 * 24 * time.Hour)}, "tk-002 "},
		{storage.TicketFilter{Limit: 2}, "tk-001 tk-002 "},
		{storage.TicketFilter{Kind: "\xff"}, ""},
	}
	for _, c := range cases {
		got, err := s.ListTickets(ctx, c.f)
		if err != nil {
			t.Fatalf("%+v: %v", c.f, err)
		}
		if ids(got) != c.want {
			t.Errorf("ListTickets(%+v) = %q, want %q", c.f, ids(got), c.want)
		}
	}
	got, _ := s.ListTickets(ctx, storage.TicketFilter{})
	for i := range got {
		careCheck(t, got[i], all[i])
	}
}

func careTestUpdateKeeps(t *testing.T, s storage.Tickets) {
	ctx := t.Context()
	tk := careTicket(1, storage.TicketKindTicket)
	if err := s.CreateTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	err := s.UpdateTicket(ctx, tk.ID, func(v storage.Ticket) (storage.Ticket, error) {
		v.ID, v.Reference, v.Kind, v.State = "other", "R-other", storage.TicketKindComplaint, "open"
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTicket(ctx, tk.ID)
	if err != nil || got.Reference != tk.Reference || got.Kind != tk.Kind || got.State != "open" {
		t.Errorf("after update: %+v, %v", got, err)
	}
}

func careTestUpdateAborts(t *testing.T, s storage.Tickets) {
	ctx := t.Context()
	tk := careTicket(1, storage.TicketKindTicket)
	if err := s.CreateTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.UpdateTicket(ctx, tk.ID, func(v storage.Ticket) (storage.Ticket, error) {
		v.State = "open"
		return v, boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want fn's", err)
	}
	err = s.UpdateTicket(ctx, tk.ID, func(v storage.Ticket) (storage.Ticket, error) {
		v.State, v.Subject = "open", "\x00"
		return v, nil
	})
	if err == nil {
		t.Error("NUL subject stored by update")
	}
	if got, _ := s.GetTicket(ctx, tk.ID); got.State != "received" {
		t.Errorf("state = %q after aborted updates", got.State)
	}
}

// Concurrent updates each append to the thread: none is lost.
func careTestConcurrentUpdate(t *testing.T, s storage.Tickets) {
	ctx := t.Context()
	tk := careTicket(1, storage.TicketKindTicket)
	tk.Thread = nil
	if err := s.CreateTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateTicket(ctx, tk.ID, func(v storage.Ticket) (storage.Ticket, error) {
				v.Thread = append(v.Thread, storage.TicketMessage{At: storeT0, Author: fmt.Sprint(i), Kind: "note", Text: "x"})
				return v, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetTicket(ctx, tk.ID)
	if err != nil || len(got.Thread) != n {
		t.Errorf("thread has %d messages, want %d (%v)", len(got.Thread), n, err)
	}
}
