package main

import (
	"os"
	"strings"
	"testing"
)

// TestConfigValidateChecksWhatServeChecks: config validate must refuse,
// all at once and one line each, the mistakes serve would only find later
// (or never): a base URL with a port the personal area's SP metadata
// cannot carry, office hours and closing days the verification clock
// cannot read, and a database address of the wrong kind for the driver.
func TestConfigValidateChecksWhatServeChecks(t *testing.T) {
	d, good := prodEnv(t)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(data), "base_url: https://idp.example.it", "base_url: https://idp.example.it:8443", 1)
	cfg = strings.Replace(cfg, "enrolment:\n", "enrolment:\n  office_hours: banana\n  extra_closed_days: [\"12-08\", \"13-45\", \"2026-02-30\"]\n", 1)
	cfg += "storage:\n  sqlite:\n    path: postgres://spid@db.example.it/spid\n"
	path := writeTemp(t, "bad.yaml", []byte(cfg))

	r := d.run("config", "validate", "-c", path)
	if r.code != exitUsage {
		t.Fatalf("config validate: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitUsage, r.stdout, r.stderr)
	}
	want := []string{
		`server.base_url: must not carry an explicit port outside demo mode: SPs and the personal area's own SP metadata need https:// on the default port, got "https://idp.example.it:8443" (line 2)`,
		`storage.sqlite.path: is a postgres:// address but storage.driver is "sqlite"; set storage.driver to postgres and the address in storage.postgres.dsn (line 23)`,
		`enrolment.extra_closed_days[1]: must be a day as "MM-DD" (every year) or "YYYY-MM-DD" (once), got "13-45", which does not exist (line 6)`,
		`enrolment.extra_closed_days[2]: must be a day as "MM-DD" (every year) or "YYYY-MM-DD" (once), got "2026-02-30", which does not exist (line 6)`,
		`enrolment.office_hours: must be "HH:MM-HH:MM" with the start before the end, e.g. "08:30-19:00", got "banana" (line 5)`,
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if !strings.HasSuffix(lines[0], "bad.yaml: 5 problem(s):") {
		t.Errorf("first line %q does not announce the 5 problems", lines[0])
	}
	var got []string
	for _, l := range lines[1:] {
		got = append(got, strings.TrimSpace(l))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("config validate printed:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
