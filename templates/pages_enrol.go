package templates

import "reflect"

// Citizen enrolment and activation pages (ui.md, enrolment-lifecycle.md
// §5): one page type whose Step selects the form shown, so every step
// shares the frame, the error summary and the request code header.
const PageEnrol = "enrol-step" // EnrolPage

// Steps of EnrolPage.
const (
	EnrolStepStart      = "start"      // identity type and path
	EnrolStepData       = "data"       // personal data, document, scans
	EnrolStepEmail      = "email"      // e-mail link sent
	EnrolStepMobile     = "mobile"     // SMS code for the mobile number
	EnrolStepConsents   = "consents"   // privacy, terms, art. 76 declaration
	EnrolStepSubmit     = "submit"     // SMS code that confirms the request
	EnrolStepDone       = "done"       // request code, next steps by path
	EnrolStepRecognised = "recognised" // CNS / signature accepted
	EnrolStepActivate   = "activate"   // SMS code, username, password
	EnrolStepActivated  = "activated"  // identity active
	EnrolStepMessage    = "message"    // a plain message (link invalid, ...)
	EnrolStepStatus     = "status"     // a request's status by code and fiscal code
)

func init() {
	pages[PageEnrol] = pageSpec{"layout.html", reflect.TypeFor[EnrolPage]()}
}

// EnrolPage is every step of the citizen flow. Forms post FieldCSRF with
// CSRF to Action (and, on the data step, multipart scans).
type EnrolPage struct {
	Step   string
	Action string
	CSRF   string
	// Code is the request code, formatted for reading (XXXXX-XXXXX).
	Code         string
	Path         string
	IdentityType string
	State        string
	// Values refill the data form after an error.
	Values map[string]string
	// Errors are shown in the error summary, already in the page's
	// language where a translation exists.
	Errors []string
	// Actions are links shown under the errors: where to go instead
	// (recover the credentials, see the open request).
	Actions []EnrolLink
	Notice  string
	// Scans already kept with the draft, by kind (document_front, ...):
	// a short description of the file, so the applicant need not upload
	// it again after an error.
	Scans map[string]string
	// Paths offered on the start step (the CNS path only with its
	// listener, the signature path only with a trust list).
	Paths []string
	// Masked contact the code or link went to.
	Contact string
	// Signature path: the form to download and where to upload it.
	FormURL      string
	UploadAction string
	// CNS path: the link to the dedicated TLS listener.
	CNSURL string
	// LoginURL: where a newly active identity can log in.
	LoginURL string
	// Title and Text of the message step.
	Title, Text string
	// CodeSent: the activation SMS was sent, so the activation step shows
	// the code, username and password fields (before: only the button).
	CodeSent bool
	// AccountURL is the personal area, offered once the identity is active.
	AccountURL string
	// Points of service of the request's path (shop, counter), the
	// provinces that have one and the province the list is filtered by.
	Points    []EnrolPoint
	Provinces []string
	// VideoURL is the video path's booking page (package videocall);
	// VideoWhen the appointment booked, "" when none.
	VideoURL, VideoWhen string
	Province            string
	// Status is the request found on the status page.
	Status *EnrolStatus
}

// EnrolPoint is a partner shop or registration counter.
type EnrolPoint struct {
	Name, Address, Province string
	Hours, HoursEN          string // HoursEN on English pages; "": Hours
}

// EnrolStatus is what the status page says of a request, in the page's
// language.
type EnrolStatus struct {
	Label    string   // the state's external label (ATTESA RICONOSCIMENTO)
	Meaning  string   // what the state means
	Next     string   // what the applicant does next
	Deadline string   // dd/mm/yyyy HH:MM, or ""
	Reasons  []string // a rejection's reasons, each with its corrective action
	// Code and Suffix repeat the lookup, for the forms on the page.
	Code, Suffix string
	// Resend offers to e-mail the correction link again.
	Resend bool
}

// EnrolLink is a link offered on an enrolment page.
type EnrolLink struct{ Href, Text string }
