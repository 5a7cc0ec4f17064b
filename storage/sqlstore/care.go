package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

var _ storage.Tickets = (*Store)(nil)

// ticketData is the part of a ticket kept as one JSON document.
type ticketData struct {
	Category        string                     `json:"category,omitempty"`
	Level           int                        `json:"level,omitempty"`
	Product         string                     `json:"product,omitempty"`
	Subject         string                     `json:"subject,omitempty"`
	Message         string                     `json:"message,omitempty"`
	Attachments     []storage.TicketAttachment `json:"attachments,omitempty"`
	ContactEmail    string                     `json:"contact_email,omitempty"`
	ContactName     string                     `json:"contact_name,omitempty"`
	Thread          []storage.TicketMessage    `json:"thread,omitempty"`
	Analysis        string                     `json:"analysis,omitempty"`
	Resolution      string                     `json:"resolution,omitempty"`
	ExpectedTime    string                     `json:"expected_time,omitempty"`
	IndemnityDue    bool                       `json:"indemnity_due,omitempty"`
	IndemnityAmount string                     `json:"indemnity_amount,omitempty"`
	AssignedAt      string                     `json:"assigned_at,omitempty"`
}

// ticketBlob encodes the JSON part of t. Thread times are kept in UTC to the
// microsecond, like every column.
func (s *Store) ticketBlob(t storage.Ticket) []byte {
	d := ticketData{Category: t.Category, Level: t.Level, Product: t.Product, Subject: t.Subject,
		Message: t.Message, ContactEmail: t.ContactEmail,
		ContactName: t.ContactName, Analysis: t.Analysis, Resolution: t.Resolution,
		ExpectedTime: t.ExpectedTime, IndemnityDue: t.IndemnityDue, IndemnityAmount: t.IndemnityAmount}
	if !t.AssignedAt.IsZero() {
		d.AssignedAt = t.AssignedAt.UTC().Truncate(time.Microsecond).Format(textTime)
	}
	for _, a := range t.Attachments {
		a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Microsecond)
		d.Attachments = append(d.Attachments, a)
	}
	for _, m := range t.Thread {
		m.At = m.At.UTC().Truncate(time.Microsecond)
		d.Thread = append(d.Thread, m)
	}
	b, err := json.Marshal(d)
	if err != nil {
		// Strings, ints, bools and times always marshal.
		panic("sqlstore: marshal ticket: " + err.Error())
	}
	return b
}

// ticketDataDest scans the JSON part into the ticket.
type ticketDataDest struct{ t *storage.Ticket }

func (d ticketDataDest) Scan(src any) error {
	var x ticketData
	null, err := scanJSON(src, &x, "ticket data")
	if err != nil {
		return err
	}
	if null {
		return fmt.Errorf("sqlstore: cannot scan %T into ticket data", src)
	}
	t := d.t
	t.Category, t.Level, t.Product, t.Subject, t.Message = x.Category, x.Level, x.Product, x.Subject, x.Message
	t.Attachments, t.ContactEmail, t.ContactName, t.Thread = x.Attachments, x.ContactEmail, x.ContactName, x.Thread
	t.Analysis, t.Resolution, t.ExpectedTime = x.Analysis, x.Resolution, x.ExpectedTime
	t.IndemnityDue, t.IndemnityAmount = x.IndemnityDue, x.IndemnityAmount
	for i := range t.Thread {
		t.Thread[i].At = t.Thread[i].At.UTC()
	}
	for i := range t.Attachments {
		t.Attachments[i].CreatedAt = t.Attachments[i].CreatedAt.UTC()
	}
	if x.AssignedAt != "" {
		if err := (timeDest{&t.AssignedAt}).parse(x.AssignedAt); err != nil {
			return err
		}
	}
	return nil
}

func checkTicket(v storage.Ticket) error {
	switch {
	case v.Reference == "":
		return errors.New("empty reference")
	case v.Kind != storage.TicketKindTicket && v.Kind != storage.TicketKindComplaint:
		return fmt.Errorf("unknown kind %q", v.Kind)
	case v.State == "":
		return errors.New("empty state")
	}
	texts := []string{v.Product, v.Subject, v.Message, v.Category, v.ContactEmail, v.ContactName,
		v.Analysis, v.Resolution, v.ExpectedTime, v.IndemnityAmount}
	for _, a := range v.Attachments {
		texts = append(texts, a.EvidenceID, a.Kind, a.FileName, a.MediaType, a.SHA256, a.UploadedBy, a.RetentionClass)
	}
	for _, s := range texts {
		if !storable(s) {
			return errors.New("text contains NUL or invalid UTF-8")
		}
	}
	for _, m := range v.Thread {
		if !storable(m.Text) || !storable(m.Author) || !storable(m.Kind) {
			return errors.New("thread text contains NUL or invalid UTF-8")
		}
	}
	return nil
}

var tickets = table[storage.Ticket]{
	name: "tickets",
	what: "ticket",
	cols: []string{"id", "reference", "kind", "state", "channel", "identity_id", "assigned_to", "data",
		"opened_at", "deadline_at", "answered_at", "closed_at", "updated_at"},
	fixed:   2, // reference is e-mailed and kind decides the rules: neither changes
	orderBy: "opened_at NULLS FIRST, id",
	check:   checkTicket,
	args: func(s *Store, v storage.Ticket) []any {
		return []any{v.ID, v.Reference, v.Kind, v.State, v.Channel, v.IdentityID, v.AssignedTo, s.ticketBlob(v),
			s.timeArg(v.OpenedAt), s.timeArg(v.DeadlineAt), s.timeArg(v.AnsweredAt), s.timeArg(v.ClosedAt),
			s.timeArg(v.UpdatedAt)}
	},
	dests: func(v *storage.Ticket) []any {
		return []any{&v.ID, &v.Reference, &v.Kind, &v.State, &v.Channel, &v.IdentityID, &v.AssignedTo,
			ticketDataDest{v}, timeDest{&v.OpenedAt}, timeDest{&v.DeadlineAt}, timeDest{&v.AnsweredAt},
			timeDest{&v.ClosedAt}, timeDest{&v.UpdatedAt}}
	},
}

// CreateTicket stores a new ticket or complaint; ErrAlreadyExists if its ID
// or reference is taken.
func (s *Store) CreateTicket(ctx context.Context, t storage.Ticket) error {
	return tickets.create(ctx, s, t)
}

// GetTicket returns the ticket with the given internal ID.
func (s *Store) GetTicket(ctx context.Context, id string) (storage.Ticket, error) {
	return tickets.get(ctx, s, "id", id, quote(id))
}

// GetTicketByReference returns the ticket with the given public reference.
func (s *Store) GetTicketByReference(ctx context.Context, reference string) (storage.Ticket, error) {
	return tickets.get(ctx, s, "reference", reference, "by reference")
}

// ListTickets returns the tickets f selects, oldest first.
func (s *Store) ListTickets(ctx context.Context, f storage.TicketFilter) ([]storage.Ticket, error) {
	var where []string
	var args []any
	eq := func(col, val string) bool {
		if val == "" {
			return true
		}
		if !storable(val) {
			return false
		}
		where, args = append(where, col+" = ?"), append(args, val)
		return true
	}
	if !eq("kind", f.Kind) || !eq("assigned_to", f.AssignedTo) || !eq("identity_id", f.IdentityID) {
		return nil, nil // nothing stored can match, and PostgreSQL would fail the query
	}
	if len(f.States) > 0 {
		n := 0
		for _, st := range f.States {
			if storable(st) {
				args, n = append(args, st), n+1
			}
		}
		if n == 0 {
			return nil, nil
		}
		where = append(where, "state IN (?"+strings.Repeat(", ?", n-1)+")")
	}
	if !f.DeadlineBefore.IsZero() {
		where, args = append(where, "deadline_at IS NOT NULL AND deadline_at < ?"), append(args, s.timeArg(f.DeadlineBefore))
	}
	cond := "1 = 1"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	if f.Limit > 0 {
		cond += fmt.Sprintf(" ORDER BY %s LIMIT %d", tickets.orderBy, f.Limit)
		return listRaw(ctx, s, &tickets, cond, args...)
	}
	return listWhere(ctx, s, &tickets, cond, args...)
}

// UpdateTicket is a read-modify-write of one ticket; its ID, reference and
// kind are kept whatever fn returns.
func (s *Store) UpdateTicket(ctx context.Context, id string, fn func(storage.Ticket) (storage.Ticket, error)) error {
	return tickets.update(ctx, s, id, fn)
}

// listRaw is listWhere for a condition that carries its own ORDER BY.
func listRaw[T any](ctx context.Context, s *Store, t *table[T], cond string, args ...any) ([]T, error) {
	return t.query(ctx, s, t.selectFrom()+" WHERE "+cond, args...)
}
