package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	txregister "github.com/spid-idp/spid-idp/register"
)

func init() {
	register("register search", "find messages in the transaction register by --spid-code, --fiscal-code, --request-id, --sp or --from/--to, with a mandatory --reason (audited); prints or --export s the exact XML", runRegisterSearch)
	register("register verify", "check the transaction register's hash chain", runRegisterVerify)
}

func runRegisterSearch(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("register search", e)
	path := configFlag(fs, e)
	spidCode := fs.String("spid-code", "", "the citizen's spidCode")
	fiscal := fs.String("fiscal-code", "", "the citizen's fiscal code (with or without TINIT-): every identity that carries it")
	requestID := fs.String("request-id", "", "ID of an AuthnRequest or LogoutRequest")
	sp := fs.String("sp", "", "entityID of a service provider")
	from := fs.String("from", "", "first instant, RFC 3339 or YYYY-MM-DD (UTC)")
	to := fs.String("to", "", "instant after the last, RFC 3339 or YYYY-MM-DD (UTC)")
	reason := fs.String("reason", "", "why the register is read, e.g. a judicial authority's request and its reference (required, audited)")
	export := fs.String("export", "", "write each message to `DIR`/<seq>-<kind>.xml instead of printing it")
	limit := fs.Int("limit", 1000, "at most this many records")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp register search: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(e.stderr, "spid-idp register search: --reason is required: every read of the register is audited with its reason")
		return exitUsage
	}
	q := txregister.Query{RequestID: *requestID, SP: *sp, Limit: *limit}
	var err error
	if q.From, err = parseInstant(*from); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp register search: --from: %v\n", err)
		return exitUsage
	}
	if q.To, err = parseInstant(*to); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp register search: --to: %v\n", err)
		return exitUsage
	}
	if *spidCode != "" {
		q.SPIDCodes = append(q.SPIDCodes, *spidCode)
	}
	if q.Empty() && *fiscal == "" {
		fmt.Fprintln(e.stderr, "spid-idp register search: give at least one of --spid-code, --fiscal-code, --request-id, --sp, --from, --to")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	details := map[string]string{"reason": *reason}
	for k, v := range map[string]string{"spid_code": *spidCode, "fiscal_code": *fiscal, "request_id": *requestID,
		"sp": *sp, "from": *from, "to": *to} {
		if v != "" {
			details[k] = v
		}
	}
	if *fiscal != "" {
		codes, err := spidCodesOf(ctx, a, *fiscal)
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp register search: %v\n", err)
			details["error"] = "identities unreadable"
			return a.fail(ctx, "register.search", "", details)
		}
		if len(codes) == 0 {
			fmt.Fprintf(e.stderr, "spid-idp register search: no identity has fiscal code %s\n", *fiscal)
			details["error"] = "no identity with that fiscal code"
			return a.fail(ctx, "register.search", "", details)
		}
		q.SPIDCodes = append(q.SPIDCodes, codes...)
	}
	sealer, err := a.dataSealer()
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp register search: %v\n", err)
		details["error"] = "no data key"
		return a.fail(ctx, "register.search", "", details)
	}
	reg := &txregister.Register{Store: a.store, Sealer: sealer}
	msgs, err := reg.Search(ctx, q)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp register search: %v\n", err)
		details["error"] = oneLine(err.Error())
		return a.fail(ctx, "register.search", "", details)
	}
	details["records"] = strconv.Itoa(len(msgs))
	if *export != "" {
		details["export"] = *export
	}
	// Audited before anything is shown: a read that cannot be recorded
	// does not happen.
	if code := a.success(ctx, "register.search", "", details); code != exitOK {
		return code
	}
	if *export != "" {
		if err := os.MkdirAll(*export, 0o700); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp register search: %v\n", err)
			return exitFailure
		}
	}
	fmt.Fprintf(e.stdout, "%d message(s)\n", len(msgs))
	for _, m := range msgs {
		fmt.Fprintf(e.stdout, "# seq=%d time=%s kind=%s direction=%s sp=%s spid_code=%s request_id=%s message_id=%s binding=%s client_ip=%s\n",
			m.Seq, m.Time.UTC().Format(time.RFC3339Nano), m.Kind, m.Direction, oneLine(m.SPEntityID), oneLine(m.SPIDCode),
			oneLine(m.RequestID), oneLine(m.MessageID), oneLine(m.Binding), oneLine(m.ClientIP))
		if *export != "" {
			// SAML messages are XML; the OP's (kinds "oidc.…") are form
			// encodings, JSON metadata or a JWS.
			ext := ".xml"
			if strings.HasPrefix(m.Kind, "oidc.") {
				ext = ".txt"
			}
			name := filepath.Join(*export, fmt.Sprintf("%06d-%s%s", m.Seq, m.Kind, ext))
			if err := os.WriteFile(name, m.XML, 0o600); err != nil {
				fmt.Fprintf(e.stderr, "spid-idp register search: %v\n", err)
				return exitFailure
			}
			fmt.Fprintf(e.stdout, "  written to %s\n", name)
			continue
		}
		// The message exactly as it was, then a line break of our own.
		e.stdout.Write(m.XML)
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

// spidCodesOf finds the spidCodes of every identity with this fiscal code:
// the register keeps no fiscal code outside the sealed messages.
func spidCodesOf(ctx context.Context, a *admin, fiscal string) ([]string, error) {
	want := strings.ToUpper(strings.TrimSpace(fiscal))
	if !strings.HasPrefix(want, "TINIT-") {
		want = "TINIT-" + want
	}
	ids, err := a.store.ListIdentities(ctx)
	if err != nil {
		return nil, err
	}
	var codes []string
	for _, id := range ids {
		if strings.ToUpper(id.Attributes["fiscalNumber"]) == want && id.Attributes["spidCode"] != "" {
			codes = append(codes, id.Attributes["spidCode"])
		}
	}
	return codes, nil
}

func parseInstant(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}

func runRegisterVerify(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("register verify", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	n, err := txregister.Verify(ctx, a.store)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp register verify: %v (after %d good records)\n", err, n)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "transaction register intact: %d records\n", n)
	return exitOK
}
