package templates

import "reflect"

// Attribute Authority pages (oidc-federation.md §9.3): the choice of AAs
// after consent and, when at least one is chosen, the explicit consent to
// the grant tokens.
const (
	PageAASelect = "aa-select" // AASelectPage
	// FieldAA is posted once per chosen AA (its entity id).
	FieldAA = "aa"
	// OpContinue posts the choice (possibly empty); OpAuthorise and
	// OpRefuse answer the AA consent.
	OpContinue  = "continue"
	OpAuthorise = "authorise"
	OpRefuse    = "refuse"
)

func init() {
	pages[PageAASelect] = pageSpec{"layout.html", reflect.TypeFor[AASelectPage]()}
}

// AASelectPage lists the Attribute Authorities the service asked for, each
// with its logo and name and a checkbox, none preselected (A012–A014); with
// Confirm set it asks consent for the chosen ones, showing the data each
// will receive (A015). The form posts FieldCSRF, FieldOp and FieldAA.
type AASelectPage struct {
	Service
	CSRF    string
	Action  string
	Confirm bool
	AAs     []AAOption
}

// AAOption is one Attribute Authority on the page.
type AAOption struct {
	ID   string // entity id, the value posted
	Name string // organization_name, untrusted text, escaped
	// Names are Name per language, when the AA's metadata has them
	// (organization_name#en); the page shows its language's.
	Names map[string]string
	Logo  string // logo_uri, used unchanged as <img src>
	// Missing lists the attributes the citizen lacks: the AA is shown
	// disabled with the reason.
	Missing []string
	// Attributes are the data the AA would receive (Confirm).
	Attributes []Attribute
}
