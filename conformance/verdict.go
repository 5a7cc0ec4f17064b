package conformance

import (
	"fmt"
	"strings"
)

// Status is the outcome of a check or a case.
type Status string

// Outcomes, in increasing order of gravity for aggregation.
const (
	Pass Status = "pass"
	Skip Status = "skip"
	Warn Status = "warn"
	Fail Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case Pass:
		return 0
	case Skip:
		return 1
	case Warn:
		return 2
	}
	return 3
}

// CheckResult is the outcome of one named check of a validator.
type CheckResult struct {
	Check     string   `json:"check"`     // stable name, e.g. "response.destination"
	Checklist []string `json:"checklist"` // spec §8 IDs it evidences
	Status    Status   `json:"status"`
	Message   string   `json:"message,omitempty"`
}

// Verdict collects the results of a validator run, in evaluation order.
type Verdict struct {
	Results    []CheckResult `json:"results"`
	Evidence   string        `json:"evidence,omitempty"` // the XML judged
	strict     bool
	production bool
	index      map[string]int
}

func newVerdict(strict bool) *Verdict { return &Verdict{strict: strict, index: map[string]int{}} }

// checkDef names a check: the checklist items it evidences and whether it
// enforces a team decision ([DEC] in the spec) rather than an AgID rule.
// Decisions fail only in strict mode and warn otherwise.
type checkDef struct {
	ids  []string
	dec  bool
	prod bool // production certificate profile: fails only when Verdict.production
}

func (v *Verdict) slot(name string) *CheckResult {
	if i, ok := v.index[name]; ok {
		return &v.Results[i]
	}
	def, ok := checks[name]
	if !ok {
		panic("conformance: unregistered check " + name) // programming error, caught by tests
	}
	v.index[name] = len(v.Results)
	v.Results = append(v.Results, CheckResult{Check: name, Checklist: def.ids, Status: Pass})
	return &v.Results[len(v.Results)-1]
}

// touch records that a check ran (pass unless something fails it).
func (v *Verdict) touch(name string) { v.slot(name) }

// fail records a failure of check name; [DEC] checks become warnings unless strict.
func (v *Verdict) fail(name, format string, args ...any) {
	st := Fail
	if def := checks[name]; (def.dec && !v.strict) || (def.prod && !v.production) {
		st = Warn
	}
	v.add(name, st, fmt.Sprintf(format, args...))
}

// warn records a warning on check name.
func (v *Verdict) warn(name, format string, args ...any) {
	v.add(name, Warn, fmt.Sprintf(format, args...))
}

func (v *Verdict) add(name string, st Status, msg string) {
	r := v.slot(name)
	if st.rank() > r.Status.rank() {
		r.Status = st
	}
	if r.Message == "" {
		r.Message = msg
	} else if !strings.Contains(r.Message, msg) {
		r.Message += "; " + msg
	}
}

// ensure fails name with the message when ok is false, and touches it otherwise.
func (v *Verdict) ensure(name string, ok bool, format string, args ...any) bool {
	if ok {
		v.touch(name)
		return true
	}
	v.fail(name, format, args...)
	return false
}

// Failed reports whether any check failed.
func (v *Verdict) Failed() bool {
	for _, r := range v.Results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Result returns the result of the named check, if it ran.
func (v *Verdict) Result(name string) (CheckResult, bool) {
	if i, ok := v.index[name]; ok {
		return v.Results[i], true
	}
	return CheckResult{}, false
}

// Failures returns the names of the failed checks.
func (v *Verdict) Failures() []string {
	var out []string
	for _, r := range v.Results {
		if r.Status == Fail {
			out = append(out, r.Check)
		}
	}
	return out
}

// Summary is a one-line description of the worst results.
func (v *Verdict) Summary() (Status, string) {
	worst := Pass
	var msgs []string
	for _, r := range v.Results {
		if r.Status.rank() > worst.rank() {
			worst = r.Status
			msgs = nil
		}
		if r.Status == worst && worst != Pass {
			msgs = append(msgs, r.Check+": "+r.Message)
		}
	}
	if worst == Pass {
		return Pass, fmt.Sprintf("%d checks passed", len(v.Results))
	}
	return worst, strings.Join(msgs, " | ")
}

// checks is the registry of every named check.
var checks = map[string]checkDef{
	// IdP metadata (spec §1, checklist C001–C016).
	"md.parse":          {ids: []string{"C001"}},
	"md.structure":      {ids: []string{"C001"}},
	"md.entityid":       {ids: []string{"C002"}},
	"md.signature":      {ids: []string{"C003"}},
	"md.sigalg":         {ids: []string{"C004"}},
	"md.idpsso":         {ids: []string{"C005"}},
	"md.wantsigned":     {ids: []string{"C006"}},
	"md.signingkey":     {ids: []string{"C007"}},
	"md.certs":          {ids: []string{"C008"}},
	"md.cert.subject":   {ids: []string{"C009"}, prod: true},
	"md.cert.ext":       {ids: []string{"C010"}, prod: true},
	"md.nameidformat":   {ids: []string{"C011"}},
	"md.sso":            {ids: []string{"C012"}},
	"md.sso.distinct":   {ids: []string{"C012"}, dec: true},
	"md.slo":            {ids: []string{"C013"}},
	"md.attributes":     {ids: []string{"C014"}},
	"md.attributes.xsi": {ids: []string{"C014"}, dec: true},
	"md.organization":   {ids: []string{"C015"}},

	// Successful Response (spec §4.2–4.8, checklist C102–C140).
	"xml.parse":              {ids: []string{"C104"}},
	"response.root":          {ids: []string{"C104"}},
	"response.id":            {ids: []string{"C105"}},
	"response.version":       {ids: []string{"C106"}},
	"response.issueinstant":  {ids: []string{"C107", "C108"}},
	"response.inresponseto":  {ids: []string{"C109"}},
	"response.destination":   {ids: []string{"C110"}},
	"response.status":        {ids: []string{"C111"}},
	"response.issuer":        {ids: []string{"C112"}},
	"response.issuer.format": {ids: []string{"C112"}},
	// AgID accepts a Response Issuer without Format (SSC#31); sending it is ours.
	"response.issuer.noformat": {ids: []string{"C112"}, dec: true},
	"issuer.match":             {ids: []string{"C113"}},
	"assertion.count":          {ids: []string{"C114"}},
	"assertion.signature":      {ids: []string{"C115"}},
	"response.signature":       {ids: []string{"C116"}},
	"signature.algorithms":     {ids: []string{"C117"}},
	"assertion.id":             {ids: []string{"C105"}},
	"assertion.version":        {ids: []string{"C106"}},
	"assertion.issueinstant":   {ids: []string{"C107", "C108"}},
	"nameid":                   {ids: []string{"C118"}},
	"subjectconfirmation":      {ids: []string{"C120"}},
	"scd.recipient":            {ids: []string{"C121"}},
	"scd.inresponseto":         {ids: []string{"C122"}},
	"scd.notonorafter":         {ids: []string{"C123"}},
	"scd.lifetime":             {ids: []string{"C123"}, dec: true},
	"assertion.issuer":         {ids: []string{"C124"}},
	"conditions":               {ids: []string{"C125"}},
	"audience":                 {ids: []string{"C126"}},
	"authnstatement":           {ids: []string{"C127"}},
	"sessionindex.l1":          {ids: []string{"C128"}},
	"sessionindex.l2":          {ids: []string{"C129"}},
	"level":                    {ids: []string{"C133"}},
	"level.exact-l2":           {ids: []string{"C130", "C133"}},
	"level.minimum-l1":         {ids: []string{"C131", "C133"}},
	"level.better-l1":          {ids: []string{"C132", "C133"}},
	"attributes.set":           {ids: []string{"C134"}},
	"attributes.format":        {ids: []string{"C135"}},
	"attributes.type":          {ids: []string{"C136"}},
	"attributes.values":        {ids: []string{"C137"}},
	"attributes.statement":     {ids: []string{"C138"}},
	"attributes.none":          {ids: []string{"C091", "C138"}},
	"whitespace":               {ids: []string{"C140"}, dec: true},

	// Error Responses (spec §5, checklist C141–C142, C156).
	"error.status":       {ids: []string{"C141"}},
	"error.message":      {ids: []string{"C141"}},
	"error.noassertion":  {ids: []string{"C141"}},
	"error.signature":    {ids: []string{"C141"}},
	"error.destination":  {ids: []string{"C141", "C156"}},
	"error.inresponseto": {ids: []string{"C141"}},
	// Omitting InResponseTo when the request ID was invalid is our choice.
	"error.inresponseto.absent": {ids: []string{"C141", "C056"}, dec: true},
	"error.issuer":              {ids: []string{"C141"}},
	"status.uri":                {ids: []string{"C142"}},

	// LogoutResponse (spec §6.4, checklist C166, C167, C173, C180).
	"logout.root":         {ids: []string{"C173"}},
	"logout.header":       {ids: []string{"C173"}},
	"logout.inresponseto": {ids: []string{"C166", "C173"}},
	"logout.destination":  {ids: []string{"C173"}},
	"logout.issuer":       {ids: []string{"C173"}},
	"logout.status":       {ids: []string{"C166", "C167"}},
	"logout.signature":    {ids: []string{"C166", "C167", "C180"}},
}
