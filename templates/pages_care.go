package templates

import (
	"reflect"
	"time"
)

// Customer-care pages (ui.md §10; enrolment-lifecycle.md §11): the
// citizen's assistance and complaint forms and the care desk. Registered
// here so the care work stays out of pages.go.
const (
	PageCareHome     = "care-home"     // CareHomePage: the citizen's entry to assistance and complaints
	PageCareForm     = "care-form"     // CareFormPage: assistance, complaint, or desk registration
	PageCareFiled    = "care-filed"    // CareFiledPage: the reference after filing
	PageCareDesk     = "care-desk"     // CareDeskPage: ticket queue and complaints
	PageCareTicket   = "care-ticket"   // CareTicketPage: one ticket or complaint
	PageCareIdentity = "care-identity" // CareIdentityPage: lookup, suspension, reactivation
	PageCareMessage  = "care-message"  // CareMessagePage: a refusal in words (403)
)

func init() {
	pages[PageCareHome] = pageSpec{"layout.html", reflect.TypeFor[CareHomePage]()}
	pages[PageCareForm] = pageSpec{"layout.html", reflect.TypeFor[CareFormPage]()}
	pages[PageCareFiled] = pageSpec{"layout.html", reflect.TypeFor[CareFiledPage]()}
	pages[PageCareDesk] = pageSpec{"layout.html", reflect.TypeFor[CareDeskPage]()}
	pages[PageCareTicket] = pageSpec{"layout.html", reflect.TypeFor[CareTicketPage]()}
	pages[PageCareIdentity] = pageSpec{"layout.html", reflect.TypeFor[CareIdentityPage]()}
	pages[PageCareMessage] = pageSpec{"layout.html", reflect.TypeFor[CareMessagePage]()}
}

// CareHomePage is /care/: what customer care does, with the assistance
// request and the formal complaint, and how a suspended identity is
// reactivated.
type CareHomePage struct {
	Ticket, Complaint string // the two forms
	Portal            string // the personal area
	// Reactivate is the assistance form with the reactivation subject
	// already written, so a suspended citizen need not know what to type.
	Reactivate string
}

// CareFrame is the top of every desk page: who is signed in and the
// outcome of the last action (plain text, escaped).
type CareFrame struct {
	Operator string
	CSRF     string
	// Desk and Console link the desk's home and the console's; Logout
	// (with LogoutCSRF) is the console's logout form, "" when unknown.
	Desk, Console      string
	Logout, LogoutCSRF string
	Notice             string
	Error              string
}

// CareFormPage is the assistance form (§11.3), the complaint form, or,
// with Desk set, the registration of a complaint received by PEC or
// letter. It posts multipart/form-data with FieldCSRF, "form_id" (single
// use) and the fields below to Action.
type CareFormPage struct {
	CareFrame
	Action    string
	FormID    string
	Complaint bool
	Desk      bool
	Product   string
	Subject   string
	Message   string
	Email     string
	Name      string
	// ErrorKey is the catalogue key of what was wrong ("" when nothing).
	ErrorKey string
}

// CareFiledPage confirms a filed ticket or complaint.
type CareFiledPage struct {
	Reference string
	Complaint bool
	Deadline  time.Time // zero for tickets
	// Pending: the request waits for the e-mail link to be opened.
	Pending bool
}

// CareRow is one ticket or complaint in a list.
type CareRow struct {
	Reference string
	Link      string
	Complaint bool
	State     string
	Channel   string
	Category  string
	Subject   string
	Assigned  string
	OpenedAt  time.Time
	Deadline  time.Time
	// DeadlineStatus is on_time, at_risk, late or answered ("" for tickets).
	DeadlineStatus string
}

// CareDeskPage is the desk home: open tickets by state and complaints with
// their deadline badges.
type CareDeskPage struct {
	CareFrame
	Tickets    []CareRow
	Complaints []CareRow
	Register   string // link to the PEC/letter registration form
	Identity   string // link to the identity lookup
}

// CareMessage is one entry of the thread.
type CareMessage struct {
	At     time.Time
	Author string
	Kind   string // request, note, answer
	Text   string
}

// CareAttachment links an attachment (download audited).
type CareAttachment struct {
	Name      string
	Link      string
	MediaType string
	Size      int64
}

// CareTicketPage is one ticket or complaint with its actions: posts to
// Action with FieldCSRF and FieldOp "move" (state, category, level, note),
// "answer" (answer) or "complaint" (analysis, resolution, action_needed,
// expected_time, indemnity_due, indemnity_amount).
type CareTicketPage struct {
	CareFrame
	Row         CareRow
	Action      string
	Back        string
	Product     string
	Message     string
	Contact     string
	Level       int
	Thread      []CareMessage
	Attachments []CareAttachment
	Moves       []string // states the ticket may move to
	Categories  []string
	CanAnswer   bool // ticket with its solution ready
	CanComplain bool // complaint awaiting its answer
	ADRBody     string
	Analysis    string
	Resolution  string
	Expected    string
	Indemnity   string
}

// CareIdentityPage finds an identity by username or fiscal code (GET
// Search with "q") and offers, for a found one, suspension (FieldOp
// "suspend" with "channel" and the "verified" tick), reactivation
// proposal ("propose") and approval ("approve"), posted to Action.
type CareIdentityPage struct {
	CareFrame
	// CodeSent: a caller code went to the registered mobile; the suspension
	// form for a phone request then asks for it.
	CodeSent     bool
	Search       string
	Query        string
	Searched     bool
	Found        bool
	Action       string
	Username     string
	Name         string
	FiscalNumber string // masked
	Email        string // masked
	Mobile       string // masked
	State        string
	Until        time.Time // end of a timed suspension
	Pending      string    // waiting four-eyes action
	PendingBy    string
	Back         string
}

// CareMessagePage tells an operator, in words, why the desk refused
// (a role without the right, the four-eyes rule), with a way back.
type CareMessagePage struct {
	CareFrame
	Title, Text, Back string
}
