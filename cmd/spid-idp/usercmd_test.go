package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/storage"
)

const (
	testCF       = "RSSMRA80A01H501U" // Mario Rossi, 1980-01-01, Roma
	testPassword = "Str0ng-Passw0rd!"
)

// withCheck completes the first 15 characters of a codice fiscale with its
// check character, so tests can make several valid ones.
func withCheck(first15 string) string {
	odd := [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}
	sum := 0
	for i := 0; i < 15; i++ {
		c := first15[i]
		idx := int(c - 'A')
		if c >= '0' && c <= '9' {
			idx = int(c - '0')
		}
		if i%2 == 0 {
			sum += odd[idx]
		} else {
			sum += idx
		}
	}
	return first15 + string(rune('A'+sum%26))
}

func addArgs(username, cf string, extra ...string) []string {
	return append([]string{"user", "add", "--username", username, "--name", "Mario", "--family-name", "Rossi",
		"--fiscal-number", cf}, extra...)
}

func (d *demoEnv) identity(username string) (storage.Identity, storage.Credential) {
	d.t.Helper()
	var id storage.Identity
	var c storage.Credential
	d.withStore(func(st storage.Store) {
		var err error
		if id, err = st.GetIdentityByUsername(context.Background(), username); err != nil {
			d.t.Fatalf("identity %s: %v", username, err)
		}
		if c, err = st.GetCredential(context.Background(), id.ID); err != nil {
			d.t.Fatalf("credential of %s: %v", username, err)
		}
	})
	return id, c
}

func wantPassword(t *testing.T, c storage.Credential, pw string) {
	t.Helper()
	ok, err := password.Verify(c.PasswordHash, pw)
	if err != nil || !ok {
		t.Fatalf("password does not verify: %v", err)
	}
	p, err := password.Parse(c.PasswordHash)
	if err != nil || p.MemoryKiB != 19456 || p.Time != 2 || p.Threads != 1 {
		t.Errorf("hash parameters %+v (%v), want the configured ones", p, err)
	}
}

func TestUserAddWithPasswordFile(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	r := d.mustRun(addArgs("Mario.Rossi@example.org", "tinit-"+strings.ToLower(testCF),
		"--email", "mario.rossi@example.org", "--mobile", "+39 333 1234567", "--date-of-birth", "1980-01-01",
		"--place-of-birth", "h501", "--county-of-birth", "rm", "--gender", "m",
		"--attr", "domicileNation=it", "--attr", "address=Via  Roma 1 00100 Roma RM",
		"--password-file", pwFile)...)
	if strings.Contains(r.stdout, testPassword) || strings.Contains(r.stdout, "password") {
		t.Errorf("output mentions the password:\n%s", r.stdout)
	}
	id, c := d.identity("mario.rossi@example.org")
	wantPassword(t, c, testPassword)
	if id.Status != storage.IdentityActive || id.Type != storage.IdentityCitizen || id.ID == "" {
		t.Errorf("identity %+v", id)
	}
	want := map[string]string{
		"name": "Mario", "familyName": "Rossi", "fiscalNumber": "TINIT-" + testCF, "email": "mario.rossi@example.org",
		"mobilePhone": "+393331234567", "dateOfBirth": "1980-01-01", "placeOfBirth": "H501", "countyOfBirth": "RM",
		"gender": "M", "domicileNation": "IT", "address": "Via Roma 1 00100 Roma RM",
	}
	for k, v := range want {
		if id.Attributes[k] != v {
			t.Errorf("%s = %q, want %q", k, id.Attributes[k], v)
		}
	}
	if !regexp.MustCompile(`^DEMO[A-Z0-9]{10}$`).MatchString(id.Attributes["spidCode"]) {
		t.Errorf("spidCode %q", id.Attributes["spidCode"])
	}
	if !strings.Contains(r.stdout, "created identity "+id.ID) || !strings.Contains(r.stdout, id.Attributes["spidCode"]) {
		t.Errorf("output:\n%s", r.stdout)
	}
	ev := d.wantAudit("user.add", id.ID, "success")
	if ev.Details["credential_source"] != "file" || ev.Details["spid_code"] != id.Attributes["spidCode"] {
		t.Errorf("audit details %v", ev.Details)
	}
	for _, v := range ev.Details {
		if strings.Contains(v, testPassword) || strings.Contains(v, testCF) {
			t.Errorf("audit details carry a secret or the fiscal code: %v", ev.Details)
		}
	}
}

func TestUserAddPasswordSources(t *testing.T) {
	d := newDemoEnv(t)
	// Standard input: the first line, CRLF tolerated.
	d.t = t
	var out result
	if out = d.runStdin(testPassword+"\r\nignored\n", addArgs("stdin.user", testCF, "--password-stdin")...); out.code != exitOK {
		t.Fatalf("stdin: exit %d: %s", out.code, out.stderr)
	}
	_, c := d.identity("stdin.user")
	wantPassword(t, c, testPassword)
	if ev := d.wantAudit("user.add", c.IdentityID, "success"); ev.Details["credential_source"] != "stdin" {
		t.Errorf("audit %v", ev.Details)
	}

	// Neither flag: a generated password, printed once, that verifies.
	cf2 := withCheck("VRDLGU75C41F205")
	r := d.mustRun(addArgs("generated.user", cf2)...)
	m := regexp.MustCompile(`password \(shown only now[^)]*\): (\S+)\n`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no generated password in:\n%s", r.stdout)
	}
	if len(m[1]) != 20 {
		t.Errorf("generated password of %d characters", len(m[1]))
	}
	_, c = d.identity("generated.user")
	wantPassword(t, c, m[1])
	if ev := d.wantAudit("user.add", c.IdentityID, "success"); ev.Details["credential_source"] != "generated" || strings.Contains(ev.Details["credential_source"], m[1]) {
		t.Errorf("audit %v", ev.Details)
	}
}

func TestUserAddRefusals(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	d.mustRun(addArgs("taken", testCF, "--password-file", pwFile)...)
	cf2 := withCheck("BNCLRA90D45L219")
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string
	}{
		{"every bad attribute listed", []string{"user", "add", "--username", "x", "--name", "Anna", "--family-name", "Bianchi",
			"--fiscal-number", "RSSMRA80", "--email", "not an email", "--date-of-birth", "1980-02-30",
			"--gender", "X", "--place-of-birth", "Roma", "--mobile", "abc", "--password-file", pwFile}, "", exitFailure,
			[]string{"username: 3 to 64", "fiscalNumber: a codice fiscale has 16 characters", "email: must be a plain e-mail",
				"dateOfBirth: date must be YYYY-MM-DD", "gender: gender must be M or F", "placeOfBirth: placeOfBirth must be a cadastral code",
				"mobilePhone: mobilePhone may contain only"}},
		{"fiscal code with a wrong check character", addArgs("anna", cf2[:15]+"A", "--password-file", pwFile), "", exitFailure,
			[]string{"fiscalNumber: codice fiscale check character is wrong"}},
		{"fiscal code badly shaped", addArgs("anna", "1234567890123456", "--password-file", pwFile), "", exitFailure,
			[]string{"fiscalNumber: not shaped as a codice fiscale"}},
		{"required attributes", []string{"user", "add", "--username", "anna", "--password-file", pwFile}, "", exitFailure,
			[]string{"name: required", "familyName: required", "fiscalNumber: required"}},
		{"legal person needs a company", addArgs("anna", cf2, "--type", "2", "--password-file", pwFile), "", exitFailure,
			[]string{"companyName: required for an identity of type 2"}},
		{"bad type", addArgs("anna", cf2, "--type", "5", "--password-file", pwFile), "", exitFailure, []string{"type: must be 1 to 4"}},
		{"username taken", addArgs("TAKEN", cf2, "--password-file", pwFile), "", exitFailure, []string{"username: taken is taken"}},
		{"same person, same type", addArgs("other", testCF, "--password-file", pwFile), "", exitFailure,
			[]string{"fiscalNumber: taken already holds an identity of type 1"}},
		{"spidCode reused", addArgs("other", cf2, "--attr", "spidCode=DEMO0000000001", "--password-file", pwFile), "", exitOK, nil},
		{"spidCode reused again", addArgs("third", withCheck("NREGPP60A01F839"), "--attr", "spidCode=DEMO0000000001", "--password-file", pwFile), "",
			exitFailure, []string{"spidCode: already issued to other"}},
		{"weak password", addArgs("anna", cf2, "--password-stdin"), "password\n", exitFailure,
			[]string{"needs an upper-case letter"}},
		{"password with personal data", addArgs("anna", cf2, "--password-stdin"), "Rossi-2024!x\n", exitFailure,
			[]string{"password: must not contain the username, name"}},
		{"password repeating", addArgs("anna", cf2, "--password-stdin"), "Aaaa-1234-bcd\n", exitFailure,
			[]string{"more than twice in a row"}},
		{"empty stdin", addArgs("anna", cf2, "--password-stdin"), "", exitUsage, []string{"the password is empty"}},
		{"both password flags", addArgs("anna", cf2, "--password-stdin", "--password-file", pwFile), "", exitUsage, []string{"not both"}},
		{"password as argument", append(addArgs("anna", cf2), testPassword), "", exitUsage, []string{"never goes on the command line"}},
		{"unknown attribute", addArgs("anna", cf2, "--attr", "shoeSize=42"), "", exitUsage, []string{`"shoeSize" is not a SPID attribute`}},
		{"attribute twice", addArgs("anna", cf2, "--attr", "name=Anna"), "", exitUsage, []string{"name given both as --name and --attr"}},
		{"no username", []string{"user", "add"}, "", exitUsage, []string{"missing --username"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.runStdin(tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, testPassword) {
				t.Error("stderr shows the password")
			}
		})
	}
	// Refused additions are audited as failures, without the password.
	ev, _ := d.lastAudit("user.add")
	if ev.Outcome != "failure" || ev.Details["username"] != "anna" {
		t.Errorf("last user.add audit %+v", ev)
	}
}

func TestUserShowPasswdUnlockStatus(t *testing.T) {
	d := newDemoEnv(t)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	d.mustRun(addArgs("mrossi", testCF, "--date-of-birth", "1980-01-01", "--password-file", pwFile)...)
	id, _ := d.identity("mrossi")

	show := d.mustRun("user", "show", "MRossi")
	for _, want := range []string{"id           " + id.ID, "username     mrossi", "type         1 (citizen)", "status       active",
		"fiscalNumber  TINIT-" + testCF, "spidCode", "failures     0", "locked       no", "hash         argon2id"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("user show lacks %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(show.stdout, "$argon2id$") {
		t.Error("user show prints the hash")
	}

	// passwd from a file and from stdin; the current password is refused.
	const pw2, pw3 = "An0ther-Secret#", "Th1rd-Secret-42"
	d.mustRun("user", "passwd", "mrossi", "--password-file", writeTemp(t, "pw2", []byte(pw2)))
	_, c := d.identity("mrossi")
	wantPassword(t, c, pw2)
	d.wantAudit("user.passwd", id.ID, "success")
	if r := d.runStdin(pw3+"\n", "user", "passwd", "--password-stdin", "mrossi"); r.code != exitOK {
		t.Fatalf("passwd stdin: %d %s", r.code, r.stderr)
	}
	_, c = d.identity("mrossi")
	wantPassword(t, c, pw3)
	if r := d.runStdin(pw3+"\n", "user", "passwd", "--password-stdin", "mrossi"); r.code != exitFailure || !strings.Contains(r.stderr, "used this password before") {
		t.Errorf("same password: exit %d %s", r.code, r.stderr)
	}
	d.wantAudit("user.passwd", id.ID, "failure")
	// E062: the first and second passwords are in the history, refused too;
	// the stored hash stays pw3 and the history keeps hashes only.
	for _, old := range []string{testPassword, pw2} {
		if r := d.runStdin(old+"\n", "user", "passwd", "--password-stdin", "mrossi"); r.code != exitFailure || !strings.Contains(r.stderr, "used this password before") {
			t.Errorf("earlier password: exit %d %s", r.code, r.stderr)
		}
	}
	_, c = d.identity("mrossi")
	wantPassword(t, c, pw3)
	if len(c.PasswordHistory) != 2 || c.PasswordSetAt.IsZero() {
		t.Errorf("history %d entries, set at %v; want 2 and a date", len(c.PasswordHistory), c.PasswordSetAt)
	}
	for _, u := range c.PasswordHistory {
		if !strings.HasPrefix(u.Hash, "$argon2id$") {
			t.Errorf("history entry %q is not an argon2id hash", u.Hash)
		}
	}
	for _, bad := range [][]string{
		{"user", "passwd", "mrossi"},
		{"user", "passwd", "--password-stdin", "--password-file", pwFile, "mrossi"},
	} {
		if r := d.run(bad...); r.code != exitUsage {
			t.Errorf("%v: exit %d", bad, r.code)
		}
	}
	if r := d.runStdin("weak\n", "user", "passwd", "--password-stdin", "mrossi"); r.code != exitFailure || !strings.Contains(r.stderr, "8 to 64") {
		t.Errorf("weak: exit %d %s", r.code, r.stderr)
	}

	// A locked account, as the login regulator leaves it.
	locked := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	d.withStore(func(st storage.Store) {
		err := st.UpdateCredential(context.Background(), id.ID, func(c storage.Credential) (storage.Credential, error) {
			c.FailedAttempts, c.LastFailureAt, c.LockedUntil = 5, time.Now().UTC(), locked
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if r := d.mustRun("user", "show", "mrossi"); !strings.Contains(r.stdout, "failures     5") || !strings.Contains(r.stdout, "locked       until "+locked.Format(time.RFC3339)) {
		t.Errorf("show locked:\n%s", r.stdout)
	}
	if r := d.mustRun("user", "list"); !strings.Contains(r.stdout, "locked until") {
		t.Errorf("list locked:\n%s", r.stdout)
	}
	d.mustRun("user", "unlock", "mrossi")
	_, c = d.identity("mrossi")
	if c.FailedAttempts != 0 || !c.LockedUntil.IsZero() || !c.LastFailureAt.IsZero() {
		t.Errorf("after unlock: %+v", c)
	}
	wantPassword(t, c, pw3)
	if ev := d.wantAudit("user.unlock", id.ID, "success"); ev.Details["failed_attempts"] != "5" {
		t.Errorf("unlock audit %v", ev.Details)
	}

	// Status transitions of enrolment-lifecycle.md §8.1, through package
	// lifecycle: suspension at once, revocation and reactivation by one
	// operator and approval by another (security.md E.2).
	status := func() storage.IdentityStatus { i, _ := d.identity("mrossi"); return i.Status }
	as := func(user string, args ...string) result {
		saved := d.environ
		d.environ = nil
		for _, kv := range saved {
			if !strings.HasPrefix(kv, "USER=") {
				d.environ = append(d.environ, kv)
			}
		}
		d.environ = append(d.environ, "USER="+user)
		defer func() { d.environ = saved }()
		return d.run(args...)
	}
	for _, step := range []struct {
		user string
		args []string
		code int
		want storage.IdentityStatus
	}{
		{"tester", []string{"user", "suspend", "mrossi"}, exitUsage, storage.IdentityActive},                           // no cause
		{"tester", []string{"user", "suspend", "--cause", "boredom", "mrossi"}, exitUsage, storage.IdentityActive},     // unknown cause
		{"tester", []string{"user", "activate", "mrossi"}, exitFailure, storage.IdentityActive},                        // not suspended
		{"tester", []string{"user", "activate", "--approve", "--reject", "mrossi"}, exitUsage, storage.IdentityActive}, // both
		{"tester", []string{"user", "suspend", "mrossi", "--cause", "holder_request"}, exitOK, storage.IdentitySuspended},
		{"tester", []string{"user", "suspend", "--cause", "holder_request", "mrossi"}, exitFailure, storage.IdentitySuspended},
		{"tester", []string{"user", "activate", "mrossi"}, exitOK, storage.IdentitySuspended},                   // proposed
		{"tester", []string{"user", "activate", "--approve", "mrossi"}, exitFailure, storage.IdentitySuspended}, // own proposal
		{"other", []string{"user", "activate", "--approve", "mrossi"}, exitOK, storage.IdentityActive},
		{"tester", []string{"user", "revoke", "--cause", "death", "mrossi"}, exitUsage, storage.IdentityActive}, // no --yes
		{"tester", []string{"user", "revoke", "--cause", "death", "--yes", "mrossi"}, exitOK, storage.IdentityActive},
		{"tester", []string{"user", "revoke", "--approve", "mrossi"}, exitFailure, storage.IdentityActive},
		{"other", []string{"user", "revoke", "--approve", "mrossi"}, exitOK, storage.IdentityRevoked},
		{"tester", []string{"user", "activate", "mrossi"}, exitFailure, storage.IdentityRevoked}, // final
		{"tester", []string{"user", "revoke", "--cause", "death", "--yes", "mrossi"}, exitFailure, storage.IdentityRevoked},
	} {
		r := as(step.user, step.args...)
		if r.code != step.code {
			t.Fatalf("%s %v: exit %d, want %d: %s", step.user, step.args, r.code, step.code, r.stderr)
		}
		if s := status(); s != step.want {
			t.Fatalf("%s %v: status %s, want %s", step.user, step.args, s, step.want)
		}
	}
	if ev := d.wantAudit("lifecycle.suspend", id.ID, "denied"); ev.Details["cause"] != "holder_request" || ev.Details["from"] != "suspended" {
		t.Errorf("suspend audit %v", ev.Details)
	}
	if ev := d.wantAudit("lifecycle.propose", id.ID, "denied"); ev.Details["from"] != "revoked" {
		t.Errorf("revoke audit %v", ev.Details)
	}
	ev, _ := d.lastAudit("lifecycle.approve")
	if ev.Actor != "operator:other" || ev.Details["proposer"] != "operator:tester" || ev.Details["cause"] != "death" || ev.Outcome != "success" {
		t.Errorf("approval audit %+v", ev)
	}
	evs := d.auditLog()
	var ok int
	for _, ev := range evs {
		if ev.Target == id.ID && ev.Outcome == "success" && strings.HasPrefix(ev.Actor, "operator:") && ev.Action != "lifecycle.notice" {
			ok++
		}
	}
	// add, passwd ×2, unlock, suspend, activate proposed and approved,
	// revoke proposed and approved
	if ok != 9 {
		t.Errorf("%d successful operator records for the identity, want 9", ok)
	}

	for _, args := range [][]string{{"user", "show", "nobody"}, {"user", "unlock", "nobody"}, {"user", "activate", "nobody"}} {
		if r := d.run(args...); r.code != exitFailure || !strings.Contains(r.stderr, `no identity with username "nobody"`) {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}
}

func TestUserList(t *testing.T) {
	d := newDemoEnv(t)
	if r := d.mustRun("user", "list"); !strings.Contains(r.stdout, "no identities") {
		t.Errorf("empty list: %q", r.stdout)
	}
	pwFile := writeTemp(t, "pw", []byte(testPassword))
	d.mustRun(addArgs("zeta", testCF, "--password-file", pwFile)...)
	d.mustRun("user", "add", "--username", "alfa", "--name", "Laura", "--family-name", "Bianchi",
		"--fiscal-number", withCheck("BNCLRA90D45L219"), "--password-file", pwFile)
	r := d.mustRun("user", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "alfa ") || !strings.HasPrefix(lines[2], "zeta ") {
		t.Fatalf("user list:\n%s", r.stdout)
	}
	if !strings.Contains(lines[1], "Laura Bianchi") || !strings.Contains(lines[1], "active") {
		t.Errorf("row %q", lines[1])
	}
}

func TestCheckPassword(t *testing.T) {
	attrs := map[string]string{"name": "Maria Luisa", "familyName": "De Santis", "fiscalNumber": "TINIT-" + testCF, "dateOfBirth": "1980-01-31"}
	for _, tc := range []struct {
		pw   string
		fail bool
	}{
		{testPassword, false},
		{"Short1!", true},
		{strings.Repeat("Ab1!", 16) + "x", true}, // 65 characters
		{"alllower-1234", true},
		{"NoDigits-here", true},
		{"NoSpecial1234", true},
		{"Luisa-4321-x", true},      // a word of the name
		{"x" + testCF + "!a", true}, // the fiscal code
		{"Born-3101-Xy", true},      // DDMM
		{"Born-1980-Xy", true},      // YYYY
		{"Born-31011980-Xy", true},  // DDMMYYYY
		{"Mrossi-Login-9", true},    // the username
		{"Tre-Ok-1234!aBc", false},
		{"Tr1-Aaa-bbb!", true}, // three identical in a row
	} {
		got := checkPassword(tc.pw, "mrossi", attrs)
		if (len(got) > 0) != tc.fail {
			t.Errorf("%q: problems %v, want failure %v", tc.pw, got, tc.fail)
		}
	}
	for range 50 {
		pw, err := generatePassword("mrossi", attrs)
		if err != nil || len(checkPassword(pw, "mrossi", attrs)) > 0 {
			t.Fatalf("generated %q fails the policy: %v", pw, err)
		}
	}
}

func TestCheckFiscalCodeShape(t *testing.T) {
	for _, tc := range []struct {
		cf string
		ok bool
	}{
		{testCF, true},
		{"RSSMRA80A01H50MU", true},  // omocodia
		{"RSSMRA80Z01H501U", false}, // no month Z
		{"RSSMRA80A01H501", false},
		{"RSSMRA80A01H5011", false},
		{"", false},
	} {
		if err := checkFiscalCodeShape(tc.cf); (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.cf, err, tc.ok)
		}
	}
}

// Stored values are in their asserted form: normalising them again changes
// nothing, and no input makes the normaliser panic.
func FuzzNormaliseAttributes(f *testing.F) {
	for _, s := range [][2]string{
		{"fiscalNumber", "tinit-" + strings.ToLower(testCF)}, {"mobilePhone", "+39 333 1234567"}, {"mobilePhone", "0039333123"},
		{"dateOfBirth", "1980-02-29"}, {"gender", "f"}, {"placeOfBirth", "z404"}, {"email", "a@b.it"},
		{"name", " Maria   Luisa "}, {"ivaCode", "VATIT-01234567890"}, {"idCard", "cartaIdentita CA00000AA ComuneRoma 2020-01-01 2030-01-01"},
		{"spidCode", "DEMO0000000001"}, {"companyFiscalNumber", "01234567890"}, {"domicileNation", "it"}, {"nope", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		out, ps := normaliseAttributes(map[string]string{name: value})
		if len(ps) > 0 {
			return
		}
		again, ps := normaliseAttributes(out)
		if len(ps) > 0 {
			t.Fatalf("%s=%q normalised to %q, which is refused: %v", name, value, out[name], ps)
		}
		if again[name] != out[name] {
			t.Fatalf("%s=%q: %q then %q", name, value, out[name], again[name])
		}
	})
}
