package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

func init() {
	register("sp add", "register a service provider from its signed metadata (--metadata FILE|URL); every failed check is listed", runSPAdd)
	register("sp list", "list the registered service providers", runSPList)
	register("sp show", "show a service provider's endpoints, attribute sets and certificates", runSPShow)
	register("sp remove", "remove a service provider", func(ctx context.Context, e env, args []string) int {
		return runSPChange(ctx, e, args, "remove")
	})
	register("sp disable", "refuse a service provider's requests without removing it", func(ctx context.Context, e env, args []string) int {
		return runSPChange(ctx, e, args, "disable")
	})
	register("sp enable", "accept a disabled service provider's requests again", func(ctx context.Context, e env, args []string) int {
		return runSPChange(ctx, e, args, "enable")
	})
}

// SourceCLI is the storage.ServiceProvider.Source of SPs registered here.
const sourceCLI = "cli"

// fetchTimeout bounds `sp add --metadata URL`.
const fetchTimeout = 30 * time.Second

func newRegistry(a *admin) *metadata.Registry {
	return metadata.NewRegistry(a.store, metadata.RegistryOptions{
		Parse: metadata.ParseOptions{Production: !a.cfg.Demo},
		// Warnings are printed by the command itself, not logged.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func runSPAdd(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("sp add", e)
	path := configFlag(fs, e)
	src := fs.String("metadata", "", "the SP's signed metadata: a `FILE` or an http(s) URL (required)")
	enable := fs.Bool("enable", false, "also enable the SP if it is registered and disabled (replacing metadata keeps the status otherwise)")
	timeout := fs.Duration("timeout", fetchTimeout, "time limit for downloading metadata from a URL")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp sp add: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *src == "" {
		fmt.Fprintln(e.stderr, "spid-idp sp add: missing --metadata FILE|URL")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	reg := newRegistry(a)

	details := map[string]string{"metadata_source": redactURL(*src)}
	var xml []byte
	var err error
	if strings.Contains(*src, "://") {
		// FetchURL refuses schemes other than http(s) with a clear message.
		xml, err = reg.FetchURL(ctx, *src, &http.Client{Timeout: *timeout})
	} else {
		xml, err = readMetadataFile(*src)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp add: %v\n", err)
		details["error"] = "metadata could not be read"
		return a.fail(ctx, "sp.add", "", details)
	}

	// Parse first for the warnings and to know whether this replaces a
	// registered SP; Add parses again, the cost is negligible.
	md, err := metadata.ParseSPMetadata(xml, metadata.ParseOptions{Production: !a.cfg.Demo})
	if err != nil {
		var ve *metadata.ValidationError
		if errors.As(err, &ve) {
			who := ve.EntityID
			if who == "" {
				who = "(no entityID)"
			}
			fmt.Fprintf(e.stderr, "spid-idp sp add: metadata of %s refused, %d check(s) failed:\n", who, len(ve.Failures))
			checks := make([]string, 0, len(ve.Failures))
			for _, f := range ve.Failures {
				fmt.Fprintf(e.stderr, "  %s: %s\n", f.Check, oneLine(f.Detail))
				checks = append(checks, f.Check)
			}
			details["failed_checks"] = strings.Join(checks, ",")
			return a.fail(ctx, "sp.add", ve.EntityID, details)
		}
		fmt.Fprintf(e.stderr, "spid-idp sp add: %v\n", err)
		details["error"] = "metadata refused"
		return a.fail(ctx, "sp.add", "", details)
	}
	id := md.SP.EntityID
	prev, err := a.store.GetServiceProvider(ctx, id)
	replaced := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		fmt.Fprintf(e.stderr, "spid-idp sp add: %v\n", err)
		details["error"] = "store"
		return a.fail(ctx, "sp.add", id, details)
	}
	sp, err := reg.Add(ctx, xml, sourceCLI)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp add: %v\n", err)
		details["error"] = "store"
		return a.fail(ctx, "sp.add", id, details)
	}
	status := storage.SPActive
	if replaced {
		status = prev.Status
		details["replaced"] = "true"
		if prev.Source != sourceCLI {
			details["previous_source"] = prev.Source
		}
	}
	if *enable && status != storage.SPActive {
		if err := reg.SetStatus(ctx, id, storage.SPActive); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp sp add: metadata stored but enabling failed: %v\n", err)
			details["error"] = "enable failed"
			return a.fail(ctx, "sp.add", id, details)
		}
		status = storage.SPActive
		details["enabled"] = "true"
	}
	if code := a.success(ctx, "sp.add", id, details); code != exitOK {
		return code
	}
	verb := "registered"
	if replaced {
		verb = "metadata replaced for"
	}
	fmt.Fprintf(e.stdout, "%s %s (%s), status %s: %d ACS, %d attribute set(s), %d SLO endpoint(s)\n",
		verb, id, oneLine(sp.DisplayName["it"]), status, len(sp.ACS), len(sp.AttributeServices), len(sp.SLO))
	if replaced && prev.Source != sourceCLI {
		fmt.Fprintf(e.stdout, "  note: was registered from %q; it is now managed from the command line\n", prev.Source)
	}
	for _, w := range md.Warnings {
		fmt.Fprintf(e.stdout, "  warning: %s\n", oneLine(w))
	}
	return exitOK
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// redactURL hides a password in a metadata URL before it is recorded.
func redactURL(s string) string {
	if !isURL(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func readMetadataFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, metadata.MaxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > metadata.MaxMetadataSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, metadata.MaxMetadataSize)
	}
	return data, nil
}

func runSPList(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("sp list", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp sp list: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	entries, err := newRegistry(a).List(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp list: %v\n", err)
		return exitFailure
	}
	if len(entries) == 0 {
		fmt.Fprintln(e.stdout, "no service providers registered")
		return exitOK
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].EntityID < entries[j].EntityID })
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTITY ID\tNAME\tSTATUS\tSOURCE\tACS\tWARNINGS")
	var broken []metadata.Entry
	for _, en := range entries {
		name, acs, warns, status := "-", "-", "-", string(en.Status)
		if en.Metadata != nil {
			name = oneLine(en.Metadata.SP.DisplayName["it"])
			acs = strconv.Itoa(len(en.Metadata.SP.ACS))
			warns = strconv.Itoa(len(en.Metadata.Warnings))
		} else {
			status += " (untrusted)"
			broken = append(broken, en)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", en.EntityID, name, status, en.Source, acs, warns)
	}
	tw.Flush()
	for _, en := range broken {
		fmt.Fprintf(e.stdout, "\n%s: stored metadata no longer passes the checks; requests are refused:\n", en.EntityID)
		for _, l := range failureLines(en.Err) {
			fmt.Fprintf(e.stdout, "  %s\n", l)
		}
	}
	return exitOK
}

func runSPShow(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("sp show", e)
	path := configFlag(fs, e)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(e.stderr, "usage: spid-idp sp show [-c FILE] ENTITYID")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	rec, err := a.store.GetServiceProvider(ctx, rest[0])
	if errors.Is(err, storage.ErrNotFound) {
		fmt.Fprintf(e.stderr, "spid-idp sp show: no service provider %q\n", rest[0])
		return exitFailure
	} else if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp show: %v\n", err)
		return exitFailure
	}
	w := e.stdout
	fmt.Fprintf(w, "entityID     %s\n", rec.EntityID)
	fmt.Fprintf(w, "status       %s\n", rec.Status)
	fmt.Fprintf(w, "source       %s\n", rec.Source)
	fmt.Fprintf(w, "registered   %s\n", rec.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "updated      %s\n", rec.UpdatedAt.UTC().Format(time.RFC3339))
	md, err := metadata.ParseSPMetadata(rec.MetadataXML, metadata.ParseOptions{Production: !a.cfg.Demo})
	if err != nil {
		fmt.Fprintln(w, "metadata     UNTRUSTED: the stored metadata no longer passes the checks; requests are refused:")
		for _, l := range failureLines(err) {
			fmt.Fprintf(w, "  %s\n", l)
		}
		return exitOK
	}
	printSP(w, md, time.Now())
	return exitOK
}

func printSP(w io.Writer, md *metadata.SPMetadata, now time.Time) {
	sp := md.SP
	for _, lang := range sortedKeys(sp.DisplayName) {
		fmt.Fprintf(w, "name (%s)    %s\n", lang, oneLine(sp.DisplayName[lang]))
	}
	for _, lang := range sortedKeys(md.OrganizationName) {
		fmt.Fprintf(w, "org. (%s)    %s\n", lang, oneLine(md.OrganizationName[lang]))
	}
	sector := "private"
	if md.Public {
		sector = "public"
	}
	fmt.Fprintf(w, "sector       %s\n", sector)
	if !md.ValidUntil.IsZero() {
		fmt.Fprintf(w, "validUntil   %s (%s)\n", md.ValidUntil.UTC().Format(time.RFC3339), expiryNote(md.ValidUntil, now))
	}

	fmt.Fprintln(w, "\nAssertionConsumerService")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  INDEX\tDEFAULT\tBINDING\tLOCATION")
	for _, a := range sp.ACS {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", a.Index, yesNo(a.IsDefault), bindingName(a.Binding), a.Location)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nAttributeConsumingService (* = required)")
	for _, s := range sp.AttributeServices {
		def := ""
		if s.IsDefault {
			def = ", default"
		}
		names := make([]string, 0, len(s.Attributes))
		for _, a := range s.Attributes {
			n := a.Name
			if a.IsRequired {
				n += "*"
			}
			names = append(names, n)
		}
		fmt.Fprintf(w, "  %d%s  %s: %s\n", s.Index, def, oneLine(s.ServiceName["it"]), strings.Join(names, ", "))
	}

	fmt.Fprintln(w, "\nSingleLogoutService")
	if len(sp.SLO) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, s := range sp.SLO {
		fmt.Fprintf(w, "  %s  %s", bindingName(s.Binding), s.Location)
		if s.ResponseLocation != "" {
			fmt.Fprintf(w, "  (responses to %s)", s.ResponseLocation)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "\nSigning certificates")
	for _, c := range sp.Certificates {
		fmt.Fprintf(w, "  %s\n", dnString(c.Subject))
		fmt.Fprintf(w, "    sha256  %s\n", fingerprint(c))
		fmt.Fprintf(w, "    valid   until %s (%s)\n", c.NotAfter.UTC().Format(time.RFC3339), expiryNote(c.NotAfter, now))
	}
	if len(md.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings")
		for _, x := range md.Warnings {
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
}

func runSPChange(ctx context.Context, e env, args []string, op string) int {
	fs := newFlagSet("sp "+op, e)
	path := configFlag(fs, e)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintf(e.stderr, "usage: spid-idp sp %s [-c FILE] ENTITYID\n", op)
		return exitUsage
	}
	id := rest[0]
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	reg := newRegistry(a)
	switch op {
	case "remove":
		err = reg.Remove(ctx, id)
	case "disable":
		err = reg.SetStatus(ctx, id, storage.SPDisabled)
	default:
		err = reg.SetStatus(ctx, id, storage.SPActive)
	}
	action := "sp." + op
	if errors.Is(err, storage.ErrNotFound) {
		fmt.Fprintf(e.stderr, "spid-idp sp %s: no service provider %q\n", op, id)
		return a.fail(ctx, action, id, map[string]string{"error": "not found"})
	} else if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp %s: %v\n", op, err)
		return a.fail(ctx, action, id, map[string]string{"error": "store"})
	}
	if code := a.success(ctx, action, id, nil); code != exitOK {
		return code
	}
	past := map[string]string{"remove": "removed", "disable": "disabled", "enable": "enabled"}[op]
	fmt.Fprintf(e.stdout, "%s %s\n", past, id)
	return exitOK
}

// failureLines lists a metadata error one check per line.
func failureLines(err error) []string {
	var ve *metadata.ValidationError
	if errors.As(err, &ve) {
		out := make([]string, 0, len(ve.Failures))
		for _, f := range ve.Failures {
			out = append(out, f.Check+": "+f.Detail)
		}
		return out
	}
	return []string{err.Error()}
}

func bindingName(b string) string {
	if i := strings.LastIndex(b, ":"); i >= 0 {
		return b[i+1:]
	}
	return b
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneLine keeps text from metadata or storage from breaking the layout of
// a table (or forging extra lines in the operator's terminal).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("sp remove ID -c FILE" as well as "-c FILE ID").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// admin is what an administration command works on: the configuration,
// the open store and the audit log, in the operator's name.
type admin struct {
	e     env
	cfg   *config.Config
	store storage.Store
	audit *audit.Logger
	actor string
}

func openAdmin(ctx context.Context, e env, path string) (*admin, int, bool) {
	cfg, code, ok := loadConfig(path, e)
	if !ok {
		return nil, code, false
	}
	// Commands that seal or open secrets need the data key the HSM wraps.
	if err := app.UnwrapDataKeys(cfg); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return nil, exitFailure, false
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return nil, exitFailure, false
	}
	return &admin{e: e, cfg: cfg, store: st, audit: app.NewAuditLogger(st, quietLogger(e)),
		actor: "operator:" + operatorName(e)}, exitOK, true
}

func (a *admin) close() { a.store.Close() }

// success records a completed action. An action that happened but could
// not be audited is reported and fails the command, so scripts notice.
func (a *admin) success(ctx context.Context, action, target string, details map[string]string) int {
	if err := a.record(ctx, action, target, "success", details); err != nil {
		fmt.Fprintf(a.e.stderr, "spid-idp: %s done, but the audit record failed: %v\n", action, err)
		return exitFailure
	}
	return exitOK
}

// fail records a refused action and returns the failure exit status.
func (a *admin) fail(ctx context.Context, action, target string, details map[string]string) int {
	if err := a.record(ctx, action, target, "failure", details); err != nil {
		fmt.Fprintf(a.e.stderr, "spid-idp: audit record failed: %v\n", err)
	}
	return exitFailure
}

func (a *admin) record(ctx context.Context, action, target, outcome string, details map[string]string) error {
	return a.audit.Record(ctx, storage.AuditEvent{Actor: a.actor, Action: action, Target: target,
		Outcome: outcome, Details: details})
}

// operatorName names the Unix user running the command: $USER as the
// shell sets it (also under sudo, where SUDO_USER names the real person),
// else the account of the process.
func operatorName(e env) string {
	if u := lookupEnv(e.environ, "SUDO_USER"); u != "" {
		return u
	}
	if u := lookupEnv(e.environ, "USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

func init() {
	register("sp sync", "load the federation's signed SP list (--source URL|FILE --certificate PEM, or every idp.sp_sources entry): adds, updates and withdraws SPs in one transaction", runSPSync)
}

func runSPSync(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("sp sync", e)
	path := configFlag(fs, e)
	src := fs.String("source", "", "the federation's aggregated metadata (EntitiesDescriptor): a `FILE` or an http(s) URL; default every idp.sp_sources entry")
	certFile := fs.String("certificate", "", "PEM `FILE` with the federation operator's signing certificate (required with --source)")
	timeout := fs.Duration("timeout", 5*time.Minute, "time limit for downloading the aggregate")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp sp sync: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if (*src == "") != (*certFile == "") {
		fmt.Fprintln(e.stderr, "spid-idp sp sync: --source and --certificate go together")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	reg := newRegistry(a)
	type job struct{ location, cert string }
	var jobs []job
	if *src != "" {
		jobs = append(jobs, job{*src, *certFile})
	} else {
		for _, s := range a.cfg.IdP.SPSources {
			jobs = append(jobs, job{s.Location(), s.Certificate})
		}
	}
	if len(jobs) == 0 {
		fmt.Fprintln(e.stderr, "spid-idp sp sync: no --source given and idp.sp_sources is empty")
		return exitUsage
	}
	status := exitOK
	for _, j := range jobs {
		if c := syncOne(ctx, e, a, reg, j.location, j.cert, *timeout); c != exitOK {
			status = c
		}
	}
	return status
}

// syncOne syncs one source and audits it. Rejected entities are listed but
// do not fail the command: the others were loaded.
func syncOne(ctx context.Context, e env, a *admin, reg *metadata.Registry, location, certFile string, timeout time.Duration) int {
	details := map[string]string{"source": redactURL(location)}
	certs, err := metadata.LoadCertificates(certFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp sync: %v\n", err)
		details["error"] = "federation certificate unreadable"
		return a.fail(ctx, "sp.sync", "", details)
	}
	res, err := reg.SyncSource(ctx, metadata.FederationSource{Location: location, Certs: certs, Client: &http.Client{Timeout: timeout}})
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp sp sync: %s: %v (nothing changed)\n", redactURL(location), err)
		details["error"] = oneLine(err.Error())
		return a.fail(ctx, "sp.sync", "", details)
	}
	details["summary"] = res.Summary()
	for k, v := range map[string][]string{"added": res.Added, "updated": res.Updated, "withdrawn": res.Withdrawn,
		"reactivated": res.Reactivated, "rejected": res.FailedIDs()} {
		if len(v) > 0 {
			details[k] = strings.Join(v, " ")
		}
	}
	if code := a.success(ctx, "sp.sync", "", details); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", redactURL(location), res.Summary())
	for _, group := range []struct {
		verb string
		ids  []string
	}{{"added", res.Added}, {"updated", res.Updated}, {"withdrawn", res.Withdrawn}, {"reactivated", res.Reactivated}} {
		for _, id := range group.ids {
			fmt.Fprintf(e.stdout, "  %s %s\n", group.verb, oneLine(id))
			for _, w := range res.Warnings[id] {
				fmt.Fprintf(e.stdout, "    warning: %s\n", oneLine(w))
			}
		}
	}
	for _, id := range res.FailedIDs() {
		fmt.Fprintf(e.stdout, "  rejected %s (last good copy kept):\n", oneLine(id))
		for _, l := range failureLines(res.Failed[id]) {
			fmt.Fprintf(e.stdout, "    %s\n", oneLine(l))
		}
	}
	return exitOK
}
