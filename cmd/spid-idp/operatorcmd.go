package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
)

func init() {
	register("operator add", "create a back-office operator with roles (password printed once when generated)", runOperatorAdd)
	register("operator list", "list the back-office operators and their roles", runOperatorList)
	register("operator disable", "disable an operator account (kept for the audit trail)", runOperatorDisable)
	register("operator reset-factor", "remove an operator's second factors and print a new one-time enrolment code", runOperatorResetFactor)
}

// issueEnrolCode gives the operator a one-time code to enrol a second
// factor (a passkey or an authenticator app) at the first console login,
// audited as operator.factor_code. reset also removes the factors held.
func issueEnrolCode(ctx context.Context, a *admin, op storage.Operator, reset bool, reason string) (string, error) {
	svc := &opfactor.Service{Store: a.store}
	code, err := svc.IssueEnrolCode(ctx, op.ID, a.actor, reset)
	details := map[string]string{"username": op.Username, "reset": strconv.FormatBool(reset),
		"factors_removed": "0", "expires_in": opfactor.EnrolCodeTTL.String()}
	if reset {
		details["factors_removed"] = strconv.Itoa(len(op.SecondFactor.Factors))
	}
	if reason != "" {
		details["reason"] = reason
	}
	if err != nil {
		details["error"] = err.Error()
		_ = a.audit.Record(ctx, storage.AuditEvent{Actor: a.actor, Action: "operator.factor_code", Target: op.ID, Outcome: "failure", Details: details})
		return "", err
	}
	if err := a.audit.Record(ctx, storage.AuditEvent{Actor: a.actor, Action: "operator.factor_code", Target: op.ID, Outcome: "success", Details: details}); err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	return code, nil
}

func runOperatorAdd(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("operator add", e)
	path := configFlag(fs, e)
	username := fs.String("username", "", "login name, 3-64 characters a-z 0-9 . _ @ - (required)")
	name := fs.String("name", "", "full name, shown in the console and the audit log (required)")
	roles := fs.String("roles", "", "comma-separated roles: shop_agent, counter_operator, video_operator, verifier, supervisor, care_agent, auditor (required)")
	shop := fs.String("shop", "", "the shop or counter an agent works at (required for shop_agent)")
	pwFile := fs.String("password-file", "", "read the password from the first line of `FILE`")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		// Not echoed: it may be a password typed where it must not be.
		fmt.Fprintf(e.stderr, "spid-idp operator add: %d unexpected argument(s); a password never goes on the command line (use --password-file or --password-stdin)\n", fs.NArg())
		return exitUsage
	}
	var ps identity.Problems
	user := strings.ToLower(strings.TrimSpace(*username))
	if !identity.UsernameRE.MatchString(user) {
		ps = append(ps, "--username: 3 to 64 characters among a-z 0-9 . _ @ -")
	}
	fullName := strings.Join(strings.Fields(*name), " ")
	if fullName == "" || len(fullName) > 200 {
		ps = append(ps, "--name: required, at most 200 characters")
	}
	rs, err := enrolment.ParseRoles(*roles)
	if err != nil {
		ps = append(ps, "--roles: "+err.Error())
	}
	shopID := strings.TrimSpace(*shop)
	for _, r := range rs {
		if r == string(enrolment.RoleShopAgent) && shopID == "" {
			ps = append(ps, "--shop: a shop agent belongs to a shop")
		}
	}
	pw, err := readPassword(e, *pwFile, *pwStdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator add: password: %v\n", err)
		return exitUsage
	}
	generated := pw == ""
	attrs := map[string]string{"name": fullName}
	if generated {
		if pw, err = identity.GeneratePassword(user, attrs); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp operator add: %v\n", err)
			return exitFailure
		}
	}
	ps = append(ps, identity.CheckPassword(pw, user, attrs)...)
	if len(ps) > 0 {
		fmt.Fprintf(e.stderr, "spid-idp operator add: %d problem(s):\n", len(ps))
		for _, p := range ps {
			fmt.Fprintf(e.stderr, "  %s\n", p)
		}
		return exitUsage
	}

	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	hash, err := password.Hash(pw, app.Argon2Params(a.cfg))
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator add: %v\n", err)
		return exitFailure
	}
	now := time.Now().UTC()
	op := storage.Operator{ID: uuid.NewString(), Username: user, Name: fullName, Roles: rs, PasswordHash: hash,
		ShopID: shopID, Status: storage.OperatorActive, CreatedAt: now, UpdatedAt: now}
	details := map[string]string{"username": user, "roles": strings.Join(rs, ","), "shop": shopID,
		"credential_source": map[bool]string{true: "generated", false: map[bool]string{true: "stdin", false: "file"}[*pwStdin]}[generated]}
	if err := a.store.CreateOperator(ctx, op); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			fmt.Fprintf(e.stderr, "spid-idp operator add: username %s is taken\n", user)
			details["error"] = "username taken"
		} else {
			fmt.Fprintf(e.stderr, "spid-idp operator add: %v\n", err)
			details["error"] = "store"
		}
		return a.fail(ctx, "operator.add", "", details)
	}
	if code := a.success(ctx, "operator.add", op.ID, details); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "created operator %s: username %s, roles %s\n", op.ID, user, strings.Join(rs, ", "))
	enrol, err := issueEnrolCode(ctx, a, op, false, "")
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator add: enrolment code: %v (issue one with spid-idp operator reset-factor)\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "second-factor enrolment code (one use, valid %s, shown only now): %s\n", opfactor.EnrolCodeTTL, enrol)
	if generated {
		fmt.Fprintf(e.stdout, "password (shown only now, hand it over securely): %s\n", pw)
	}
	return exitOK
}

func runOperatorList(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("operator list", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp operator list: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	ops, err := a.store.ListOperators(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator list: %v\n", err)
		return exitFailure
	}
	if len(ops) == 0 {
		fmt.Fprintln(e.stdout, "no operators")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tNAME\tROLES\tSHOP\tSTATUS\tSECOND FACTOR")
	for _, o := range ops {
		shop := o.ShopID
		if shop == "" {
			shop = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(o.Username), oneLine(o.Name), strings.Join(o.Roles, ","), oneLine(shop), o.Status, factorSummary(o))
	}
	tw.Flush()
	return exitOK
}

// operatorCommand parses "[-c FILE] --reason TEXT USERNAME" for the
// commands that act on one operator, opens the store and finds the
// operator; a missing one is audited as a failure of event. When ok is
// false, code is the exit code; otherwise the caller closes a.
func operatorCommand(ctx context.Context, e env, args []string, name, event string) (a *admin, op storage.Operator, reason string, code int, ok bool) {
	fs := newFlagSet("operator "+name, e)
	path := configFlag(fs, e)
	why := fs.String("reason", "", "why, for the audit log (required)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, op, "", exitUsage, false
	}
	if len(rest) != 1 || strings.TrimSpace(*why) == "" {
		fmt.Fprintf(e.stderr, "usage: spid-idp operator %s [-c FILE] --reason TEXT USERNAME\n", name)
		return nil, op, "", exitUsage, false
	}
	a, code, ok = openAdmin(ctx, e, *path)
	if !ok {
		return nil, op, "", code, false
	}
	user := strings.ToLower(rest[0])
	op, err = a.store.GetOperatorByUsername(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		fmt.Fprintf(e.stderr, "spid-idp operator %s: no operator with username %q\n", name, rest[0])
		code = a.fail(ctx, event, "", map[string]string{"username": user, "error": "not found"})
		a.close()
		return nil, op, "", code, false
	} else if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator %s: %v\n", name, err)
		a.close()
		return nil, op, "", exitFailure, false
	}
	return a, op, strings.TrimSpace(*why), exitOK, true
}

func runOperatorDisable(ctx context.Context, e env, args []string) int {
	a, op, reason, code, ok := operatorCommand(ctx, e, args, "disable", "operator.disable")
	if !ok {
		return code
	}
	defer a.close()
	errAlready := errors.New("already disabled")
	err := a.store.UpdateOperator(ctx, op.ID, func(o storage.Operator) (storage.Operator, error) {
		if o.Status == storage.OperatorDisabled {
			return o, errAlready
		}
		o.Status, o.UpdatedAt = storage.OperatorDisabled, time.Now().UTC()
		return o, nil
	})
	details := map[string]string{"username": op.Username, "reason": reason}
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator disable: %s: %v\n", op.Username, err)
		details["error"] = err.Error()
		return a.fail(ctx, "operator.disable", op.ID, details)
	}
	if code := a.success(ctx, "operator.disable", op.ID, details); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "operator %s disabled\n", op.Username)
	return exitOK
}

// factorSummary says what second factor an operator holds: "passkey x2,
// app", "enrolment code waiting", or "none".
func factorSummary(o storage.Operator) string {
	n := map[string]int{}
	for _, f := range o.SecondFactor.Factors {
		n[f.Kind]++
	}
	var parts []string
	if k := n[storage.FactorWebAuthn]; k > 0 {
		parts = append(parts, "passkey"+map[bool]string{true: " x" + strconv.Itoa(k)}[k > 1])
	}
	if k := n[storage.FactorTOTP]; k > 0 {
		parts = append(parts, "app"+map[bool]string{true: " x" + strconv.Itoa(k)}[k > 1])
	}
	if o.SecondFactor.EnrolCodeHash != "" {
		parts = append(parts, "enrolment code waiting")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// runOperatorResetFactor is the supervisor's answer to a lost key or
// phone: the operator's factors go, and a new one-time code lets them
// enrol a new factor at the next login (after the password).
func runOperatorResetFactor(ctx context.Context, e env, args []string) int {
	a, op, reason, code, ok := operatorCommand(ctx, e, args, "reset-factor", "operator.factor_code")
	if !ok {
		return code
	}
	defer a.close()
	if op.Status != storage.OperatorActive {
		fmt.Fprintf(e.stderr, "spid-idp operator reset-factor: operator %s is %s\n", op.Username, op.Status)
		return a.fail(ctx, "operator.factor_code", op.ID, map[string]string{"username": op.Username, "error": "operator " + op.Status})
	}
	enrol, err := issueEnrolCode(ctx, a, op, true, oneLine(reason))
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp operator reset-factor: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "operator %s: %d second factor(s) removed\n", op.Username, len(op.SecondFactor.Factors))
	fmt.Fprintf(e.stdout, "enrolment code (one use, valid %s, shown only now, hand it over in person): %s\n", opfactor.EnrolCodeTTL, enrol)
	return exitOK
}
