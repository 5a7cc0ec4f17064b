package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command, subcommand and group answers -h, -help and --help with
// its usage on stdout, exit status 0, and does nothing else (no data
// directory is created).
func TestHelpEverywhere(t *testing.T) {
	d := newDemoEnv(t)
	groups := map[string]bool{}
	for name := range commands {
		if g, _, ok := strings.Cut(name, " "); ok {
			groups[g] = true
		}
		for _, h := range []string{"-h", "--help"} {
			r := d.run(append(strings.Fields(name), h)...)
			if r.code != exitOK || !strings.Contains(r.stdout, "spid-idp "+name+":") || !strings.Contains(strings.ToLower(r.stdout), "usage") {
				t.Errorf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, h, r.code, r.stdout, r.stderr)
			}
		}
	}
	for g := range groups {
		r := d.run(g, "-h")
		if r.code != exitOK || !strings.Contains(r.stdout, "Subcommands:") {
			t.Errorf("%s -h: exit %d\n%s%s", g, r.code, r.stdout, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(d.dir); len(entries) > 0 {
		t.Errorf("help wrote to the data directory: %v", entries[0].Name())
	}
	if _, err := os.Stat(filepath.Join(d.dir, "spid-idp.db")); err == nil {
		t.Error("help opened the database")
	}
	// Without a help flag a group still says it needs a subcommand.
	if r := d.run("user"); r.code != exitUsage || !strings.Contains(r.stderr, "needs a subcommand") {
		t.Errorf("user: %d %s", r.code, r.stderr)
	}
}
