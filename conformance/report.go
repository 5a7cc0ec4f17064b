package conformance

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// notCheckable lists the checklist items an outside observer cannot verify,
// with the reason; the report prints them so auditors know the gaps.
var notCheckable = []string{
	"C017–C026 (SP metadata ingestion): need SPs with broken metadata registered at the IdP; how an operator registers SPs is outside the protocol, so the suite cannot inject them.",
	"C046 (expired SP certificate): the IdP would refuse to register such an SP in the first place; needs the operator's help.",
	"C104 (XSD validation of the Response): the suite checks element order, cardinality and every SPID constraint, but carries no XSD engine.",
	"C132, C144, C146, C149, C150, C152, C153: need identities or timing a generic run does not have (an identity without second factor, suspended or typed identities, a login left to time out, the choice of the stronger method).",
	"C139 (Response signed at consent time) and C163 (what the consent page shows): need a human or a real browser to observe.",
	"C154, C155: need a fault inside the IdP. C162: needs the session timeout to elapse.",
	"C164, C165, C179: IdP-side pages, logs and IdP-initiated logout are not visible to a service provider.",
	"C175 (a second SP that never answers during logout): a front-channel run cannot withhold an answer without stalling the browser flow; not automated.",
	"C016 is checked only when the SSO endpoint is HTTPS.",
}

// WriteTable prints one line per checklist item (worst result over the
// cases that evidenced it); verbose adds every (case, item) row after it.
func (r *Report) WriteTable(w io.Writer) error { return r.writeTable(w, false) }

func (r *Report) writeTable(w io.Writer, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDESCRIPTION\tRESULT\tREASON")
	for _, c := range r.Checklist {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, clip(c.Title, 60), strings.ToUpper(string(c.Status)), clip(oneLine(c.Reason), 140))
	}
	if verbose {
		fmt.Fprintln(tw, "\nID\tCASE\tRESULT\tREASON")
		for _, row := range r.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.ID, row.Case, strings.ToUpper(string(row.Status)), clip(oneLine(row.Reason), 140))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nchecklist items: %d pass, %d fail, %d warn, %d skip (%d case rows)\n",
		r.countItems(Pass), r.countItems(Fail), r.countItems(Warn), r.countItems(Skip), len(r.Rows))
	return err
}

func (r *Report) countItems(s Status) int {
	n := 0
	for _, c := range r.Checklist {
		if c.Status == s {
			n++
		}
	}
	return n
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var htmlReport = template.Must(template.New("r").Funcs(template.FuncMap{
	"lower": func(s Status) string { return string(s) },
	"ts":    func(t time.Time) string { return t.Format(time.RFC3339) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>SPID conformance report — {{.IdPEntityID}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1a1a1a}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f0f0f0}.pass{color:#0a6b2d}.fail{color:#b00020;font-weight:bold}.warn{color:#8a5a00}.skip{color:#666}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f7;padding:6px;max-height:30em;overflow:auto;font-size:12px}
details{margin:2px 0}
</style></head><body>
<h1>SPID conformance report</h1>
<p>Identity provider <strong>{{.IdPEntityID}}</strong> (metadata {{.IdPMetadata}}), run {{ts .Started}} – {{ts .Finished}}{{if .Strict}}, strict mode (team decisions enforced){{end}}.{{if .OPIssuer}} OpenID Provider <strong>{{.OPIssuer}}</strong>.{{end}}</p>
<p>Checklist items: <span class="pass">{{.CountItems "pass"}} pass</span>, <span class="fail">{{.CountItems "fail"}} fail</span>, <span class="warn">{{.CountItems "warn"}} warn</span>, <span class="skip">{{.CountItems "skip"}} skip</span>
(over {{len .Rows}} case rows: {{.Count "pass"}} pass, {{.Count "fail"}} fail, {{.Count "warn"}} warn, {{.Count "skip"}} skip).</p>
<p>The summary has one line per item of the SPID checklist (IDs C001–C180 of the project's SAML profile; F and O items of its OpenID Connect federation profile when the OP was checked), with the worst result over
the test cases that evidenced it; the second table lists every case with the XML or page received when something was wrong.
"pass" means the IdP behaved as required; "fail" means it did not (the evidence shows the XML or page received);
"warn" marks a deviation from a choice of this project rather than from an AgID rule, or an unusual but tolerable answer;
"skip" means the case could not run (for instance no second-factor seed was given).</p>
<h2>Checklist summary</h2>
<table><thead><tr><th>ID</th><th>What is checked</th><th>Result</th><th>Reason (worst case)</th><th>Cases</th></tr></thead><tbody>
{{range .Checklist}}<tr><td>{{.ID}}</td><td>{{.Title}}</td><td class="{{lower .Status}}">{{.Status}}</td><td>{{.Reason}}</td><td>{{range $i, $c := .Cases}}{{if $i}}, {{end}}{{$c}}{{end}}</td></tr>
{{end}}</tbody></table>
<h2>Every case, with evidence</h2>
<table><thead><tr><th>ID</th><th>Case</th><th>What is checked</th><th>Result</th><th>Reason and evidence</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.ID}}</td><td>{{.Case}}</td><td>{{.Title}}</td><td class="{{lower .Status}}">{{.Status}}</td><td>{{.Reason}}
{{if .Trace}}<details><summary>HTTP steps</summary><pre>{{range .Trace}}{{.}}
{{end}}</pre></details>{{end}}{{if .Evidence}}<details><summary>Evidence</summary><pre>{{.Evidence}}</pre></details>{{end}}</td></tr>
{{end}}</tbody></table>
<h2>Simulated service providers</h2>
{{range .SPs}}<details><summary>{{.EntityID}}{{if .MetadataURL}} — served at {{.MetadataURL}}{{end}}</summary><pre>{{.Metadata}}</pre></details>{{end}}
<h2>Not checked from outside</h2><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
</body></html>
`))

// CountItems returns the number of checklist items with status s.
func (r *Report) CountItems(s string) int { return r.countItems(Status(s)) }

// Count returns the number of case rows with status s (for templates).
func (r *Report) Count(s string) int { return r.Counts[Status(s)] }

// WriteHTML writes a self-contained HTML report.
func (r *Report) WriteHTML(w io.Writer) error { return htmlReport.Execute(w, r) }

// Main is the `spid-idp conformance` command. It returns the exit status:
// 0 when nothing fails, 1 when a case fails, 2 when the run cannot start.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opt        Options
		reportPath string
		only       string
		printMD    bool
		verbose    bool
	)
	fs.StringVar(&opt.IdPMetadata, "idp-metadata", "", "IdP metadata URL or file (required)")
	fs.StringVar(&opt.Credentials.User, "user", "", "test identity user name")
	fs.StringVar(&opt.Credentials.Password, "password", "", "test identity password")
	fs.StringVar(&opt.Credentials.TOTPSecret, "totp-secret", "", "base32 TOTP seed of the test identity (SpidL2 cases)")
	fs.StringVar(&reportPath, "report", "", "write the report to this file (.json or .html)")
	fs.StringVar(&only, "only", "", "comma-separated case names or checklist IDs to run")
	fs.StringVar(&opt.SPListen, "sp-listen", "", "serve the simulated SPs' metadata and endpoints on this address (e.g. 127.0.0.1:0)")
	fs.StringVar(&opt.SPBaseURL, "sp-base-url", "", "entityID of simulated SP A (default: the --sp-listen URL)")
	fs.BoolVar(&printMD, "print-sp-metadata", false, "print the simulated SPs' metadata before running")
	fs.StringVar(&opt.SPKeyDir, "sp-key-dir", "", "keep the simulated SPs' keys here between runs (register once)")
	fs.BoolVar(&verbose, "verbose", false, "also print one line per (case, checklist item)")
	fs.StringVar(&opt.Fields.User, "field-user", "username", "name of the identifier input")
	fs.StringVar(&opt.Fields.Password, "field-password", "password", "name of the password input")
	fs.StringVar(&opt.Fields.OTP, "field-otp", "otp", "name of the one-time code input")
	fs.StringVar(&opt.Fields.Accept, "button-accept", "", "consent button as name or name=value (default: by label)")
	fs.StringVar(&opt.Fields.Refuse, "button-refuse", "", "refuse-consent button as name or name=value")
	fs.StringVar(&opt.Fields.Cancel, "button-cancel", "", "cancel button as name or name=value")
	fs.StringVar(&opt.Fields.Method, "button-method", "", "second-factor choice button (TOTP app) as name or name=value")
	fs.BoolVar(&opt.Strict, "strict", false, "fail the team's decisions ([DEC]) instead of warning")
	fs.BoolVar(&opt.Production, "production", false, "enforce the AgID IdP certificate profile")
	fs.BoolVar(&opt.AllowMissingAttrs, "allow-missing-attributes", false, "only warn when the identity lacks requested attributes")
	fs.DurationVar(&opt.StepTimeout, "timeout", 15*time.Second, "timeout of each HTTP exchange")
	fs.DurationVar(&opt.ClockSkew, "clock-skew", time.Second, "tolerated clock difference with the IdP")
	oidcMode := fs.String("oidc", "auto", "OpenID Connect part: auto (run it when the OP entity configuration answers at --oidc-issuer), on, off")
	oidcIssuer := fs.String("oidc-issuer", "", "the OP's entity id (default: the --idp-metadata origin + /oidc/op)")
	oidcListen := fs.String("oidc-listen", "127.0.0.1:0", "serve the simulated relying parties and their trust anchor here")
	oidcBase := fs.String("oidc-base-url", "", "public base URL of --oidc-listen (default http://<address>)")
	oidcKeyDir := fs.String("oidc-key-dir", "", "keep the simulated relying parties' and trust anchor's keys here (default: --sp-key-dir)")
	oidcTAJWKS := fs.String("oidc-ta-jwks", "", "write the simulator's trust-anchor JWK set here, for the OP's oidc.federation.trust_anchors (ENTITY_ID|FILE)")
	fs.StringVar(&opt.AAEntityID, "aa-entity-id", "", "an Attribute Authority of the IdP's registry (AA5–AA7 skip without it)")
	aaKeyFile := fs.String("aa-key", "", "PEM file of that AA's RSA decryption key (grant token content is not checked without it)")
	grantWait := fs.Duration("grant-expiry-wait", 30*time.Second, "wait this long at most for an OIDC grant token to expire (A039); set the OP's grant-token lifetime below it")
	wait := fs.Duration("register-wait", 0, "pause this long after announcing the SP metadata, to register it at the IdP")
	waitEnter := fs.Bool("wait-enter", false, "after announcing the SP metadata, wait for Enter on standard input")
	caFile := fs.String("ca-file", "", "PEM file of extra CA certificates to trust for the IdP's TLS (e.g. a demo certificate)")
	insecure := fs.Bool("insecure", false, "do not verify the IdP's TLS certificate (local testing only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch *oidcMode {
	case "auto", "on", "off":
	default:
		fmt.Fprintln(stderr, "conformance: --oidc must be auto, on or off")
		return 2
	}
	if opt.IdPMetadata == "" && (*oidcIssuer == "" || *oidcMode == "off") {
		fmt.Fprintln(stderr, "conformance: --idp-metadata is required (or --oidc-issuer for the OpenID Connect part alone)")
		fs.Usage()
		return 2
	}
	if *oidcIssuer == "" && *oidcMode != "off" {
		*oidcIssuer = defaultIssuer(opt.IdPMetadata)
	}
	if only != "" {
		opt.Only = strings.Split(only, ",")
	}
	if *caFile != "" || *insecure {
		client, err := tlsClient(*caFile, *insecure)
		if err != nil {
			fmt.Fprintf(stderr, "conformance: --ca-file: %v\n", err)
			return 2
		}
		if *insecure {
			fmt.Fprintln(stderr, "conformance: warning: TLS certificates are not verified (--insecure)")
		}
		opt.HTTPClient = client
	}
	if *aaKeyFile != "" {
		k, err := readRSAKey(*aaKeyFile)
		if err != nil {
			fmt.Fprintf(stderr, "conformance: --aa-key: %v\n", err)
			return 2
		}
		opt.AAKey = k
	}
	if reportPath != "" {
		switch strings.ToLower(filepath.Ext(reportPath)) {
		case ".json", ".html", ".htm":
		default:
			fmt.Fprintln(stderr, "conformance: --report must end in .json or .html")
			return 2
		}
	}
	opt.Progress = stderr
	opt.OnSPMetadata = func(xml []byte) error {
		if printMD {
			fmt.Fprintf(stdout, "%s\n\n", xml)
		}
		return nil
	}
	if *wait > 0 || *waitEnter {
		inner := opt.OnSPMetadata
		seen := 0
		opt.OnSPMetadata = func(xml []byte) error {
			if err := inner(xml); err != nil {
				return err
			}
			if seen++; seen < 2 { // pause once, after both SPs
				return nil
			}
			return pause(ctx, stderr, *wait, *waitEnter, "conformance: register the two simulated SPs at the IdP now (metadata printed with --print-sp-metadata, or served at <entityID>/metadata with --sp-listen)")
		}
	}
	var rep *Report
	var err error
	if opt.IdPMetadata != "" {
		rep, err = Run(ctx, opt)
	} else {
		rep = &Report{Started: time.Now().UTC(), Strict: opt.Strict, Counts: map[Status]int{}}
	}
	if err == nil && *oidcMode != "off" {
		oo := OIDCOptions{Issuer: *oidcIssuer, HTTPClient: opt.HTTPClient, Credentials: opt.Credentials, Fields: opt.Fields, Only: opt.Only,
			Listen: *oidcListen, BaseURL: *oidcBase, KeyDir: or(*oidcKeyDir, opt.SPKeyDir), KeyBits: opt.KeyBits,
			Strict: opt.Strict, Production: opt.Production, StepTimeout: opt.StepTimeout, Progress: stderr, AAEntityID: opt.AAEntityID,
			AAKey: opt.AAKey, GrantExpiryWait: *grantWait}
		oo.OnTrustAnchor = func(id string, jwks []byte) error {
			if *oidcTAJWKS != "" {
				if err := os.WriteFile(*oidcTAJWKS, jwks, 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(stderr, "conformance: the simulated relying parties hang under the trust anchor %s; the OP must trust it: oidc.federation.trust_anchors: [\"%s|%s\"]\n",
				id, id, or(*oidcTAJWKS, "<file with the anchor's JWK set, see --oidc-ta-jwks>"))
			if *wait > 0 || *waitEnter {
				return pause(ctx, stderr, *wait, *waitEnter, "conformance: configure the trust anchor at the OP now")
			}
			return nil
		}
		found, perr := probeOP(ctx, oo)
		switch {
		case found:
			orep, oerr := RunOIDC(ctx, oo)
			if orep != nil {
				rep.merge(orep)
			}
			err = oerr
		case *oidcMode == "on":
			fmt.Fprintf(stderr, "conformance: no OpenID Provider at %s: %v\n", *oidcIssuer, perr)
			return 2
		default:
			rep.Notes = append(rep.Notes, fmt.Sprintf("OpenID Connect part not run: no OP entity configuration at %s%s (%v); use --oidc-issuer", *oidcIssuer, wellKnownFederation, perr))
		}
	}
	exit := 0
	if err != nil {
		var se *StepError
		if rep == nil {
			fmt.Fprintf(stderr, "conformance: %v\n", err)
			return 2
		}
		if errors.As(err, &se) {
			exit = 2
			fmt.Fprintf(stderr, "conformance: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "conformance: interrupted: %v\n", err)
		}
	}
	if err := rep.writeTable(stdout, verbose); err != nil {
		fmt.Fprintf(stderr, "conformance: %v\n", err)
	}
	if reportPath != "" {
		if err := writeReport(rep, reportPath); err != nil {
			fmt.Fprintf(stderr, "conformance: writing %s: %v\n", reportPath, err)
			return 2
		}
	}
	if exit != 0 {
		return exit
	}
	if rep.Failed() || err != nil {
		return 1
	}
	return 0
}

func writeReport(rep *Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		err = rep.WriteJSON(f)
	} else {
		err = rep.WriteHTML(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tlsClient builds the HTTP client for --ca-file / --insecure.
func tlsClient(caFile string, insecure bool) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // explicit operator choice for local testing
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// pause waits for Enter (waitEnter) or for wait, after telling why.
func pause(ctx context.Context, stderr io.Writer, wait time.Duration, waitEnter bool, msg string) error {
	fmt.Fprintln(stderr, msg)
	if waitEnter {
		fmt.Fprintln(stderr, "conformance: press Enter when done")
		line := make(chan error, 1)
		go func() {
			_, err := bufio.NewReader(os.Stdin).ReadString('\n')
			line <- err
		}()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-line:
		}
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
	}
	return nil
}

// defaultIssuer is where this project's IdP puts its OP: the metadata's
// origin + /oidc/op (spec §1.2); for a metadata file there is no guess.
func defaultIssuer(metadata string) string {
	u, err := url.Parse(metadata)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/oidc/op"
}

// probeOP tells whether an OP entity configuration answers at the issuer.
func probeOP(ctx context.Context, o OIDCOptions) (bool, error) {
	if o.Issuer == "" {
		return false, errors.New("no issuer to probe (the IdP metadata is a file)")
	}
	c := o.HTTPClient
	if c == nil {
		c = &http.Client{}
	}
	timeout := o.StepTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.Issuer, "/")+wellKnownFederation, nil)
	if err != nil {
		return false, err
	}
	res, err := c.Do(req)
	if err != nil {
		return false, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, mediaEntityStatement) {
		return false, fmt.Errorf("Content-Type %q", ct)
	}
	return true, nil
}

// merge adds the rows of another part of the run (the OIDC one).
func (r *Report) merge(o *Report) {
	r.OPIssuer = o.IdPEntityID
	r.SPs = append(r.SPs, o.SPs...)
	r.Rows = append(r.Rows, o.Rows...)
	r.Notes = append(r.Notes, o.Notes...)
	r.Counts = map[Status]int{}
	for _, row := range r.Rows {
		r.Counts[row.Status]++
	}
	r.Checklist = summarise(r.Rows)
	if o.Finished.After(r.Finished) {
		r.Finished = o.Finished
	}
}
