package main

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/opfactor"
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

// operator add prints the one-time enrolment code of the second factor;
// reset-factor removes the factors and prints a new code, the old one
// void (security.md E.1). Both audited.
func TestOperatorEnrolCodeAndResetFactor(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	r := d.mustRun("operator", "add", "--username", "marta", "--name", "Marta Blu", "--roles", "verifier", "--password-file", pwFile)
	codeRE := regexp.MustCompile(`enrolment code \(one use, valid 72h0m0s, shown only now[^)]*\): ([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})`)
	m := codeRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no enrolment code in %q", r.stdout)
	}
	first := m[1]
	op := d.operator("marta")
	if op.SecondFactor.EnrolCodeHash == "" || strings.Contains(op.SecondFactor.EnrolCodeHash, first) {
		t.Fatalf("stored %+v", op.SecondFactor)
	}
	d.wantAudit("operator.factor_code", op.ID, "success")
	if r := d.mustRun("operator", "list"); !strings.Contains(r.stdout, "enrolment code waiting") {
		t.Errorf("list:\n%s", r.stdout)
	}
	// A factor registered meanwhile, then lost: the reset removes it.
	d.withStore(func(st storage.Store) {
		if err := st.UpdateOperator(context.Background(), op.ID, func(o storage.Operator) (storage.Operator, error) {
			o.SecondFactor.Factors = []storage.OperatorFactor{{ID: "f1", Kind: storage.FactorWebAuthn, Secret: []byte("x")}}
			return o, nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	if r := d.run("operator", "reset-factor", "marta"); r.code != exitUsage {
		t.Errorf("reset without reason: %d", r.code)
	}
	r = d.mustRun("operator", "reset-factor", "--reason", "key lost, ticket 42", "Marta")
	m = codeRE.FindStringSubmatch(r.stdout)
	if m == nil || m[1] == first || !strings.Contains(r.stdout, "1 second factor(s) removed") {
		t.Fatalf("reset output %q", r.stdout)
	}
	op = d.operator("marta")
	if len(op.SecondFactor.Factors) != 0 {
		t.Errorf("factors kept: %+v", op.SecondFactor.Factors)
	}
	d.withStore(func(st storage.Store) {
		svc := &opfactor.Service{Store: st}
		if err := svc.RedeemEnrolCode(context.Background(), op.ID, first); !errors.Is(err, opfactor.ErrWrongCode) {
			t.Errorf("the first code after the reset: %v", err)
		}
		if err := svc.RedeemEnrolCode(context.Background(), op.ID, m[1]); err != nil {
			t.Errorf("the new code: %v", err)
		}
	})
	found := false
	d.withStore(func(st storage.Store) {
		evs, _ := st.ListAudit(context.Background(), 0, 10000)
		for _, ev := range evs {
			found = found || ev.Action == "operator.factor_code" && ev.Details["reset"] == "true" && ev.Details["reason"] == "key lost, ticket 42" &&
				ev.Details["factors_removed"] == "1"
		}
	})
	if !found {
		t.Error("no audit record of the reset")
	}
	if r := d.run("operator", "reset-factor", "--reason", "x", "nobody"); r.code != exitFailure {
		t.Errorf("unknown operator: %d", r.code)
	}
}
