package templates

import (
	"html/template"
	"reflect"
	"time"
)

// Operator console pages (ui.md §9): the back office of enrolment. They
// are registered here so the console stays out of pages.go.
const (
	PageConsoleLogin     = "console-login"     // ConsoleLoginPage
	PageConsoleQueue     = "console-queue"     // ConsoleQueuePage
	PageConsoleRequest   = "console-request"   // ConsoleRequestPage
	PageConsoleFind      = "console-find"      // ConsoleFindPage
	PageConsoleRecognise = "console-recognise" // ConsoleRecognisePage
	PageConsoleMessage   = "console-message"   // ConsoleMessagePage
	PageConsoleFactor    = "console-factor"    // ConsoleFactorPage
	PageConsoleOperators = "console-operators" // ConsoleOperatorsPage
)

func init() {
	pages[PageConsoleLogin] = pageSpec{"layout.html", reflect.TypeFor[ConsoleLoginPage]()}
	pages[PageConsoleQueue] = pageSpec{"layout.html", reflect.TypeFor[ConsoleQueuePage]()}
	pages[PageConsoleRequest] = pageSpec{"layout.html", reflect.TypeFor[ConsoleRequestPage]()}
	pages[PageConsoleFind] = pageSpec{"layout.html", reflect.TypeFor[ConsoleFindPage]()}
	pages[PageConsoleRecognise] = pageSpec{"layout.html", reflect.TypeFor[ConsoleRecognisePage]()}
	pages[PageConsoleMessage] = pageSpec{"layout.html", reflect.TypeFor[ConsoleMessagePage]()}
	pages[PageConsoleFactor] = pageSpec{"layout.html", reflect.TypeFor[ConsoleFactorPage]()}
	pages[PageConsoleOperators] = pageSpec{"layout.html", reflect.TypeFor[ConsoleOperatorsPage]()}
}

// ConsoleOperatorRow is one operator on the supervisor's page: Action
// (empty for the supervisor's own row and disabled accounts) takes
// "reason" and issues a new enrolment code.
type ConsoleOperatorRow struct {
	Username, Name, Factors, Action string
}

// ConsoleOperatorsPage lists the operators' second factors for a
// supervisor; Code is an enrolment code just issued for CodeFor, shown
// once.
type ConsoleOperatorsPage struct {
	ConsoleFrame
	Rows          []ConsoleOperatorRow
	Code, CodeFor string
}

// ConsoleFactorPage is the operator's second factor after the password
// (security.md E.1). Mode "verify" asks for a registered factor, "code" for
// the supervisor's enrolment code, "enrol" offers to register a passkey or
// a TOTP app, "none" says to ask a supervisor for a code.
type ConsoleFactorPage struct {
	ConsoleFrame
	Mode     string
	ErrorKey string // catalogue key of the refusal, "" for none
	// PasskeyOptions is the WebAuthn options JSON for the page's script
	// ("" when passkeys are unavailable); PasskeyAction receives the
	// browser's answer in the field "credential".
	PasskeyOptions, PasskeyAction string
	HasPasskey, HasTOTP           bool
	TOTPAction, CodeAction        string
	// QR (a data: URL) and Secret set up a TOTP app in mode "enrol".
	QR     template.URL
	Secret string
}

// ConsoleFrame is what every signed-in console page shows: who is signed
// in, the logout form, and a notice or error of the last action.
type ConsoleFrame struct {
	Operator string // username; "" on the login page
	Roles    []string
	CSRF     string
	Logout   string // action of the logout form
	Home     string
	// OperatorsPage links supervisors to the operators' second factors.
	OperatorsPage string
	// VideoPage links video operators and supervisors to the video-call
	// agenda (package videocall).
	VideoPage string
	Notice    string // plain text, escaped
	Error     string // plain text, escaped
	// Responsible is the person responsible for identity verification
	// (DPCM art. 7 c.1), shown in the console.
	Responsible   string
	ResponsibleEN string // on English pages; "": Responsible
}

// ConsoleLoginPage is the operator login: FieldCSRF, FieldUsername,
// FieldPassword posted to Action.
type ConsoleLoginPage struct {
	ConsoleFrame
	Action   string
	Username string
	Failed   bool
	Throttle bool
}

// ConsoleQueueRow is one request of the verification queue (ui.md §9.1).
type ConsoleQueueRow struct {
	Code      string
	Link      string
	State     string
	Path      string
	Type      string
	QueuedAt  time.Time
	Deadline  time.Time
	Status    string // on_time, at_risk, late, paused
	ClaimedBy string
	Recheck   bool
}

// ConsoleQueuePage lists the queue, most urgent first.
type ConsoleQueuePage struct {
	ConsoleFrame
	Rows                   []ConsoleQueueRow
	OnTime, AtRisk, Late   int
	Paused                 int
	FindLink               string // for operators who also recognise
	ReadOnly               bool   // auditor
	AgentFind, CanDecide   bool
	SupervisorRecheckCount int
}

// ConsoleField is one labelled value.
type ConsoleField struct{ Label, Value string }

// ConsoleEvidence is one evidence item with its open form.
type ConsoleEvidence struct {
	ID, Kind, MediaType, SHA256 string
	Label                       string // the kind, in words
	Size                        int64
	Created                     time.Time
	UploadedBy                  string
	Open                        string // action of the open form ("" when the operator may not open it)
	NeedsSupervisor             bool
}

// ConsoleCheck is a checklist item; Done and At for ticked items.
type ConsoleCheck struct {
	Key   string
	Label string
	Done  bool
	At    time.Time
}

// ConsoleAttempt is a refused recognition attempt (a card, a signed file).
type ConsoleAttempt struct {
	At                             time.Time
	Path, Reason, Code, Detail, IP string
}

// ConsoleOption is a value of a select or a checkbox list.
type ConsoleOption struct{ Value, Label, Hint string }

// ConsoleRequestPage is the case page (ui.md §9.2).
type ConsoleRequestPage struct {
	ConsoleFrame
	Code, State, StateLabel, Path, Type string
	Status                              string
	QueuedAt, Deadline                  time.Time
	ClaimedBy                           string
	ClaimedByMe                         bool
	RecognisedBy                        string
	RecognisedAt                        time.Time
	Applicant                           []ConsoleField
	Document                            []ConsoleField
	Recognition                         []ConsoleCheck
	// Revocation is the OCSP/CRL status of the card's or signer's
	// certificates; Attempts the refused recognition attempts.
	Revocation         []ConsoleCheck
	Attempts           []ConsoleAttempt
	Evidence           []ConsoleEvidence
	AccessReasons      []ConsoleOption
	Checklist          []ConsoleOption // §6.1 items to tick
	Reasons            []ConsoleOption // rejection codes with corrective actions
	DocumentsRequested []string
	Decided            string // outcome once decided

	// Actions; "" hides the form.
	Claim, Release, Approve, Reject, AskDocuments, DocumentsReceived string
	// Blocked explains why the decision buttons are disabled (four eyes,
	// claim by someone else, read-only role, state); "" when enabled.
	Blocked string
	Queue   string
}

// ConsoleFindPage is the only lookup agents have: exact code + last 4 CF
// characters (E039).
type ConsoleFindPage struct {
	ConsoleFrame
	Action   string
	Code     string
	NotFound bool
}

// ConsoleRecognisePage is the in-person (shop, counter) or video
// recognition of one request.
type ConsoleRecognisePage struct {
	ConsoleFrame
	Code, Path  string
	Video       bool
	Applicant   []ConsoleField
	Document    []ConsoleField
	Checklist   []ConsoleCheck
	Tick        string // action of the per-item tick form (video)
	Upload      string
	UploadKinds []ConsoleOption
	// Scans are the citizen's document scans, each opened (audited) by
	// posting "reason" (verification) and "reference" to its Open.
	Scans        []ConsoleEvidence
	Uploaded     []ConsoleEvidence
	SendOTP      string
	CheckOTP     string
	OTPSent      bool
	OTPConfirmed bool
	Confirm      string
	Missing      []string // what still blocks the confirmation
	Form         string   // link to the printable adhesion form ("" when none)
}

// ConsoleMessagePage is a short outcome or refusal page.
type ConsoleMessagePage struct {
	ConsoleFrame
	Title string
	Text  string
	Back  string
}
