// Package conformance is a SPID service-provider simulator that checks any
// SPID identity provider against the rules of the team's SAML profile
// (shared/spec/saml-profile.md, checklist C001–C180). It is written from the
// spec, not from this project's IdP, so that it can judge it.
//
// A run fetches and judges the IdP metadata, creates two simulated SPs (A
// and B, each with its own RSA key and signed SPID metadata), hands their
// metadata to Options.OnSPMetadata so that they can be registered at the
// IdP, then runs the cases: valid logins on both bindings and levels,
// every malformed-request family (user-bound pages and SP-bound error
// Responses), consent refusal, cancellation, wrong passwords, SpidL1
// session reuse and single logout. A form driver plays the browser: it
// fills the login, OTP and consent pages of any IdP (field and button
// names configurable) and stops at the auto-POST form or redirect towards
// the SP, which it reads instead of following, so the SP URLs need not be
// reachable.
//
// Validators (ValidateIdPMetadata, ValidateResponse,
// ValidateLogoutResponse) are usable on their own: each returns a Verdict
// with one named check per rule, tagged with checklist IDs.
//
// Team decisions ([DEC] in the spec) warn unless Options.Strict; the AgID
// certificate profile is enforced only with Options.Production.
package conformance

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options configures a run. A test passes HTTPClient (e.g. an httptest
// server's client), the IdP metadata URL and OnSPMetadata to register the
// simulated SPs before the cases start.
type Options struct {
	IdPMetadata string       // URL (http/https) or file path of the IdP metadata
	HTTPClient  *http.Client // used for every request; nil = a default client
	Credentials Credentials  // test identity; empty User skips the login cases
	Fields      Fields       // login-page field and button names
	Only        []string     // run only cases whose name or checklist IDs match

	// SPBaseURL is the entityID of simulated SP A (SP B is SPBaseURL+"/b");
	// its ACS and SLO URLs hang below it. Default: the SPListen URL, or
	// https://sp.conformance.invalid when nothing is served. The driver never
	// needs to reach these URLs: it reads the IdP's auto-POST forms and
	// redirects instead of following them.
	SPBaseURL string
	// SPListen, if set (e.g. "127.0.0.1:0"), serves both SPs' metadata and
	// endpoints there for the duration of the run.
	SPListen string
	// SPKeyDir, if set, keeps the simulated SPs' keys and certificates
	// between runs (one PEM file per entityID); otherwise each run makes new ones.
	SPKeyDir string
	// OnSPMetadata is called with each simulated SP's signed metadata before
	// the cases run: register it at the IdP (or print it). An error aborts.
	OnSPMetadata func(xml []byte) error

	Strict            bool // fail team decisions ([DEC]) instead of warning
	Production        bool // enforce the AgID IdP certificate profile (C009, C010)
	AllowMissingAttrs bool // requested attributes the identity lacks only warn
	// TOTPReuse lets the driver reuse a TOTP code within its 30 s step; by
	// default it waits for a fresh step, since IdPs refuse replayed codes.
	TOTPReuse   bool
	StepTimeout time.Duration // per HTTP exchange (default 15 s)
	ClockSkew   time.Duration // tolerated IdP clock difference (default 1 s)
	KeyBits     int           // SP RSA key size (default 2048)
	Progress    io.Writer     // optional progress lines

	// AAEntityID is an Attribute Authority of the IdP's registry (spec §9):
	// without it the AA cases that need an offered AA (AA5–AA7) skip.
	AAEntityID string
	// AAKey is that AA's decryption key: without it the grant token's
	// content (A023–A033) is not checked.
	AAKey *rsa.PrivateKey
}

// Row is one line of the report: a checklist item as evidenced by a case.
type Row struct {
	ID       string   `json:"id"`   // checklist ID (C0xx) or "-"
	Case     string   `json:"case"` // case name
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Reason   string   `json:"reason"`
	Evidence string   `json:"evidence,omitempty"` // XML or page excerpt, for failures and warnings
	Trace    []string `json:"trace,omitempty"`    // HTTP steps of the flow
}

// SPInfo describes a simulated SP to register at the IdP.
type SPInfo struct {
	EntityID    string `json:"entity_id"`
	MetadataURL string `json:"metadata_url,omitempty"`
	Metadata    string `json:"metadata"`
}

// Report is the result of a run.
type Report struct {
	IdPMetadata string         `json:"idp_metadata"`
	IdPEntityID string         `json:"idp_entity_id"`
	OPIssuer    string         `json:"op_issuer,omitempty"` // the OP checked by the OIDC part, if it ran
	Started     time.Time      `json:"started"`
	Finished    time.Time      `json:"finished"`
	Strict      bool           `json:"strict"`
	SPs         []SPInfo       `json:"sps"`
	Checklist   []ChecklistRow `json:"checklist"` // one line per checklist item, worst case wins
	Rows        []Row          `json:"rows"`      // one line per (case, checklist item)
	Counts      map[Status]int `json:"counts"`
	Notes       []string       `json:"notes"`
}

// Failed reports whether any row failed.
func (r *Report) Failed() bool { return r.Counts[Fail] > 0 }

// StepError is a run that could not start: the IdP or its metadata cannot
// be used at all (exit status 2 in Main).
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Run fetches and judges the IdP metadata, builds and announces the
// simulated SPs, then runs every selected case.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.IdPMetadata == "" {
		return nil, &StepError{"options", errors.New("no IdP metadata URL or file")}
	}
	if opt.StepTimeout == 0 {
		opt.StepTimeout = 15 * time.Second
	}
	if opt.ClockSkew == 0 {
		opt.ClockSkew = time.Second
	}
	if opt.KeyBits == 0 {
		opt.KeyBits = 2048
	}
	opt.Fields.defaults()
	rep := &Report{IdPMetadata: opt.IdPMetadata, Started: time.Now().UTC(), Strict: opt.Strict, Counts: map[Status]int{}}

	raw, err := fetchMetadata(ctx, opt)
	if err != nil {
		return nil, &StepError{"fetching IdP metadata " + opt.IdPMetadata, err}
	}
	md, mv := ValidateIdPMetadata(raw, time.Now(), opt.Strict, opt.Production)
	if md == nil {
		_, msg := mv.Summary()
		return nil, &StepError{"parsing IdP metadata " + opt.IdPMetadata, errors.New(msg)}
	}
	rep.IdPEntityID = md.EntityID

	// The simulated SPs and, if asked, their server.
	base := opt.SPBaseURL
	var srv *http.Server
	var ln net.Listener
	if opt.SPListen != "" {
		ln, err = net.Listen("tcp", opt.SPListen)
		if err != nil {
			return nil, &StepError{"listening on " + opt.SPListen, err}
		}
		if base == "" {
			base = "http://" + ln.Addr().String()
		}
	}
	base = strings.TrimSuffix(or(base, "https://sp.conformance.invalid"), "/")
	spA, err := newSimSP(base, "conftest", opt.KeyBits, opt.SPKeyDir)
	if err != nil {
		return nil, &StepError{"creating SP A", err}
	}
	spB, err := newSimSP(base+"/b", "conftestb", opt.KeyBits, opt.SPKeyDir)
	if err != nil {
		return nil, &StepError{"creating SP B", err}
	}
	if ln != nil {
		srv = &http.Server{Handler: &spServer{sps: []*simSP{spA, spB}}, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	for _, sp := range []*simSP{spA, spB} {
		info := SPInfo{EntityID: sp.EntityID, Metadata: string(sp.Metadata)}
		if ln != nil {
			info.MetadataURL = sp.EntityID + "/metadata"
		}
		rep.SPs = append(rep.SPs, info)
		if opt.OnSPMetadata != nil {
			if err := opt.OnSPMetadata(sp.Metadata); err != nil {
				return nil, &StepError{"registering SP " + sp.EntityID, err}
			}
		}
	}

	e := &env{opt: opt, md: md, spA: spA, spB: spB, otp: &otpClock{reuse: opt.TOTPReuse}, spBase: base, mdVerdict: mv}
	for _, c := range allCases() {
		if !selected(c, opt.Only) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		e.progress("case %s", c.name)
		rows := e.runCase(ctx, c)
		rep.Rows = append(rep.Rows, rows...)
		if e.driverErr != nil {
			break // every later login would fail the same way
		}
	}
	for _, r := range rep.Rows {
		rep.Counts[r.Status]++
	}
	rep.Checklist = summarise(rep.Rows)
	rep.Notes = notCheckable
	rep.Finished = time.Now().UTC()
	if e.driverErr != nil {
		return rep, &StepError{"driving the IdP login pages (set --field-* / --button-*)", e.driverErr}
	}
	return rep, ctx.Err()
}

func selected(c caseDef, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		o = strings.TrimSpace(o)
		if strings.EqualFold(o, c.name) || slices.Contains(c.ids, strings.ToUpper(o)) {
			return true
		}
	}
	return false
}

func fetchMetadata(ctx context.Context, opt Options) ([]byte, error) {
	if !strings.HasPrefix(opt.IdPMetadata, "http://") && !strings.HasPrefix(opt.IdPMetadata, "https://") {
		f, err := os.Open(opt.IdPMetadata)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxXML+1))
	}
	c := opt.HTTPClient
	if c == nil {
		c = &http.Client{}
	}
	ctx, cancel := context.WithTimeout(ctx, opt.StepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opt.IdPMetadata, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxXML+1))
}

// rowsFromVerdict turns a validator's results into one row per checklist
// ID (worst status wins), keeping the XML as evidence when something is off.
func rowsFromVerdict(caseName, title string, v *Verdict) []Row {
	type agg struct {
		st   Status
		msgs []string
	}
	byID := map[string]*agg{}
	var order []string
	for _, r := range v.Results {
		for _, id := range r.Checklist {
			a, ok := byID[id]
			if !ok {
				a = &agg{st: Pass}
				byID[id] = a
				order = append(order, id)
			}
			if r.Status.rank() > a.st.rank() {
				a.st = r.Status
			}
			if r.Status != Pass {
				a.msgs = append(a.msgs, r.Check+": "+r.Message)
			}
		}
	}
	sort.Strings(order)
	var rows []Row
	for _, id := range order {
		a := byID[id]
		row := Row{ID: id, Case: caseName, Title: title, Status: a.st, Reason: strings.Join(a.msgs, "; ")}
		if a.st == Pass {
			row.Reason = "ok"
		} else {
			row.Evidence = v.Evidence
		}
		rows = append(rows, row)
	}
	return rows
}
