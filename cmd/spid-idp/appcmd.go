package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/authapp"
	"github.com/spid-idp/spid-idp/idp/otp"
)

// The reference authenticator app, so a level-2 login runs end to end
// without a phone. It is a client of a running IdP: it reads no IdP
// configuration, only its own state file.

const defaultAppState = "./data/app-device.json"

func init() {
	register("app activate", "reference app: activate this device with the code from the activation page", runAppActivate)
	register("app otp", "reference app: print the current one-time code", runAppOTP)
	register("app challenges", "reference app: list pending push requests", runAppChallenges)
	register("app approve", "reference app: approve a push request with the number the login page shows (ID optional when only one waits)", runAppApprove)
	register("app deny", "reference app: refuse a push request (\"Non sono stato io\"; ID optional when only one waits)", runAppDeny)
	register("app watch", "reference app: wait for push requests and answer them from the keyboard", runAppWatch)
}

// appFlags is a flag set with --state.
func appFlags(name string, e env) (*flag.FlagSet, *string) {
	fs := newFlagSet(name, e)
	state := fs.String("state", defaultAppState, "device state `FILE` (holds the device key: mode 0600)")
	return fs, state
}

// parseWithID parses "ID [flags]" or "[flags] ID": the challenge ID may
// come before the flags, as people type it.
func parseWithID(fs *flag.FlagSet, e env, args []string) (string, bool) {
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	rest := fs.Args()
	if id == "" && len(rest) > 0 {
		id, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		fmt.Fprintf(e.stderr, "%s: unexpected argument %q\n", fs.Name(), rest[0])
		return "", false
	}
	return id, true
}

// pendingID is the challenge to answer when none was named: the only
// pending one. With none or several it says what to do.
func pendingID(ctx context.Context, e env, name string, st *authapp.State) (string, bool) {
	list, err := (&authapp.Client{}).Challenges(ctx, st, 0)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp %s: %s\n", name, inWords(err))
		return "", false
	}
	switch len(list) {
	case 0:
		fmt.Fprintf(e.stderr, "spid-idp %s: no login is waiting for this app: start a level-2 login and choose the app, then run this again\n", name)
		return "", false
	case 1:
		return list[0].ID, true
	}
	fmt.Fprintf(e.stderr, "spid-idp %s: %d logins are waiting; name the one to answer (spid-idp %s ID):\n", name, len(list), name)
	for _, c := range list {
		fmt.Fprintf(e.stderr, "  %s  %s\n", c.ID, c.SPName)
	}
	return "", false
}

// inWords is an app error for a person: without the package prefix, and a
// refused connection said as such.
func inWords(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "cannot reach the IdP (is it running, and is the address in the device state right?)"
	}
	msg := err.Error()
	for strings.HasPrefix(msg, "authapp: ") {
		msg = strings.TrimPrefix(msg, "authapp: ")
	}
	return msg
}

func noArgs(fs *flag.FlagSet, e env, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

func loadAppState(name, path string, e env) (*authapp.State, bool) {
	st, err := authapp.Load(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp %s: %v\n", name, err)
		return nil, false
	}
	return st, true
}

func runAppActivate(ctx context.Context, e env, args []string) int {
	fs, state := appFlags("app activate", e)
	idp := fs.String("idp", "", "the IdP's base `URL`, e.g. https://idp.example.it (required)")
	code := fs.String("code", "", "the activation `CODE` shown on the activation page (required)")
	name := fs.String("name", "", "device `NAME` for the citizen's device list (default: the name given on the activation page)")
	force := fs.Bool("force", false, "replace an existing state file (the old device stays registered until revoked)")
	if !noArgs(fs, e, args) {
		return exitUsage
	}
	var missing []string
	if *idp == "" {
		missing = append(missing, "--idp")
	}
	if *code == "" {
		missing = append(missing, "--code")
	}
	if len(missing) > 0 {
		fmt.Fprintf(e.stderr, "spid-idp app activate: missing %s\n", strings.Join(missing, ", "))
		return exitUsage
	}
	if _, err := authapp.CheckIdPURL(*idp); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app activate: %s\n", inWords(err))
		return exitUsage
	}
	if !*force {
		if _, err := os.Lstat(*state); err == nil {
			fmt.Fprintf(e.stderr, "spid-idp app activate: %s exists: this app is already activated (use --force to activate again, or --state for another file)\n", *state)
			return exitFailure
		} else if !errors.Is(err, iofs.ErrNotExist) {
			fmt.Fprintf(e.stderr, "spid-idp app activate: %s\n", inWords(err))
			return exitFailure
		}
	}
	st, err := (&authapp.Client{}).Activate(ctx, *idp, *code, *name)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app activate: %s\n", inWords(err))
		return exitFailure
	}
	if err := st.Save(*state); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app activate: %s\n", inWords(err))
		return exitFailure
	}
	if st.Name != "" {
		fmt.Fprintf(e.stdout, "device       %s (%s)\n", st.DeviceID, st.Name)
	} else {
		fmt.Fprintf(e.stdout, "device       %s\n", st.DeviceID)
	}
	fmt.Fprintf(e.stdout, "account      %s at %s\n", st.Account, st.Issuer)
	fmt.Fprintf(e.stdout, "state        %s (mode 0600: it holds the device key)\n", *state)
	if otp, left, err := st.OTP(time.Now()); err == nil {
		fmt.Fprintf(e.stdout, "first code   %s (valid %d s more)\n", otp, int(left/time.Second))
	}
	fmt.Fprintln(e.stdout, "Type the code on the activation page to confirm the device (spid-idp app otp shows the next one).")
	return exitOK
}

func runAppOTP(_ context.Context, e env, args []string) int {
	fs, state := appFlags("app otp", e)
	secret := fs.String("secret", "", "compute the code from this base32 `SEED` (an authenticator seed, such as the demo one) instead of the device state")
	if !noArgs(fs, e, args) {
		return exitUsage
	}
	if *secret != "" {
		seed, err := otp.DecodeSeed(*secret)
		if err != nil {
			fmt.Fprintln(e.stderr, "spid-idp app otp: --secret must be a base32 seed (letters A–Z and digits 2–7), such as the one printed at start-up in demo mode")
			return exitUsage
		}
		now := time.Now()
		left := otp.Period - time.Duration(now.UnixNano())%otp.Period
		fmt.Fprintf(e.stdout, "%s  (valid %d s more)\n", otp.Code(seed, now), int(left/time.Second))
		return exitOK
	}
	st, ok := loadAppState("app otp", *state, e)
	if !ok {
		return exitFailure
	}
	code, left, err := st.OTP(time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app otp: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "%s  (valid %d s more; %s at %s)\n", code, int(left/time.Second), st.Account, st.Issuer)
	return exitOK
}

func printChallenge(e env, c authapp.Challenge) {
	fmt.Fprintf(e.stdout, "%s  %s  SPID level %d  expires %s\n", c.ID, c.SPName, c.Level,
		c.ExpiresAt.Local().Format("15:04:05"))
	fmt.Fprintf(e.stdout, "    numbers: %d  %d  %d\n", c.Options[0], c.Options[1], c.Options[2])
}

func runAppChallenges(ctx context.Context, e env, args []string) int {
	fs, state := appFlags("app challenges", e)
	wait := fs.Int("wait", 0, "wait up to `SECONDS` (0–30) for a request to arrive")
	if !noArgs(fs, e, args) {
		return exitUsage
	}
	if *wait < 0 || *wait > 30 {
		fmt.Fprintln(e.stderr, "spid-idp app challenges: --wait must be 0 to 30")
		return exitUsage
	}
	st, ok := loadAppState("app challenges", *state, e)
	if !ok {
		return exitFailure
	}
	list, err := (&authapp.Client{}).Challenges(ctx, st, time.Duration(*wait)*time.Second)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app challenges: %s\n", inWords(err))
		return exitFailure
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no pending requests")
	}
	for _, c := range list {
		printChallenge(e, c)
	}
	return exitOK
}

func runAppApprove(ctx context.Context, e env, args []string) int {
	fs, state := appFlags("app approve", e)
	number := fs.Int("number", 0, "the two-digit `NUMBER` the login page shows (required)")
	id, ok := parseWithID(fs, e, args)
	if !ok {
		return exitUsage
	}
	if *number < 10 || *number > 99 {
		fmt.Fprintln(e.stderr, "spid-idp app approve: --number must be the two-digit number the login page shows")
		return exitUsage
	}
	st, ok := loadAppState("app approve", *state, e)
	if !ok {
		return exitFailure
	}
	if id == "" {
		if id, ok = pendingID(ctx, e, "app approve", st); !ok {
			return exitFailure
		}
	}
	if err := (&authapp.Client{}).Approve(ctx, st, id, *number); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app approve: %s\n", inWords(err))
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "approved: the login %s can go on\n", id)
	return exitOK
}

func runAppDeny(ctx context.Context, e env, args []string) int {
	fs, state := appFlags("app deny", e)
	id, ok := parseWithID(fs, e, args)
	if !ok {
		return exitUsage
	}
	st, ok := loadAppState("app deny", *state, e)
	if !ok {
		return exitFailure
	}
	if id == "" {
		if id, ok = pendingID(ctx, e, "app deny", st); !ok {
			return exitFailure
		}
	}
	if err := (&authapp.Client{}).Deny(ctx, st, id); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp app deny: %s\n", inWords(err))
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "denied %s: the login was refused\n", id)
	return exitOK
}

func runAppWatch(ctx context.Context, e env, args []string) int {
	fs, state := appFlags("app watch", e)
	wait := fs.Int("wait", 25, "long-poll `SECONDS` per request (1–30)")
	once := fs.Bool("once", false, "stop after one poll and its requests")
	if !noArgs(fs, e, args) {
		return exitUsage
	}
	if *wait < 1 || *wait > 30 {
		fmt.Fprintln(e.stderr, "spid-idp app watch: --wait must be 1 to 30")
		return exitUsage
	}
	st, ok := loadAppState("app watch", *state, e)
	if !ok {
		return exitFailure
	}
	client := &authapp.Client{}
	in := bufio.NewReader(e.stdin)
	answered := map[string]bool{}
	if !*once {
		fmt.Fprintf(e.stdout, "waiting for push requests for %s at %s (Ctrl-C to stop)\n", st.Account, st.Issuer)
	}
	for {
		list, err := client.Challenges(ctx, st, time.Duration(*wait)*time.Second)
		if ctx.Err() != nil {
			return exitOK
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp app watch: %s\n", inWords(err))
			var ae *authapp.Error
			if *once || errors.As(err, &ae) && ae.Status == 401 {
				return exitFailure
			}
			select { // the IdP may be restarting: try again shortly
			case <-ctx.Done():
				return exitOK
			case <-time.After(2 * time.Second):
			}
			continue
		}
		for _, c := range list {
			if answered[c.ID] {
				continue
			}
			answered[c.ID] = true
			if !answerChallenge(ctx, e, in, client, st, c) {
				return exitOK // stdin closed
			}
		}
		if *once {
			return exitOK
		}
	}
}

// answerChallenge asks which number the login page shows and sends the
// answer; false when the input has ended.
func answerChallenge(ctx context.Context, e env, in *bufio.Reader, client *authapp.Client, st *authapp.State, c authapp.Challenge) bool {
	fmt.Fprintf(e.stdout, "\nLogin request from %s (SPID level %d), expires %s\n", c.SPName, c.Level,
		c.ExpiresAt.Local().Format("15:04:05"))
	for {
		fmt.Fprintf(e.stdout, "Which number does the login page show? %d / %d / %d  (n = deny, \"Non sono stato io\"; empty = skip): ",
			c.Options[0], c.Options[1], c.Options[2])
		line, err := in.ReadString('\n')
		line = strings.TrimSpace(line)
		if line == "" && err != nil {
			fmt.Fprintln(e.stdout)
			return false
		}
		var decideErr error
		switch {
		case line == "":
			fmt.Fprintln(e.stdout, "skipped")
			return true
		case strings.EqualFold(line, "n"):
			if decideErr = client.Deny(ctx, st, c.ID); decideErr == nil {
				fmt.Fprintln(e.stdout, "denied: the login was refused")
			}
		default:
			n, convErr := strconv.Atoi(line)
			if convErr != nil || !slices.Contains(c.Options[:], n) {
				fmt.Fprintf(e.stdout, "pick one of %d, %d, %d\n", c.Options[0], c.Options[1], c.Options[2])
				if err != nil {
					return false
				}
				continue
			}
			if decideErr = client.Approve(ctx, st, c.ID, n); decideErr == nil {
				fmt.Fprintln(e.stdout, "approved")
			}
		}
		if decideErr != nil {
			fmt.Fprintf(e.stderr, "spid-idp app watch: %s\n", inWords(decideErr))
		}
		return err == nil
	}
}
