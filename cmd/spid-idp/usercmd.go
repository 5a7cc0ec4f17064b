package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/sessions"
	"github.com/spid-idp/spid-idp/storage"
)

func init() {
	register("user add", "provision a SPID identity with its attributes and password (printed once when generated); --totp-secret migrates an authenticator app", runUserAdd)
	register("user list", "list the identities", runUserList)
	register("user show", "show an identity's attributes, status and lock state", runUserShow)
	register("user passwd", "set an identity's password (--password-file or --password-stdin)", runUserPasswd)
	register("user unlock", "clear an identity's failed-login counter and lock", runUserUnlock)
	register("user suspend", "suspend an identity (--cause required); logins get anomaly nr23", func(ctx context.Context, e env, args []string) int {
		return runUserStatus(ctx, e, args, "suspend")
	})
	register("user revoke", "propose (--cause --yes) or approve (--approve) the revocation of an identity: four eyes", func(ctx context.Context, e env, args []string) int {
		return runUserStatus(ctx, e, args, "revoke")
	})
	register("user activate", "reactivate a suspended identity (proposal, then --approve by another operator)", func(ctx context.Context, e env, args []string) int {
		return runUserStatus(ctx, e, args, "activate")
	})
}

// The identity rules live in package identity, shared with enrolment
// approval; these names keep the commands readable.
type (
	newUser  = identity.NewUser
	problems = identity.Problems
)

var (
	provisionUser        = identity.Provision
	normaliseAttributes  = identity.NormaliseAttributes
	checkFiscalCodeShape = identity.CheckFiscalCodeShape
	checkPassword        = identity.CheckPassword
	generatePassword     = identity.GeneratePassword
)

// readPassword takes the password from a file or the first line of
// standard input: never from the command line, where ps and the shell
// history would show it.
func readPassword(e env, file string, stdin bool) (string, error) {
	var r io.Reader
	switch {
	case file != "" && stdin:
		return "", errors.New("give --password-file or --password-stdin, not both")
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	case stdin:
		if e.stdin == nil {
			return "", errors.New("no standard input")
		}
		r = e.stdin
	default:
		return "", nil
	}
	br := bufio.NewReader(io.LimitReader(r, password.MaxPasswordBytes+2))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if len(line) > password.MaxPasswordBytes && !strings.HasSuffix(line, "\n") {
		return "", fmt.Errorf("password longer than %d bytes", password.MaxPasswordBytes)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if file != "" {
		// A file holds one password; more lines mean the wrong file.
		if rest, _ := br.ReadString('\n'); strings.TrimSpace(rest) != "" {
			return "", fmt.Errorf("%s: more than one line", file)
		}
	}
	if line == "" {
		return "", errors.New("the password is empty")
	}
	return line, nil
}

// attrFlags collects repeated --attr name=value.
type attrFlags map[string]string

func (a attrFlags) String() string { return "" }

func (a attrFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("want name=value")
	}
	if _, known := metadata.LookupAttribute(name); !known {
		return fmt.Errorf("%q is not a SPID attribute (names: %s)", name, strings.Join(metadata.AttributeNames(), ", "))
	}
	if _, dup := a[name]; dup {
		return fmt.Errorf("%s given twice", name)
	}
	a[name] = value
	return nil
}

func runUserAdd(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("user add", e)
	path := configFlag(fs, e)
	username := fs.String("username", "", "login name, 3-64 characters a-z 0-9 . _ @ - (required)")
	typ := fs.Int("type", int(storage.IdentityCitizen), "identity type: 1 citizen, 2 legal person, 3 professional, 4 professional for a legal person")
	byFlag := []struct{ flag, attr, usage string }{
		{"name", "name", "given name(s) (required)"},
		{"family-name", "familyName", "family name (required)"},
		{"fiscal-number", "fiscalNumber", "codice fiscale, with or without TINIT- (required)"},
		{"email", "email", "e-mail address"},
		{"mobile", "mobilePhone", "mobile number in international form, e.g. +393331234567"},
		{"date-of-birth", "dateOfBirth", "YYYY-MM-DD"},
		{"place-of-birth", "placeOfBirth", "cadastral code of the municipality or country, e.g. H501"},
		{"county-of-birth", "countyOfBirth", "province abbreviation, e.g. RM (EE abroad)"},
		{"gender", "gender", "M or F"},
	}
	vals := make([]*string, len(byFlag))
	for i, f := range byFlag {
		vals[i] = fs.String(f.flag, "", f.usage)
	}
	extra := attrFlags{}
	fs.Var(extra, "attr", "another SPID attribute as `name=value` (repeatable), e.g. spidCode=ABCD0123456789 when migrating")
	prefix := fs.String("spid-code-prefix", "", "the provider's 4-letter code for generated spidCodes (default idp.spid_code_prefix)")
	pwFile := fs.String("password-file", "", "read the password from the first line of `FILE`")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	totpSecret := fs.String("totp-secret", "", "for migrating an identity from a previous system only: the `BASE32` seed (at least 80 bits) of the citizen's authenticator app, stored sealed as an active TOTP device so the app keeps working; new devices are activated by the citizen")
	totpName := fs.String("totp-device-name", "", "name of the migrated TOTP device (default \""+importedDeviceName+"\"); needs --totp-secret")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		// Not echoed: it may well be a password typed where it must not be.
		fmt.Fprintf(e.stderr, "spid-idp user add: %d unexpected argument(s); a password never goes on the command line (use --password-file or --password-stdin)\n", fs.NArg())
		return exitUsage
	}
	if *username == "" {
		fmt.Fprintln(e.stderr, "spid-idp user add: missing --username")
		return exitUsage
	}
	attrs := map[string]string{}
	for k, v := range extra {
		attrs[k] = v
	}
	for i, f := range byFlag {
		if *vals[i] == "" {
			continue
		}
		if _, dup := attrs[f.attr]; dup {
			fmt.Fprintf(e.stderr, "spid-idp user add: %s given both as --%s and --attr\n", f.attr, f.flag)
			return exitUsage
		}
		attrs[f.attr] = *vals[i]
	}
	pw, err := readPassword(e, *pwFile, *pwStdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user add: password: %v\n", err)
		return exitUsage
	}
	generated := pw == ""
	var seed []byte
	if *totpSecret != "" {
		if seed, err = otp.DecodeImportedSeed(*totpSecret); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp user add: --totp-secret: %s\n", strings.TrimPrefix(err.Error(), "otp: "))
			return exitUsage
		}
	} else if *totpName != "" {
		fmt.Fprintln(e.stderr, "spid-idp user add: --totp-device-name needs --totp-secret")
		return exitUsage
	}
	devName, err := checkDeviceName(*totpName)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user add: --totp-device-name: %v\n", err)
		return exitUsage
	}

	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	if *prefix == "" {
		*prefix = a.cfg.IdP.SPIDCodePrefix
	}
	var sealer *datakey.Sealer
	if seed != nil {
		if sealer, err = a.dataSealer(); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp user add: --totp-secret: %v\n", err)
			return exitUsage
		}
	}
	pwSource := map[bool]string{true: "stdin", false: "file"}[*pwStdin]
	if generated {
		norm, _ := normaliseAttributes(attrs)
		if pw, err = generatePassword(strings.ToLower(*username), norm); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp user add: %v\n", err)
			return exitFailure
		}
		pwSource = "generated"
	}
	u := newUser{Username: *username, Type: storage.IdentityType(*typ), Attributes: attrs, Password: pw}
	id, err := provisionUser(ctx, a.store, u, *prefix, app.Argon2Params(a.cfg), time.Now().UTC())
	details := map[string]string{"username": strings.ToLower(*username), "credential_source": pwSource}
	var ps problems
	if errors.As(err, &ps) {
		fmt.Fprintf(e.stderr, "spid-idp user add: %d problem(s):\n", len(ps))
		for _, p := range ps {
			fmt.Fprintf(e.stderr, "  %s\n", p)
		}
		details["error"] = "invalid input"
		return a.fail(ctx, "user.add", "", details)
	} else if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user add: %v\n", err)
		details["error"] = "store"
		return a.fail(ctx, "user.add", "", details)
	}
	details["spid_code"] = id.Attributes["spidCode"]
	details["type"] = fmt.Sprint(int(id.Type))
	var dev storage.Device
	if seed != nil {
		if dev, err = createTOTPDevice(ctx, a.store, sealer, id.ID, devName, seed, id.CreatedAt); err != nil {
			// All or nothing: an identity without the device the operator
			// asked for would leave the citizen at level 1 unnoticed.
			if derr := a.store.DeleteIdentity(ctx, id.ID); derr != nil {
				err = errors.Join(err, fmt.Errorf("removing the identity %s: %w", id.ID, derr))
			}
			fmt.Fprintf(e.stderr, "spid-idp user add: %v\n", err)
			details["error"] = "store"
			return a.fail(ctx, "user.add", "", details)
		}
		details["app_device"] = dev.ID // "otp" would be scrubbed as a secret word
	}
	if code := a.success(ctx, "user.add", id.ID, details); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "created identity %s: username %s, spidCode %s, type %d, status %s\n",
		id.ID, id.Username, id.Attributes["spidCode"], id.Type, id.Status)
	if seed != nil {
		fmt.Fprintf(e.stdout, "active TOTP device %s (%q) with the migrated seed\n", dev.ID, dev.Name)
	}
	if generated {
		fmt.Fprintf(e.stdout, "password (shown only now, hand it over securely): %s\n", pw)
	}
	return exitOK
}

func runUserList(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("user list", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp user list: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	ids, err := a.store.ListIdentities(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user list: %v\n", err)
		return exitFailure
	}
	if len(ids) == 0 {
		fmt.Fprintln(e.stdout, "no identities")
		return exitOK
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Username < ids[j].Username })
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSPIDCODE\tTYPE\tSTATUS\tNAME\tLOCK")
	for _, id := range ids {
		lock := "-"
		if c, err := a.store.GetCredential(ctx, id.ID); err == nil {
			lock = lockSummary(c, now)
		} else if errors.Is(err, storage.ErrNotFound) {
			lock = "no password"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", oneLine(id.Username), oneLine(id.Attributes["spidCode"]), id.Type, id.Status,
			oneLine(strings.TrimSpace(id.Attributes["name"]+" "+id.Attributes["familyName"])), lock)
	}
	tw.Flush()
	return exitOK
}

func lockSummary(c storage.Credential, now time.Time) string {
	switch {
	case c.LockedUntil.After(now):
		return "locked until " + c.LockedUntil.UTC().Format(time.RFC3339)
	case c.FailedAttempts > 0:
		return fmt.Sprintf("%d failure(s)", c.FailedAttempts)
	}
	return "-"
}

// lookupUser finds an identity by username (case-insensitive) and prints
// a clear message when there is none.
func lookupUser(ctx context.Context, a *admin, cmd, username string) (storage.Identity, bool) {
	id, err := a.store.GetIdentityByUsername(ctx, strings.ToLower(username))
	if errors.Is(err, storage.ErrNotFound) {
		fmt.Fprintf(a.e.stderr, "spid-idp %s: no identity with username %q\n", cmd, username)
		return id, false
	} else if err != nil {
		fmt.Fprintf(a.e.stderr, "spid-idp %s: %v\n", cmd, err)
		return id, false
	}
	return id, true
}

func runUserShow(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("user show", e)
	path := configFlag(fs, e)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(e.stderr, "usage: spid-idp user show [-c FILE] USERNAME")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	id, ok := lookupUser(ctx, a, "user show", rest[0])
	if !ok {
		return exitFailure
	}
	w := e.stdout
	fmt.Fprintf(w, "id           %s\n", id.ID)
	fmt.Fprintf(w, "username     %s\n", oneLine(id.Username))
	fmt.Fprintf(w, "type         %d (%s)\n", id.Type, typeName(id.Type))
	fmt.Fprintf(w, "status       %s\n", id.Status)
	fmt.Fprintf(w, "created      %s\n", id.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "updated      %s\n", id.UpdatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintln(w, "\nAttributes")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// In the AgID table's order, which is how SPs and citizens read them.
	for _, name := range metadata.AttributeNames() {
		if v := id.Attributes[name]; v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", name, oneLine(v))
		}
	}
	for _, name := range sortedKeys(id.Attributes) {
		if _, ok := metadata.LookupAttribute(name); !ok {
			fmt.Fprintf(tw, "  %s\t%s\t(not a SPID attribute, never asserted)\n", name, oneLine(id.Attributes[name]))
		}
	}
	tw.Flush()
	if _, ps := normaliseAttributes(spidOnly(id.Attributes)); len(ps) > 0 {
		fmt.Fprintln(w, "\nAttributes that cannot be asserted (logins by SPs asking for them fail)")
		for _, p := range ps {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	fmt.Fprintln(w, "\nPassword")
	c, err := a.store.GetCredential(ctx, id.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fmt.Fprintln(w, "  none set: the identity cannot log in")
	case err != nil:
		fmt.Fprintf(e.stderr, "spid-idp user show: %v\n", err)
		return exitFailure
	default:
		now := time.Now()
		fmt.Fprintf(w, "  set          %s\n", c.UpdatedAt.UTC().Format(time.RFC3339))
		if p, err := password.Parse(c.PasswordHash); err == nil {
			note := ""
			if password.NeedsRehash(c.PasswordHash, app.Argon2Params(a.cfg)) {
				note = " (older parameters: rehashed at the next login)"
			}
			fmt.Fprintf(w, "  hash         argon2id %s%s\n", p, note)
		} else {
			fmt.Fprintf(w, "  hash         UNREADABLE: %v\n", err)
		}
		fmt.Fprintf(w, "  failures     %d", c.FailedAttempts)
		if c.FactorFailures > 0 {
			fmt.Fprintf(w, ", %d of them second-factor", c.FactorFailures)
		}
		if !c.LastFailureAt.IsZero() {
			fmt.Fprintf(w, " (last %s)", c.LastFailureAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w)
		if c.LockedUntil.After(now) {
			fmt.Fprintf(w, "  locked       until %s (spid-idp user unlock %s)\n", c.LockedUntil.UTC().Format(time.RFC3339), oneLine(id.Username))
		} else {
			fmt.Fprintln(w, "  locked       no")
		}
	}
	return exitOK
}

func spidOnly(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if _, ok := metadata.LookupAttribute(k); ok {
			out[k] = v
		}
	}
	return out
}

func typeName(t storage.IdentityType) string {
	switch t {
	case storage.IdentityCitizen:
		return "citizen"
	case storage.IdentityLegalPerson:
		return "legal person"
	case storage.IdentityProfessional:
		return "professional"
	case storage.IdentityProfessionalForLegal:
		return "professional for a legal person"
	}
	return "unknown"
}

func runUserPasswd(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("user passwd", e)
	path := configFlag(fs, e)
	pwFile := fs.String("password-file", "", "read the new password from the first line of `FILE`")
	pwStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 || (*pwFile == "") == !*pwStdin {
		fmt.Fprintln(e.stderr, "usage: spid-idp user passwd [-c FILE] (--password-file FILE | --password-stdin) USERNAME")
		return exitUsage
	}
	pw, err := readPassword(e, *pwFile, *pwStdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user passwd: password: %v\n", err)
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	id, ok := lookupUser(ctx, a, "user passwd", rest[0])
	if !ok {
		return a.fail(ctx, "user.passwd", "", map[string]string{"username": strings.ToLower(rest[0]), "error": "not found"})
	}
	if ps := checkPassword(pw, id.Username, id.Attributes); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(e.stderr, "spid-idp user passwd: %s\n", p)
		}
		return a.fail(ctx, "user.passwd", id.ID, map[string]string{"error": "password policy"})
	}
	now := time.Now().UTC()
	// The history rules hold for an operator too (E062): the citizen's
	// earlier passwords are refused whoever sets the new one.
	err = app.PasswordRules(a.cfg).Change(ctx, a.store, id.ID, pw, app.Argon2Params(a.cfg), now)
	if errors.Is(err, storage.ErrNotFound) {
		// An identity without a credential (a failed import): create it.
		var hash string
		if hash, err = password.Hash(pw, app.Argon2Params(a.cfg)); err == nil {
			err = a.store.CreateCredential(ctx, storage.Credential{IdentityID: id.ID, PasswordHash: hash, PasswordSetAt: now, UpdatedAt: now})
		}
	}
	if err != nil {
		reason := "store"
		if errors.Is(err, pwrules.ErrReused) {
			reason = "password history"
			err = errors.New(pwrules.ReusedMessage("en"))
		}
		fmt.Fprintf(e.stderr, "spid-idp user passwd: %v\n", err)
		return a.fail(ctx, "user.passwd", id.ID, map[string]string{"error": reason})
	}
	// Whoever holds a session of the identity (who may have known the old
	// password) loses it, on every node.
	if _, err := sessions.End(ctx, a.store, id.ID); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user passwd: password changed, but %v\n", err)
		return a.fail(ctx, "user.passwd", id.ID, map[string]string{"error": "sessions not ended"})
	}
	if code := a.success(ctx, "user.passwd", id.ID, map[string]string{"username": id.Username, "sessions": "ended"}); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "password of %s changed\n", id.Username)
	return exitOK
}

func runUserUnlock(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("user unlock", e)
	path := configFlag(fs, e)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(e.stderr, "usage: spid-idp user unlock [-c FILE] USERNAME")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	id, ok := lookupUser(ctx, a, "user unlock", rest[0])
	if !ok {
		return a.fail(ctx, "user.unlock", "", map[string]string{"username": strings.ToLower(rest[0]), "error": "not found"})
	}
	var before storage.Credential
	err = a.store.UpdateCredential(ctx, id.ID, func(c storage.Credential) (storage.Credential, error) {
		before = c
		c.FailedAttempts, c.FactorFailures, c.LastFailureAt, c.LockedUntil = 0, 0, time.Time{}, time.Time{}
		c.UpdatedAt = time.Now().UTC()
		return c, nil
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user unlock: %v\n", err)
		return a.fail(ctx, "user.unlock", id.ID, map[string]string{"error": "store"})
	}
	details := map[string]string{"username": id.Username, "failed_attempts": fmt.Sprint(before.FailedAttempts)}
	if !before.LockedUntil.IsZero() {
		details["locked_until"] = before.LockedUntil.UTC().Format(time.RFC3339)
	}
	if code := a.success(ctx, "user.unlock", id.ID, details); code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "%s unlocked (had %d failure(s))\n", id.Username, before.FailedAttempts)
	if id.Status != storage.IdentityActive {
		fmt.Fprintf(e.stdout, "note: the identity is %s; it still cannot log in\n", id.Status)
	}
	return exitOK
}
