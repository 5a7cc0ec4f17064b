package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/storage"
)

func (d *demoEnv) operator(username string) storage.Operator {
	d.t.Helper()
	var op storage.Operator
	d.withStore(func(st storage.Store) {
		var err error
		if op, err = st.GetOperatorByUsername(context.Background(), username); err != nil {
			d.t.Fatalf("operator %s: %v", username, err)
		}
	})
	return op
}

func TestOperatorAddListDisable(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	r := d.mustRun("operator", "add", "--username", "Anna.V", "--name", " Anna   Verdi ", "--roles", "verifier, supervisor",
		"--password-file", pwFile)
	if !strings.Contains(r.stdout, "roles verifier, supervisor") || strings.Contains(r.stdout, testPassword) {
		t.Errorf("stdout %q", r.stdout)
	}
	op := d.operator("anna.v")
	if op.Name != "Anna Verdi" || !slices.Equal(op.Roles, []string{"verifier", "supervisor"}) || op.Status != storage.OperatorActive {
		t.Errorf("operator %+v", op)
	}
	if ok, err := password.Verify(op.PasswordHash, testPassword); !ok || err != nil {
		t.Errorf("password does not verify: %v", err)
	}
	ev := d.wantAudit("operator.add", op.ID, "success")
	if ev.Details["roles"] != "verifier,supervisor" || ev.Details["credential_source"] != "file" {
		t.Errorf("audit details %v", ev.Details)
	}

	// Generated password, printed once; a shop agent needs its shop.
	r = d.run("operator", "add", "--username", "tabacchi1", "--name", "Luca Neri", "--roles", "shop_agent")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--shop") {
		t.Errorf("shop agent without shop: %d %q", r.code, r.stderr)
	}
	r = d.mustRun("operator", "add", "--username", "tabacchi1", "--name", "Luca Neri", "--roles", "shop_agent", "--shop", "TAB-0042")
	line := r.stdout[strings.Index(r.stdout, "password (shown only now"):]
	pw := strings.TrimSpace(line[strings.Index(line, ": ")+2:])
	if ok, _ := password.Verify(d.operator("tabacchi1").PasswordHash, pw); !ok {
		t.Error("printed password does not verify")
	}
	if d.operator("tabacchi1").ShopID != "TAB-0042" {
		t.Error("shop not stored")
	}

	r = d.mustRun("operator", "list")
	for _, want := range []string{"USERNAME", "anna.v", "Anna Verdi", "verifier,supervisor", "tabacchi1", "TAB-0042", "active"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}

	if r := d.run("operator", "disable", "anna.v"); r.code != exitUsage {
		t.Errorf("disable without reason: %d", r.code)
	}
	d.mustRun("operator", "disable", "--reason", "left the company", "Anna.V")
	if d.operator("anna.v").Status != storage.OperatorDisabled {
		t.Error("not disabled")
	}
	if ev := d.wantAudit("operator.disable", op.ID, "success"); ev.Details["reason"] != "left the company" {
		t.Errorf("audit %v", ev.Details)
	}
	if r := d.run("operator", "disable", "--reason", "again", "anna.v"); r.code != exitFailure || !strings.Contains(r.stderr, "already disabled") {
		t.Errorf("second disable: %d %q", r.code, r.stderr)
	}
	if r := d.run("operator", "disable", "--reason", "x", "nobody"); r.code != exitFailure || !strings.Contains(r.stderr, "no operator") {
		t.Errorf("unknown operator: %d %q", r.code, r.stderr)
	}
	// The username stays taken after disabling.
	if r := d.run("operator", "add", "--username", "anna.v", "--name", "Other", "--roles", "auditor", "--password-file", pwFile); r.code != exitFailure || !strings.Contains(r.stderr, "taken") {
		t.Errorf("reused username: %d %q", r.code, r.stderr)
	}
}

func TestOperatorAddRefusals(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	weak := writeTemp(t, "weak", []byte("annaverdi1\n"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--username", "a", "--name", "A B", "--roles", "verifier", "--password-file", pwFile}, "--username"},
		{[]string{"--username", "anna", "--roles", "verifier", "--password-file", pwFile}, "--name"},
		{[]string{"--username", "anna", "--name", "A B", "--roles", "boss", "--password-file", pwFile}, `unknown role "boss"`},
		{[]string{"--username", "anna", "--name", "A B", "--password-file", pwFile}, "at least one role"},
		{[]string{"--username", "anna", "--name", "A B", "--roles", "verifier", "--password-file", weak}, "password:"},
		{[]string{"--username", "anna", "--name", "A B", "--roles", "verifier", testPassword}, "never goes on the command line"},
	} {
		r := d.run(append([]string{"operator", "add"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %d %q, want usage error with %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, testPassword) {
			t.Errorf("%v: the password is echoed", tc.args)
		}
	}
	if r := d.mustRun("operator", "list"); !strings.Contains(r.stdout, "no operators") {
		t.Errorf("refused adds stored something: %q", r.stdout)
	}
}
