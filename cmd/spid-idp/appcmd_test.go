package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/idp/push/pushtest"
	"github.com/spid-idp/spid-idp/storage"
)

// appRun runs `spid-idp app ...` in-process.
func appRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), env{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin)}, args)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

func appMust(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := appRun(t, stdin, args...)
	if r.code != exitOK {
		t.Fatalf("spid-idp %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// TestAppCommands drives the reference app against a real app API on
// 127.0.0.1: activation, the first code, then push requests approved,
// denied and answered from the keyboard.
func TestAppCommands(t *testing.T) {
	e := pushtest.New(t, true)
	e.Push.Limit = 20
	_, srv := e.API()
	ctx := context.Background()
	identity := e.Identity()
	dev, seed, code := e.Activation(identity)
	state := filepath.Join(t.TempDir(), "data", "app-device.json")

	r := appMust(t, "", "app", "activate", "--idp", srv.URL, "--code", code, "--name", "Terminale", "--state", state)
	if !strings.Contains(r.stdout, dev) || !strings.Contains(r.stdout, "citizen1@example.it") {
		t.Errorf("activate output:\n%s", r.stdout)
	}
	if d := e.Device(dev); d.Name != "Terminale" || d.Kind != storage.DevicePush {
		t.Errorf("device after activation: %+v", d)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	if r := appRun(t, "", "app", "activate", "--idp", srv.URL, "--code", code, "--state", state); r.code != exitFailure || !strings.Contains(r.stderr, "already activated") {
		t.Errorf("second activate: %d %s", r.code, r.stderr)
	}

	// --secret computes the code from a seed, without a device state.
	if r := appMust(t, "", "app", "otp", "--secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"); !sixDigits.MatchString(r.stdout) {
		t.Errorf("otp --secret: %s", r.stdout)
	} else if demoSeed, _ := otp.DecodeSeed("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"); sixDigits.FindString(r.stdout) != otp.Code(demoSeed, time.Now()) &&
		sixDigits.FindString(r.stdout) != otp.Code(demoSeed, time.Now().Add(-otp.Period)) {
		t.Errorf("otp --secret printed %s", r.stdout)
	}
	if r := appRun(t, "", "app", "otp", "--secret", "not-base32!"); r.code != exitUsage || !strings.Contains(r.stderr, "base32") {
		t.Errorf("bad secret: %d %s", r.code, r.stderr)
	}

	// The first code confirms the device, as the activation page does.
	r = appMust(t, "", "app", "otp", "--state", state)
	first := sixDigits.FindString(r.stdout)
	if ok, err := otp.Accept(ctx, e.Store, dev, seed, first, time.Now()); err != nil || !ok {
		t.Fatalf("code %q from `app otp` refused: %v", first, err)
	}
	e.SetDevice(dev, func(d *storage.Device) { d.Status = storage.DeviceActive })

	newChallenge := func() push.Challenge {
		c, err := e.Push.Create(ctx, identity, "flow", "Agenzia delle Entrate", 2)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	status := func(id string) string {
		c, err := e.Push.Status(ctx, id, "flow")
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}

	if r := appMust(t, "", "app", "challenges", "--state", state); !strings.Contains(r.stdout, "no pending requests") {
		t.Errorf("empty list:\n%s", r.stdout)
	}
	c := newChallenge()
	r = appMust(t, "", "app", "challenges", "--state", state)
	for _, want := range []string{c.ID, "Agenzia delle Entrate", "level 2", strconv.Itoa(c.Options[0]), strconv.Itoa(c.Options[2])} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("challenges output lacks %q:\n%s", want, r.stdout)
		}
	}
	appMust(t, "", "app", "approve", c.ID, "--number", strconv.Itoa(c.Number), "--state", state)
	if s := status(c.ID); s != push.StatusApproved {
		t.Errorf("after approve: %s", s)
	}
	if r := appRun(t, "", "app", "approve", c.ID, "--number", strconv.Itoa(c.Number), "--state", state); r.code != exitFailure || !strings.Contains(r.stderr, "already decided") {
		t.Errorf("replayed approve: %d %s", r.code, r.stderr)
	}

	c = newChallenge()
	wrongN := c.Options[0]
	if wrongN == c.Number {
		wrongN = c.Options[1]
	}
	if r := appRun(t, "", "app", "approve", "--state", state, "--number", strconv.Itoa(wrongN), c.ID); r.code != exitFailure || !strings.Contains(r.stderr, "wrong number") {
		t.Errorf("wrong number: %d %s", r.code, r.stderr)
	}
	if s := status(c.ID); s != push.StatusDenied {
		t.Errorf("after a wrong number: %s", s)
	}

	// Without an ID: the only pending request is answered; with none or
	// several, the app says what to do, in words.
	if r := appRun(t, "", "app", "approve", "--number", "42", "--state", state); r.code != exitFailure || !strings.Contains(r.stderr, "no login is waiting") {
		t.Errorf("approve with nothing pending: %d %s", r.code, r.stderr)
	}
	c = newChallenge()
	if r := appMust(t, "", "app", "approve", "--number", strconv.Itoa(c.Number), "--state", state); !strings.Contains(r.stdout, "approved: the login "+c.ID) {
		t.Errorf("approve without ID:\n%s", r.stdout)
	}
	if s := status(c.ID); s != push.StatusApproved {
		t.Errorf("after approve without ID: %s", s)
	}
	c1, c2 := newChallenge(), newChallenge()
	if r := appRun(t, "", "app", "deny", "--state", state); r.code != exitFailure || !strings.Contains(r.stderr, "2 logins are waiting") || !strings.Contains(r.stderr, c2.ID) {
		t.Errorf("deny with two pending: %d %s", r.code, r.stderr)
	}
	appMust(t, "", "app", "deny", c1.ID, "--state", state)
	appMust(t, "", "app", "deny", "--state", state) // the one left: c2
	if s := status(c2.ID); s != push.StatusDenied {
		t.Errorf("c2 after deny without ID: %s", s)
	}
	for _, r := range []result{appRun(t, "", "app", "approve", "--number", "42", "--state", state), appRun(t, "", "app", "challenges", "--state", state)} {
		if strings.Contains(r.stderr, "answered 4") || strings.Contains(r.stderr, "answered 5") {
			t.Errorf("status code shown to the person: %s", r.stderr)
		}
	}

	c = newChallenge()
	appMust(t, "", "app", "deny", c.ID, "--state", state)
	if got, _ := e.Push.Status(ctx, c.ID, "flow"); got.Status != push.StatusDenied || got.Reason != push.ReasonUserDenied {
		t.Errorf("after deny: %+v", got)
	}

	// watch: a number that is not offered is asked again, then the right one.
	c = newChallenge()
	r = appMust(t, "5\n"+strconv.Itoa(c.Number)+"\n", "app", "watch", "--wait", "1", "--once", "--state", state)
	if !strings.Contains(r.stdout, "pick one of") || !strings.Contains(r.stdout, "approved") || !strings.Contains(r.stdout, "Agenzia delle Entrate") {
		t.Errorf("watch output:\n%s", r.stdout)
	}
	if s := status(c.ID); s != push.StatusApproved {
		t.Errorf("after watch approve: %s", s)
	}
	c = newChallenge()
	appMust(t, "n\n", "app", "watch", "--wait", "1", "--once", "--state", state)
	if s := status(c.ID); s != push.StatusDenied {
		t.Errorf("after watch deny: %s", s)
	}
	// Nothing pending: the poll waits, then ends.
	appMust(t, "", "app", "watch", "--wait", "1", "--once", "--state", state)

	// A revoked device is told so.
	e.SetDevice(dev, func(d *storage.Device) { d.Status = storage.DeviceRevoked })
	if r := appRun(t, "", "app", "challenges", "--state", state); r.code != exitFailure || !strings.Contains(r.stderr, "revoked") {
		t.Errorf("revoked: %d %s", r.code, r.stderr)
	}
}

func TestAppCommandUsage(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.json")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"app"}, exitUsage, "needs a subcommand"},
		{[]string{"app", "activate"}, exitUsage, "missing --idp, --code"},
		{[]string{"app", "activate", "--idp", "http://idp.example.it", "--code", "X"}, exitUsage, "https"},
		// Without an ID the only pending challenge is answered, so the number
		// is still needed first, then the device state.
		{[]string{"app", "approve", "--state", missing}, exitUsage, "two-digit"},
		{[]string{"app", "approve", "abc", "--state", missing}, exitUsage, "--number"},
		{[]string{"app", "approve", "abc", "--number", "5", "--state", missing}, exitUsage, "two-digit"},
		{[]string{"app", "approve", "abc", "def", "--number", "42"}, exitUsage, "unexpected argument"},
		{[]string{"app", "approve", "abc", "--number", "42", "--state", missing}, exitFailure, "activate"},
		{[]string{"app", "otp", "--state", missing}, exitFailure, "app activate"},
		{[]string{"app", "challenges", "--wait", "31"}, exitUsage, "0 to 30"},
		{[]string{"app", "watch", "--wait", "0"}, exitUsage, "1 to 30"},
		{[]string{"app", "deny", "--state", missing}, exitFailure, "app activate"},
	}
	for _, tc := range cases {
		r := appRun(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}
