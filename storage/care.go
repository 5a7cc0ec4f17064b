package storage

import (
	"context"
	"time"
)

// Ticket kinds (enrolment-lifecycle.md §11.2, §11.4).
const (
	TicketKindTicket    = "ticket"
	TicketKindComplaint = "complaint"
)

// TicketMessage is one entry of a ticket's thread: the requester's first
// message, a reply, an agent's note or answer.
type TicketMessage struct {
	At          time.Time
	Author      string // operator ID, "requester", or "system"
	Kind        string // "request", "reply", "note", "answer"
	Text        string
	Attachments []string // evidence item IDs
}

// TicketAttachment is an evidence item attached to a ticket, with what the
// evidence store needs to open it again (evidence.Item's fields).
type TicketAttachment struct {
	EvidenceID string
	Kind       string
	FileName   string // as the uploader named it, for display only
	MediaType  string // sniffed
	Size       int64
	SHA256     string
	UploadedBy string
	CreatedAt  time.Time
	// RetentionClass is "tickets" or "complaints" (§12.4); the period runs
	// from the ticket's closing.
	RetentionClass string
}

// Ticket is a trouble ticket or a formal complaint (§11). The columns are
// what the desk searches and orders on; the rest travels as JSON, so adding
// a field needs no migration.
type Ticket struct {
	ID        string // internal UUID
	Reference string // human-readable number, unique, e-mailed; never changes
	Kind      string // TicketKindTicket or TicketKindComplaint
	State     string // §11.2 states for tickets; complaint states of package care
	Channel   string // web, phone, email, pec, letter, chat, counter
	Category  string // one of the eight LG-STAT T8 categories; "" while received
	Level     int    // support level after an escalation (2, 3); 0 before
	Product   string
	Subject   string
	Message   string
	// Attachments are what the requester sent (a scanned letter for a
	// complaint registered by an agent), stored as evidence items.
	Attachments  []TicketAttachment
	ContactEmail string
	ContactName  string
	IdentityID   string // "" when the requester is not known as a holder
	AssignedTo   string // operator ID
	Thread       []TicketMessage
	// Answer of a complaint (§11.4): all three parts before it is sent.
	Analysis     string
	Resolution   string
	ExpectedTime string
	// IndemnityDue records a missed service-charter standard and the amount
	// owed from the configured charter.
	IndemnityDue    bool
	IndemnityAmount string
	OpenedAt        time.Time
	AssignedAt      time.Time
	DeadlineAt      time.Time // complaints: assignment + 14 days, end of day Europe/Rome
	AnsweredAt      time.Time
	ClosedAt        time.Time
	UpdatedAt       time.Time
}

// TicketFilter selects tickets; empty fields select everything.
type TicketFilter struct {
	Kind       string
	States     []string // any of these
	AssignedTo string
	IdentityID string
	// DeadlineBefore, when set, keeps tickets with a deadline before it.
	DeadlineBefore time.Time
	Limit          int // 0: no limit
}

// Tickets stores tickets and complaints with Store's conventions
// (ErrNotFound / ErrAlreadyExists for a taken ID or Reference,
// read-modify-write, UTC times). Lists are oldest first.
type Tickets interface {
	CreateTicket(ctx context.Context, t Ticket) error
	GetTicket(ctx context.Context, id string) (Ticket, error)
	GetTicketByReference(ctx context.Context, reference string) (Ticket, error)
	ListTickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
	// UpdateTicket is read-modify-write; ID, Reference and Kind are kept
	// whatever fn returns.
	UpdateTicket(ctx context.Context, id string, fn func(Ticket) (Ticket, error)) error
}
